//! The timer driver: one timer wheel per worker ("shard"), the clock, and
//! the calls the scheduler makes (`is_due`, `process`, `park_timeout`,
//! `auto_advance`, `shutdown`).
//!
//! # Shards
//! A multi-thread runtime has one shard per worker plus one for threads
//! that are not workers (a `block_on` thread, the blocking pool); the
//! current_thread runtime has one. A `Sleep` links its entry into the shard
//! of the thread that first polls it and keeps it there: registering,
//! resetting, polling and cancelling it on that worker lock only that
//! worker's shard, which no other thread touches in the common case, so the
//! lock is uncontended and its cache line stays on the worker's core. A
//! `Sleep` that moved to another thread (a stolen task) still works: it
//! locks the owning shard, and only then contends with the owner.
//!
//! # `next_wake`: who fires a shard's timers
//! Any worker fires the timers of every shard: `process` fires the due ones
//! of each shard whose `Shard::next` has passed. Whoever parks in the driver
//! (`driver_owner` in the multi-thread scheduler) sleeps until `next_wake`,
//! so a worker that parks, or is busy in a long poll, leaves its timers to
//! the others and none fires late.
//!
//! - `Shard::next` is the shard wheel's next expiration, exact: it is
//!   written (SeqCst) with the shard's lock held, after every change.
//! - `next_wake` is a lower bound of every `Shard::next`, possibly stale
//!   early (a cancelled timer leaves it early; the next `process` costs one
//!   empty pass and recomputes it). It is never later than a shard's next
//!   expiration once the call that changed the shard has returned:
//!   a registrant stores `Shard::next` then, if its deadline is earlier than
//!   `next_wake`, lowers it (`fetch_min`) and, if that lowered it, runs the
//!   unpark callback (which wakes the driver owner); `recompute` stores the
//!   minimum it read, then reads the shards again and lowers `next_wake` to
//!   what it finds (unparking likewise). Each side stores, then passes a
//!   SeqCst fence, then loads what the other side stores, so of a
//!   registration racing a recompute, one sees the other's store
//!   (modelled in `loom_tests.rs`).
//! - The driver owner publishes itself (`driver_owner`, SeqCst CAS), then
//!   `park_timeout` passes a SeqCst fence and reads `next_wake`; a
//!   registrant lowers `next_wake`, passes a fence, and the unpark callback
//!   reads `driver_owner`: either the owner's timeout covers the new
//!   deadline or the registrant wakes it.
//!
//! Wakers are woken and dropped with every lock released: a task's waker
//! may drop the task, whose `Sleep`s then lock their shard.

use super::clock::{lock, Clock};
use super::wheel::{Key, Wheel};
use crate::loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use crate::loom::sync::{Arc, Mutex, MutexGuard};
use crate::sync::wake_list::WakeList;
use crossbeam_utils::CachePadded;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant as StdInstant};

/// `next_wake` / `Shard::next` when no timer is linked.
const NO_WAKE: u64 = u64::MAX;

/// How overdue another awake worker's timers must be before a worker's
/// run loop fires them (`process_at`).
const OTHERS_GRACE_NS: u64 = 20_000;

/// The runtime's unpark callback. A `std` `Arc` (not the loom facade's): it
/// is set once before use, and loom's `Arc` cannot hold a `dyn Fn`.
type Unpark = std::sync::Arc<dyn Fn() + Send + Sync>;

thread_local! {
    /// The shard of the worker running on this thread: (the address of its
    /// driver, the shard's index). (0, 0) on a thread that is no worker.
    static WORKER_SHARD: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    /// The worker's lease on its driver (see `DriverRef`).
    static WORKER_LEASE: RefCell<Option<std::sync::Arc<Lease>>> = const { RefCell::new(None) };
}

/// What keeps a `Sleep`'s driver alive. Cloning a `TimeHandle` bumps the
/// one reference count that every worker's `Sleep`s share, a cache line
/// that would then bounce between the workers at every timer made and
/// dropped. A worker instead hands out clones of its own lease (an `Arc`
/// holding a `TimeHandle`), whose count stays in its core's cache.
pub(super) enum DriverRef {
    Lease(std::sync::Arc<Lease>),
    Direct(TimeHandle),
}

pub(super) struct Lease {
    handle: TimeHandle,
}

impl std::ops::Deref for DriverRef {
    type Target = TimeHandle;

    #[inline]
    fn deref(&self) -> &TimeHandle {
        match self {
            DriverRef::Lease(lease) => &lease.handle,
            DriverRef::Direct(handle) => handle,
        }
    }
}

/// The current runtime's driver, through this worker's lease if the
/// thread is one of its workers; `None` outside a runtime.
pub(super) fn current_driver() -> Option<DriverRef> {
    crate::runtime::context::with_time(|h| {
        let h = h?;
        let id = h.id();
        let lease = WORKER_LEASE
            .try_with(|l| l.borrow().as_ref().filter(|l| l.handle.id() == id).cloned())
            .ok()
            .flatten();
        Some(match lease {
            Some(lease) => DriverRef::Lease(lease),
            None => DriverRef::Direct(h.clone()),
        })
    })
}

/// The time driver of one runtime; cheap to clone.
#[derive(Clone)]
pub(crate) struct TimeHandle {
    inner: Arc<Driver>,
}

// Aligned so that the `Arc`'s reference counts, which every `Sleep` bumps,
// share no cache line with the clock and `next_wake`, which every worker
// reads at every scheduling tick.
#[repr(align(128))]
struct Driver {
    clock: Clock,
    /// A lower bound of every shard's `next` (see the module docs).
    next_wake: AtomicU64,
    /// The clock's time at the last `process`, in nanoseconds since its
    /// origin: a time the clock has reached, for `Wheel::catch_up` when a
    /// timer is linked into a wheel that has been idle.
    last_now: AtomicU64,
    shards: Box<[CachePadded<Shard>]>,
    unpark: std::sync::OnceLock<Unpark>,
}

struct Shard {
    /// The wheel's next expiration (`NO_WAKE`: none); written with `locked`
    /// held.
    next: AtomicU64,
    /// Timers pending in the wheel, for metrics (a scrape reads it without
    /// the lock); written with `locked` held.
    pending: AtomicUsize,
    /// Set while the shard's worker is awake in its run loop (it then
    /// fires the shard's timers itself; see `process_at`). A hint: a stale
    /// value only moves who fires a timer, by at most the grace.
    attended: AtomicBool,
    /// On a line of its own: the fields above are read by every worker's
    /// `fire` and `recompute`, and sharing their line made the owner's
    /// every lock a cache miss.
    locked: CachePadded<Mutex<Locked>>,
}

struct Locked {
    wheel: Wheel,
    /// Set by `shutdown`, after which no key of this shard is valid.
    shutdown: bool,
}

/// The result of registering a `Sleep`.
#[must_use]
pub(super) enum Registered {
    /// Linked under this key.
    Linked(Key),
    /// The deadline had already passed: nothing was linked.
    Elapsed,
    /// The runtime has shut down: nothing was done.
    Shutdown,
}

/// The runtime that owned a timer has shut down.
pub(super) struct IsShutdown;

/// Restores the thread's previous worker shard and lease when dropped.
pub(crate) struct WorkerShardGuard {
    previous: (usize, usize),
    previous_lease: Option<std::sync::Arc<Lease>>,
}

impl Drop for WorkerShardGuard {
    fn drop(&mut self) {
        let _ = WORKER_SHARD.try_with(|c| c.set(self.previous));
        let lease = self.previous_lease.take();
        let _ = WORKER_LEASE.try_with(|l| *l.borrow_mut() = lease);
    }
}

/// This thread stops being a worker (`block_in_place` handed its core on):
/// the `Sleep`s it polls from now on go to the shared shard.
pub(crate) fn leave_worker_shard() {
    let _ = WORKER_SHARD.try_with(|c| c.set((0, 0)));
    let _ = WORKER_LEASE.try_with(|l| l.borrow_mut().take());
    // It parks as a worker no more: its default timer slack comes back.
    super::slack::leave_worker();
}

impl TimeHandle {
    /// A driver for a runtime; `pausable` only for the current_thread
    /// runtime (which alone may pause the clock). `resolution` is the width
    /// of a wheel tick (`Builder::timer_resolution`); timers fire at their
    /// exact deadline whatever it is. `workers`: the multi-thread runtime's
    /// worker count (one shard each, plus one shared), or 0 for one shard.
    pub(crate) fn new(
        pausable: bool,
        start_paused: bool,
        resolution: Duration,
        workers: usize,
    ) -> TimeHandle {
        let tick_ns = u64::try_from(resolution.as_nanos()).unwrap_or(u64::MAX);
        let shards = if workers == 0 { 1 } else { workers + 1 };
        TimeHandle {
            inner: Arc::new(Driver {
                clock: Clock::new(pausable, start_paused),
                next_wake: AtomicU64::new(NO_WAKE),
                last_now: AtomicU64::new(0),
                shards: (0..shards)
                    .map(|_| {
                        CachePadded::new(Shard {
                            next: AtomicU64::new(NO_WAKE),
                            pending: AtomicUsize::new(0),
                            attended: AtomicBool::new(false),
                            locked: CachePadded::new(Mutex::new(Locked {
                                wheel: Wheel::new(tick_ns),
                                shutdown: false,
                            })),
                        })
                    })
                    .collect(),
                unpark: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Sets the callback run (with no lock held) when a newly registered
    /// timer becomes the earliest deadline. Set once; later calls are
    /// ignored.
    pub(crate) fn set_unpark(&self, f: Box<dyn Fn() + Send + Sync>) {
        let _ = self.inner.unpark.set(std::sync::Arc::from(f));
    }

    /// Makes this thread worker `index`'s: the `Sleep`s it polls first link
    /// into that worker's shard, until the guard drops.
    pub(crate) fn enter_worker(&self, index: usize) -> WorkerShardGuard {
        let shard = index.min(self.inner.shards.len() - 1);
        let previous = WORKER_SHARD
            .try_with(|c| c.replace((self.id(), shard)))
            .unwrap_or((0, 0));
        let lease = std::sync::Arc::new(Lease {
            handle: self.clone(),
        });
        let previous_lease = WORKER_LEASE
            .try_with(|l| l.borrow_mut().replace(lease))
            .ok()
            .flatten();
        WorkerShardGuard {
            previous,
            previous_lease,
        }
    }

    /// Worker `index` is awake in its run loop (`true`) or about to park
    /// (`false`): whether other workers leave its due timers to it for a
    /// moment (see `process_at`).
    #[inline]
    pub(crate) fn set_attended(&self, index: usize, attended: bool) {
        if let Some(shard) = self.inner.shards.get(index) {
            if index + 1 < self.inner.shards.len() {
                shard.attended.store(attended, Relaxed);
            }
        }
    }

    /// Is a timer due? One atomic load when no timer is linked; one load and
    /// one clock read otherwise.
    #[inline]
    pub(crate) fn is_due(&self) -> bool {
        let next = self.inner.next_wake.load(Relaxed);
        next != NO_WAKE && self.inner.clock.now_nanos() >= next
    }

    /// Whether any timer may be pending (`next_wake` is set): one load.
    #[inline]
    pub(super) fn has_wake(&self) -> bool {
        self.inner.next_wake.load(Relaxed) != NO_WAKE
    }

    /// Reads the clock: whether a timer is due, and the time read.
    #[inline]
    pub(super) fn due_at_now(&self) -> (bool, u64) {
        let next = self.inner.next_wake.load(Relaxed);
        let now = self.inner.clock.now_nanos();
        (next != NO_WAKE && now >= next, now)
    }

    /// Fires every timer, of every shard, whose exact deadline has passed.
    /// Wakers run with the locks released.
    pub(crate) fn process(&self) {
        self.fire(self.inner.clock.now_nanos(), 0);
    }

    /// `process` from a worker's run loop, with `now` (the clock's time,
    /// nanoseconds since its origin, read by the caller just before).
    ///
    /// The worker fires its own shard's due timers, and another shard's
    /// only once they are `OTHERS_GRACE_NS` overdue, or at once if that
    /// shard's worker is parked (`set_attended`). An awake worker fires its
    /// own timers at its next clock read (see `TimerPace`); two workers
    /// firing each other's timers as soon as they are due would contend
    /// for the same lock and the wheel's cache lines, and the task woken
    /// on the other worker would lock the first one's shard again to poll
    /// and drop its `Sleep`. The grace only matters when the owner is in
    /// a long poll (or off its CPU), and bounds the lateness that adds.
    pub(crate) fn process_at(&self, now: u64) {
        self.fire(now, OTHERS_GRACE_NS);
    }

    /// Fires the due timers of every shard (see `process_at` for `grace`).
    ///
    /// The calling thread's own shard is locked; another worker's shard only
    /// if its lock is free. A held lock means its owner is registering or
    /// cancelling a timer there (it is awake, and checks for due timers
    /// before it polls or parks again), or another worker is firing it: two
    /// workers would otherwise queue on the same lock to fire the same
    /// timers. A skipped shard keeps its `next` at or before `now`, so
    /// `recompute` leaves `next_wake` due and whoever checks next fires it
    /// (the driver owner's park timeout is then zero, and it fires with no
    /// grace).
    fn fire(&self, now: u64, grace: u64) {
        if self.inner.last_now.load(Relaxed) < now {
            self.inner.last_now.store(now, Relaxed);
        }
        let own = self.current_shard();
        let mut wakers = WakeList::new();
        for (index, shard) in self.inner.shards.iter().enumerate() {
            let next = shard.next.load(SeqCst);
            if next > now {
                continue;
            }
            if index != own && grace != 0 && now - next < grace && shard.attended.load(Relaxed) {
                // Its awake owner fires it (see `process_at`).
                continue;
            }
            let mut locked = if index == own {
                lock(&shard.locked)
            } else {
                match shard.locked.try_lock() {
                    Ok(guard) => guard,
                    Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
                    Err(std::sync::TryLockError::WouldBlock) => continue,
                }
            };
            while let Some((_, waker)) = locked.wheel.poll(now) {
                if let Some(waker) = waker {
                    wakers.push(waker);
                    if !wakers.can_push() {
                        drop(locked);
                        wakers.wake_all();
                        locked = lock(&shard.locked);
                    }
                }
            }
            // Firing never makes the shard's next expiration earlier; the
            // `recompute` below publishes the bound.
            let _ = publish(shard, &locked);
            drop(locked);
            wakers.wake_all();
        }
        self.recompute();
    }

    /// How long a worker may sleep before the next timer is due, to the
    /// nanosecond (not rounded to a tick): `None` with no timer, `Some(ZERO)`
    /// if one is due.
    pub(crate) fn park_timeout(&self) -> Option<Duration> {
        // Orders the caller's claim of the driver (`driver_owner`) before
        // this read: see the module docs.
        fence(SeqCst);
        let next = self.inner.next_wake.load(SeqCst);
        if next == NO_WAKE {
            return None;
        }
        // Against the time `fire` compares deadlines with: a wait that ends
        // by this reckoning finds its timer due.
        Some(Duration::from_nanos(
            next.saturating_sub(self.inner.clock.now_nanos()),
        ))
    }

    /// Whether any timer is linked (exact, unlike `park_timeout`, whose
    /// bound may be stale after a cancel).
    pub(crate) fn has_timers(&self) -> bool {
        self.inner
            .shards
            .iter()
            .any(|s| s.next.load(SeqCst) != NO_WAKE)
    }

    /// With a paused clock and a linked timer: moves the clock to the next
    /// expiration (an exact deadline, or a cascade point before it) and
    /// returns true (the caller then calls `process` instead
    /// of sleeping). Otherwise returns false.
    pub(crate) fn auto_advance(&self) -> bool {
        if !self.inner.clock.is_paused() {
            return false;
        }
        // Exact, not the possibly stale bound: the clock must not jump to
        // the deadline of a timer already cancelled.
        let next = self.recompute();
        next != NO_WAKE && self.inner.clock.advance_to_nanos(next)
    }

    /// The runtime is shutting down: unlinks every timer and drops its
    /// waker. `Sleep`s polled later panic.
    pub(crate) fn shutdown(&self) {
        for shard in self.inner.shards.iter() {
            let mut locked = lock(&shard.locked);
            locked.shutdown = true;
            let wakers = locked.wheel.drain();
            shard.next.store(NO_WAKE, SeqCst);
            shard.pending.store(0, Relaxed);
            drop(locked);
            // Task wakers may run arbitrary code when dropped: not under
            // the lock.
            drop(wakers);
        }
        self.inner.next_wake.store(NO_WAKE, SeqCst);
    }

    // ----- used by the rest of the time module -----

    /// The current time of this runtime's clock.
    #[inline]
    pub(super) fn now(&self) -> StdInstant {
        self.inner.clock.now()
    }

    pub(super) fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The shard a `Sleep` first polled on this thread links into.
    pub(super) fn current_shard(&self) -> usize {
        let shared = self.inner.shards.len() - 1;
        if shared == 0 {
            return 0;
        }
        let me = self.id();
        WORKER_SHARD
            .try_with(|c| match c.get() {
                (driver, shard) if driver == me => shard,
                _ => shared,
            })
            .unwrap_or(shared)
    }

    /// Links a new entry into `shard`, to fire at `deadline` and wake
    /// `waker`. With `check_clock` false (the deadline was in the future
    /// when the `Sleep` was made) the clock is not read: a deadline that has
    /// passed since fires at the next `process`, never early.
    pub(super) fn register(
        &self,
        shard: usize,
        deadline: StdInstant,
        waker: &Waker,
        check_clock: bool,
    ) -> Registered {
        let clock = &self.inner.clock;
        let elapsed = check_clock && deadline <= clock.now();
        let at = clock.deadline_to_nanos(deadline);
        let shard_ref = &self.inner.shards[shard];
        let mut locked = lock(&shard_ref.locked);
        if locked.shutdown {
            return Registered::Shutdown;
        }
        if elapsed {
            return Registered::Elapsed;
        }
        locked.wheel.catch_up(self.inner.last_now.load(Relaxed));
        let key = locked.wheel.insert(at, Some(waker.clone()));
        let earlier = publish(shard_ref, &locked);
        drop(locked);
        if let Some(next) = earlier {
            self.lower_next_wake(next);
        }
        Registered::Linked(key)
    }

    /// Moves the entry `key` of `shard` (pending or fired) to `deadline`;
    /// one whose new deadline has passed is marked fired. Its waker stays.
    pub(super) fn reset(
        &self,
        shard: usize,
        key: Key,
        deadline: StdInstant,
    ) -> Result<(), IsShutdown> {
        let clock = &self.inner.clock;
        let elapsed = deadline <= clock.now();
        let at = clock.deadline_to_nanos(deadline);
        let shard_ref = &self.inner.shards[shard];
        let mut locked = lock(&shard_ref.locked);
        if locked.shutdown {
            return Err(IsShutdown);
        }
        if elapsed {
            locked.wheel.mark_fired(key);
        } else {
            locked.wheel.catch_up(self.inner.last_now.load(Relaxed));
            locked.wheel.relink(key, at);
        }
        let earlier = publish(shard_ref, &locked);
        drop(locked);
        if let Some(next) = earlier {
            self.lower_next_wake(next);
        }
        Ok(())
    }

    /// `Ready` if the entry fired, and then the entry is freed (`key` is no
    /// longer valid): a `Sleep` that completed has no use for it, and its
    /// drop then takes no lock. Otherwise stores `waker` to be woken when
    /// it fires.
    pub(super) fn poll_entry(
        &self,
        shard: usize,
        key: Key,
        waker: &Waker,
    ) -> Result<Poll<()>, IsShutdown> {
        let shard_ref = &self.inner.shards[shard];
        let mut locked = lock(&shard_ref.locked);
        if locked.shutdown {
            return Err(IsShutdown);
        }
        if !locked.wheel.is_pending(key) {
            // A fired entry sits in no list: freeing it changes neither the
            // shard's next expiration nor its pending count, so there is
            // nothing to publish (`remove_locked` is for pending entries).
            let waker = locked.wheel.remove(key);
            drop(locked);
            drop(waker);
            return Ok(Poll::Ready(()));
        }
        let replaced = locked.wheel.set_waker(key, waker);
        drop(locked);
        drop(replaced);
        Ok(Poll::Pending)
    }

    /// Whether the entry fired (false once the runtime shut down).
    pub(super) fn is_fired(&self, shard: usize, key: Key) -> bool {
        let locked = lock(&self.inner.shards[shard].locked);
        !locked.shutdown && !locked.wheel.is_pending(key)
    }

    /// Frees the entry (unlinking it if it has not fired).
    pub(super) fn cancel(&self, shard: usize, key: Key) {
        let shard_ref = &self.inner.shards[shard];
        let locked = lock(&shard_ref.locked);
        if locked.shutdown {
            return;
        }
        self.remove_locked(shard_ref, locked, key);
    }

    /// Frees the entry `key` of `shard_ref` under its lock `locked`, then
    /// drops the waker and lowers the bound with the lock released.
    fn remove_locked(&self, shard_ref: &Shard, mut locked: MutexGuard<'_, Locked>, key: Key) {
        let waker = locked.wheel.remove(key);
        let earlier = publish(shard_ref, &locked);
        drop(locked);
        drop(waker);
        // Removing does not make the next expiration earlier; handled all
        // the same, so the bound does not rest on the wheel's internals.
        if let Some(next) = earlier {
            self.lower_next_wake(next);
        }
    }

    /// After a shard's next expiration became `next` (earlier than it
    /// was): lowers `next_wake` to it if it is earlier, and wakes the driver
    /// owner if that lowered it (see the module docs). The fences make the
    /// two store-then-load pairs of the protocol sequentially consistent
    /// (and let loom, which treats SeqCst accesses as AcqRel, check them).
    fn lower_next_wake(&self, next: u64) {
        let inner = &*self.inner;
        fence(SeqCst);
        if next < inner.next_wake.load(SeqCst) && next < inner.next_wake.fetch_min(next, SeqCst) {
            fence(SeqCst);
            if let Some(unpark) = inner.unpark.get() {
                unpark();
            }
        }
    }

    /// Sets `next_wake` to the minimum of the shards' `next`, then re-reads
    /// them so that a registration racing this store is not lost. Returns
    /// the minimum read first.
    fn recompute(&self) -> u64 {
        let min = || {
            self.inner
                .shards
                .iter()
                .fold(NO_WAKE, |m, s| m.min(s.next.load(SeqCst)))
        };
        let first = min();
        // An unchanged bound is not stored again: workers read it at every
        // clock read, and a store would take the line from them. Not
        // storing never hides a lower bound a registrant just published.
        if self.inner.next_wake.load(SeqCst) != first {
            self.inner.next_wake.store(first, SeqCst);
        }
        fence(SeqCst);
        let again = min();
        if again < first {
            self.lower_next_wake(again);
        }
        first.min(again)
    }

    /// Tells this driver apart from others (for the worker shard of a
    /// thread).
    fn id(&self) -> usize {
        &*self.inner as *const Driver as usize
    }

    /// Timers pending in every wheel, as of each wheel's last change (for
    /// metrics: no lock is taken, so a scrape never holds up a worker).
    pub(crate) fn pending_timers(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|s| s.pending.load(Relaxed))
            .sum()
    }

    /// Test hook: runs `f` on shard 0's wheel with its lock held.
    #[cfg(all(test, not(perf_runtime_loom)))]
    pub(super) fn with_wheel<R>(&self, f: impl FnOnce(&Wheel) -> R) -> R {
        f(&lock(&self.inner.shards[0].locked).wheel)
    }

    /// Test hook: `next_wake` and each shard's next expiration.
    #[cfg(test)]
    pub(super) fn wake_bounds(&self) -> (u64, Vec<u64>) {
        (
            self.inner.next_wake.load(SeqCst),
            self.inner
                .shards
                .iter()
                .map(|s| s.next.load(SeqCst))
                .collect(),
        )
    }
}

/// Stores `shard`'s next expiration after a change to its wheel (lock
/// held). Returns it if it became earlier: the caller then lowers
/// `next_wake` (with the lock released).
#[must_use]
fn publish(shard: &Shard, locked: &Locked) -> Option<u64> {
    shard.pending.store(locked.wheel.len(), Relaxed);
    let next = locked.wheel.next_expiration().unwrap_or(NO_WAKE);
    let before = shard.next.load(Relaxed);
    if before == next {
        return None;
    }
    shard.next.store(next, SeqCst);
    (next < before).then_some(next)
}

impl fmt::Debug for TimeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeHandle")
            .field("paused", &self.inner.clock.is_paused())
            .field("next_wake", &self.inner.next_wake.load(Relaxed))
            .field("shards", &self.inner.shards.len())
            .finish_non_exhaustive()
    }
}

#[cold]
#[track_caller]
pub(super) fn shutdown_panic() -> ! {
    panic!("the runtime that owns this timer has shut down; timers cannot be used after their runtime is dropped")
}
