//! Waits outside the lock graph report to the validation engine on real
//! runtimes: a `Notify` nobody notifies, a `Barrier` short of parties, a
//! `watch` nobody sends to and a `Semaphore` nobody releases are
//! `WaitStall`s once every task of the runtime is blocked for the stall
//! threshold (named by the site of the wait and of the primitive's
//! creation); a wait that is only long — its waker sleeps on a timer, holds
//! the permit through a long job — is a slow-wait advisory, never a report;
//! waits under `time::timeout` are neither; a finished or dropped wait
//! leaves nothing behind.

mod validation_support;

use perf_runtime::sync::{watch, Barrier, Mutex, Notify, Semaphore};
use perf_runtime::time::timeout;
use perf_runtime::validation::{self, Mode, ViolationKind::*};
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use validation_support::*;

const FILE: &str = file!();
const SRC: &str = include_str!("validation_waits.rs");

fn at(marker: &str) -> u32 {
    line_of(SRC, marker)
}

/// Asks the engine for slow waits as if an hour had passed: every wait
/// still registered and not bounded by a timeout (and not seen slow
/// before) is returned, and none is reported.
fn scan_an_hour_later() -> Vec<validation::SlowWait> {
    validation::scan(Instant::now() + Duration::from_secs(3600))
}

#[test]
fn a_notify_no_task_can_notify_is_reported_once_every_task_is_blocked() {
    let _s = serial();
    within(|| {
        let rt = stalling();
        let notify = Arc::new(Notify::new()); // @notify-new
        let n = notify.clone();
        let h = rt.spawn(async move {
            n.notified().await; // @notify-wait
        });
        let v = only(
            WaitStall,
            &await_report(WaitStall, FILE, at("@notify-wait")),
        );
        assert!(v.mentions(FILE, at("@notify-new")), "{v}");
        assert!(
            v.to_string().contains("`Notify@validation_waits.rs:"),
            "{v}"
        );
        notify.notify_one();
        rt.block_on(h).unwrap();
    });
}

#[test]
fn a_barrier_short_of_parties_is_reported_once_every_task_is_blocked() {
    let _s = serial();
    within(|| {
        let rt = stalling();
        let barrier = Arc::new(Barrier::new(2)); // @barrier-new
        let b = barrier.clone();
        let h = rt.spawn(async move {
            b.wait().await.is_leader() // @barrier-wait
        });
        let v = only(
            WaitStall,
            &await_report(WaitStall, FILE, at("@barrier-wait")),
        );
        assert!(v.mentions(FILE, at("@barrier-new")), "{v}");
        assert!(
            v.to_string().contains("parties"),
            "the advice names the count: {v}"
        );
        let second = rt.block_on(barrier.wait()).is_leader();
        assert!(second ^ rt.block_on(h).unwrap(), "one leader");
    });
}

#[test]
fn a_watch_receiver_no_task_sends_to_is_reported_once_every_task_is_blocked() {
    let _s = serial();
    within(|| {
        let rt = stalling();
        let (tx, mut rx) = watch::channel(0); // @watch-new
        let h = rt.spawn(async move {
            rx.changed().await.unwrap(); // @watch-wait
            *rx.borrow()
        });
        let v = only(WaitStall, &await_report(WaitStall, FILE, at("@watch-wait")));
        assert!(v.mentions(FILE, at("@watch-new")), "{v}");
        tx.send(5).unwrap();
        assert_eq!(rt.block_on(h).unwrap(), 5);
    });
}

#[test]
fn a_semaphore_no_task_releases_is_reported_once_every_task_is_blocked() {
    let _s = serial();
    within(|| {
        let rt = stalling();
        let sem = Arc::new(Semaphore::new(0)); // @sem-new
        let s = sem.clone();
        let h = rt.spawn(async move {
            s.acquire().await.unwrap().forget(); // @sem-wait
        });
        let v = only(WaitStall, &await_report(WaitStall, FILE, at("@sem-wait")));
        assert!(v.mentions(FILE, at("@sem-new")), "{v}");
        sem.add_permits(1);
        rt.block_on(h).unwrap();
    });
}

#[test]
fn a_slow_watch_wait_for_is_an_advisory_at_its_caller() {
    let _s = serial();
    within(|| {
        let rt = multi(Mode::Report);
        let (tx, mut rx) = watch::channel(0);
        let h = rt.spawn(async move {
            *rx.wait_for(|v| *v > 2).await.unwrap() // @wait-for
        });
        await_waits(1);
        let before = validation::slow_waits();
        let slow = scan_an_hour_later();
        let mine: Vec<_> = slow
            .iter()
            .filter(|w| w.site().file() == FILE && w.site().line() == at("@wait-for"))
            .collect();
        assert_eq!(mine.len(), 1, "{slow:?}");
        assert!(mine[0].what().starts_with("`watch@"), "{}", mine[0]);
        assert!(validation::slow_waits() > before, "counted");
        assert!(
            take_at(FILE, &[at("@wait-for")]).is_empty(),
            "an advisory is not a report"
        );
        tx.send(3).unwrap();
        assert_eq!(rt.block_on(h).unwrap(), 3);
    });
}

#[test]
fn waits_under_a_timeout_are_never_stalls() {
    let _s = serial();
    within(|| {
        let rt = multi(Mode::Report);
        let notify = Arc::new(Notify::new());
        let n = notify.clone();
        let h = rt.spawn(async move {
            timeout(PATIENCE * 2, n.notified()).await // @timed-wait
        });
        await_waits(1);
        let slow = scan_an_hour_later();
        assert!(
            slow.iter().all(|w| w.site().line() != at("@timed-wait")),
            "a wait the timer bounds is not even slow: {slow:?}"
        );
        assert!(
            take_at(FILE, &[at("@timed-wait")]).is_empty(),
            "a wait the timer bounds is not a stall"
        );
        notify.notify_one();
        assert!(rt.block_on(h).unwrap().is_ok());
    });
}

#[test]
fn a_deadlock_one_of_whose_waits_runs_under_a_timeout_is_not_reported() {
    let _s = serial();
    within(|| {
        let rt = multi(Mode::Report);
        let a = Arc::new(Mutex::new(()));
        let b = Arc::new(Mutex::new(()));
        let both_hold = Arc::new(Barrier::new(2));
        let (a1, b1, bar) = (a.clone(), b.clone(), both_hold.clone());
        let patient = rt.spawn(async move {
            let _ga = a1.lock().await;
            bar.wait().await;
            // Gives up (and releases `a`) when the timer fires.
            timeout(Duration::from_millis(50), b1.lock()).await.is_err() // @timed-lock
        });
        let (a1, b1, bar) = (a.clone(), b.clone(), both_hold.clone());
        let blocked = rt.spawn(async move {
            let _gb = b1.lock().await;
            bar.wait().await;
            let _ga = a1.lock().await; // @plain-lock
        });
        assert!(rt.block_on(patient).unwrap(), "the timed lock gave up");
        rt.block_on(blocked).unwrap();
        let reports = take_at(FILE, &[at("@timed-lock"), at("@plain-lock")]);
        assert!(
            reports.iter().all(|v| v.kind() != Deadlock),
            "{:#?}",
            reports.iter().map(|v| v.to_string()).collect::<Vec<_>>()
        );
        // The order was still inverted: that is reported.
        only(LockOrderInversion, &reports);
    });
}

#[test]
fn finished_and_dropped_waits_leave_nothing_behind() {
    let _s = serial();
    within(|| {
        let notify = Notify::new();
        let base = validation::stats().active_waits;
        {
            let mut fut = pin!(notify.notified()); // @dropped-wait
            let mut cx = Context::from_waker(Waker::noop());
            assert!(fut.as_mut().poll(&mut cx).is_pending());
            assert_eq!(validation::stats().active_waits, base + 1);
        }
        assert_eq!(validation::stats().active_waits, base, "dropping ends it");
        let mut fut = pin!(notify.notified()); // @done-wait
        let mut cx = Context::from_waker(Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        notify.notify_one();
        assert!(fut.as_mut().poll(&mut cx).is_ready());
        assert_eq!(validation::stats().active_waits, base, "completing ends it");
        scan_an_hour_later();
        assert!(take_at(FILE, &[at("@dropped-wait"), at("@done-wait")]).is_empty());
    });
}

#[test]
fn a_stall_is_reported_once_and_never_raised_as_a_panic() {
    let _s = serial();
    within(|| {
        // Panic mode on the runtime: a stall is found by the watchdog, off
        // the task's thread, so it is recorded but nothing panics.
        let rt = perf_runtime::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .validation(Mode::Panic)
            .stall_threshold(Duration::from_millis(50))
            .build()
            .unwrap();
        let notify = Arc::new(Notify::new());
        let n = notify.clone();
        let h = rt.spawn(async move {
            n.notified().await; // @panic-mode-wait
        });
        let reports = await_report(WaitStall, FILE, at("@panic-mode-wait"));
        only(WaitStall, &reports);
        scan_an_hour_later();
        assert!(
            take_at(FILE, &[at("@panic-mode-wait")]).is_empty(),
            "once per wait"
        );
        notify.notify_one();
        rt.block_on(h).expect("the waiting task did not panic");
    });
}

#[test]
fn mode_off_registers_no_wait() {
    let _s = serial();
    within(|| {
        let rt = multi(Mode::Off);
        let base = validation::stats().active_waits;
        let registered = rt
            .block_on(rt.spawn(async move {
                let notify = Notify::new();
                let mut wait = pin!(notify.notified()); // @off-wait
                                                        // One poll that queues it, as an `.await` would.
                let pending = poll_fn(|cx| Poll::Ready(wait.as_mut().poll(cx).is_pending())).await;
                assert!(pending);
                validation::stats().active_waits > base
            }))
            .unwrap();
        assert!(!registered, "Off registers no wait");
        scan_an_hour_later();
        assert!(take_at(FILE, &[at("@off-wait")]).is_empty());
    });
}

/// Lets `body` run until the watchdog has seen a wait slow (one more
/// slow-wait advisory than `before`), then raises `go`: whatever ends the
/// wait keeps a timer pending meanwhile, so the runtime is never idle.
fn once_slow(before: u64, go: &AtomicBool) {
    assert!(
        wait_until(PATIENCE, || validation::slow_waits() > before),
        "the watchdog never saw the wait slow"
    );
    go.store(true, SeqCst);
}

/// Sleeps on a timer until `go` is raised: a task that is alive, just not
/// done yet.
async fn sleep_until_raised(go: &AtomicBool) {
    while !go.load(SeqCst) {
        perf_runtime::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn a_notify_whose_notifier_sleeps_on_a_timer_is_slow_not_stuck() {
    let _s = serial();
    within(|| {
        let rt = stalling();
        let notify = Arc::new(Notify::new());
        let go = Arc::new(AtomicBool::new(false));
        let (n, g) = (notify.clone(), go.clone());
        let notifier = rt.spawn(async move {
            sleep_until_raised(&g).await;
            n.notify_one();
        });
        let before = validation::slow_waits();
        let n = notify.clone();
        let waiter = rt.spawn(async move {
            n.notified().await; // @live-notify
        });
        once_slow(before, &go);
        rt.block_on(waiter).unwrap();
        rt.block_on(notifier).unwrap();
        assert!(take_at(FILE, &[at("@live-notify")]).is_empty());
    });
}

/// A 1-permit semaphore serving a queue: the waiters at the back wait long
/// while permits keep being granted. Slow, not stuck.
#[test]
fn a_semaphore_queue_behind_a_long_job_is_slow_not_stuck() {
    let _s = serial();
    within(|| {
        let rt = stalling();
        let sem = Arc::new(Semaphore::new(1));
        let go = Arc::new(AtomicBool::new(false));
        let before = validation::slow_waits();
        let mut jobs = Vec::new();
        for _ in 0..4 {
            let (s, g) = (sem.clone(), go.clone());
            jobs.push(rt.spawn(async move {
                let _permit = s.acquire().await.unwrap(); // @queued-job
                sleep_until_raised(&g).await;
            }));
        }
        once_slow(before, &go);
        for j in jobs {
            rt.block_on(j).unwrap();
        }
        assert!(take_at(FILE, &[at("@queued-job")]).is_empty());
    });
}

/// A config reload through `watch` that comes after the threshold.
#[test]
fn a_watch_receiver_waiting_for_a_late_reload_is_slow_not_stuck() {
    let _s = serial();
    within(|| {
        let rt = stalling();
        let (tx, mut rx) = watch::channel(0);
        let go = Arc::new(AtomicBool::new(false));
        let g = go.clone();
        let reloader = rt.spawn(async move {
            sleep_until_raised(&g).await;
            tx.send(1).unwrap();
        });
        let before = validation::slow_waits();
        let reader = rt.spawn(async move {
            rx.changed().await.unwrap(); // @late-reload
            *rx.borrow()
        });
        once_slow(before, &go);
        assert_eq!(rt.block_on(reader).unwrap(), 1);
        rt.block_on(reloader).unwrap();
        assert!(take_at(FILE, &[at("@late-reload")]).is_empty());
    });
}

/// A `Barrier` whose last party arrives after a timer.
#[test]
fn a_barrier_whose_last_party_is_late_is_slow_not_stuck() {
    let _s = serial();
    within(|| {
        let rt = stalling();
        let barrier = Arc::new(Barrier::new(2));
        let go = Arc::new(AtomicBool::new(false));
        let (b, g) = (barrier.clone(), go.clone());
        let late = rt.spawn(async move {
            sleep_until_raised(&g).await;
            b.wait().await.is_leader()
        });
        let before = validation::slow_waits();
        let b = barrier.clone();
        let early = rt.spawn(async move {
            b.wait().await.is_leader() // @early-party
        });
        once_slow(before, &go);
        let leaders = [rt.block_on(early).unwrap(), rt.block_on(late).unwrap()];
        assert_eq!(leaders.iter().filter(|l| **l).count(), 1);
        assert!(take_at(FILE, &[at("@early-party")]).is_empty());
    });
}

// ---- JoinSet::join_next ----------------------------------------------------
//
// `join_next` waits for any task of the set: each entry's handle is a join
// wait of the caller, and the caller is stuck only if every one of them is.
// The cycles go through a counted lock wait (the child holds nothing), so
// the periodic scan finds them; the tests run it themselves, twice (a cycle
// is reported when two consecutive scans see it).

/// A task holding `m` awaits `join_next` on a set whose tasks need `m`,
/// plus (in the twin) one task that only waits for `go`.
fn join_next_under_a_lock(with_a_live_task: bool) -> (Vec<validation::Violation>, u32) {
    let rt = multi(Mode::Report);
    let m = Arc::new(Mutex::new(0u32));
    let (go_tx, go_rx) = perf_runtime::sync::oneshot::channel::<()>();
    let waits_before = validation::stats().active_waits;
    let m1 = m.clone();
    let parent = rt.spawn(async move {
        let mut set = perf_runtime::task::JoinSet::new();
        let mut g = m1.lock().await;
        let m2 = m1.clone();
        set.spawn(async move {
            *m2.lock().await += 1; // @set-child-waits
        });
        if with_a_live_task {
            set.spawn(async move {
                go_rx.await.unwrap();
            });
        } else {
            drop(go_rx);
        }
        set.join_next().await.unwrap().unwrap();
        // The live task finished first: release `m` before the next join.
        *g += 10;
        drop(g);
        set.join_next().await.unwrap().unwrap();
        *m1.lock().await
    });
    // The parent's join waits and the child's lock wait (and the live
    // task's oneshot receive) are registered.
    await_waits(waits_before + if with_a_live_task { 4 } else { 2 });
    for _ in 0..2 {
        validation::scan(Instant::now());
    }
    let reports = take_at(FILE, &[at("@set-child-waits")]);
    if with_a_live_task {
        go_tx.send(()).unwrap();
        (reports, rt.block_on(parent).unwrap())
    } else {
        // A real deadlock: break it by hand.
        parent.abort();
        assert!(rt.block_on(parent).unwrap_err().is_cancelled());
        (reports, rt.block_on(async move { *m.lock().await }))
    }
}

#[test]
fn join_next_on_a_set_whose_only_task_needs_the_callers_lock_is_a_deadlock() {
    let _s = serial();
    within(|| {
        let (reports, value) = join_next_under_a_lock(false);
        let v = only(Deadlock, &reports);
        assert!(v.summary().contains("JoinHandle"), "{v}");
        // Aborting the parent dropped its set, which aborted the child:
        // `m` is free again and was never incremented.
        assert_eq!(value, 0);
    });
}

#[test]
fn join_next_while_another_task_of_the_set_can_finish_is_no_deadlock() {
    let _s = serial();
    within(|| {
        let (reports, value) = join_next_under_a_lock(true);
        assert!(reports.is_empty(), "{reports:?}");
        assert_eq!(value, 11);
    });
}

// ---- Owned permits ---------------------------------------------------------
//
// An `OwnedSemaphorePermit` is recorded as held by the task that acquired
// it, for the wait-for graph only: a cycle through one is reported once
// two consecutive scans agree, and the permit handed to another task never
// makes its acquirer look stuck on its own semaphore.

/// Scans until a report of `kind` mentions `line` (at most [`PATIENCE`]).
fn scan_until(kind: validation::ViolationKind, line: u32) -> Vec<validation::Violation> {
    let mut got = Vec::new();
    let found = wait_until(PATIENCE, || {
        validation::scan(Instant::now());
        got.extend(take_at(FILE, &[line]));
        got.iter().any(|v| v.kind() == kind)
    });
    assert!(found, "no {kind:?} report at line {line}: {got:?}");
    got
}

#[test]
fn owned_permits_taken_in_opposite_orders_are_a_deadlock_whatever_else_runs() {
    let _s = serial();
    within(|| {
        let rt = multi(Mode::Report);
        let waits_before = validation::stats().active_waits;
        let a = Arc::new(Semaphore::new(1));
        let b = Arc::new(Semaphore::new(1));
        // Each task takes its first permit before either asks for its
        // second: the test thread hands out the go-ahead.
        let (took_tx, took_rx) = std::sync::mpsc::channel::<()>();
        let spawn = |first: Arc<Semaphore>, second: Arc<Semaphore>| {
            let took = took_tx.clone();
            let (go_tx, go_rx) = perf_runtime::sync::oneshot::channel::<()>();
            let task = rt.spawn(async move {
                let p1 = first.try_acquire_owned().unwrap();
                took.send(()).unwrap();
                go_rx.await.unwrap();
                let p2 = second.acquire_owned().await.unwrap(); // @owned-second
                drop((p1, p2));
            });
            (task, go_tx)
        };
        let (t1, go1) = spawn(a.clone(), b.clone());
        let (t2, go2) = spawn(b.clone(), a.clone());
        took_rx.recv().unwrap();
        took_rx.recv().unwrap();
        // A bystander keeps a worker busy: not every task is blocked.
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let bystander = rt.spawn(async move {
            while !s.load(SeqCst) {
                perf_runtime::time::sleep(Duration::from_millis(1)).await;
            }
        });
        go1.send(()).unwrap();
        go2.send(()).unwrap();
        let v = only(Deadlock, &scan_until(Deadlock, at("@owned-second")));
        assert!(v.summary().contains("permit"), "{v}");
        // Break it: the aborted tasks' permits go back. The first abort to
        // land hands its task's permit to the other task, which may then
        // finish before its own abort lands: each ends cancelled or done,
        // and at least one is cancelled.
        t1.abort();
        t2.abort();
        let ends = [rt.block_on(t1), rt.block_on(t2)];
        for end in &ends {
            assert!(
                end.as_ref().map_or_else(|e| e.is_cancelled(), |_| true),
                "{end:?}"
            );
        }
        assert!(
            ends.iter().any(|e| e.is_err()),
            "neither task was cancelled"
        );
        stop.store(true, SeqCst);
        rt.block_on(bystander).unwrap();
        assert_eq!((a.available_permits(), b.available_permits()), (1, 1));
        assert_eq!(validation::stats().active_waits, waits_before);
    });
}

#[test]
fn an_owned_permit_handed_to_another_task_never_makes_its_acquirer_stuck() {
    let _s = serial();
    within(|| {
        let rt = multi(Mode::Report);
        let waits_before = validation::stats().active_waits;
        let sem = Arc::new(Semaphore::new(1));
        let (go_tx, go_rx) = perf_runtime::sync::oneshot::channel::<()>();
        let s = sem.clone();
        let acquirer = rt.spawn(async move {
            let permit = s.clone().acquire_owned().await.unwrap();
            // The permit's holder now waits for the test's go-ahead.
            let holder = perf_runtime::spawn(async move {
                go_rx.await.unwrap();
                drop(permit);
            });
            // The acquirer waits for a permit its own record names, but
            // that it no longer holds.
            let again = s.acquire_owned().await.unwrap(); // @owned-again
            holder.await.unwrap();
            again.num_permits()
        });
        await_waits(waits_before + 2);
        for _ in 0..3 {
            validation::scan(Instant::now());
        }
        let reports = take_at(FILE, &[at("@owned-again")]);
        assert!(reports.is_empty(), "{reports:?}");
        go_tx.send(()).unwrap();
        assert_eq!(rt.block_on(acquirer).unwrap(), 1);
        assert_eq!(sem.available_permits(), 1);
    });
}
