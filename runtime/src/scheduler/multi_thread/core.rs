//! A worker's private run queues and the pick rule (see `scheduler` docs).
//!
//! `Core` is owned by one worker thread at a time and is `!Sync`: its fields
//! use `Cell`s and crossbeam's `Worker` deques, so the run loop and the
//! wake path (which runs inside a task poll on the same thread) both use it
//! through a shared reference, without a `RefCell` dance on every poll.

use super::spec::Peers;
use super::{MultiThreadScheduler, Notified};
use crate::scheduler::inject::retry;
use crate::scheduler::park::Parker;
use crate::scheduler::pick::{Picker, QosWeights};
use crate::scheduler::stats::{self, WorkerStats};
use crate::task::Qos;
use crossbeam_deque::{Stealer, Worker};
use std::cell::Cell;
use std::sync::Arc;

/// Consecutive LIFO-slot polls allowed before the slot's task goes to the
/// back of its deque, so two tasks waking each other cannot starve the rest.
const MAX_LIFO_POLLS: u8 = 3;

/// The class of the last poll a worker ran: a poll of a lower class than
/// that one makes the next tick read the clock, whatever the pace's
/// estimate.
///
/// The worker sees sockets that became ready while it was busy only at a
/// tick that reads the clock (the ring's harvest, `io/driver/uring.rs`),
/// and starts the next poll by what it has seen. After a stretch of short
/// Critical polls the pace (`time::TimerPace`) skips up to 15 readings; if
/// the poll after them is a long Batch one (a CPU-bound chunk between two
/// yields: hundreds of µs), each skipped tick would start another one
/// while Critical requests wait unseen in the epoll set: up to 15 long
/// polls in a row. The first lower-class poll is where ticks stop being
/// alike, so the estimate restarts there: one clock read per switch to a
/// lower class (none while a worker serves one class, or moves up), and a
/// Critical request that arrives during a long poll is picked right after
/// it.
pub(crate) struct ClassSwitch {
    last: Cell<Qos>,
}

impl ClassSwitch {
    pub(crate) fn new() -> ClassSwitch {
        ClassSwitch {
            last: Cell::new(Qos::Critical),
        }
    }

    /// Called before each poll (of a picked or a stolen task) of class
    /// `qos`, with the worker's pace.
    #[inline]
    pub(crate) fn before_poll(&self, qos: Qos, pace: &crate::time::TimerPace) {
        if qos.index() > self.last.replace(qos).index() {
            pace.reset();
        }
    }
}

/// Where a worker sits and whom it steals from, decided by the builder.
pub(crate) struct WorkerSpec {
    pub(crate) index: usize,
    pub(crate) node: usize,
    /// Runs only Critical tasks (`Builder::reserve_critical_workers`).
    pub(crate) reserved: bool,
    /// CPUs to pin the worker thread to (`Builder::placement`).
    pub(crate) pin: Option<crate::topology::CpuSet>,
    /// The workers of this node, this worker's cache group first in line.
    pub(crate) peers: Peers,
    /// The other nodes, nearest first (shared by the node's workers).
    pub(crate) remote_nodes: Arc<[usize]>,
}

pub(crate) struct Core {
    pub(crate) index: usize,
    pub(crate) node: usize,
    /// A reserved worker runs only Critical tasks
    /// (`Builder::reserve_critical_workers`).
    pub(crate) reserved: bool,
    pub(crate) pin: Option<crate::topology::CpuSet>,
    peers: Peers,
    remote_nodes: Arc<[usize]>,
    /// Consecutive searches that found nothing on this node.
    local_misses: Cell<u32>,
    steal_hysteresis: u32,
    queues: [Worker<Notified>; Qos::COUNT],
    lifo: Cell<Option<Notified>>,
    lifo_polls: Cell<u8>,
    /// Set while this worker runs its drivers (I/O completions, timers)
    /// outside any task's poll; see `drivers`.
    in_drivers: Cell<bool>,
    tick: Cell<u32>,
    picker: Picker,
    pub(crate) stats: Arc<WorkerStats>,
    pub(crate) is_searching: Cell<bool>,
    rng: Cell<u64>,
    global_queue_interval: u32,
    pub(crate) parker: Parker,
    /// This core's part of the I/O driver (its ring on io_uring).
    pub(crate) io: crate::io::driver::LocalIo,
    /// How often the run loop reads the clock for due timers.
    pub(crate) timer_pace: crate::time::TimerPace,
    /// The class of the poll that started at the last clock reading, and
    /// that reading: charged to the picker at the next reading (`pick.rs`).
    pub(crate) pending_charge: Cell<Option<(Qos, u64)>>,
    /// Restarts the clock-read pace when the worker switches to a lower
    /// class (see `ClassSwitch`).
    pub(crate) class_switch: ClassSwitch,
}

impl Core {
    /// What the builder makes for a worker before its thread exists: the
    /// deques (their stealers go into `Remote` at once) and the parker (its
    /// unparker too). The rest of the core is made by `CoreSeed::grow` on
    /// the worker's own thread.
    pub(crate) fn seed(
        spec: WorkerSpec,
        cfg: &crate::runtime::config::Config,
        io: crate::io::driver::LocalIo,
        driver: Option<&Arc<crate::io::driver::Driver>>,
    ) -> (
        CoreSeed,
        [Stealer<Notified>; Qos::COUNT],
        crate::scheduler::park::Unparker,
    ) {
        let queues = [Worker::new_fifo(), Worker::new_fifo(), Worker::new_fifo()];
        let stealers = [
            queues[0].stealer(),
            queues[1].stealer(),
            queues[2].stealer(),
        ];
        let parker = Parker::new();
        let unparker = parker.unparker();
        if let Some(driver) = driver {
            parker.set_driver_wake(driver.waker_for(&io));
            let u = unparker.clone();
            driver.set_ring_unpark(&io, Box::new(move || u.unpark()));
        }
        let seed = CoreSeed {
            spec,
            queues,
            parker,
            io,
            weights: cfg.qos_weights,
            steal_hysteresis: cfg.steal_hysteresis,
            global_queue_interval: cfg.global_queue_interval,
        };
        (seed, stealers, unparker)
    }
}

/// A worker's core before its thread runs: see `Core::seed`.
pub(crate) struct CoreSeed {
    spec: WorkerSpec,
    queues: [Worker<Notified>; Qos::COUNT],
    parker: Parker,
    io: crate::io::driver::LocalIo,
    weights: QosWeights,
    steal_hysteresis: u32,
    global_queue_interval: u32,
}

impl CoreSeed {
    pub(crate) fn index(&self) -> usize {
        self.spec.index
    }

    pub(crate) fn pin(&self) -> Option<&crate::topology::CpuSet> {
        self.spec.pin.as_ref()
    }

    /// Makes the core. Called on the worker's thread (after it pinned
    /// itself), so the core and its counters are first touched — and placed
    /// by the kernel — on the worker's node.
    pub(crate) fn grow(self: Box<Self>) -> Box<Core> {
        let CoreSeed {
            spec,
            queues,
            parker,
            io,
            weights,
            steal_hysteresis,
            global_queue_interval,
        } = *self;
        let WorkerSpec {
            index,
            node,
            reserved,
            pin,
            peers,
            remote_nodes,
        } = spec;
        Box::new(Core {
            index,
            node,
            reserved,
            pin,
            peers,
            remote_nodes,
            local_misses: Cell::new(0),
            steal_hysteresis,
            queues,
            lifo: Cell::new(None),
            lifo_polls: Cell::new(0),
            in_drivers: Cell::new(false),
            tick: Cell::new(0),
            picker: Picker::new(weights),
            stats: Arc::new(WorkerStats::new()),
            is_searching: Cell::new(false),
            rng: Cell::new(0x9E37_79B9_7F4A_7C15 ^ ((index as u64 + 1) << 17)),
            global_queue_interval: global_queue_interval.max(1),
            parker,
            io,
            timer_pace: crate::time::TimerPace::new(),
            pending_charge: Cell::new(None),
            class_switch: ClassSwitch::new(),
        })
    }
}

impl Core {
    /// Picks made so far (wrapping).
    #[inline]
    pub(crate) fn tick(&self) -> u32 {
        self.tick.get()
    }

    /// The next task by the pick rule, from this worker's queues and its
    /// node's injectors.
    #[inline]
    pub(crate) fn next_task(&self, shared: &MultiThreadScheduler) -> Option<Notified> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        let fair = tick % self.global_queue_interval == 0;
        if self.reserved {
            return self.next_of_class(shared, Qos::Critical, fair);
        }
        let order = self.picker.order();
        let lifo = self.lifo_class();
        for qos in order {
            // A class with nothing queued anywhere it looks is passed over
            // without the call (most ticks run one class).
            if !fair
                && lifo != Some(qos)
                && self.queues[qos.index()].is_empty()
                && shared.inject.is_empty(self.node, qos)
            {
                continue;
            }
            if let Some(t) = self.next_of_class(shared, qos, fair) {
                self.picker.record(order, Some(qos));
                return Some(t);
            }
        }
        self.picker.record(order, None);
        None
    }

    /// Charges the picker with what the poll of a `qos` task (picked or
    /// stolen) cost: `ns` nanoseconds (see `pick.rs`).
    #[inline]
    pub(crate) fn charge_poll(&self, qos: Qos, ns: u64) {
        if !self.reserved {
            self.picker.charge(qos, ns);
        }
    }

    /// Whether the pick rule wants this tick's clock reading: work of two
    /// classes or more is queued here, so what a poll costs decides which
    /// runs next. (With one class queued the order is moot, and a worker
    /// running one class reads no clock for the picker.)
    #[inline]
    pub(crate) fn pick_wants_clock(&self) -> bool {
        if self.reserved {
            return false;
        }
        let mut classes = [false; Qos::COUNT];
        if let Some(qos) = self.lifo_class() {
            classes[qos.index()] = true;
        }
        for (has, q) in classes.iter_mut().zip(self.queues.iter()) {
            *has |= !q.is_empty();
        }
        classes.iter().filter(|&&c| c).count() >= 2
    }

    /// The class of the task in the LIFO slot, if any.
    #[inline]
    fn lifo_class(&self) -> Option<Qos> {
        let lifo = self.lifo.take();
        let qos = lifo.as_ref().map(|t| t.header().qos);
        self.lifo.set(lifo);
        qos
    }

    // Always inlined: out of line, its call cost as much as the pick
    // itself (a deque pop) on every tick.
    #[inline(always)]
    fn next_of_class(
        &self,
        shared: &MultiThreadScheduler,
        qos: Qos,
        fair: bool,
    ) -> Option<Notified> {
        if let Some(t) = self.lifo.take() {
            if t.header().qos == qos {
                let polls = self.lifo_polls.get();
                if polls < MAX_LIFO_POLLS {
                    self.lifo_polls.set(polls + 1);
                    self.stats.on_lifo_hit();
                    return Some(t);
                }
                self.queues[qos.index()].push(t);
            } else {
                self.lifo.set(Some(t));
            }
        }
        let queue = &self.queues[qos.index()];
        if fair {
            if let Some(t) = shared.inject.steal_into(self.node, qos, queue) {
                self.lifo_polls.set(0);
                return Some(t);
            }
        }
        if let Some(t) = queue.pop() {
            self.lifo_polls.set(0);
            return Some(t);
        }
        if !shared.inject.is_empty(self.node, qos) {
            if let Some(t) = shared.inject.steal_into(self.node, qos, queue) {
                self.lifo_polls.set(0);
                return Some(t);
            }
        }
        None
    }

    /// Runs `f` (I/O dispatch, timer processing) so that the tasks it wakes
    /// queue in the order they were woken, as tokio's driver wakes do.
    ///
    /// The LIFO slot is for a task woken by the task running now (a message
    /// handed to its consumer). A batch of completions given the slot one
    /// wake after another would run the last-woken task first, and the
    /// completions dispatched at every tick would keep taking the slot ahead
    /// of the tasks already queued: their wait, and the tail latency, grows
    /// with the number of connections.
    #[inline]
    pub(crate) fn drivers<R>(&self, f: impl FnOnce() -> R) -> R {
        let outer = self.in_drivers.replace(true);
        let r = f();
        self.in_drivers.set(outer);
        r
    }

    /// Queues a task woken (or spawned) by code running on this worker.
    #[inline]
    pub(crate) fn push_local(&self, task: Notified, is_yield: bool, shared: &MultiThreadScheduler) {
        if stats::GATHER && self.tick.get() % stats::SAMPLE_EVERY == 0 {
            // A sampled wake goes the whole way out of line, so the
            // unsampled ones keep the frame they had without metrics.
            return self.push_local_stamped(task, is_yield, shared);
        }
        self.push_local_unstamped(task, is_yield, shared);
    }

    #[cold]
    #[inline(never)]
    fn push_local_stamped(&self, task: Notified, is_yield: bool, shared: &MultiThreadScheduler) {
        stats::stamp_wake(task.header(), true);
        self.push_local_unstamped(task, is_yield, shared);
    }

    #[inline]
    fn push_local_unstamped(&self, task: Notified, is_yield: bool, shared: &MultiThreadScheduler) {
        let qos = task.header().qos;
        let home = task.header().home_node;
        if home != crate::task::raw::NO_NODE && home as usize != self.node {
            // Node affinity: queue it where its home workers look first.
            let node = (home as usize).min(shared.node_workers.len() - 1);
            if node != self.node {
                shared.inject.push(node, qos, task);
                shared.notify_parked_from(node, Some(self.index));
                return;
            }
        }
        if self.reserved && qos != Qos::Critical {
            // Woken here by a timer or a Critical task: a normal worker runs it.
            shared.inject.push(self.node, qos, task);
            shared.notify_parked_from(self.node, Some(self.index));
            return;
        }
        if qos == Qos::Critical && !self.reserved && shared.num_reserved > 0 {
            // Stealable at once by a reserved worker, rather than waiting in
            // the LIFO slot behind whatever this worker polls next.
            self.queues[qos.index()].push(task);
            if !shared.notify_reserved() && !self.is_searching.get() {
                shared.notify_parked_from(self.node, Some(self.index));
            }
            return;
        }
        if is_yield || self.in_drivers.get() {
            self.queues[task.header().qos.index()].push(task);
        } else if let Some(prev) = self.lifo.replace(Some(task)) {
            self.queues[prev.header().qos.index()].push(prev);
        } else {
            return;
        }
        if !self.is_searching.get() && self.stealable_len() > 1 {
            shared.notify_parked_from(self.node, Some(self.index));
        }
    }

    fn stealable_len(&self) -> usize {
        self.queues.iter().map(Worker::len).sum()
    }

    pub(crate) fn has_local_work(&self) -> bool {
        let lifo = self.lifo.take();
        let has = lifo.is_some();
        self.lifo.set(lifo);
        has || self.queues.iter().any(|q| !q.is_empty())
    }

    fn next_rand(&self, n: usize) -> usize {
        // xorshift64*: enough to spread steal victims.
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }

    /// Searches other workers and the injectors: for each class in priority
    /// order, a random sibling on this node first (steal half), then this
    /// node's injector, then the other nodes.
    pub(crate) fn steal_work(&self, shared: &MultiThreadScheduler) -> Option<Notified> {
        if self.reserved {
            return self.steal_classes(shared, &[Qos::Critical]);
        }
        if !self.is_searching.get() {
            if !shared.idle.transition_worker_to_searching() {
                return None;
            }
            self.is_searching.set(true);
        }
        self.steal_classes(shared, &Qos::ALL)
    }

    /// The stealing order, for each class in `classes` in turn: a random
    /// worker sharing this worker's last-level cache, then the rest of the
    /// node, then the node's injector. Only when that found nothing for
    /// more than `steal_hysteresis` searches in a row: the other nodes,
    /// nearest first (their workers, then their injector). Steals from other
    /// workers are counted as local or remote.
    fn steal_classes(&self, shared: &MultiThreadScheduler, classes: &[Qos]) -> Option<Notified> {
        for &qos in classes {
            let dest = &self.queues[qos.index()];
            for peers in [self.peers.llc(), self.peers.rest_of_node()] {
                if let Some(t) = self.steal_from(shared, peers, qos) {
                    self.local_misses.set(0);
                    self.stats.on_steal(false);
                    return Some(t);
                }
            }
            if let Some(t) = shared.inject.steal_into(self.node, qos, dest) {
                self.local_misses.set(0);
                return Some(t);
            }
        }
        if self.remote_nodes.is_empty() {
            return None;
        }
        let misses = self.local_misses.get().saturating_add(1);
        self.local_misses.set(misses);
        // Reserved workers serve Critical work from anywhere at once.
        if !self.reserved && misses <= self.steal_hysteresis {
            return None;
        }
        for &qos in classes {
            let dest = &self.queues[qos.index()];
            for &node in self.remote_nodes.iter() {
                if let Some(t) = self.steal_from(shared, [&shared.node_workers[node], &[]], qos) {
                    self.stats.on_steal(true);
                    return Some(t);
                }
                if let Some(t) = shared.inject.steal_into(node, qos, dest) {
                    self.stats.on_steal(true);
                    return Some(t);
                }
            }
        }
        None
    }

    /// Steals half of one of `workers`' `qos` deques (two runs of one list,
    /// as [`Peers`] hands them out), starting at a random one.
    fn steal_from(
        &self,
        shared: &MultiThreadScheduler,
        workers: [&[usize]; 2],
        qos: Qos,
    ) -> Option<Notified> {
        let dest = &self.queues[qos.index()];
        let [a, b] = workers;
        let len = a.len() + b.len();
        // No peer (a one-worker runtime, a node of one): no random draw.
        // An idle worker of a one-worker runtime searches at every turn.
        if len == 0 || (len == 1 && a.first().or(b.first()) == Some(&self.index)) {
            return None;
        }
        let start = self.next_rand(len);
        for i in 0..len {
            let k = (start + i) % len;
            let victim = if k < a.len() { a[k] } else { b[k - a.len()] };
            if victim == self.index {
                continue;
            }
            let stealer = &shared.remotes[victim].stealers[qos.index()];
            if let Some(t) = retry(|| stealer.steal_batch_and_pop(dest)) {
                return Some(t);
            }
        }
        None
    }

    /// The worker found work in its own queues: it is not starved.
    #[inline]
    pub(crate) fn found_local_work(&self) {
        self.local_misses.set(0);
    }

    /// Moves every queued task to this node's injectors (a worker that stops
    /// without shutdown: its tasks must run elsewhere).
    pub(crate) fn hand_over(&self, shared: &MultiThreadScheduler) {
        if let Some(t) = self.lifo.take() {
            shared.inject.push(self.node, t.header().qos, t);
        }
        for (qos, q) in Qos::ALL.iter().zip(&self.queues) {
            while let Some(t) = q.pop() {
                shared.inject.push(self.node, *qos, t);
            }
        }
        shared.notify_parked_from(self.node, Some(self.index));
    }

    /// Drops every queued task reference (shutdown).
    pub(crate) fn drain(&self) {
        drop(self.lifo.take());
        for q in &self.queues {
            while q.pop().is_some() {}
        }
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.drain();
    }
}

#[cfg(test)]
mod tests {
    use super::ClassSwitch;
    use crate::runtime::{context, Builder};
    use crate::task::Qos;
    use crate::time::TimerPace;
    use std::time::Duration;

    /// The worker's ticks as the run loop makes them: a clock reading when
    /// the pace takes one (the ring has resources: `io_wants`), then the
    /// poll of a `qos` task lasting `poll`. Whether the tick read the clock.
    async fn tick(pace: &TimerPace, switch: &ClassSwitch, qos: Qos, poll: Duration) -> bool {
        let read = context::with_time(|h| pace.tick(h.unwrap(), true)).is_some();
        switch.before_poll(qos, pace);
        crate::time::advance(poll).await;
        read
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "builds a runtime: topology detection makes syscalls Miri lacks"
    )]
    fn the_tick_after_a_switch_to_a_lower_class_reads_the_clock() {
        let rt = Builder::new_current_thread()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let pace = TimerPace::new();
            let switch = ClassSwitch::new();
            let short = Duration::from_nanos(200);
            let long = Duration::from_micros(224);
            // Short Critical polls: the pace learns to skip readings.
            let mut reads = 0;
            for _ in 0..64 {
                reads += tick(&pace, &switch, Qos::Critical, short).await as usize;
            }
            assert!(reads < 16, "the pace skipped no reading: {reads} in 64");
            // Right after a reading, the next tick skips one...
            while !tick(&pace, &switch, Qos::Critical, short).await {}
            assert!(!tick(&pace, &switch, Qos::Critical, short).await);
            // ...and the first Batch poll (a long one) starts at a tick that
            // skips too; the tick after it reads, so the ring looks at its
            // sockets before the worker starts another long poll.
            assert!(!tick(&pace, &switch, Qos::Batch, long).await);
            assert!(tick(&pace, &switch, Qos::Batch, long).await);
            // Long polls of one class: the pace reads at every tick anyway.
            for _ in 0..4 {
                assert!(tick(&pace, &switch, Qos::Batch, long).await);
            }
            // Back to short polls: skips again; moving up to Critical, or
            // staying in one class, restarts nothing.
            for _ in 0..64 {
                tick(&pace, &switch, Qos::Batch, short).await;
            }
            while !tick(&pace, &switch, Qos::Batch, short).await {}
            assert!(!tick(&pace, &switch, Qos::Critical, short).await);
            assert!(!tick(&pace, &switch, Qos::Critical, short).await);
            // Normal is below Critical too.
            assert!(!tick(&pace, &switch, Qos::Normal, long).await);
            assert!(tick(&pace, &switch, Qos::Normal, short).await);
        });
    }
}
