//! A worker's run loop: pick, steal, park; and `block_in_place`.
//!
//! The worker thread owns its `Core` through `WorkerCx::core` (a raw pointer
//! to the boxed core, installed in the thread's context so that wakes made by
//! the running task reach the local queues). `block_in_place` takes the core
//! out and starts a new thread with it: the run loop notices the core is gone
//! after the current poll and the old thread exits.

use super::{Core, MultiThreadScheduler, Notified};
use crate::runtime::context;
use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::atomic::Ordering::*;
use std::sync::Arc;

pub(crate) struct WorkerCx {
    shared: Arc<MultiThreadScheduler>,
    core: Cell<Option<NonNull<Core>>>,
}

impl WorkerCx {
    pub(crate) fn shared_ptr(&self) -> *const MultiThreadScheduler {
        Arc::as_ptr(&self.shared)
    }

    #[inline]
    pub(crate) fn schedule_local(&self, task: Notified, is_yield: bool) -> Result<(), Notified> {
        let Some(core) = self.core.get() else {
            return Err(task);
        };
        // SAFETY: the core pointer is only set while this thread owns the core; it is only read on this thread (`WorkerCx` is reached through a thread-local).
        let core = unsafe { core.as_ref() };
        core.push_local(task, is_yield, &self.shared);
        Ok(())
    }

    /// The node of the worker running on this thread, if it holds its core.
    pub(crate) fn node(&self) -> Option<usize> {
        // SAFETY: the core pointer is set only while this thread owns the core, and read only on this thread (through a thread-local).
        self.core.get().map(|c| unsafe { c.as_ref() }.node)
    }

    /// Runs `f` with this worker's part of the I/O driver, if it holds its
    /// core.
    pub(crate) fn with_local_io<R>(
        &self,
        f: impl FnOnce(Option<&crate::io::driver::LocalIo>) -> R,
    ) -> R {
        match self.core.get() {
            // SAFETY: the core pointer is set only while this thread owns the core, and read only on this thread (through a thread-local).
            Some(core) => f(Some(&unsafe { core.as_ref() }.io)),
            None => f(None),
        }
    }

    /// Takes the core away from this thread (for `block_in_place`).
    fn take_core(&self) -> Option<Box<Core>> {
        self.core.take().map(|p| {
            // SAFETY: from `Box::into_raw` in `run` and cleared here, so ownership moves back into exactly one `Box`.
            unsafe { Box::from_raw(p.as_ptr()) }
        })
    }
}

/// Runs a worker on the current thread until shutdown or hand-off.
/// Pins the calling worker thread to `cpus`, if any.
pub(super) fn pin(cpus: Option<&crate::topology::CpuSet>) {
    if let Some(cpus) = cpus {
        // Validated against the allowed CPUs when the runtime was built;
        // failing now (the affinity changed since) leaves it unpinned.
        if let Err(e) = crate::topology::pin_current_thread(cpus) {
            tracing::error!("could not pin a worker to CPUs {cpus}: {e}; it runs unpinned");
        }
    }
}

pub(crate) fn run(shared: Arc<MultiThreadScheduler>, core: Box<Core>) {
    // Parks on a near deadline lower the kernel's timer slack (see
    // `park_core`).
    crate::time::init_worker_timer_slack();
    let handle = crate::scheduler::Handle::MultiThread(shared.clone());
    let index = core.index;
    // Timers this worker's tasks start live in its own wheel.
    let _shard = shared.common.time.enter_worker(index);
    shared.common.time.set_attended(index, true);
    let watch = shared.remotes[index].watch.clone();
    let cx = WorkerCx {
        shared,
        core: Cell::new(Some(NonNull::from(Box::leak(core)))),
    };
    context::enter_worker(handle, &cx, &watch, &cx.shared.common.watchdog, || {
        run_loop(&cx);
    });
    if let Some(core) = cx.take_core() {
        // Shutdown: drop the queued references.
        drop(core);
        worker_exited(&cx.shared);
    }
}

fn run_loop(cx: &WorkerCx) {
    let shared = &*cx.shared;
    let time = &shared.common.time;
    loop {
        let Some(core) = cx.core.get() else {
            // Handed off by `block_in_place`.
            return;
        };
        // SAFETY: this thread owns the core until `take_core`, which only runs inside a task poll on this thread; we re-read the pointer after every poll.
        let core = unsafe { core.as_ref() };
        if shared.is_shutdown() {
            return;
        }
        if !core.reserved && !shared.is_active(core.index) {
            deactivate(shared, core);
            continue;
        }
        // One paced clock reading serves the timers, the ring's harvest and
        // the pick rule's charge for the previous poll.
        let reading = core.timer_pace.tick(
            time,
            core.pending_charge.get().is_some() || core.io.wants_clock() || core.pick_wants_clock(),
        );
        let now = reading.map(|(now, _)| now);
        if let Some((qos, start)) = core.pending_charge.take() {
            // No reading now: the pace judged the ticks short (under ~4 µs
            // on average), and a short poll costs the one pick it counted.
            if let Some(now) = now {
                core.charge_poll(qos, now.saturating_sub(start));
            }
        }
        if let Some((now, true)) = reading {
            core.drivers(|| time.process_at(now));
        }
        core.drivers(|| core.io.tick(now));
        if let Some(io) = &shared.common.io {
            if core.tick() % shared.common.config.event_interval.max(1) == 0 {
                core.drivers(|| io.poll_shared());
            }
        }
        if let Some(task) = core.next_task(shared) {
            core.found_local_work();
            run_task(shared, core, task, now);
            continue;
        }
        // Nothing local: hand the ring's queued entries to the kernel
        // before looking elsewhere.
        core.drivers(|| core.io.flush());
        if core.has_local_work() {
            // Completions the flush dispatched woke tasks here.
            continue;
        }
        if let Some(task) = core.steal_work(shared) {
            run_task(shared, core, task, now);
            continue;
        }
        if core.reserved {
            park_reserved(shared, core);
        } else {
            park(shared, core);
        }
    }
}

/// Runs one poll of `task`; `now`: the clock reading of this tick, if the
/// pace took one (the poll's start, for the pick rule's charge). Always
/// inlined: it runs at every tick that finds a task, and out of line its
/// call and frame cost ~35 instructions each time.
#[inline(always)]
fn run_task(shared: &MultiThreadScheduler, core: &Core, task: Notified, now: Option<u64>) {
    if core.is_searching.replace(false) && shared.idle.transition_worker_from_searching() {
        // We were the last searcher: someone else must look for the rest,
        // if there is any. The check follows our SeqCst decrement, and a
        // producer's state load follows its push: either it saw nobody
        // searching and woke a sleeper itself, or we see its task here. A
        // sleeper woken when nothing is queued (a wake from outside that
        // brought one task, the common case of a `block_on` thread talking
        // to a task) would only search, find nothing and park again: a
        // context switch per message on a machine with a CPU to spare, and
        // a stolen time slice on one without.
        shared.notify_if_work_pending();
    }
    task.header().last_worker.store(core.index as u32, Relaxed);
    core.stats.on_poll(task.header());
    let qos = task.header().qos;
    core.class_switch.before_poll(qos, &core.timer_pace);
    // The pick rule charges a class by its polls' time, measured between
    // two clock readings the pace takes anyway: the poll is charged at the
    // next tick's reading. Unless the poll handed the core to another
    // thread (`block_in_place`): then the core is no longer ours to touch.
    core.pending_charge.set(now.map(|now| (qos, now)));
    core.stats.run_poll(qos, core.tick(), || task.run());
}

/// Container sizing shrank the active set below this worker: hand every
/// queued task to the node injector (in this worker's run order, so tasks
/// of a class keep their order) and wait, outside the sleeper list, until
/// the set grows again or the runtime shuts down.
#[cold]
fn deactivate(shared: &MultiThreadScheduler, core: &Core) {
    let was_searching = core.is_searching.replace(false);
    core.hand_over(shared);
    if shared.idle.transition_worker_to_inactive(was_searching) {
        shared.notify_if_work_pending();
    }
    while !shared.is_shutdown() && !shared.is_active(core.index) {
        park_core(shared, core, None, false);
    }
    shared.idle.transition_worker_from_inactive();
    core.is_searching.set(true);
}

fn park(shared: &MultiThreadScheduler, core: &Core) {
    let index = core.index;
    shared.parks.fetch_add(1, Relaxed);
    let was_searching = core.is_searching.replace(false);
    if shared
        .idle
        .transition_worker_to_parked(index, was_searching)
    {
        shared.notify_if_work_pending();
    }
    let time = &shared.common.time;
    loop {
        if shared.is_shutdown() {
            return;
        }
        if shared.try_acquire_driver(index, false) {
            // Park in the driver: until the next timer or an unpark.
            park_core(shared, core, time.park_timeout(), true);
            shared.release_driver(index);
            core.drivers(|| time.process());
        } else {
            park_core(shared, core, None, false);
        }
        if core.has_local_work() {
            // The timers we processed woke tasks onto our own queues.
            if !shared.idle.unpark_worker_by_id(index) {
                // Someone woke us meanwhile and counted us as searching.
                core.is_searching.set(true);
            }
            return;
        }
        if !shared.idle.is_parked(index) {
            // Woken by `notify_parked`, which counted us as searching.
            core.is_searching.set(true);
            return;
        }
        if !shared.is_active(index) {
            // Sizing shrank the set: leave the sleeper list; the run loop
            // then deactivates.
            if !shared.idle.unpark_worker_by_id(index) {
                core.is_searching.set(true);
            }
            return;
        }
    }
}

/// A reserved worker found no Critical work: sleep until a producer of
/// Critical work wakes it (see `ReservedIdle`), or, as the driver owner,
/// until the next timer.
fn park_reserved(shared: &MultiThreadScheduler, core: &Core) {
    let index = core.index;
    shared.reserved_idle.register(index);
    // The last look, after registering (the Dekker half of the protocol).
    if shared.has_critical_work() {
        shared.reserved_idle.unregister(index);
        return;
    }
    let time = &shared.common.time;
    loop {
        if shared.is_shutdown() {
            return;
        }
        if shared.try_acquire_driver(index, true) {
            park_core(shared, core, time.park_timeout(), true);
            shared.release_driver(index);
            core.drivers(|| time.process());
        } else {
            park_core(shared, core, None, false);
        }
        if !shared.reserved_idle.is_registered(index) {
            // A producer took us off the list and unparked us.
            return;
        }
        if core.has_local_work() || shared.has_critical_work() {
            // A timer we fired, or work whose producer woke another sleeper.
            shared.reserved_idle.unregister(index);
            return;
        }
    }
}

/// Sleeps until unparked or `timeout`. On io_uring a core with I/O in
/// flight waits in its own ring (its completions arrive while it sleeps);
/// on epoll only the core that holds the driver (`owns_driver`) waits in
/// the epoll instance; the others wait on their parker's condvar.
fn park_core(
    shared: &MultiThreadScheduler,
    core: &Core,
    timeout: Option<std::time::Duration>,
    owns_driver: bool,
) {
    shared.common.config.on_park();
    core.stats.on_park();
    // Asleep, this worker leaves its due timers to the others at once.
    core.timer_pace.reset();
    // The next reading comes after the sleep: it measures no poll.
    core.pending_charge.set(None);
    shared.common.time.set_attended(core.index, false);
    // No 50 µs kernel slack on a wait for a near deadline; the default
    // otherwise, and a far wait ends early to wait the rest lowered.
    let timeout = crate::time::worker_wait_slack(timeout);
    match &shared.common.io {
        Some(io) if io.parks_in_driver(&core.io, owns_driver) => {
            core.parker
                .park_in_driver(timeout, |t| core.drivers(|| io.wait(&core.io, t)));
        }
        _ => core.parker.park(timeout),
    }
    shared.common.time.set_attended(core.index, true);
    core.stats.on_unpark();
    shared.common.config.on_unpark();
}

/// Called by each worker thread as it leaves at shutdown; the last one
/// clears the injectors and timers so nothing keeps the tasks (and through
/// them this `MultiThreadScheduler`) alive.
pub(super) fn worker_exited(shared: &MultiThreadScheduler) {
    let exited = shared.exited.fetch_add(1, AcqRel) + 1;
    if exited == shared.num_workers() {
        shared.drain_after_shutdown();
    }
}

/// See `task::block_in_place`.
#[track_caller]
pub(crate) fn block_in_place<F, R>(f: F) -> R
where
    F: FnOnce() -> R,
{
    enum Outcome {
        HandedOff,
        NotAWorker,
        CurrentThread,
    }
    let outcome = context::with_multi_thread_worker(|cx| match cx {
        Some(cx) => match cx.take_core() {
            Some(core) => {
                // Its timers stay in the core's wheel, driven by the core's
                // new thread; this one's go to the shared wheel from now on.
                crate::time::leave_worker_shard();
                let shared = cx.shared.clone();
                if let Err(e) = super::spawn_worker_thread(&shared, super::CoreSource::Ready(core))
                {
                    // No thread: the queues are handed to the other workers
                    // instead (the core is dropped by `spawn_worker_thread`).
                    tracing::error!("block_in_place could not start a replacement worker: {e}");
                }
                Outcome::HandedOff
            }
            None => Outcome::NotAWorker,
        },
        None if context::current_is_current_thread() => Outcome::CurrentThread,
        None => Outcome::NotAWorker,
    });
    match outcome {
        Outcome::CurrentThread => panic!(
            "task::block_in_place cannot be used on a current_thread runtime: there is no other \
             worker to take over its tasks; use spawn_blocking, or build the runtime with \
             runtime::Builder::new_multi_thread()"
        ),
        Outcome::HandedOff | Outcome::NotAWorker => {
            // Blocking here is allowed now: this thread is no longer a worker.
            context::exit_runtime_for_blocking(f)
        }
    }
}
