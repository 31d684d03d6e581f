//! `Barrier`: `n` tasks wait until all `n` have arrived; one of them is the
//! leader. Built on [`Notify::notify_waiters`].
//!
//! Invariants:
//! - `arrived < n` between calls; the `n`-th arrival (the leader) resets it
//!   to 0 and calls `notify_waiters`, both under the `arrived` lock, so a
//!   task of the next generation (which must take that lock to arrive)
//!   cannot create its `Notified` before the release of the previous one.
//! - A non-leader creates its `Notified` while holding the state lock, before
//!   the leader of its generation can take it, so by invariant 3 of
//!   `notify.rs` that leader's `notify_waiters` completes it even if it had
//!   not polled yet. Nothing else notifies the inner `Notify`, so the first
//!   completion is its generation's release.
//!
//! Validation: the barrier embeds a [`WaitMeta`] of kind `Barrier`; a
//! non-leader's wait is registered when it first returns `Pending` (at the
//! site of its `wait()` call); one past the stall threshold is a slow-wait
//! advisory, and a `WaitStall` only if nothing can end it (every task of
//! the runtime blocked).

use super::notify::Notify;
use super::tracking::{WaitOn, WaitSlot};
use crate::loom::sync::Mutex;
use crate::validation::{WaitKind, WaitMeta};
use std::fmt;
use std::future::Future;
use std::panic::Location;

/// Lets `n` tasks wait for each other, as `tokio::sync::Barrier`.
///
/// ```
/// use perf_runtime::sync::Barrier;
/// use std::sync::Arc;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let barrier = Arc::new(Barrier::new(3));
/// let tasks: Vec<_> = (0..3)
///     .map(|_| {
///         let b = barrier.clone();
///         perf_runtime::spawn(async move { b.wait().await.is_leader() })
///     })
///     .collect();
/// let mut leaders = 0;
/// for t in tasks {
///     leaders += t.await.unwrap() as usize;
/// }
/// assert_eq!(leaders, 1);
/// # });
/// ```
pub struct Barrier {
    /// How many have arrived in the current generation.
    arrived: Mutex<usize>,
    n: usize,
    notify: Notify,
    meta: WaitMeta,
}

/// What [`Barrier::wait`] returns: whether this task was the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// True for exactly one task of each generation: the one whose arrival
    /// released the others.
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier that releases its waiters once `n` have called
    /// [`wait`](Barrier::wait). `n == 0` behaves as `n == 1` (as tokio and
    /// `std::sync::Barrier`): every wait returns at once as the leader.
    #[track_caller]
    pub fn new(n: usize) -> Barrier {
        Barrier {
            arrived: Mutex::new(0),
            n: n.max(1),
            notify: Notify::new_internal(),
            meta: WaitMeta::new(WaitKind::Barrier),
        }
    }

    /// Waits until `n` tasks have called `wait`. The barrier can be reused:
    /// the next `n` calls form the next generation.
    ///
    /// # Cancel safety
    /// Not cancel safe (as tokio's): a dropped `wait` still counts as
    /// arrived for its generation.
    #[track_caller]
    pub fn wait(&self) -> impl Future<Output = BarrierWaitResult> + '_ {
        let site = Location::caller();
        self.wait_at(site)
    }

    async fn wait_at(&self, site: &'static Location<'static>) -> BarrierWaitResult {
        let notified = {
            let mut arrived = self.arrived.lock().unwrap_or_else(|e| e.into_inner());
            *arrived += 1;
            if *arrived == self.n {
                *arrived = 0;
                self.notify.notify_waiters();
                None
            } else {
                // Created under the lock: see the module invariants.
                Some(self.notify.notified())
            }
        };
        match notified {
            Some(notified) => {
                let mut wait = WaitSlot::new();
                WaitOn::new(notified, &mut wait, &self.meta, site).await;
                BarrierWaitResult(false)
            }
            None => {
                // A leader never waits, but it still spends budget so that a
                // loop over a one-party barrier yields.
                crate::task::coop::consume_budget().await;
                BarrierWaitResult(true)
            }
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").field("n", &self.n).finish()
    }
}
