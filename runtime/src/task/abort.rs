//! `AbortHandle`: cancel a task without owning its output.

use super::core::Header;
use super::Id;
use std::fmt;
use std::ptr::NonNull;

/// An owned permission to abort a task, as `tokio::task::AbortHandle`.
/// Dropping it does nothing to the task.
///
/// Get one from [`JoinHandle::abort_handle`](super::JoinHandle::abort_handle)
/// or [`JoinSet::spawn`](super::JoinSet::spawn), to cancel a task from
/// somewhere that does not wait for its output (a shutdown path, a timeout
/// supervisor). It is `Send + Sync` whatever the task's output type.
///
/// ```
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let task = perf_runtime::spawn(std::future::pending::<()>());
/// let abort = task.abort_handle();
/// assert_eq!(abort.id(), task.id());
/// assert!(!abort.is_finished());
/// abort.abort();
/// assert!(task.await.unwrap_err().is_cancelled());
/// assert!(abort.is_finished());
/// # });
/// ```
pub struct AbortHandle {
    raw: NonNull<Header>,
}

// SAFETY: only the atomic state and immutable header fields are accessed.
unsafe impl Send for AbortHandle {}
// SAFETY: as above.
unsafe impl Sync for AbortHandle {}

impl AbortHandle {
    /// # Safety
    /// `raw` is a live task and this handle takes over one reference.
    pub(crate) unsafe fn from_raw(raw: NonNull<Header>) -> AbortHandle {
        AbortHandle { raw }
    }

    fn header(&self) -> &Header {
        // SAFETY: the handle owns a reference.
        unsafe { self.raw.as_ref() }
    }

    /// Cancels the task; see [`JoinHandle::abort`](super::JoinHandle::abort).
    pub fn abort(&self) {
        abort_raw(self.raw);
    }

    /// True once the task has completed, been cancelled, or panicked.
    pub fn is_finished(&self) -> bool {
        self.header().state.load().is_complete()
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.header().id
    }
}

pub(super) fn abort_raw(raw: NonNull<Header>) {
    // SAFETY: callers hold a reference.
    let header = unsafe { raw.as_ref() };
    if header.state.transition_to_notified_and_cancel() {
        // SAFETY: a reference was added for the Notified, and NOTIFIED is set.
        unsafe { (header.vtable.schedule)(raw) }
    }
}

impl Clone for AbortHandle {
    fn clone(&self) -> AbortHandle {
        self.header().state.ref_inc();
        AbortHandle { raw: self.raw }
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        if self.header().state.ref_dec() {
            // SAFETY: last reference.
            unsafe { (self.header().vtable.dealloc)(self.raw) }
        }
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id())
            .finish()
    }
}
