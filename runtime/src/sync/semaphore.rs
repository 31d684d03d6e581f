//! The public counting `Semaphore`: a thin shell over [`BatchSemaphore`]
//! that ties each grant to a permit guard.
//!
//! Invariant: every `SemaphorePermit`/`OwnedSemaphorePermit` owns exactly
//! `permits` permits of its semaphore and gives them back on drop, unless
//! `forget` consumed it.
//!
//! # Validation
//!
//! The semaphore embeds a [`LockMeta`] of kind `Semaphore`: permits take no
//! part in lock ordering, only in the wait-for graph. A borrowed
//! [`SemaphorePermit`] records its permits as held by the acquiring context
//! (`acquire_permits`). An [`OwnedSemaphorePermit`] is recorded as held by
//! the acquiring context for the wait-for graph only
//! (`acquire_owned_permits_at`): it is usually handed to a spawned task, so
//! a deadlock through it is reported only once it has stayed unchanged
//! across two periodic scans, and its acquirer's own waits on the semaphore
//! never count it. A queued acquire registers a wait with the
//! number of permits handed out — `capacity` (permits in existence, kept
//! off the fast path: only `new`, `add_permits`, `forget_permits` and
//! `forget` change it) minus the free ones and those owed to queued
//! waiters — so the engine concludes a deadlock only when holders it knows
//! account for every one of them.

use super::batch_semaphore::{self, BatchSemaphore};
use super::tracking::{Acquiring, HeldToken, Track, TrackedAcquire};
use crate::validation::{Held, LockClass, LockKind, LockMeta};
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

/// An asynchronous counting semaphore, as `tokio::sync::Semaphore`.
///
/// Acquirers are served in FIFO order: one asking for many permits is not
/// overtaken by later ones asking for few.
///
/// ```
/// use perf_runtime::sync::Semaphore;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let sem = Semaphore::new(2);
/// let a = sem.acquire().await.unwrap();
/// let _b = sem.acquire().await.unwrap();
/// assert!(sem.try_acquire().is_err());
/// drop(a);
/// assert_eq!(sem.available_permits(), 1);
/// # });
/// ```
pub struct Semaphore {
    pub(super) meta: LockMeta,
    /// Permits in existence (for the engine only; see the module docs).
    pub(super) capacity: AtomicUsize,
    pub(super) ll: BatchSemaphore,
}

/// The semaphore was closed; no permit will be granted.
///
/// ```
/// use perf_runtime::sync::Semaphore;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let slots = Semaphore::new(1);
/// slots.close(); // shutting down: admit no more work
/// assert!(slots.acquire().await.is_err());
/// # });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError(());

impl AcquireError {
    fn closed() -> AcquireError {
        AcquireError(())
    }
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed: `Semaphore::close` was called, so no permit will be granted")
    }
}

impl Error for AcquireError {}

/// Why a `try_acquire*` failed.
///
/// ```
/// use perf_runtime::sync::{Semaphore, TryAcquireError};
///
/// let slots = Semaphore::new(1);
/// let _busy = slots.try_acquire().unwrap();
/// assert_eq!(slots.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
/// slots.close();
/// assert!(slots.try_acquire().unwrap_err().is_closed());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryAcquireError {
    /// The semaphore was closed.
    Closed,
    /// Not enough permits are free now (or others are queued for them).
    NoPermits,
}

impl TryAcquireError {
    /// True for [`TryAcquireError::Closed`].
    pub fn is_closed(&self) -> bool {
        matches!(self, TryAcquireError::Closed)
    }

    /// True for [`TryAcquireError::NoPermits`].
    pub fn is_no_permits(&self) -> bool {
        matches!(self, TryAcquireError::NoPermits)
    }
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::Closed => f.write_str("semaphore closed"),
            TryAcquireError::NoPermits => f.write_str(
                "no permits available: all are held or owed to queued acquirers; await `acquire` \
                 to queue",
            ),
        }
    }
}

impl Error for TryAcquireError {}

impl From<batch_semaphore::TryAcquireError> for TryAcquireError {
    fn from(e: batch_semaphore::TryAcquireError) -> TryAcquireError {
        match e {
            batch_semaphore::TryAcquireError::Closed => TryAcquireError::Closed,
            batch_semaphore::TryAcquireError::NoPermits => TryAcquireError::NoPermits,
        }
    }
}

impl Semaphore {
    /// The most permits a semaphore can hold: `usize::MAX >> 3`.
    pub const MAX_PERMITS: usize = batch_semaphore::MAX_PERMITS;

    /// A semaphore with `permits` free permits.
    ///
    /// # Panics
    /// If `permits` exceeds [`Semaphore::MAX_PERMITS`].
    #[track_caller]
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            meta: LockMeta::new(LockKind::Semaphore),
            capacity: AtomicUsize::new(permits),
            ll: BatchSemaphore::new(permits),
        }
    }

    /// As [`new`](Semaphore::new), usable in a `static`.
    #[cfg(not(perf_runtime_loom))]
    #[track_caller]
    pub const fn const_new(permits: usize) -> Semaphore {
        Semaphore {
            meta: LockMeta::new(LockKind::Semaphore),
            capacity: AtomicUsize::new(permits),
            ll: BatchSemaphore::const_new(permits),
        }
    }

    /// A semaphore of an explicit lock class (perf_runtime only): the name
    /// validation reports give it instead of its creation site.
    ///
    /// # Panics
    /// If `permits` exceeds [`Semaphore::MAX_PERMITS`].
    #[track_caller]
    pub fn with_class(permits: usize, class: &'static LockClass) -> Semaphore {
        Semaphore {
            meta: LockMeta::with_class(LockKind::Semaphore, class),
            capacity: AtomicUsize::new(permits),
            ll: BatchSemaphore::new(permits),
        }
    }

    /// Free permits right now.
    pub fn available_permits(&self) -> usize {
        self.ll.available_permits()
    }

    /// Adds `n` permits, serving queued acquirers first (in FIFO order).
    ///
    /// # Panics
    /// If `n` exceeds [`Semaphore::MAX_PERMITS`] minus the free permits (0
    /// while acquirers are queued). The check comes first: a call that
    /// panics serves no waiter and leaves the count as it was.
    #[track_caller]
    pub fn add_permits(&self, n: usize) {
        self.ll.release(n);
        self.capacity.fetch_add(n, Relaxed);
    }

    /// Removes up to `n` free permits for good (held permits are not
    /// touched); returns how many were removed.
    pub fn forget_permits(&self, n: usize) -> usize {
        let removed = self.ll.forget_permits(n);
        self.capacity.fetch_sub(removed, Relaxed);
        removed
    }

    /// Waits for one permit.
    ///
    /// # Cancel safety
    /// Dropping the future gives up its place in the FIFO queue; a permit
    /// already assigned to it passes on to the next waiter.
    #[track_caller]
    #[inline]
    pub fn acquire(&self) -> impl Future<Output = Result<SemaphorePermit<'_>, AcquireError>> + '_ {
        self.acquire_many(1)
    }

    /// Waits for `n` permits, taken together. `n == 0` succeeds at once on
    /// an open semaphore.
    ///
    /// # Cancel safety
    /// As [`acquire`](Semaphore::acquire); permits partly assigned to the
    /// dropped future are passed on.
    #[track_caller]
    #[inline]
    pub fn acquire_many(
        &self,
        n: u32,
    ) -> impl Future<Output = Result<SemaphorePermit<'_>, AcquireError>> + '_ {
        let acquire = TrackedAcquire::new(&self.ll, n, self.track(n, false), Location::caller());
        Acquiring::new(acquire, move |res| match res {
            Ok(held) => Ok(SemaphorePermit {
                sem: self,
                permits: n,
                held: HeldToken::new(held),
            }),
            Err(_) => Err(AcquireError::closed()),
        })
    }

    fn track(&self, permits: u32, owned: bool) -> Track<'_> {
        Track::Permits {
            sem: self,
            permits,
            owned,
        }
    }

    /// Takes one permit if one is free and nobody is queued.
    #[track_caller]
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody is queued.
    #[track_caller]
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.ll.try_acquire(n as usize)?;
        let held = if n > 0 {
            self.meta.acquire_permits(n)
        } else {
            Held::untracked()
        };
        Ok(SemaphorePermit {
            sem: self,
            permits: n,
            held: HeldToken::new(held),
        })
    }

    /// Waits for one permit of an `Arc`-held semaphore; the permit keeps
    /// the `Arc`.
    ///
    /// # Cancel safety
    /// As [`acquire`](Semaphore::acquire).
    #[track_caller]
    pub fn acquire_owned(
        self: Arc<Self>,
    ) -> impl Future<Output = Result<OwnedSemaphorePermit, AcquireError>> {
        self.acquire_many_owned(1)
    }

    /// Waits for `n` permits of an `Arc`-held semaphore.
    ///
    /// # Cancel safety
    /// As [`acquire_many`](Semaphore::acquire_many).
    #[track_caller]
    pub fn acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> impl Future<Output = Result<OwnedSemaphorePermit, AcquireError>> {
        let site = Location::caller();
        async move {
            let held = TrackedAcquire::new(&self.ll, n, self.track(n, true), site)
                .await
                .map_err(|_| AcquireError::closed())?;
            Ok(OwnedSemaphorePermit {
                sem: self,
                permits: n,
                held: HeldToken::new(held),
            })
        }
    }

    /// As [`try_acquire`](Semaphore::try_acquire), for an `Arc`-held
    /// semaphore.
    #[track_caller]
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// As [`try_acquire_many`](Semaphore::try_acquire_many), for an
    /// `Arc`-held semaphore.
    #[track_caller]
    pub fn try_acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.ll.try_acquire(n as usize)?;
        let held = if n > 0 {
            self.meta.acquire_owned_permits_at(n, Location::caller())
        } else {
            Held::untracked()
        };
        Ok(OwnedSemaphorePermit {
            sem: self,
            permits: n,
            held: HeldToken::new(held),
        })
    }

    /// Closes the semaphore: queued and later acquires fail with
    /// [`AcquireError`]. Permits already held stay valid.
    pub fn close(&self) {
        self.ll.close();
    }

    /// True once [`close`](Semaphore::close) was called.
    pub fn is_closed(&self) -> bool {
        self.ll.is_closed()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available_permits", &self.available_permits())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Permits borrowed from a [`Semaphore`]; returned on drop.
#[must_use = "the permits are released at once if the permit is not kept"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    permits: u32,
    held: HeldToken,
}

impl<'a> SemaphorePermit<'a> {
    /// Keeps the permits out of the semaphore for good.
    pub fn forget(self) {
        let this = ManuallyDrop::new(self);
        this.sem.capacity.fetch_sub(this.permits as usize, Relaxed);
        // SAFETY: `this` is never used or dropped again; the token moves out once and is dropped (the permits are no longer held by anyone).
        drop(unsafe { std::ptr::read(&this.held) });
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits as usize
    }

    /// Moves `other`'s permits into `self`.
    ///
    /// # Panics
    /// If the two permits belong to different semaphores.
    #[track_caller]
    pub fn merge(&mut self, mut other: Self) {
        assert!(
            std::ptr::eq(self.sem, other.sem),
            "SemaphorePermit::merge: `other` belongs to a different semaphore"
        );
        // `other` is dropped holding nothing: its record goes, and the engine
        // keeps counting `self`'s (fewer than it holds now: never more).
        self.permits += std::mem::take(&mut other.permits);
    }

    /// Splits `n` permits off into a new permit; `None` if this holds fewer.
    ///
    /// Both parts are then unknown to the validation engine (it cannot tell
    /// which context each ends up in), so it never counts permits that were
    /// given away.
    pub fn split(&mut self, n: usize) -> Option<Self> {
        let n = u32::try_from(n).ok()?;
        if n > self.permits {
            return None;
        }
        self.permits -= n;
        self.held = HeldToken::empty();
        Some(SemaphorePermit {
            sem: self.sem,
            permits: n,
            held: HeldToken::empty(),
        })
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.ll.release(self.permits as usize);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

/// Permits of an `Arc`-held [`Semaphore`]; returned on drop.
#[must_use = "the permits are released at once if the permit is not kept"]
pub struct OwnedSemaphorePermit {
    sem: Arc<Semaphore>,
    permits: u32,
    /// The permits as recorded for the acquiring context (wait-for graph
    /// only); un-recorded from wherever the permit drops.
    held: HeldToken,
}

impl OwnedSemaphorePermit {
    /// Keeps the permits out of the semaphore for good.
    pub fn forget(self) {
        let mut this = ManuallyDrop::new(self);
        this.sem.capacity.fetch_sub(this.permits as usize, Relaxed);
        this.permits = 0;
        // SAFETY: `this` is never used again; dropping it releases nothing (0 permits): it drops the `Arc` and un-records the permits.
        unsafe { ManuallyDrop::drop(&mut this) };
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits as usize
    }

    /// The semaphore the permits belong to.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }

    /// Moves `other`'s permits into `self`.
    ///
    /// # Panics
    /// If the two permits belong to different semaphores.
    #[track_caller]
    pub fn merge(&mut self, mut other: Self) {
        assert!(
            Arc::ptr_eq(&self.sem, &other.sem),
            "OwnedSemaphorePermit::merge: `other` belongs to a different semaphore"
        );
        // As `SemaphorePermit::merge`: `self`'s record counts fewer permits
        // than it holds now, never more.
        self.permits += std::mem::take(&mut other.permits);
    }

    /// Splits `n` permits off into a new permit; `None` if this holds fewer.
    pub fn split(&mut self, n: usize) -> Option<Self> {
        let n = u32::try_from(n).ok()?;
        if n > self.permits {
            return None;
        }
        self.permits -= n;
        // As `SemaphorePermit::split`: neither part is counted any more.
        self.held = HeldToken::empty();
        Some(OwnedSemaphorePermit {
            sem: self.sem.clone(),
            permits: n,
            held: HeldToken::empty(),
        })
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        self.sem.ll.release(self.permits as usize);
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}
