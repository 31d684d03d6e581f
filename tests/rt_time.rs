//! Timers on a real runtime: `sleep`, `sleep_until`, `timeout`, `interval`,
//! and the paused clock of current_thread tests.
//!
//! Real-clock tests only assert lower bounds (a timer never fires early),
//! which no amount of machine load can break; everything that depends on
//! exact instants runs on the paused clock, where time is virtual.

mod support;

use perf_runtime::runtime::Builder;
use perf_runtime::time::{self, Duration, Instant, MissedTickBehavior};
use std::future::{pending, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use support::*;

fn paused() -> perf_runtime::runtime::Runtime {
    Builder::new_current_thread()
        .start_paused(true)
        .build()
        .unwrap()
}

#[test]
fn sleep_never_returns_early_on_either_flavour() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            rt.block_on(async move {
                for ms in [0u64, 1, 2, 3, 7, 15] {
                    let d = Duration::from_millis(ms);
                    let t0 = std::time::Instant::now();
                    time::sleep(d).await;
                    let took = t0.elapsed();
                    assert!(took >= d, "{flavour}: sleep({d:?}) returned after {took:?}");

                    let deadline = Instant::now() + d + Duration::from_micros(300);
                    time::sleep_until(deadline).await;
                    assert!(
                        Instant::now() >= deadline,
                        "{flavour}: sleep_until returned before its deadline"
                    );
                }
            });
        }
    });
}

#[test]
fn sleeps_in_spawned_tasks_never_fire_early_on_multi_thread() {
    within(|| {
        let rt = multi_thread();
        let early = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..200u64)
            .map(|i| {
                let early = early.clone();
                rt.spawn(async move {
                    let d = Duration::from_micros(500 + (i * 7919) % 20_000);
                    let t0 = std::time::Instant::now();
                    time::sleep(d).await;
                    if t0.elapsed() < d {
                        early.fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        rt.block_on(async {
            for h in handles {
                h.await.unwrap();
            }
        });
        assert_eq!(early.load(SeqCst), 0, "some timers fired early");
    });
}

#[test]
fn a_timer_armed_from_outside_wakes_a_parked_worker() {
    // Every worker is parked without a deadline when the task arrives: the
    // worker that runs it must re-arm its park with the new timer.
    within(|| {
        let rt = multi_thread();
        let (tx, rx) = mpsc::channel();
        rt.spawn(async move {
            time::sleep(Duration::from_millis(20)).await;
            tx.send(()).unwrap();
        });
        rx.recv_timeout(PATIENCE)
            .expect("a sleeping task on an idle runtime never woke");
    });
}

#[test]
fn timers_fire_in_deadline_order_on_the_paused_clock() {
    within(|| {
        let rt = paused();
        let fired = Arc::new(Mutex::new(Vec::new()));
        rt.block_on(async {
            let start = Instant::now();
            let handles: Vec<_> = (0..100u64)
                .map(|i| {
                    let fired = fired.clone();
                    // A scrambled but fixed set of deadlines, some equal.
                    let ms = (i * 37) % 61;
                    perf_runtime::spawn(async move {
                        time::sleep(Duration::from_millis(ms)).await;
                        fired.lock().unwrap().push((ms, start.elapsed()));
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
        });
        let fired = fired.lock().unwrap();
        assert_eq!(fired.len(), 100);
        for w in fired.windows(2) {
            assert!(w[0].0 <= w[1].0, "fired out of deadline order: {w:?}");
        }
        for (ms, at) in fired.iter() {
            assert_eq!(
                *at,
                Duration::from_millis(*ms),
                "on the paused clock a timer fires at its deadline exactly"
            );
        }
    });
}

#[test]
fn timeout_elapses_on_a_pending_future_and_passes_a_ready_one() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            rt.block_on(async move {
                let t0 = std::time::Instant::now();
                let res = time::timeout(Duration::from_millis(10), pending::<()>()).await;
                assert!(res.is_err(), "{flavour}: a pending future did not time out");
                assert!(
                    t0.elapsed() >= Duration::from_millis(10),
                    "{flavour}: early"
                );
                let res = time::timeout(Duration::from_millis(10), async { 5 }).await;
                assert_eq!(res.ok(), Some(5), "{flavour}");
            });
        }
    });
}

#[test]
fn an_elapsed_timeout_drops_the_inner_future() {
    within(|| {
        let rt = paused();
        let drops = Arc::new(AtomicUsize::new(0));
        let counter = DropCounter(drops.clone());
        rt.block_on(async move {
            let inner = async move {
                let _held = counter;
                pending::<()>().await
            };
            let err = time::timeout(Duration::from_secs(1), inner)
                .await
                .unwrap_err();
            assert!(err.to_string().contains("deadline"), "Elapsed says: {err}");
        });
        assert_eq!(drops.load(SeqCst), 1);
    });
}

#[test]
fn the_paused_clock_jumps_to_the_next_timer_when_idle() {
    within(|| {
        let rt = paused();
        let real = std::time::Instant::now();
        rt.block_on(async {
            let start = Instant::now();
            time::sleep(Duration::from_secs(3600)).await;
            assert_eq!(start.elapsed(), Duration::from_secs(3600));
        });
        assert!(real.elapsed() < PATIENCE, "auto-advance did not happen");
    });
}

#[test]
fn advance_fires_exactly_the_timers_that_became_due() {
    within(|| {
        let rt = paused();
        rt.block_on(async {
            let fired = Arc::new(AtomicBool::new(false));
            let f = fired.clone();
            let task = perf_runtime::spawn(async move {
                time::sleep(Duration::from_secs(5)).await;
                f.store(true, SeqCst);
            });
            // Let the task register its timer.
            perf_runtime::task::yield_now().await;
            time::advance(Duration::from_secs(4)).await;
            assert!(!fired.load(SeqCst), "fired a second early");
            time::advance(Duration::from_secs(1)).await;
            task.await.unwrap();
            assert!(fired.load(SeqCst));
        });
    });
}

#[test]
fn interval_ticks_at_every_period_and_honours_missed_tick_behaviour() {
    within(|| {
        let rt = paused();
        rt.block_on(async {
            let start = Instant::now();
            let mut iv = time::interval(Duration::from_millis(10));
            for k in 0..5u32 {
                let at = iv.tick().await;
                assert_eq!(at - start, Duration::from_millis(10) * k);
            }
            // Fall 35 ms behind: Delay restarts the schedule from now.
            iv.set_missed_tick_behavior(MissedTickBehavior::Delay);
            time::advance(Duration::from_millis(35)).await;
            let late = Instant::now();
            iv.tick().await;
            let next = iv.tick().await;
            assert_eq!(next - late, Duration::from_millis(10));
        });
    });
}

#[test]
fn sleep_reset_moves_the_deadline() {
    within(|| {
        let rt = paused();
        rt.block_on(async {
            let start = Instant::now();
            let mut s = pin!(time::sleep(Duration::from_millis(10)));
            s.as_mut().reset(start + Duration::from_millis(50));
            s.as_mut().await;
            assert_eq!(start.elapsed(), Duration::from_millis(50));
        });
    });
}

#[test]
fn pause_on_multi_thread_panics_with_advice() {
    within(|| {
        let rt = multi_thread();
        let err = rt
            .block_on(async { catch_unwind(AssertUnwindSafe(time::pause)) })
            .expect_err("pause() on multi_thread must panic");
        let msg = panic_message(&*err);
        assert!(msg.contains("current_thread"), "unhelpful panic: {msg}");
    });
}

#[test]
fn sleep_outside_a_runtime_panics_naming_the_problem() {
    let err = catch_unwind(|| drop(time::sleep(Duration::from_millis(1))))
        .expect_err("sleep outside a runtime must panic");
    let msg = panic_message(&*err);
    assert!(msg.contains("runtime"), "unhelpful panic: {msg}");
}

#[test]
fn shutdown_cancels_tasks_blocked_on_timers() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let drops = Arc::new(AtomicUsize::new(0));
            let counter = DropCounter(drops.clone());
            let h = rt.spawn(async move {
                let _held = counter;
                time::sleep(Duration::from_secs(3600)).await;
            });
            drop(rt);
            assert_eq!(drops.load(SeqCst), 1, "{flavour}: the future was kept");
            assert!(join_elsewhere(h).unwrap_err().is_cancelled(), "{flavour}");
        }
    });
}

#[test]
fn a_loop_of_elapsed_sleeps_still_yields_to_other_tasks() {
    // An elapsed sleep is ready at once; without the cooperative budget this
    // loop would never give the worker back and the flag would never be set.
    within(|| {
        let rt = current_thread();
        rt.block_on(async {
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            perf_runtime::spawn(async move { f.store(true, SeqCst) });
            let mut spins = 0u32;
            while !flag.load(SeqCst) {
                time::sleep(Duration::ZERO).await;
                spins += 1;
                assert!(spins < 100_000, "the elapsed-sleep loop never yielded");
            }
        });
    });
}

/// Polls `f` once with a no-op waker.
fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
    f.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
}

#[test]
fn is_elapsed_reports_a_fired_sleep() {
    within(|| {
        let rt = paused();
        rt.block_on(async {
            let mut s = pin!(time::sleep(Duration::from_millis(5)));
            assert!(poll_once(s.as_mut()).is_pending());
            assert!(!s.is_elapsed());
            time::advance(Duration::from_millis(5)).await;
            assert!(s.is_elapsed());
            assert!(poll_once(s.as_mut()).is_ready());
        });
    });
}

#[test]
fn a_1ms_sleep_on_an_idle_runtime_never_returns_before_its_deadline() {
    // Exact deadlines, whatever the wheel's slot width: never early (the
    // assertion is one-sided, so a loaded machine cannot make it flaky).
    within(|| {
        for resolution in [
            Duration::from_millis(1),
            Duration::from_micros(7),
            Duration::from_millis(3),
        ] {
            let rt = Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .timer_resolution(resolution)
                .build()
                .unwrap();
            rt.block_on(async move {
                perf_runtime::spawn(async move {
                    for _ in 0..100 {
                        let deadline = Instant::now() + Duration::from_millis(1);
                        time::sleep(Duration::from_millis(1)).await;
                        let now = Instant::now();
                        assert!(
                            now >= deadline,
                            "resolution {resolution:?}: a 1 ms sleep returned {:?} early",
                            deadline - now
                        );
                    }
                })
                .await
                .unwrap();
            });
        }
    });
}

#[test]
fn sub_millisecond_deadlines_are_not_rounded_up_on_the_paused_clock() {
    // With 1 ms slots, each sleep completes at its exact deadline: the
    // paused clock auto-advances to the deadline, not to the next tick.
    within(|| {
        let rt = paused();
        rt.block_on(async {
            let start = Instant::now();
            let offsets = [1_250u64, 300, 2_999, 700, 1_001];
            let tasks: Vec<_> = offsets
                .iter()
                .map(|&us| {
                    perf_runtime::spawn(async move {
                        time::sleep_until(start + Duration::from_micros(us)).await;
                        Instant::now() - start
                    })
                })
                .collect();
            for (task, us) in tasks.into_iter().zip(offsets) {
                assert_eq!(task.await.unwrap(), Duration::from_micros(us));
            }
        });
    });
}

#[test]
fn an_out_of_range_timer_resolution_is_a_build_error_naming_it() {
    for bad in [Duration::ZERO, Duration::from_secs(10)] {
        for mut builder in [Builder::new_current_thread(), Builder::new_multi_thread()] {
            let Err(err) = builder.timer_resolution(bad).build() else {
                panic!("timer_resolution({bad:?}) must fail the build");
            };
            let msg = err.to_string();
            assert!(
                msg.contains("timer_resolution") && msg.contains("between"),
                "unhelpful error: {msg}"
            );
        }
    }
}
