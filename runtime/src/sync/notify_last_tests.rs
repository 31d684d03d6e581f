//! `Notify::notify_last` without a runtime, so Miri can check the unsafe
//! queue walk (`cargo +nightly miri test -p perf-runtime --lib notify_last`).

use super::Notify;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

fn ready<F: Future>(f: std::pin::Pin<&mut F>) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    matches!(f.poll(&mut cx), Poll::Ready(_))
}

#[test]
fn notify_last_takes_the_tail_then_the_middle() {
    let notify = Notify::new();
    let mut a = pin!(notify.notified());
    let mut b = pin!(notify.notified());
    let mut c = pin!(notify.notified());
    assert!(!ready(a.as_mut()));
    assert!(!ready(b.as_mut()));
    assert!(!ready(c.as_mut()));
    notify.notify_last();
    assert!(ready(c.as_mut()));
    assert!(!ready(b.as_mut()));
    notify.notify_last();
    assert!(ready(b.as_mut()));
    notify.notify_last();
    assert!(ready(a.as_mut()));
    // Queue empty again: the next one is a stored permit.
    notify.notify_last();
    assert!(ready(pin!(notify.notified())));
}

#[test]
fn dropped_notify_last_waiter_passes_the_notification_on() {
    let notify = Notify::new();
    let mut a = pin!(notify.notified());
    assert!(!ready(a.as_mut()));
    {
        let mut b = pin!(notify.notified());
        assert!(!ready(b.as_mut()));
        notify.notify_last(); // chosen: b
    } // b dropped without completing
    assert!(ready(a.as_mut()), "the notification moved on to a");
}
