//! `Timeout`, `timeout` and `timeout_at`.
//!
//! The inner future is polled inside a validation
//! [`timed_scope`](crate::validation::timed_scope): a wait it starts is
//! bounded by the timer, so the engine never counts it in a deadlock cycle
//! or reports it as stalled (order checks — a double lock, an inversion —
//! still apply).

use super::error::Elapsed;
use super::{Instant, Sleep};
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Requires `future` to complete within `duration`, or fails with
/// [`Elapsed`] (dropping the future unfinished).
///
/// The future is polled before the timer, so a future that is ready at once
/// succeeds even with a zero `duration`, and never touches the timer wheel.
///
/// # Panics
/// If called outside a perf_runtime runtime.
///
/// # Examples
/// ```
/// use perf_runtime::time::{sleep, timeout, Duration};
///
/// #[perf_runtime::main]
/// async fn main() {
///     let slow = sleep(Duration::from_secs(3600));
///     let res = timeout(Duration::from_millis(10), slow).await;
///     assert!(res.is_err());
///
///     let fast = async { 7 };
///     assert_eq!(timeout(Duration::from_secs(1), fast).await, Ok(7));
/// }
/// ```
#[track_caller]
pub fn timeout<F: IntoFuture>(duration: Duration, future: F) -> Timeout<F::IntoFuture> {
    let deadline = Instant::now().checked_add(duration);
    Timeout::new(
        future.into_future(),
        Sleep::new_or_far(deadline, !duration.is_zero()),
    )
}

/// Requires `future` to complete before `deadline`, or fails with
/// [`Elapsed`].
///
/// # Panics
/// If called outside a perf_runtime runtime.
///
/// # Examples
/// ```
/// use perf_runtime::time::{timeout_at, Duration, Instant};
///
/// #[perf_runtime::main]
/// async fn main() {
///     let deadline = Instant::now() + Duration::from_millis(10);
///     let res = timeout_at(deadline, std::future::pending::<()>()).await;
///     assert!(res.is_err());
/// }
/// ```
#[track_caller]
pub fn timeout_at<F: IntoFuture>(deadline: Instant, future: F) -> Timeout<F::IntoFuture> {
    Timeout::new(
        future.into_future(),
        Sleep::new_or_far(Some(deadline), false),
    )
}

/// The future returned by [`timeout`] and [`timeout_at`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Timeout<T> {
    value: T,
    delay: Sleep,
}

impl<T> Timeout<T> {
    fn new(value: T, delay: Sleep) -> Timeout<T> {
        Timeout { value, delay }
    }

    /// The wrapped future.
    pub fn get_ref(&self) -> &T {
        &self.value
    }

    /// The wrapped future, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.value
    }

    /// Consumes the `Timeout`, returning the wrapped future.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T: Future> Future for Timeout<T> {
    type Output = Result<T::Output, Elapsed>;

    // `#[track_caller]` lets a future that reports the site of the `.await`
    // polling it (a `oneshot::Receiver`) see the user's `.await` of the
    // timeout rather than this line.
    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `value` is structurally pinned: it is never moved out of a pinned `Timeout` (no `Drop` impl, `into_inner` takes `self` by value which needs `Unpin` for a pinned `Timeout`), and `Timeout` is `Unpin` only if `T` is. `delay` is not pinned (`Sleep: Unpin`).
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above; `this.value` stays in place.
        let value = unsafe { Pin::new_unchecked(&mut this.value) };
        let scope = crate::validation::timed_scope();
        if let Poll::Ready(v) = value.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        drop(scope);
        match this.delay.poll_elapsed(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed::new())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Timeout<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("value", &self.value)
            .field("delay", &self.delay)
            .finish()
    }
}
