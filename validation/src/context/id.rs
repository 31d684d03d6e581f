//! Who holds what: context ids and the descriptions reports print.

use std::fmt;
use std::num::NonZeroU64;
use std::sync::Arc;

/// Thread contexts live in the upper half of the id space, task ids (which
/// the runtime counts up from 1) in the lower half.
const THREAD_BIT: u64 = 1 << 63;

/// A task (inside a task) or a thread (outside any task): the unit that holds
/// locks and waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContextId(NonZeroU64);

impl ContextId {
    /// The context of the task with runtime id `id`.
    pub const fn task(id: NonZeroU64) -> ContextId {
        // Task ids never reach 2^63 (one per nanosecond would take 292
        // years); masking keeps the two spaces apart regardless.
        let raw = id.get() & !THREAD_BIT;
        match NonZeroU64::new(raw) {
            Some(v) => ContextId(v),
            None => ContextId(NonZeroU64::MIN),
        }
    }

    pub(crate) const fn thread(n: u64) -> ContextId {
        match NonZeroU64::new(n | THREAD_BIT) {
            Some(v) => ContextId(v),
            None => ContextId(NonZeroU64::MIN),
        }
    }

    /// Whether this is a task (rather than a thread).
    pub const fn is_task(self) -> bool {
        self.0.get() & THREAD_BIT == 0
    }

    /// The runtime's task id, for a task context.
    pub const fn task_id(self) -> Option<u64> {
        if self.is_task() {
            Some(self.0.get())
        } else {
            None
        }
    }

    /// The id as one integer (threads have the top bit set): stable for the
    /// life of the process, never reused.
    pub const fn as_u64(self) -> u64 {
        self.0.get()
    }

    pub(crate) const fn from_raw(raw: u64) -> Option<ContextId> {
        match NonZeroU64::new(raw) {
            Some(v) => Some(ContextId(v)),
            None => None,
        }
    }
}

impl fmt::Display for ContextId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_task() {
            write!(f, "task {}", self.0)
        } else {
            write!(f, "thread #{}", self.0.get() & !THREAD_BIT)
        }
    }
}

/// A context as a report names it: its id and, if it has one, its name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ContextDesc {
    id: ContextId,
    name: Option<Arc<str>>,
}

impl ContextDesc {
    /// A description with an optional name.
    pub fn new(id: ContextId, name: Option<&str>) -> ContextDesc {
        ContextDesc {
            id,
            name: name.map(Arc::from),
        }
    }

    pub(crate) fn with_shared_name(id: ContextId, name: Option<Arc<str>>) -> ContextDesc {
        ContextDesc { id, name }
    }

    /// The context's id.
    pub fn id(&self) -> ContextId {
        self.id
    }

    /// The task or thread name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl fmt::Display for ContextDesc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.name, self.id.is_task()) {
            (Some(n), true) => write!(f, "task {:?} ({})", n, self.id.0),
            (Some(n), false) => write!(f, "thread {n:?}"),
            (None, _) => self.id.fmt(f),
        }
    }
}
