//! The child process: joins its cgroup, builds one runtime as a user of it
//! would, serves the scenario's schedule and prints what it measured.
//!
//! Run as `compare __container-child SIDE SCENARIO SPIN_ITERS REFRESH_MS
//! DIR...`: the first `DIR` carries the `cpu` controller (its `cpu.stat` is
//! read), the others are joined too (the cpuset directory on v1).
//!
//! The load generator is a plain thread of this process, so it sits in the
//! cgroup and spends the quota like the workers: at each scheduled arrival
//! it spawns the request through the runtime's handle. It sleeps between
//! arrivals (with a 1 ns timer slack, so it wakes on time) rather than
//! spinning, which would burn a CPU of the quota.

use std::future::Future;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use perf_runtime::container::{Rounding, Throttling};

use super::cgroup::{join, read_throttling};
use super::report::{result_line, RunResult};
use super::schedule::{first_at_or_after, poisson_arrivals, total};
use super::{Scenario, Side, CHILD, EXIT_UNAVAILABLE};
use crate::spin::Spin;
use crate::stats::Tail;

/// Time between printing `START` and the schedule's first instant: lets the
/// parent arm its quota change and the workers settle.
const LEAD: Duration = Duration::from_millis(200);

/// How long the child waits, after the last arrival, for the backlog to
/// drain before giving up.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(60);

/// How often the generator looks at the worker count.
const WORKER_CHECK: Duration = Duration::from_millis(1);

/// Not yet completed, in the latency slots.
const PENDING: u64 = u64::MAX;

/// What the generator needs from a runtime.
trait Server: Sync {
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, fut: F);
    /// The workers serving requests right now.
    fn workers(&self) -> usize;
}

struct PerfServer(perf_runtime::runtime::Runtime);

impl Server for PerfServer {
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, fut: F) {
        drop(self.0.handle().spawn(fut));
    }

    fn workers(&self) -> usize {
        self.0.metrics().active_workers()
    }
}

struct TokioServer(tokio::runtime::Runtime);

impl Server for TokioServer {
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, fut: F) {
        drop(self.0.handle().spawn(fut));
    }

    fn workers(&self) -> usize {
        self.0.handle().metrics().num_workers()
    }
}

/// The child's entry point (`args` after the subcommand).
pub fn child_main(args: &[String]) -> ExitCode {
    let fail = |msg: String| {
        eprintln!("{CHILD}: {msg}");
        ExitCode::FAILURE
    };
    let [side, scenario, iters, refresh_ms, dirs @ ..] = args else {
        return fail("needs SIDE SCENARIO SPIN_ITERS REFRESH_MS CPU_DIR [DIR...]".to_owned());
    };
    let Some(side) = Side::from_name(side) else {
        return fail(format!("unknown side `{side}`"));
    };
    let Some(scenario) = Scenario::from_name(scenario) else {
        return fail(format!("unknown scenario `{scenario}`"));
    };
    let Ok(iters) = iters.parse::<u64>() else {
        return fail(format!("spin iterations `{iters}` is not an integer"));
    };
    let Ok(refresh_ms) = refresh_ms.parse::<u64>() else {
        return fail(format!("refresh `{refresh_ms}` is not a number of ms"));
    };
    if dirs.is_empty() {
        return fail("no cgroup directory given".to_owned());
    }
    let dirs: Vec<PathBuf> = dirs.iter().map(PathBuf::from).collect();
    // First, before any thread exists: everything after runs in the cgroup.
    if let Err(e) = join(&dirs) {
        eprintln!("{CHILD}: {e}");
        return ExitCode::from(EXIT_UNAVAILABLE);
    }
    let parallelism = thread::available_parallelism().map_or(0, |n| n.get());
    println!("PARALLELISM {parallelism}");
    let spin = Spin::with_iterations(iters);
    let cpu_stat = dirs[0].join("cpu.stat");
    let refresh = Duration::from_millis(refresh_ms);
    let result = match side {
        Side::Perf | Side::PerfFloor => {
            let mut b = perf_runtime::runtime::Builder::new_multi_thread();
            b.enable_all().container_refresh(Some(refresh));
            if side == Side::PerfFloor {
                b.worker_rounding(Rounding::Floor);
            }
            match b.build() {
                Ok(rt) => {
                    println!("DECISION {}", rt.handle().worker_decision());
                    serve(&PerfServer(rt), scenario, spin, &cpu_stat)
                }
                Err(e) => Err(format!("building perf_runtime: {e}")),
            }
        }
        Side::Tokio => match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => {
                let n = rt.handle().metrics().num_workers();
                println!("DECISION {n} workers: worker_threads unset, so available_parallelism");
                serve(&TokioServer(rt), scenario, spin, &cpu_stat)
            }
            Err(e) => Err(format!("building tokio: {e}")),
        },
        Side::TokioSized => {
            let n = scenario.hand_sized_workers();
            match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(n)
                .enable_all()
                .build()
            {
                Ok(rt) => {
                    println!(
                        "DECISION {} workers: worker_threads({n}) set by hand, the {}-CPU quota \
                         rounded up",
                        rt.handle().metrics().num_workers(),
                        scenario.quota_label()
                    );
                    serve(&TokioServer(rt), scenario, spin, &cpu_stat)
                }
                Err(e) => Err(format!("building tokio (sized by hand): {e}")),
            }
        }
    };
    match result {
        Ok(r) => {
            println!("{}", result_line(&r));
            // The runtime is not torn down: the process ends here.
            std::process::exit(0)
        }
        Err(e) => {
            eprintln!("{CHILD}: {} on {}: {e}", scenario.name(), side.name());
            std::process::exit(1)
        }
    }
}

/// `CLOCK_MONOTONIC` in ns: the clock `Instant` reads on Linux, shared by
/// every process, so the parent can act at the child's schedule times.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // CLOCK_MONOTONIC exists on every Linux kernel, so the call cannot fail.
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CPU time used by this process (every thread) so far, ns.
fn process_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // CLOCK_PROCESS_CPUTIME_ID is supported by every Linux kernel.
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Completion slots shared by the requests.
struct Slots {
    latency_ns: Vec<AtomicU64>,
    done: AtomicUsize,
}

/// What the generator thread saw.
struct Generated {
    window_start: Result<Throttling, String>,
    /// When the window started, and the process's CPU time then.
    window_start_at: Instant,
    window_start_cpu_ns: u64,
    spawn_lag_ns: Vec<u64>,
    workers_end: usize,
    timeline: Vec<(u64, usize)>,
}

fn serve<S: Server>(
    server: &S,
    scenario: Scenario,
    spin: Spin,
    cpu_stat: &Path,
) -> Result<RunResult, String> {
    let phases = scenario.phases();
    let arrivals = poisson_arrivals(&phases, scenario.seed());
    let first = first_at_or_after(&arrivals, scenario.measure_from().as_nanos() as u64);
    if first == arrivals.len() {
        return Err("the measured window has no arrivals".to_owned());
    }
    let slots = Arc::new(Slots {
        latency_ns: (0..arrivals.len())
            .map(|_| AtomicU64::new(PENDING))
            .collect(),
        done: AtomicUsize::new(0),
    });
    let workers_start = server.workers();
    let (now, now_ns) = (Instant::now(), monotonic_ns());
    let t0 = now + LEAD;
    println!("START {}", now_ns + LEAD.as_nanos() as u64);
    let last_arrival = t0 + Duration::from_nanos(*arrivals.last().expect("non-empty"));
    let deadline = t0 + total(&phases) + DRAIN_LIMIT;

    let (generated, drained_at) = thread::scope(|s| {
        let generator = thread::Builder::new()
            .name("load-generator".to_owned())
            .spawn_scoped(s, || {
                generate(server, &arrivals, first, t0, spin, &slots, cpu_stat)
            })
            .map_err(|e| format!("starting the generator thread: {e}"))?;
        // Wait for the last completion (the generator is done by then).
        while slots.done.load(Ordering::Acquire) < arrivals.len() {
            if Instant::now() > deadline {
                return Err(format!(
                    "{} of {} requests still pending {} s after the last arrival",
                    arrivals.len() - slots.done.load(Ordering::Acquire),
                    arrivals.len(),
                    DRAIN_LIMIT.as_secs()
                ));
            }
            thread::sleep(Duration::from_millis(2));
        }
        let drained_at = Instant::now();
        let generated = generator
            .join()
            .map_err(|_| "the generator thread panicked".to_owned())?;
        Ok((generated, drained_at))
    })?;
    let window_end = read_throttling(cpu_stat)?;
    let cpu_ns = process_cpu_ns().saturating_sub(generated.window_start_cpu_ns);
    let window = drained_at.saturating_duration_since(generated.window_start_at);
    let window_start = generated.window_start?;

    let measured: Vec<u64> = slots.latency_ns[first..]
        .iter()
        .map(|l| l.load(Ordering::Relaxed))
        .collect();
    let tail = Tail::of_ns(&measured);
    let lag = Tail::of_ns(&generated.spawn_lag_ns[first..]);
    Ok(RunResult {
        tail,
        throttled: window_end
            .nr_throttled
            .saturating_sub(window_start.nr_throttled),
        periods: window_end
            .nr_periods
            .saturating_sub(window_start.nr_periods),
        throttled_ns: window_end
            .throttled_time
            .saturating_sub(window_start.throttled_time)
            .as_nanos() as u64,
        workers_start,
        workers_end: generated.workers_end,
        timeline: generated.timeline,
        spawn_lag_p99_ns: lag.p99,
        spawn_lag_max_ns: lag.max,
        drain_ms: drained_at
            .saturating_duration_since(last_arrival)
            .as_millis() as u64,
        cpu_ns,
        window_ms: window.as_millis() as u64,
        // Not part of the RESULT line: the parent takes them from the
        // PARALLELISM and DECISION lines and its own quota change.
        parallelism: 0,
        decision: String::new(),
        quota_change_lag_us: None,
    })
}

/// Sets this thread's timer slack to 1 ns so its sleeps end on time (the
/// default 50 µs would shift every arrival late by up to that much).
fn tight_timer_slack() {
    // A failure leaves the default slack, which is harmless.
    // SAFETY: PR_SET_TIMERSLACK takes one unsigned long, changes only this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// The generator thread: spawns request `i` at `t0 + arrivals[i]`.
fn generate<S: Server>(
    server: &S,
    arrivals: &[u64],
    first_measured: usize,
    t0: Instant,
    spin: Spin,
    slots: &Arc<Slots>,
    cpu_stat: &Path,
) -> Generated {
    tight_timer_slack();
    let mut spawn_lag_ns = Vec::with_capacity(arrivals.len());
    let mut timeline = vec![(0, server.workers())];
    let mut last_check = t0;
    let mut window_start = Err("the window never started".to_owned());
    let (mut window_start_at, mut window_start_cpu_ns) = (t0, 0);
    for (i, &offset) in arrivals.iter().enumerate() {
        let due = t0 + Duration::from_nanos(offset);
        let mut now = Instant::now();
        while now < due {
            thread::sleep(due - now);
            now = Instant::now();
        }
        if i == first_measured {
            window_start = read_throttling(cpu_stat);
            window_start_cpu_ns = process_cpu_ns();
            window_start_at = due;
            now = Instant::now();
        }
        spawn_lag_ns.push((now - due).as_nanos() as u64);
        if now - last_check >= WORKER_CHECK {
            last_check = now;
            let n = server.workers();
            if timeline.last().is_some_and(|&(_, last)| last != n) {
                timeline.push(((now - t0).as_millis() as u64, n));
            }
        }
        let slots = slots.clone();
        server.spawn(async move {
            black_box(spin.run());
            let latency = Instant::now().saturating_duration_since(due);
            slots.latency_ns[i].store(latency.as_nanos() as u64, Ordering::Relaxed);
            slots.done.fetch_add(1, Ordering::Release);
        });
    }
    let workers_end = server.workers();
    if timeline
        .last()
        .is_some_and(|&(_, last)| last != workers_end)
    {
        let at = Instant::now().saturating_duration_since(t0).as_millis() as u64;
        timeline.push((at, workers_end));
    }
    Generated {
        window_start,
        window_start_at,
        window_start_cpu_ns,
        spawn_lag_ns,
        workers_end,
        timeline,
    }
}
