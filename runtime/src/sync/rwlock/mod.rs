//! The async `RwLock`: a [`BatchSemaphore`] with `max_readers` permits; a
//! reader takes one, a writer takes all of them.
//!
//! - `guard.rs`: the borrowed guards (read, write, mapped write).
//! - `owned_guard.rs`: the `Arc`-holding guards.
//!
//! Fairness and writer preference come from the semaphore's FIFO queue
//! (invariant 2 in `batch_semaphore.rs`): a queued writer holds every permit
//! freed while it waits, so readers that arrive after it queue behind it
//! instead of starving it; readers queued behind a writer are admitted
//! together once it releases.
//!
//! Invariant: the permits held by guards always add up to what they took
//! (one per read guard, `max_readers` per write guard), so a write guard
//! exists only while no read guard does.
//!
//! Validation: the lock embeds a [`LockMeta`]; `read()` acquires
//! [`Access::Shared`] and `write()` [`Access::Exclusive`] through
//! [`TrackedAcquire`] (so a read taken again by its holder is a
//! `RecursiveRead`), and borrowed guards keep the [`Held`](crate::validation::Held) token. Owned
//! guards are checked, not recorded.

mod guard;
mod owned_guard;

pub use guard::{RwLockMappedWriteGuard, RwLockReadGuard, RwLockWriteGuard};
pub use owned_guard::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard};

use super::batch_semaphore::BatchSemaphore;
use super::class_stats::LockStats;
use super::mutex::TryLockError;
use super::tracking::{Acquiring, Track, TrackedAcquire};
use crate::loom::cell::UnsafeCell;
use crate::validation::{Access, LockClass, LockKind, LockMeta};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

/// The most concurrent readers an `RwLock` allows (tokio's limit).
#[cfg(not(perf_runtime_loom))]
const MAX_READS: u32 = u32::MAX >> 3;
/// Small under loom, so a writer's permit count stays cheap to model.
#[cfg(perf_runtime_loom)]
const MAX_READS: u32 = 10;

/// An asynchronous reader-writer lock, as `tokio::sync::RwLock`: fair (FIFO)
/// and writer-preferring.
///
/// ```
/// use perf_runtime::sync::RwLock;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let lock = RwLock::new(5);
/// {
///     let r1 = lock.read().await;
///     let r2 = lock.read().await;
///     assert_eq!(*r1 + *r2, 10);
/// }
/// *lock.write().await += 1;
/// assert_eq!(*lock.read().await, 6);
/// # });
/// ```
pub struct RwLock<T: ?Sized> {
    /// The validation record with the metrics state: class slot,
    /// hold-time sampling, live count (as `Mutex`'s; borrowed guards are
    /// timed, owned ones are not).
    meta: LockStats,
    max_readers: u32,
    s: BatchSemaphore,
    c: UnsafeCell<T>,
}

// SAFETY: a write guard hands out `&mut T` on any thread (`T: Send`); read
// guards share `&T` across threads (`T: Sync`) — as `std::sync::RwLock`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T> RwLock<T> {
    /// An unlocked lock holding `value`, allowing `u32::MAX >> 3` readers.
    #[track_caller]
    pub fn new(value: T) -> RwLock<T> {
        RwLock::with_max_readers(value, MAX_READS)
    }

    /// An unlocked lock allowing at most `max_reads` concurrent readers.
    ///
    /// # Panics
    /// If `max_reads` is 0 or more than `u32::MAX >> 3`.
    #[track_caller]
    pub fn with_max_readers(value: T, max_reads: u32) -> RwLock<T> {
        RwLock::build(value, max_reads, LockMeta::new(LockKind::RwLock))
    }

    /// An unlocked lock of an explicit lock class (perf_runtime only; see
    /// [`Mutex::with_class`](crate::sync::Mutex::with_class)).
    #[track_caller]
    pub fn with_class(value: T, class: &'static LockClass) -> RwLock<T> {
        RwLock::build(
            value,
            MAX_READS,
            LockMeta::with_class(LockKind::RwLock, class),
        )
    }

    /// As [`with_class`](RwLock::with_class), with the instance's nesting
    /// key (for classes declared
    /// [`Nesting::ByKey`](crate::validation::Nesting::ByKey)).
    #[track_caller]
    pub fn with_class_and_key(value: T, class: &'static LockClass, key: u64) -> RwLock<T> {
        RwLock::build(
            value,
            MAX_READS,
            LockMeta::with_class_and_key(LockKind::RwLock, class, key),
        )
    }

    #[track_caller]
    fn build(value: T, max_reads: u32, meta: LockMeta) -> RwLock<T> {
        assert!(
            max_reads != 0,
            "RwLock::with_max_readers: `max_reads` must be at least 1, was 0"
        );
        assert!(
            max_reads <= MAX_READS,
            "RwLock::with_max_readers: `max_reads` may be at most u32::MAX >> 3 ({MAX_READS}), \
             was {max_reads}"
        );
        RwLock {
            meta: LockStats::new(meta),
            max_readers: max_reads,
            s: BatchSemaphore::new(max_reads as usize),
            c: UnsafeCell::new(value),
        }
    }

    /// As [`new`](RwLock::new), usable in a `static`.
    #[cfg(not(perf_runtime_loom))]
    #[track_caller]
    pub const fn const_new(value: T) -> RwLock<T> {
        RwLock {
            meta: LockStats::new_static(LockMeta::new(LockKind::RwLock)),
            max_readers: MAX_READS,
            s: BatchSemaphore::const_new(MAX_READS as usize),
            c: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock, returning the data.
    pub fn into_inner(self) -> T {
        self.c.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for shared reading, waiting in FIFO order (behind any queued
    /// writer).
    ///
    /// # Cancel safety
    /// Dropping the future gives up its place in the queue; nothing else is
    /// lost, and a read permit already handed to it is passed on.
    #[track_caller]
    #[inline]
    pub fn read(&self) -> impl Future<Output = RwLockReadGuard<'_, T>> + '_ {
        let track = Track::Lock {
            meta: &self.meta,
            access: Access::Shared,
        };
        let acquire = TrackedAcquire::new(&self.s, 1, track, Location::caller());
        Acquiring::new(acquire, move |res| match res {
            Ok(held) => {
                RwLockReadGuard::new(&self.s, self.data_shared(), held, self.meta.hold_start())
            }
            Err(_) => unreachable!("an RwLock's semaphore is never closed"),
        })
    }

    /// As [`read`](RwLock::read), for an `Arc`-held lock.
    ///
    /// # Cancel safety
    /// As [`read`](RwLock::read).
    #[track_caller]
    pub fn read_owned(self: Arc<Self>) -> impl Future<Output = OwnedRwLockReadGuard<T>> {
        let site = Location::caller();
        async move {
            owned_acquire(&self, 1, Access::Shared, site).await;
            OwnedRwLockReadGuard::new(self)
        }
    }

    /// Locks for shared reading if that needs no waiting (no writer holds or
    /// waits for the lock).
    #[track_caller]
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        match self.s.try_acquire(1) {
            Ok(()) => Ok(RwLockReadGuard::new(
                &self.s,
                self.data_shared(),
                self.meta.try_acquired(Access::Shared),
                self.meta.hold_start(),
            )),
            Err(_) => Err(TryLockError(())),
        }
    }

    /// As [`try_read`](RwLock::try_read), for an `Arc`-held lock (not
    /// recorded by the validation engine: the guard may move).
    pub fn try_read_owned(self: Arc<Self>) -> Result<OwnedRwLockReadGuard<T>, TryLockError> {
        match self.s.try_acquire(1) {
            Ok(()) => Ok(OwnedRwLockReadGuard::new(self)),
            Err(_) => Err(TryLockError(())),
        }
    }

    /// Locks for exclusive writing, waiting in FIFO order.
    ///
    /// # Cancel safety
    /// Dropping the future gives up its place in the queue and hands any
    /// permits already assigned to it to the next waiter.
    #[track_caller]
    #[inline]
    pub fn write(&self) -> impl Future<Output = RwLockWriteGuard<'_, T>> + '_ {
        let track = Track::Lock {
            meta: &self.meta,
            access: Access::Exclusive,
        };
        let acquire = TrackedAcquire::new(&self.s, self.max_readers, track, Location::caller());
        Acquiring::new(acquire, move |res| match res {
            Ok(held) => RwLockWriteGuard::new(
                &self.s,
                &self.meta,
                self.data_mut(),
                self.max_readers,
                held,
                self.meta.hold_start(),
            ),
            Err(_) => unreachable!("an RwLock's semaphore is never closed"),
        })
    }

    /// As [`write`](RwLock::write), for an `Arc`-held lock.
    ///
    /// # Cancel safety
    /// As [`write`](RwLock::write).
    #[track_caller]
    pub fn write_owned(self: Arc<Self>) -> impl Future<Output = OwnedRwLockWriteGuard<T>> {
        let site = Location::caller();
        async move {
            owned_acquire(&self, self.max_readers, Access::Exclusive, site).await;
            OwnedRwLockWriteGuard::new(self)
        }
    }

    /// Locks for writing if that needs no waiting.
    #[track_caller]
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryLockError> {
        match self.s.try_acquire(self.max_readers as usize) {
            Ok(()) => Ok(RwLockWriteGuard::new(
                &self.s,
                &self.meta,
                self.data_mut(),
                self.max_readers,
                self.meta.try_acquired(Access::Exclusive),
                self.meta.hold_start(),
            )),
            Err(_) => Err(TryLockError(())),
        }
    }

    /// As [`try_write`](RwLock::try_write), for an `Arc`-held lock (not
    /// recorded by the validation engine: the guard may move).
    pub fn try_write_owned(self: Arc<Self>) -> Result<OwnedRwLockWriteGuard<T>, TryLockError> {
        match self.s.try_acquire(self.max_readers as usize) {
            Ok(()) => Ok(OwnedRwLockWriteGuard::new(self)),
            Err(_) => Err(TryLockError(())),
        }
    }

    /// Locks for reading from synchronous code, blocking the thread.
    ///
    /// # Panics
    /// Inside a runtime (a worker or `block_on`).
    #[track_caller]
    pub fn blocking_read(&self) -> RwLockReadGuard<'_, T> {
        super::block_on("RwLock::blocking_read", self.read())
    }

    /// Locks for writing from synchronous code, blocking the thread.
    ///
    /// # Panics
    /// Inside a runtime (a worker or `block_on`).
    #[track_caller]
    pub fn blocking_write(&self) -> RwLockWriteGuard<'_, T> {
        super::block_on("RwLock::blocking_write", self.write())
    }

    /// The data, through a unique borrow (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` proves no guard exists.
        self.c.with_mut(|p| unsafe { &mut *p })
    }

    /// A pointer to the data for a read guard (a shared access).
    fn data_shared(&self) -> *const T {
        self.c.with(|p| p)
    }

    /// A pointer to the data for a write guard (an exclusive access).
    fn data_mut(&self) -> *mut T {
        self.c.with_mut(|p| p)
    }
}

/// Takes `n` permits for an owned guard: checked, not recorded.
async fn owned_acquire<T: ?Sized>(
    lock: &RwLock<T>,
    n: u32,
    access: Access,
    site: &'static Location<'static>,
) {
    let track = Track::Owned {
        meta: &lock.meta,
        access,
    };
    if TrackedAcquire::new(&lock.s, n, track, site).await.is_err() {
        unreachable!("an RwLock's semaphore is never closed");
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(t: T) -> RwLock<T> {
        RwLock::new(t)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(guard) => d.field("data", &&*guard),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}
