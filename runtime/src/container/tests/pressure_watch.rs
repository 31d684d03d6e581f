//! `PressureWatch` and its publishing cell, polled by hand: what a change,
//! a repeated level, a dropped `changed` and the runtime's drop do.

use super::*;
use crate::container::PressureCell;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// A waker that counts its wakes.
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn counter() -> (Arc<Counter>, Waker) {
    let c = Arc::new(Counter(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

fn poll<F: Future>(f: std::pin::Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(waker))
}

#[test]
fn a_new_level_wakes_the_waiting_watch_and_is_returned_once() {
    let cell = PressureCell::new(PressureLevel::None);
    let mut w = cell.subscribe();
    let (wakes, waker) = counter();
    {
        let mut changed = pin!(w.changed());
        assert!(poll(changed.as_mut(), &waker).is_pending());
        assert_eq!(
            cell.publish(PressureLevel::Critical),
            Some(PressureLevel::None)
        );
        assert_eq!(wakes.0.load(SeqCst), 1);
        assert_eq!(
            poll(changed.as_mut(), &waker),
            Poll::Ready(Ok(PressureLevel::Critical))
        );
    }
    assert!(!w.has_changed());
    assert_eq!(w.level(), PressureLevel::Critical);
    assert!(
        poll(pin!(w.changed()), &waker).is_pending(),
        "the change was seen already"
    );
}

#[test]
fn publishing_the_same_level_is_no_change() {
    let cell = PressureCell::new(PressureLevel::Moderate);
    let w = cell.subscribe();
    assert_eq!(cell.publish(PressureLevel::Moderate), None);
    assert!(!w.has_changed());
}

#[test]
fn a_watch_that_missed_two_changes_sees_the_latest_once() {
    let cell = PressureCell::new(PressureLevel::None);
    let mut w = cell.subscribe();
    cell.publish(PressureLevel::Critical);
    cell.publish(PressureLevel::Moderate);
    assert!(w.has_changed());
    let (_, waker) = counter();
    assert_eq!(
        poll(pin!(w.changed()), &waker),
        Poll::Ready(Ok(PressureLevel::Moderate))
    );
    assert!(poll(pin!(w.changed()), &waker).is_pending());
}

#[test]
fn a_dropped_changed_marks_nothing_seen_and_leaves_no_waker() {
    let cell = PressureCell::new(PressureLevel::None);
    let mut w = cell.subscribe();
    let (stale, stale_waker) = counter();
    assert!(poll(pin!(w.changed()), &stale_waker).is_pending());
    // Polled again with another waker: the slot is replaced, not added to.
    let (fresh, fresh_waker) = counter();
    assert!(poll(pin!(w.changed()), &fresh_waker).is_pending());
    cell.publish(PressureLevel::Moderate);
    assert_eq!(stale.0.load(SeqCst), 0);
    assert_eq!(fresh.0.load(SeqCst), 1);
    assert_eq!(
        poll(pin!(w.changed()), &fresh_waker),
        Poll::Ready(Ok(PressureLevel::Moderate))
    );
}

#[test]
fn a_dropped_watch_is_not_woken() {
    let cell = PressureCell::new(PressureLevel::None);
    let mut gone = cell.subscribe();
    let (wakes, waker) = counter();
    assert!(poll(pin!(gone.changed()), &waker).is_pending());
    drop(gone);
    cell.publish(PressureLevel::Critical);
    assert_eq!(wakes.0.load(SeqCst), 0);
}

#[test]
fn a_clone_has_seen_what_its_original_has_and_waits_on_its_own() {
    let cell = PressureCell::new(PressureLevel::None);
    let mut a = cell.subscribe();
    cell.publish(PressureLevel::Moderate);
    let mut b = a.clone();
    assert!(b.has_changed());
    let (wa, waker_a) = counter();
    let (wb, waker_b) = counter();
    assert!(poll(pin!(a.changed()), &waker_a).is_ready());
    assert!(poll(pin!(a.changed()), &waker_a).is_pending());
    assert!(poll(pin!(b.changed()), &waker_b).is_ready());
    assert!(poll(pin!(b.changed()), &waker_b).is_pending());
    cell.publish(PressureLevel::None);
    assert_eq!((wa.0.load(SeqCst), wb.0.load(SeqCst)), (1, 1));
}

#[test]
fn the_publishers_drop_ends_changed_after_the_last_change() {
    let cell = PressureCell::new(PressureLevel::None);
    let mut w = cell.subscribe();
    let (wakes, waker) = counter();
    assert!(poll(pin!(w.changed()), &waker).is_pending());
    cell.publish(PressureLevel::Critical);
    drop(cell);
    assert_eq!(
        poll(pin!(w.changed()), &waker),
        Poll::Ready(Ok(PressureLevel::Critical))
    );
    let err = match poll(pin!(w.changed()), &waker) {
        Poll::Ready(Err(e)) => e,
        other => panic!("expected the closed error, got {other:?}"),
    };
    assert!(err.to_string().contains("runtime was dropped"));
    assert!(wakes.0.load(SeqCst) >= 1);
    // The last level stays readable.
    assert_eq!(w.level(), PressureLevel::Critical);
}

#[test]
fn the_publishers_drop_wakes_a_waiting_watch() {
    let cell = PressureCell::new(PressureLevel::None);
    let mut w = cell.subscribe();
    let (wakes, waker) = counter();
    let mut changed = pin!(w.changed());
    assert!(poll(changed.as_mut(), &waker).is_pending());
    drop(cell);
    assert_eq!(wakes.0.load(SeqCst), 1);
    assert!(matches!(
        poll(changed.as_mut(), &waker),
        Poll::Ready(Err(_))
    ));
}
