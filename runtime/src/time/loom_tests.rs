//! Loom models of the races between a `Sleep`'s owner and the driver.

use super::{Instant, Sleep, TimeHandle};
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn one_ms_sleep(h: &TimeHandle) -> Sleep {
    Sleep::new(
        h.clone(),
        Instant::from_std(h.now()) + Duration::from_millis(1),
    )
}

/// A poll racing the timer's firing either sees it fired or is woken.
#[test]
fn poll_races_fire() {
    loom::model(|| {
        let h = TimeHandle::new(true, true, Duration::from_millis(1));
        let mut s = one_ms_sleep(&h);
        let count = std::sync::Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut s).poll(&mut cx).is_pending());

        let driver = {
            let h = h.clone();
            thread::spawn(move || {
                h.clock().advance(Duration::from_millis(1));
                h.process();
            })
        };
        let count2 = std::sync::Arc::new(Count(AtomicUsize::new(0)));
        let waker2 = Waker::from(count2.clone());
        let ready = Pin::new(&mut s)
            .poll(&mut Context::from_waker(&waker2))
            .is_ready();
        driver.join().unwrap();
        assert!(ready || count2.0.load(SeqCst) == 1);
        assert!(Pin::new(&mut s).poll(&mut cx) == Poll::Ready(()));
    });
}

/// Dropping a `Sleep` while the driver fires it neither double-frees its
/// slab entry nor leaves it linked.
#[test]
fn drop_races_fire() {
    loom::model(|| {
        let h = TimeHandle::new(true, true, Duration::from_millis(1));
        let mut s = one_ms_sleep(&h);
        let count = std::sync::Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        assert!(Pin::new(&mut s)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());

        let driver = {
            let h = h.clone();
            thread::spawn(move || {
                h.clock().advance(Duration::from_millis(1));
                h.process();
            })
        };
        drop(s);
        driver.join().unwrap();
        assert_eq!(h.park_timeout(), None);
        assert!(!h.is_due());
    });
}
