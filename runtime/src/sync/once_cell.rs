//! `OnceCell`: a value set at most once, whose initialisation may be async.
//!
//! # Protocol
//!
//! - `value` is written exactly once, by the holder of the semaphore's only
//!   permit, and only while `value_set` is false. The writer then stores
//!   `value_set = true` (`Release`) and closes the semaphore, which wakes
//!   every task waiting to initialise: they get `AcquireError` and read the
//!   value.
//! - Readers load `value_set` (`Acquire`) before touching `value`, so they
//!   see the completed write. After `value_set` is true, `value` is never
//!   written again through `&self`; only `&mut self` (`get_mut`, `take`,
//!   `into_inner`, `Drop`) may move it out.
//! - An initialiser that fails or is cancelled drops its permit without
//!   setting the value: the next waiter gets the permit and tries.

use super::{Semaphore, SemaphorePermit, TryAcquireError};
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::mem::MaybeUninit;

/// A thread-safe cell written at most once, with async initialisation, as
/// `tokio::sync::OnceCell`.
///
/// Many tasks may call [`get_or_init`](OnceCell::get_or_init) at once: one
/// runs its initialiser, the others wait for it and then share the value.
/// If that initialiser is cancelled (or, with
/// [`get_or_try_init`](OnceCell::get_or_try_init), fails), another waiting
/// task runs its own.
///
/// ```
/// use perf_runtime::sync::OnceCell;
///
/// static CONFIG: OnceCell<String> = OnceCell::const_new();
///
/// async fn load() -> String {
///     "port=8080".to_string()
/// }
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let a = perf_runtime::spawn(async { CONFIG.get_or_init(load).await.len() });
/// let b = perf_runtime::spawn(async { CONFIG.get_or_init(load).await.len() });
/// assert_eq!(a.await.unwrap(), 9);
/// assert_eq!(b.await.unwrap(), 9);
/// assert_eq!(CONFIG.get().map(String::as_str), Some("port=8080"));
/// # });
/// ```
pub struct OnceCell<T> {
    value_set: AtomicBool,
    value: UnsafeCell<MaybeUninit<T>>,
    semaphore: Semaphore,
}

// SAFETY: the cell hands out `&T` to many threads (needs `T: Sync`) and
// moves a `T` set by one thread to another (needs `T: Send`); the protocol
// in the module docs orders the write before every read.
unsafe impl<T: Sync + Send> Sync for OnceCell<T> {}
// SAFETY: moving the cell moves the `T` it owns.
unsafe impl<T: Send> Send for OnceCell<T> {}

impl<T> OnceCell<T> {
    /// An empty cell.
    ///
    /// ```
    /// let cell = perf_runtime::sync::OnceCell::<u32>::new();
    /// assert!(!cell.initialized());
    /// ```
    #[track_caller]
    pub fn new() -> OnceCell<T> {
        OnceCell {
            value_set: AtomicBool::new(false),
            value: UnsafeCell::new(MaybeUninit::uninit()),
            semaphore: Semaphore::new(1),
        }
    }

    /// An empty cell, usable in a `static`.
    ///
    /// ```
    /// static CELL: perf_runtime::sync::OnceCell<u32> = perf_runtime::sync::OnceCell::const_new();
    /// assert_eq!(CELL.get(), None);
    /// ```
    #[cfg(not(perf_runtime_loom))]
    #[track_caller]
    pub const fn const_new() -> OnceCell<T> {
        OnceCell {
            value_set: AtomicBool::new(false),
            value: UnsafeCell::new(MaybeUninit::uninit()),
            semaphore: Semaphore::const_new(1),
        }
    }

    /// A cell holding `value` if it is `Some`, empty otherwise.
    ///
    /// ```
    /// let cell = perf_runtime::sync::OnceCell::new_with(Some(3));
    /// assert_eq!(cell.get(), Some(&3));
    /// ```
    #[track_caller]
    pub fn new_with(value: Option<T>) -> OnceCell<T> {
        match value {
            Some(v) => OnceCell::initialized_with(v, Semaphore::new(0)),
            None => OnceCell::new(),
        }
    }

    /// A cell already holding `value`, usable in a `static`.
    ///
    /// ```
    /// static CELL: perf_runtime::sync::OnceCell<u32> =
    ///     perf_runtime::sync::OnceCell::const_new_with(1);
    /// assert_eq!(CELL.get(), Some(&1));
    /// ```
    #[cfg(not(perf_runtime_loom))]
    #[track_caller]
    pub const fn const_new_with(value: T) -> OnceCell<T> {
        OnceCell {
            value_set: AtomicBool::new(true),
            value: UnsafeCell::new(MaybeUninit::new(value)),
            semaphore: Semaphore::const_new(0),
        }
    }

    fn initialized_with(value: T, semaphore: Semaphore) -> OnceCell<T> {
        semaphore.close();
        OnceCell {
            value_set: AtomicBool::new(true),
            value: UnsafeCell::new(MaybeUninit::new(value)),
            semaphore,
        }
    }

    /// True once the cell holds a value (it may still be empty while an
    /// initialiser runs).
    ///
    /// ```
    /// let cell = perf_runtime::sync::OnceCell::new();
    /// cell.set(1).unwrap();
    /// assert!(cell.initialized());
    /// ```
    pub fn initialized(&self) -> bool {
        self.value_set.load(Ordering::Acquire)
    }

    fn value_ref(&self) -> &T {
        // SAFETY: called only after `value_set` was seen true with Acquire:
        // the value is written and is never written again through `&self`.
        self.value.with(|p| unsafe { (*p).assume_init_ref() })
    }

    /// The value, if the cell holds one. Never waits.
    ///
    /// ```
    /// let cell = perf_runtime::sync::OnceCell::new();
    /// assert_eq!(cell.get(), None);
    /// cell.set("x").unwrap();
    /// assert_eq!(cell.get(), Some(&"x"));
    /// ```
    pub fn get(&self) -> Option<&T> {
        if self.initialized() {
            Some(self.value_ref())
        } else {
            None
        }
    }

    /// The value, mutably, if the cell holds one.
    ///
    /// ```
    /// let mut cell = perf_runtime::sync::OnceCell::new_with(Some(1));
    /// *cell.get_mut().unwrap() += 1;
    /// assert_eq!(cell.get(), Some(&2));
    /// ```
    pub fn get_mut(&mut self) -> Option<&mut T> {
        if self.initialized() {
            // SAFETY: the value is set, and `&mut self` excludes every
            // other access.
            Some(self.value.with_mut(|p| unsafe { (*p).assume_init_mut() }))
        } else {
            None
        }
    }

    /// Writes the value, holding the only permit. Returns a reference to it.
    fn set_with_permit(&self, value: T, permit: SemaphorePermit<'_>) -> &T {
        // SAFETY: the permit is the only one and `value_set` is false (the
        // callers check it after acquiring): nobody reads or writes `value`.
        self.value.with_mut(|p| unsafe { (*p).write(value) });
        self.value_set.store(true, Ordering::Release);
        // Waiters wake with `AcquireError` and read the value; no permit
        // is ever handed out again.
        self.semaphore.close();
        permit.forget();
        self.value_ref()
    }

    /// Sets the value if the cell is empty and nobody is initialising it.
    ///
    /// # Errors
    /// [`SetError::AlreadyInitializedError`] if it holds a value,
    /// [`SetError::InitializingError`] if an initialiser is running; both
    /// give `value` back.
    ///
    /// ```
    /// use perf_runtime::sync::{OnceCell, SetError};
    ///
    /// let cell = OnceCell::new();
    /// assert!(cell.set(1).is_ok());
    /// assert!(matches!(cell.set(2), Err(SetError::AlreadyInitializedError(2))));
    /// ```
    pub fn set(&self, value: T) -> Result<(), SetError<T>> {
        if self.initialized() {
            return Err(SetError::AlreadyInitializedError(value));
        }
        match self.semaphore.try_acquire() {
            Ok(permit) => {
                if self.initialized() {
                    // Set between our check and the acquire: impossible
                    // while we hold the permit, but cheap to keep correct.
                    return Err(SetError::AlreadyInitializedError(value));
                }
                self.set_with_permit(value, permit);
                Ok(())
            }
            Err(TryAcquireError::NoPermits) => Err(SetError::InitializingError(value)),
            Err(TryAcquireError::Closed) => Err(SetError::AlreadyInitializedError(value)),
        }
    }

    /// The value, running `f` to produce it if the cell is empty. While one
    /// task runs its `f`, the others calling this wait for it.
    ///
    /// # Cancel safety
    /// Cancelling the task running `f` drops `f`'s future without setting
    /// the value; another waiting task then runs its own `f`.
    ///
    /// ```
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// let cell = perf_runtime::sync::OnceCell::new();
    /// assert_eq!(*cell.get_or_init(|| async { 1 }).await, 1);
    /// assert_eq!(*cell.get_or_init(|| async { 2 }).await, 1);
    /// # });
    /// ```
    pub async fn get_or_init<F, Fut>(&self, f: F) -> &T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        if let Some(v) = self.get() {
            return v;
        }
        match self.semaphore.acquire().await {
            Ok(permit) => {
                if let Some(v) = self.get() {
                    return v;
                }
                let value = f().await;
                self.set_with_permit(value, permit)
            }
            Err(_closed) => self.get().expect("closed only once set"),
        }
    }

    /// As [`get_or_init`](OnceCell::get_or_init), with an initialiser that
    /// may fail: its error is returned and the cell stays empty, so the next
    /// caller tries again.
    ///
    /// # Errors
    /// The error `f`'s future returned.
    ///
    /// ```
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// let cell = perf_runtime::sync::OnceCell::new();
    /// let failed = cell.get_or_try_init(|| async { Err::<u32, _>("not yet") }).await;
    /// assert_eq!(failed, Err("not yet"));
    /// let ok = cell.get_or_try_init(|| async { Ok::<_, &str>(5) }).await;
    /// assert_eq!(ok, Ok(&5));
    /// # });
    /// ```
    pub async fn get_or_try_init<E, F, Fut>(&self, f: F) -> Result<&T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(v) = self.get() {
            return Ok(v);
        }
        match self.semaphore.acquire().await {
            Ok(permit) => {
                if let Some(v) = self.get() {
                    return Ok(v);
                }
                let value = f().await?;
                Ok(self.set_with_permit(value, permit))
            }
            Err(_closed) => Ok(self.get().expect("closed only once set")),
        }
    }

    /// The value, consuming the cell.
    ///
    /// ```
    /// let cell = perf_runtime::sync::OnceCell::new_with(Some(String::from("v")));
    /// assert_eq!(cell.into_inner(), Some(String::from("v")));
    /// ```
    pub fn into_inner(mut self) -> Option<T> {
        self.take()
    }

    /// Takes the value out, leaving the cell empty (and settable again).
    ///
    /// ```
    /// let mut cell = perf_runtime::sync::OnceCell::new_with(Some(1));
    /// assert_eq!(cell.take(), Some(1));
    /// assert!(cell.set(2).is_ok());
    /// ```
    #[track_caller]
    pub fn take(&mut self) -> Option<T> {
        std::mem::take(self).into_value()
    }

    /// Moves the value out of a cell about to be dropped.
    fn into_value(self) -> Option<T> {
        if self.value_set.load(Ordering::Acquire) {
            self.value_set.store(false, Ordering::Relaxed);
            // SAFETY: the value is set, we own the cell, and `value_set` is
            // now false so `Drop` will not drop it again.
            Some(self.value.with(|p| unsafe { (*p).assume_init_read() }))
        } else {
            None
        }
    }
}

impl<T> Drop for OnceCell<T> {
    fn drop(&mut self) {
        if self.value_set.load(Ordering::Acquire) {
            // SAFETY: the value is set and this is the last access.
            self.value.with_mut(|p| unsafe { (*p).assume_init_drop() });
        }
    }
}

impl<T> Default for OnceCell<T> {
    #[track_caller]
    fn default() -> OnceCell<T> {
        OnceCell::new()
    }
}

impl<T> From<T> for OnceCell<T> {
    #[track_caller]
    fn from(value: T) -> OnceCell<T> {
        OnceCell::initialized_with(value, Semaphore::new(0))
    }
}

impl<T: Clone> Clone for OnceCell<T> {
    #[track_caller]
    fn clone(&self) -> OnceCell<T> {
        OnceCell::new_with(self.get().cloned())
    }
}

impl<T: PartialEq> PartialEq for OnceCell<T> {
    fn eq(&self, other: &OnceCell<T>) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for OnceCell<T> {}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceCell")
            .field("value", &self.get())
            .finish()
    }
}

/// Why [`OnceCell::set`] did not store the value, which it gives back, as
/// `tokio::sync::SetError`.
///
/// ```
/// use perf_runtime::sync::{OnceCell, SetError};
///
/// let cell = OnceCell::new_with(Some(1));
/// let err = cell.set(2).unwrap_err();
/// assert!(err.is_already_init_err());
/// assert!(matches!(err, SetError::AlreadyInitializedError(2)));
/// ```
#[derive(Debug, PartialEq, Eq)]
pub enum SetError<T> {
    /// The cell already holds a value.
    AlreadyInitializedError(T),
    /// Another task is running an initialiser (`get_or_init`) right now.
    InitializingError(T),
}

impl<T> SetError<T> {
    /// True if the cell already held a value.
    pub fn is_already_init_err(&self) -> bool {
        matches!(self, SetError::AlreadyInitializedError(_))
    }

    /// True if an initialiser was running.
    pub fn is_initializing_err(&self) -> bool {
        matches!(self, SetError::InitializingError(_))
    }
}

impl<T> fmt::Display for SetError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetError::AlreadyInitializedError(_) => f.write_str(
                "OnceCell::set: the cell already holds a value; a OnceCell is written once \
                 (use get() to read it, or take() with &mut to empty it)",
            ),
            SetError::InitializingError(_) => f.write_str(
                "OnceCell::set: another task is initialising the cell right now; await \
                 get_or_init to wait for its value instead",
            ),
        }
    }
}

impl<T: fmt::Debug> Error for SetError<T> {}

#[cfg(test)]
mod tests {
    //! The unsafe value handling, also run under Miri
    //! (`cargo +nightly miri test -p perf-runtime --lib once_cell`).

    use super::*;
    use std::sync::Arc;

    #[test]
    fn once_cell_set_get_take_drop() {
        let tracker = Arc::new(());
        let mut cell = OnceCell::new();
        assert!(cell.get().is_none());
        cell.set(tracker.clone()).unwrap();
        assert!(cell.set(tracker.clone()).unwrap_err().is_already_init_err());
        assert_eq!(Arc::strong_count(&tracker), 2);
        let taken = cell.take().unwrap();
        assert!(cell.get().is_none());
        drop(taken);
        assert_eq!(Arc::strong_count(&tracker), 1);
        cell.set(tracker.clone()).unwrap();
        drop(cell); // drops the value exactly once
        assert_eq!(Arc::strong_count(&tracker), 1);
        let cell = OnceCell::from(tracker.clone());
        assert_eq!(cell.into_inner().map(|a| Arc::strong_count(&a)), Some(2));
        assert_eq!(Arc::strong_count(&tracker), 1);
    }

    #[test]
    fn once_cell_initializing_error_while_a_permit_is_held() {
        let cell = OnceCell::<u8>::new();
        let permit = cell.semaphore.try_acquire().unwrap();
        assert!(cell.set(1).unwrap_err().is_initializing_err());
        drop(permit);
        cell.set(2).unwrap();
        assert_eq!(cell.get(), Some(&2));
    }

    #[test]
    fn once_cell_shared_across_threads() {
        let cell = Arc::new(OnceCell::<String>::new());
        let threads: Vec<_> = (0..2)
            .map(|i| {
                let cell = cell.clone();
                std::thread::spawn(move || {
                    let _ = cell.set(format!("t{i}"));
                    // `set` fails with InitializingError while the other
                    // thread is mid-write; wait for that write to land.
                    loop {
                        if let Some(v) = cell.get() {
                            break v.clone();
                        }
                        std::thread::yield_now();
                    }
                })
            })
            .collect();
        let seen: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(seen[0], seen[1], "both threads read the one value");
    }
}
