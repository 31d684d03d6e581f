//! `runtime::Handle`: finding the current runtime, entering one, and using a
//! runtime from threads that are not its own.

mod support;
use support::*;

use futures_channel::oneshot;
use perf_runtime::runtime::{Builder, Handle, Runtime, RuntimeFlavor, TryCurrentError};
use std::panic::catch_unwind;
use std::thread;

fn both_flavours() -> [(RuntimeFlavor, Runtime); 2] {
    [
        (RuntimeFlavor::CurrentThread, current_thread()),
        (RuntimeFlavor::MultiThread, multi_thread()),
    ]
}

#[test]
fn runtime_flavor_reports_the_builder_used() {
    for (flavour, rt) in both_flavours() {
        assert_eq!(rt.handle().runtime_flavor(), flavour);
        assert_eq!(rt.handle().clone().runtime_flavor(), flavour, "a clone");
    }
}

#[test]
fn handle_current_inside_block_on_and_tasks_is_this_runtime() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let in_block_on = rt.block_on(async { Handle::current().runtime_flavor() });
            assert_eq!(in_block_on, flavour);
            let in_task = rt
                .block_on(rt.spawn(async {
                    // And it is usable: spawning through it from a task works.
                    let h = Handle::current();
                    let inner = h.spawn(async { 3 }).await.unwrap();
                    (h.runtime_flavor(), inner)
                }))
                .unwrap();
            assert_eq!(in_task, (flavour, 3));
        }
    });
}

#[test]
fn handle_current_outside_a_runtime_panics_with_advice() {
    let payload = catch_unwind(Handle::current).expect_err("Handle::current() outside returned");
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .expect("a formatted message");
    assert!(msg.contains("Handle::current()"), "message: {msg}");
    assert!(msg.contains("no perf_runtime runtime"), "message: {msg}");
    assert!(
        msg.contains("enter"),
        "the message should say how to fix it: {msg}"
    );
}

#[test]
fn try_current_outside_a_runtime_is_an_error_that_explains() {
    let err: TryCurrentError = Handle::try_current().expect_err("no runtime here");
    assert!(err.is_missing_context());
    let msg = err.to_string();
    assert!(msg.contains("no perf_runtime runtime"), "Display: {msg}");
    assert!(
        msg.contains("block_on") && msg.contains("Handle::enter"),
        "Display should name the ways in: {msg}"
    );
    // Usable as a boxed error.
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
    assert_eq!(boxed.to_string(), msg);
}

#[test]
fn enter_makes_spawn_work_outside_block_on_and_restores_on_drop() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            assert!(Handle::try_current().is_err(), "{flavour:?}: before enter");
            let task = {
                let _guard = rt.enter();
                assert_eq!(Handle::current().runtime_flavor(), flavour);
                perf_runtime::spawn(async { "spawned under enter" })
            };
            assert!(
                Handle::try_current().is_err(),
                "{flavour:?}: the guard's drop did not restore 'no runtime'"
            );
            assert_eq!(rt.block_on(task).unwrap(), "spawned under enter");
            // The Handle's own enter behaves the same.
            let h = rt.handle().clone();
            let g = h.enter();
            let blocking = perf_runtime::spawn_blocking(|| 4);
            drop(g);
            assert_eq!(rt.block_on(blocking).unwrap(), 4);
            assert!(Handle::try_current().is_err());
        }
    });
}

#[test]
fn nested_enter_guards_restore_the_outer_runtime() {
    let outer = current_thread();
    let inner = multi_thread();
    let g1 = outer.enter();
    assert_eq!(
        Handle::current().runtime_flavor(),
        RuntimeFlavor::CurrentThread
    );
    {
        let _g2 = inner.enter();
        assert_eq!(
            Handle::current().runtime_flavor(),
            RuntimeFlavor::MultiThread
        );
    }
    assert_eq!(
        Handle::current().runtime_flavor(),
        RuntimeFlavor::CurrentThread,
        "dropping the inner guard did not bring back the outer runtime"
    );
    drop(g1);
    assert!(Handle::try_current().is_err());
}

#[test]
fn handle_block_on_from_a_plain_thread() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let handle = rt.handle().clone();
            let out = thread::spawn(move || {
                handle.block_on(async {
                    let h = perf_runtime::spawn(async { 20 });
                    let flavour = Handle::current().runtime_flavor();
                    (h.await.unwrap() + 1, flavour)
                })
            })
            .join()
            .unwrap();
            assert_eq!(out, (21, flavour));
        }
    });
}

#[test]
fn handle_block_on_on_another_thread_while_the_runtime_is_driven_here() {
    within(|| {
        // On current_thread the second block_on cannot take the core while
        // this thread drives it: it must still complete, via the tasks this
        // thread runs.
        for (flavour, rt) in both_flavours() {
            let handle = rt.handle().clone();
            let (tx, rx) = oneshot::channel::<u32>();
            let (ready_tx, ready_rx) = oneshot::channel::<()>();
            let other = thread::spawn(move || {
                handle.block_on(async move {
                    let task = perf_runtime::spawn(async move {
                        ready_rx.await.unwrap();
                        5
                    });
                    let v = task.await.unwrap();
                    tx.send(v).unwrap();
                })
            });
            let got = rt.block_on(async move {
                ready_tx.send(()).unwrap();
                rx.await.unwrap()
            });
            assert_eq!(got, 5, "{flavour:?}");
            other.join().unwrap();
        }
    });
}

#[test]
fn handle_spawn_from_another_thread() {
    within(|| {
        for (flavour, rt) in both_flavours() {
            let handle = rt.handle().clone();
            let joins: Vec<_> = (0..4u32)
                .map(|i| {
                    let handle = handle.clone();
                    thread::spawn(move || {
                        assert!(Handle::try_current().is_err());
                        handle.spawn(async move { i * 10 })
                    })
                })
                .collect();
            let mut sum = 0;
            for j in joins {
                let task = j.join().unwrap();
                sum += rt.block_on(task).unwrap();
            }
            assert_eq!(sum, 60, "{flavour:?}");
        }
    });
}

#[test]
fn a_cloned_handle_reaches_the_same_runtime() {
    within(|| {
        let rt = Builder::new_multi_thread()
            .worker_threads(3)
            .build()
            .unwrap();
        let h = rt.handle().clone();
        assert_eq!(h.metrics().num_workers(), 3);
        assert_eq!(rt.metrics().num_workers(), 3);
        let (gate_tx, gate_rx) = oneshot::channel::<()>();
        let t = h.spawn(async move { gate_rx.await.is_ok() });
        assert!(rt.metrics().num_alive_tasks() >= 1, "the task is not in rt");
        gate_tx.send(()).unwrap();
        assert!(rt.block_on(t).unwrap());
    });
}

/// Issue 15: enter 1, enter 2, drop 1, drop 2 used to leave runtime 1 current
/// with no guard alive. Like tokio, the out-of-order drop panics, and it must
/// leave no stale runtime behind.
#[test]
fn enter_guards_dropped_out_of_order_panic_and_leave_no_stale_runtime() {
    within(|| {
        let rt1 = current_thread();
        let rt2 = multi_thread();
        let g1 = rt1.enter();
        let g2 = rt2.enter();
        let panic = catch_unwind(std::panic::AssertUnwindSafe(move || drop(g1)))
            .expect_err("dropping the outer EnterGuard first must panic");
        let msg = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("");
        assert!(
            msg.contains("EnterGuard") && msg.contains("reverse order"),
            "the panic should say which guards and what order is required: {msg:?}"
        );
        assert!(
            Handle::try_current().is_err(),
            "after the out-of-order drop no runtime may stay current"
        );
        drop(g2);
        assert!(
            Handle::try_current().is_err(),
            "dropping the inner guard afterwards must not bring a runtime back"
        );
        // The thread's context still works: a new guard enters and restores.
        {
            let _g = rt2.enter();
            assert_eq!(
                Handle::current().runtime_flavor(),
                RuntimeFlavor::MultiThread
            );
        }
        assert!(Handle::try_current().is_err());
    });
}
