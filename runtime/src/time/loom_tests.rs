//! Loom models of the timer driver's protocols: a `Sleep`'s owner against
//! the driver firing it, a registration against `process`'s recomputation
//! of `next_wake`, a cancel from another thread against the owner, and the
//! driver owner's park against a registration (the `driver_owner` /
//! `next_wake` handshake of the multi-thread scheduler).

use super::{Instant, Sleep, TimeHandle};
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
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

fn counting_waker() -> (std::sync::Arc<Count>, Waker) {
    let count = std::sync::Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(count.clone());
    (count, waker)
}

fn sleep_ms(h: &TimeHandle, ms: u64) -> Sleep {
    Sleep::new(
        h.clone(),
        Instant::from_std(h.now()) + Duration::from_millis(ms),
    )
}

/// `next_wake` is not later than any shard's next expiration.
fn assert_bound_holds(h: &TimeHandle) {
    let (bound, shards) = h.wake_bounds();
    let min = shards.into_iter().min().unwrap();
    assert!(bound <= min, "next_wake {bound} later than a shard's {min}");
}

/// A poll racing the timer's firing either sees it fired or is woken.
#[test]
fn poll_races_fire() {
    loom::model(|| {
        let h = TimeHandle::new(true, true, Duration::from_millis(1), 0);
        let mut s = sleep_ms(&h, 1);
        let (_, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut s).poll(&mut cx).is_pending());

        let driver = {
            let h = h.clone();
            thread::spawn(move || {
                h.clock().advance(Duration::from_millis(1));
                h.process();
            })
        };
        let (count2, waker2) = counting_waker();
        let ready = Pin::new(&mut s)
            .poll(&mut Context::from_waker(&waker2))
            .is_ready();
        driver.join().unwrap();
        assert!(ready || count2.0.load(SeqCst) == 1);
        assert!(Pin::new(&mut s).poll(&mut cx) == Poll::Ready(()));
    });
}

/// Dropping a `Sleep` while the driver fires it frees its node once and
/// leaves nothing linked.
#[test]
fn drop_races_fire() {
    loom::model(|| {
        let h = TimeHandle::new(true, true, Duration::from_millis(1), 0);
        let mut s = sleep_ms(&h, 1);
        let (_, waker) = counting_waker();
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
        assert!(!h.has_timers());
    });
}

/// A worker registering an earlier timer in its shard while another worker
/// recomputes `next_wake` (after firing): the bound still covers it.
#[test]
fn register_races_recompute() {
    loom::model(|| {
        // One worker: shard 0 is its own, shard 1 the shared one.
        let h = TimeHandle::new(true, true, Duration::from_millis(1), 1);
        let (_, waker) = counting_waker();
        // A timer in the shared shard, and one in shard 0 that is cancelled:
        // `next_wake` is left stale (early), as after a cancel.
        let _later = match h.register(1, h.now() + Duration::from_millis(3), &waker, true) {
            super::handle::Registered::Linked(k) => k,
            _ => unreachable!(),
        };
        let super::handle::Registered::Linked(gone) =
            h.register(0, h.now() + Duration::from_millis(1), &waker, true)
        else {
            unreachable!()
        };
        h.cancel(0, gone);

        let worker = {
            let h = h.clone();
            let waker = waker.clone();
            thread::spawn(move || {
                let _ = h.register(0, h.now() + Duration::from_millis(2), &waker, true);
            })
        };
        h.process();
        worker.join().unwrap();
        assert_bound_holds(&h);
        assert!(h
            .park_timeout()
            .is_some_and(|t| t <= Duration::from_millis(2)));
    });
}

/// A cancel from another thread against the owner registering in the same
/// shard: the shard's next expiration and the bound stay right.
#[test]
fn remote_cancel_races_owner() {
    loom::model(|| {
        let h = TimeHandle::new(true, true, Duration::from_millis(1), 1);
        let (_, waker) = counting_waker();
        let super::handle::Registered::Linked(first) =
            h.register(0, h.now() + Duration::from_millis(1), &waker, true)
        else {
            unreachable!()
        };
        let remote = {
            let h = h.clone();
            thread::spawn(move || h.cancel(0, first))
        };
        let _second = h.register(0, h.now() + Duration::from_millis(2), &waker, true);
        remote.join().unwrap();
        assert_bound_holds(&h);
        let (_, shards) = h.wake_bounds();
        assert_eq!(
            shards[0],
            Duration::from_millis(2).as_nanos() as u64,
            "shard 0's next is the remaining timer"
        );
    });
}

/// The scheduler's `driver_owner` / `next_wake` handshake: a worker makes
/// itself the driver owner, then reads its park timeout; a registration of
/// an earlier timer lowers `next_wake`, then wakes the owner it reads.
/// Either the owner's timeout covers the new timer or the owner is woken.
#[test]
fn driver_owner_sees_registration_or_is_woken() {
    const NO_OWNER: usize = usize::MAX;
    loom::model(|| {
        let h = TimeHandle::new(true, true, Duration::from_millis(1), 1);
        let owner = std::sync::Arc::new(AtomicUsize::new(NO_OWNER));
        let woken = std::sync::Arc::new(AtomicBool::new(false));
        {
            // What `Shared::unpark_driver` does.
            let (owner, woken) = (owner.clone(), woken.clone());
            h.set_unpark(Box::new(move || {
                if owner.load(SeqCst) != NO_OWNER {
                    woken.store(true, SeqCst);
                }
            }));
        }
        let (_, waker) = counting_waker();
        let _far = h.register(1, h.now() + Duration::from_millis(5), &waker, true);

        let driver = {
            let (h, owner) = (h.clone(), owner.clone());
            thread::spawn(move || {
                // `try_acquire_driver`, then the timeout `park` sleeps for.
                assert!(owner.compare_exchange(NO_OWNER, 0, SeqCst, SeqCst).is_ok());
                h.park_timeout()
            })
        };
        let _near = h.register(0, h.now() + Duration::from_millis(1), &waker, true);
        let timeout = driver.join().unwrap();
        assert!(
            woken.load(SeqCst) || timeout <= Some(Duration::from_millis(1)),
            "the driver owner sleeps {timeout:?} past a 1 ms timer and is not woken"
        );
    });
}

/// `process` on a thread that does not own a shard skips it while its lock
/// is held (its owner registering there): a due timer of that shard is then
/// not lost. Either it fired, or `next_wake` stays due, so the next check
/// (`is_due`, the driver owner's zero park timeout) fires it.
#[test]
fn process_skips_a_busy_shard_without_losing_its_timer() {
    loom::model(|| {
        // One worker: shard 0 is its own, shard 1 the shared one.
        let h = TimeHandle::new(true, true, Duration::from_millis(1), 1);
        let (count, waker) = counting_waker();
        let super::handle::Registered::Linked(due) =
            h.register(0, h.now() + Duration::from_millis(1), &waker, true)
        else {
            unreachable!()
        };
        h.clock().advance(Duration::from_millis(1));

        let owner = {
            let h = h.clone();
            let waker = waker.clone();
            thread::spawn(move || {
                // The owner registers another timer in its shard (locking it).
                let _ = h.register(0, h.now() + Duration::from_millis(5), &waker, true);
            })
        };
        // A thread that is no worker: shard 0 is not its own.
        h.process();
        owner.join().unwrap();
        assert_bound_holds(&h);
        if count.0.load(SeqCst) == 0 {
            assert!(h.is_due(), "a due timer skipped and next_wake not due");
            h.process();
        }
        assert_eq!(count.0.load(SeqCst), 1, "the due timer fires once");
        assert!(h.is_fired(0, due));
    });
}
