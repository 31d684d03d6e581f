//! The timer driver: the wheel behind one mutex, the clock, and the calls
//! the scheduler makes (`is_due`, `process`, `park_timeout`, `auto_advance`,
//! `shutdown`).
//!
//! `next_wake` caches the wheel's next expiration (`NO_WAKE`: none), in
//! nanoseconds since the clock's origin: the earliest exact deadline, or a
//! cascade point of the wheel when no timer is due within 64 ticks. It is
//! only written with the lock held, after every change to the wheel. It is
//! read without the lock by `is_due`/`park_timeout`/`auto_advance`; a stale
//! value is harmless: too early costs one empty `process`, and a value that
//! became earlier is announced by the unpark callback.

use super::clock::{lock, Clock};
use super::entry::Shared;
use super::wheel::{Key, Wheel};
use crate::loom::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use crate::loom::sync::{Arc, Mutex};
use std::fmt;
use std::task::Waker;
use std::time::{Duration, Instant as StdInstant};

/// `next_wake` when no timer is linked.
const NO_WAKE: u64 = u64::MAX;

/// Wakers woken per lock release in `process`.
const WAKE_BATCH: usize = 32;

/// The runtime's unpark callback. A `std` `Arc` (not the loom facade's): it
/// is set once before use, and loom's `Arc` cannot hold a `dyn Fn`.
type Unpark = std::sync::Arc<dyn Fn() + Send + Sync>;

/// The time driver of one runtime; cheap to clone.
#[derive(Clone)]
pub(crate) struct TimeHandle {
    inner: Arc<Driver>,
}

struct Driver {
    clock: Clock,
    next_wake: AtomicU64,
    is_shutdown: AtomicBool,
    locked: Mutex<Locked>,
}

struct Locked {
    wheel: Wheel,
    unpark: Option<Unpark>,
}

/// The result of linking an entry.
#[must_use]
pub(super) enum Registered {
    /// Linked under this key.
    Linked(Key),
    /// The deadline had already passed: the entry is `Fired`, not linked.
    Elapsed,
    /// The runtime has shut down: nothing was done.
    Shutdown,
}

impl TimeHandle {
    /// A driver for a runtime; `pausable` only for the current_thread
    /// runtime (which alone may pause the clock). `resolution` is the width
    /// of a wheel tick (`Builder::timer_resolution`); timers fire at their
    /// exact deadline whatever it is.
    pub(crate) fn new(pausable: bool, start_paused: bool, resolution: Duration) -> TimeHandle {
        let tick_ns = u64::try_from(resolution.as_nanos()).unwrap_or(u64::MAX);
        TimeHandle {
            inner: Arc::new(Driver {
                clock: Clock::new(pausable, start_paused),
                next_wake: AtomicU64::new(NO_WAKE),
                is_shutdown: AtomicBool::new(false),
                locked: Mutex::new(Locked {
                    wheel: Wheel::new(tick_ns),
                    unpark: None,
                }),
            }),
        }
    }

    /// Sets the callback run (outside the lock) when a newly registered
    /// timer becomes the earliest deadline.
    pub(crate) fn set_unpark(&self, f: Box<dyn Fn() + Send + Sync>) {
        lock(&self.inner.locked).unpark = Some(std::sync::Arc::from(f));
    }

    /// Is a timer due? One atomic load when no timer is linked; one load and
    /// one clock read otherwise.
    #[inline]
    pub(crate) fn is_due(&self) -> bool {
        let next = self.inner.next_wake.load(Relaxed);
        next != NO_WAKE && self.inner.clock.now_nanos() >= next
    }

    /// Fires every timer whose exact deadline has passed. Wakers run with
    /// the lock released.
    pub(crate) fn process(&self) {
        let now = self.inner.clock.now_nanos();
        let mut wakers = WakeList::new();
        let mut locked = lock(&self.inner.locked);
        while let Some(entry) = locked.wheel.poll(now) {
            if let Some(waker) = entry.fire() {
                wakers.push(waker);
                if wakers.is_full() {
                    drop(locked);
                    wakers.wake_all();
                    locked = lock(&self.inner.locked);
                }
            }
        }
        self.update_next_wake(&locked);
        drop(locked);
        wakers.wake_all();
    }

    /// How long a worker may sleep before the next timer is due, to the
    /// nanosecond (not rounded to a tick): `None` with no timer, `Some(ZERO)`
    /// if one is due.
    pub(crate) fn park_timeout(&self) -> Option<Duration> {
        let next = self.inner.next_wake.load(Relaxed);
        if next == NO_WAKE {
            return None;
        }
        let now = self.inner.clock.now();
        Some(match self.inner.clock.nanos_to_instant(next) {
            Some(at) => at.saturating_duration_since(now),
            None => Duration::MAX,
        })
    }

    /// With a paused clock and a linked timer: moves the clock to the next
    /// expiration (an exact deadline, or a cascade point before it) and
    /// returns true (the caller then calls `process` instead
    /// of sleeping). Otherwise returns false.
    pub(crate) fn auto_advance(&self) -> bool {
        let next = self.inner.next_wake.load(Relaxed);
        next != NO_WAKE && self.inner.clock.advance_to_nanos(next)
    }

    /// The runtime is shutting down: unlinks every timer and drops its
    /// waker. `Sleep`s polled later panic.
    pub(crate) fn shutdown(&self) {
        let mut wakers = Vec::new();
        let mut locked = lock(&self.inner.locked);
        self.inner.is_shutdown.store(true, Release);
        for entry in locked.wheel.drain() {
            wakers.extend(entry.shut_down());
        }
        self.inner.next_wake.store(NO_WAKE, Relaxed);
        locked.unpark = None;
        drop(locked);
        // Task wakers may run arbitrary code when dropped: not under the lock.
        drop(wakers);
    }

    // ----- used by the rest of the time module -----

    /// The current time of this runtime's clock.
    #[inline]
    pub(super) fn now(&self) -> StdInstant {
        self.inner.clock.now()
    }

    pub(super) fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub(super) fn is_shutdown(&self) -> bool {
        self.inner.is_shutdown.load(Acquire)
    }

    /// Links `entry` (new, or owned by the caller and possibly still linked
    /// at `old`) to fire at `deadline`.
    pub(super) fn register(
        &self,
        entry: &Arc<Shared>,
        old: Option<Key>,
        deadline: StdInstant,
    ) -> Registered {
        let clock = &self.inner.clock;
        let elapsed = deadline <= clock.now();
        let at = clock.deadline_to_nanos(deadline);
        let mut locked = lock(&self.inner.locked);
        if self.is_shutdown() {
            return Registered::Shutdown;
        }
        if let (Some(key), super::entry::EntryState::Pending(_)) = (old, entry.state()) {
            drop(locked.wheel.remove(key));
        }
        let before = self.inner.next_wake.load(Relaxed);
        let result = if elapsed {
            entry.mark_fired();
            Registered::Elapsed
        } else {
            entry.set_pending(at);
            Registered::Linked(locked.wheel.insert(at, entry.clone()))
        };
        let after = self.update_next_wake(&locked);
        let unpark = if after < before {
            locked.unpark.clone()
        } else {
            None
        };
        drop(locked);
        if let Some(unpark) = unpark {
            unpark();
        }
        result
    }

    /// Unlinks `entry` (at `key`) unless it already fired.
    pub(super) fn cancel(&self, entry: &Shared, key: Key) {
        let mut locked = lock(&self.inner.locked);
        if let super::entry::EntryState::Pending(_) = entry.state() {
            drop(locked.wheel.remove(key));
            self.update_next_wake(&locked);
        }
    }

    fn update_next_wake(&self, locked: &Locked) -> u64 {
        let next = locked.wheel.next_expiration().unwrap_or(NO_WAKE);
        self.inner.next_wake.store(next, Relaxed);
        next
    }

    /// Test hook: runs `f` on the wheel with the lock held.
    #[cfg(all(test, not(perf_runtime_loom)))]
    pub(super) fn with_wheel<R>(&self, f: impl FnOnce(&Wheel) -> R) -> R {
        f(&lock(&self.inner.locked).wheel)
    }
}

impl fmt::Debug for TimeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeHandle")
            .field("paused", &self.inner.clock.is_paused())
            .field("next_wake", &self.inner.next_wake.load(Relaxed))
            .finish_non_exhaustive()
    }
}

#[cold]
#[track_caller]
pub(super) fn shutdown_panic() -> ! {
    panic!("the runtime that owns this timer has shut down; timers cannot be used after their runtime is dropped")
}

/// A fixed batch of wakers, so `process` does not allocate.
struct WakeList {
    wakers: [Option<Waker>; WAKE_BATCH],
    len: usize,
}

impl WakeList {
    fn new() -> WakeList {
        WakeList {
            wakers: [const { None }; WAKE_BATCH],
            len: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.len == WAKE_BATCH
    }

    fn push(&mut self, waker: Waker) {
        debug_assert!(!self.is_full());
        self.wakers[self.len] = Some(waker);
        self.len += 1;
    }

    fn wake_all(&mut self) {
        for slot in &mut self.wakers[..std::mem::take(&mut self.len)] {
            if let Some(waker) = slot.take() {
                waker.wake();
            }
        }
    }
}
