// `Snapshot`: every number the runtime keeps, copied out at one moment.
//
// Gathering reads the workers' single-writer counters with relaxed loads,
// the stealers' and injectors' lengths, and the cold-path state of the
// sizing monitor and the validation engine. It takes no lock a worker takes
// on its poll, wake or spawn path: the sizing state's mutex belongs to the
// monitor thread, and the validation engine's registry lock is its cold
// path. It never walks the task list (that is `/debug/tasks`), so its cost
// does not grow with the number of live tasks.

use super::foreign::{self, ForeignSnapshot};
use crate::runtime::{DelayHistogram, IoBackend};
use crate::scheduler::stats::{self, WorkerTotals};
use crate::task::Qos;
use std::sync::atomic::Ordering::Relaxed;

/// Lock or channel classes exported by name; the rest are summed under
/// [`OTHER_CLASS`], so a program that creates a class per request cannot
/// blow up the series count.
pub const MAX_CLASSES: usize = 32;

/// The label value of the overflow bucket of classes past [`MAX_CLASSES`].
pub const OTHER_CLASS: &str = "other";

/// One worker's counters.
#[derive(Clone, Debug)]
pub(crate) struct WorkerSnap {
    pub(crate) index: usize,
    pub(crate) totals: WorkerTotals,
    /// Tasks in its local deques, per class (stealable ones; the LIFO slot
    /// is not counted).
    pub(crate) local_depth: [usize; Qos::COUNT],
}

/// What the container detection saw last (the monitor's last pass).
#[derive(Clone, Debug)]
pub(crate) struct ContainerSnap {
    pub(crate) limits: Option<crate::container::Limits>,
    pub(crate) decided_workers: usize,
    pub(crate) pressure: crate::container::PressureLevel,
    pub(crate) step_downs: u64,
    pub(crate) step_ups: u64,
}

/// Every counter, gauge and histogram of one runtime (and of the process's
/// validation engine and foreign metrics), copied at one moment.
///
/// Made by [`snapshot`](super::snapshot) or [`Snapshot::of`]; rendered by
/// [`render_prometheus`](super::render_prometheus) and
/// [`render_openmetrics`](super::render_openmetrics). Values read while a
/// worker writes them are at most one event old.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub(crate) num_workers: usize,
    pub(crate) active_workers: usize,
    pub(crate) workers: Vec<WorkerSnap>,
    /// Injector depth per node, per class.
    pub(crate) injector: Vec<[usize; Qos::COUNT]>,
    pub(crate) alive: usize,
    pub(crate) spawned: [u64; Qos::COUNT],
    pub(crate) completed: [u64; Qos::COUNT],
    pub(crate) wake_delay: [DelayHistogram; Qos::COUNT],
    pub(crate) poll_time: [DelayHistogram; Qos::COUNT],
    pub(crate) long_polls: u64,
    pub(crate) stuck_polls: u64,
    pub(crate) blocking_threads: usize,
    pub(crate) blocking_idle: usize,
    pub(crate) blocking_queue: usize,
    pub(crate) container: ContainerSnap,
    pub(crate) io_backend: Option<IoBackend>,
    pub(crate) io_counts: Option<crate::io::driver::IoCounts>,
    /// Waits that outlasted the stall threshold, since the process started.
    pub(crate) slow_waits: u64,
    pub(crate) violations: Vec<(crate::validation::ViolationKind, u64)>,
    pub(crate) order_edges: usize,
    pub(crate) live_contexts: usize,
    /// Waits in progress by resource class (bounded; see [`MAX_CLASSES`]).
    pub(crate) waits_by_class: Vec<(String, u64)>,
    /// Contended acquisitions and their waits by lock class (bounded).
    pub(crate) lock_classes: Vec<crate::sync::class_stats::LockClassSnap>,
    /// Live mpsc and broadcast channels by class: count, messages queued,
    /// buffer.
    pub(crate) channel_classes: Vec<crate::sync::class_stats::ChannelClassSnap>,
    /// Broadcast receiver lags by channel class (bounded as the classes).
    pub(crate) channel_lags: Vec<(String, u64)>,
    /// Live Mutex and RwLock instances in the process.
    pub(crate) live_locks: usize,
    /// Timers (sleeps, timeouts, intervals) registered and not yet fired or
    /// cancelled.
    pub(crate) timers_pending: usize,
    /// Resource-policy violations since the start, by kind and resource.
    pub(crate) policy_violations: Vec<(crate::qos::ViolationKind, String, u64)>,
    pub(crate) foreign: ForeignSnapshot,
}

impl Snapshot {
    /// Gathers the numbers of the runtime behind `handle`.
    pub fn of(handle: &crate::runtime::Handle) -> Snapshot {
        gather(&handle.inner)
    }

    /// Tasks spawned and not yet completed.
    pub fn alive_tasks(&self) -> usize {
        self.alive
    }

    /// Polls of class `qos`, summed over the workers.
    pub fn polls(&self, qos: Qos) -> u64 {
        self.workers
            .iter()
            .map(|w| w.totals.polled[qos.index()])
            .sum()
    }
}

fn gather(h: &crate::scheduler::Handle) -> Snapshot {
    use crate::scheduler::Handle as H;
    let common = h.common();
    let (workers, injector, active) = match h {
        H::MultiThread(s) => {
            let workers = s
                .remotes
                .iter()
                .enumerate()
                // A worker whose thread has not started yet has done
                // nothing: it is exported with zeros, so every worker's
                // series exists from the first scrape.
                .map(|(index, r)| WorkerSnap {
                    index,
                    totals: r.stats.get().map(|st| st.totals()).unwrap_or_default(),
                    local_depth: std::array::from_fn(|q| r.stealers[q].len()),
                })
                .collect();
            let injector = (0..s.inject.num_nodes())
                .map(|n| std::array::from_fn(|q| s.inject.depth(n, Qos::ALL[q])))
                .collect();
            (workers, injector, s.num_active())
        }
        H::CurrentThread(s) => {
            let w = WorkerSnap {
                index: 0,
                totals: s.stats.totals(),
                local_depth: [0; Qos::COUNT],
            };
            let injector = vec![std::array::from_fn(|q| s.inject.depth(0, Qos::ALL[q]))];
            (vec![w], injector, 1)
        }
    };
    let ws = h.worker_stats();
    let sizing = &common.sizing;
    Snapshot {
        num_workers: h.num_workers(),
        active_workers: active,
        workers,
        injector,
        alive: h.num_alive_tasks(),
        spawned: Qos::ALL.map(|q| h.qos_spawned(q)),
        completed: Qos::ALL.map(|q| h.qos_completed(q)),
        wake_delay: Qos::ALL.map(|q| stats::delay(&ws, q)),
        poll_time: Qos::ALL.map(|q| stats::poll_time(&ws, q)),
        long_polls: common.watchdog.long_polls.load(Relaxed),
        stuck_polls: common.watchdog.stuck_polls.load(Relaxed),
        blocking_threads: common.blocking.num_threads(),
        blocking_idle: common.blocking.num_idle_threads(),
        blocking_queue: common.blocking.queue_depth(),
        container: ContainerSnap {
            limits: sizing.limits(),
            decided_workers: sizing.decision().workers,
            pressure: sizing.pressure(),
            step_downs: sizing.step_downs(),
            step_ups: sizing.step_ups(),
        },
        io_backend: common.io.as_ref().map(|d| d.backend()),
        io_counts: common.io.as_ref().map(|d| d.counts()),
        slow_waits: crate::validation::slow_waits(),
        violations: crate::validation::counts(),
        order_edges: crate::validation::lock_order_edge_count(),
        live_contexts: crate::validation::live_context_count(),
        waits_by_class: waits_by_class(),
        lock_classes: crate::sync::class_stats::snapshot(),
        channel_classes: crate::sync::class_stats::channel_snapshot(),
        channel_lags: crate::sync::class_stats::channel_lags(),
        live_locks: crate::sync::class_stats::live_locks(),
        timers_pending: common.time.pending_timers(),
        policy_violations: common.enforcer.counts_by_resource(),
        foreign: foreign::global().snapshot(),
    }
}

/// Waits in progress per resource class: the [`MAX_CLASSES`] busiest by
/// name, the rest summed under [`OTHER_CLASS`].
fn waits_by_class() -> Vec<(String, u64)> {
    bound_classes(crate::validation::waits_by_resource())
}

/// Keeps the `MAX_CLASSES` largest entries (ties by name) and sums the rest
/// under `OTHER_CLASS`.
pub(crate) fn bound_classes(mut v: Vec<(String, u64)>) -> Vec<(String, u64)> {
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if v.len() > MAX_CLASSES {
        let rest: u64 = v.drain(MAX_CLASSES..).map(|(_, n)| n).sum();
        v.push((OTHER_CLASS.to_owned(), rest));
    }
    v
}
