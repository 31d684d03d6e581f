//! Type-erased task references and the per-`(F, S)` vtable.
//!
//! Three owning reference types exist, each holding one count of the state's
//! reference count: [`Task`] (held by the owned-task list), [`Notified`]
//! (held by a run queue: "this task should be polled") and the public
//! `JoinHandle` / `AbortHandle`. Wakers hold one count each too.

use super::core::{Cell, Core, Header, Pointers, Stage, Trailer};
use super::harness;
use super::state::State;
use super::{Id, JoinHandle, Qos};
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicU32, AtomicU64};
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::ptr::NonNull;
use std::task::Waker;

/// How a scheduler receives its tasks.
pub(crate) trait Schedule: Send + Sync + Sized + 'static {
    /// A task was woken (or spawned): queue it.
    fn schedule(&self, task: Notified<Self>);

    /// A task woke itself during its own poll (`yield_now`): queue it behind
    /// the work already waiting, not in a LIFO slot.
    fn yield_now(&self, task: Notified<Self>) {
        self.schedule(task);
    }

    /// The task completed: remove it from the owned list, returning the
    /// list's reference if it was there.
    fn release(&self, task: &Task<Self>) -> Option<Task<Self>>;
}

pub(crate) struct Vtable {
    pub(crate) poll: unsafe fn(NonNull<Header>),
    pub(crate) schedule: unsafe fn(NonNull<Header>),
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
    pub(crate) try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    pub(crate) drop_join_handle_slow: unsafe fn(NonNull<Header>),
    pub(crate) shutdown: unsafe fn(NonNull<Header>),
    pub(crate) trailer_offset: usize,
}

struct VtableOf<F, S>(PhantomData<(F, S)>);

impl<F: Future, S: Schedule> VtableOf<F, S> {
    const VTABLE: Vtable = Vtable {
        poll: harness::poll::<F, S>,
        schedule: harness::schedule::<F, S>,
        dealloc: harness::dealloc::<F, S>,
        try_read_output: harness::try_read_output::<F, S>,
        drop_join_handle_slow: harness::drop_join_handle_slow::<F, S>,
        shutdown: harness::shutdown::<F, S>,
        trailer_offset: std::mem::offset_of!(Cell<F, S>, trailer),
    };
}

/// What a spawn site knows about the task it creates.
/// `Header::home_node` of a task without node affinity.
pub(crate) const NO_NODE: u16 = u16::MAX;

pub(crate) struct TaskMeta {
    pub(crate) id: Id,
    pub(crate) qos: Qos,
    /// `task::Builder::node`, or `NO_NODE`.
    pub(crate) node: u16,
    pub(crate) name: Option<Box<str>>,
    pub(crate) spawned_at: &'static Location<'static>,
}

impl TaskMeta {
    pub(crate) fn new(
        qos: Qos,
        name: Option<&str>,
        spawned_at: &'static Location<'static>,
    ) -> TaskMeta {
        TaskMeta {
            id: Id::next(),
            qos,
            node: NO_NODE,
            name: name.map(Box::from),
            spawned_at,
        }
    }
}

/// With the `task-spans` feature: `future` inside the task's span, which
/// is entered on each of its polls (tokio's `runtime.spawn` span, with the
/// task's class as `task.qos`).
#[cfg(feature = "task-spans")]
pub(crate) fn instrument<F>(future: F, meta: &TaskMeta) -> tracing::instrument::Instrumented<F> {
    use tracing::Instrument;
    let span = tracing::trace_span!(
        target: "perf_runtime::task",
        "runtime.spawn",
        kind = "task",
        task.id = meta.id.as_u64(),
        task.name = meta.name.as_deref().unwrap_or(""),
        task.qos = meta.qos.as_str(),
        loc.file = meta.spawned_at.file(),
        loc.line = meta.spawned_at.line(),
        loc.col = meta.spawned_at.column(),
    );
    future.instrument(span)
}

/// Without the `task-spans` feature: `future` as it is.
#[cfg(not(feature = "task-spans"))]
#[inline(always)]
pub(crate) fn instrument<F>(future: F, _meta: &TaskMeta) -> F {
    future
}

/// Allocates a task: the one allocation of its life.
#[inline]
pub(crate) fn new_task<F, S>(
    future: F,
    scheduler: S,
    meta: TaskMeta,
) -> (Task<S>, Notified<S>, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let future = instrument(future, &meta);
    allocate(future, scheduler, meta)
}

fn allocate<F, S>(
    future: F,
    scheduler: S,
    meta: TaskMeta,
) -> (Task<S>, Notified<S>, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let cell = Box::new(Cell {
        header: Header {
            state: State::new(),
            vtable: &VtableOf::<F, S>::VTABLE,
            id: meta.id,
            spawned_at: meta.spawned_at,
            name: meta.name.map(Box::new),
            qos: meta.qos,
            home_node: meta.node,
            last_worker: AtomicU32::new(u32::MAX),
            woken_at: AtomicU64::new(0),
            validation: perf_validation::TaskSlot::new(),
        },
        core: Core {
            scheduler,
            stage: UnsafeCell::new(Stage::Running(future)),
        },
        trailer: Trailer {
            join_waker: UnsafeCell::new(None),
            owned: UnsafeCell::new(Pointers::default()),
        },
    });
    let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
    // SAFETY: the state was created with three references, one for each of the values returned here.
    unsafe {
        (
            Task::from_raw(ptr),
            Notified(Task::from_raw(ptr)),
            JoinHandle::from_raw(ptr),
        )
    }
}

/// An owned reference to a task (one count of its reference count).
pub(crate) struct Task<S: 'static> {
    ptr: NonNull<Header>,
    _p: PhantomData<S>,
}

// SAFETY: a task reference only gives access to the header's atomics and to
// the vtable functions, which synchronise through the state word. The future
// is `Send` (enforced at spawn) and the scheduler `S: Send + Sync`.
unsafe impl<S: Schedule> Send for Task<S> {}
// SAFETY: as above; `&Task` exposes nothing that is not thread-safe.
unsafe impl<S: Schedule> Sync for Task<S> {}

/// A task that should be polled: the reference held by a run queue.
#[repr(transparent)]
pub(crate) struct Notified<S: 'static>(Task<S>);

// SAFETY: see `Task`.
unsafe impl<S: Schedule> Send for Notified<S> {}
// SAFETY: see `Task`.
unsafe impl<S: Schedule> Sync for Notified<S> {}

impl<S: 'static> Task<S> {
    /// # Safety
    /// `ptr` must point to a live task whose reference count includes one
    /// count that this value takes over.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Task<S> {
        Task {
            ptr,
            _p: PhantomData,
        }
    }

    pub(crate) fn into_raw(self) -> NonNull<Header> {
        ManuallyDrop::new(self).ptr
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: this reference keeps the task alive.
        unsafe { self.ptr.as_ref() }
    }

    pub(crate) fn header_ptr(&self) -> NonNull<Header> {
        self.ptr
    }

    /// Cancels the task for runtime shutdown, consuming this reference.
    pub(crate) fn shutdown(self) {
        let ptr = self.into_raw();
        // SAFETY: the reference we held is handed to `shutdown`.
        unsafe { (ptr.as_ref().vtable.shutdown)(ptr) }
    }
}

impl<S: 'static> Notified<S> {
    /// # Safety
    /// As `Task::from_raw`, and the state's NOTIFIED bit is set for this value.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Notified<S> {
        // SAFETY: forwarded to the caller.
        Notified(unsafe { Task::from_raw(ptr) })
    }

    pub(crate) fn header(&self) -> &Header {
        self.0.header()
    }

    /// Polls the task (or cancels it), consuming this reference.
    #[inline]
    pub(crate) fn run(self) {
        let ptr = self.0.into_raw();
        // SAFETY: the queue's reference is handed to `poll`.
        unsafe { (ptr.as_ref().vtable.poll)(ptr) }
    }
}

impl<S: 'static> Drop for Task<S> {
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe {
            if self.ptr.as_ref().state.ref_dec() {
                (self.ptr.as_ref().vtable.dealloc)(self.ptr);
            }
        }
    }
}

impl<S: 'static> std::fmt::Debug for Notified<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Notified({})", self.header().id)
    }
}
