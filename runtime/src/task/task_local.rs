//! Task-local values: `task_local!`, `LocalKey`, `TaskLocalFuture`.
//!
//! A task-local lives in a thread-local `RefCell<Option<T>>` only while a
//! scope is being polled: `TaskLocalFuture::poll` swaps its value in, polls
//! the inner future, and swaps it back out (a guard does the swap back, so a
//! panic in the poll restores it too). Between polls the value lives in the
//! future, so it follows the task from worker to worker.
//!
//! The `RefCell` is only borrowed mutably for the swaps, which run no user
//! code; user code sees it through `borrow()` in `try_with`.

use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Declares task-local keys ([`LocalKey`](crate::task::LocalKey)), as
/// `tokio::task_local!`.
///
/// A task-local has no value until a [`scope`](crate::task::LocalKey::scope)
/// (for a future) or [`sync_scope`](crate::task::LocalKey::sync_scope) (for
/// a closure) gives it one; there is no lazy initialiser as for
/// `thread_local!`. Inside the scope, [`get`](crate::task::LocalKey::get),
/// [`with`](crate::task::LocalKey::with) and
/// [`try_with`](crate::task::LocalKey::try_with) read it.
///
/// ```
/// perf_runtime::task_local! {
///     static REQUEST_ID: u64;
///     pub static USER: String;
/// }
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// REQUEST_ID
///     .scope(7, async {
///         assert_eq!(REQUEST_ID.get(), 7);
///         perf_runtime::task::yield_now().await; // survives a yield
///         assert_eq!(REQUEST_ID.get(), 7);
///     })
///     .await;
/// assert!(REQUEST_ID.try_with(|_| ()).is_err()); // out of scope
/// # });
/// ```
#[macro_export]
macro_rules! task_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty; $($rest:tt)*) => {
        $crate::__task_local_inner!($(#[$attr])* $vis $name, $t);
        $crate::task_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty) => {
        $crate::__task_local_inner!($(#[$attr])* $vis $name, $t);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __task_local_inner {
    ($(#[$attr:meta])* $vis:vis $name:ident, $t:ty) => {
        $(#[$attr])*
        $vis static $name: $crate::task::LocalKey<$t> = {
            ::std::thread_local! {
                static __PERF_TASK_LOCAL: ::std::cell::RefCell<::std::option::Option<$t>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            $crate::task::LocalKey { inner: __PERF_TASK_LOCAL }
        };
    };
}

/// A key for a task-local value, declared with
/// [`task_local!`](crate::task_local!), as `tokio::task::LocalKey`.
///
/// ```
/// perf_runtime::task_local! {
///     static DEPTH: u32;
/// }
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// DEPTH
///     .scope(1, async {
///         DEPTH
///             .scope(2, async { assert_eq!(DEPTH.get(), 2) })
///             .await;
///         assert_eq!(DEPTH.get(), 1); // the outer value is back
///     })
///     .await;
/// # });
/// ```
pub struct LocalKey<T: 'static> {
    #[doc(hidden)]
    pub inner: std::thread::LocalKey<RefCell<Option<T>>>,
}

impl<T: 'static> LocalKey<T> {
    /// A future that runs `f` with this key set to `value` on every poll.
    /// The value is dropped with the future (or taken back with
    /// [`TaskLocalFuture::take_value`]). Scopes nest: an inner scope
    /// shadows the outer value until it completes.
    ///
    /// ```
    /// perf_runtime::task_local! { static NAME: &'static str; }
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// let greeting = NAME.scope("ada", async { format!("hi {}", NAME.get()) }).await;
    /// assert_eq!(greeting, "hi ada");
    /// # });
    /// ```
    pub fn scope<F>(&'static self, value: T, f: F) -> TaskLocalFuture<T, F>
    where
        F: Future,
    {
        TaskLocalFuture {
            local: self,
            slot: Some(value),
            future: Some(f),
            _pinned: PhantomPinned,
        }
    }

    /// Runs the closure `f` with this key set to `value`.
    ///
    /// # Panics
    /// If called while this key is being read (from inside its own
    /// [`with`](LocalKey::with)).
    ///
    /// ```
    /// perf_runtime::task_local! { static LEVEL: u8; }
    /// let doubled = LEVEL.sync_scope(21, || LEVEL.get() * 2);
    /// assert_eq!(doubled, 42);
    /// ```
    #[track_caller]
    pub fn sync_scope<F, R>(&'static self, value: T, f: F) -> R
    where
        F: FnOnce() -> R,
    {
        let mut slot = Some(value);
        match self.scope_inner(&mut slot, f) {
            Ok(r) => r,
            Err(e) => e.panic(),
        }
    }

    /// Swaps `slot` into the thread-local, runs `f`, swaps it back (also
    /// on unwind).
    fn scope_inner<F, R>(&'static self, slot: &mut Option<T>, f: F) -> Result<R, ScopeError>
    where
        F: FnOnce() -> R,
    {
        struct SwapBack<'a, T: 'static> {
            key: &'static LocalKey<T>,
            slot: &'a mut Option<T>,
        }
        impl<T: 'static> Drop for SwapBack<'_, T> {
            fn drop(&mut self) {
                // Cannot fail: the cell was free when we swapped in, no user
                // code holds a `RefMut` (none is ever handed out), and the
                // thread-local was alive then and still is.
                self.key
                    .inner
                    .with(|cell| mem::swap(self.slot, &mut *cell.borrow_mut()));
            }
        }
        self.inner
            .try_with(|cell| {
                cell.try_borrow_mut()
                    .map(|mut v| mem::swap(slot, &mut *v))
                    .map_err(|_| ScopeError::Borrowed)
            })
            .map_err(|_| ScopeError::Destroyed)??;
        let _back = SwapBack { key: self, slot };
        Ok(f())
    }

    /// Calls `f` with a reference to the value.
    ///
    /// # Panics
    /// Outside a scope of this key.
    ///
    /// ```
    /// perf_runtime::task_local! { static TAGS: Vec<&'static str>; }
    /// TAGS.sync_scope(vec!["a", "b"], || {
    ///     assert_eq!(TAGS.with(|t| t.len()), 2);
    /// });
    /// ```
    #[track_caller]
    pub fn with<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        match self.try_with(f) {
            Ok(r) => r,
            Err(_) => panic!(
                "cannot access a task-local storage value without setting it first: read it \
                 inside LocalKey::scope or LocalKey::sync_scope"
            ),
        }
    }

    /// Calls `f` with a reference to the value, or returns [`AccessError`]
    /// outside a scope of this key.
    ///
    /// # Errors
    /// [`AccessError`] outside a scope.
    ///
    /// ```
    /// perf_runtime::task_local! { static ID: u32; }
    /// assert!(ID.try_with(|v| *v).is_err());
    /// assert_eq!(ID.sync_scope(3, || ID.try_with(|v| *v)), Ok(3));
    /// ```
    pub fn try_with<F, R>(&'static self, f: F) -> Result<R, AccessError>
    where
        F: FnOnce(&T) -> R,
    {
        // A destroyed thread-local means no scope can be active either.
        match self.inner.try_with(|cell| cell.borrow().as_ref().map(f)) {
            Ok(Some(r)) => Ok(r),
            Ok(None) | Err(_) => Err(AccessError { _private: () }),
        }
    }
}

impl<T: Clone + 'static> LocalKey<T> {
    /// A copy of the value.
    ///
    /// # Panics
    /// Outside a scope of this key.
    ///
    /// ```
    /// perf_runtime::task_local! { static N: u32; }
    /// assert_eq!(N.sync_scope(5, || N.get()), 5);
    /// ```
    #[track_caller]
    pub fn get(&'static self) -> T {
        self.with(T::clone)
    }

    /// A copy of the value, or [`AccessError`] outside a scope.
    ///
    /// # Errors
    /// [`AccessError`] outside a scope.
    ///
    /// ```
    /// perf_runtime::task_local! { static N: u32; }
    /// assert!(N.try_get().is_err());
    /// ```
    pub fn try_get(&'static self) -> Result<T, AccessError> {
        self.try_with(T::clone)
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("LocalKey { .. }")
    }
}

/// The future of [`LocalKey::scope`], as
/// `tokio::task::futures::TaskLocalFuture`.
///
/// Its inner future is dropped with the task-local set, so destructors in it
/// can still read the value.
pub struct TaskLocalFuture<T: 'static, F> {
    local: &'static LocalKey<T>,
    /// Not structurally pinned: moved in and out by the swaps.
    slot: Option<T>,
    /// Structurally pinned; `None` once complete.
    future: Option<F>,
    _pinned: PhantomPinned,
}

impl<T: 'static, F> TaskLocalFuture<T, F> {
    /// Takes the task-local value out of the future (`None` if already
    /// taken, or while the future is being polled). The inner future then
    /// runs without the value set.
    ///
    /// ```
    /// perf_runtime::task_local! { static KEY: u8; }
    /// let mut fut = std::pin::pin!(KEY.scope(1, async {}));
    /// assert_eq!(fut.as_mut().take_value(), Some(1));
    /// assert_eq!(fut.as_mut().take_value(), None);
    /// ```
    pub fn take_value(self: Pin<&mut Self>) -> Option<T> {
        // SAFETY: `slot` is not structurally pinned; nothing pinned moves.
        unsafe { self.get_unchecked_mut() }.slot.take()
    }
}

impl<T: 'static, F: Future> Future for TaskLocalFuture<T, F> {
    type Output = F::Output;

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned and only ever reached
        // through `Pin::new_unchecked` below (or set to `None` in place);
        // `slot` and `local` are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let local = this.local;
        let future = &mut this.future;
        let res = local.scope_inner(&mut this.slot, || {
            // SAFETY: see above; the `Option` lives inside the pinned
            // future and is never moved.
            let mut future = unsafe { Pin::new_unchecked(future) };
            let fut = future.as_mut().as_pin_mut()?;
            let res = fut.poll(cx);
            if res.is_ready() {
                future.set(None);
            }
            Some(res)
        });
        match res {
            Ok(Some(res)) => res,
            Ok(None) => panic!("`TaskLocalFuture` polled after completion"),
            Err(e) => e.panic(),
        }
    }
}

impl<T: 'static, F> Drop for TaskLocalFuture<T, F> {
    fn drop(&mut self) {
        if mem::needs_drop::<F>() && self.future.is_some() {
            let local = self.local;
            let future = &mut self.future;
            // Drop the inner future in scope, when the scope can be entered
            // (otherwise it drops normally with this struct).
            let _ = local.scope_inner(&mut self.slot, || {
                // SAFETY: `self` was pinned (futures are dropped in place);
                // `set` drops the future where it is.
                unsafe { Pin::new_unchecked(future) }.set(None);
            });
        }
    }
}

impl<T: fmt::Debug + 'static, F> fmt::Debug for TaskLocalFuture<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskLocalFuture")
            .field("value", &self.slot)
            .finish()
    }
}

/// A task-local was read outside a scope that sets it, as tokio's
/// `AccessError`.
///
/// ```
/// perf_runtime::task_local! { static KEY: u8; }
/// let err = KEY.try_with(|_| ()).unwrap_err();
/// assert_eq!(err.to_string(), "task-local value not set");
/// ```
#[derive(Clone, Copy, Eq, PartialEq)]
pub struct AccessError {
    _private: (),
}

impl fmt::Debug for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessError").finish()
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task-local value not set")
    }
}

impl Error for AccessError {}

enum ScopeError {
    Borrowed,
    Destroyed,
}

impl ScopeError {
    #[track_caller]
    fn panic(&self) -> ! {
        match self {
            ScopeError::Borrowed => panic!(
                "cannot enter a task-local scope while the task-local storage is borrowed: a \
                 scope of a key was entered from inside LocalKey::with on the same key"
            ),
            ScopeError::Destroyed => panic!(
                "cannot enter a task-local scope during or after destruction of the underlying \
                 thread-local"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Runtime-free, so Miri checks the pinning
    //! (`cargo +nightly miri test -p perf-runtime --lib task_local`).

    use std::future::Future;
    use std::pin::pin;
    use std::rc::Rc;
    use std::task::{Context, Poll, Waker};

    crate::task_local! {
        static KEY: Rc<u32>;
    }

    #[test]
    fn task_local_scope_poll_take_and_drop_in_scope() {
        let mut cx = Context::from_waker(Waker::noop());
        let value = Rc::new(5);
        let mut polls = 0;
        let fut = KEY.scope(
            value.clone(),
            std::future::poll_fn(|cx| {
                polls += 1;
                assert_eq!(*KEY.get(), 5);
                if polls < 2 {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                } else {
                    Poll::Ready(polls)
                }
            }),
        );
        let mut fut = Box::pin(fut);
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert!(KEY.try_get().is_err(), "not set between polls");
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(2));
        drop(fut);

        struct ReadsOnDrop;
        impl Drop for ReadsOnDrop {
            fn drop(&mut self) {
                assert_eq!(*KEY.get(), 9, "dropped inside the scope");
            }
        }
        let guard = ReadsOnDrop;
        let pending = KEY.scope(Rc::new(9), async move {
            let _g = guard;
            std::future::pending::<()>().await
        });
        let mut pending = Box::pin(pending);
        assert!(pending.as_mut().poll(&mut cx).is_pending());
        drop(pending);

        {
            let mut taken = pin!(KEY.scope(value.clone(), async {}));
            assert_eq!(taken.as_mut().take_value().map(|v| *v), Some(5));
            assert_eq!(taken.as_mut().take_value(), None);
        }
        assert_eq!(Rc::strong_count(&value), 1, "every clone dropped once");
    }

    #[test]
    fn task_local_sync_scope_restores_on_panic() {
        let r = std::panic::catch_unwind(|| {
            KEY.sync_scope(Rc::new(1), || panic!("inside"));
        });
        assert!(r.is_err());
        assert!(KEY.try_get().is_err(), "the value was swapped back out");
        let nested = KEY.sync_scope(Rc::new(1), || {
            let inner = KEY.sync_scope(Rc::new(2), || *KEY.get());
            (inner, *KEY.get())
        });
        assert_eq!(nested, (2, 1));
    }
}
