//! The borrowed guards of [`RwLock`](super::RwLock): each holds the permits
//! it took (one for reading, all for writing) and gives them back on drop.

use crate::sync::batch_semaphore::BatchSemaphore;
use crate::sync::class_stats::HoldTimer;
use crate::sync::tracking::HeldToken;
use crate::validation::{Access, Held, LockMeta};
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

/// Shared access to an `RwLock`'s data; the read lock is released on drop.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    s: &'a BatchSemaphore,
    data: *const T,
    held: HeldToken,
    /// Dropped after `drop` released the permit: records a sampled hold.
    hold: HoldTimer,
    _marker: PhantomData<&'a T>,
}

// SAFETY: the guard is a `&'a T` that also holds a read permit: it may move
// or be shared across threads exactly when `&T` may (`T: Sync`).
unsafe impl<T: ?Sized + Sync> Send for RwLockReadGuard<'_, T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    pub(super) fn new(s: &'a BatchSemaphore, data: *const T, held: Held, hold: HoldTimer) -> Self {
        RwLockReadGuard {
            s,
            data,
            held: HeldToken::new(held),
            hold,
            _marker: PhantomData,
        }
    }

    /// Moves the token out of a guard that is never dropped.
    fn take_held(this: &ManuallyDrop<Self>) -> Held {
        // SAFETY: the guard is in a `ManuallyDrop` that is never dropped or used again, so the token is moved out exactly once.
        unsafe { std::ptr::read(&this.held) }.take()
    }

    /// Narrows the guard to a part of the data; the read lock stays held.
    pub fn map<U: ?Sized, F>(mut this: Self, f: F) -> RwLockReadGuard<'a, U>
    where
        F: FnOnce(&T) -> &U,
    {
        let data = f(&*this) as *const U;
        let hold = this.hold.take();
        let this = ManuallyDrop::new(this);
        RwLockReadGuard::new(this.s, data, Self::take_held(&this), hold)
    }

    /// As [`map`](Self::map), but `f` may decline, returning the guard.
    pub fn try_map<U: ?Sized, F>(mut this: Self, f: F) -> Result<RwLockReadGuard<'a, U>, Self>
    where
        F: FnOnce(&T) -> Option<&U>,
    {
        let data = match f(&*this) {
            Some(d) => d as *const U,
            None => return Err(this),
        };
        let hold = this.hold.take();
        let this = ManuallyDrop::new(this);
        Ok(RwLockReadGuard::new(
            this.s,
            data,
            Self::take_held(&this),
            hold,
        ))
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds a read permit, so no write guard exists.
        unsafe { &*self.data }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.s.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// Exclusive access to an `RwLock`'s data; the write lock is released on
/// drop.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    s: &'a BatchSemaphore,
    meta: &'a LockMeta,
    data: *mut T,
    permits: u32,
    held: HeldToken,
    /// As `RwLockReadGuard`'s.
    hold: HoldTimer,
    _marker: PhantomData<&'a mut T>,
}

// SAFETY: the guard is a `&'a mut T` holding every permit; like tokio's it is
// `Send`/`Sync` when `T: Send + Sync` (it can also be downgraded to a shared
// read guard, which needs `Sync`).
unsafe impl<T: ?Sized + Send + Sync> Send for RwLockWriteGuard<'_, T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    pub(super) fn new(
        s: &'a BatchSemaphore,
        meta: &'a LockMeta,
        data: *mut T,
        permits: u32,
        held: Held,
        hold: HoldTimer,
    ) -> Self {
        RwLockWriteGuard {
            s,
            meta,
            data,
            permits,
            held: HeldToken::new(held),
            hold,
            _marker: PhantomData,
        }
    }

    /// Moves the token out of a guard that is never dropped.
    fn take_held(this: &ManuallyDrop<Self>) -> Held {
        // SAFETY: the guard is in a `ManuallyDrop` that is never dropped or used again, so the token is moved out exactly once.
        unsafe { std::ptr::read(&this.held) }.take()
    }

    /// Narrows the guard to a part of the data; the write lock stays held.
    pub fn map<U: ?Sized, F>(mut this: Self, f: F) -> RwLockMappedWriteGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let data = f(&mut *this) as *mut U;
        let hold = this.hold.take();
        let this = ManuallyDrop::new(this);
        RwLockMappedWriteGuard {
            s: this.s,
            data,
            permits: this.permits,
            held: HeldToken::new(Self::take_held(&this)),
            hold,
            _marker: PhantomData,
        }
    }

    /// As [`map`](Self::map), but `f` may decline, returning the guard.
    pub fn try_map<U: ?Sized, F>(
        mut this: Self,
        f: F,
    ) -> Result<RwLockMappedWriteGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let data = match f(&mut *this) {
            Some(d) => d as *mut U,
            None => return Err(this),
        };
        let hold = this.hold.take();
        let this = ManuallyDrop::new(this);
        Ok(RwLockMappedWriteGuard {
            s: this.s,
            data,
            permits: this.permits,
            held: HeldToken::new(Self::take_held(&this)),
            hold,
            _marker: PhantomData,
        })
    }

    /// Turns the write lock into a read lock without letting a writer in
    /// between; queued readers are admitted alongside.
    ///
    /// For the validation engine the write lock is released and a read
    /// lock recorded at this call's site (as a `try`: it cannot block).
    #[track_caller]
    pub fn downgrade(mut self) -> RwLockReadGuard<'a, T> {
        // The hold goes on, as a read.
        let hold = self.hold.take();
        let this = ManuallyDrop::new(self);
        drop(Self::take_held(&this));
        // Keep one permit: the read guard's.
        this.s.release(this.permits as usize - 1);
        let held = this.meta.try_acquired(Access::Shared);
        RwLockReadGuard::new(this.s, this.data, held, hold)
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds every permit.
        unsafe { &*self.data }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds every permit.
        unsafe { &mut *self.data }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.s.release(self.permits as usize);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// A write guard narrowed by [`RwLockWriteGuard::map`].
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockMappedWriteGuard<'a, T: ?Sized> {
    s: &'a BatchSemaphore,
    data: *mut T,
    permits: u32,
    held: HeldToken,
    hold: HoldTimer,
    _marker: PhantomData<&'a mut T>,
}

// SAFETY: as `RwLockWriteGuard`.
unsafe impl<T: ?Sized + Send + Sync> Send for RwLockMappedWriteGuard<'_, T> {}
// SAFETY: as `RwLockWriteGuard`.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLockMappedWriteGuard<'_, T> {}

impl<'a, T: ?Sized> RwLockMappedWriteGuard<'a, T> {
    /// Narrows the guard further.
    pub fn map<U: ?Sized, F>(mut this: Self, f: F) -> RwLockMappedWriteGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let data = f(&mut *this) as *mut U;
        let hold = this.hold.take();
        let this = ManuallyDrop::new(this);
        RwLockMappedWriteGuard {
            s: this.s,
            data,
            permits: this.permits,
            // SAFETY: `this` is never used or dropped again: moved out once.
            held: unsafe { std::ptr::read(&this.held) },
            hold,
            _marker: PhantomData,
        }
    }
}

impl<T: ?Sized> Deref for RwLockMappedWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: derived from the guarded data; every permit is held.
        unsafe { &*self.data }
    }
}

impl<T: ?Sized> DerefMut for RwLockMappedWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`.
        unsafe { &mut *self.data }
    }
}

impl<T: ?Sized> Drop for RwLockMappedWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.s.release(self.permits as usize);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockMappedWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
