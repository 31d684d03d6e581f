//! `JoinHandle<T>`: the owned permission to await a task's output.

use super::core::Header;
use super::{AbortHandle, Id, JoinError};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use crate::validation::Waiting;

/// An owned permission to join on a task (await its termination), as
/// `tokio::task::JoinHandle`.
///
/// Dropping a `JoinHandle` detaches the task: it keeps running. Use
/// [`abort`](JoinHandle::abort) to cancel it.
///
/// ```
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let handle = perf_runtime::spawn(async { 6 * 7 });
/// assert_eq!(handle.await.unwrap(), 42);
/// # });
/// ```
pub struct JoinHandle<T> {
    raw: NonNull<Header>,
    /// The validation engine's record of an await in progress: a join is an
    /// edge of the wait-for graph (this context waits for the task).
    wait: Waiting,
    _p: PhantomData<T>,
}

// SAFETY: the handle only moves the output `T` out, so it is `Send` when `T` is.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` gives access to `is_finished`, `id` and `abort`,
// which only touch the atomic state.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// # Safety
    /// `raw` is a live task whose output type is `T`, and this handle takes
    /// over one reference and the join interest.
    pub(crate) unsafe fn from_raw(raw: NonNull<Header>) -> JoinHandle<T> {
        JoinHandle {
            raw,
            wait: Waiting::untracked(),
            _p: PhantomData,
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the handle owns a reference.
        unsafe { self.raw.as_ref() }
    }

    /// Cancels the task. If it is idle it will not be polled again; if it is
    /// being polled it is cancelled when that poll returns. Awaiting the handle
    /// then gives a [`JoinError`] with `is_cancelled()` (unless the task
    /// completed first).
    pub fn abort(&self) {
        super::abort::abort_raw(self.raw);
    }

    /// True once the task has completed, been cancelled, or panicked.
    pub fn is_finished(&self) -> bool {
        self.header().state.load().is_complete()
    }

    /// A handle that can abort the task without owning its output.
    pub fn abort_handle(&self) -> AbortHandle {
        self.header().state.ref_inc();
        // SAFETY: a reference was just added for it.
        unsafe { AbortHandle::from_raw(self.raw) }
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.header().id
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    /// `#[track_caller]`: the `.await` that polls the handle is the site a
    /// validation report names for the join.
    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let coop = std::task::ready!(crate::task::coop::poll_proceed(cx));
        let mut out: Poll<Result<T, JoinError>> = Poll::Pending;
        let this = self.get_mut();
        let header = this.header();
        // SAFETY: `out` has the type this task's vtable writes; we hold the
        // join interest.
        unsafe {
            (header.vtable.try_read_output)(this.raw, &mut out as *mut _ as *mut (), cx.waker())
        };
        if out.is_ready() {
            coop.made_progress();
            // The join is over.
            this.wait = Waiting::untracked();
        } else if !this.wait.is_tracked() {
            if let Some(id) = std::num::NonZeroU64::new(header.id.as_u64()) {
                this.wait = crate::validation::join_wait_at(
                    id,
                    header.spawned_at,
                    std::panic::Location::caller(),
                );
            }
        }
        out
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // SAFETY: we hand over our reference and join interest.
        unsafe { (self.header().vtable.drop_join_handle_slow)(self.raw) }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .finish()
    }
}
