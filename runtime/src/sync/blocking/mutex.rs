//! `blocking::Mutex`: a thread mutex for short critical sections.
//!
//! # Protocol
//!
//! The futex word is `UNLOCKED`, `LOCKED` (held, nobody asleep) or
//! `CONTENDED` (held, and a thread may be asleep on it).
//! - `lock`: one CAS `UNLOCKED -> LOCKED`, inline. On failure, the cold path
//!   spins a few rounds (a short section is likely to end soon), then swaps
//!   in `CONTENDED` — acquiring if the swap returned `UNLOCKED` — and sleeps
//!   while the word stays `CONTENDED`.
//! - `unlock`: swap in `UNLOCKED`; only if the old value was `CONTENDED`,
//!   wake one sleeper (cold). An uncontended lock/unlock pair is two atomic
//!   RMWs and no syscall.
//!
//! Invariants:
//! 1. Whoever moved the word out of `UNLOCKED` holds the lock.
//! 2. A thread sleeps only while the word is `CONTENDED`, and whoever
//!    releases a `CONTENDED` lock wakes one sleeper. A woken thread
//!    re-acquires with `CONTENDED` (it cannot know whether others still
//!    sleep), so the next unlock wakes the next sleeper: no sleeper is
//!    forgotten, at the cost of at most one spurious wake per contention
//!    episode.
//!
//! Not FIFO: an arriving thread may take the lock ahead of a woken one
//! (barging), which keeps throughput high for short sections. There is no
//! poisoning: a panic while locked unlocks (the guard drops while
//! unwinding), as parking_lot's and tokio's locks do.
//!
//! # Validation
//!
//! The mutex embeds a [`LockMeta`] of kind `BlockingMutex`. `lock` validates
//! and records the acquisition before its CAS (a double lock is reported
//! instead of hanging), the guard keeps the [`Held`] token, and a contended
//! lock registers its wait only once spinning is over and it is about to
//! sleep, so a short contention costs the engine nothing.

use super::futex::Futex;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::Ordering::*;
use crate::sync::tracking::HeldToken;
#[cfg(not(perf_runtime_loom))]
use crate::validation::LockClass;
use crate::validation::{Access, Held, LockKind, LockMeta, Waiting};
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::Location;

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
const CONTENDED: u32 = 2;

/// Spin rounds before parking (none under loom: spinning only grows the
/// model's state space).
const SPIN: bool = !cfg!(perf_runtime_loom);

/// A mutual-exclusion lock for threads, for short sections that never
/// `.await`: an uncontended `lock` is one inline CAS, a contended one spins
/// briefly and then parks the thread (a futex on Linux).
///
/// Unlike [`sync::Mutex`](crate::sync::Mutex) its guard cannot be held
/// across `.await` in a `Send` future (it is `!Send`), and waiting blocks
/// the thread — acceptable only for sections a few hundred nanoseconds long.
///
/// ```
/// use perf_runtime::sync::blocking::Mutex;
///
/// let counter = Mutex::new(0);
/// *counter.lock() += 1;
/// assert_eq!(*counter.lock(), 1);
/// ```
///
/// The guard stays on its thread:
///
/// ```compile_fail
/// use perf_runtime::sync::blocking::Mutex;
/// fn send<T: Send>(_: T) {}
/// let m = Mutex::new(0);
/// send(m.lock());
/// ```
pub struct Mutex<T: ?Sized> {
    futex: Futex,
    meta: LockMeta,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands `&mut T` to one thread at a time, so sending or
// sharing the mutex needs `T: Send` (as `std::sync::Mutex`).
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`; its lock class is the caller's
    /// site.
    #[cfg(not(perf_runtime_loom))]
    #[track_caller]
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            futex: Futex::new(UNLOCKED),
            meta: LockMeta::new(LockKind::BlockingMutex),
            data: UnsafeCell::new(value),
        }
    }

    /// An unlocked mutex holding `value`; its lock class is the caller's
    /// site.
    #[cfg(perf_runtime_loom)]
    #[track_caller]
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            futex: Futex::new(UNLOCKED),
            meta: LockMeta::new(LockKind::BlockingMutex),
            data: UnsafeCell::new(value),
        }
    }

    /// An unlocked mutex of an explicit lock class (perf_runtime only; see
    /// [`sync::Mutex::with_class`](crate::sync::Mutex::with_class)). A
    /// blocking and an async mutex of one class are ordered as one.
    #[cfg(not(perf_runtime_loom))]
    #[track_caller]
    pub const fn with_class(value: T, class: &'static LockClass) -> Mutex<T> {
        Mutex {
            futex: Futex::new(UNLOCKED),
            meta: LockMeta::with_class(LockKind::BlockingMutex, class),
            data: UnsafeCell::new(value),
        }
    }

    /// As [`with_class`](Mutex::with_class), with the instance's nesting
    /// key (for classes declared
    /// [`Nesting::ByKey`](crate::validation::Nesting::ByKey)).
    #[cfg(not(perf_runtime_loom))]
    #[track_caller]
    pub const fn with_class_and_key(value: T, class: &'static LockClass, key: u64) -> Mutex<T> {
        Mutex {
            futex: Futex::new(UNLOCKED),
            meta: LockMeta::with_class_and_key(LockKind::BlockingMutex, class, key),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex, returning the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, blocking the thread until it is free.
    ///
    /// Not reentrant: locking it again on the same thread while a guard is
    /// alive deadlocks (the validation engine reports it as a `DoubleLock`
    /// first).
    #[inline]
    #[track_caller]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        let held = self.meta.acquire(Access::Exclusive);
        if self
            .futex
            .word()
            .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
            .is_err()
        {
            self.lock_contended(&held, Location::caller());
        }
        MutexGuard {
            lock: self,
            _held: HeldToken::new(held),
            _not_send: PhantomData,
        }
    }

    /// Locks the mutex if it is free now.
    #[inline]
    #[track_caller]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.futex
            .word()
            .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
            .ok()
            .map(|_| MutexGuard {
                lock: self,
                _held: HeldToken::new(self.meta.try_acquired(Access::Exclusive)),
                _not_send: PhantomData,
            })
    }

    /// True if some thread holds the lock (a racy snapshot).
    pub fn is_locked(&self) -> bool {
        self.futex.word().load(Relaxed) != UNLOCKED
    }

    /// True if a thread announced it may be asleep on the lock.
    #[cfg(all(test, not(perf_runtime_loom)))]
    pub(crate) fn is_contended(&self) -> bool {
        self.futex.word().load(Relaxed) == CONTENDED
    }

    /// The data, through a unique borrow (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` proves no guard exists.
        self.data.with_mut(|p| unsafe { &mut *p })
    }

    #[cold]
    #[inline(never)]
    fn lock_contended(&self, held: &Held, site: &'static Location<'static>) {
        let word = self.futex.word();
        let mut state = self.spin();
        if state == UNLOCKED {
            match word.compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed) {
                Ok(_) => return,
                Err(s) => state = s,
            }
        }
        // Registered before the first sleep, ended when the lock is ours.
        let mut waiting: Option<Waiting> = None;
        loop {
            // Invariant 2: announce a (possible) sleeper before sleeping; if
            // the lock was free, the swap took it.
            if state != CONTENDED && word.swap(CONTENDED, Acquire) == UNLOCKED {
                if waiting.is_some() {
                    // Ends a counted wait (the guard is then empty).
                    held.acquired();
                }
                return;
            }
            if waiting.is_none() {
                waiting = Some(self.meta.wait_at(held, site));
            }
            self.futex.wait(CONTENDED);
            state = self.spin();
        }
    }

    /// Spins while the lock is held by a thread that has no sleeper behind
    /// it (it is probably about to release); returns the last state seen.
    fn spin(&self) -> u32 {
        let word = self.futex.word();
        let backoff = crossbeam_utils::Backoff::new();
        loop {
            let state = word.load(Relaxed);
            if !SPIN || state != LOCKED || backoff.is_completed() {
                return state;
            }
            // `snooze`, not `spin`: `spin` stops counting at its spin limit,
            // so `is_completed` would never turn true and a waiter behind a
            // long-held lock would spin forever instead of parking.
            backoff.snooze();
        }
    }

    #[inline]
    fn unlock(&self) {
        if self.futex.word().swap(UNLOCKED, Release) == CONTENDED {
            self.wake_one();
        }
    }

    #[cold]
    #[inline(never)]
    fn wake_one(&self) {
        self.futex.wake_one();
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("blocking::Mutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// The guard of [`Mutex::lock`]; unlocks when dropped. `!Send`: it must be
/// dropped on the thread that locked (the engine tracks holders per thread,
/// and a guard moved into another task would hide that).
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    lock: &'a Mutex<T>,
    /// Un-records the lock when the guard drops.
    _held: HeldToken,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing the guard shares `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock (invariant 1).
        self.lock.data.with(|p| unsafe { &*p })
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock (invariant 1).
        self.lock.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
