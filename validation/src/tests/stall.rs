//! The stall scan, driven with a clock handed in (no sleeping).

use super::{serial, take, take_kind, FakeTask};
use crate::{
    scan, set_stall_threshold, stall_threshold, timed_scope, Access::*, ChannelKind, ChannelMeta,
    LockKind, LockMeta, ViolationKind, WaitKind, WaitMeta, DEFAULT_STALL_THRESHOLD,
};
use std::time::{Duration, Instant};

const LATER: Duration = Duration::from_secs(10);

#[test]
fn a_receiver_waiting_on_live_silent_senders_stalls_once() {
    let _s = serial();
    let t = FakeTask::new("st-recv");
    let chan = ChannelMeta::new(ChannelKind::Mpsc, Some(2));
    let tx = chan.new_sender();
    let w = t.enter(|| {
        chan.receiver_polled();
        chan.recv_wait()
    });
    let start = Instant::now();
    scan(start + Duration::from_secs(1));
    assert!(
        take_kind("st-recv", ViolationKind::ChannelStall).is_empty(),
        "under the threshold"
    );
    let found = scan(start + LATER);
    assert!(
        found.iter().any(|v| v.to_json().contains("st-recv")),
        "returned too"
    );
    let v = take_kind("st-recv", ViolationKind::ChannelStall);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].summary().contains("receive"));
    assert!(
        v[0].to_string().contains("not used since created"),
        "the unknown sender is named"
    );
    scan(start + LATER * 2);
    assert!(
        take_kind("st-recv", ViolationKind::ChannelStall).is_empty(),
        "once per wait"
    );
    t.enter(|| drop(w));
    drop(tx);
}

#[test]
fn a_full_channel_that_keeps_moving_is_not_a_stall() {
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
        scan(start + LATER * i);
    }
    assert!(take_kind("st-moving", ViolationKind::ChannelStall).is_empty());
    // It stops moving: reported one threshold after the last progress.
    scan(start + LATER * 6);
    let v = take_kind("st-moving", ViolationKind::ChannelStall);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].summary().contains("full, capacity 1"));
    t.enter(|| drop(w));
}

#[test]
fn a_notify_nobody_notifies_is_a_wait_stall() {
    let _s = serial();
    let notify = WaitMeta::new(WaitKind::Notify);
    let t = FakeTask::new("st-notify");
    let w = t.enter(|| notify.wait());
    scan(Instant::now() + LATER);
    let v = take_kind("st-notify", ViolationKind::WaitStall);
    assert_eq!(v.len(), 1);
    assert!(v[0].advice().contains("notif"));
    assert!(v[0].mentions("stall.rs", notify.created_at().line()));
    t.enter(|| drop(w));
}

#[test]
fn a_semaphore_wait_can_stall_but_lock_waits_and_timed_waits_do_not() {
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
    scan(Instant::now() + LATER);
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
    scan(Instant::now() + Duration::from_secs(1));
    set_stall_threshold(DEFAULT_STALL_THRESHOLD);
    assert_eq!(take_kind("st-threshold", ViolationKind::WaitStall).len(), 1);
    t.enter(|| drop(w));
}

/// A task's later waits take the short path into its slot (it is listed
/// and holds nothing): they stall like the first, a wait under a timeout
/// still never does, and a oneshot receive stalls with its sender unknown.
#[test]
fn waits_on_the_short_path_stall_like_the_first() {
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
    scan(Instant::now() + LATER);
    assert!(take_kind("st-short", ViolationKind::WaitStall).is_empty());
    t.enter(|| drop(timed));
    let w = t.enter(|| notify.wait());
    scan(Instant::now() + LATER);
    let v = take_kind("st-short", ViolationKind::WaitStall);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].mentions("stall.rs", notify.created_at().line()));
    t.enter(|| drop(w));
    let w = t.enter(|| chan.recv_wait());
    scan(Instant::now() + LATER);
    let v = take_kind("st-short", ViolationKind::ChannelStall);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].to_string().contains("not used since created"));
    t.enter(|| drop(w));
    scan(Instant::now() + LATER * 2);
    assert!(take("st-short").is_empty(), "ended waits are not reported");
}
