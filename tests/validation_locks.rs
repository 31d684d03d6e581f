//! The locks report to the validation engine on real runtimes: lock-order
//! inversions between tasks (reported without a deadlock happening), a
//! guard that moves between workers with its task, double locks, recursive
//! reads, hierarchy levels, declared nesting, actual deadlocks (async and
//! thread locks, semaphores), the modes, and cancellation leaving nothing
//! behind. Each report is checked for its kind, its sites and its tasks.

mod validation_support;

use perf_runtime::sync::{blocking, Barrier, Mutex, RwLock, Semaphore};
use perf_runtime::task;
use perf_runtime::time::timeout;
use perf_runtime::validation::{self, Level, LockClass, Mode, Nesting, ViolationKind::*};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Waker};
use std::thread;
use std::time::{Duration, Instant};
use validation_support::*;

const FILE: &str = file!();
const SRC: &str = include_str!("validation_locks.rs");

fn at(marker: &str) -> u32 {
    line_of(SRC, marker)
}

#[test]
fn ab_ba_between_two_tasks_is_reported_without_deadlocking() {
    let _s = serial();
    within(|| {
        let rt = multi(Mode::Report);
        let a = Arc::new(Mutex::new(0));
        let b = Arc::new(Mutex::new(0));
        let (a1, b1) = (a.clone(), b.clone());
        let (a_then, b_after) = rt.block_on(async move {
            task::Builder::new()
                .name("first")
                .spawn(async move {
                    let (_ga, a_at) = (a1.lock().await, line!());
                    let (_gb, b_at) = (b1.lock().await, line!());
                    (a_at, b_at)
                })
                .unwrap()
                .await
                .unwrap()
        });
        let (b1, a1) = (b.clone(), a.clone());
        let (b_then, a_after) = rt.block_on(async move {
            task::Builder::new()
                .name("second")
                .spawn(async move {
                    let (_gb, b_at) = (b1.lock().await, line!());
                    let (_ga, a_at) = (a1.lock().await, line!());
                    (b_at, a_at)
                })
                .unwrap()
                .await
                .unwrap()
        });
        // Both tasks finished: nothing deadlocked, yet the cycle is reported.
        let v = only(
            LockOrderInversion,
            &take_at(FILE, &[a_then, b_after, b_then, a_after]),
        );
        for line in [a_then, b_after, b_then, a_after] {
            assert!(v.mentions(FILE, line), "line {line} missing from:\n{v}");
        }
        let names = names(&v);
        assert!(
            names.iter().any(|n| n == "first") && names.iter().any(|n| n == "second"),
            "both tasks are named: {names:?}\n{v}"
        );
        assert!(v.contexts().iter().all(|c| c.id().is_task()), "{v}");
        // Lock classes are the creation sites.
        assert!(v.to_string().contains("validation_locks.rs"), "{v}");
    });
}

#[test]
fn a_guard_held_across_await_stays_with_its_task_as_it_moves_between_workers() {
    let _s = serial();
    within(|| {
        let rt = multi(Mode::Report);
        let a = Arc::new(Mutex::new(()));
        let b = Arc::new(Mutex::new(()));
        let (a1, b1) = (a.clone(), b.clone());
        let (before, after, a_at, b_at) = rt.block_on(async move {
            task::Builder::new()
                .name("mover")
                .spawn(async move {
                    let (ga, a_at) = (a1.lock().await, line!());
                    let before = thread::current().id();
                    let moved = Arc::new(AtomicBool::new(false));
                    let deadline = Instant::now() + PATIENCE;
                    // Each round leaves a task behind that, if it runs on
                    // this worker, hands the worker's queue (with us in it)
                    // to another thread and blocks until we have moved.
                    while thread::current().id() == before && Instant::now() < deadline {
                        let moved = moved.clone();
                        perf_runtime::spawn(async move {
                            if thread::current().id() == before {
                                task::block_in_place(|| {
                                    while !moved.load(SeqCst) && Instant::now() < deadline {
                                        thread::yield_now();
                                    }
                                });
                            }
                        });
                        task::yield_now().await;
                    }
                    moved.store(true, SeqCst);
                    let after = thread::current().id();
                    // `a` was locked on the other thread; its guard came along.
                    let (gb, b_at) = (b1.lock().await, line!());
                    drop(gb);
                    drop(ga);
                    (before, after, a_at, b_at)
                })
                .unwrap()
                .await
                .unwrap()
        });
        assert_ne!(before, after, "the task never moved to the other worker");
        let (b1, a1) = (b.clone(), a.clone());
        let (b_then, a_after) = rt.block_on(async move {
            perf_runtime::spawn(async move {
                let (_gb, b_at) = (b1.lock().await, line!());
                let (_ga, a_at) = (a1.lock().await, line!());
                (b_at, a_at)
            })
            .await
            .unwrap()
        });
        // The order a -> b was learnt from the moved task: only possible if
        // it still held `a` after moving.
        let v = only(
            LockOrderInversion,
            &take_at(FILE, &[a_at, b_at, b_then, a_after]),
        );
        assert!(v.mentions(FILE, a_at) && v.mentions(FILE, b_at), "{v}");
        assert!(names(&v).iter().any(|n| n == "mover"), "{v}");
    });
}

#[test]
fn a_double_lock_in_one_task_panics_the_task_in_panic_mode() {
    let _s = serial();
    within(|| {
        let rt = multi(Mode::Panic);
        let res = rt.block_on(async {
            let m = Arc::new(Mutex::new(0));
            let h = perf_runtime::spawn(async move {
                let _g = m.lock().await; // @dl-first
                let _again = m.lock().await; // @dl-second
            });
            h.await
        });
        let (first, second) = (at("@dl-first"), at("@dl-second"));
        let err = res.expect_err("the second lock must not succeed");
        assert!(err.is_panic(), "{err:?}");
        let msg = panic_message(&*err.into_panic());
        assert!(msg.contains("[DoubleLock]"), "{msg}");
        assert!(msg.contains(&format!("{FILE}:{first}:")), "{msg}");
        assert!(msg.contains(&format!("{FILE}:{second}:")), "{msg}");
        // Recorded too (each violation once).
        only(DoubleLock, &take_at(FILE, &[second]));
    });
}

#[test]
fn a_double_lock_is_reported_before_it_hangs_in_report_mode() {
    let _s = serial();
    within(|| {
        let rt = multi(Mode::Report);
        let (timed_out, line) = rt
            .block_on(rt.spawn(async {
                let m = Mutex::new(0);
                let _g = m.lock().await;
                let (res, line) = (timeout(Duration::from_millis(20), m.lock()).await, line!());
                (res.is_err(), line)
            }))
            .unwrap();
        assert!(timed_out, "the second lock cannot succeed");
        let v = only(DoubleLock, &take_at(FILE, &[line]));
        assert!(v.contexts()[0].id().is_task(), "{v}");
    });
}

#[test]
fn a_read_lock_taken_again_by_its_holder_is_a_recursive_read() {
    let _s = serial();
    within(|| {
        let rt = current(Mode::Report);
        let (first, second) = rt.block_on(async {
            let l = RwLock::new(1);
            let (r1, first) = (l.read().await, line!());
            let (r2, second) = (l.read().await, line!());
            assert_eq!(*r1 + *r2, 2, "no writer queued: both reads proceed");
            (first, second)
        });
        let v = only(RecursiveRead, &take_at(FILE, &[first, second]));
        assert!(v.mentions(FILE, first) && v.mentions(FILE, second), "{v}");
    });
}

static LOW: LockClass = LockClass::new("vt-low").with_level(Level::new(10));
static HIGH: LockClass = LockClass::new("vt-high").with_level(Level::new(20));

#[test]
fn acquiring_against_the_levels_is_a_hierarchy_violation() {
    let _s = serial();
    within(|| {
        let rt = current(Mode::Report);
        let low = Arc::new(Mutex::with_class(0, &LOW));
        let high = Arc::new(RwLock::with_class(0, &HIGH));
        let ok_lines = rt.block_on(async {
            let (_l, l_at) = (low.lock().await, line!());
            let (_h, h_at) = (high.write().await, line!());
            [l_at, h_at]
        });
        assert!(
            take_at(FILE, &ok_lines).is_empty(),
            "increasing levels are fine"
        );
        let (high_at, low_at) = rt.block_on(async {
            let (_h, high_at) = (high.read().await, line!());
            let (_l, low_at) = (low.lock().await, line!());
            (high_at, low_at)
        });
        // (Also an inversion of the order seen above.)
        let v = only(HierarchyViolation, &take_at(FILE, &[high_at, low_at]));
        let text = v.to_string();
        assert!(
            text.contains("`vt-low`") && text.contains("`vt-high`"),
            "{v}"
        );
        assert!(
            text.contains("level 10") && text.contains("level 20"),
            "{v}"
        );
        assert!(v.mentions(FILE, high_at) && v.mentions(FILE, low_at), "{v}");
    });
}

static STRIPES: LockClass = LockClass::new("vt-stripes").nested(Nesting::ByAddress);

#[test]
fn a_class_nested_by_address_is_not_reported_in_address_order() {
    let _s = serial();
    within(|| {
        let rt = current(Mode::Report);
        let (ordered, reversed) = rt.block_on(async {
            // One allocation: addresses increase with the index.
            let stripes: Vec<Mutex<u32>> = (0..3).map(|_| Mutex::with_class(0, &STRIPES)).collect();
            let ordered = {
                let (_g0, l0) = (stripes[0].lock().await, line!());
                let (_g1, l1) = (stripes[1].lock().await, line!());
                let (_g2, l2) = (stripes[2].lock().await, line!());
                [l0, l1, l2]
            };
            let reversed = {
                let (_g2, l2) = (stripes[2].lock().await, line!());
                let (_g0, l0) = (stripes[0].lock().await, line!());
                [l2, l0]
            };
            (ordered, reversed)
        });
        assert!(
            take_at(FILE, &ordered).is_empty(),
            "ordered nesting is fine"
        );
        let v = only(HierarchyViolation, &take_at(FILE, &reversed));
        assert!(v.to_string().contains("increasing address order"), "{v}");
    });
}

/// Locks made at one site are one class; nesting two of them is fine as
/// long as the instances are always taken in one order (by index here),
/// and reported once the order inverts.
#[test]
fn locks_of_one_site_class_are_ordered_by_instance() {
    let _s = serial();
    within(|| {
        let rt = current(Mode::Report);
        let (consistent, inverted) = rt.block_on(async {
            let pair: Vec<Mutex<u32>> = (0..2).map(|_| Mutex::new(0)).collect();
            let mut consistent = Vec::new();
            for _ in 0..3 {
                let (_g0, first) = (pair[0].lock().await, line!());
                let (_g1, second) = (pair[1].lock().await, line!());
                consistent = vec![first, second];
            }
            let (_g1, first) = (pair[1].lock().await, line!());
            let (_g0, second) = (pair[0].lock().await, line!());
            (consistent, [first, second])
        });
        let v = only(LockOrderInversion, &take_at(FILE, &inverted));
        for l in consistent.iter().chain(&inverted) {
            assert!(
                v.mentions(FILE, *l),
                "both orders are named (line {l}): {v}"
            );
        }
        assert!(
            v.to_string().contains("Nesting::ByAddress"),
            "the advice says how to declare it: {v}"
        );
        assert!(take_at(FILE, &consistent).is_empty());
    });
}

#[test]
fn a_lock_taken_with_try_lock_orders_the_locks_taken_under_it() {
    let _s = serial();
    within(|| {
        let rt = current(Mode::Report);
        let lines = rt.block_on(async {
            let a = Mutex::new(());
            let b = Mutex::new(());
            let first = {
                let (_ga, a_at) = (a.try_lock().unwrap(), line!());
                let (_gb, b_at) = (b.lock().await, line!());
                [a_at, b_at]
            };
            let (_gb, b_at) = (b.lock().await, line!());
            let (_ga, a_at) = (a.lock().await, line!());
            [first[0], first[1], b_at, a_at]
        });
        let v = only(LockOrderInversion, &take_at(FILE, &lines));
        assert!(v.mentions(FILE, lines[0]), "the try site: {v}");
    });
}

#[test]
fn two_tasks_locking_in_opposite_orders_deadlock_and_the_closing_wait_reports_it() {
    let _s = serial();
    within(|| {
        let rt = multi(Mode::Report);
        let a = Arc::new(Mutex::new(()));
        let b = Arc::new(Mutex::new(()));
        let both_hold = Arc::new(Barrier::new(2));
        let (a1, b1, bar) = (a.clone(), b.clone(), both_hold.clone());
        let _left = rt.spawn(async move {
            task::Builder::new()
                .name("left")
                .spawn(async move {
                    let _ga = a1.lock().await; // @left-a
                    bar.wait().await;
                    let _gb = b1.lock().await; // @left-b
                })
                .unwrap()
                .await
        });
        let (a1, b1, bar) = (a.clone(), b.clone(), both_hold.clone());
        let _right = rt.spawn(async move {
            task::Builder::new()
                .name("right")
                .spawn(async move {
                    let _gb = b1.lock().await; // @right-b
                    bar.wait().await;
                    let _ga = a1.lock().await; // @right-a
                })
                .unwrap()
                .await
        });
        let lines = ["@left-a", "@left-b", "@right-b", "@right-a"].map(at);
        // Both tasks stay stuck; the report comes when the second wait
        // starts. (The inversion is reported too, at the acquisition.)
        let mut reports = await_report(Deadlock, FILE, lines[1]);
        reports.extend(take_at(FILE, &lines));
        let v = only(Deadlock, &reports);
        for l in lines {
            assert!(v.mentions(FILE, l), "line {l}: {v}");
        }
        let names = names(&v);
        assert!(
            names.contains(&"left".into()) && names.contains(&"right".into()),
            "{v}"
        );
        assert!(v.unsafe_scenario().is_some(), "{v}");
        // Dropping the runtime cancels both lock futures.
        drop(rt);
    });
}

#[test]
fn a_task_holding_a_permit_and_one_holding_a_lock_deadlock_over_each_other() {
    let _s = serial();
    within(|| {
        let rt = multi(Mode::Report);
        let sem = Arc::new(Semaphore::new(1));
        let m = Arc::new(Mutex::new(()));
        let both_hold = Arc::new(Barrier::new(2));
        let (s1, m1, bar) = (sem.clone(), m.clone(), both_hold.clone());
        rt.spawn(async move {
            let _p = s1.acquire().await.unwrap();
            bar.wait().await;
            let _g = m1.lock().await; // @sem-lock
        });
        let (s1, m1, bar) = (sem.clone(), m.clone(), both_hold.clone());
        rt.spawn(async move {
            let _g = m1.lock().await;
            bar.wait().await;
            let _p = s1.acquire().await.unwrap(); // @sem-acquire
        });
        let (lock_at, acquire_at) = (at("@sem-lock"), at("@sem-acquire"));
        let mut reports = await_report(Deadlock, FILE, lock_at);
        reports.extend(take_at(FILE, &[acquire_at]));
        let v = only(Deadlock, &reports);
        assert!(
            v.mentions(FILE, lock_at) && v.mentions(FILE, acquire_at),
            "{v}"
        );
        assert!(v.to_string().contains("permit"), "{v}");
        drop(rt);
    });
}

#[test]
fn a_thread_receiving_under_a_thread_lock_deadlocks_with_its_sender_and_one_panics() {
    let _s = serial();
    within(|| {
        let m = Arc::new(blocking::Mutex::new(()));
        let (tx, mut rx) = perf_runtime::sync::mpsc::channel::<u32>(4);
        let both_ready = Arc::new(std::sync::Barrier::new(2));
        let (m1, bar) = (m.clone(), both_ready.clone());
        let receiver = thread::Builder::new()
            .name("receiver".into())
            .spawn(move || {
                validation::set_thread_mode(Some(Mode::Panic));
                let _g = m1.lock(); // @th-hold
                bar.wait();
                assert_eq!(rx.blocking_recv(), Some(0));
                rx.blocking_recv() // @th-recv
            })
            .unwrap();
        let (m1, bar) = (m.clone(), both_ready.clone());
        let sender = thread::Builder::new()
            .name("sender".into())
            .spawn(move || {
                validation::set_thread_mode(Some(Mode::Panic));
                tx.blocking_send(0).unwrap(); // @th-send
                bar.wait();
                let _g = m1.lock(); // @th-lock
                drop(tx);
            })
            .unwrap();
        // The thread whose wait closes the cycle panics; its unwinding frees
        // the other (the lock is released, or the last sender dropped).
        let outcomes = [receiver.join().map(|_| ()), sender.join()];
        let panics: Vec<String> = outcomes
            .into_iter()
            .filter_map(|r| r.err().map(|p| panic_message(&*p)))
            .collect();
        assert_eq!(panics.len(), 1, "one wait closes the cycle: {panics:?}");
        let msg = &panics[0];
        assert!(msg.contains("[Deadlock]"), "{msg}");
        for marker in ["@th-hold", "@th-recv", "@th-send", "@th-lock"] {
            assert!(
                msg.contains(&format!("{FILE}:{}:", at(marker))),
                "{marker}: {msg}"
            );
        }
        assert!(msg.contains("thread \"receiver\"") && msg.contains("thread \"sender\""));
        take_at(FILE, &[at("@th-recv"), at("@th-lock")]);
    });
}

#[test]
fn thread_locks_taken_in_opposite_orders_are_an_inversion() {
    let _s = serial();
    within(|| {
        let a = blocking::Mutex::new(());
        let b = blocking::Mutex::new(());
        let lines = thread::scope(|s| {
            let first = s
                .spawn(|| {
                    let (_ga, a_at) = (a.lock(), line!());
                    let (_gb, b_at) = (b.lock(), line!());
                    [a_at, b_at]
                })
                .join()
                .unwrap();
            let second = s
                .spawn(|| {
                    let (_gb, b_at) = (b.lock(), line!());
                    let (_ga, a_at) = (a.lock(), line!());
                    [b_at, a_at]
                })
                .join()
                .unwrap();
            [first[0], first[1], second[0], second[1]]
        });
        let v = only(LockOrderInversion, &take_at(FILE, &lines));
        assert!(lines.iter().all(|&l| v.mentions(FILE, l)), "{v}");
    });
}

#[test]
fn mode_off_tracks_nothing() {
    let _s = serial();
    within(|| {
        let rt = multi(Mode::Off);
        let lines = rt.block_on(async {
            let a = Arc::new(Mutex::new(()));
            let b = Arc::new(Mutex::new(()));
            let l = RwLock::new(());
            let mut lines = Vec::new();
            {
                let (_ga, x) = (a.lock().await, line!());
                let (_gb, y) = (b.lock().await, line!());
                lines.extend([x, y]);
            }
            {
                let (_gb, x) = (b.lock().await, line!());
                let (_ga, y) = (a.lock().await, line!());
                let (res, z) = (timeout(Duration::from_millis(5), a.lock()).await, line!());
                assert!(res.is_err());
                lines.extend([x, y, z]);
            }
            let (_r1, x) = (l.read().await, line!());
            let (_r2, y) = (l.read().await, line!());
            lines.extend([x, y]);
            lines
        });
        assert!(take_at(FILE, &lines).is_empty(), "Off reports nothing");
        assert_eq!(validation::stats().active_waits, 0);
    });
}

#[test]
fn a_dropped_lock_future_leaves_no_wait_and_no_hold_behind() {
    let _s = serial();
    within(|| {
        let m = Arc::new(Mutex::new(0));
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let m1 = m.clone();
        let holder = thread::spawn(move || {
            let _g = m1.blocking_lock();
            locked_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        });
        locked_rx.recv().unwrap();
        let waits_before = validation::stats().active_waits;
        {
            let mut fut = pin!(m.lock());
            let mut cx = Context::from_waker(Waker::noop());
            assert!(fut.as_mut().poll(&mut cx).is_pending());
            assert_eq!(
                validation::stats().active_waits,
                waits_before + 1,
                "a queued lock() registers its wait"
            );
        }
        assert_eq!(
            validation::stats().active_waits,
            waits_before,
            "dropping it ends the wait"
        );
        release_tx.send(()).unwrap();
        holder.join().unwrap();
        // Had the dropped future left its hold on this thread, this would be
        // a double lock.
        let (g, line) = (m.blocking_lock(), line!());
        drop(g);
        assert!(take_at(FILE, &[line]).is_empty());
    });
}

// ---- PERF_RUNTIME_VALIDATION -----------------------------------------------
//
// The variable is read by `Builder::build` and the mode is process-wide, so
// each case runs in a child process (`run_child_probe`).

/// Runs the child with `PERF_RUNTIME_VALIDATION` set to `value` (removed if
/// `None`) and returns its result line: `built <in a task> <on a thread>`
/// (inversions reported in a runtime task, and on plain threads outside any
/// runtime), or `err <message>`.
fn env_child(value: Option<&str>) -> String {
    run_child_probe("validation_env_child", &[(validation::ENV_VAR, value)])
}

/// Takes `a` then `b` on one thread, then `b` then `a` on another: one
/// lock-order inversion, if the calling threads' mode records it.
fn invert_on_threads(a: &blocking::Mutex<()>, b: &blocking::Mutex<()>) {
    thread::scope(|s| {
        s.spawn(|| {
            let _ga = a.lock();
            let _gb = b.lock();
        })
        .join()
        .unwrap();
        s.spawn(|| {
            let _gb = b.lock();
            let _ga = a.lock();
        })
        .join()
        .unwrap();
    });
}

#[test]
#[ignore = "helper: run in a child process by the PERF_RUNTIME_VALIDATION tests"]
fn validation_env_child() {
    if !in_child_probe() {
        return;
    }
    // The builder asks for Report; the variable, when set, decides.
    let rt = match perf_runtime::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .validation(Mode::Report)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            child_result(&format!("err {e}"));
            return;
        }
    };
    let in_task = rt.block_on(async {
        task::spawn(async {
            let a = Mutex::new(());
            let b = Mutex::new(());
            {
                let _ga = a.lock().await;
                let _gb = b.lock().await;
            }
            let _gb = b.lock().await;
            let _ga = a.lock().await;
        })
        .await
        .unwrap();
        validation::take_reports().len()
    });
    invert_on_threads(&blocking::Mutex::new(()), &blocking::Mutex::new(()));
    let on_threads = validation::take_reports().len();
    child_result(&format!("built {in_task} {on_threads}"));
}

#[test]
fn the_validation_variable_sets_the_mode_of_runtime_and_other_threads() {
    assert_eq!(
        env_child(None),
        "built 1 1",
        "unset: the builder's Report, and the process default (Report) outside"
    );
    assert_eq!(
        env_child(Some("off")),
        "built 0 0",
        "off: nothing recorded in the runtime's tasks nor on plain threads"
    );
    assert_eq!(env_child(Some(" Report ")), "built 1 1");
    let err = env_child(Some("sometimes"));
    assert!(
        err.starts_with("err ")
            && err.contains("PERF_RUNTIME_VALIDATION")
            && err.contains("sometimes"),
        "a bad value fails the build, naming the variable and the value: {err}"
    );
}
