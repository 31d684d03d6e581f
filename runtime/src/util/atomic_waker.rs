//! `AtomicWaker`: one waker slot that a consumer registers into and a
//! producer wakes, without a lock.
//!
//! The protocol (the one of `futures::task::AtomicWaker` and tokio):
//!
//! - `state` is `WAITING`, or has `REGISTERING` and/or `WAKING` set.
//! - `REGISTERING` is a lock on the slot taken by `register`; `WAKING` is a
//!   lock taken by `take`/`wake`. Whoever holds one of these bits, and only
//!   they, touch `waker`.
//! - A `take` that finds `REGISTERING` set leaves its `WAKING` bit behind;
//!   `register` sees it when it releases the slot and wakes the waker it just
//!   stored, so a wake concurrent with a registration is never lost.
//! - A `register` that finds `WAKING` set wakes the new waker itself (the
//!   waker may be stale or not yet stored by the time the taker reads it).
//!
//! Consumers follow "register, then check the condition": a producer that
//! sets the condition and then calls `wake` either sees the registered waker
//! or makes the consumer's check succeed.

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use std::fmt;
use std::task::Waker;

/// Nobody holds the slot.
const WAITING: usize = 0;
/// `register` holds the slot.
const REGISTERING: usize = 0b01;
/// `take` holds the slot, or asked the registering thread to wake.
const WAKING: usize = 0b10;

/// A waker slot shared between one registering consumer and any number of
/// waking producers.
pub(crate) struct AtomicWaker {
    state: AtomicUsize,
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: `waker` is only accessed by the holder of the REGISTERING or WAKING
// bit (see the module docs), so `&AtomicWaker` may be shared across threads;
// `Waker` is `Send + Sync`.
unsafe impl Send for AtomicWaker {}
// SAFETY: as above.
unsafe impl Sync for AtomicWaker {}

impl AtomicWaker {
    /// An empty slot.
    pub(crate) fn new() -> AtomicWaker {
        AtomicWaker {
            state: AtomicUsize::new(WAITING),
            waker: UnsafeCell::new(None),
        }
    }

    /// Stores `waker` (unless the stored one already `will_wake` it) to be
    /// woken by the next `wake`/`take`.
    ///
    /// Must not be called concurrently with itself (one consumer); a
    /// concurrent call is detected and ignored rather than racing.
    pub(crate) fn register(&self, waker: &Waker) {
        match self
            .state
            .compare_exchange(WAITING, REGISTERING, Acquire, Acquire)
            .unwrap_or_else(|x| x)
        {
            WAITING => {
                // Cloning the new waker or dropping the old one runs code we
                // do not control, which may panic. Catch it and release the
                // slot by the usual path below: storing WAITING instead would
                // erase the WAKING bit a concurrent `take` left for us, and
                // its wake would reach nobody.
                let stored = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.waker.with_mut(|slot| {
                        // SAFETY: we hold REGISTERING, so nobody else touches
                        // the slot (module docs).
                        let slot = unsafe { &mut *slot };
                        match slot {
                            Some(old) if old.will_wake(waker) => {}
                            _ => *slot = Some(waker.clone()),
                        }
                    })
                }));

                match self
                    .state
                    .compare_exchange(REGISTERING, WAITING, AcqRel, Acquire)
                {
                    Ok(_) => {}
                    Err(actual) => {
                        // A `take` ran while we held the slot; it left its
                        // WAKING bit for us and could not read the waker.
                        // (After a panic the slot holds the old waker: it
                        // gets the wake.)
                        debug_assert_eq!(actual, REGISTERING | WAKING);
                        // SAFETY: REGISTERING is still set, so we still own
                        // the slot.
                        let waker = self.waker.with_mut(|slot| unsafe { (*slot).take() });
                        self.state.swap(WAITING, AcqRel);
                        if let Some(waker) = waker {
                            waker.wake();
                        }
                    }
                }
                if let Err(panic) = stored {
                    std::panic::resume_unwind(panic);
                }
            }
            WAKING => {
                // A producer is reading the slot right now and may see the
                // old waker: wake the new one ourselves.
                waker.wake_by_ref();
                crate::loom::spin_hint();
            }
            state => {
                // Concurrent `register` calls: a caller bug, but harmless.
                debug_assert!(state == REGISTERING || state == REGISTERING | WAKING);
            }
        }
    }

    /// Wakes the registered waker, if any, and empties the slot.
    #[allow(dead_code)] // for the sync primitives; the timer uses `take`
    pub(crate) fn wake(&self) {
        if let Some(waker) = self.take() {
            waker.wake();
        }
    }

    /// Empties the slot and returns its waker so the caller can wake it
    /// later (e.g. after releasing a lock).
    pub(crate) fn take(&self) -> Option<Waker> {
        match self.state.fetch_or(WAKING, AcqRel) {
            WAITING => {
                // SAFETY: we moved the state from WAITING to WAKING, so we
                // hold the slot.
                let waker = self.waker.with_mut(|slot| unsafe { (*slot).take() });
                self.state.fetch_and(!WAKING, Release);
                waker
            }
            state => {
                // A registration holds the slot (it will see WAKING and
                // wake), or another taker is already waking.
                debug_assert!(
                    state == REGISTERING || state == REGISTERING | WAKING || state == WAKING
                );
                None
            }
        }
    }
}

impl Default for AtomicWaker {
    fn default() -> AtomicWaker {
        AtomicWaker::new()
    }
}

impl fmt::Debug for AtomicWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AtomicWaker")
            .field("state", &self.state.load(Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(perf_runtime_loom)))]
mod tests {
    use super::AtomicWaker;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    fn counting() -> (Arc<Count>, Waker) {
        let c = Arc::new(Count(AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    #[test]
    fn wake_without_register_is_noop() {
        let aw = AtomicWaker::new();
        aw.wake();
        assert!(aw.take().is_none());
    }

    #[test]
    fn register_then_wake_wakes_once() {
        let aw = AtomicWaker::new();
        let (c, w) = counting();
        aw.register(&w);
        aw.wake();
        aw.wake();
        assert_eq!(c.0.load(SeqCst), 1);
    }

    #[test]
    fn reregister_replaces_waker() {
        let aw = AtomicWaker::new();
        let (c1, w1) = counting();
        let (c2, w2) = counting();
        aw.register(&w1);
        aw.register(&w2);
        aw.wake();
        assert_eq!(c1.0.load(SeqCst), 0);
        assert_eq!(c2.0.load(SeqCst), 1);
    }

    #[test]
    fn take_returns_waker() {
        let aw = AtomicWaker::new();
        let (c, w) = counting();
        aw.register(&w);
        let taken = aw.take().expect("registered");
        assert_eq!(c.0.load(SeqCst), 0);
        taken.wake();
        assert_eq!(c.0.load(SeqCst), 1);
    }
}

#[cfg(all(test, perf_runtime_loom))]
mod loom_tests {
    use super::AtomicWaker;
    use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use loom::sync::Arc;
    use loom::thread;
    use std::task::{Wake, Waker};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    /// "Register, then check" never misses a concurrent "set, then wake".
    #[test]
    fn wake_is_not_lost() {
        loom::model(|| {
            let aw = Arc::new(AtomicWaker::new());
            let flag = Arc::new(AtomicBool::new(false));
            let producer = {
                let (aw, flag) = (aw.clone(), flag.clone());
                thread::spawn(move || {
                    flag.store(true, SeqCst);
                    aw.wake();
                })
            };
            let count = std::sync::Arc::new(Count(AtomicUsize::new(0)));
            let waker = Waker::from(count.clone());
            aw.register(&waker);
            let seen = flag.load(SeqCst);
            producer.join().unwrap();
            assert!(seen || count.0.load(SeqCst) == 1);
        });
    }

    /// A re-registration with a new waker racing a wake: the wake reaches the
    /// old or the new waker, and the new one if the condition is not seen.
    #[test]
    fn wake_reaches_latest_waker() {
        loom::model(|| {
            let aw = Arc::new(AtomicWaker::new());
            let flag = Arc::new(AtomicBool::new(false));
            let old = std::sync::Arc::new(Count(AtomicUsize::new(0)));
            aw.register(&Waker::from(old.clone()));
            let producer = {
                let (aw, flag) = (aw.clone(), flag.clone());
                thread::spawn(move || {
                    flag.store(true, SeqCst);
                    aw.wake();
                })
            };
            let new = std::sync::Arc::new(Count(AtomicUsize::new(0)));
            aw.register(&Waker::from(new.clone()));
            let seen = flag.load(SeqCst);
            producer.join().unwrap();
            assert!(seen || new.0.load(SeqCst) == 1);
            assert!(old.0.load(SeqCst) + new.0.load(SeqCst) >= 1);
        });
    }

    /// A waker whose `clone` panics (a buggy waker from user code).
    fn panicking_clone_waker() -> Waker {
        use std::task::{RawWaker, RawWakerVTable};
        unsafe fn clone(_: *const ()) -> RawWaker {
            panic!("this waker's clone panics");
        }
        unsafe fn noop(_: *const ()) {}
        static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
        // SAFETY: the vtable's functions ignore the data pointer.
        unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) }
    }

    /// Issue 15: a `register` whose `Waker::clone` panics released the slot
    /// by storing WAITING, over the WAKING bit a concurrent `wake` left for
    /// it: that wake reached nobody. The wake must still reach the waker in
    /// the slot, and the slot must be usable afterwards.
    #[test]
    fn a_panicking_clone_does_not_lose_a_concurrent_wake() {
        loom::model(|| {
            let aw = Arc::new(AtomicWaker::new());
            let old = std::sync::Arc::new(Count(AtomicUsize::new(0)));
            aw.register(&Waker::from(old.clone()));
            let producer = {
                let aw = aw.clone();
                thread::spawn(move || aw.wake())
            };
            let bad = panicking_clone_waker();
            let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| aw.register(&bad)));
            producer.join().unwrap();
            // Either the wake ran first (it took `old`), or `register` held
            // the slot and must wake `old` for it; never neither.
            assert_eq!(old.0.load(SeqCst), 1, "the concurrent wake was lost");
            let _ = res;
            // The slot is free again: a new registration is woken.
            let again = std::sync::Arc::new(Count(AtomicUsize::new(0)));
            aw.register(&Waker::from(again.clone()));
            aw.wake();
            assert_eq!(again.0.load(SeqCst), 1, "the slot stayed locked");
        });
    }
}
