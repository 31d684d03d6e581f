//! The async `Mutex`: a [`BatchSemaphore`] with one permit guarding an
//! `UnsafeCell`.
//!
//! Invariant: a guard (borrowed, owned or mapped) exists exactly while the
//! one permit is taken, so at most one guard reaches the data; dropping a
//! guard releases the permit, handing the lock straight to the oldest
//! queued `lock()` (FIFO, no barging).
//!
//! # Validation
//!
//! The mutex embeds a [`LockMeta`] (class: the creation site, or the one
//! given to [`Mutex::with_class`]). `lock()` captures its caller's site and
//! acquires through [`TrackedAcquire`] (see `tracking.rs`); every borrowed
//! guard — plain or mapped — keeps the [`Held`](crate::validation::Held) token and un-records the
//! lock when dropped. `try_lock` records a try; owned guards are checked
//! but not recorded (they may move to another task).
//!
//! # Metrics
//!
//! Its [`LockMeta`] lives in a [`LockStats`] with the metrics state: its
//! class's metrics slot (cached at first use) and its place in the
//! live-lock count. One acquisition in 1024 of each mutex is timed from
//! grant to guard drop for the class's hold histogram; the count and the
//! timed hold's start are kept in the mutex (`MutexHolds`), which only the
//! guard's holder touches, so a guard carries no timer.

use super::batch_semaphore::{BatchSemaphore, TryAcquireError};
use super::class_stats::{LockStats, MutexHolds};
use super::tracking::{Acquiring, HeldToken, Track, TrackedAcquire};
use crate::loom::cell::UnsafeCell;
use crate::validation::{Access, LockClass, LockKind, LockMeta};
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::Arc;

/// An asynchronous mutual-exclusion lock, as `tokio::sync::Mutex`.
///
/// Waiters are served in the order they called [`lock`](Mutex::lock); a
/// guard may be held across `.await`. For short critical sections that never
/// await, [`blocking::Mutex`](crate::sync::blocking::Mutex) is cheaper.
///
/// ```
/// use perf_runtime::sync::Mutex;
/// use std::sync::Arc;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let count = Arc::new(Mutex::new(0));
/// let tasks: Vec<_> = (0..4)
///     .map(|_| {
///         let count = count.clone();
///         perf_runtime::spawn(async move { *count.lock().await += 1 })
///     })
///     .collect();
/// for t in tasks {
///     t.await.unwrap();
/// }
/// assert_eq!(*count.lock().await, 4);
/// # });
/// ```
pub struct Mutex<T: ?Sized> {
    raw: RawMutex,
    c: UnsafeCell<T>,
}

/// A mutex without its data: what a guard needs to unlock, whatever it
/// has been mapped to.
struct RawMutex {
    meta: LockStats,
    s: BatchSemaphore,
    /// Hold sampling: touched only by the permit's holder.
    holds: MutexHolds,
}

impl RawMutex {
    /// Counts a granted acquisition for hold sampling.
    ///
    /// # Safety
    /// The caller has just been granted the permit, and keeps it until
    /// [`unlock`](Self::unlock).
    #[inline]
    unsafe fn granted(&self) {
        // SAFETY: the caller holds the permit (above).
        unsafe { self.holds.granted() }
    }

    /// Releases the permit (and records the hold if it was timed).
    ///
    /// # Safety
    /// The caller holds the permit, [`granted`](Self::granted) it, and
    /// gives it up here.
    #[inline]
    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the permit and was granted it (above).
        unsafe { self.holds.release(&self.s, &self.meta) }
    }
}

// SAFETY: the mutex hands out `&mut T` to one guard at a time, possibly on
// another thread: `T: Send` is what that needs (as `std::sync::Mutex`).
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Why [`Mutex::try_lock`] (or an `RwLock::try_*`) failed: the lock is held
/// or others are queued for it.
///
/// ```
/// use perf_runtime::sync::Mutex;
///
/// let cache = Mutex::new(0);
/// let held = cache.try_lock().unwrap();
/// // Skip the optional work rather than wait for the lock.
/// assert!(cache.try_lock().is_err());
/// drop(held);
/// assert!(cache.try_lock().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryLockError(pub(super) ());

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the lock is held or other tasks are queued for it; retry later or await `lock()`",
        )
    }
}

impl Error for TryLockError {}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `t`. Its lock class, for the validation
    /// engine, is the caller's site: every mutex created on this line is
    /// ordered as one.
    #[track_caller]
    pub fn new(t: T) -> Mutex<T> {
        Mutex {
            raw: RawMutex {
                meta: LockStats::new(LockMeta::new(LockKind::Mutex)),
                s: BatchSemaphore::new(1),
                holds: MutexHolds::new(),
            },
            c: UnsafeCell::new(t),
        }
    }

    /// As [`new`](Mutex::new), usable in a `static`.
    #[cfg(not(perf_runtime_loom))]
    #[track_caller]
    pub const fn const_new(t: T) -> Mutex<T> {
        Mutex {
            raw: RawMutex {
                meta: LockStats::new_static(LockMeta::new(LockKind::Mutex)),
                s: BatchSemaphore::const_new(1),
                holds: MutexHolds::new_static(),
            },
            c: UnsafeCell::new(t),
        }
    }

    /// An unlocked mutex of an explicit lock class (perf_runtime only;
    /// tokio has no lock classes): a name in reports, and optionally a
    /// [`Level`](crate::validation::Level) for hierarchy enforcement or a
    /// [`Nesting`](crate::validation::Nesting) rule for striped locks.
    ///
    /// ```
    /// use perf_runtime::sync::Mutex;
    /// use perf_runtime::validation::{Level, LockClass};
    ///
    /// static ACCOUNTS: LockClass = LockClass::new("accounts").with_level(Level::new(10));
    /// let m = Mutex::with_class(0u64, &ACCOUNTS);
    /// # drop(m);
    /// ```
    #[track_caller]
    pub fn with_class(t: T, class: &'static LockClass) -> Mutex<T> {
        Mutex {
            raw: RawMutex {
                meta: LockStats::new(LockMeta::with_class(LockKind::Mutex, class)),
                s: BatchSemaphore::new(1),
                holds: MutexHolds::new(),
            },
            c: UnsafeCell::new(t),
        }
    }

    /// As [`with_class`](Mutex::with_class), with the instance's nesting
    /// key: instances of a class declared
    /// [`Nesting::ByKey`](crate::validation::Nesting::ByKey) nest in
    /// increasing key order.
    #[track_caller]
    pub fn with_class_and_key(t: T, class: &'static LockClass, key: u64) -> Mutex<T> {
        Mutex {
            raw: RawMutex {
                meta: LockStats::new(LockMeta::with_class_and_key(LockKind::Mutex, class, key)),
                s: BatchSemaphore::new(1),
                holds: MutexHolds::new(),
            },
            c: UnsafeCell::new(t),
        }
    }

    /// As [`with_class`](Mutex::with_class), usable in a `static`.
    #[cfg(not(perf_runtime_loom))]
    #[track_caller]
    pub const fn const_with_class(t: T, class: &'static LockClass) -> Mutex<T> {
        Mutex {
            raw: RawMutex {
                meta: LockStats::new_static(LockMeta::with_class(LockKind::Mutex, class)),
                s: BatchSemaphore::const_new(1),
                holds: MutexHolds::new_static(),
            },
            c: UnsafeCell::new(t),
        }
    }

    /// Consumes the mutex, returning the data.
    pub fn into_inner(self) -> T {
        self.c.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, waiting in FIFO order behind earlier callers.
    ///
    /// Called as tokio's (`m.lock().await`); the site of this call is the
    /// acquisition site in validation reports.
    ///
    /// # Cancel safety
    /// Dropping the future before it completes gives up its place in the
    /// queue and nothing else: if the lock had already been handed to it, the
    /// lock passes on to the next waiter.
    #[track_caller]
    #[inline]
    pub fn lock(&self) -> impl Future<Output = MutexGuard<'_, T>> + '_ {
        let track = Track::Lock {
            meta: &self.raw.meta,
            access: Access::Exclusive,
        };
        let acquire = TrackedAcquire::new(&self.raw.s, 1, track, Location::caller());
        Acquiring::new(acquire, move |res| match res {
            Ok(held) => {
                // SAFETY: granted the permit, which the guard keeps.
                unsafe { self.raw.granted() };
                MutexGuard {
                    lock: self,
                    held: HeldToken::new(held),
                }
            }
            Err(_) => unreachable!("a Mutex's semaphore is never closed"),
        })
    }

    /// Locks an `Arc`-held mutex; the guard keeps the `Arc` and is `'static`.
    ///
    /// # Cancel safety
    /// As [`lock`](Mutex::lock).
    #[track_caller]
    pub fn lock_owned(self: Arc<Self>) -> impl Future<Output = OwnedMutexGuard<T>> {
        let site = Location::caller();
        async move {
            let track = Track::Owned {
                meta: &self.raw.meta,
                access: Access::Exclusive,
            };
            let Ok(held) = TrackedAcquire::new(&self.raw.s, 1, track, site).await else {
                unreachable!("a Mutex's semaphore is never closed");
            };
            // SAFETY: granted the permit, which the guard keeps.
            unsafe { self.raw.granted() };
            OwnedMutexGuard {
                lock: self,
                held: HeldToken::new(held),
            }
        }
    }

    /// Locks the mutex if that is possible without waiting (it is free and
    /// nobody is queued).
    #[track_caller]
    #[inline]
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        match self.raw.s.try_acquire(1) {
            Ok(()) => {
                // SAFETY: granted the permit, which the guard keeps.
                unsafe { self.raw.granted() };
                Ok(MutexGuard {
                    lock: self,
                    held: HeldToken::new(self.raw.meta.try_acquired(Access::Exclusive)),
                })
            }
            Err(_) => Err(TryLockError(())),
        }
    }

    /// As [`try_lock`](Mutex::try_lock), for an `Arc`-held mutex. Not
    /// recorded by the validation engine (the guard may move to another
    /// task).
    pub fn try_lock_owned(self: Arc<Self>) -> Result<OwnedMutexGuard<T>, TryLockError> {
        match self.raw.s.try_acquire(1) {
            Ok(()) => {
                // SAFETY: granted the permit, which the guard keeps.
                unsafe { self.raw.granted() };
                Ok(OwnedMutexGuard {
                    lock: self,
                    held: HeldToken::empty(),
                })
            }
            Err(_) => Err(TryLockError(())),
        }
    }

    /// Locks the mutex from synchronous code, blocking the thread.
    ///
    /// # Panics
    /// Inside a runtime (a worker or `block_on`): blocking there would stall
    /// the tasks that thread drives. Call it from `spawn_blocking` or a plain
    /// thread.
    #[track_caller]
    pub fn blocking_lock(&self) -> MutexGuard<'_, T> {
        super::block_on("Mutex::blocking_lock", self.lock())
    }

    /// As [`blocking_lock`](Mutex::blocking_lock), for an `Arc`-held mutex.
    ///
    /// # Panics
    /// Inside a runtime, as `blocking_lock`.
    #[track_caller]
    pub fn blocking_lock_owned(self: Arc<Self>) -> OwnedMutexGuard<T> {
        super::block_on("Mutex::blocking_lock_owned", self.lock_owned())
    }

    /// The data, through a unique borrow (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` proves no guard exists.
        self.c.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: ?Sized> Mutex<T> {
    /// # Safety
    /// The caller holds the permit (is a guard).
    unsafe fn data(&self) -> *mut T {
        self.c.with_mut(|p| p)
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(t: T) -> Mutex<T> {
        Mutex::new(t)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.raw.s.try_acquire(1) {
            Ok(()) => {
                // SAFETY: we hold the permit until the release below.
                d.field("data", &unsafe { &*self.data() });
                self.raw.s.release(1);
            }
            Err(TryAcquireError::Closed | TryAcquireError::NoPermits) => {
                d.field("data", &format_args!("<locked>"));
            }
        }
        d.finish()
    }
}

/// The guard of [`Mutex::lock`]; unlocks when dropped.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    lock: &'a Mutex<T>,
    held: HeldToken,
}

// SAFETY: sharing the guard shares `&T` only.
unsafe impl<T: ?Sized + Send + Sync> Sync for MutexGuard<'_, T> {}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks.
    pub fn mutex(this: &Self) -> &'a Mutex<T> {
        this.lock
    }

    /// Narrows the guard to a part of the data; the lock stays held.
    pub fn map<U: ?Sized, F>(mut this: Self, f: F) -> MappedMutexGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let data = f(&mut *this) as *mut U;
        let this = ManuallyDrop::new(this);
        MappedMutexGuard {
            raw: &this.lock.raw,
            data,
            // SAFETY: `this` is never used or dropped again: moved out once.
            held: unsafe { std::ptr::read(&this.held) },
            _marker: PhantomData,
        }
    }

    /// As [`map`](Self::map), but `f` may decline, returning the guard.
    pub fn try_map<U: ?Sized, F>(mut this: Self, f: F) -> Result<MappedMutexGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let data = match f(&mut *this) {
            Some(d) => d as *mut U,
            None => return Err(this),
        };
        drop(this.held.take());
        let this = ManuallyDrop::new(this);
        Ok(MappedMutexGuard {
            raw: &this.lock.raw,
            data,
            // SAFETY: as in `map`.
            held: unsafe { std::ptr::read(&this.held) },
            _marker: PhantomData,
        })
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a guard holds the permit (module invariant).
        unsafe { &*self.lock.data() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: a guard holds the permit (module invariant).
        unsafe { &mut *self.lock.data() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: a guard holds the permit, granted through `granted`.
        unsafe { self.lock.raw.unlock() };
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

/// The guard of [`Mutex::lock_owned`]: holds the `Arc`, so it is `'static`.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct OwnedMutexGuard<T: ?Sized> {
    lock: Arc<Mutex<T>>,
    /// The lock as the validation engine records it: held by the task that
    /// acquired it, for the wait-for graph only (`LockMeta::acquire_owned_at`);
    /// un-recorded wherever the guard is dropped.
    held: HeldToken,
}

// SAFETY: as `MutexGuard`.
unsafe impl<T: ?Sized + Send + Sync> Sync for OwnedMutexGuard<T> {}

impl<T: ?Sized> OwnedMutexGuard<T> {
    /// The mutex this guard locks.
    pub fn mutex(this: &Self) -> &Arc<Mutex<T>> {
        &this.lock
    }

    /// Narrows the guard to a part of the data; the lock stays held.
    pub fn map<U: ?Sized, F>(mut this: Self, f: F) -> OwnedMappedMutexGuard<T, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let data = f(&mut *this) as *mut U;
        // A mapped guard is not followed by the engine.
        drop(this.held.take());
        let this = ManuallyDrop::new(this);
        // SAFETY: `this` is never used or dropped again; the Arc moves out (the `held` slot left behind is empty: nothing to drop).
        let lock = unsafe { std::ptr::read(&this.lock) };
        OwnedMappedMutexGuard { data, lock }
    }

    /// As [`map`](Self::map), but `f` may decline, returning the guard.
    pub fn try_map<U: ?Sized, F>(mut this: Self, f: F) -> Result<OwnedMappedMutexGuard<T, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let data = match f(&mut *this) {
            Some(d) => d as *mut U,
            None => return Err(this),
        };
        drop(this.held.take());
        let this = ManuallyDrop::new(this);
        // SAFETY: as in `map`.
        let lock = unsafe { std::ptr::read(&this.lock) };
        Ok(OwnedMappedMutexGuard { data, lock })
    }
}

impl<T: ?Sized> Deref for OwnedMutexGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a guard holds the permit.
        unsafe { &*self.lock.data() }
    }
}

impl<T: ?Sized> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: a guard holds the permit.
        unsafe { &mut *self.lock.data() }
    }
}

impl<T: ?Sized> Drop for OwnedMutexGuard<T> {
    fn drop(&mut self) {
        drop(self.held.take());
        // SAFETY: a guard holds the permit, granted through `granted`.
        unsafe { self.lock.raw.unlock() };
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// A [`MutexGuard`] narrowed by [`MutexGuard::map`] to a part of the data.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MappedMutexGuard<'a, T: ?Sized> {
    raw: &'a RawMutex,
    data: *mut T,
    held: HeldToken,
    _marker: PhantomData<&'a mut T>,
}

// SAFETY: the guard is a `&'a mut T` in all but name (it holds the lock's
// permit), so it is `Send`/`Sync` when that would be.
unsafe impl<T: ?Sized + Send> Send for MappedMutexGuard<'_, T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Sync> Sync for MappedMutexGuard<'_, T> {}

impl<'a, T: ?Sized> MappedMutexGuard<'a, T> {
    /// Narrows the guard further.
    pub fn map<U: ?Sized, F>(mut this: Self, f: F) -> MappedMutexGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let data = f(&mut *this) as *mut U;
        let this = ManuallyDrop::new(this);
        MappedMutexGuard {
            raw: this.raw,
            data,
            // SAFETY: `this` is never used or dropped again: moved out once.
            held: unsafe { std::ptr::read(&this.held) },
            _marker: PhantomData,
        }
    }
}

impl<T: ?Sized> Deref for MappedMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the pointer was derived from the guarded data and the permit is still held.
        unsafe { &*self.data }
    }
}

impl<T: ?Sized> DerefMut for MappedMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`.
        unsafe { &mut *self.data }
    }
}

impl<T: ?Sized> Drop for MappedMutexGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the guard holds the permit, granted through `granted`.
        unsafe { self.raw.unlock() };
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MappedMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// An [`OwnedMutexGuard`] narrowed by [`OwnedMutexGuard::map`].
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct OwnedMappedMutexGuard<T: ?Sized, U: ?Sized = T> {
    data: *mut U,
    lock: Arc<Mutex<T>>,
}

// SAFETY: the guard owns the lock's permit and points into its data; it is a
// `Box<U>`-like owner of `U` for as long as it lives.
unsafe impl<T: ?Sized + Send, U: ?Sized + Send> Send for OwnedMappedMutexGuard<T, U> {}
// SAFETY: as above, sharing it shares `&U`.
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Send + Sync> Sync for OwnedMappedMutexGuard<T, U> {}

impl<T: ?Sized, U: ?Sized> Deref for OwnedMappedMutexGuard<T, U> {
    type Target = U;
    fn deref(&self) -> &U {
        // SAFETY: derived from the guarded data; the permit is held.
        unsafe { &*self.data }
    }
}

impl<T: ?Sized, U: ?Sized> DerefMut for OwnedMappedMutexGuard<T, U> {
    fn deref_mut(&mut self) -> &mut U {
        // SAFETY: as in `deref`.
        unsafe { &mut *self.data }
    }
}

impl<T: ?Sized, U: ?Sized> Drop for OwnedMappedMutexGuard<T, U> {
    fn drop(&mut self) {
        // SAFETY: the guard holds the permit, granted through `granted`.
        unsafe { self.lock.raw.unlock() };
    }
}

impl<T: ?Sized, U: ?Sized + fmt::Debug> fmt::Debug for OwnedMappedMutexGuard<T, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
