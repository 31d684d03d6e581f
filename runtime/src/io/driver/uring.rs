//! The io_uring backend: one ring per worker, no lock on the I/O path.
//!
//! # Design
//!
//! A work-stealing runtime moves tasks between workers while their I/O is in
//! flight, and an io_uring submission queue has a single producer. So each
//! worker core owns one ring (`Ring`, inside the core, moving with it when
//! `block_in_place` hands the core to a new thread), and:
//!
//! - **Readiness** (tokio-style `poll_read`/`poll_write`): each ring has
//!   its own epoll instance (edge-triggered, as the epoll backend). A
//!   resource is added to the epoll set of the worker that first waits on
//!   it (or of a ring chosen round-robin, from a thread outside the
//!   workers); `epoll_ctl` works from any thread, so neither adding nor
//!   removing a resource goes through the owner. The owner harvests its set
//!   with a non-blocking `epoll_wait` — setting readiness bits in each
//!   resource's `ScheduledIo` and waking its tasks, which may run on any
//!   worker by then: the wake goes through the normal scheduler, with the
//!   task's QoS class, like any other wake — at three moments:
//!   - when its queues run dry (`flush`, before it steals or parks);
//!   - while it is busy, at the first tick `HARVEST_PERIOD` after the
//!     previous harvest, so a Critical request that arrives during a long
//!     Batch poll is seen right after that poll, not `event_interval`
//!     polls later as on the epoll backend. The ring reads no clock for
//!     this: the worker passes the time it read for its timers at that tick
//!     (`time::TimerPace`, which also reads for the ring while resources
//!     are in the set: every tick when polls are long, after ~4 µs of short
//!     ones); a harvest is stamped with the reading of its tick (one made
//!     without a reading, when the queues ran dry, with the next one);
//!   - when it parks in the ring: a one-shot `POLL_ADD` on the epoll
//!     descriptor, armed with the wait, ends the wait when the set has
//!     events.
//!
//!   Why not a poll per resource, or a multishot poll on the set: the
//!   kernel runs every poll wakeup as task work of the ring's thread and
//!   posts a completion per wakeup. Per resource, that cost more kernel time
//!   per event than epoll's ready list (about 10 % more per HTTP request,
//!   and a pipelined key-value load at 0.62x of epoll's rate; see
//!   benches/README.md); a multishot poll on the set fires at every event
//!   while the set is unharvested. A one-shot poll fires once per park.
//! - **Commands from other threads** (an operation submitted outside a
//!   worker, a cancellation of an operation that lives on another worker's
//!   ring) go into the ring's `inbox`; the sender raises
//!   `has_inbox` and unparks the ring's worker. The owner drains the inbox at
//!   every tick and before it waits, and only the owner touches its rings'
//!   queues.
//! - **Waiting**: a worker that parks with an operation in flight on its
//!   ring (`in_flight`) or a resource in its epoll set waits in the ring
//!   (`io_uring_enter` with `GETEVENTS`, min 1, and the timer deadline as a
//!   nanosecond timeout when it owns the timers). Its unparker writes the
//!   ring's eventfd, on which a multishot poll is armed: the write posts a
//!   completion and the wait ends. The parker's state machine
//!   (`scheduler/park.rs`) writes the eventfd only when the worker is
//!   parked in the ring. A worker whose ring is quiet (`is_quiet`: nothing
//!   in flight, nothing queued, an empty epoll set) has no completion to
//!   wait for and parks on
//!   its parker's futex instead: waking it is then one futex wake, where
//!   the eventfd write costs a poll wakeup run as task work, a completion
//!   and the wake of the waiting thread (the round trip of a `block_on`
//!   thread with a task pays it at every wake). Only the owner adds to
//!   `in_flight`, so no operation can complete on a quiet ring while its
//!   owner sleeps on the futex; a command sent to its inbox unparks it, and
//!   so does the first resource another thread adds to its empty epoll set
//!   (`Uring::arm_if_needed`), so the owner comes back to wait in the ring.
//! - **Completions while busy**: every tick the worker checks its completion
//!   queue (a load of the ring's tail) and the kernel's "task work pending"
//!   flag (the ring is set up with `COOP_TASKRUN`), so a busy worker never
//!   needs a syscall to see completions that are already posted.
//!
//! # Known limitation
//!
//! Only a ring's owner reaps it (and harvests its epoll set). A worker stuck
//! inside one long poll (a blocking call in a task: the watchdog reports
//! it) delays the completions and the readiness of the resources on its
//! ring until the poll returns; the epoll backend's shared instance can be
//! polled by any worker. Letting an idle worker reap a busy worker's ring
//! needs a lock around the ring and is not built.
//!
//! The kernel runs a poll's wakeup as task work of the thread that
//! *submitted* the poll, and posts the completion only then. The ring's
//! wake and epoll polls follow the thread that drives the ring
//! (`follow_thread`, at every park and whenever the worker's queues run
//! dry): after `block_in_place` hands the core to a new thread, the old
//! thread's polls are cancelled and new ones armed.
//!
//! # Invariants
//!
//! - A resource's epoll entry carries the pointer of an `Arc<ScheduledIo>`
//!   that the ring's `Epoll` keeps alive (the epoll backend's invariants:
//!   removed from the set first, released at the start of the next
//!   harvest, which only the ring's driving thread runs).
//! - `ScheduledIo::ring` goes from `NOT_ARMED` to one ring's index once (a
//!   compare-exchange: one thread adds the resource), and to `CLAIMED` at
//!   deregistration, after which it is never added again.
//! - The epoll poll's completion carries no pointer; a completion of a
//!   previous thread's poll (`follow_thread`) is recognised by its
//!   generation and ignored. At most one epoll poll of the current
//!   generation is armed (`epoll_armed`).
//! - A ring is dropped only after the runtime's workers stopped; dropping it
//!   closes its descriptor, which cancels whatever is still armed.

use super::epoll::{drain_eventfd, new_eventfd, write_eventfd, Epoll};
use super::op::OpSlot;
use super::scheduled_io::ScheduledIo;
use crate::io::ready::{Interest, Ready};
use io_uring::{cqueue, opcode, squeue, types, IoUring};
use std::collections::HashSet;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Submission queue entries per ring (the completion queue is twice that).
pub(crate) const RING_ENTRIES: u32 = 256;

const IGNORE_TOKEN: u64 = 0b100;
/// `user_data` tag bits (pointers are at least 8-aligned).
const TAG_MASK: u64 = 0b111;
const TAG_OP: u64 = 0b011;
/// The wake poll's tag; the bits above it count the threads the ring has
/// followed (see `Ring::follow_thread`).
const TAG_WAKE: u64 = 0b010;
/// The epoll poll's tag, with the same generation bits as the wake poll.
const TAG_EPOLL: u64 = 0b101;

/// `ScheduledIo::ring` once the resource was deregistered.
const CLAIMED: usize = usize::MAX - 1;

/// A busy worker runs the kernel's pending task work (one syscall) once in
/// this many ticks.
const TASKRUN_EVERY: u32 = 16;

/// A busy worker with resources in its epoll set harvests the set at the
/// first tick this long after the previous harvest (one `epoll_wait` per
/// period at most, and a long poll is followed by a harvest at once).
const HARVEST_PERIOD: Duration = Duration::from_micros(100);

/// The opcodes the backend needs; the probe checks every one.
pub(crate) const REQUIRED_OPCODES: &[(u8, &str)] = &[
    (opcode::PollAdd::CODE, "POLL_ADD"),
    (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
    (opcode::Recv::CODE, "RECV"),
    (opcode::Send::CODE, "SEND"),
    (opcode::Read::CODE, "READ"),
    (opcode::Write::CODE, "WRITE"),
    (opcode::Accept::CODE, "ACCEPT"),
];

/// Builds a ring with the size and flags the runtime uses.
pub(crate) fn build_ring() -> io::Result<IoUring> {
    let mut b = IoUring::builder();
    b.setup_cqsize(RING_ENTRIES * 4)
        .setup_coop_taskrun()
        .setup_taskrun_flag();
    match b.build(RING_ENTRIES) {
        Ok(r) => Ok(r),
        // Kernels before 5.19 refuse the task-run flags: without them
        // completions are posted through task work signalled at once.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => IoUring::builder()
            .setup_cqsize(RING_ENTRIES * 4)
            .build(RING_ENTRIES),
        Err(e) => Err(e),
    }
}

/// What a thread other than the ring's owner asks of it.
pub(crate) enum Command {
    /// Submit an operation (its `user_data` is set by the ring).
    Submit(squeue::Entry, Arc<OpSlot>),
    /// Cancel the operation with this `user_data`.
    Cancel(u64),
}

/// The `user_data` of an operation whose slot is `slot`.
pub(crate) fn op_user_data(slot: &Arc<OpSlot>) -> u64 {
    Arc::as_ptr(slot) as u64 | TAG_OP
}

/// The part of a ring other threads reach.
pub(crate) struct RingShared {
    pub(crate) index: usize,
    wake_fd: OwnedFd,
    /// The ring's readiness set (see the module docs).
    ep: Epoll,
    inbox: super::inbox::Inbox<Command>,
    /// Wakes the thread that drives this ring (the worker's unparker).
    unpark: OnceLock<Box<dyn Fn() + Send + Sync>>,
    /// Written by the thread driving the ring; read by metrics.
    pub(crate) counts: super::IoCounters,
}

impl RingShared {
    /// Queues a command for the owner and wakes it.
    pub(crate) fn send(&self, cmd: Command) {
        self.inbox.push(cmd);
        self.kick();
    }

    /// Unparks the owner, wherever it waits, so it looks at its ring again.
    fn kick(&self) {
        if let Some(unpark) = self.unpark.get() {
            unpark();
        } else {
            write_eventfd(self.wake_fd.as_raw_fd());
        }
    }

    /// Ends the owner's wait in the kernel (the parker calls this).
    pub(crate) fn wake(&self) {
        write_eventfd(self.wake_fd.as_raw_fd());
    }

    /// The ring's counts plus its epoll set's (`epoll_ctl` calls as
    /// submissions, readiness events as completions).
    pub(crate) fn all_counts(&self) -> super::IoCounts {
        let (r, e) = (self.counts.get(), self.ep.counts.get());
        super::IoCounts {
            submissions: r.submissions + e.submissions,
            completions: r.completions + e.completions,
        }
    }

    pub(crate) fn set_unpark(&self, f: Box<dyn Fn() + Send + Sync>) {
        let _ = self.unpark.set(f);
    }
}

/// The shared state of the io_uring backend: every ring's `RingShared`.
pub(crate) struct Uring {
    pub(crate) rings: Box<[Arc<RingShared>]>,
    rr: AtomicUsize,
    /// Registrations not yet deregistered, for shutdown.
    live: Mutex<LiveSet>,
}

#[derive(Default)]
struct LiveSet {
    set: HashSet<usize>,
    regs: Vec<std::sync::Weak<ScheduledIo>>,
    is_shutdown: bool,
}

impl Uring {
    /// Makes `n` rings; returns the shared part and the rings, which the
    /// caller hands to the worker cores.
    pub(crate) fn new(n: usize) -> io::Result<(Uring, Vec<Ring>)> {
        let mut shared = Vec::with_capacity(n);
        let mut rings = Vec::with_capacity(n);
        for index in 0..n {
            let ring = Ring::new(index)?;
            shared.push(ring.shared.clone());
            rings.push(ring);
        }
        Ok((
            Uring {
                rings: shared.into_boxed_slice(),
                rr: AtomicUsize::new(0),
                live: Mutex::new(LiveSet::default()),
            },
            rings,
        ))
    }

    /// A ring for a thread that has none, round-robin.
    pub(crate) fn next_ring(&self) -> usize {
        self.rr.fetch_add(1, Relaxed) % self.rings.len()
    }

    fn live(&self) -> std::sync::MutexGuard<'_, LiveSet> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `fd`. Nothing is armed yet: the resource starts readable
    /// and writable (the first syscall tells), and its poll is armed by
    /// `arm_if_needed` when a task first has to wait.
    pub(crate) fn register(&self, fd: RawFd, interest: Interest) -> io::Result<Arc<ScheduledIo>> {
        let sio = Arc::new(ScheduledIo::new(fd, interest));
        {
            let mut live = self.live();
            if live.is_shutdown {
                return Err(super::scheduled_io::shutdown_error());
            }
            live.set.insert(Arc::as_ptr(&sio) as usize);
            live.regs.push(Arc::downgrade(&sio));
            if live.regs.len() > 64 && live.regs.len() > 2 * live.set.len() {
                live.regs.retain(|w| w.strong_count() > 0);
            }
        }
        sio.set_readiness(Ready::READABLE | Ready::WRITABLE);
        Ok(sio)
    }

    /// Adds the resource to the epoll set of `local` (the waiting worker's
    /// ring), or of a ring chosen round-robin, unless it is in one already.
    pub(crate) fn arm_if_needed(&self, sio: &Arc<ScheduledIo>, local: Option<&mut Ring>) {
        use super::scheduled_io::NOT_ARMED;
        if sio.ring.load(Acquire) != NOT_ARMED {
            return;
        }
        let target = match &local {
            Some(r) => r.shared.index,
            None => self.next_ring(),
        };
        if sio
            .ring
            .compare_exchange(NOT_ARMED, target, AcqRel, Acquire)
            .is_err()
        {
            return;
        }
        let owner = match local {
            Some(r) => {
                // The ring's epoll poll must be armed by this thread before
                // the resource can depend on it.
                r.follow_thread();
                true
            }
            None => false,
        };
        let shared = &self.rings[target];
        match shared.ep.add(sio.clone()) {
            Ok(before) => {
                // The owner may be asleep on its futex, its ring quiet: the
                // first resource in its set makes it wait in the ring
                // (`loom_first_resource_brings_a_quiet_owner_back_to_its_ring`).
                if !owner && before == 0 {
                    shared.kick();
                }
            }
            // Not pollable (a regular file, a directory): always ready, as
            // epoll would say; the task's syscalls tell the rest.
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                sio.set_readiness(Ready::READABLE | Ready::WRITABLE);
            }
            Err(e) => {
                if sio.ready_now(Ready::ALL).is_ok() {
                    tracing::warn!(
                        "perf_runtime: cannot watch fd {} for readiness: {e}",
                        sio.fd
                    );
                }
                sio.set_readiness(Ready::ERROR | Ready::READABLE | Ready::WRITABLE);
            }
        }
    }

    /// Removes the resource from its ring's epoll set, if it was added, from
    /// any thread: the descriptor may be closed as soon as this returns.
    pub(crate) fn deregister(&self, sio: &Arc<ScheduledIo>) -> io::Result<()> {
        if sio.deregistered.swap(true, AcqRel) {
            return Ok(());
        }
        self.live().set.remove(&(Arc::as_ptr(sio) as usize));
        // Claim the resource so no late add happens.
        let ring = sio.ring.swap(CLAIMED, AcqRel);
        if ring < self.rings.len() {
            return self.rings[ring].ep.deregister(sio.fd, sio);
        }
        Ok(())
    }

    /// Every live registration's waits end with an error.
    pub(crate) fn shutdown(&self) {
        let regs = {
            let mut live = self.live();
            live.is_shutdown = true;
            live.set.clear();
            std::mem::take(&mut live.regs)
        };
        for sio in regs.iter().filter_map(|w| w.upgrade()) {
            sio.shutdown();
        }
        for ring in self.rings.iter() {
            ring.ep.shutdown();
        }
    }
}

/// One worker's ring. Only the thread that holds the worker's core touches
/// it.
pub(crate) struct Ring {
    uring: IoUring,
    pub(crate) shared: Arc<RingShared>,
    /// Entries pushed since the last submit.
    unsubmitted: u32,
    /// Ticks the oldest unsubmitted entry has waited.
    waited_ticks: u32,
    /// Ticks seen by `has_work` (wrapping).
    ticks: u32,
    /// Wake completions dispatched (for tests).
    wakes: u64,
    /// Completions of a previous thread's wake poll that was still armed
    /// (for tests; the cancel's final completion is not counted).
    stale_wakes: u64,
    /// The `user_data` of the wake poll armed by the thread driving the
    /// ring now (`TAG_WAKE` plus a generation).
    wake_token: u64,
    /// The `user_data` of the epoll poll armed by that thread (`TAG_EPOLL`
    /// plus the same generation).
    epoll_token: u64,
    /// Whether the one-shot epoll poll of this generation is armed (queued
    /// or in the kernel) and has not completed.
    epoll_armed: bool,
    /// The clock reading (ns, the worker's timeline) of the tick of the
    /// last harvest of the epoll set, or for a harvest made without one,
    /// the first reading after it.
    last_harvest_ns: u64,
    /// A harvest ran since the last reading: the next one stamps it.
    harvest_unstamped: bool,
    /// `has_work` found a harvest due: `poll` runs it.
    harvest_now: bool,
    /// The thread that armed those polls (0: none armed yet).
    wake_tid: i32,
    /// Entries that did not fit in the submission queue yet.
    overflow: Vec<squeue::Entry>,
    /// Operations pushed and not yet finally completed (the wake and epoll
    /// polls and cancels are not counted).
    in_flight: usize,
    /// Harvests of the epoll set (for tests).
    harvests: u64,
    inbox_buf: Vec<Command>,
    cqe_buf: Vec<(u64, i32, u32)>,
}

impl Ring {
    fn new(index: usize) -> io::Result<Ring> {
        let uring = build_ring()?;
        let wake_fd = new_eventfd()?;
        let ep = Epoll::without_wake()?;
        // Nothing is submitted here: the builder's thread is not the one
        // that will drive the ring (see `follow_thread`).
        Ok(Ring {
            uring,
            shared: Arc::new(RingShared {
                index,
                wake_fd,
                ep,
                inbox: super::inbox::Inbox::new(),
                unpark: OnceLock::new(),
                counts: super::IoCounters::default(),
            }),
            unsubmitted: 0,
            waited_ticks: 0,
            ticks: 0,
            wakes: 0,
            stale_wakes: 0,
            wake_token: TAG_WAKE,
            epoll_token: TAG_EPOLL,
            epoll_armed: false,
            last_harvest_ns: 0,
            harvest_unstamped: true,
            harvest_now: false,
            wake_tid: 0,
            overflow: Vec::new(),
            in_flight: 0,
            harvests: 0,
            inbox_buf: Vec::new(),
            cqe_buf: Vec::with_capacity(RING_ENTRIES as usize),
        })
    }

    fn arm_wake(&mut self) {
        let e = opcode::PollAdd::new(
            types::Fd(self.shared.wake_fd.as_raw_fd()),
            libc::POLLIN as u32,
        )
        .multi(true)
        .build()
        .user_data(self.wake_token);
        self.push(e);
    }

    /// Arms the one-shot poll of the epoll set (it completes when the set
    /// has events, at once if it has some now).
    fn arm_epoll(&mut self) {
        let e = opcode::PollAdd::new(types::Fd(self.shared.ep.fd()), libc::POLLIN as u32)
            .build()
            .user_data(self.epoll_token);
        self.epoll_armed = true;
        self.push(e);
    }

    /// Arms the wake and epoll polls from the thread that drives the ring
    /// now, and cancels the ones armed by the previous thread.
    ///
    /// The kernel runs a poll's wakeup as task work of the thread that
    /// submitted it, and only then posts the completion. A wake poll armed by
    /// another thread (the one that built the runtime, or the one that held
    /// the core before `block_in_place` handed it on) turns every unpark
    /// into a wakeup of that thread first, and the wait here ends only after
    /// that thread has been scheduled.
    #[inline]
    pub(crate) fn follow_thread(&mut self) {
        let tid = current_tid();
        if tid == self.wake_tid {
            return;
        }
        if self.wake_tid != 0 {
            let mut tokens = vec![self.wake_token];
            if self.epoll_armed {
                tokens.push(self.epoll_token);
            }
            for token in tokens {
                let e = opcode::AsyncCancel::new(token)
                    .build()
                    .user_data(IGNORE_TOKEN);
                self.push(e);
            }
            self.wake_token = self.wake_token.wrapping_add(TAG_MASK + 1);
            self.epoll_token = self.epoll_token.wrapping_add(TAG_MASK + 1);
            // The next park arms this thread's epoll poll.
            self.epoll_armed = false;
        }
        self.wake_tid = tid;
        self.arm_wake();
    }

    /// Dispatches the readiness the ring's epoll set holds, without
    /// waiting.
    fn harvest(&mut self) {
        self.harvests += 1;
        self.harvest_unstamped = true;
        while let Some(n) = self.shared.ep.turn_counted(Some(Duration::ZERO)) {
            if !Epoll::maybe_more(n) {
                break;
            }
        }
    }

    fn push(&mut self, e: squeue::Entry) {
        if !self.overflow.is_empty() {
            self.overflow.push(e);
            return;
        }
        // SAFETY: the entries this ring pushes reference only descriptors
        // (no buffers); an operation's user_data carries an `Arc` strong
        // count that lives until its final completion.
        if unsafe { self.uring.submission().push(&e) }.is_err() {
            self.overflow.push(e);
        } else {
            self.unsubmitted += 1;
        }
    }

    /// Queues operation `e`; the ring keeps one strong count of `slot`
    /// until the final completion.
    pub(crate) fn submit_op(&mut self, e: squeue::Entry, slot: Arc<OpSlot>) {
        let data = Arc::into_raw(slot) as u64;
        debug_assert_eq!(data & TAG_MASK, 0);
        self.in_flight += 1;
        self.push(e.user_data(data | TAG_OP));
    }

    /// Whether nothing can complete on this ring but its wake poll: no
    /// operation in flight, no resource in its epoll set, nothing queued
    /// for the kernel, no completion to dispatch and no command in the
    /// inbox. Its owner may then park outside the ring (see the module
    /// docs).
    pub(crate) fn is_quiet(&mut self) -> bool {
        self.in_flight == 0
            && self.shared.ep.live_count() == 0
            && self.unsubmitted == 0
            && self.overflow.is_empty()
            && !self.shared.inbox.is_pending()
            && self.uring.completion().is_empty()
    }

    /// Asks the kernel to cancel the operation with `user_data`.
    pub(crate) fn cancel_op(&mut self, user_data: u64) {
        let e = opcode::AsyncCancel::new(user_data)
            .build()
            .user_data(IGNORE_TOKEN);
        self.push(e);
    }

    /// Submits what is queued (and runs pending task work) without waiting.
    fn submit(&mut self) -> io::Result<()> {
        self.refill_from_overflow();
        match self.uring.submitter().submit() {
            Ok(n) => {
                self.shared.counts.submitted(n);
                self.unsubmitted = 0;
                self.waited_ticks = 0;
                Ok(())
            }
            Err(e) if is_transient(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn refill_from_overflow(&mut self) {
        while !self.overflow.is_empty() {
            let e = self.overflow[0].clone();
            // SAFETY: as in `push`.
            if unsafe { self.uring.submission().push(&e) }.is_err() {
                // Full: submit what fits and try again.
                match self.uring.submitter().submit() {
                    Ok(n) => self.shared.counts.submitted(n),
                    Err(_) => return,
                }
                self.unsubmitted = 0;
                continue;
            }
            self.overflow.remove(0);
            self.unsubmitted += 1;
        }
    }

    fn take_inbox(&mut self) {
        let mut buf = std::mem::take(&mut self.inbox_buf);
        if !self.shared.inbox.take(&mut buf) {
            self.inbox_buf = buf;
            return;
        }
        for cmd in buf.drain(..) {
            match cmd {
                Command::Submit(e, slot) => self.submit_op(e, slot),
                Command::Cancel(data) => self.cancel_op(data),
            }
        }
        self.inbox_buf = buf;
    }

    /// Whether a tick has anything to do: commands, unsubmitted entries,
    /// kernel task work, or completions.
    ///
    /// Entries pushed by the running task are submitted at the next tick
    /// only if they are 8 or more, or have waited one tick already: the
    /// entries of consecutive polls go to the kernel in one syscall, and
    /// none waits for more than one other poll (parking submits at once).
    ///
    /// Completions the kernel has queued as task work (the ring runs with
    /// `COOP_TASKRUN`) need a syscall to be posted; a busy worker makes it
    /// only every `TASKRUN_EVERY` ticks (as tokio polls epoll every
    /// `event_interval` ticks), and whenever its queues run dry (`flush`).
    /// The epoll set is harvested every `HARVEST_PERIOD`, judged by `now`,
    /// the worker's clock reading at this tick if it took one.
    #[inline]
    pub(crate) fn has_work(&mut self, now: Option<u64>) -> bool {
        self.ticks = self.ticks.wrapping_add(1);
        if self.unsubmitted > 0 {
            self.waited_ticks += 1;
        }
        if let Some(now) = now {
            self.harvest_now = self.harvest_due(now);
        }
        self.harvest_now
            || self.shared.inbox.is_pending()
            || self.unsubmitted >= 8
            || self.waited_ticks > 1
            || !self.overflow.is_empty()
            || !self.uring.completion().is_empty()
            || (self.ticks % TASKRUN_EVERY == 0 && self.uring.submission().taskrun())
    }

    /// Whether the epoll set holds resources and was last harvested
    /// `HARVEST_PERIOD` before `now`. A harvest this returns true for is
    /// stamped with `now` (it runs at this tick); one made without a
    /// reading (`flush`, a park) is stamped with the next reading (taken
    /// after it: the next harvest comes at most one reading later than
    /// `HARVEST_PERIOD` after the last).
    #[inline]
    pub(crate) fn harvest_due(&mut self, now: u64) -> bool {
        if self.shared.ep.live_count() == 0 {
            return false;
        }
        if self.harvest_unstamped {
            self.harvest_unstamped = false;
            self.last_harvest_ns = now;
            return false;
        }
        let due = now.saturating_sub(self.last_harvest_ns) >= HARVEST_PERIOD.as_nanos() as u64;
        if due {
            // The harvest runs at this tick, right after this reading:
            // stamped with it, so that after a long poll the next reading
            // finds the next harvest due at once. (Stamped by the reading
            // after it, every other long poll would go by unharvested: a
            // request arriving during one waited for two.)
            self.last_harvest_ns = now;
        }
        due
    }

    /// Whether the worker should read the clock for this ring: resources
    /// are in its epoll set (see `harvest_due`).
    #[inline]
    pub(crate) fn wants_clock(&self) -> bool {
        self.shared.ep.live_count() > 0
    }

    /// A busy worker's turn: takes commands, submits, and dispatches the
    /// completions already posted. Never blocks.
    pub(crate) fn poll(&mut self) {
        self.take_inbox();
        if self.unsubmitted > 0 || !self.overflow.is_empty() || self.uring.submission().taskrun() {
            if let Err(e) = self.submit() {
                tracing::error!("io_uring submit failed: {e}");
            }
        }
        self.dispatch();
        if std::mem::take(&mut self.harvest_now) {
            self.harvest();
            // `harvest_due` stamped it with this tick's reading.
            self.harvest_unstamped = false;
        }
    }

    /// The worker's queues ran dry: submit what is queued, run the
    /// kernel's pending task work and dispatch what completed, so woken
    /// tasks are found before the worker steals or parks.
    pub(crate) fn flush(&mut self) {
        self.follow_thread();
        if self.shared.ep.live_count() > 0 {
            self.harvest();
        }
        if self.unsubmitted > 0
            || !self.overflow.is_empty()
            || self.shared.inbox.is_pending()
            || self.uring.submission().taskrun()
            || !self.uring.completion().is_empty()
        {
            self.poll();
        }
    }

    /// Waits in the kernel until a completion arrives (an unpark is one: it
    /// writes the ring's eventfd) or `timeout` passes, then dispatches.
    pub(crate) fn park(&mut self, timeout: Option<Duration>) {
        self.follow_thread();
        // Resources removed since the last harvest: none is being looked
        // at now (only this thread harvests), so free them before sleeping.
        self.shared.ep.release_pending();
        self.take_inbox();
        if self.shared.ep.live_count() > 0 && !self.epoll_armed {
            self.arm_epoll();
        }
        self.refill_from_overflow();
        if !self.uring.completion().is_empty() {
            let _ = self.submit();
        } else {
            let res = match timeout {
                Some(t) => {
                    let ts = types::Timespec::new()
                        .sec(t.as_secs())
                        .nsec(t.subsec_nanos());
                    let args = types::SubmitArgs::new().timespec(&ts);
                    self.uring.submitter().submit_with_args(1, &args)
                }
                None => self.uring.submitter().submit_and_wait(1),
            };
            match res {
                Ok(n) => {
                    self.shared.counts.submitted(n);
                    self.unsubmitted = 0;
                    self.waited_ticks = 0;
                }
                Err(e) if is_transient(&e) => {
                    if e.raw_os_error() == Some(libc::ETIME) {
                        self.unsubmitted = 0;
                        self.waited_ticks = 0;
                    }
                }
                Err(e) => tracing::error!("io_uring wait failed: {e}"),
            }
        }
        self.dispatch();
    }

    fn dispatch(&mut self) {
        let mut buf = std::mem::take(&mut self.cqe_buf);
        loop {
            buf.clear();
            buf.extend(
                self.uring
                    .completion()
                    .map(|c| (c.user_data(), c.result(), c.flags())),
            );
            if buf.is_empty() {
                break;
            }
            self.shared.counts.completed(buf.len());
            for &(data, res, flags) in &buf {
                self.complete(data, res, flags);
            }
        }
        self.cqe_buf = buf;
    }

    fn complete(&mut self, data: u64, res: i32, flags: u32) {
        match data {
            d if d & TAG_MASK == TAG_WAKE => {
                // The eventfd is not drained: the multishot poll on it is
                // edge-triggered (a completion per write, not while it stays
                // readable), so a read here would only cost a syscall per
                // unpark (`ring_tests::an_undrained_wake_posts_once_per_write`).
                if d != self.wake_token {
                    self.stale_wakes += u64::from(cqueue::more(flags));
                    return;
                }
                self.wakes += 1;
                if !cqueue::more(flags) {
                    // The current wake poll ended (e.g. the counter
                    // saturated): reset the counter and arm again. (A
                    // previous thread's poll ends by our cancel.)
                    drain_eventfd(self.shared.wake_fd.as_raw_fd());
                    self.arm_wake();
                }
            }
            IGNORE_TOKEN => {}
            d if d & TAG_MASK == TAG_OP => {
                let ptr = (d & !TAG_MASK) as *const OpSlot;
                let more = cqueue::more(flags);
                if more {
                    // SAFETY: a multishot operation that goes on: the ring
                    // still holds the strong count it took in `submit_op`.
                    unsafe { &*ptr }.complete(res, flags, true);
                } else {
                    self.in_flight -= 1;
                    // SAFETY: the final completion: the ring gives back the
                    // strong count it took in `submit_op`.
                    let slot = unsafe { Arc::from_raw(ptr) };
                    slot.complete(res, flags, false);
                }
            }
            d if d & TAG_MASK == TAG_EPOLL => {
                if d != self.epoll_token {
                    return; // a previous thread's poll (see `follow_thread`)
                }
                // The one-shot poll completed: the set has events (or the
                // poll failed, and the harvest finds what there is).
                self.epoll_armed = false;
                if res < 0 && res != -libc::ECANCELED {
                    tracing::warn!(
                        "perf_runtime: io_uring poll of the epoll set failed: {}",
                        io::Error::from_raw_os_error(-res)
                    );
                }
                self.harvest();
            }
            _ => {}
        }
    }
}

/// The calling thread's kernel id, read once per thread.
fn current_tid() -> i32 {
    thread_local! {
        static TID: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
    }
    TID.with(|t| {
        if t.get() == 0 {
            // SAFETY: gettid takes no arguments and cannot fail.
            t.set(unsafe { libc::gettid() });
        }
        t.get()
    })
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINTR) | Some(libc::ETIME) | Some(libc::EBUSY) | Some(libc::EAGAIN)
    )
}

impl Drop for Ring {
    /// Cancels everything still armed on the ring and reaps the final
    /// completions, releasing the `Arc`s the operations hold. What the kernel
    /// does not finish within ~64 ms stays leaked rather than freed under it.
    fn drop(&mut self) {
        let e = opcode::AsyncCancel2::new(types::CancelBuilder::any())
            .build()
            .user_data(IGNORE_TOKEN);
        self.overflow.clear();
        // SAFETY: the entry references no memory.
        if unsafe { self.uring.submission().push(&e) }.is_ok() {
            let _ = self.uring.submitter().submit();
        }
        for _ in 0..64 {
            let cqes: Vec<_> = self
                .uring
                .completion()
                .map(|c| (c.user_data(), c.flags()))
                .collect();
            for &(data, flags) in &cqes {
                if cqueue::more(flags) {
                    continue;
                }
                if data & TAG_MASK == TAG_OP {
                    let ptr = (data & !TAG_MASK) as *const OpSlot;
                    // SAFETY: the operation's final completion: the ring
                    // gives back the strong count it took in `submit_op`.
                    let slot = unsafe { Arc::from_raw(ptr) };
                    slot.complete(-libc::ECANCELED, 0, false);
                }
            }
            if cqes.is_empty() {
                let ts = types::Timespec::new().nsec(1_000_000);
                let args = types::SubmitArgs::new().timespec(&ts);
                if self.uring.submitter().submit_with_args(1, &args).is_err() {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod ring_tests {
    use super::*;

    fn readable(sio: &ScheduledIo) -> bool {
        sio.ready_now(Ready::READABLE)
            .is_ok_and(|ev| !ev.ready.is_empty())
    }

    /// Whether this kernel gives the runtime io_uring (the tests check
    /// nothing otherwise).
    fn uring_here() -> bool {
        super::super::probe::choose(super::super::IoDriver::Auto).ok()
            == Some(super::super::IoBackend::Uring)
    }

    /// The wake poll is edge-triggered: an eventfd left undrained does not
    /// post completion after completion, and every write still wakes.
    #[test]
    fn an_undrained_wake_posts_once_per_write() {
        if !uring_here() {
            return; // no io_uring here: nothing to check
        }
        let mut ring = Ring::new(0).unwrap();
        ring.park(Some(Duration::ZERO));
        let base = ring.wakes;
        ring.shared.wake();
        ring.park(Some(Duration::from_secs(5)));
        assert_eq!(ring.wakes, base + 1, "one write, one wake");
        // Still readable (not drained): a level-triggered poll would post
        // again at once; this one waits out the timeout.
        ring.park(Some(Duration::from_millis(20)));
        assert_eq!(ring.wakes, base + 1, "no wake without a write");
        ring.shared.wake();
        ring.park(Some(Duration::from_secs(5)));
        assert_eq!(ring.wakes, base + 2, "the next write wakes again");
    }

    /// A ring handed to another thread (as `block_in_place` hands a core on)
    /// re-arms its wake poll there and cancels the old thread's: one write,
    /// one wake, and none through the old poll.
    #[test]
    fn a_moved_ring_wakes_through_its_new_thread() {
        if !uring_here() {
            return; // no io_uring here: nothing to check
        }
        let mut ring = Ring::new(0).unwrap();
        ring.park(Some(Duration::ZERO));
        let first = ring.wake_token;
        let ring = std::thread::spawn(move || {
            ring.park(Some(Duration::ZERO));
            assert_ne!(ring.wake_token, first, "the poll was not re-armed here");
            let base = ring.wakes;
            ring.shared.wake();
            ring.park(Some(Duration::from_secs(5)));
            assert_eq!(ring.wakes, base + 1, "one write, one wake");
            ring
        })
        .join()
        .unwrap();
        // Back on this thread, whose task work has run since (the join).
        let mut ring = ring;
        ring.park(Some(Duration::from_millis(5)));
        assert_eq!(ring.stale_wakes, 0, "the old thread's poll still fired");
        ring.shared.wake();
        ring.park(Some(Duration::from_secs(5)));
        assert_eq!(ring.stale_wakes, 0, "a previous poll fired");
    }

    /// A ring is quiet (its owner may park outside it) only while nothing
    /// can complete on it: a resource in its epoll set makes it busy until
    /// it is removed, readiness does not end that, and the wake poll does
    /// not count.
    #[test]
    fn a_ring_is_quiet_only_with_nothing_in_flight() {
        use std::io::Write;
        if !uring_here() {
            return; // no io_uring here: nothing to check
        }
        let mut ring = Ring::new(0).unwrap();
        assert!(ring.is_quiet(), "a new ring");
        ring.park(Some(Duration::ZERO));
        assert!(ring.is_quiet(), "with only its wake and epoll polls armed");
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let sio = Arc::new(ScheduledIo::new(a.as_raw_fd(), Interest::READABLE));
        ring.shared.ep.add(sio.clone()).unwrap();
        assert!(!ring.is_quiet(), "a resource in the epoll set");
        b.write_all(b"x").unwrap();
        ring.park(Some(Duration::from_secs(5)));
        assert!(
            readable(&sio),
            "the write did not reach the resource through the ring"
        );
        assert!(!ring.is_quiet(), "readiness does not remove the resource");
        ring.shared.ep.deregister(sio.fd, &sio).unwrap();
        assert!(ring.is_quiet(), "after the resource's removal");
        ring.park(Some(Duration::ZERO));
        assert_eq!(Arc::strong_count(&sio), 1, "the next harvest released it");
    }

    /// A busy owner's ticks harvest the epoll set only when given a clock
    /// reading `HARVEST_PERIOD` after the last harvest's stamp (the reading
    /// of its tick; for a harvest made without one, the first reading that
    /// followed it): no reading, no harvest (the ring reads no clock).
    #[test]
    fn busy_ticks_harvest_by_the_readings_they_are_given() {
        use std::io::Write;
        if !uring_here() {
            return; // no io_uring here: nothing to check
        }
        let period = HARVEST_PERIOD.as_nanos() as u64;
        let mut ring = Ring::new(0).unwrap();
        ring.park(Some(Duration::ZERO));
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let sio = Arc::new(ScheduledIo::new(a.as_raw_fd(), Interest::READABLE));
        ring.shared.ep.add(sio.clone()).unwrap();
        assert!(ring.wants_clock(), "a resource in the set wants readings");
        ring.flush(); // a harvest, stamped by the next reading
        b.write_all(b"x").unwrap();
        let tick = |ring: &mut Ring, now: Option<u64>| {
            let before = ring.harvests;
            if ring.has_work(now) {
                ring.poll();
            }
            ring.harvests - before
        };
        assert_eq!(tick(&mut ring, None), 0, "no reading");
        assert_eq!(tick(&mut ring, Some(1_000)), 0, "the stamping reading");
        assert_eq!(tick(&mut ring, Some(1_000 + period - 1)), 0, "too early");
        assert_eq!(tick(&mut ring, None), 0, "no reading again");
        assert!(!readable(&sio), "harvested early");
        assert_eq!(tick(&mut ring, Some(1_000 + period)), 1, "due");
        assert!(readable(&sio), "the harvest did not deliver the readiness");
        // The next period counts from the reading of the tick that
        // harvested: after a long poll (one period or more), the next
        // reading harvests at once, not only the one after it.
        assert_eq!(tick(&mut ring, Some(1_000 + 2 * period - 1)), 0, "early");
        b.write_all(b"y").unwrap();
        assert_eq!(tick(&mut ring, Some(1_000 + 3 * period)), 1, "a long poll");
        assert_eq!(tick(&mut ring, Some(1_000 + 4 * period)), 1, "another");
        assert_eq!(tick(&mut ring, Some(1_000 + 5 * period - 1)), 0);
        ring.shared.ep.deregister(sio.fd, &sio).unwrap();
        assert!(!ring.wants_clock(), "an empty set wants no readings");
    }

    /// Readiness of many resources that arrives while the owner is busy in
    /// user space reaches it as a few completions of the epoll poll, not one
    /// per event, and every resource sees its readiness.
    #[test]
    fn a_burst_of_readiness_is_harvested_in_few_completions() {
        use std::io::Write;
        use std::sync::atomic::AtomicBool;
        if !uring_here() {
            return; // no io_uring here: nothing to check
        }
        const N: usize = 32;
        let mut ring = Ring::new(0).unwrap();
        ring.park(Some(Duration::ZERO));
        let mut pairs = Vec::new();
        let mut sios = Vec::new();
        for _ in 0..N {
            let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
            a.set_nonblocking(true).unwrap();
            let sio = Arc::new(ScheduledIo::new(a.as_raw_fd(), Interest::READABLE));
            ring.shared.ep.add(sio.clone()).unwrap();
            sios.push(sio);
            pairs.push((a, b));
        }
        ring.park(Some(Duration::ZERO));
        let before = ring.harvests;
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                for (_, b) in &pairs {
                    (&*b).write_all(b"x").unwrap();
                }
                done.store(true, Release);
            });
            while !done.load(Acquire) {
                std::hint::spin_loop();
            }
        });
        for _ in 0..100 {
            if sios.iter().all(|s| readable(s)) {
                break;
            }
            ring.park(Some(Duration::from_millis(50)));
        }
        for (i, sio) in sios.iter().enumerate() {
            assert!(readable(sio), "resource {i} never became readable");
        }
        let harvests = ring.harvests - before;
        assert!(
            (1..=N as u64 / 4).contains(&harvests),
            "{N} events took {harvests} harvests"
        );
        for sio in &sios {
            ring.shared.ep.deregister(sio.fd, sio).unwrap();
        }
    }
}
