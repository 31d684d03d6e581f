//! Cooperative scheduling: a per-poll budget that primitives and I/O consult,
//! so a task that always finds its resources ready still yields to its
//! worker's other tasks, as `tokio::task::coop`.
//!
//! The scheduler gives every task poll a budget of [`INITIAL_BUDGET`] units.
//! A resource that would return `Ready` first calls [`poll_proceed`]: once the
//! budget is spent it returns `Pending` (after waking the task) so the task
//! yields. Outside a scheduler poll the budget is unconstrained. The runtime's
//! own channels, locks, timers and sockets do this already; a library that
//! writes its own resource does it as below.
//!
//! ```
//! use perf_runtime::task::coop;
//! use std::task::{ready, Context, Poll};
//!
//! /// A source that always has a value ready: without the budget a task
//! /// draining it in a loop would never give its worker back.
//! struct Counter(u64);
//!
//! impl Counter {
//!     fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<u64> {
//!         let unit = ready!(coop::poll_proceed(cx));
//!         self.0 += 1;
//!         unit.made_progress(); // keep the unit spent: this poll did work
//!         Poll::Ready(self.0)
//!     }
//! }
//!
//! # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
//! let last = perf_runtime::spawn(async {
//!     let mut counter = Counter(0);
//!     let mut last = 0;
//!     // Yields to the worker every `INITIAL_BUDGET` values.
//!     for _ in 0..1000 {
//!         last = std::future::poll_fn(|cx| counter.poll_next(cx)).await;
//!     }
//!     last
//! });
//! assert_eq!(last.await.unwrap(), 1000);
//! # });
//! ```

use crate::runtime::context;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// The budget each task poll starts with (tokio uses the same 128).
pub const INITIAL_BUDGET: u8 = 128;

/// The remaining budget of the current poll; `None` means unconstrained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Budget(pub(crate) Option<u8>);

impl Budget {
    pub(crate) const UNCONSTRAINED: Budget = Budget(None);
    pub(crate) const INITIAL: Budget = Budget(Some(INITIAL_BUDGET));
}

/// Runs `f` (a task poll) with a fresh budget, restoring the previous one.
#[inline]
pub(crate) fn with_budget<R>(f: impl FnOnce() -> R) -> R {
    with_budget_value(Budget::INITIAL, f)
}

/// Runs `f` with no budget limit, restoring the previous budget after. For
/// non-async checks (`try_*`) that cannot yield to the scheduler.
#[inline]
pub(crate) fn with_unconstrained<R>(f: impl FnOnce() -> R) -> R {
    with_budget_value(Budget::UNCONSTRAINED, f)
}

#[inline]
fn with_budget_value<R>(budget: Budget, f: impl FnOnce() -> R) -> R {
    struct Reset(Budget);
    impl Drop for Reset {
        fn drop(&mut self) {
            context::set_budget(self.0);
        }
    }
    let _reset = Reset(context::replace_budget(budget));
    f()
}

/// Returned by [`poll_proceed`]: gives the unit back if the operation ends up
/// `Pending` after all (it made no progress), unless
/// [`made_progress`](RestoreOnPending::made_progress) is called.
#[must_use = "dropping RestoreOnPending refunds the budget unit at once"]
#[derive(Debug)]
pub struct RestoreOnPending(std::cell::Cell<Budget>);

impl RestoreOnPending {
    /// The operation completed: keep the unit spent.
    pub fn made_progress(&self) {
        self.0.set(Budget::UNCONSTRAINED);
    }
}

impl Drop for RestoreOnPending {
    fn drop(&mut self) {
        let before = self.0.get();
        if before.0.is_some() {
            context::set_budget(before);
        }
    }
}

/// Spends one unit of the current task's budget. Returns `Pending` (having
/// woken the task so it is polled again) when the budget is exhausted.
///
/// A resource calls this before returning `Ready`, and calls
/// [`RestoreOnPending::made_progress`] once it really made progress.
#[inline]
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<RestoreOnPending> {
    let budget = context::budget();
    match budget.0 {
        None => Poll::Ready(RestoreOnPending(std::cell::Cell::new(
            Budget::UNCONSTRAINED,
        ))),
        Some(0) => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        Some(n) => {
            context::set_budget(Budget(Some(n - 1)));
            Poll::Ready(RestoreOnPending(std::cell::Cell::new(budget)))
        }
    }
}

/// True when the current poll has spent its whole budget (the scheduler
/// counts such polls: `perf_runtime_budget_forced_yields_total`).
#[inline]
pub(crate) fn budget_spent() -> bool {
    context::budget().0 == Some(0)
}

/// True if the current task still has budget (always true outside a task).
pub fn has_budget_remaining() -> bool {
    context::budget().0 != Some(0)
}

/// Spends one unit of budget, yielding to the scheduler if it is exhausted.
/// For loops that do a lot of work without touching any resource. Also at
/// `perf_runtime::task::consume_budget`, tokio's path.
///
/// ```
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let mut sum = 0u64;
/// for i in 0..10_000u64 {
///     sum += i;
///     // Lets the worker run other tasks now and then.
///     perf_runtime::task::consume_budget().await;
/// }
/// assert_eq!(sum, 49_995_000);
/// # });
/// ```
pub async fn consume_budget() {
    let mut status = Poll::Pending;
    std::future::poll_fn(move |cx| {
        if status.is_ready() {
            return status;
        }
        status = poll_proceed(cx).map(|restore| restore.made_progress());
        status
    })
    .await
}

/// Runs `inner` without a budget: its resources never force a yield.
/// Use sparingly: an unconstrained task can monopolise its worker. Also at
/// `perf_runtime::task::unconstrained`, tokio's path.
///
/// ```
/// use perf_runtime::sync::mpsc;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = mpsc::unbounded_channel();
/// for i in 0..1000 {
///     tx.send(i).unwrap();
/// }
/// drop(tx);
/// // Drains all 1000 without ever being made to yield by the budget.
/// let drained = perf_runtime::task::unconstrained(async move {
///     let mut n = 0;
///     while rx.recv().await.is_some() {
///         n += 1;
///     }
///     n
/// })
/// .await;
/// assert_eq!(drained, 1000);
/// # });
/// ```
pub fn unconstrained<F: Future>(inner: F) -> Unconstrained<F> {
    Unconstrained { inner }
}

/// Future returned by [`unconstrained`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Unconstrained<F> {
    inner: F,
}

impl<F: Future> Future for Unconstrained<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: structural pinning of the only field; it is never moved.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.inner) };
        with_budget_value(Budget::UNCONSTRAINED, || inner.poll(cx))
    }
}

/// Makes `inner` consult the budget once per poll, so a hand-written future
/// that is always ready still yields.
pub fn cooperative<F: Future>(inner: F) -> Coop<F> {
    Coop { inner }
}

/// Future returned by [`cooperative`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Coop<F> {
    inner: F,
}

impl<F: Future> Future for Coop<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let restore = ready!(poll_proceed(cx));
        // SAFETY: structural pinning of the only field; it is never moved.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.inner) };
        let out = ready!(inner.poll(cx));
        restore.made_progress();
        Poll::Ready(out)
    }
}
