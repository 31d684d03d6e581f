//! Where a task keeps its validation state.

use super::state::ContextState;
use super::ContextId;
use std::fmt;
use std::num::NonZeroU64;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering::Relaxed};

/// One word in each task's allocation: the task's held-lock state, created
/// the first time the task takes a lock and freed when the task is dropped.
///
/// The runtime embeds one in its task header and hands it out through the
/// [`ContextHook`](crate::ContextHook). Only the thread polling the task
/// touches it, and the runtime already orders successive polls, so the
/// accesses are relaxed. A plain `std` atomic, so that `new` is `const`.
pub struct TaskStateCell {
    state: AtomicPtr<ContextState>,
}

impl TaskStateCell {
    /// An empty cell.
    pub const fn new() -> TaskStateCell {
        TaskStateCell {
            state: AtomicPtr::new(ptr::null_mut()),
        }
    }

    #[inline(always)]
    pub(crate) fn get(&self) -> *mut ContextState {
        self.state.load(Relaxed)
    }

    #[inline(always)]
    pub(crate) fn get_or_init(&self, id: NonZeroU64) -> *mut ContextState {
        let p = self.get();
        if p.is_null() {
            self.init(id)
        } else {
            p
        }
    }

    #[cold]
    #[inline(never)]
    fn init(&self, id: NonZeroU64) -> *mut ContextState {
        let p = ContextState::alloc(ContextId::task(id));
        self.state.store(p, Relaxed);
        p
    }
}

impl Default for TaskStateCell {
    fn default() -> TaskStateCell {
        TaskStateCell::new()
    }
}

impl fmt::Debug for TaskStateCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskStateCell")
            .field("used", &!self.get().is_null())
            .finish()
    }
}

impl Drop for TaskStateCell {
    fn drop(&mut self) {
        let p = *self.state.get_mut();
        if !p.is_null() {
            // SAFETY: allocated by `init`; the task is being dropped, so this is the owner's last access.
            unsafe { ContextState::owner_exit(p) };
        }
    }
}
