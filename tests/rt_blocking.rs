//! The blocking pool: `spawn_blocking` results and panics, the thread cap,
//! thread retirement after the keep-alive, and spawning from outside.

mod support;
use support::*;

use perf_runtime::runtime::{Builder, Handle};
use std::panic::catch_unwind;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{self};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Tracks how many jobs run at once and the most seen.
#[derive(Default)]
struct Concurrency {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Concurrency {
    fn enter(&self) {
        let n = self.now.fetch_add(1, SeqCst) + 1;
        self.max.fetch_max(n, SeqCst);
    }

    fn exit(&self) {
        self.now.fetch_sub(1, SeqCst);
    }
}

#[test]
fn spawn_blocking_returns_the_closure_value_on_another_thread() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let (value, caller, ran_on) = rt.block_on(async {
                let caller = thread::current().id();
                let h = perf_runtime::spawn_blocking(|| (6 * 7, thread::current().id()));
                let (value, ran_on) = h.await.unwrap();
                (value, caller, ran_on)
            });
            assert_eq!(value, 42, "{flavour}");
            assert_ne!(caller, ran_on, "{flavour}: the closure ran on the caller");
            let v = rt.block_on(rt.spawn_blocking(|| String::from("owned")));
            assert_eq!(v.unwrap(), "owned", "{flavour}: Runtime::spawn_blocking");
        }
    });
}

#[test]
fn a_blocking_closure_runs_inside_the_runtime_context() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let out = rt.block_on(async {
                perf_runtime::spawn_blocking(|| {
                    // The pool thread knows its runtime: it can hand work back.
                    let handle = Handle::current();
                    handle.block_on(handle.spawn(async { 5 })).unwrap()
                })
                .await
                .unwrap()
            });
            assert_eq!(out, 5, "{flavour}");
        }
    });
}

#[test]
fn a_panicking_closure_gives_a_panic_join_error() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let err = rt
                .block_on(rt.spawn_blocking(|| -> u8 { panic!("blocking boom") }))
                .unwrap_err();
            assert!(err.is_panic(), "{flavour}: {err:?}");
            let payload = err.into_panic();
            assert_eq!(
                payload.downcast_ref::<&str>(),
                Some(&"blocking boom"),
                "{flavour}"
            );
            // The pool survived its thread's panic.
            let ok = rt.block_on(rt.spawn_blocking(|| 1)).unwrap();
            assert_eq!(ok, 1, "{flavour}: a job after the panic");
        }
    });
}

#[test]
fn max_blocking_threads_1_runs_one_job_at_a_time() {
    within(|| {
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let m = rt.metrics();

        // Deterministic part: while one job holds the only thread, a second
        // job waits in the queue and no second thread is started.
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let first = rt.spawn_blocking(move || {
            started_tx.send(()).unwrap();
            release_rx.recv_timeout(PATIENCE).is_ok()
        });
        started_rx
            .recv_timeout(PATIENCE)
            .expect("the first job never started");
        let second = rt.spawn_blocking(|| 2);
        assert_eq!(m.num_blocking_threads(), 1, "a thread beyond the cap");
        assert_eq!(m.blocking_queue_depth(), 1, "the second job is not queued");
        assert!(!second.is_finished(), "the second job ran beside the first");
        release_tx.send(()).unwrap();
        assert!(
            rt.block_on(first).unwrap(),
            "the first job was not released"
        );
        assert_eq!(rt.block_on(second).unwrap(), 2);

        // Statistical part: many jobs, never two at once.
        let c = Arc::new(Concurrency::default());
        let jobs: Vec<_> = (0..32)
            .map(|_| {
                let c = c.clone();
                rt.spawn_blocking(move || {
                    c.enter();
                    for _ in 0..100 {
                        thread::yield_now();
                    }
                    c.exit();
                })
            })
            .collect();
        for j in jobs {
            rt.block_on(j).unwrap();
        }
        assert_eq!(c.max.load(SeqCst), 1, "two blocking jobs overlapped");
        assert!(m.num_blocking_threads() <= 1);
    });
}

#[test]
fn max_blocking_threads_2_lets_two_jobs_overlap() {
    within(|| {
        // The counterpart of the test above: the cap is what serialises.
        let rt = Builder::new_current_thread()
            .max_blocking_threads(2)
            .build()
            .unwrap();
        let meeting = Arc::new(Rendezvous::new());
        let c = Arc::new(Concurrency::default());
        let jobs: Vec<_> = (0..2)
            .map(|_| {
                let (meeting, c) = (meeting.clone(), c.clone());
                rt.spawn_blocking(move || {
                    c.enter();
                    let met = meeting.meet_within(2, PATIENCE);
                    c.exit();
                    met
                })
            })
            .collect();
        for j in jobs {
            assert!(rt.block_on(j).unwrap(), "the two jobs never ran at once");
        }
        assert_eq!(c.max.load(SeqCst), 2);
        assert!(rt.metrics().num_blocking_threads() <= 2);
    });
}

#[test]
fn a_cap_of_3_bounds_a_burst_of_jobs() {
    within(|| {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(3)
            .build()
            .unwrap();
        let c = Arc::new(Concurrency::default());
        let results = rt.block_on(async {
            let jobs: Vec<_> = (0..48usize)
                .map(|i| {
                    let c = c.clone();
                    perf_runtime::spawn_blocking(move || {
                        c.enter();
                        for _ in 0..50 {
                            thread::yield_now();
                        }
                        c.exit();
                        i
                    })
                })
                .collect();
            let mut out = Vec::new();
            for j in jobs {
                out.push(j.await.unwrap());
            }
            out
        });
        assert_eq!(results, (0..48).collect::<Vec<_>>());
        assert!(c.max.load(SeqCst) <= 3, "max {}", c.max.load(SeqCst));
        assert!(rt.metrics().num_blocking_threads() <= 3);
    });
}

#[test]
fn idle_blocking_threads_retire_after_the_keep_alive() {
    let rt = Builder::new_current_thread()
        .thread_keep_alive(Duration::from_millis(20))
        .build()
        .unwrap();
    let m = rt.metrics();
    assert_eq!(m.num_blocking_threads(), 0, "threads before any job");
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let job = rt.spawn_blocking(move || {
        started_tx.send(()).unwrap();
        release_rx.recv_timeout(PATIENCE).is_ok()
    });
    started_rx
        .recv_timeout(PATIENCE)
        .expect("the job never started");
    assert_eq!(m.num_blocking_threads(), 1, "the running job's thread");
    release_tx.send(()).unwrap();
    assert!(rt.block_on(job).unwrap());
    assert!(
        wait_until(Duration::from_secs(5), || m.num_blocking_threads() == 0),
        "the idle thread did not retire: {} threads after 5 s with a 20 ms keep-alive",
        m.num_blocking_threads()
    );
    // A retired pool starts a thread again on demand.
    assert_eq!(rt.block_on(rt.spawn_blocking(|| 3)).unwrap(), 3);
}

#[test]
fn idle_threads_are_kept_within_the_keep_alive() {
    let rt = Builder::new_current_thread()
        .thread_keep_alive(Duration::from_secs(60))
        .build()
        .unwrap();
    let m = rt.metrics();
    assert_eq!(rt.block_on(rt.spawn_blocking(|| 1)).unwrap(), 1);
    assert!(
        wait_until(PATIENCE, || m.num_idle_blocking_threads() == 1),
        "the thread never went idle"
    );
    assert_eq!(m.num_blocking_threads(), 1, "an idle thread retired early");
    // The idle thread takes the next job: no second thread.
    assert_eq!(rt.block_on(rt.spawn_blocking(|| 2)).unwrap(), 2);
    assert_eq!(m.num_blocking_threads(), 1, "a second thread was started");
}

#[test]
fn spawn_blocking_from_outside_through_a_handle() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let handle = rt.handle().clone();
            // A plain thread in no runtime.
            let join = thread::spawn(move || {
                assert!(Handle::try_current().is_err());
                handle.spawn_blocking(|| thread::current().name().map(str::to_owned))
            })
            .join()
            .unwrap();
            let name = rt.block_on(join).unwrap();
            assert_eq!(
                name.as_deref(),
                Some("perf-runtime-worker"),
                "{flavour}: pool threads take the runtime's thread name"
            );
        }
    });
}

#[test]
fn spawn_blocking_outside_a_runtime_panics_with_a_clear_message() {
    let res = catch_unwind(|| perf_runtime::spawn_blocking(|| ()));
    let payload = res.expect_err("spawn_blocking outside a runtime returned");
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        msg.contains("spawn_blocking") && msg.contains("outside"),
        "message: {msg}"
    );
}
