//! Contexts: who holds what.
//!
//! - `id.rs` — [`ContextId`] and [`ContextDesc`].
//! - `state.rs` — a context's held-lock stack and its remote-release mailbox.
//! - `task_cell.rs` — [`TaskStateCell`], where a task keeps its state.
//! - this file — the hook through which the runtime says which task is
//!   running, and the lookup of the current context.
//!
//! Inside a task the context is the task, so a guard held across `.await`
//! stays with its task wherever the task is polled next; outside any task it
//! is the thread. Without a hook (the engine used alone) every context is a
//! thread.
//!
//! The lookup is the inline path of every hook. A runtime that says which
//! task it polls through [`swap_current_task`] (perf_runtime does, around
//! every poll) makes it one thread-local load and one load of the task's
//! state cell; otherwise the engine asks the installed hook (an indirect call),
//! and outside any task reads the thread's state (one thread-local load).

mod id;
pub(crate) mod state;
mod task_cell;

pub use id::{ContextDesc, ContextId};
pub use task_cell::TaskStateCell;

use state::ContextState;
use std::cell::Cell;
use std::num::NonZeroU64;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

/// The task being polled on the calling thread, as the runtime's hook
/// reports it.
#[derive(Clone, Copy, Debug)]
pub struct TaskRef {
    id: NonZeroU64,
    cell: *const TaskStateCell,
}

impl TaskRef {
    /// The task with runtime id `id`, whose [`TaskStateCell`] is `cell` (kept in
    /// the task's allocation).
    pub fn new(id: NonZeroU64, cell: &TaskStateCell) -> TaskRef {
        TaskRef { id, cell }
    }

    /// The task id.
    pub fn id(&self) -> NonZeroU64 {
        self.id
    }
}

/// What the runtime installs so the engine can tell tasks apart.
#[derive(Clone, Copy, Debug)]
pub struct ContextHook {
    /// The task being polled on the calling thread, or `None` outside a
    /// task. Called on every acquire and release: it must be cheap (a
    /// thread-local read) and must not take a validated lock.
    pub current_task: fn() -> Option<TaskRef>,
    /// The name of the task being polled on the calling thread. Called only
    /// on cold paths (a new order edge, a wait, a report).
    pub current_task_name: fn() -> Option<String>,
}

static HOOK: OnceLock<ContextHook> = OnceLock::new();

/// Installs the runtime's context hook. The first hook installed stays for
/// the life of the process; returns `false` (and changes nothing) if one was
/// already installed.
///
/// # Safety
/// Whenever `current_task` returns `Some(t)` on a thread, the cell inside
/// `t` must stay alive until the calling thread stops polling that task,
/// and no other thread may poll the same task meanwhile.
pub unsafe fn set_context_hook(hook: ContextHook) -> bool {
    HOOK.set(hook).is_ok()
}

/// Whether a context hook is installed.
pub fn has_context_hook() -> bool {
    HOOK.get().is_some()
}

/// The owner of a thread context's state; its destructor ends the context.
struct ThreadCx {
    state: Cell<*mut ContextState>,
}

impl Drop for ThreadCx {
    fn drop(&mut self) {
        let p = self.state.get();
        if !p.is_null() {
            // SAFETY: allocated by `thread_state`, owned by this thread, which makes no further owner access after its destructor.
            unsafe { ContextState::owner_exit(p) };
        }
    }
}

thread_local! {
    static THREAD: ThreadCx = const { ThreadCx { state: Cell::new(ptr::null_mut()) } };
    /// The task the runtime says this thread polls ([`swap_current_task`]):
    /// the inline path's lookup, one thread-local load with no destructor
    /// to check, ahead of the hook.
    static TASK: Cell<Option<TaskRef>> = const { Cell::new(None) };
}

/// Tells the engine which task the calling thread polls from now on
/// (`None`: none), and returns what it said before, to restore when the
/// poll ends. A runtime calls this around every poll; it is the fast
/// alternative to [`ContextHook::current_task`], which the engine asks only
/// when no task is set here.
///
/// # Safety
/// While `task` is set on a thread, the cell inside it must stay alive and
/// no other thread may poll the same task (as for [`set_context_hook`]).
#[inline]
pub unsafe fn swap_current_task(task: Option<TaskRef>) -> Option<TaskRef> {
    TASK.try_with(|t| t.replace(task)).unwrap_or(None)
}

#[inline(always)]
fn task_set_here() -> Option<TaskRef> {
    TASK.try_with(Cell::get).unwrap_or(None)
}

static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);

/// The current context's state, creating it on first use. `None` only while
/// the thread's locals are being destroyed.
#[inline(always)]
pub(crate) fn current() -> Option<*mut ContextState> {
    if let Some(t) = task_set_here() {
        // SAFETY: `swap_current_task`'s contract keeps the cell alive while this thread polls the task.
        let cell = unsafe { &*t.cell };
        return Some(cell.get_or_init(t.id));
    }
    current_untold()
}

/// `current` when the runtime set no task here: ask the hook, else the
/// thread. Out of line, so the inline path stays small.
#[inline(never)]
fn current_untold() -> Option<*mut ContextState> {
    if let Some(hook) = HOOK.get() {
        if let Some(t) = (hook.current_task)() {
            // SAFETY: the hook's contract keeps the cell alive while this thread polls the task.
            let cell = unsafe { &*t.cell };
            return Some(cell.get_or_init(t.id));
        }
    }
    THREAD
        .try_with(|c| {
            let p = c.state.get();
            if p.is_null() {
                thread_state(c)
            } else {
                p
            }
        })
        .ok()
}

/// The current context's state if it has one (release paths never create
/// one: a context without state holds nothing).
#[inline(always)]
pub(crate) fn current_if_exists() -> *mut ContextState {
    if let Some(t) = task_set_here() {
        // SAFETY: `swap_current_task`'s contract keeps the cell alive while this thread polls the task.
        return unsafe { &*t.cell }.get();
    }
    current_if_exists_untold()
}

/// `current_if_exists` when the runtime set no task here.
#[inline(never)]
fn current_if_exists_untold() -> *mut ContextState {
    if let Some(hook) = HOOK.get() {
        if let Some(t) = (hook.current_task)() {
            // SAFETY: the hook's contract keeps the cell alive while this thread polls the task.
            return unsafe { &*t.cell }.get();
        }
    }
    THREAD
        .try_with(|c| c.state.get())
        .unwrap_or(ptr::null_mut())
}

#[cold]
#[inline(never)]
fn thread_state(c: &ThreadCx) -> *mut ContextState {
    let id = ContextId::thread(NEXT_THREAD.fetch_add(1, Relaxed));
    let p = ContextState::alloc(id);
    c.state.set(p);
    p
}

/// The current context's id (`None` during thread teardown).
#[inline]
pub(crate) fn current_id() -> Option<ContextId> {
    // SAFETY: `current` returns a live state owned by this context; only its immutable `id` is read.
    current().map(|p| unsafe { (*p).id })
}

/// Marks the current context as one others may wait for through a channel
/// (it used a sender, or polled a bounded channel's receiver): its waits
/// then take part in the wait-for graph.
#[cold]
pub(crate) fn mark_channel_role() {
    if let Some(p) = current() {
        // SAFETY: owner access to this context's own state.
        unsafe { (*p).with_owned(|o| o.channel_role = true) };
    }
}

/// Describes the current context for a report, caching the name.
///
/// # Safety
/// `state` is the current context's state.
#[cold]
pub(crate) unsafe fn describe(state: *mut ContextState) -> ContextDesc {
    // SAFETY: the caller passes the current context's own state.
    let st = unsafe { &*state };
    // SAFETY: owner access, no other reference live.
    if let Some(d) = unsafe { st.with_owned(|o| o.desc.clone()) } {
        return d;
    }
    // Computed outside the owner borrow: the name hook is runtime code.
    let name: Option<Arc<str>> = if st.id.is_task() {
        HOOK.get()
            .and_then(|h| (h.current_task_name)())
            .map(Arc::from)
    } else {
        std::thread::current().name().map(Arc::from)
    };
    let d = ContextDesc::with_shared_name(st.id, name);
    // SAFETY: `state` is the current context's (this fn's contract) and the name hook has returned, so no other reference into `owned` is live.
    unsafe { st.with_owned(|o| o.desc = Some(d.clone())) };
    d
}

/// Describes the current context (creating its state if needed).
#[cold]
pub(crate) fn describe_current() -> Option<ContextDesc> {
    // SAFETY: `current` returns this context's own state.
    current().map(|p| unsafe { describe(p) })
}

/// Marks the waits the current context starts as bounded in time (they run
/// under a timeout) until the returned guard drops.
///
/// The runtime's `time::timeout` wraps each poll of its inner future in one:
/// a wait that a timer will cancel cannot be part of a deadlock, so the
/// wait-for graph and the stall scan leave it out.
pub fn timed_scope() -> TimedScope {
    if !crate::mode::enabled() {
        return TimedScope {
            state: ptr::null_mut(),
        };
    }
    match current() {
        Some(p) => {
            // SAFETY: owner access to this context's own state.
            unsafe { (*p).with_owned(|o| o.timed += 1) };
            TimedScope { state: p }
        }
        None => TimedScope {
            state: ptr::null_mut(),
        },
    }
}

/// The guard of [`timed_scope`]. It lives inside one poll and cannot be
/// held across an `.await` in a `Send` future:
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// assert_send(perf_validation::timed_scope());
/// ```
#[must_use = "the scope ends when this guard drops"]
#[derive(Debug)]
pub struct TimedScope {
    state: *mut ContextState,
}

impl Drop for TimedScope {
    fn drop(&mut self) {
        if self.state.is_null() {
            return;
        }
        // The guard lives inside one synchronous poll, so the context is
        // the one that entered; checked anyway, since a stale pointer must
        // not be touched.
        if current_if_exists() == self.state {
            // SAFETY: owner access to this context's own state.
            unsafe { (*self.state).with_owned(|o| o.timed = o.timed.saturating_sub(1)) };
        }
    }
}
