//! The thread-local runtime context: which runtime this thread is in, which
//! task it polls, the task's coop budget, and (on a worker) the worker's
//! queues and watchdog slot.
//!
//! Every accessor uses `try_with`: during thread teardown the context may be
//! gone, and a waker dropped then must still work (it falls back to the
//! remote path).

use crate::scheduler::current_thread::CoreCx;
use crate::scheduler::multi_thread::WorkerCx;
use crate::scheduler::watchdog::{Stats, WorkerWatch};
use crate::scheduler::Handle;
use crate::task::coop::Budget;
use crate::task::core::Header;
use crate::task::Id;
use crate::time::TimeHandle;
use std::cell::{Cell, RefCell};
use std::ptr;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Entered {
    No,
    /// Inside `block_on` or a worker: blocking this thread is a bug.
    Yes,
}

struct Context {
    handle: RefCell<Option<Handle>>,
    /// How many `SetCurrentGuard`s are alive on this thread; each guard
    /// remembers its own depth so an out-of-order drop is detected.
    depth: Cell<usize>,
    /// The header of the task being polled on this thread, or null.
    task: Cell<*const Header>,
    budget: Cell<Budget>,
    entered: Cell<Entered>,
    worker: Cell<*const WorkerCx>,
    ct_core: Cell<*const CoreCx>,
    watch: Cell<*const WorkerWatch>,
    stats: Cell<*const Stats>,
}

thread_local! {
    static CONTEXT: Context = const {
        Context {
            handle: RefCell::new(None),
            depth: Cell::new(0),
            task: Cell::new(ptr::null()),
            budget: Cell::new(Budget::UNCONSTRAINED),
            entered: Cell::new(Entered::No),
            worker: Cell::new(ptr::null()),
            ct_core: Cell::new(ptr::null()),
            watch: Cell::new(ptr::null()),
            stats: Cell::new(ptr::null()),
        }
    };
}

// ---- the current runtime -------------------------------------------------

/// Calls `f` with the current runtime's handle, if any.
#[inline]
pub(crate) fn with_handle<R>(f: impl FnOnce(Option<&Handle>) -> R) -> R {
    let mut f = Some(f);
    CONTEXT
        .try_with(|c| {
            let h = c.handle.borrow();
            (f.take().expect("called once"))(h.as_ref())
        })
        .unwrap_or_else(|_| (f.take().expect("called once"))(None))
}

pub(crate) fn current_handle() -> Option<Handle> {
    with_handle(|h| h.cloned())
}

/// Calls `f` with the current runtime's timer, if any.
pub(crate) fn with_time<R>(f: impl FnOnce(Option<&TimeHandle>) -> R) -> R {
    with_handle(|h| f(h.map(|h| &h.common().time)))
}

pub(crate) fn current_is_current_thread() -> bool {
    with_handle(|h| h.is_some_and(|h| h.is_current_thread()))
}

/// Restores the previous handle when dropped.
///
/// Guards nest: they must drop in the reverse order of their creation. An
/// out-of-order drop (enter 1, enter 2, drop 1) panics, as tokio's does, after
/// restoring the context from before the outer guard, so no runtime stays
/// current without a guard keeping it so; the inner guards, already undone,
/// then drop as no-ops.
pub(crate) struct SetCurrentGuard {
    prev: Option<Handle>,
    /// This guard's nesting depth (1 for the outermost), or 0 if the
    /// thread-local context was gone when it was made.
    depth: usize,
}

/// Makes `handle` this thread's current runtime until the guard drops.
pub(crate) fn set_current(handle: Handle) -> SetCurrentGuard {
    CONTEXT
        .try_with(|c| {
            let prev = c.handle.replace(Some(handle));
            let depth = c.depth.get() + 1;
            c.depth.set(depth);
            SetCurrentGuard { prev, depth }
        })
        .unwrap_or(SetCurrentGuard {
            prev: None,
            depth: 0,
        })
}

impl Drop for SetCurrentGuard {
    fn drop(&mut self) {
        if self.depth == 0 {
            return;
        }
        let prev = self.prev.take();
        let out_of_order = CONTEXT
            .try_with(|c| {
                let current = c.depth.get();
                if current < self.depth {
                    // An outer guard dropped out of order and already
                    // restored the context from before it: nothing to undo.
                    return false;
                }
                // Restore before any panic, so the thread is left as it was
                // before this guard whichever order the guards drop in.
                *c.handle.borrow_mut() = prev;
                c.depth.set(self.depth - 1);
                current > self.depth
            })
            .unwrap_or(false);
        if out_of_order && !std::thread::panicking() {
            panic!(
                "`EnterGuard` values dropped out of order: guards returned by \
                 `Handle::enter()` / `Runtime::enter()` must be dropped in the reverse order \
                 of their creation. No runtime entered since this guard stays current; keep \
                 each guard in its own scope so the inner one drops first."
            );
        }
    }
}

// ---- blocking the thread ---------------------------------------------------

/// Marks the thread as driving a runtime until dropped.
pub(crate) struct EnterRuntimeGuard {
    _handle: SetCurrentGuard,
}

/// Enters `handle` for a `block_on`.
///
/// # Panics
/// If this thread already drives a runtime: blocking it would stop every task
/// that runs here (and deadlock if the awaited future needs them).
#[track_caller]
pub(crate) fn enter_runtime(handle: Handle) -> EnterRuntimeGuard {
    let already = CONTEXT
        .try_with(|c| c.entered.replace(Entered::Yes) == Entered::Yes)
        .unwrap_or(false);
    if already {
        panic!(
            "cannot block_on inside a perf_runtime runtime: this thread is already driving \
             asynchronous tasks, and blocking it would stall them. Use `.await` instead, or move \
             the blocking call into `spawn_blocking` or `task::block_in_place`."
        );
    }
    EnterRuntimeGuard {
        _handle: set_current(handle),
    }
}

impl Drop for EnterRuntimeGuard {
    fn drop(&mut self) {
        let _ = CONTEXT.try_with(|c| c.entered.set(Entered::No));
    }
}

/// True if this thread is driving a runtime (inside `block_on` or a worker).
pub(crate) fn is_entered() -> bool {
    CONTEXT
        .try_with(|c| c.entered.get() == Entered::Yes)
        .unwrap_or(false)
}

/// Runs `f` with the "driving a runtime" mark lifted (inside
/// `block_in_place`, where blocking is the point).
pub(crate) fn exit_runtime_for_blocking<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(Entered);
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = CONTEXT.try_with(|c| c.entered.set(self.0));
        }
    }
    let prev = CONTEXT
        .try_with(|c| c.entered.replace(Entered::No))
        .unwrap_or(Entered::No);
    let _reset = Reset(prev);
    f()
}

// ---- workers ------------------------------------------------------------------

struct WorkerGuard {
    worker: *const WorkerCx,
    ct_core: *const CoreCx,
    watch: *const WorkerWatch,
    stats: *const Stats,
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        let _ = CONTEXT.try_with(|c| {
            c.worker.set(self.worker);
            c.ct_core.set(self.ct_core);
            c.watch.set(self.watch);
            c.stats.set(self.stats);
        });
    }
}

fn install(
    worker: *const WorkerCx,
    ct_core: *const CoreCx,
    watch: &WorkerWatch,
    stats: &Stats,
) -> WorkerGuard {
    CONTEXT.with(|c| WorkerGuard {
        worker: c.worker.replace(worker),
        ct_core: c.ct_core.replace(ct_core),
        watch: c.watch.replace(watch),
        stats: c.stats.replace(stats),
    })
}

/// Runs a multi-thread worker's loop with its context installed.
pub(crate) fn enter_worker<R>(
    handle: Handle,
    cx: &WorkerCx,
    watch: &WorkerWatch,
    stats: &Stats,
    f: impl FnOnce() -> R,
) -> R {
    let _rt = enter_runtime(handle);
    let _w = install(cx, ptr::null(), watch, stats);
    f()
}

/// Runs a current-thread `block_on` loop with the core's context installed.
pub(crate) fn enter_current_thread<R>(
    handle: Handle,
    cx: &CoreCx,
    watch: &WorkerWatch,
    stats: &Stats,
    f: impl FnOnce() -> R,
) -> R {
    let _h = set_current(handle);
    let _w = install(ptr::null(), cx, watch, stats);
    f()
}

/// Calls `f` with this thread's multi-thread worker context, if it is one.
#[inline]
pub(crate) fn with_multi_thread_worker<R>(f: impl FnOnce(Option<&WorkerCx>) -> R) -> R {
    let ptr = CONTEXT.try_with(|c| c.worker.get()).unwrap_or(ptr::null());
    // Set by `enter_worker` for the worker loop, on this thread; reset after.
    // SAFETY: so when non-null it points at this thread's live `WorkerCx`.
    f(unsafe { ptr.as_ref() })
}

/// Calls `f` with this thread's current-thread core context, if it drives one.
#[inline]
pub(crate) fn with_current_thread_core<R>(f: impl FnOnce(Option<&CoreCx>) -> R) -> R {
    let ptr = CONTEXT.try_with(|c| c.ct_core.get()).unwrap_or(ptr::null());
    // Set by `enter_current_thread` for the drive loop, on this thread.
    // SAFETY: so when non-null it points at this thread's live `CoreCx`.
    f(unsafe { ptr.as_ref() })
}

// ---- the task being polled ---------------------------------------------------

/// Restores the previous task id (and ends the watchdog's poll) when dropped.
pub(crate) struct TaskGuard<'a> {
    prev: *const Header,
    prev_validation: Option<crate::validation::TaskRef>,
    header: &'a Header,
    watch: *const WorkerWatch,
    stats: *const Stats,
}

/// Marks `header`'s task as the one being polled on this thread.
#[inline]
pub(crate) fn enter_task(header: &Header) -> TaskGuard<'_> {
    let (prev, watch, stats) = CONTEXT
        .try_with(|c| (c.task.replace(header), c.watch.get(), c.stats.get()))
        .unwrap_or((ptr::null(), ptr::null(), ptr::null()));
    // SAFETY: the watch slot outlives the worker loop that installed it.
    if let Some(w) = unsafe { watch.as_ref() } {
        w.poll_start(header);
    }
    // SAFETY: the poller holds a task reference for the whole poll (the guard's lifetime), so the slot outlives the setting, and only this thread polls the task meanwhile (its RUNNING bit).
    let prev_validation = unsafe { crate::validation::swap_current_task(header.validation_ref()) };
    TaskGuard {
        prev,
        prev_validation,
        header,
        watch,
        stats,
    }
}

impl Drop for TaskGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the watch and stats slots outlive the worker loop that installed them, which runs this poll.
        if let (Some(w), Some(s)) = unsafe { (self.watch.as_ref(), self.stats.as_ref()) } {
            w.poll_end(self.header, s);
        }
        let prev = self.prev;
        let _ = CONTEXT.try_with(|c| c.task.set(prev));
        // SAFETY: restores the setting of the outer poll, which keeps it alive.
        unsafe { crate::validation::swap_current_task(self.prev_validation) };
    }
}

/// Calls `f` with the header of the task being polled on this thread.
#[inline]
pub(crate) fn with_current_task<R>(f: impl FnOnce(Option<&Header>) -> R) -> R {
    let ptr = CONTEXT.try_with(|c| c.task.get()).unwrap_or(ptr::null());
    // Set by `enter_task` for one poll, on this thread; the poller holds a
    // reference to the task.
    // SAFETY: so when non-null the header is alive.
    f(unsafe { ptr.as_ref() })
}

pub(crate) fn current_task_id() -> Option<Id> {
    with_current_task(|h| h.map(|h| h.id))
}

// ---- coop budget -----------------------------------------------------------------

#[inline]
pub(crate) fn budget() -> Budget {
    CONTEXT
        .try_with(|c| c.budget.get())
        .unwrap_or(Budget::UNCONSTRAINED)
}

#[inline]
pub(crate) fn set_budget(b: Budget) {
    let _ = CONTEXT.try_with(|c| c.budget.set(b));
}

#[inline]
pub(crate) fn replace_budget(b: Budget) -> Budget {
    CONTEXT
        .try_with(|c| c.budget.replace(b))
        .unwrap_or(Budget::UNCONSTRAINED)
}
