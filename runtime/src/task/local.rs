//! `LocalSet` and `spawn_local`: `!Send` futures run on the thread that
//! drives the set.
//!
//! # How a local task differs from a spawned one
//!
//! It is the same raw task (`core.rs`, `harness.rs`): one allocation, the
//! same state word, `JoinHandle`, `AbortHandle`, `JoinError`, panic
//! isolation and validation context. Only its scheduler differs: a
//! [`LocalScheduler`] queues it on its `LocalSet` instead of a worker.
//!
//! # Invariants (why a `!Send` future in a `Send` task cell is sound)
//!
//! 1. A local task's future is polled only by `LocalShared::tick`, which
//!    runs only on the owner thread (the thread that created the set; a
//!    `LocalSet` is `!Send`, so it never leaves it).
//! 2. The future is dropped only by a poll (completion, panic, or a
//!    cancellation observed by the poll) or by `Task::shutdown` in
//!    `LocalSet::drop` — both on the owner thread. `AbortHandle::abort` from
//!    another thread only sets CANCELLED and schedules the task, i.e. pushes
//!    it on the queue; the owner's next poll drops the future.
//! 3. The output is read, or dropped, by the `JoinHandle`. `JoinHandle<T>`
//!    is `Send` only when `T` is, so a `!Send` output never leaves the owner
//!    thread; a `Send` one may.
//! 4. Wakers may be used from any thread: waking pushes a `Notified` (which
//!    is `Send`) on the set's queue under its mutex and wakes the set's
//!    driver. After the set is dropped, wakes drop the `Notified`; the
//!    future is gone by then (invariant 2), so only memory is freed.

use super::core::{Cell, Core, Header, Pointers, Stage, Trailer};
use super::harness;
use super::raw::{Notified, Schedule, Task, TaskMeta, Vtable};
use super::state::State;
use super::{coop, AbortHandle, Id, JoinHandle, JoinSet, Qos};
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicU32, AtomicU64};
use crate::runtime::Runtime;
use std::cell::Cell as StdCell;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::{poll_fn, Future};
use std::marker::PhantomData;
use std::panic::Location;
use std::pin::pin;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::thread::{self, ThreadId};

/// How many local tasks one poll of the driver runs before it yields, so
/// the driving task's own future and its worker's other tasks get a turn
/// (tokio uses 61).
const MAX_TASKS_PER_TICK: usize = 61;

struct LocalShared {
    owner: ThreadId,
    queue: Mutex<VecDeque<Notified<LocalScheduler>>>,
    owned: Mutex<HashMap<Id, Task<LocalScheduler>>>,
    /// The waker of the future driving the set (`run_until`, `.await`).
    waker: Mutex<Option<Waker>>,
    closed: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // No user code runs under these locks, so a poisoned one is consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The scheduler a local task carries in its cell.
pub(crate) struct LocalScheduler {
    shared: Arc<LocalShared>,
}

impl Schedule for LocalScheduler {
    fn schedule(&self, task: Notified<LocalScheduler>) {
        if self.shared.closed.load(Ordering::Acquire) {
            // The set is gone and its futures with it (invariant 4).
            drop(task);
            return;
        }
        lock(&self.shared.queue).push_back(task);
        let waker = lock(&self.shared.waker).take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn release(&self, task: &Task<LocalScheduler>) -> Option<Task<LocalScheduler>> {
        lock(&self.shared.owned).remove(&task.header().id)
    }
}

struct LocalVtable<F, S>(PhantomData<(F, S)>);

impl<F: Future, S: Schedule> LocalVtable<F, S> {
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

impl LocalShared {
    /// Creates a task on this set and queues its first poll. Same layout as
    /// `raw::new_task`, without its `Send` bounds: see the module
    /// invariants for why that is sound here.
    fn spawn<F>(self: &Arc<Self>, future: F, meta: TaskMeta) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let future = super::raw::instrument(future, &meta);
        self.allocate(future, meta)
    }

    fn allocate<F>(self: &Arc<Self>, future: F, meta: TaskMeta) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        debug_assert_eq!(thread::current().id(), self.owner);
        let cell = Box::new(Cell {
            header: Header {
                state: State::new(),
                vtable: &LocalVtable::<F, LocalScheduler>::VTABLE,
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
                scheduler: LocalScheduler {
                    shared: self.clone(),
                },
                stage: UnsafeCell::new(Stage::Running(future)),
            },
            trailer: Trailer {
                join_waker: UnsafeCell::new(None),
                owned: UnsafeCell::new(Pointers::default()),
            },
        });
        let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
        // SAFETY: a new task's state holds three references and NOTIFIED
        // (`State::new`), one for each of these values.
        let (task, notified, join) = unsafe {
            (
                Task::<LocalScheduler>::from_raw(ptr),
                Notified::<LocalScheduler>::from_raw(ptr),
                JoinHandle::from_raw(ptr),
            )
        };
        lock(&self.owned).insert(task.header().id, task);
        task_schedule(self, notified);
        join
    }

    /// Runs up to `MAX_TASKS_PER_TICK` queued tasks. Returns true if tasks
    /// are still queued.
    fn tick(&self) -> bool {
        debug_assert_eq!(thread::current().id(), self.owner);
        for _ in 0..MAX_TASKS_PER_TICK {
            let next = lock(&self.queue).pop_front();
            match next {
                // Each task poll gets its own budget, as on a worker.
                Some(task) => coop::with_budget(|| task.run()),
                None => return false,
            }
        }
        !lock(&self.queue).is_empty()
    }

    fn register(&self, waker: &Waker) {
        let mut slot = lock(&self.waker);
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }
}

fn task_schedule(shared: &Arc<LocalShared>, task: Notified<LocalScheduler>) {
    LocalScheduler {
        shared: shared.clone(),
    }
    .schedule(task);
}

thread_local! {
    /// The set being driven (or entered) on this thread, if any.
    static CURRENT: StdCell<Option<*const LocalSet>> = const { StdCell::new(None) };
}

/// Makes `set` the current one until dropped (restoring the previous).
struct Enter {
    prev: Option<*const LocalSet>,
}

fn enter(set: &LocalSet) -> Enter {
    Enter {
        prev: CURRENT.with(|c| c.replace(Some(set as *const LocalSet))),
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.prev));
    }
}

fn with_current<R>(f: impl FnOnce(Option<&Arc<LocalShared>>) -> R) -> R {
    let ptr = CURRENT.try_with(|c| c.get()).ok().flatten();
    // SAFETY: the pointer is set only by an `Enter` guard that borrows the
    // set for the guard's lifetime, and is cleared when the guard drops; the
    // set is `!Send`, so it lives on this thread.
    f(ptr.map(|p| unsafe { &(*p).shared }))
}

/// A set of `!Send` tasks that run on the thread that drives it, as
/// `tokio::task::LocalSet`.
///
/// Tasks are added with [`spawn_local`](LocalSet::spawn_local) (or the free
/// function [`spawn_local`] from inside the set) and run while the set is
/// driven: by [`run_until`](LocalSet::run_until), by
/// [`block_on`](LocalSet::block_on), or by awaiting the set itself (which
/// completes once every task has). Works on a current_thread runtime and
/// inside `block_on` of a multi-thread one. Dropping the set drops every
/// task's future, on this thread.
///
/// ```
/// use perf_runtime::task::{self, LocalSet};
/// use std::rc::Rc;
///
/// let rt = perf_runtime::runtime::Builder::new_current_thread()
///     .enable_all()
///     .build()
///     .unwrap();
/// let local = LocalSet::new();
/// let shared = Rc::new(41); // Rc is !Send: spawn would not accept it
/// let answer = local.block_on(&rt, async move {
///     let shared = shared.clone();
///     task::spawn_local(async move { *shared + 1 }).await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
///
/// A `LocalSet` stays on the thread that created it:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<perf_runtime::task::LocalSet>();
/// ```
pub struct LocalSet {
    shared: Arc<LocalShared>,
    /// `!Send` and `!Sync`: the set and its tasks stay on this thread.
    _not_send: PhantomData<Rc<()>>,
}

impl LocalSet {
    /// An empty set, owned by the calling thread.
    pub fn new() -> LocalSet {
        LocalSet {
            shared: Arc::new(LocalShared {
                owner: thread::current().id(),
                queue: Mutex::new(VecDeque::new()),
                owned: Mutex::new(HashMap::new()),
                waker: Mutex::new(None),
                closed: AtomicBool::new(false),
            }),
            _not_send: PhantomData,
        }
    }

    /// Makes this the current set, so the free function [`spawn_local`]
    /// adds to it, until the guard drops.
    ///
    /// ```
    /// use perf_runtime::task::{self, LocalSet};
    ///
    /// let local = LocalSet::new();
    /// let handle = {
    ///     let _guard = local.enter();
    ///     task::spawn_local(async { "ran" })
    /// };
    /// let rt = perf_runtime::runtime::Builder::new_current_thread().build().unwrap();
    /// assert_eq!(local.block_on(&rt, handle).unwrap(), "ran");
    /// ```
    pub fn enter(&self) -> LocalEnterGuard {
        LocalEnterGuard {
            _enter: enter(self),
            _not_send: PhantomData,
        }
    }

    /// Adds a `!Send` future to the set; it runs when the set is driven.
    ///
    /// ```
    /// use perf_runtime::task::LocalSet;
    ///
    /// let local = LocalSet::new();
    /// let handle = local.spawn_local(async { std::rc::Rc::new(5) });
    /// let rt = perf_runtime::runtime::Builder::new_current_thread().build().unwrap();
    /// let five = local.block_on(&rt, async { handle.await.unwrap() });
    /// assert_eq!(*five, 5);
    /// ```
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let meta = TaskMeta::new(Qos::Normal, None, Location::caller());
        self.shared.spawn(future, meta)
    }

    /// Runs `future` on `rt`, driving this set's tasks meanwhile, as
    /// `rt.block_on(self.run_until(future))`.
    ///
    /// # Panics
    /// Inside an asynchronous context (as `Runtime::block_on`).
    ///
    /// ```
    /// use perf_runtime::task::LocalSet;
    ///
    /// let rt = perf_runtime::runtime::Runtime::new().unwrap(); // multi-thread
    /// let local = LocalSet::new();
    /// let n = local.block_on(&rt, async {
    ///     let a = perf_runtime::task::spawn_local(async { 1 });
    ///     let b = perf_runtime::spawn(async { 2 }); // Send tasks still go to the workers
    ///     a.await.unwrap() + b.await.unwrap()
    /// });
    /// assert_eq!(n, 3);
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, rt: &Runtime, future: F) -> F::Output {
        rt.block_on(self.run_until(future))
    }

    /// Runs `future` to completion, driving this set's tasks meanwhile.
    /// Tasks still unfinished when it completes stay in the set.
    ///
    /// ```
    /// use perf_runtime::task::{self, LocalSet};
    ///
    /// # perf_runtime::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let local = LocalSet::new();
    /// let out = local
    ///     .run_until(async { task::spawn_local(async { "inside" }).await.unwrap() })
    ///     .await;
    /// assert_eq!(out, "inside");
    /// # });
    /// ```
    pub async fn run_until<F: Future>(&self, future: F) -> F::Output {
        let mut future = pin!(future);
        poll_fn(|cx| {
            let _enter = enter(self);
            self.shared.register(cx.waker());
            // The given future first: it is what the caller waits for.
            if let Poll::Ready(out) = coop::with_budget(|| future.as_mut().poll(cx)) {
                return Poll::Ready(out);
            }
            if self.shared.tick() {
                // More queued than one tick runs: come back after yielding.
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        })
        .await
    }
}

/// Awaiting a `LocalSet` drives it until every task in it has completed.
///
/// ```
/// use perf_runtime::task::LocalSet;
/// use std::{cell::Cell, rc::Rc};
///
/// # perf_runtime::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let local = LocalSet::new();
/// let count = Rc::new(Cell::new(0));
/// for _ in 0..3 {
///     let count = count.clone();
///     local.spawn_local(async move { count.set(count.get() + 1) });
/// }
/// local.await;
/// assert_eq!(count.get(), 3);
/// # });
/// ```
impl Future for LocalSet {
    type Output = ();

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        let this = &*self;
        let _enter = enter(this);
        this.shared.register(cx.waker());
        if this.shared.tick() {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else if lock(&this.shared.owned).is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Default for LocalSet {
    fn default() -> LocalSet {
        LocalSet::new()
    }
}

impl Drop for LocalSet {
    fn drop(&mut self) {
        // Tasks' destructors may call spawn_local: keep the set current.
        let _enter = enter(self);
        self.shared.closed.store(true, Ordering::Release);
        // Invariant 2: every future is dropped here, on the owner thread.
        loop {
            let tasks: Vec<_> = lock(&self.shared.owned).drain().map(|(_, t)| t).collect();
            if tasks.is_empty() {
                break;
            }
            for t in tasks {
                t.shutdown();
            }
        }
        let queued: Vec<_> = lock(&self.shared.queue).drain(..).collect();
        drop(queued);
        *lock(&self.shared.waker) = None;
    }
}

impl fmt::Debug for LocalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSet")
            .field("tasks", &lock(&self.shared.owned).len())
            .finish()
    }
}

/// Returned by [`LocalSet::enter`]; the previous current set comes back
/// when it drops.
#[must_use = "the set is current only while the guard is alive"]
pub struct LocalEnterGuard {
    _enter: Enter,
    _not_send: PhantomData<Rc<()>>,
}

impl fmt::Debug for LocalEnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalEnterGuard")
    }
}

/// Spawns a `!Send` future on the current [`LocalSet`], as
/// `tokio::task::spawn_local`.
///
/// # Panics
/// Outside a `LocalSet` (not inside its `run_until`, `block_on`, `enter` or
/// one of its tasks).
///
/// ```
/// use perf_runtime::task::{self, LocalSet};
/// use std::rc::Rc;
///
/// let rt = perf_runtime::runtime::Builder::new_current_thread().build().unwrap();
/// LocalSet::new().block_on(&rt, async {
///     let name = Rc::new("local");
///     let h = task::spawn_local(async move { name.len() });
///     assert_eq!(h.await.unwrap(), 5);
/// });
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    spawn_local_inner(future, TaskMeta::new(Qos::Normal, None, Location::caller()))
}

#[track_caller]
pub(crate) fn spawn_local_inner<F>(future: F, meta: TaskMeta) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    with_current(|shared| match shared {
        Some(shared) => shared.spawn(future, meta),
        None => panic!(
            "`spawn_local` called from outside of a `task::LocalSet`: call it from inside \
             LocalSet::run_until, LocalSet::block_on, a LocalSet::enter guard, or a task \
             of the set"
        ),
    })
}

impl<T: 'static> JoinSet<T> {
    /// Spawns a `!Send` future on the current [`LocalSet`] into the set, as
    /// `tokio::task::JoinSet::spawn_local`.
    ///
    /// # Panics
    /// Outside a `LocalSet`.
    ///
    /// ```
    /// use perf_runtime::task::{JoinSet, LocalSet};
    /// use std::rc::Rc;
    ///
    /// let rt = perf_runtime::runtime::Builder::new_current_thread().build().unwrap();
    /// LocalSet::new().block_on(&rt, async {
    ///     let mut set = JoinSet::new();
    ///     for i in 0..3 {
    ///         let v = Rc::new(i);
    ///         set.spawn_local(async move { *v });
    ///     }
    ///     let mut all = set.join_all().await;
    ///     all.sort();
    ///     assert_eq!(all, [0, 1, 2]);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_local<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        let h = spawn_local_inner(future, TaskMeta::new(Qos::Normal, None, Location::caller()));
        self.insert(h)
    }

    /// Spawns a `!Send` future on `local` into the set, as
    /// `tokio::task::JoinSet::spawn_local_on`.
    ///
    /// ```
    /// use perf_runtime::task::{JoinSet, LocalSet};
    ///
    /// let rt = perf_runtime::runtime::Builder::new_current_thread().build().unwrap();
    /// let local = LocalSet::new();
    /// let mut set = JoinSet::new();
    /// set.spawn_local_on(async { std::rc::Rc::new(1) }, &local);
    /// let one = local.block_on(&rt, async { set.join_next().await.unwrap().unwrap() });
    /// assert_eq!(*one, 1);
    /// ```
    #[track_caller]
    pub fn spawn_local_on<F>(&mut self, future: F, local: &LocalSet) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        let h = local.spawn_local(future);
        self.insert(h)
    }
}

#[cfg(test)]
mod tests {
    //! Without a runtime, so Miri checks the local task cells
    //! (`cargo +nightly miri test -p perf-runtime --lib local`).

    use super::*;
    use std::cell::RefCell;
    use std::future::Future;
    use std::task::{Context, Waker};

    fn drive<F: Future>(local: &LocalSet, f: F) -> F::Output {
        let mut cx = Context::from_waker(Waker::noop());
        let mut fut = pin!(local.run_until(f));
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn local_tasks_run_complete_and_drop_on_this_thread() {
        let local = LocalSet::new();
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        let out = drive(&local, async move {
            let h = spawn_local(async move {
                l.borrow_mut().push("child");
                Rc::new(7)
            });
            *h.await.unwrap()
        });
        assert_eq!(out, 7);
        assert_eq!(*log.borrow(), ["child"]);

        // A pending task is dropped by the set's drop, here.
        struct OnDrop(Rc<RefCell<Vec<&'static str>>>);
        impl Drop for OnDrop {
            fn drop(&mut self) {
                self.0.borrow_mut().push("dropped");
            }
        }
        let guard = OnDrop(log.clone());
        let pending = local.spawn_local(async move {
            let _g = guard;
            std::future::pending::<()>().await
        });
        drive(&local, async {});
        let abort = pending.abort_handle();
        drop(local);
        assert_eq!(*log.borrow(), ["child", "dropped"]);
        assert!(abort.is_finished());
        drop(pending);
    }

    #[test]
    fn abort_from_another_thread_cancels_on_the_owner() {
        let local = LocalSet::new();
        let h = local.spawn_local(async { std::future::pending::<Rc<()>>().await });
        let abort = h.abort_handle();
        drive(&local, async {});
        std::thread::spawn(move || abort.abort()).join().unwrap();
        let err = drive(&local, h).unwrap_err();
        assert!(err.is_cancelled());
    }
}
