//! Shutting a runtime down: what happens to idle, running and newly spawned
//! tasks, to blocking jobs, and to `JoinHandle`s that outlive the runtime;
//! and that the bounded forms of shutdown are bounded.

mod support;
use support::*;

use futures_channel::oneshot;
use perf_runtime::runtime::{Builder, Handle, Runtime};
use perf_runtime::task::{self, JoinHandle};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{self};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn dropping_the_runtime_drops_every_idle_task_future() {
    within(|| {
        const N: usize = 50;
        for (flavour, rt) in both_flavours() {
            let drops = Arc::new(AtomicUsize::new(0));
            let mut gates = Vec::new();
            let handles = rt.block_on(async {
                let mut handles = Vec::new();
                let mut started = Vec::new();
                for _ in 0..N {
                    let (gate_tx, gate_rx) = oneshot::channel::<()>();
                    let (started_tx, started_rx) = oneshot::channel::<()>();
                    let guard = DropCounter(drops.clone());
                    handles.push(perf_runtime::spawn(async move {
                        let _guard = guard;
                        started_tx.send(()).unwrap();
                        let _ = gate_rx.await;
                    }));
                    gates.push(gate_tx);
                    started.push(started_rx);
                }
                // Every task is now parked on its gate: idle, not queued.
                for s in started {
                    s.await.unwrap();
                }
                handles
            });
            assert_eq!(drops.load(SeqCst), 0, "{flavour}: dropped too early");
            assert_eq!(rt.metrics().num_alive_tasks(), N, "{flavour}");
            drop(rt);
            assert_eq!(
                drops.load(SeqCst),
                N,
                "{flavour}: futures not dropped by the time the runtime's drop returned"
            );
            // The gates outlived the runtime, so nothing but shutdown ended them.
            for h in handles {
                let err = join_elsewhere(h).unwrap_err();
                assert!(err.is_cancelled(), "{flavour}: {err:?}");
            }
            drop(gates);
        }
    });
}

#[test]
fn dropping_the_runtime_cancels_a_task_that_keeps_yielding() {
    within(|| {
        let rt = multi_thread();
        let drops = Arc::new(AtomicUsize::new(0));
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let guard = DropCounter(drops.clone());
        let busy = rt.spawn(async move {
            let _guard = guard;
            started_tx.send(()).unwrap();
            // Bounded, but far longer than the test: only shutdown ends it.
            for _ in 0..100_000_000u64 {
                task::yield_now().await;
            }
        });
        started_rx
            .recv_timeout(PATIENCE)
            .expect("the task never started");
        drop(rt);
        assert_eq!(
            drops.load(SeqCst),
            1,
            "the busy task's future was not dropped"
        );
        assert!(join_elsewhere(busy).unwrap_err().is_cancelled());
    });
}

#[test]
fn a_join_handle_that_outlives_its_runtime_reports_cancelled() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let (_never_tx, never_rx) = oneshot::channel::<()>();
            let pending = rt.spawn(async move {
                let _ = never_rx.await;
                1
            });
            // Spawned but perhaps never polled: shutdown must still end it.
            let id = pending.id();
            drop(rt);
            assert!(
                pending.is_finished(),
                "{flavour}: is_finished after shutdown"
            );
            let err = join_elsewhere(pending).unwrap_err();
            assert!(err.is_cancelled(), "{flavour}: {err:?}");
            assert_eq!(err.id(), id, "{flavour}");
        }
    });
}

#[test]
fn spawning_through_a_handle_after_shutdown_cancels_at_once() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let handle: Handle = rt.handle().clone();
            drop(rt);
            let drops = Arc::new(AtomicUsize::new(0));
            let guard = DropCounter(drops.clone());
            let ran = Arc::new(AtomicBool::new(false));
            let r = ran.clone();
            let late = handle.spawn(async move {
                let _guard = guard;
                r.store(true, SeqCst);
            });
            assert_eq!(drops.load(SeqCst), 1, "{flavour}: the late future was kept");
            assert!(late.is_finished(), "{flavour}");
            assert!(
                join_elsewhere(late).unwrap_err().is_cancelled(),
                "{flavour}"
            );
            assert!(!ran.load(SeqCst), "{flavour}: a task ran after shutdown");
        }
    });
}

/// Spawns a task (through `spawn`) when dropped, recording what happened.
struct SpawnOnDrop {
    handle: Handle,
    use_context: bool,
    spawned: Arc<Mutex<Vec<JoinHandle<()>>>>,
    panicked: Arc<AtomicBool>,
    inner_drops: Arc<AtomicUsize>,
}

impl Drop for SpawnOnDrop {
    fn drop(&mut self) {
        let guard = DropCounter(self.inner_drops.clone());
        let fut = async move {
            let _guard = guard;
        };
        let res = catch_unwind(AssertUnwindSafe(|| {
            if self.use_context {
                perf_runtime::spawn(fut)
            } else {
                self.handle.spawn(fut)
            }
        }));
        match res {
            Ok(h) => self.spawned.lock().unwrap().push(h),
            Err(_) => self.panicked.store(true, SeqCst),
        }
    }
}

fn spawn_during_shutdown(flavour: &str, rt: Runtime, use_context: bool) {
    let flavour = flavour.to_owned();
    within(move || {
        let spawned = Arc::new(Mutex::new(Vec::new()));
        let panicked = Arc::new(AtomicBool::new(false));
        let inner_drops = Arc::new(AtomicUsize::new(0));
        let mut keep = Vec::new();
        for _ in 0..4 {
            let (tx, rx) = oneshot::channel::<()>();
            keep.push(tx);
            let bomb = SpawnOnDrop {
                handle: rt.handle().clone(),
                use_context,
                spawned: spawned.clone(),
                panicked: panicked.clone(),
                inner_drops: inner_drops.clone(),
            };
            drop(rt.spawn(async move {
                let _bomb = bomb;
                let _ = rx.await;
            }));
        }
        drop(rt);
        assert!(
            !panicked.load(SeqCst),
            "{flavour}: spawning from a Drop run by shutdown panicked"
        );
        let spawned = std::mem::take(&mut *spawned.lock().unwrap());
        assert_eq!(spawned.len(), 4, "{flavour}: every drop spawned");
        assert_eq!(
            inner_drops.load(SeqCst),
            4,
            "{flavour}: a task spawned during shutdown was kept alive"
        );
        for h in spawned {
            assert!(join_elsewhere(h).unwrap_err().is_cancelled(), "{flavour}");
        }
        drop(keep);
    });
}

#[test]
fn handle_spawn_from_a_drop_during_shutdown_is_cancelled_without_panic() {
    for (flavour, rt) in both_flavours() {
        spawn_during_shutdown(flavour, rt, false);
    }
}

// As in tokio, a future's destructor run by shutdown may call the
// context-free `spawn`: the runtime is still its context then.

#[test]
fn context_spawn_from_a_drop_during_current_thread_shutdown_does_not_panic() {
    spawn_during_shutdown("current_thread", current_thread(), true);
}

#[test]
fn context_spawn_from_a_drop_during_multi_thread_shutdown_does_not_panic() {
    spawn_during_shutdown("multi_thread", multi_thread(), true);
}

#[test]
fn shutdown_timeout_returns_although_a_blocking_job_is_stuck() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let (started_tx, started_rx) = mpsc::channel::<()>();
            let (release_tx, release_rx) = mpsc::channel::<()>();
            let stuck = rt.spawn_blocking(move || {
                started_tx.send(()).unwrap();
                release_rx.recv_timeout(PATIENCE).is_ok()
            });
            started_rx
                .recv_timeout(PATIENCE)
                .expect("the job never started");
            let timeout = Duration::from_millis(100);
            let t0 = Instant::now();
            rt.shutdown_timeout(timeout);
            let took = t0.elapsed();
            assert!(
                took >= timeout,
                "{flavour}: shutdown_timeout returned after {took:?} although a job was still \
                 running"
            );
            assert!(
                took < Duration::from_secs(5),
                "{flavour}: shutdown_timeout(100 ms) took {took:?}"
            );
            // The job is left to finish on its own, and its output is kept.
            release_tx.send(()).unwrap();
            assert_eq!(join_elsewhere(stuck).ok(), Some(true), "{flavour}");
        }
    });
}

#[test]
fn shutdown_timeout_cancels_queued_blocking_jobs() {
    within(|| {
        let rt = Builder::new_current_thread()
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let running = rt.spawn_blocking(move || {
            started_tx.send(()).unwrap();
            release_rx.recv_timeout(PATIENCE).is_ok()
        });
        started_rx
            .recv_timeout(PATIENCE)
            .expect("the job never started");
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let queued = rt.spawn_blocking(move || r.store(true, SeqCst));
        rt.shutdown_timeout(Duration::from_millis(10));
        release_tx.send(()).unwrap();
        assert_eq!(join_elsewhere(running).ok(), Some(true));
        let err = join_elsewhere(queued).unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        assert!(!ran.load(SeqCst), "a queued job ran after shutdown");
    });
}

/// Issue 15: the worker wait and the blocking-pool shutdown each got the
/// whole timeout, so a stuck poll plus a stuck blocking job took 2·d.
#[test]
fn shutdown_timeout_is_one_deadline_for_workers_and_blocking_threads() {
    within(|| {
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .long_poll_threshold(None)
            .build()
            .unwrap();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let (s1, r1) = (started_tx.clone(), release_rx.clone());
        let blocked_worker = rt.spawn(async move {
            s1.send(()).unwrap();
            let _ = r1.lock().unwrap().recv_timeout(PATIENCE);
        });
        // The blockers share the receiver: one holds its lock while it waits
        // on the channel, the other waits for the lock. Both stay stuck.
        let (s2, r2) = (started_tx, release_rx.clone());
        let blocked_job = rt.spawn_blocking(move || {
            s2.send(()).unwrap();
            let _ = r2.lock().unwrap().recv_timeout(PATIENCE);
        });
        for _ in 0..2 {
            started_rx
                .recv_timeout(PATIENCE)
                .expect("a blocker never started");
        }
        let timeout = Duration::from_millis(600);
        let t0 = Instant::now();
        rt.shutdown_timeout(timeout);
        let took = t0.elapsed();
        release_tx.send(()).unwrap();
        release_tx.send(()).unwrap();
        assert!(
            took >= timeout,
            "shutdown_timeout returned after {took:?} with a worker and a job still stuck"
        );
        assert!(
            took < timeout * 3 / 2,
            "shutdown_timeout({timeout:?}) took {took:?}: the worker wait and the blocking \
             pool must share one deadline"
        );
        let worker_res = join_elsewhere(blocked_worker);
        assert!(
            worker_res.is_ok() || worker_res.as_ref().unwrap_err().is_cancelled(),
            "{worker_res:?}"
        );
        assert!(join_elsewhere(blocked_job).is_ok());
    });
}

#[test]
fn shutdown_background_does_not_wait_for_stuck_threads() {
    within(|| {
        // A worker blocked inside a poll and a stuck blocking job: neither
        // may hold up shutdown_background.
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .long_poll_threshold(None)
            .build()
            .unwrap();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let (s1, r1) = (started_tx.clone(), release_rx.clone());
        let blocked_worker = rt.spawn(async move {
            s1.send(()).unwrap();
            let _ = r1.lock().unwrap().recv_timeout(PATIENCE);
        });
        let (s2, r2) = (started_tx, release_rx.clone());
        let blocked_job = rt.spawn_blocking(move || {
            s2.send(()).unwrap();
            let _ = r2.lock().unwrap().recv_timeout(PATIENCE);
        });
        for _ in 0..2 {
            started_rx
                .recv_timeout(PATIENCE)
                .expect("a blocker never started");
        }
        let t0 = Instant::now();
        rt.shutdown_background();
        let took = t0.elapsed();
        assert!(
            took < Duration::from_secs(2),
            "shutdown_background waited {took:?}"
        );
        release_tx.send(()).unwrap();
        release_tx.send(()).unwrap();
        // The poll in progress completes; the job's output is kept.
        let worker_res = join_elsewhere(blocked_worker);
        assert!(
            worker_res.is_ok() || worker_res.as_ref().unwrap_err().is_cancelled(),
            "{worker_res:?}"
        );
        assert!(join_elsewhere(blocked_job).is_ok());
    });
}

#[test]
fn shutdown_timeout_on_an_idle_runtime_is_prompt() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
            let t0 = Instant::now();
            rt.shutdown_timeout(Duration::from_secs(8));
            assert!(
                t0.elapsed() < Duration::from_secs(4),
                "{flavour}: an idle runtime took {:?} to shut down",
                t0.elapsed()
            );
        }
    });
}

#[test]
fn dropping_a_runtime_inside_another_runtime_does_not_hang() {
    within(|| {
        for (flavour, outer) in both_flavours() {
            let inner = multi_thread();
            let drops = Arc::new(AtomicUsize::new(0));
            let guard = DropCounter(drops.clone());
            let (_never_tx, never_rx) = oneshot::channel::<()>();
            drop(inner.spawn(async move {
                let _guard = guard;
                let _ = never_rx.await;
            }));
            outer
                .block_on(outer.spawn(async move { drop(inner) }))
                .expect("dropping a runtime inside a task panicked");
            assert_eq!(drops.load(SeqCst), 1, "{flavour}: inner task not dropped");
        }
    });
}
