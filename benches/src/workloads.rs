//! Scheduler workloads, written once against [`Rt`] and run on both runtimes.
//!
//! Shapes follow tokio's `benches/rt_multi_threaded.rs`. Completion is
//! signalled with an `AtomicUsize` countdown plus a `futures_channel::oneshot`
//! fired by the last task, so the only thing that differs between the two
//! sides is the scheduler.
//!
//! Every workload returns the wall-clock time of its measured section only;
//! setup and teardown (e.g. starting and stopping background load) are
//! excluded.

use std::future::pending;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_channel::oneshot;

use crate::rt::Rt;

/// Worker threads for both runtimes.
pub const WORKERS: usize = 2;
/// Tasks spawned by the `spawn_many_*` workloads.
pub const NUM_SPAWN: usize = 10_000;
/// Background tasks looping on `yield_now` in `spawn_many_remote_busy`.
pub const NUM_BUSY: usize = 2 * WORKERS;
/// Ping-pong pairs.
pub const NUM_PINGS: usize = 1_000;
/// Tasks in `yield_many`.
pub const NUM_YIELD_TASKS: usize = 200;
/// `yield_now` calls per task in `yield_many`.
pub const NUM_YIELDS: usize = 1_000;
/// Depth of `chained_spawn`.
pub const CHAIN_DEPTH: usize = 1_000;
/// Parked tasks in `idle_memory`.
pub const IDLE_TASKS: usize = 100_000;

/// Counts down from `n`; the call that reaches zero fires a oneshot.
pub struct Countdown {
    rem: AtomicUsize,
    tx: Mutex<Option<oneshot::Sender<()>>>,
}

impl Countdown {
    /// A countdown from `n` (which must be > 0) and the receiver fired at zero.
    pub fn new(n: usize) -> (Arc<Self>, oneshot::Receiver<()>) {
        assert!(n > 0, "countdown from zero would never fire");
        let (tx, rx) = oneshot::channel();
        let cd = Countdown {
            rem: AtomicUsize::new(n),
            tx: Mutex::new(Some(tx)),
        };
        (Arc::new(cd), rx)
    }

    /// Decrements; the last call fires the oneshot.
    pub fn done(&self) {
        if self.rem.fetch_sub(1, Ordering::AcqRel) == 1 {
            let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(tx) = tx {
                let _ = tx.send(());
            }
        }
    }
}

async fn wait(rx: oneshot::Receiver<()>) {
    rx.await.expect("completion signal dropped")
}

/// The timed scheduler workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// 10,000 spawns from inside a task.
    SpawnManyLocal,
    /// 10,000 spawns through the handle onto an idle runtime.
    SpawnManyRemoteIdle,
    /// 10,000 spawns through the handle while `2 × workers` tasks spin on
    /// `yield_now`.
    SpawnManyRemoteBusy,
    /// 1,000 oneshot ping-pong pairs spawned from a task.
    PingPong,
    /// 200 tasks × 1,000 `yield_now`.
    YieldMany,
    /// A chain of 1,000 tasks, each spawning the next.
    ChainedSpawn,
}

impl Workload {
    /// All workloads, in report order.
    pub const ALL: [Workload; 6] = [
        Workload::SpawnManyLocal,
        Workload::SpawnManyRemoteIdle,
        Workload::SpawnManyRemoteBusy,
        Workload::PingPong,
        Workload::YieldMany,
        Workload::ChainedSpawn,
    ];

    /// Name used in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Workload::SpawnManyLocal => "spawn_many_local",
            Workload::SpawnManyRemoteIdle => "spawn_many_remote_idle",
            Workload::SpawnManyRemoteBusy => "spawn_many_remote_busy",
            Workload::PingPong => "ping_pong",
            Workload::YieldMany => "yield_many",
            Workload::ChainedSpawn => "chained_spawn",
        }
    }

    /// Looks a workload up by [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Workload> {
        Self::ALL.into_iter().find(|w| w.name() == name)
    }

    /// Runs one iteration on `rt` and returns the measured time.
    pub fn run<R: Rt>(self, rt: &R) -> Duration {
        match self {
            Workload::SpawnManyLocal => spawn_many_local(rt),
            Workload::SpawnManyRemoteIdle => spawn_many_remote_idle(rt),
            Workload::SpawnManyRemoteBusy => spawn_many_remote_busy(rt),
            Workload::PingPong => ping_pong(rt),
            Workload::YieldMany => yield_many(rt),
            Workload::ChainedSpawn => chained_spawn(rt),
        }
    }
}

/// [`NUM_SPAWN`] empty tasks spawned from inside a task.
pub fn spawn_many_local<R: Rt>(rt: &R) -> Duration {
    let (cd, rx) = Countdown::new(NUM_SPAWN);
    let start = Instant::now();
    rt.block_on(async move {
        R::spawn(async move {
            for _ in 0..NUM_SPAWN {
                let cd = cd.clone();
                R::spawn(async move { cd.done() });
            }
        });
        wait(rx).await;
    });
    start.elapsed()
}

fn spawn_many_remote<R: Rt>(rt: &R) -> Duration {
    let (cd, rx) = Countdown::new(NUM_SPAWN);
    let start = Instant::now();
    for _ in 0..NUM_SPAWN {
        let cd = cd.clone();
        rt.spawn_remote(async move { cd.done() });
    }
    rt.block_on(wait(rx));
    start.elapsed()
}

/// [`NUM_SPAWN`] empty tasks spawned through the handle on an idle runtime,
/// then waited for with `block_on`.
pub fn spawn_many_remote_idle<R: Rt>(rt: &R) -> Duration {
    spawn_many_remote(rt)
}

/// As [`spawn_many_remote_idle`], while [`NUM_BUSY`] background tasks loop on
/// `yield_now`. The background tasks are started (and seen running) before
/// the clock starts and stopped after it stops, so they never overlap with
/// the other runtime's samples.
pub fn spawn_many_remote_busy<R: Rt>(rt: &R) -> Duration {
    let stop = Arc::new(AtomicBool::new(false));
    let (started, started_rx) = Countdown::new(NUM_BUSY);
    let (finished, finished_rx) = Countdown::new(NUM_BUSY);
    for _ in 0..NUM_BUSY {
        let stop = stop.clone();
        let started = started.clone();
        let finished = finished.clone();
        rt.spawn_remote(async move {
            started.done();
            while !stop.load(Ordering::Relaxed) {
                R::yield_now().await;
            }
            finished.done();
        });
    }
    rt.block_on(wait(started_rx));
    let elapsed = spawn_many_remote(rt);
    stop.store(true, Ordering::Relaxed);
    rt.block_on(wait(finished_rx));
    elapsed
}

/// [`NUM_PINGS`] pairs spawned from a task: each pair's first task sends on a
/// oneshot to a spawned peer, which replies on another oneshot.
pub fn ping_pong<R: Rt>(rt: &R) -> Duration {
    let (cd, rx) = Countdown::new(NUM_PINGS);
    let start = Instant::now();
    rt.block_on(async move {
        R::spawn(async move {
            for _ in 0..NUM_PINGS {
                let cd = cd.clone();
                R::spawn(async move {
                    let (ping_tx, ping_rx) = oneshot::channel::<()>();
                    let (pong_tx, pong_rx) = oneshot::channel::<()>();
                    R::spawn(async move {
                        ping_rx.await.expect("ping dropped");
                        pong_tx.send(()).expect("pong receiver dropped");
                    });
                    ping_tx.send(()).expect("ping receiver dropped");
                    pong_rx.await.expect("pong dropped");
                    cd.done();
                });
            }
        });
        wait(rx).await;
    });
    start.elapsed()
}

/// [`NUM_YIELD_TASKS`] tasks each calling `yield_now` [`NUM_YIELDS`] times.
pub fn yield_many<R: Rt>(rt: &R) -> Duration {
    let (cd, rx) = Countdown::new(NUM_YIELD_TASKS);
    let start = Instant::now();
    for _ in 0..NUM_YIELD_TASKS {
        let cd = cd.clone();
        rt.spawn_remote(async move {
            for _ in 0..NUM_YIELDS {
                R::yield_now().await;
            }
            cd.done();
        });
    }
    rt.block_on(wait(rx));
    start.elapsed()
}

fn chain<R: Rt>(left: usize, done: oneshot::Sender<()>) {
    if left == 0 {
        let _ = done.send(());
    } else {
        R::spawn(async move { chain::<R>(left - 1, done) });
    }
}

/// A task spawns a task that spawns ... [`CHAIN_DEPTH`] deep; the last one
/// signals completion.
pub fn chained_spawn<R: Rt>(rt: &R) -> Duration {
    let (tx, rx) = oneshot::channel();
    let start = Instant::now();
    rt.block_on(async move {
        R::spawn(async move { chain::<R>(CHAIN_DEPTH, tx) });
        wait(rx).await;
    });
    start.elapsed()
}

/// Resident set size of this process in bytes, from `/proc/self/statm`.
pub fn rss_bytes() -> io::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let resident: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed /proc/self/statm"))?;
    // SAFETY: sysconf has no preconditions; `_SC_PAGESIZE` is valid on every Unix.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if page <= 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(resident * page as u64)
}

/// Result of [`idle_memory`].
#[derive(Clone, Copy, Debug)]
pub struct IdleMemory {
    /// RSS before spawning, bytes.
    pub before: u64,
    /// RSS once every task has been polled once, bytes.
    pub after: u64,
    /// Number of parked tasks.
    pub tasks: usize,
}

impl IdleMemory {
    /// RSS growth per parked task, bytes (may be negative in theory).
    pub fn bytes_per_task(&self) -> f64 {
        (self.after as f64 - self.before as f64) / self.tasks as f64
    }
}

/// Spawns `tasks` tasks that each decrement a countdown on first poll and
/// then park forever on [`std::future::pending`], and measures the RSS
/// growth. Meant to run in a fresh process; the tasks are leaked into `rt`.
pub fn idle_memory<R: Rt>(rt: &R, tasks: usize) -> io::Result<IdleMemory> {
    // Warm up: worker threads, their stacks and the allocator's per-thread
    // state exist before the baseline is taken.
    spawn_many_remote_idle(rt);
    spawn_many_local(rt);
    let before = rss_bytes()?;
    let (cd, rx) = Countdown::new(tasks);
    for _ in 0..tasks {
        let cd = cd.clone();
        rt.spawn_remote(async move {
            cd.done();
            drop(cd);
            pending::<()>().await;
        });
    }
    rt.block_on(wait(rx));
    let after = rss_bytes()?;
    Ok(IdleMemory {
        before,
        after,
        tasks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rt::{Perf, Tokio};

    fn smoke<R: Rt>() {
        let rt = R::build(WORKERS).expect("build runtime");
        for w in Workload::ALL {
            assert_eq!(Workload::from_name(w.name()), Some(w));
            w.run(&rt);
        }
        let m = idle_memory(&rt, 1_000).expect("idle_memory");
        assert_eq!(m.tasks, 1_000);
        assert!(m.after > 0);
    }

    #[test]
    fn every_workload_completes_on_tokio() {
        smoke::<Tokio>();
    }

    #[test]
    fn every_workload_completes_on_perf() {
        smoke::<Perf>();
    }
}
