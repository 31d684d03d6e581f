//! The current-thread scheduler: every task runs on the thread that calls
//! `block_on`.
//!
//! The run queues live in a `Core` that one `block_on` call at a time holds
//! (another thread calling `Handle::block_on` waits for it, polling only its
//! own future meanwhile). Wakes from the driving thread go straight to the
//! core's class queues; wakes from other threads go to the class injectors
//! and unpark the driving thread. The pick rule is the multi-thread one
//! without the LIFO slot and without stealing.

use super::inject::NodeInjectors;
use super::park::{Parker, Unparker};
use super::watchdog::WorkerWatch;
use super::Common;
use crate::loom::sync::atomic::{AtomicBool, Ordering::*};
use crate::runtime::context;
use crate::task::coop;
use crate::task::raw::{new_task, Schedule, Task, TaskMeta};
use crate::task::{JoinHandle, Qos};
use crossbeam_utils::CachePadded;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

pub(crate) type Notified = crate::task::raw::Notified<Arc<CurrentThreadScheduler>>;

/// The current-thread scheduler, shared by its handles and tasks: the
/// injection queues, the owned tasks, and the one core that whichever
/// thread runs `block_on` takes to drive them.
pub(crate) struct CurrentThreadScheduler {
    pub(crate) inject: NodeInjectors<Notified>,
    pub(crate) owned: crate::task::list::OwnedTasks<Arc<CurrentThreadScheduler>>,
    pub(crate) common: Common,
    core: Mutex<Option<Box<Core>>>,
    /// Unparks whichever thread drives the core.
    core_unparker: Unparker,
    /// Threads waiting in `block_on` for the core.
    waiters: Mutex<Vec<Unparker>>,
    is_shutdown: AtomicBool,
    /// The driving thread sleeps with no timer to wake it (for the
    /// watchdog's `AllTasksBlocked` check).
    idle_parked: AtomicBool,
    pub(crate) watch: std::sync::Arc<CachePadded<WorkerWatch>>,
    /// The core's counters, readable while another thread drives it.
    pub(crate) stats: Arc<super::stats::WorkerStats>,
}

pub(crate) struct Core {
    queues: RefCell<[VecDeque<Notified>; Qos::COUNT]>,
    tick: Cell<u32>,
    picker: super::pick::Picker,
    pub(crate) stats: Arc<super::stats::WorkerStats>,
    parker: Parker,
    global_queue_interval: u32,
    event_interval: u32,
    io: crate::io::driver::LocalIo,
}

/// The context a driving thread installs so wakes reach the core directly.
pub(crate) struct CoreCx {
    shared: *const CurrentThreadScheduler,
    core: *const Core,
}

impl CoreCx {
    pub(crate) fn is_for(&self, shared: &Arc<CurrentThreadScheduler>) -> bool {
        std::ptr::eq(self.shared, Arc::as_ptr(shared))
    }

    /// The core's part of the I/O driver.
    ///
    /// # Safety
    /// Only while the `block_on` that installed this context holds the core.
    pub(crate) unsafe fn local_io(&self) -> &crate::io::driver::LocalIo {
        // SAFETY: forwarded to the caller: the core outlives the context.
        unsafe { &(*self.core).io }
    }

    /// # Safety
    /// Only while the `block_on` that installed this context holds the core.
    pub(crate) unsafe fn push(&self, task: Notified) {
        // SAFETY: forwarded to the caller.
        let core = unsafe { &*self.core };
        super::stats::stamp_wake(
            task.header(),
            core.tick.get() % super::stats::SAMPLE_EVERY == 0,
        );
        core.queues.borrow_mut()[task.header().qos.index()].push_back(task);
    }
}

impl CurrentThreadScheduler {
    pub(crate) fn new(
        common: Common,
        watch: std::sync::Arc<CachePadded<WorkerWatch>>,
        io: crate::io::driver::LocalIo,
    ) -> CurrentThreadScheduler {
        let parker = Parker::new();
        let core_unparker = parker.unparker();
        if let Some(driver) = &common.io {
            parker.set_driver_wake(driver.waker_for(&io));
            let u = core_unparker.clone();
            driver.set_ring_unpark(&io, Box::new(move || u.unpark()));
        }
        let cfg = &common.config;
        let stats = Arc::new(super::stats::WorkerStats::new());
        let core = Box::new(Core {
            queues: RefCell::new(Default::default()),
            tick: Cell::new(0),
            picker: super::pick::Picker::new(cfg.qos_weights),
            stats: stats.clone(),
            parker,
            global_queue_interval: cfg.global_queue_interval.max(1),
            event_interval: cfg.event_interval.max(1),
            io,
        });
        CurrentThreadScheduler {
            inject: NodeInjectors::new(1),
            owned: crate::task::list::OwnedTasks::new(1),
            common,
            core: Mutex::new(Some(core)),
            core_unparker,
            waiters: Mutex::new(Vec::new()),
            is_shutdown: AtomicBool::new(false),
            idle_parked: AtomicBool::new(false),
            watch,
            stats,
        }
    }

    pub(crate) fn spawn<F>(
        me: &Arc<CurrentThreadScheduler>,
        future: F,
        meta: TaskMeta,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (task, notified, join) = new_task(future, me.clone(), meta);
        match me.owned.bind(task) {
            Ok(()) => me.schedule(notified),
            Err(task) => {
                drop(notified);
                task.shutdown();
            }
        }
        join
    }

    pub(crate) fn unpark(&self) {
        self.core_unparker.unpark();
    }

    pub(crate) fn shutdown(&self) {
        if self.is_shutdown.swap(true, SeqCst) {
            return;
        }
        self.owned.close_and_shutdown_all();
        // If no `block_on` holds the core, clear it now; otherwise the holder
        // does when it gives the core back.
        let core = self.core.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(core) = core {
            drop(core);
            self.drain_after_shutdown();
        }
        self.core_unparker.unpark();
        self.wake_waiters();
    }

    /// Wakes every `block_on` waiting for the core (it was released or the
    /// runtime shut down).
    fn wake_waiters(&self) {
        let waiters = std::mem::take(&mut *self.waiters.lock().unwrap_or_else(|e| e.into_inner()));
        for w in waiters {
            w.unpark();
        }
    }

    fn drain_after_shutdown(&self) {
        for qos in Qos::ALL {
            while self.inject.pop(0, qos).is_some() {}
        }
        self.common.time.shutdown();
        if let Some(io) = &self.common.io {
            io.shutdown();
        }
    }

    /// Every live task, if nothing can run: the driving thread sleeps
    /// in `block_on` with no timer pending, nothing queued and nothing
    /// running on the blocking pool. A snapshot
    /// for the watchdog's `AllTasksBlocked` check, which also requires it
    /// to last (the `block_on` future itself is not a task: a runtime with
    /// no task is never reported).
    pub(crate) fn blocked_tasks_if_idle(&self) -> Option<Vec<crate::validation::BlockedTask>> {
        if self.is_shutdown()
            || !self.idle_parked.load(SeqCst)
            || self.inject.len() > 0
            || self.common.time.has_timers()
            || self.common.blocking.is_busy()
        {
            return None;
        }
        self.owned.blocked()
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.is_shutdown.load(Acquire)
    }

    fn take_core(&self) -> Option<Box<Core>> {
        self.core.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn release_core(&self, core: Box<Core>) {
        if self.is_shutdown() {
            drop(core);
            self.drain_after_shutdown();
        } else {
            *self.core.lock().unwrap_or_else(|e| e.into_inner()) = Some(core);
        }
        self.wake_waiters();
    }

    /// Runs `future` to completion on this thread, driving the runtime's
    /// tasks whenever no other thread does.
    pub(crate) fn block_on<F: Future>(me: &Arc<CurrentThreadScheduler>, future: F) -> F::Output {
        let mut future = pin!(future);
        let own = Parker::new();
        let wake = Arc::new(BlockOnWake {
            woken: AtomicBool::new(true),
            own: own.unparker(),
            core: me.core_unparker.clone(),
        });
        let waker = Waker::from(wake.clone());
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Some(core) = me.take_core() {
                // This thread drives the timers while it holds the core: its
                // parks set its timer slack as a worker's do (lowered only
                // for a near deadline), and its default comes back after.
                crate::time::init_worker_timer_slack();
                let (core, out) = me.drive(core, &wake, &mut || future.as_mut().poll(&mut cx));
                crate::time::leave_worker_timer_slack();
                me.release_core(core);
                if let Some(out) = out {
                    return out;
                }
                continue;
            }
            // Another thread drives the runtime: poll our own future when
            // woken, and wait for the core to come back.
            // Register once: a wake of our own future loops back here
            // without `release_core` having drained the list.
            {
                let me_unparker = own.unparker();
                let mut waiters = me.waiters.lock().unwrap_or_else(|e| e.into_inner());
                if !waiters.iter().any(|w| w.same_as(&me_unparker)) {
                    waiters.push(me_unparker);
                }
            }
            if wake.woken.swap(false, AcqRel) {
                if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                    return out;
                }
            }
            if me.core.lock().unwrap_or_else(|e| e.into_inner()).is_none() && !me.is_shutdown() {
                own.park(None);
            } else if me.is_shutdown() {
                panic!("the current_thread runtime was shut down while a block_on call was waiting to drive it");
            }
        }
    }

    /// Runs tasks and polls the `block_on` future with the core. Returns the
    /// core and, once ready, the future's output.
    fn drive<T>(
        self: &Arc<CurrentThreadScheduler>,
        core: Box<Core>,
        wake: &BlockOnWake,
        poll: &mut dyn FnMut() -> Poll<T>,
    ) -> (Box<Core>, Option<T>) {
        let handle = super::Handle::CurrentThread(self.clone());
        let cx = CoreCx {
            shared: Arc::as_ptr(self),
            core: &*core,
        };
        let time = &self.common.time;
        let out =
            context::enter_current_thread(handle, &cx, &self.watch, &self.common.watchdog, || {
                loop {
                    if self.is_shutdown() {
                        return None;
                    }
                    if wake.woken.swap(false, AcqRel) {
                        if let Poll::Ready(out) = coop::with_budget(&mut *poll) {
                            return Some(out);
                        }
                    }
                    let mut ran = false;
                    for _ in 0..core.event_interval {
                        if time.is_due() {
                            time.process();
                        }
                        let Some(task) = core.next_task(self) else {
                            break;
                        };
                        ran = true;
                        core.stats.on_poll(task.header());
                        let qos = task.header().qos;
                        core.stats.run_poll(qos, core.tick.get(), || task.run());
                        if wake.woken.load(Relaxed) {
                            break;
                        }
                    }
                    // I/O that became ready meanwhile (a few loads when
                    // there is none).
                    if ran {
                        // One reading per batch of polls: the ring's
                        // periodic harvest while the loop stays busy.
                        core.io
                            .tick(core.io.wants_clock().then(super::stats::now_ns));
                        if let Some(io) = &self.common.io {
                            io.poll_shared();
                        }
                    }
                    if ran || wake.woken.load(Acquire) {
                        continue;
                    }
                    // Nothing to do: sleep until a wake or the next timer. A paused
                    // clock jumps to the next timer instead.
                    if time.auto_advance() {
                        time.process();
                        continue;
                    }
                    let timeout = time.park_timeout();
                    self.idle_parked.store(timeout.is_none(), SeqCst);
                    // No 50 µs kernel slack on a wait for a near deadline;
                    // a far wait ends early to wait the rest lowered.
                    let timeout = crate::time::worker_wait_slack(timeout);
                    self.common.config.on_park();
                    core.stats.on_park();
                    match &self.common.io {
                        Some(io) => core
                            .parker
                            .park_in_driver(timeout, |t| io.wait(&core.io, t)),
                        None => core.parker.park(timeout),
                    }
                    core.stats.on_unpark();
                    self.common.config.on_unpark();
                    self.idle_parked.store(false, SeqCst);
                    time.process();
                }
            });
        (core, out)
    }
}

impl Core {
    fn next_task(&self, shared: &CurrentThreadScheduler) -> Option<Notified> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        let fair = tick % self.global_queue_interval == 0;
        let order = self.picker.order();
        for qos in order {
            if let Some(t) = self.next_of_class(shared, qos, fair) {
                self.picker.record(order, Some(qos));
                return Some(t);
            }
        }
        self.picker.record(order, None);
        None
    }

    #[inline]
    fn next_of_class(
        &self,
        shared: &CurrentThreadScheduler,
        qos: Qos,
        fair: bool,
    ) -> Option<Notified> {
        if fair {
            if let Some(t) = shared.inject.pop(0, qos) {
                return Some(t);
            }
        }
        if let Some(t) = self.queues.borrow_mut()[qos.index()].pop_front() {
            return Some(t);
        }
        if shared.inject.is_empty(0, qos) {
            return None;
        }
        shared.inject.pop(0, qos)
    }
}

struct BlockOnWake {
    woken: AtomicBool,
    own: Unparker,
    core: Unparker,
}

impl Wake for BlockOnWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Release);
        self.own.unpark();
        self.core.unpark();
    }
}

impl Schedule for Arc<CurrentThreadScheduler> {
    fn schedule(&self, task: Notified) {
        let pushed = context::with_current_thread_core(|cx| match cx {
            Some(cx) if cx.is_for(self) => {
                // SAFETY: the context is installed only while its `block_on` holds the core, on this thread.
                unsafe { cx.push(task) };
                None
            }
            _ => Some(task),
        });
        if let Some(task) = pushed {
            let qos = task.header().qos;
            super::stats::stamp_remote_wake(task.header());
            self.inject.push(0, qos, task);
            self.core_unparker.unpark();
        }
    }

    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.owned.remove(task)
    }
}
