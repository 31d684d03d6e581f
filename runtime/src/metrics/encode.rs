// The exposition: a `Snapshot` encoded through prometheus-client (a
// `Collector` over it), in OpenMetrics; and the Prometheus text format 0.0.4
// derived from that output.
//
// Every family is declared once in `FAMILIES` (name, unit, type, labels,
// help): the encoder looks its family up there, and the README's table is
// generated from it (`reference_table`), so the two cannot drift.

use super::foreign::ForeignHistogram;
use super::snapshot::Snapshot;
use crate::runtime::DelayHistogram;
use crate::task::Qos;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use std::fmt;
use std::sync::Arc;

/// The prefix of every name.
pub const PREFIX: &str = "perf_runtime";

/// Upper bounds (seconds) of the exported latency histograms' buckets. The
/// runtime keeps finer log buckets (within 25 %); each is counted in the
/// first exported bucket at or above its upper bound, so an exported
/// quantile is never optimistic.
pub const LATENCY_BUCKETS: [f64; 22] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Ty {
    Counter,
    Gauge,
    Histogram,
}

/// One metric family.
pub(crate) struct Family {
    /// Without the prefix, the unit and `_total`.
    pub(crate) name: &'static str,
    pub(crate) unit: Option<&'static str>,
    pub(crate) ty: Ty,
    pub(crate) labels: &'static [&'static str],
    pub(crate) help: &'static str,
}

macro_rules! families {
    ($($id:ident = $name:literal, $unit:expr, $ty:ident, [$($l:literal),*], $help:literal;)*) => {
        $(const $id: Family = Family { name: $name, unit: $unit, ty: Ty::$ty, labels: &[$($l),*], help: $help };)*
        /// Every family of the exposition, in exposition order.
        pub(crate) const FAMILIES: &[Family] = &[$($id),*];
    };
}

families! {
    WORKERS = "workers", None, Gauge, [], "Worker threads started (1 on current_thread).";
    ACTIVE_WORKERS = "active_workers", None, Gauge, [], "Workers in the active set (container sizing may park the rest).";
    DECIDED_WORKERS = "worker_decision_workers", None, Gauge, [], "The worker count the container policy chose last.";
    STEP_DOWNS = "throttle_step_downs", None, Counter, [], "Workers taken out of the active set because the cgroup was throttled while all were busy.";
    STEP_UPS = "throttle_step_ups", None, Counter, [], "Workers given back after throttling stopped.";
    TASKS_ALIVE = "tasks_alive", None, Gauge, ["qos"], "Tasks spawned and not yet completed, by class.";
    TASKS_SPAWNED = "tasks_spawned", None, Counter, ["qos"], "Tasks spawned, by class.";
    TASKS_COMPLETED = "tasks_completed", None, Counter, ["qos"], "Tasks completed (output, panic or abort), by class.";
    POLLS = "polls", None, Counter, ["worker", "qos"], "Task polls, by worker and class.";
    WAKE_DELAY = "wake_to_poll_delay", Some("seconds"), Histogram, ["qos"], "Time from a task being queued (spawned or woken) to its poll, by class (one wake in 1024 is timed).";
    POLL_DURATION = "poll_duration", Some("seconds"), Histogram, ["qos"], "Duration of task polls, by class (one poll in 1024, by worker tick).";
    LOCAL_QUEUE = "local_queue_depth", None, Gauge, ["worker", "qos"], "Stealable tasks in a worker's local queue, by class.";
    INJECTOR = "injector_depth", None, Gauge, ["node", "qos"], "Tasks in a NUMA node's injection queue, by class.";
    STEALS = "steals", None, Counter, ["worker", "scope"], "Tasks stolen by a worker, from its own node (scope=local) or another (scope=remote).";
    PARKS = "parks", None, Counter, ["worker"], "Times a worker went to sleep.";
    UNPARKS = "unparks", None, Counter, ["worker"], "Times a worker woke from a sleep.";
    LIFO_HITS = "lifo_hits", None, Counter, ["worker"], "Picks served from a worker's LIFO slot.";
    BUDGET_YIELDS = "budget_forced_yields", None, Counter, ["worker"], "Polls that spent their whole cooperative budget (the task was made to yield).";
    LONG_POLLS = "long_polls", None, Counter, [], "Tasks the watchdog reported for a poll longer than its threshold.";
    STUCK_POLLS = "stuck_polls", None, Counter, [], "Polls still running after ten watchdog thresholds.";
    BLOCKING_THREADS = "blocking_threads", None, Gauge, [], "Threads in the blocking pool.";
    BLOCKING_IDLE = "blocking_idle_threads", None, Gauge, [], "Idle threads in the blocking pool.";
    BLOCKING_QUEUE = "blocking_queue_depth", None, Gauge, [], "Blocking jobs waiting for a thread.";
    CPU_QUOTA = "container_cpu_quota", Some("cpus"), Gauge, [], "The tightest CFS quota of the cgroup path, in CPUs (absent without a quota).";
    CPUSET = "container_cpuset", Some("cpus"), Gauge, [], "CPUs the process may run on (affinity, cpuset and online CPUs intersected).";
    PERIODS = "container_cpu_periods", None, Counter, [], "CFS enforcement periods elapsed with runnable tasks.";
    THROTTLED_PERIODS = "container_cpu_throttled_periods", None, Counter, [], "CFS periods that ended with the quota exhausted.";
    THROTTLED_TIME = "container_cpu_throttled", Some("seconds"), Counter, [], "Time the cgroup's threads were held back by the quota.";
    PSI = "container_pressure_avg10", Some("ratio"), Gauge, ["resource", "kind"], "PSI: share of the last 10 s with some (or all: kind=full) tasks stalled on cpu or memory.";
    MEM_USAGE = "container_memory_usage", Some("bytes"), Gauge, [], "Memory in use by the cgroup whose limit applies.";
    MEM_WORKING_SET = "container_memory_working_set", Some("bytes"), Gauge, [], "Memory usage less inactive file cache (what the pressure level is computed from).";
    MEM_LIMIT = "container_memory_limit", Some("bytes"), Gauge, [], "The tightest memory limit of the cgroup path (absent without one).";
    PRESSURE_LEVEL = "memory_pressure_level", None, Gauge, ["level"], "1 for the current memory pressure level (none, moderate, critical), 0 for the others.";
    IO_BACKEND = "io_backend", None, Gauge, ["backend"], "1 for the I/O driver's backend (io_uring or epoll); absent without I/O.";
    IO_SUBMISSIONS = "io_submissions", None, Counter, [], "Work handed to the kernel: submission-queue entries consumed and the rings' epoll_ctl calls (io_uring), or epoll_ctl calls (epoll).";
    IO_COMPLETIONS = "io_completions", None, Counter, [], "Completion-queue entries and readiness events from the rings' epoll sets (io_uring), or readiness events (epoll), the driver dispatched.";
    VIOLATIONS = "violations", None, Counter, ["kind"], "Validation violations reported, by kind.";
    POLICY_VIOLATIONS = "policy_violations", None, Counter, ["kind", "resource", "severity"], "Resource-policy violations recorded (qos::violations(); the history forgets, this count does not), by kind, resource (tasks.<qos>, tasks, memory, workers, queue.<qos>, numa, pod_qos, locks) and severity.";
    ORDER_EDGES = "lock_order_edges", None, Gauge, [], "Edges of the lock-order graph between lock classes.";
    WAITS = "waits_in_progress", None, Gauge, ["class"], "Waits in progress on locks, semaphores and channels the validation engine tracks, by resource class (32 busiest by name, the rest as class=other).";
    LOCK_CONTENDED = "lock_contended_acquisitions", None, Counter, ["class"], "Acquisitions of an async Mutex, RwLock or Semaphore that had to queue, by lock class (the LockClass name or the creation site; the first 32 classes by name, later ones as class=other).";
    LOCK_WAIT = "lock_wait", Some("seconds"), Histogram, ["class"], "How long contended acquisitions waited in the queue, by lock class (one in 128 per thread is timed; uncontended ones wait 0 and are not recorded).";
    LOCK_HOLD = "lock_hold", Some("seconds"), Histogram, ["class"], "How long a Mutex or RwLock was held, from the grant to the guard's drop, by lock class (sampled: one acquisition in 1024 per thread is timed, the thread's first among them; owned RwLock guards are not).";
    TIMERS_PENDING = "timers_pending", None, Gauge, [], "Timers (sleep, timeout, interval, hyper's timer) registered in the runtime's wheels and not yet fired or cancelled.";
    LIVE_LOCKS = "locks_live", None, Gauge, [], "Mutex and RwLock instances alive in the process (const_new statics not counted): what the policy's max_locks limits.";
    CHANNELS = "channels", None, Gauge, ["class"], "Live mpsc and broadcast channels, by channel class (the creation site, e.g. mpsc@server.rs:42 or broadcast@events.rs:7; the first 32 sites, later ones as class=other).";
    CHANNEL_OCCUPANCY = "channel_occupancy", None, Gauge, ["class"], "Messages queued in the live channels of a class, summed (read at scrape time; for broadcast, values some receiver has not read yet).";
    CHANNEL_CAPACITY = "channel_capacity", None, Gauge, ["class"], "Buffer sizes of the live bounded channels of a class, summed (unbounded mpsc channels add 0; a broadcast channel adds its ring size).";
    CHANNEL_LAGS = "channel_receiver_lags", None, Counter, ["class"], "Times a broadcast receiver found values overwritten before it read them (each RecvError::Lagged or TryRecvError::Lagged returned), by channel class.";
    SLOW_WAITS = "slow_waits", None, Counter, [], "Waits on a lock, semaphore or channel that outlasted the stall threshold (validation::stall_threshold; each reported once, never a violation).";
    LIVE_CONTEXTS = "validation_live_contexts", None, Gauge, [], "Tasks and threads the validation engine keeps state for.";
}

fn unit_of(u: &str) -> Unit {
    match u {
        "seconds" => Unit::Seconds,
        "bytes" => Unit::Bytes,
        other => Unit::Other(other.to_owned()),
    }
}

/// The full name of a family as exposed (with `_total` for counters).
pub(crate) fn full_name(f: &Family) -> String {
    let mut n = format!("{PREFIX}_{}", f.name);
    if let Some(u) = f.unit {
        n.push('_');
        n.push_str(unit_of(u).as_str());
    }
    if f.ty == Ty::Counter {
        n.push_str("_total");
    }
    n
}

type Labels = Vec<(&'static str, String)>;

pub(crate) enum Value {
    Counter(u64),
    CounterF(f64),
    Gauge(i64),
    GaugeF(f64),
    /// Non-cumulative `(upper bound, count)` with `f64::MAX` for +Inf.
    Histogram {
        sum: f64,
        count: u64,
        buckets: Vec<(f64, u64)>,
    },
}

fn family(
    enc: &mut DescriptorEncoder<'_>,
    f: &Family,
    rows: impl IntoIterator<Item = (Labels, Value)>,
) -> fmt::Result {
    let unit = f.unit.map(unit_of);
    let ty = match f.ty {
        Ty::Counter => MetricType::Counter,
        Ty::Gauge => MetricType::Gauge,
        Ty::Histogram => MetricType::Histogram,
    };
    let mut m = enc.encode_descriptor(f.name, f.help, unit.as_ref(), ty)?;
    for (labels, v) in rows {
        debug_assert_eq!(labels.len(), f.labels.len(), "labels of {}", f.name);
        if labels.is_empty() {
            // `encode_family` of an empty set would write `name{}`.
            value(&mut m, v)?;
        } else {
            value(&mut m.encode_family(&labels)?, v)?;
        }
    }
    Ok(())
}

fn value(e: &mut prometheus_client::encoding::MetricEncoder<'_>, v: Value) -> fmt::Result {
    match v {
        Value::Counter(c) => e.encode_counter::<NoLabelSet, _, u64>(&c, None),
        Value::CounterF(c) => e.encode_counter::<NoLabelSet, _, f64>(&c, None),
        Value::Gauge(g) => e.encode_gauge(&g),
        Value::GaugeF(g) => e.encode_gauge(&g),
        Value::Histogram {
            sum,
            count,
            buckets,
        } => e.encode_histogram::<NoLabelSet>(sum, count, &buckets, None),
    }
}

fn one(v: Value) -> Option<(Labels, Value)> {
    Some((Vec::new(), v))
}

fn qos_label(q: Qos) -> (&'static str, String) {
    ("qos", q.as_str().to_owned())
}

/// A runtime histogram in the exported buckets.
pub(crate) fn latency(h: &DelayHistogram) -> Value {
    let mut counts = [0u64; LATENCY_BUCKETS.len() + 1];
    for (ub, c) in h.buckets() {
        let secs = ub.as_secs_f64();
        let i = LATENCY_BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(LATENCY_BUCKETS.len());
        counts[i] += c;
    }
    let buckets = LATENCY_BUCKETS
        .iter()
        .copied()
        .chain([f64::MAX])
        .zip(counts)
        .collect();
    Value::Histogram {
        sum: h.sum().as_secs_f64(),
        count: h.count(),
        buckets,
    }
}

fn foreign_histogram(h: &ForeignHistogram) -> Value {
    let mut prev = 0;
    let mut buckets: Vec<(f64, u64)> = h
        .buckets()
        .iter()
        .map(|&(le, cum)| {
            let n = cum - prev;
            prev = cum;
            (le, n)
        })
        .collect();
    buckets.push((f64::MAX, h.count() - prev));
    Value::Histogram {
        sum: h.sum(),
        count: h.count(),
        buckets,
    }
}

/// The collector prometheus-client calls at encode time.
#[derive(Debug)]
struct SnapshotCollector(Arc<Snapshot>);

impl Collector for SnapshotCollector {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
        encode_snapshot(&self.0, &mut enc)
    }
}

fn per_worker(
    s: &Snapshot,
    f: impl Fn(&super::snapshot::WorkerSnap) -> u64,
) -> Vec<(Labels, Value)> {
    s.workers
        .iter()
        .map(|w| (vec![("worker", w.index.to_string())], Value::Counter(f(w))))
        .collect()
}

fn encode_snapshot(s: &Snapshot, enc: &mut DescriptorEncoder<'_>) -> fmt::Result {
    let e = enc;
    let g = |n: usize| Value::Gauge(n as i64);
    family(e, &WORKERS, one(g(s.num_workers)))?;
    family(e, &ACTIVE_WORKERS, one(g(s.active_workers)))?;
    family(e, &DECIDED_WORKERS, one(g(s.container.decided_workers)))?;
    family(e, &STEP_DOWNS, one(Value::Counter(s.container.step_downs)))?;
    family(e, &STEP_UPS, one(Value::Counter(s.container.step_ups)))?;
    let by_class = |vals: [u64; Qos::COUNT], counter: bool| {
        Qos::ALL
            .iter()
            .map(move |&q| {
                let v = vals[q.index()];
                let v = if counter {
                    Value::Counter(v)
                } else {
                    Value::Gauge(v as i64)
                };
                (vec![qos_label(q)], v)
            })
            .collect::<Vec<_>>()
    };
    let alive = std::array::from_fn(|i| s.spawned[i].saturating_sub(s.completed[i]));
    family(e, &TASKS_ALIVE, by_class(alive, false))?;
    family(e, &TASKS_SPAWNED, by_class(s.spawned, true))?;
    family(e, &TASKS_COMPLETED, by_class(s.completed, true))?;
    family(
        e,
        &POLLS,
        s.workers.iter().flat_map(|w| {
            Qos::ALL.iter().map(move |&q| {
                (
                    vec![("worker", w.index.to_string()), qos_label(q)],
                    Value::Counter(w.totals.polled[q.index()]),
                )
            })
        }),
    )?;
    family(
        e,
        &WAKE_DELAY,
        Qos::ALL
            .iter()
            .map(|&q| (vec![qos_label(q)], latency(&s.wake_delay[q.index()]))),
    )?;
    family(
        e,
        &POLL_DURATION,
        Qos::ALL
            .iter()
            .map(|&q| (vec![qos_label(q)], latency(&s.poll_time[q.index()]))),
    )?;
    family(
        e,
        &LOCAL_QUEUE,
        s.workers.iter().flat_map(|w| {
            Qos::ALL.iter().map(move |&q| {
                (
                    vec![("worker", w.index.to_string()), qos_label(q)],
                    g(w.local_depth[q.index()]),
                )
            })
        }),
    )?;
    family(
        e,
        &INJECTOR,
        s.injector.iter().enumerate().flat_map(|(node, d)| {
            Qos::ALL.iter().map(move |&q| {
                (
                    vec![("node", node.to_string()), qos_label(q)],
                    g(d[q.index()]),
                )
            })
        }),
    )?;
    family(
        e,
        &STEALS,
        s.workers.iter().flat_map(|w| {
            [
                ("local", w.totals.steals_local),
                ("remote", w.totals.steals_remote),
            ]
            .map(|(scope, n)| {
                (
                    vec![("worker", w.index.to_string()), ("scope", scope.to_owned())],
                    Value::Counter(n),
                )
            })
        }),
    )?;
    family(e, &PARKS, per_worker(s, |w| w.totals.parks))?;
    family(e, &UNPARKS, per_worker(s, |w| w.totals.unparks))?;
    family(e, &LIFO_HITS, per_worker(s, |w| w.totals.lifo_hits))?;
    family(e, &BUDGET_YIELDS, per_worker(s, |w| w.totals.budget_yields))?;
    family(e, &LONG_POLLS, one(Value::Counter(s.long_polls)))?;
    family(e, &STUCK_POLLS, one(Value::Counter(s.stuck_polls)))?;
    family(e, &BLOCKING_THREADS, one(g(s.blocking_threads)))?;
    family(e, &BLOCKING_IDLE, one(g(s.blocking_idle)))?;
    family(e, &BLOCKING_QUEUE, one(g(s.blocking_queue)))?;
    encode_container(s, e)?;
    family(
        e,
        &IO_BACKEND,
        s.io_backend
            .map(|b| (vec![("backend", b.to_string())], Value::Gauge(1))),
    )?;
    family(
        e,
        &IO_SUBMISSIONS,
        s.io_counts
            .map(|c| (Vec::new(), Value::Counter(c.submissions))),
    )?;
    family(
        e,
        &IO_COMPLETIONS,
        s.io_counts
            .map(|c| (Vec::new(), Value::Counter(c.completions))),
    )?;
    family(
        e,
        &VIOLATIONS,
        s.violations
            .iter()
            .map(|(k, n)| (vec![("kind", k.as_str().to_owned())], Value::Counter(*n))),
    )?;
    family(
        e,
        &POLICY_VIOLATIONS,
        s.policy_violations.iter().map(|(k, r, n)| {
            (
                vec![
                    ("kind", k.as_str().to_owned()),
                    ("resource", r.clone()),
                    ("severity", k.severity().as_str().to_owned()),
                ],
                Value::Counter(*n),
            )
        }),
    )?;
    family(e, &ORDER_EDGES, one(g(s.order_edges)))?;
    family(
        e,
        &WAITS,
        s.waits_by_class
            .iter()
            .map(|(c, n)| (vec![("class", c.clone())], Value::Gauge(*n as i64))),
    )?;
    family(
        e,
        &LOCK_CONTENDED,
        s.lock_classes
            .iter()
            .map(|c| (vec![("class", c.name.clone())], Value::Counter(c.contended))),
    )?;
    family(
        e,
        &LOCK_WAIT,
        s.lock_classes
            .iter()
            .map(|c| (vec![("class", c.name.clone())], latency(&c.wait))),
    )?;
    family(
        e,
        &LOCK_HOLD,
        s.lock_classes
            .iter()
            .map(|c| (vec![("class", c.name.clone())], latency(&c.hold))),
    )?;
    family(e, &LIVE_LOCKS, one(g(s.live_locks)))?;
    family(e, &TIMERS_PENDING, one(g(s.timers_pending)))?;
    let by_channel_class = |f: fn(&crate::sync::class_stats::ChannelClassSnap) -> usize| {
        s.channel_classes
            .iter()
            .map(move |c| (vec![("class", c.name.clone())], g(f(c))))
    };
    family(e, &CHANNELS, by_channel_class(|c| c.channels))?;
    family(e, &CHANNEL_OCCUPANCY, by_channel_class(|c| c.occupancy))?;
    family(e, &CHANNEL_CAPACITY, by_channel_class(|c| c.capacity))?;
    family(
        e,
        &CHANNEL_LAGS,
        s.channel_lags
            .iter()
            .map(|(c, n)| (vec![("class", c.clone())], Value::Counter(*n))),
    )?;
    family(e, &SLOW_WAITS, one(Value::Counter(s.slow_waits)))?;
    family(e, &LIVE_CONTEXTS, one(g(s.live_contexts)))?;
    encode_foreign(s, e)
}

fn encode_container(s: &Snapshot, e: &mut DescriptorEncoder<'_>) -> fmt::Result {
    let c = &s.container;
    let l = c.limits.as_ref();
    family(
        e,
        &CPU_QUOTA,
        l.and_then(|l| l.cpu_quota)
            .map(|q| (Vec::new(), Value::GaugeF(q))),
    )?;
    family(
        e,
        &CPUSET,
        l.map(|l| (Vec::new(), Value::Gauge(l.cpuset.len() as i64))),
    )?;
    let t = l.and_then(|l| l.throttling);
    family(
        e,
        &PERIODS,
        t.map(|t| (Vec::new(), Value::Counter(t.nr_periods))),
    )?;
    family(
        e,
        &THROTTLED_PERIODS,
        t.map(|t| (Vec::new(), Value::Counter(t.nr_throttled))),
    )?;
    family(
        e,
        &THROTTLED_TIME,
        t.map(|t| (Vec::new(), Value::CounterF(t.throttled_time.as_secs_f64()))),
    )?;
    let mut psi = Vec::new();
    if let Some(l) = l {
        for (res, p) in [("cpu", l.pressure.cpu()), ("memory", l.pressure.memory())] {
            let Some(p) = p else { continue };
            let mut row = |kind: &str, avg10: f64| {
                psi.push((
                    vec![("resource", res.to_owned()), ("kind", kind.to_owned())],
                    Value::GaugeF(avg10 / 100.0),
                ))
            };
            row("some", p.some.avg10);
            if let Some(full) = p.full {
                row("full", full.avg10);
            }
        }
    }
    family(e, &PSI, psi)?;
    family(
        e,
        &MEM_USAGE,
        l.map(|l| (Vec::new(), Value::Gauge(l.memory_usage as i64))),
    )?;
    family(
        e,
        &MEM_WORKING_SET,
        l.map(|l| (Vec::new(), Value::Gauge(l.memory_working_set as i64))),
    )?;
    family(
        e,
        &MEM_LIMIT,
        l.and_then(|l| l.memory_limit)
            .map(|m| (Vec::new(), Value::Gauge(m as i64))),
    )?;
    use crate::container::PressureLevel as P;
    family(
        e,
        &PRESSURE_LEVEL,
        [P::None, P::Moderate, P::Critical].map(|p| {
            (
                vec![("level", p.as_str().to_owned())],
                Value::Gauge(i64::from(p == c.pressure)),
            )
        }),
    )
}

fn encode_foreign(s: &Snapshot, e: &mut DescriptorEncoder<'_>) -> fmt::Result {
    for (name, v) in &s.foreign.counters {
        let name = format!("foreign_{name}");
        let mut m = e.encode_descriptor(
            &name,
            "A counter reported through metrics::foreign().",
            None,
            MetricType::Counter,
        )?;
        value(&mut m, Value::Counter(*v))?;
    }
    for (name, help, h) in &s.foreign.histograms {
        let name = format!("foreign_{name}");
        let help = help.replace(['\n', '\\'], " ");
        let mut m = e.encode_descriptor(&name, &help, None, MetricType::Histogram)?;
        value(&mut m, foreign_histogram(h))?;
    }
    Ok(())
}

/// The snapshot in OpenMetrics text (ends with `# EOF`).
pub(crate) fn openmetrics(s: &Snapshot) -> String {
    let mut registry = Registry::with_prefix(PREFIX);
    registry.register_collector(Box::new(SnapshotCollector(Arc::new(s.clone()))));
    let mut out = String::with_capacity(16 * 1024);
    prometheus_client::encoding::text::encode(&mut out, &registry)
        .expect("writing to a String cannot fail");
    out
}

/// The Prometheus text format 0.0.4, from the OpenMetrics output: the two
/// differ only in the `# UNIT` and `# EOF` lines (absent in 0.0.4) and in
/// that a 0.0.4 counter's HELP and TYPE lines carry the sample name (with
/// `_total`). Samples, labels and values are the same text.
pub(crate) fn openmetrics_to_text(om: &str) -> String {
    let mut out = String::with_capacity(om.len());
    let mut help: Option<&str> = None;
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help = Some(rest);
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.rsplit_once(' ').unwrap_or((rest, "untyped"));
            let (name, ty) = match ty {
                "counter" => (format!("{name}_total"), "counter"),
                "unknown" => (name.to_owned(), "untyped"),
                t => (name.to_owned(), t),
            };
            if let Some(h) = help.take() {
                let text = h.split_once(' ').map_or("", |(_, t)| t);
                out.push_str(&format!("# HELP {name} {text}\n"));
            }
            out.push_str(&format!("# TYPE {name} {ty}\n"));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A Markdown table of every family the runtime exports (the README's).
pub fn reference_table() -> String {
    let mut t = String::from("| name | type | labels | meaning |\n| --- | --- | --- | --- |\n");
    for f in FAMILIES {
        let ty = match f.ty {
            Ty::Counter => "counter",
            Ty::Gauge => "gauge",
            Ty::Histogram => "histogram",
        };
        t.push_str(&format!(
            "| `{}` | {ty} | {} | {} |\n",
            full_name(f),
            if f.labels.is_empty() {
                "—".to_owned()
            } else {
                f.labels
                    .iter()
                    .map(|l| format!("`{l}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            f.help
        ));
    }
    t
}
