//! Task ids: unique for the life of the process, never reused.

use crate::loom::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::fmt;
use std::num::NonZeroU64;

/// An opaque id that uniquely identifies a task among all tasks spawned in
/// this process, as `tokio::task::Id`.
///
/// Ids are never reused, even after the task completes.
#[derive(Clone, Copy, Debug, Hash, Eq, PartialEq, Ord, PartialOrd)]
pub struct Id(pub(crate) NonZeroU64);

impl Id {
    pub(crate) fn next() -> Id {
        #[cfg(not(perf_runtime_loom))]
        static NEXT: AtomicU64 = AtomicU64::new(1);
        #[cfg(perf_runtime_loom)]
        loom::lazy_static! {
            static ref NEXT: AtomicU64 = AtomicU64::new(1);
        }
        let id = NEXT.fetch_add(1, Relaxed);
        Id(NonZeroU64::new(id).expect("task id counter overflowed"))
    }

    /// The id as an integer, for logs and metrics labels.
    pub fn as_u64(&self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The id of the task currently running on this thread.
///
/// # Panics
/// Outside a task, as `tokio::task::id`. Use [`try_id`] to avoid the panic.
#[track_caller]
pub fn id() -> Id {
    try_id().expect(
        "task::id() called outside of a task; use task::try_id() where no task may be running",
    )
}

/// The id of the task currently running on this thread, or `None` outside a task.
pub fn try_id() -> Option<Id> {
    crate::runtime::context::current_task_id()
}
