//! Reports handed in by the runtime: long polls and "all tasks blocked".

use super::{serial, take_kind, FakeTask};
use crate::slow_waits;
use crate::{
    count, report_all_tasks_blocked, report_long_poll, set_thread_mode, BlockedTask, ChannelKind,
    ChannelMeta, Mode, Site, Violation, ViolationKind, WaitKind, WaitMeta,
};
use std::num::NonZeroU64;
use std::time::Duration;

#[test]
fn a_long_poll_is_recorded_once_per_spawn_site_and_never_panics() {
    let site = Site::new("src/ig_indexer.rs", 40, 5);
    let id = NonZeroU64::new(9_000_001).unwrap();
    let before = count(ViolationKind::LongPoll);
    let prev = set_thread_mode(Some(Mode::Panic));
    let v = report_long_poll(id, Some("ig-indexer"), site, Duration::from_millis(250));
    let again = report_long_poll(id, Some("ig-indexer"), site, Duration::from_millis(900));
    set_thread_mode(prev);
    assert_eq!(v.kind(), ViolationKind::LongPoll);
    assert_eq!(again.kind(), ViolationKind::LongPoll);
    assert!(v.summary().contains("at least 250 ms"));
    assert_eq!(v.contexts()[0].name(), Some("ig-indexer"));
    assert_eq!(v.contexts()[0].id().task_id(), Some(id.get()));
    assert!(v.mentions("ig_indexer.rs", 40));
    assert!(count(ViolationKind::LongPoll) > before);
    let taken = take_kind("ig_indexer", ViolationKind::LongPoll);
    assert_eq!(taken.len(), 1, "one distinct violation");
}

#[test]
fn all_tasks_blocked_names_each_task_and_what_it_waits_on() {
    let _s = serial();
    let notify = WaitMeta::new(WaitKind::Notify);
    let barrier = WaitMeta::new(WaitKind::Barrier);
    let waiting = FakeTask::new("ig-waiter");
    let other = FakeTask::new("ig-other");
    let w = waiting.enter(|| notify.wait());
    let w2 = other.enter(|| barrier.wait());
    let blocked = [
        BlockedTask {
            id: waiting.id(),
            name: Some("ig-waiter".into()),
            spawned_at: Some(Site::new("src/ig_main.rs", 9, 5)),
        },
        BlockedTask {
            id: other.id(),
            name: None,
            spawned_at: None,
        },
    ];
    let v = report_all_tasks_blocked("ig-rt", &blocked).expect("a report");
    assert_eq!(v.kind(), ViolationKind::AllTasksBlocked);
    assert_eq!(v.sides().len(), 2);
    let text = v.to_string();
    assert!(
        text.contains("ig-waiter") && text.contains("Notify@") && text.contains("Barrier@"),
        "{text}"
    );
    assert!(
        v.mentions("ingest.rs", notify.created_at().line() + 4),
        "the wait's site"
    );
    assert!(report_all_tasks_blocked("ig-rt", &[]).is_none());
    waiting.enter(|| drop(w));
    other.enter(|| drop(w2));
    assert_eq!(take_kind("ig-rt", ViolationKind::AllTasksBlocked).len(), 1);
}

/// A task parked on something the engine does not track (a foreign
/// channel a thread feeds, an external event) may still be woken: the
/// runtime is idle, not stuck — a slow-wait advisory, not a report, even
/// though the other task's wait is tracked.
#[test]
fn a_runtime_with_a_task_waiting_on_something_untracked_is_not_stuck() {
    let _s = serial();
    let notify = WaitMeta::new(WaitKind::Notify);
    let waiting = FakeTask::new("ig-tracked");
    let w = waiting.enter(|| notify.wait());
    let blocked = [
        BlockedTask {
            id: waiting.id(),
            name: Some("ig-tracked".into()),
            spawned_at: None,
        },
        BlockedTask {
            id: NonZeroU64::new(9_000_002).unwrap(),
            name: Some("ig-untracked".into()),
            spawned_at: None,
        },
    ];
    let before = slow_waits();
    let prev = set_thread_mode(Some(Mode::Panic));
    let v = report_all_tasks_blocked("ig-untracked-rt", &blocked);
    set_thread_mode(prev);
    assert!(v.is_none(), "{v:?}");
    assert_eq!(slow_waits(), before + 1, "an advisory instead");
    waiting.enter(|| drop(w));
    assert!(take_kind("ig-untracked-rt", ViolationKind::AllTasksBlocked).is_empty());
    assert!(take_kind("ig-tracked", ViolationKind::WaitStall).is_empty());
}

/// A receive whose live sender was last used by `sender_ctx` (a thread, or
/// another blocked task), with every task of a runtime blocked.
fn all_blocked_with_a_sender_used_by(on_a_thread: bool) -> (Option<Violation>, Vec<Violation>) {
    let chan = ChannelMeta::new(ChannelKind::Mpsc, Some(4));
    let tx = chan.new_sender();
    let consumer = FakeTask::new("ig-consumer");
    let producer = FakeTask::new("ig-producer");
    let notify = WaitMeta::new(WaitKind::Notify);
    if on_a_thread {
        tx.used(); // the test thread sent on it, and keeps the sender
    } else {
        producer.enter(|| tx.used());
    }
    let w = consumer.enter(|| {
        chan.receiver_polled();
        chan.recv_wait()
    });
    // The producer task waits on a Notify nobody notifies.
    let pw = producer.enter(|| notify.wait());
    let blocked: Vec<BlockedTask> = [&consumer, &producer]
        .iter()
        .map(|t| BlockedTask {
            id: t.id(),
            name: None,
            spawned_at: None,
        })
        .collect();
    let v = report_all_tasks_blocked("ig-outside-rt", &blocked);
    let stalls = take_kind("ingest.rs", ViolationKind::ChannelStall);
    consumer.enter(|| drop(w));
    producer.enter(|| drop(pw));
    drop(tx);
    let _ = take_kind("ingest.rs", ViolationKind::WaitStall);
    let _ = take_kind("ig-outside-rt", ViolationKind::AllTasksBlocked);
    (v, stalls)
}

#[test]
fn a_runtime_whose_receiver_a_thread_can_still_send_to_is_not_stuck() {
    let _s = serial();
    let (v, stalls) = all_blocked_with_a_sender_used_by(true);
    assert!(v.is_none(), "{v:?}");
    assert!(stalls.is_empty(), "{stalls:?}");
}

#[test]
fn a_runtime_whose_receivers_sender_is_one_of_its_blocked_tasks_is_stuck() {
    let _s = serial();
    let (v, stalls) = all_blocked_with_a_sender_used_by(false);
    assert_eq!(v.map(|v| v.kind()), Some(ViolationKind::AllTasksBlocked));
    assert_eq!(stalls.len(), 1, "{stalls:?}");
}
