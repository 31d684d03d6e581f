//! Spawning and joining tasks: outputs, aborts, ids, panics, yielding,
//! detaching, `task::Builder`, `block_in_place`, and the misuse panics.
//! Every scenario that a scheduler could get wrong runs on both flavours.

mod support;
use support::*;

use futures_channel::oneshot;
use perf_runtime::runtime::{Builder, Handle};
use perf_runtime::task::{self, Qos};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

#[test]
fn spawn_from_block_on_returns_the_output() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let out = rt.block_on(async {
                let a = perf_runtime::spawn(async { 20u32 });
                let b = perf_runtime::spawn(async { String::from("twenty-two") });
                (a.await.unwrap(), b.await.unwrap())
            });
            assert_eq!(out, (20, "twenty-two".to_owned()), "{flavour}");
        }
    });
}

#[test]
fn spawn_from_a_task_and_from_runtime_spawn() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let outer = rt.spawn(async {
                let inner = perf_runtime::spawn(async { 40u64 });
                inner.await.unwrap() + 2
            });
            let out = rt.block_on(outer).unwrap();
            assert_eq!(out, 42, "{flavour}: nested spawn");
        }
    });
}

#[test]
fn abort_of_an_idle_task_cancels_it_and_drops_its_future() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let drops = Arc::new(AtomicUsize::new(0));
            let (started_tx, started_rx) = oneshot::channel::<()>();
            let (_never_tx, never_rx) = oneshot::channel::<()>();
            let guard = DropCounter(drops.clone());
            let handle = rt.spawn(async move {
                let _guard = guard;
                started_tx.send(()).unwrap();
                let _ = never_rx.await;
                unreachable!("the never channel was sent on");
            });
            let id = handle.id();
            let err = rt.block_on(async move {
                // The task is parked on `never_rx`: idle, not running.
                started_rx.await.unwrap();
                assert!(!handle.is_finished(), "{flavour}: finished before abort");
                handle.abort();
                let err = handle.await.expect_err("an aborted task returned output");
                err
            });
            assert!(err.is_cancelled(), "{flavour}: {err:?}");
            assert!(!err.is_panic(), "{flavour}: {err:?}");
            assert_eq!(err.id(), id, "{flavour}: JoinError::id");
            assert_eq!(
                drops.load(SeqCst),
                1,
                "{flavour}: the aborted task's future was not dropped by the time its \
                 JoinHandle reported the cancellation"
            );
        }
    });
}

#[test]
fn abort_before_the_first_poll_never_runs_the_task() {
    within(|| {
        // On current_thread nothing runs until block_on yields, so the abort
        // lands strictly before the first poll.
        let rt = current_thread();
        let polled = Arc::new(AtomicBool::new(false));
        let drops = Arc::new(AtomicUsize::new(0));
        let (p, guard) = (polled.clone(), DropCounter(drops.clone()));
        let err = rt.block_on(async move {
            let handle = perf_runtime::spawn(async move {
                let _guard = guard;
                p.store(true, SeqCst);
            });
            handle.abort();
            handle.await.unwrap_err()
        });
        assert!(err.is_cancelled(), "{err:?}");
        assert!(!polled.load(SeqCst), "the aborted task was polled");
        assert_eq!(drops.load(SeqCst), 1, "the unpolled future was not dropped");
    });
}

#[test]
fn abort_handle_cancels_and_reports_the_same_id() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let (_never_tx, never_rx) = oneshot::channel::<()>();
            let handle = rt.spawn(async move {
                let _ = never_rx.await;
            });
            let abort = handle.abort_handle();
            assert_eq!(abort.id(), handle.id(), "{flavour}");
            assert!(!abort.is_finished(), "{flavour}");
            abort.abort();
            let err = rt.block_on(handle).unwrap_err();
            assert!(err.is_cancelled(), "{flavour}: {err:?}");
            assert!(abort.is_finished(), "{flavour}: AbortHandle::is_finished");
        }
    });
}

#[test]
fn abort_of_a_completed_task_keeps_its_output() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let out = rt.block_on(async {
                let (done_tx, done_rx) = oneshot::channel::<()>();
                let handle = perf_runtime::spawn(async move {
                    let _ = done_tx.send(());
                    7u8
                });
                done_rx.await.unwrap();
                // The send happens just before the task returns: wait
                // (bounded, yielding) for the completion to be published.
                let mut spins = 0;
                while !handle.is_finished() {
                    spins += 1;
                    assert!(spins < 1_000_000, "{flavour}: the task never finished");
                    task::yield_now().await;
                }
                handle.abort();
                handle.await
            });
            assert_eq!(
                out.unwrap(),
                7,
                "{flavour}: abort after completion lost the output"
            );
        }
    });
}

#[test]
fn is_finished_follows_completion() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            rt.block_on(async {
                let (go_tx, go_rx) = oneshot::channel::<()>();
                let handle = perf_runtime::spawn(async move { go_rx.await.is_ok() });
                assert!(
                    !handle.is_finished(),
                    "{flavour}: finished before its input"
                );
                go_tx.send(()).unwrap();
                let mut spins = 0;
                while !handle.is_finished() {
                    spins += 1;
                    assert!(spins < 1_000_000, "{flavour}: the task never finished");
                    task::yield_now().await;
                }
                assert!(handle.await.unwrap(), "{flavour}");
            });
        }
    });
}

#[test]
fn task_id_matches_the_handle_and_the_join_error() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            rt.block_on(async {
                assert_eq!(
                    task::try_id(),
                    None,
                    "{flavour}: block_on's own future is not a task"
                );
                let a = perf_runtime::spawn(async { (task::id(), task::try_id()) });
                let b = perf_runtime::spawn(async { task::id() });
                let (a_id, b_id) = (a.id(), b.id());
                assert_ne!(a_id, b_id, "{flavour}: two tasks share an id");
                let (inside, try_inside) = a.await.unwrap();
                assert_eq!(inside, a_id, "{flavour}: task::id() inside the task");
                assert_eq!(try_inside, Some(a_id), "{flavour}: task::try_id() inside");
                assert_eq!(b.await.unwrap(), b_id, "{flavour}");

                let p = perf_runtime::spawn(async { panic!("id check") });
                let p_id = p.id();
                assert_eq!(p.await.unwrap_err().id(), p_id, "{flavour}: JoinError::id");
            });
        }
    });
}

#[test]
fn try_id_is_none_outside_tasks() {
    assert_eq!(task::try_id(), None);
    let r = catch_unwind(task::id);
    let msg = panic_message(&*r.expect_err("task::id() outside a task did not panic"));
    assert!(msg.contains("outside of a task"), "{msg}");
}

#[test]
fn a_panicking_task_is_isolated_and_the_runtime_keeps_working() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            rt.block_on(async {
                // A runtime value, so the payload is a formatted `String`
                // (a constant message would be folded into a `&str`).
                let n = std::hint::black_box(7);
                let string = perf_runtime::spawn(async move {
                    if n == 7 {
                        panic!("boom {n}");
                    }
                });
                let err = string.await.unwrap_err();
                assert!(err.is_panic(), "{flavour}: {err:?}");
                assert!(!err.is_cancelled(), "{flavour}");
                assert!(
                    err.to_string().contains("boom 7"),
                    "{flavour}: Display {err}"
                );
                let payload = err.into_panic();
                assert_eq!(
                    payload.downcast_ref::<String>().map(String::as_str),
                    Some("boom 7"),
                    "{flavour}: the formatted payload"
                );

                let literal = perf_runtime::spawn(async { panic!("static boom") });
                let payload = literal.await.unwrap_err().into_panic();
                assert_eq!(
                    payload.downcast_ref::<&'static str>(),
                    Some(&"static boom"),
                    "{flavour}: the literal payload"
                );
            });
            // The workers survived: plenty of tasks still run to completion.
            let sum = rt.block_on(async {
                let handles: Vec<_> = (0..100u64)
                    .map(|i| perf_runtime::spawn(async move { i }))
                    .collect();
                let mut sum = 0;
                for h in handles {
                    sum += h.await.unwrap();
                }
                sum
            });
            assert_eq!(sum, 4950, "{flavour}: tasks after the panics");
        }
    });
}

#[test]
fn a_panicking_drop_in_a_task_is_a_panic_error() {
    within(|| {
        struct PanicOnDrop;
        impl Drop for PanicOnDrop {
            fn drop(&mut self) {
                panic!("drop boom");
            }
        }
        for (flavour, rt) in both_flavours() {
            let err = rt
                .block_on(rt.spawn(async {
                    let _p = PanicOnDrop;
                    1
                }))
                .unwrap_err();
            assert!(err.is_panic(), "{flavour}: {err:?}");
            assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1, "{flavour}");
        }
    });
}

#[test]
fn yield_now_lets_the_other_task_run_on_current_thread() {
    within(|| {
        let rt = current_thread();
        let log = Arc::new(Mutex::new(Vec::new()));
        rt.block_on(async {
            let task = |name: &'static str| {
                let log = log.clone();
                perf_runtime::spawn(async move {
                    log.lock().unwrap().push(format!("{name}1"));
                    task::yield_now().await;
                    log.lock().unwrap().push(format!("{name}2"));
                })
            };
            let a = task("a");
            let b = task("b");
            a.await.unwrap();
            b.await.unwrap();
        });
        assert_eq!(*log.lock().unwrap(), ["a1", "b1", "a2", "b2"]);
    });
}

#[test]
fn dropping_a_join_handle_detaches_the_task() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let (go_tx, go_rx) = oneshot::channel::<u32>();
            let (done_tx, done_rx) = oneshot::channel::<u32>();
            let out = rt.block_on(async move {
                let handle = perf_runtime::spawn(async move {
                    let v = go_rx.await.unwrap();
                    done_tx.send(v + 1).unwrap();
                });
                drop(handle);
                go_tx.send(41).unwrap();
                done_rx.await
            });
            assert_eq!(
                out,
                Ok(42),
                "{flavour}: a detached task did not run to completion"
            );
        }
    });
}

#[test]
fn ten_thousand_tasks_all_complete() {
    within(|| {
        const N: u64 = 10_000;
        for (flavour, rt) in both_flavours() {
            let ran = Arc::new(AtomicUsize::new(0));
            let sum = rt.block_on(async {
                let handles: Vec<_> = (0..N)
                    .map(|i| {
                        let ran = ran.clone();
                        perf_runtime::spawn(async move {
                            ran.fetch_add(1, SeqCst);
                            i
                        })
                    })
                    .collect();
                let mut sum = 0;
                for h in handles {
                    sum += h.await.unwrap();
                }
                sum
            });
            assert_eq!(sum, N * (N - 1) / 2, "{flavour}");
            assert_eq!(ran.load(SeqCst), N as usize, "{flavour}");
        }
    });
}

#[test]
fn task_builder_and_spawn_with_spawn_every_class() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            rt.block_on(async {
                for qos in Qos::ALL {
                    let named = task::Builder::new()
                        .name("builder-task")
                        .qos(qos)
                        .spawn(async move { (qos, task::try_id().is_some()) })
                        .expect("Builder::spawn");
                    assert_eq!(named.await.unwrap(), (qos, true), "{flavour}: {qos}");
                    let with = perf_runtime::spawn_with(qos, async move { qos });
                    assert_eq!(with.await.unwrap(), qos, "{flavour}: spawn_with({qos})");
                }
                let blocking = task::Builder::new()
                    .name("builder-blocking")
                    .qos(Qos::Batch)
                    .spawn_blocking(|| 5)
                    .expect("Builder::spawn_blocking");
                assert_eq!(blocking.await.unwrap(), 5, "{flavour}");
            });
            // `spawn_on` needs no runtime context on the calling thread.
            let h = task::Builder::new()
                .qos(Qos::Critical)
                .spawn_on(async { 9 }, rt.handle())
                .unwrap();
            assert_eq!(rt.block_on(h).unwrap(), 9, "{flavour}: spawn_on");
        }
    });
}

#[test]
fn block_in_place_lets_other_tasks_run_meanwhile() {
    within(|| {
        // One worker: the partner task can only run if block_in_place really
        // handed this worker's queue to another thread.
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let meeting = Arc::new(Rendezvous::new());
        let m = meeting.clone();
        let out = rt.block_on(async move {
            perf_runtime::spawn(async move {
                let m2 = m.clone();
                // Queued on this worker's local queue, behind us.
                let partner = perf_runtime::spawn(async move { m2.meet(2) });
                let met = task::block_in_place(|| m.meet(2));
                (met, partner.await.unwrap())
            })
            .await
            .unwrap()
        });
        assert_eq!(
            out,
            (true, true),
            "the partner task did not run while the closure blocked in block_in_place"
        );
    });
}

#[test]
fn block_in_place_with_two_workers_returns_the_closure_value() {
    within(|| {
        let rt = multi_thread();
        let meeting = Arc::new(Rendezvous::new());
        let (m1, m2) = (meeting.clone(), meeting.clone());
        let out = rt.block_on(async move {
            let blocker =
                perf_runtime::spawn(async move { task::block_in_place(move || (m1.meet(2), 17)) });
            let other = perf_runtime::spawn(async move { m2.meet(2) });
            (blocker.await.unwrap(), other.await.unwrap())
        });
        assert_eq!(out, ((true, 17), true));
        // The runtime still runs tasks after the hand-off.
        assert_eq!(rt.block_on(rt.spawn(async { 3 })).unwrap(), 3);
    });
}

#[test]
fn block_in_place_outside_a_runtime_just_runs() {
    assert_eq!(task::block_in_place(|| 11), 11);
}

#[test]
fn block_in_place_on_current_thread_panics_naming_current_thread() {
    within(|| {
        let rt = current_thread();
        let res = rt.block_on(async { catch_unwind(|| task::block_in_place(|| ())) });
        let msg = panic_message(&*res.expect_err("block_in_place on current_thread returned"));
        assert!(msg.contains("current_thread"), "message: {msg}");

        // From a task, the panic becomes the task's JoinError.
        let err = rt
            .block_on(rt.spawn(async { task::block_in_place(|| ()) }))
            .unwrap_err();
        assert!(err.is_panic(), "{err:?}");
        let msg = panic_message(&*err.into_panic());
        assert!(msg.contains("current_thread"), "message: {msg}");
    });
}

#[test]
fn block_on_inside_a_task_panics_with_a_clear_message() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let own = rt.handle().clone();
            let err = rt
                .block_on(rt.spawn(async move { own.block_on(async { 1 }) }))
                .unwrap_err();
            assert!(err.is_panic(), "{flavour}: {err:?}");
            let msg = panic_message(&*err.into_panic());
            assert!(
                msg.contains("cannot block_on inside"),
                "{flavour}: Handle::block_on of its own runtime: {msg}"
            );

            // Another runtime's block_on is refused too: it would still block
            // this worker.
            let other = Arc::new(current_thread());
            let o = other.clone();
            let err = rt
                .block_on(rt.spawn(async move { o.block_on(async { 1 }) }))
                .unwrap_err();
            let msg = panic_message(&*err.into_panic());
            assert!(
                msg.contains("cannot block_on inside"),
                "{flavour}: Runtime::block_on of another runtime: {msg}"
            );
            // And the runtime keeps working.
            assert_eq!(rt.block_on(rt.spawn(async { 2 })).unwrap(), 2, "{flavour}");
            drop(other);
        }
    });
}

#[test]
fn block_on_inside_block_on_panics() {
    within(|| {
        let rt = current_thread();
        let handle: Handle = rt.handle().clone();
        let res =
            rt.block_on(async { catch_unwind(AssertUnwindSafe(|| handle.block_on(async { 1 }))) });
        let msg = panic_message(&*res.expect_err("nested block_on returned"));
        assert!(msg.contains("cannot block_on inside"), "{msg}");
    });
}
