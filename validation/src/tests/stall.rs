//! Slow waits (advisories) and stuck waits (reports), driven with a clock
//! handed in (no sleeping).

use super::{serial, take, take_kind, FakeTask};
use crate::{
    report_all_tasks_blocked, scan, set_stall_threshold, slow_waits, stall_threshold,
    take_reports_matching, timed_scope, Access::*, BlockedTask, ChannelKind, ChannelMeta, LockKind,
    LockMeta, ViolationKind, WaitKind, WaitMeta, DEFAULT_STALL_THRESHOLD,
};
use std::time::{Duration, Instant};

const LATER: Duration = Duration::from_secs(10);

/// What the runtime hands in when it finds `tasks` blocked with nothing
/// runnable.
fn all_blocked(tasks: &[&FakeTask]) {
    let blocked: Vec<BlockedTask> = tasks
        .iter()
        .map(|t| BlockedTask {
            id: t.id(),
            name: None,
            spawned_at: None,
        })
        .collect();
    if let Some(v) = report_all_tasks_blocked("stall-tests", &blocked) {
        // Not what these tests are about: leave only the per-wait reports.
        take_reports_matching(|r| r.to_json() == v.to_json());
    }
}

#[test]
fn a_long_wait_is_a_slow_wait_advisory_never_a_report() {
    let _s = serial();
    let t = FakeTask::new("st-recv");
    let chan = ChannelMeta::new(ChannelKind::Mpsc, Some(2));
    let tx = chan.new_sender();
    let w = t.enter(|| {
        chan.receiver_polled();
        chan.recv_wait()
    });
    let start = Instant::now();
    let before = slow_waits();
    assert!(
        scan(start + Duration::from_secs(1)).is_empty(),
        "under the threshold"
    );
    let slow = scan(start + LATER);
    assert_eq!(slow.len(), 1, "{slow:?}");
    assert!(slow[0].waited() >= DEFAULT_STALL_THRESHOLD);
    assert!(slow[0].what().starts_with("`mpsc@stall.rs:"), "{}", slow[0]);
    assert_eq!(slow_waits(), before + 1, "counted");
    assert!(take("st-recv").is_empty(), "an advisory is not a report");
    assert!(scan(start + LATER * 2).is_empty(), "once per wait");
    assert_eq!(slow_waits(), before + 1);
    t.enter(|| drop(w));
    drop(tx);
}

#[test]
fn a_receive_nothing_can_end_is_reported_when_every_task_is_blocked() {
    let _s = serial();
    let t = FakeTask::new("st-stuck-recv");
    let chan = ChannelMeta::new(ChannelKind::Mpsc, Some(2));
    let tx = chan.new_sender();
    let w = t.enter(|| {
        chan.receiver_polled();
        chan.recv_wait()
    });
    all_blocked(&[&t]);
    let v = take_kind("st-stuck-recv", ViolationKind::ChannelStall);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].summary().contains("receive"));
    assert!(v[0]
        .summary()
        .contains("every task of the runtime is blocked"));
    assert!(
        v[0].to_string().contains("not used since created"),
        "the unknown sender is named"
    );
    all_blocked(&[&t]);
    assert!(
        take_kind("st-stuck-recv", ViolationKind::ChannelStall).is_empty(),
        "once per wait"
    );
    t.enter(|| drop(w));
    drop(tx);
}

#[test]
fn only_the_blocked_tasks_waits_are_reported() {
    let _s = serial();
    let notify = WaitMeta::new(WaitKind::Notify);
    let blocked = FakeTask::new("st-blocked");
    let running = FakeTask::new("st-running");
    let wb = blocked.enter(|| notify.wait());
    let wr = running.enter(|| notify.wait());
    all_blocked(&[&blocked]);
    let v = take_kind("st-blocked", ViolationKind::WaitStall);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].advice().contains("notif"));
    assert!(v[0].mentions("stall.rs", notify.created_at().line()));
    assert!(
        take_kind("st-running", ViolationKind::WaitStall).is_empty(),
        "a task the runtime did not list may still be woken"
    );
    blocked.enter(|| drop(wb));
    running.enter(|| drop(wr));
}

#[test]
fn a_full_channel_that_keeps_moving_is_not_even_slow() {
    let _s = serial();
    let t = FakeTask::new("st-moving");
    let chan = ChannelMeta::new(ChannelKind::Mpsc, Some(1));
    let tx = chan.new_sender();
    let w = t.enter(|| {
        tx.used();
        chan.send_wait()
    });
    let start = Instant::now();
    for i in 1..=5u32 {
        chan.delivered(1); // the receiver takes a message between scans
        assert!(scan(start + LATER * i).is_empty());
    }
    // It stops moving: slow one threshold after the last progress.
    assert_eq!(scan(start + LATER * 6).len(), 1);
    assert!(take("st-moving").is_empty());
    all_blocked(&[&t]);
    let v = take_kind("st-moving", ViolationKind::ChannelStall);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].summary().contains("full, capacity 1"));
    t.enter(|| drop(w));
}

#[test]
fn a_semaphore_wait_can_be_stuck_but_lock_waits_and_timed_waits_are_not() {
    let _s = serial();
    let sem = LockMeta::new(LockKind::Semaphore);
    let m = LockMeta::new(LockKind::Mutex);
    let barrier = WaitMeta::new(WaitKind::Barrier);
    let t = FakeTask::new("st-kinds");
    let (ws, wm, wb) = t.enter(|| {
        let p = sem.acquire_permits(1);
        let ws = sem.wait_permits(&p, 5);
        let h = m.acquire(Exclusive);
        let wm = m.wait(&h);
        let wb = {
            let _t = timed_scope();
            barrier.wait()
        };
        (ws, wm, wb)
    });
    assert_eq!(scan(Instant::now() + LATER).len(), 1, "the semaphore wait");
    all_blocked(&[&t]);
    let v = take_kind("st-kinds", ViolationKind::WaitStall);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].advice().contains("permit"));
    t.enter(|| drop((ws, wm, wb)));
}

#[test]
fn the_threshold_is_configurable() {
    let _s = serial();
    assert_eq!(stall_threshold(), DEFAULT_STALL_THRESHOLD);
    set_stall_threshold(Duration::from_millis(50));
    let watch = WaitMeta::new(WaitKind::Watch);
    let t = FakeTask::new("st-threshold");
    let w = t.enter(|| watch.wait());
    let slow = scan(Instant::now() + Duration::from_secs(1));
    set_stall_threshold(DEFAULT_STALL_THRESHOLD);
    assert_eq!(slow.len(), 1);
    assert!(take("st-threshold").is_empty());
    t.enter(|| drop(w));
}

/// A task's later waits take the short path into its slot (it is listed
/// and holds nothing): they are slow and stuck like the first, a wait
/// under a timeout still never is, and a oneshot receive is stuck with its
/// sender unknown.
#[test]
fn waits_on_the_short_path_are_found_like_the_first() {
    let _s = serial();
    let notify = WaitMeta::new(WaitKind::Notify);
    let chan = ChannelMeta::new(ChannelKind::Oneshot, Some(1));
    let t = FakeTask::new("st-short");
    // The first wait lists the task.
    t.enter(|| drop(notify.wait()));
    let timed = t.enter(|| {
        let _t = timed_scope();
        notify.wait()
    });
    assert!(scan(Instant::now() + LATER).is_empty());
    all_blocked(&[&t]);
    assert!(take("st-short").is_empty());
    t.enter(|| drop(timed));
    let w = t.enter(|| notify.wait());
    assert_eq!(scan(Instant::now() + LATER).len(), 1);
    all_blocked(&[&t]);
    let v = take_kind("st-short", ViolationKind::WaitStall);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].mentions("stall.rs", notify.created_at().line()));
    t.enter(|| drop(w));
    let w = t.enter(|| chan.recv_wait());
    assert_eq!(scan(Instant::now() + LATER).len(), 1);
    all_blocked(&[&t]);
    let v = take_kind("st-short", ViolationKind::ChannelStall);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].to_string().contains("not used since created"));
    t.enter(|| drop(w));
    all_blocked(&[&t]);
    assert!(scan(Instant::now() + LATER * 2).is_empty());
    assert!(take("st-short").is_empty(), "ended waits are not reported");
}
