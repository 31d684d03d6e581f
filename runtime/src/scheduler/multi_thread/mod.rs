//! The multi-thread scheduler.
//!
//! - `mod.rs` — `MultiThreadScheduler`: what every worker and every handle sees (stealers,
//!   injectors, the idle set, the owned tasks, the driver lock), spawning and
//!   scheduling from outside a worker.
//! - `worker.rs` — a worker's run loop: pick, steal, park.
//! - `spec.rs` — each worker's node, CPUs and stealing order.
//! - `core.rs` — a worker's private queues (one deque per class plus the LIFO
//!   slot) and the pick rule.
//!
//! Queue invariants: a `Notified` is in exactly one place — a worker's LIFO
//! slot, a worker's class deque, or an injector — and carries one reference.
//! A worker's deques are pushed and popped only by its own thread; other
//! workers take from them only through their `Stealer`s (steal-half). The
//! LIFO slot is never stolen: it holds the task most recently woken by the
//! running task, whose data is hot in this worker's cache.

mod core;
mod spec;
mod worker;

pub(crate) use self::core::{Core, CoreSeed};
pub(crate) use spec::worker_specs;
pub(crate) use worker::{block_in_place, WorkerCx};

use super::idle::{Idle, ReservedIdle};
use super::inject::NodeInjectors;
use super::park::Unparker;
use super::watchdog::WorkerWatch;
use super::Common;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use crate::loom::sync::Mutex;
use crate::runtime::context;
use crate::task::raw::{new_task, Schedule, Task, TaskMeta};
use crate::task::{JoinHandle, Qos};
use crossbeam_deque::Stealer;
use crossbeam_utils::CachePadded;
use std::future::Future;
use std::sync::Arc;

pub(crate) type Notified = crate::task::raw::Notified<Arc<MultiThreadScheduler>>;

const NO_OWNER: usize = usize::MAX;

/// The multi-thread scheduler, shared by every worker, handle and task: the
/// workers' stealers, the injectors, the idle set and the owned tasks.
pub(crate) struct MultiThreadScheduler {
    pub(crate) remotes: Box<[Remote]>,
    pub(crate) inject: NodeInjectors<Notified>,
    /// Worker indices of each node.
    pub(crate) node_workers: Box<[Box<[usize]>]>,
    pub(crate) idle: Idle,
    /// Sleeping reserved-Critical workers, and how many are reserved.
    pub(crate) reserved_idle: ReservedIdle,
    pub(crate) num_reserved: usize,
    /// How many normal workers are active (container sizing): a normal
    /// worker whose `Remote::rank` is at or above it hands its queues over
    /// and parks until the count grows again.
    pub(crate) active: AtomicUsize,
    /// Times a worker went to sleep for lack of work (the sizing monitor
    /// reads it: no park in a period means every active worker was busy).
    pub(crate) parks: crate::loom::sync::atomic::AtomicU64,
    pub(crate) owned: crate::task::list::OwnedTasks<Arc<MultiThreadScheduler>>,
    /// The worker that parks in the driver (waits for the next timer), or
    /// `NO_OWNER`.
    pub(crate) driver_owner: AtomicUsize,
    pub(crate) is_shutdown: AtomicBool,
    /// What every scheduler flavour shares: the configuration, the timer,
    /// the blocking pool, the topology, the sizing state and the I/O driver.
    pub(crate) common: Common,
    remote_rr: AtomicUsize,
    /// Worker threads that left with their core at shutdown.
    pub(crate) exited: AtomicUsize,
    pub(crate) worker_threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// Worker threads started and not yet finished, for shutdown to wait on.
    threads_live: std::sync::Mutex<usize>,
    threads_exited: std::sync::Condvar,
}

/// What other threads may touch of a worker.
pub(crate) struct Remote {
    pub(crate) stealers: [Stealer<Notified>; Qos::COUNT],
    pub(crate) unparker: Unparker,
    pub(crate) node: usize,
    /// Position among the normal workers (0, 1, ...), for container sizing:
    /// the active ones are those ranked below `MultiThreadScheduler::active`. `usize::MAX`
    /// for reserved workers, which are never parked by sizing.
    pub(crate) rank: usize,
    pub(crate) watch: std::sync::Arc<CachePadded<WorkerWatch>>,
    /// Set by the worker once its thread made its core (first touch there).
    pub(crate) stats: std::sync::OnceLock<Arc<crate::scheduler::stats::WorkerStats>>,
}

/// A core for a new worker thread: made there from a seed (start-up), or
/// already made (the hand-off of `block_in_place`).
pub(crate) enum CoreSource {
    Seed(Box<CoreSeed>),
    Ready(Box<Core>),
}

impl CoreSource {
    fn into_core(self, shared: &MultiThreadScheduler) -> Box<Core> {
        match self {
            CoreSource::Ready(core) => core,
            CoreSource::Seed(seed) => {
                let index = seed.index();
                let core = seed.grow();
                let _ = shared.remotes[index].stats.set(core.stats.clone());
                core
            }
        }
    }

    fn index(&self) -> usize {
        match self {
            CoreSource::Ready(core) => core.index,
            CoreSource::Seed(seed) => seed.index(),
        }
    }

    fn pin(&self) -> Option<&crate::topology::CpuSet> {
        match self {
            CoreSource::Ready(core) => core.pin.as_ref(),
            CoreSource::Seed(seed) => seed.pin(),
        }
    }
}

impl MultiThreadScheduler {
    pub(crate) fn new(
        remotes: Box<[Remote]>,
        node_workers: Box<[Box<[usize]>]>,
        num_reserved: usize,
        active: usize,
        common: Common,
    ) -> MultiThreadScheduler {
        let n = remotes.len();
        let normal = n - num_reserved;
        let active = active.clamp(1, normal);
        MultiThreadScheduler {
            inject: NodeInjectors::new(node_workers.len()),
            node_workers,
            // Only normal workers take part in the searching accounting.
            idle: Idle::new(normal),
            reserved_idle: ReservedIdle::new(num_reserved),
            num_reserved,
            // Workers ranked at or above it deactivate at their first tick.
            active: AtomicUsize::new(active),
            parks: crate::loom::sync::atomic::AtomicU64::new(0),
            owned: crate::task::list::OwnedTasks::new(n),
            driver_owner: AtomicUsize::new(NO_OWNER),
            is_shutdown: AtomicBool::new(false),
            common,
            remote_rr: AtomicUsize::new(0),
            exited: AtomicUsize::new(0),
            worker_threads: Mutex::new(Vec::new()),
            threads_live: std::sync::Mutex::new(0),
            threads_exited: std::sync::Condvar::new(),
            remotes,
        }
    }

    pub(crate) fn num_workers(&self) -> usize {
        self.remotes.len()
    }

    /// Every live task, if nothing can run: every active (and reserved)
    /// worker sleeps, no queue holds a task, no timer is pending, and the
    /// blocking pool runs nothing. A
    /// snapshot for the watchdog's `AllTasksBlocked` check, which also
    /// requires it to last.
    pub(crate) fn blocked_tasks_if_idle(&self) -> Option<Vec<crate::validation::BlockedTask>> {
        if self.is_shutdown()
            || !self.idle.all_parked()
            || self.reserved_idle_count() < self.num_reserved
            || self.has_queued_work()
            || self.common.time.has_timers()
            || self.common.blocking.is_busy()
        {
            return None;
        }
        self.owned.blocked()
    }

    fn reserved_idle_count(&self) -> usize {
        if self.num_reserved == 0 {
            0
        } else {
            (0..self.remotes.len())
                .filter(|&w| self.reserved_idle.is_registered(w))
                .count()
        }
    }

    fn has_queued_work(&self) -> bool {
        self.node_with_queued_work().is_some()
    }

    /// A node where a task waits in a worker's deque or the injector.
    fn node_with_queued_work(&self) -> Option<usize> {
        let in_deques = self
            .remotes
            .iter()
            .find(|r| r.stealers.iter().any(|s| !s.is_empty()))
            .map(|r| r.node);
        in_deques.or_else(|| {
            (0..self.inject.num_nodes())
                .find(|&n| Qos::ALL.iter().any(|&q| !self.inject.is_empty(n, q)))
        })
    }

    /// Whether the worker at `index` is in the active set.
    #[inline]
    pub(crate) fn is_active(&self, index: usize) -> bool {
        self.remotes[index].rank < self.active.load(Relaxed)
    }

    /// Active workers now: the normal ones in the active set, plus the
    /// reserved ones.
    pub(crate) fn num_active(&self) -> usize {
        self.active.load(Relaxed) + self.num_reserved
    }

    /// Sets how many normal workers are active (clamped to 1..=normal):
    /// workers leaving the set hand their queues over and park at their
    /// next tick; workers joining it are woken.
    pub(crate) fn set_active(&self, n: usize) {
        let normal = self.remotes.len() - self.num_reserved;
        let n = n.clamp(1, normal);
        if self.active.swap(n, SeqCst) == n {
            return;
        }
        // Wake everyone affected: joiners leave their inactive wait, and
        // sleeping leavers leave the sleeper list properly.
        for r in self.remotes.iter().filter(|r| r.rank != usize::MAX) {
            r.unparker.unpark();
        }
    }

    pub(crate) fn spawn<F>(
        me: &Arc<MultiThreadScheduler>,
        future: F,
        meta: TaskMeta,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (task, notified, join) = new_task(future, me.clone(), meta);
        match me.owned.bind(task) {
            Ok(()) => me.schedule_task(notified, false),
            Err(task) => {
                // The runtime is shutting down: the task is cancelled at once.
                drop(notified);
                task.shutdown();
            }
        }
        join
    }

    /// Queues a task: on the current worker if this thread is one of ours,
    /// else on the injector of the node where the task last ran.
    #[inline]
    pub(crate) fn schedule_task(self: &Arc<Self>, task: Notified, is_yield: bool) {
        let local = context::with_multi_thread_worker(|cx| match cx {
            Some(cx) if std::ptr::eq(cx.shared_ptr(), Arc::as_ptr(self)) => {
                cx.schedule_local(task, is_yield)
            }
            _ => Err(task),
        });
        if let Err(task) = local {
            self.schedule_remote(task);
        }
    }

    pub(crate) fn schedule_remote(&self, task: Notified) {
        crate::scheduler::stats::stamp_remote_wake(task.header());
        let node = self.node_for(&task);
        let qos = task.header().qos;
        self.inject.push(node, qos, task);
        if qos == Qos::Critical && self.notify_reserved() {
            return;
        }
        self.notify_parked(node);
    }

    /// Wakes a sleeping reserved worker for newly visible Critical work.
    /// False if there is none asleep (or none at all).
    #[inline]
    pub(crate) fn notify_reserved(&self) -> bool {
        if self.num_reserved == 0 {
            return false;
        }
        match self.reserved_idle.worker_to_notify() {
            Some(w) => {
                self.remotes[w].unparker.unpark();
                true
            }
            None => false,
        }
    }

    /// Whether any Critical task waits in a deque or an injector (a reserved
    /// worker's last look before it sleeps).
    pub(crate) fn has_critical_work(&self) -> bool {
        let c = Qos::Critical.index();
        self.remotes.iter().any(|r| !r.stealers[c].is_empty())
            || (0..self.inject.num_nodes()).any(|n| !self.inject.is_empty(n, Qos::Critical))
    }

    /// The node whose injector takes a task queued from outside its node:
    /// the task's home node (`task::Builder::node`), else the node it last
    /// ran on, else the calling thread's node (getcpu), else round-robin.
    fn node_for(&self, task: &Notified) -> usize {
        let nodes = self.node_workers.len();
        if nodes == 1 {
            return 0;
        }
        let header = task.header();
        if header.home_node != crate::task::raw::NO_NODE {
            return (header.home_node as usize).min(nodes - 1);
        }
        let last = header.last_worker.load(Relaxed) as usize;
        if let Some(r) = self.remotes.get(last) {
            return r.node;
        }
        match self.common.topology.current_node() {
            Some(n) if n.index() < nodes => n.index(),
            _ => self.remote_rr.fetch_add(1, Relaxed) % nodes,
        }
    }

    /// Wakes a sleeping worker if nobody is searching for work, one of
    /// `node`'s if any sleeps (the work was queued there).
    #[inline]
    pub(crate) fn notify_parked(&self, node: usize) {
        self.notify_parked_from(node, None);
    }

    /// `notify_parked` called from worker `me`'s core, which never wakes
    /// itself (see `Idle::worker_to_notify_near`).
    pub(crate) fn notify_parked_from(&self, node: usize, me: Option<usize>) {
        let nodes = self.node_workers.len();
        let worker = if nodes == 1 {
            self.idle.worker_to_notify_near(|_| false, me)
        } else {
            self.idle
                .worker_to_notify_near(|w| self.remotes[w].node == node, me)
        };
        if let Some(worker) = worker {
            self.remotes[worker].unparker.unpark();
        }
    }

    /// The last searcher is going to sleep: make sure no queued work is left
    /// without a worker looking for it.
    ///
    /// The sleeper woken is preferably one of the node the work waits on,
    /// not of the caller's: a worker of another node may not take it before
    /// its steal hysteresis, and would only park again.
    pub(crate) fn notify_if_work_pending(&self) {
        if let Some(node) = self.node_with_queued_work() {
            self.notify_parked(node);
        }
    }

    /// Wakes the worker that sleeps in the driver, so it re-reads the next
    /// timer deadline.
    pub(crate) fn unpark_driver(&self) {
        let owner = self.driver_owner.load(SeqCst);
        if let Some(r) = self.remotes.get(owner) {
            r.unparker.unpark();
        }
    }

    /// Whether `worker` may sleep in the timer driver. When workers are
    /// reserved for Critical tasks only they do: they are the ones idle while
    /// the others are busy, so timers fire on time under load.
    pub(crate) fn try_acquire_driver(&self, worker: usize, reserved: bool) -> bool {
        if self.num_reserved > 0 && !reserved {
            return false;
        }
        self.driver_owner
            .compare_exchange(NO_OWNER, worker, SeqCst, SeqCst)
            .is_ok()
    }

    pub(crate) fn release_driver(&self, worker: usize) {
        let _ = self
            .driver_owner
            .compare_exchange(worker, NO_OWNER, SeqCst, SeqCst);
    }

    pub(crate) fn shutdown(&self) {
        if self.is_shutdown.swap(true, SeqCst) {
            return;
        }
        self.owned.close_and_shutdown_all();
        for r in self.remotes.iter() {
            r.unparker.unpark();
        }
    }

    /// After the last worker left: drop what still references tasks, so the
    /// task ↔ `MultiThreadScheduler` reference cycle is broken.
    pub(crate) fn drain_after_shutdown(&self) {
        for node in 0..self.inject.num_nodes() {
            for qos in Qos::ALL {
                while self.inject.pop(node, qos).is_some() {}
            }
        }
        self.common.time.shutdown();
        if let Some(io) = &self.common.io {
            io.shutdown();
        }
    }

    /// Waits until every worker thread finished (`None`: forever). Returns
    /// false on timeout.
    pub(crate) fn wait_workers(&self, timeout: Option<std::time::Duration>) -> bool {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let mut live = self.threads_live.lock().unwrap_or_else(|e| e.into_inner());
        while *live > 0 {
            live = match deadline {
                None => self
                    .threads_exited
                    .wait(live)
                    .unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = std::time::Instant::now();
                    if now >= d {
                        return false;
                    }
                    self.threads_exited
                        .wait_timeout(live, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
        drop(live);
        let threads: Vec<_> = self
            .worker_threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        for t in threads {
            let _ = t.join();
        }
        true
    }

    fn thread_started(&self) {
        *self.threads_live.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    }

    fn thread_finished(&self) {
        let mut live = self.threads_live.lock().unwrap_or_else(|e| e.into_inner());
        *live -= 1;
        self.threads_exited.notify_all();
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.is_shutdown.load(Acquire)
    }
}

impl Schedule for Arc<MultiThreadScheduler> {
    #[inline]
    fn schedule(&self, task: Notified) {
        self.schedule_task(task, false);
    }

    #[inline]
    fn yield_now(&self, task: Notified) {
        self.schedule_task(task, true);
    }

    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.owned.remove(task)
    }
}

/// Starts a worker thread that runs `core` (at start-up, and to replace a
/// worker that entered `block_in_place`). If the thread cannot be started,
/// the core's tasks move to the injectors so none is lost, and the error is
/// returned.
pub(crate) fn spawn_worker_thread(
    shared: &Arc<MultiThreadScheduler>,
    core: CoreSource,
) -> std::io::Result<()> {
    let cfg = &shared.common.config;
    let mut builder = std::thread::Builder::new().name((cfg.thread_name)());
    if let Some(size) = cfg.thread_stack_size {
        builder = builder.stack_size(size);
    }
    let shared2 = shared.clone();
    let on_start = cfg.on_thread_start.clone();
    let on_stop = cfg.on_thread_stop.clone();
    // The core crosses to the new thread inside this slot; if spawning fails
    // the closure (and the slot) come back to us through the error path.
    let index = core.index();
    let slot = Arc::new(std::sync::Mutex::new(Some(core)));
    let slot2 = slot.clone();
    shared.thread_started();
    let mode = cfg.validation;
    let res = builder.spawn(move || {
        crate::validation::set_thread_mode(Some(mode));
        if let Some(f) = &on_start {
            f();
        }
        let source = slot2.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(source) = source {
            // Pin first, then make the core: its memory is first touched on
            // the worker's CPUs.
            worker::pin(source.pin());
            let core = source.into_core(&shared2);
            worker::run(shared2.clone(), core);
        }
        if let Some(f) = &on_stop {
            f();
        }
        shared2.thread_finished();
    });
    match res {
        Ok(handle) => {
            shared
                .worker_threads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(handle);
            Ok(())
        }
        Err(e) => {
            shared.thread_finished();
            let source = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(source) = source {
                let core = source.into_core(shared);
                core.hand_over(shared);
                drop(core);
                worker::worker_exited(shared);
            }
            Err(crate::runtime::thread_spawn_error(
                &format!(
                    "worker thread {} of {} (named {:?})",
                    index + 1,
                    shared.remotes.len(),
                    (cfg.thread_name)()
                ),
                e,
            ))
        }
    }
}
