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

mod guard;
mod owned_guard;

pub use guard::{RwLockMappedWriteGuard, RwLockReadGuard, RwLockWriteGuard};
pub use owned_guard::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard};

use super::batch_semaphore::BatchSemaphore;
use super::mutex::TryLockError;
use crate::loom::cell::UnsafeCell;
use std::fmt;
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
            max_readers: max_reads,
            s: BatchSemaphore::new(max_reads as usize),
            c: UnsafeCell::new(value),
        }
    }

    /// As [`new`](RwLock::new), usable in a `static`.
    #[cfg(not(perf_runtime_loom))]
    pub const fn const_new(value: T) -> RwLock<T> {
        RwLock {
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
    pub async fn read(&self) -> RwLockReadGuard<'_, T> {
        acquire(&self.s, 1).await;
        RwLockReadGuard::new(&self.s, self.data_shared())
    }

    /// As [`read`](RwLock::read), for an `Arc`-held lock.
    ///
    /// # Cancel safety
    /// As [`read`](RwLock::read).
    pub async fn read_owned(self: Arc<Self>) -> OwnedRwLockReadGuard<T> {
        acquire(&self.s, 1).await;
        OwnedRwLockReadGuard::new(self)
    }

    /// Locks for shared reading if that needs no waiting (no writer holds or
    /// waits for the lock).
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        match self.s.try_acquire(1) {
            Ok(()) => Ok(RwLockReadGuard::new(&self.s, self.data_shared())),
            Err(_) => Err(TryLockError(())),
        }
    }

    /// As [`try_read`](RwLock::try_read), for an `Arc`-held lock.
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
    pub async fn write(&self) -> RwLockWriteGuard<'_, T> {
        acquire(&self.s, self.max_readers as usize).await;
        RwLockWriteGuard::new(&self.s, self.data_mut(), self.max_readers)
    }

    /// As [`write`](RwLock::write), for an `Arc`-held lock.
    ///
    /// # Cancel safety
    /// As [`write`](RwLock::write).
    pub async fn write_owned(self: Arc<Self>) -> OwnedRwLockWriteGuard<T> {
        acquire(&self.s, self.max_readers as usize).await;
        OwnedRwLockWriteGuard::new(self)
    }

    /// Locks for writing if that needs no waiting.
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryLockError> {
        match self.s.try_acquire(self.max_readers as usize) {
            Ok(()) => Ok(RwLockWriteGuard::new(
                &self.s,
                self.data_mut(),
                self.max_readers,
            )),
            Err(_) => Err(TryLockError(())),
        }
    }

    /// As [`try_write`](RwLock::try_write), for an `Arc`-held lock.
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

async fn acquire(s: &BatchSemaphore, n: usize) {
    if s.acquire(n).await.is_err() {
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
