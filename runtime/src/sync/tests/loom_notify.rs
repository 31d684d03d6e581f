//! Loom models of `Notify` (and `Barrier` on it): the stored permit, the
//! `notify_waiters` counter rule, and the hand-on of a notification whose
//! receiver was dropped.

use super::poll_once;
use crate::loom::sync::Arc;
use crate::sync::{Barrier, Notify};
use loom::future::block_on;
use loom::thread;
use std::pin::pin;
use std::task::Poll;

/// `notify_one` racing `notified()`: stored as a permit or delivered.
#[test]
fn loom_notify_one_races_notified() {
    super::model(|| {
        let n = Arc::new(Notify::new());
        let n2 = n.clone();
        let t = thread::spawn(move || n2.notify_one());
        block_on(n.notified());
        t.join().unwrap();
    });
}

/// A `Notified` created before `notify_waiters` completes even if it first
/// polls after the call.
#[test]
fn loom_notify_waiters_reaches_futures_created_before_it() {
    super::model(|| {
        let n = Arc::new(Notify::new());
        let fut = n.notified();
        let n2 = n.clone();
        let t = thread::spawn(move || n2.notify_waiters());
        block_on(fut);
        t.join().unwrap();
    });
}

/// A waiter dropped with a `notify_one` it never returned passes it on, so
/// the other waiter always finishes.
#[test]
fn loom_dropped_waiter_passes_notification_on() {
    super::model(|| {
        let n = Arc::new(Notify::new());
        let n1 = n.clone();
        let dropper = thread::spawn(move || {
            let mut fut = pin!(n1.notified());
            if poll_once(fut.as_mut()).is_ready() {
                // It consumed the notification: give it back.
                n1.notify_one();
            }
        });
        let n2 = n.clone();
        let waiter = thread::spawn(move || block_on(n2.notified()));
        n.notify_one();
        dropper.join().unwrap();
        waiter.join().unwrap();
    });
}

/// Two parties: both are released, exactly one is the leader.
#[test]
fn loom_barrier_two_parties() {
    super::model(|| {
        let b = Arc::new(Barrier::new(2));
        let b2 = b.clone();
        let t = thread::spawn(move || block_on(b2.wait()).is_leader());
        let me = block_on(b.wait()).is_leader();
        let other = t.join().unwrap();
        assert!(me != other, "exactly one leader");
    });
}

/// An enabled `Notified` that is dropped unlinks itself; the queue and the
/// state word stay consistent for the next notification.
#[test]
fn loom_enabled_then_dropped_waiter_leaves_no_ghost() {
    super::model(|| {
        let n = Arc::new(Notify::new());
        let n1 = n.clone();
        let t = thread::spawn(move || {
            let mut fut = pin!(n1.notified());
            fut.as_mut().enable()
        });
        n.notify_waiters();
        let consumed = t.join().unwrap();
        let _ = consumed;
        n.notify_one();
        let mut fut = pin!(n.notified());
        assert_eq!(poll_once(fut.as_mut()), Poll::Ready(()));
    });
}
