//! The adaptive channel: a bounded channel whose bound moves between a
//! minimum and a maximum. [`adaptive`] is the constructor and documents the
//! sizing policy; [`Sizer`] is the policy and the protocol that changes the
//! bound of a live channel.
//!
//! # Moving the bound of a live semaphore
//!
//! The channel's capacity is the [`BatchSemaphore`] under every bounded
//! channel: `bound` permits, one taken per message queued or permit held.
//! Growing adds permits (`release`). Shrinking removes the free ones
//! (`forget_permits`); what it cannot remove because claims hold it becomes
//! `debt`, paid back by the next claims given back (a popped message, a
//! dropped permit), which are then absorbed instead of released. So a
//! shrink below the occupancy loses nothing: the messages stay queued,
//! permits already granted stay valid, and senders wait until the queue
//! has drained below the new bound.
//!
//! # Invariants
//!
//! 1. `free + held + in_flight == bound + debt`, where `free` is the
//!    semaphore's available permits, `held` the claims taken (messages
//!    queued, permits held, senders between claiming and pushing) and
//!    `in_flight` the permits a `repay` took out and has not yet deducted
//!    or given back. Every operation below keeps it.
//! 2. `bound` and the level in `Applied` change only under `lock`; `debt`
//!    rises only under it (a shrink) and falls anywhere (an absorbed claim,
//!    a repay, a grow). `is_idle` takes the lock too, so `bound` is stable
//!    while it reads.
//! 3. Once every operation has returned, not both `free > 0` and
//!    `debt > 0`: a shrink raises `debt`, issues a `SeqCst` fence and then
//!    forgets free permits; a release adds free permits, issues a `SeqCst`
//!    fence and then looks at `debt` (repaying it from the free permits if
//!    it is up). The two fences order each pair, so one of the two sees the
//!    other. A permit that a release hands straight to a queued sender
//!    never becomes free: that sender's claim counts as taken before the
//!    shrink, which is what the debt is for.
//! 4. So, at rest, `held <= bound` unless `free == 0` and `held == bound +
//!    debt`: the channel holds more than its bound only after a shrink
//!    below the occupancy, and then no new claim succeeds until `debt` is
//!    paid.
//!
//! The loom models in `adaptive/tests.rs` check no message is lost or
//! duplicated and invariants 1 and 3 at rest, with a shrink below the
//! occupancy racing sends, receives and a grow.

use super::bounded::{self, Receiver, Sender};
use super::chan::BoundedSemaphore;
use crate::container::{PressureLevel, PressureWatch};
use crate::loom::sync::atomic::{fence, AtomicU8, AtomicUsize, Ordering::*};
use crate::loom::sync::Mutex;
use crate::sync::batch_semaphore::{BatchSemaphore, MAX_PERMITS};

/// Receives counted as one sizing window, at least (else the bound).
pub(crate) const MIN_WINDOW: usize = 8;
/// Consecutive lagging windows after which the bound halves.
pub(crate) const LAG_WINDOWS: u32 = 4;

/// Creates a bounded channel whose capacity adapts between `min` and `max`
/// messages: it grows while the consumer keeps up with bursts and shrinks
/// under memory pressure or when the consumer lags. The handles are those
/// of [`channel`](super::channel), and behave alike: `send` waits (FIFO)
/// while the channel holds its current bound, `try_send` fails with
/// `Full`, and so on. [`Sender::max_capacity`] is the bound in force now;
/// [`Sender::capacity`] is what is free under it.
///
/// # Sizing policy
///
/// The channel starts at `min`. The receiver counts its receives in
/// windows of `max(bound, 8)` receives (one turnover of the buffer) and
/// notes, per window, how many receives found the channel full (every slot
/// taken: senders were waiting or refused) and whether it ever found the
/// queue empty. At the end of a window:
///
/// - **Grow ×2** (up to `max`) if the channel was full at least once *and*
///   the receiver emptied it: bursts overflow the buffer but the consumer
///   catches up, so a bigger buffer absorbs them instead of stalling the
///   producers. Only while the memory pressure is `None`.
/// - **Shrink ÷2** (down to `min`) after 4 consecutive *lagging* windows:
///   the queue was never empty and full on at least half the receives. The
///   producers outrun the consumer for good; a bigger buffer would only
///   hold more messages longer (more memory, more latency), so the
///   back-pressure should reach the producers sooner.
/// - Otherwise the bound stays.
///
/// Memory pressure (the runtime's [`PressureLevel`], as
/// [`Handle::pressure`](crate::runtime::Handle::pressure) reports it) is
/// checked on every send and receive (one atomic load):
///
/// - **Critical**: the bound drops to `min` at once.
/// - **Moderate**: the bound halves at once, and again at the end of each
///   window while it lasts, down to `min`.
/// - **None** again: nothing changes at once; the channel grows again by
///   the rule above.
///
/// The pressure followed is that of the runtime the channel is created in;
/// a channel created outside a runtime sees none.
///
/// # Shrinking below the occupancy
///
/// No message is dropped or duplicated, whatever the bound does: a shrink
/// below the number of messages queued (or permits reserved) keeps them,
/// permits already granted stay valid, and senders wait (or `try_send`
/// reports `Full`) until the receiver has drained the queue below the new
/// bound. [`Receiver::len`] may then exceed [`Receiver::max_capacity`] for
/// a while.
///
/// # Metrics
///
/// The channel's capacity gauge (`perf_runtime_channel_capacity` of its
/// class, the creation site) reports the bound in force.
///
/// # Panics
///
/// As [`channel(0)`](super::channel) does, on a `min` of 0 (the channel
/// needs room for one message), a `min` greater than `max`, or a `max`
/// above `usize::MAX >> 3`.
///
/// # Examples
///
/// A producer that fills the channel in bursts, and a consumer that
/// empties it between them: the bound doubles at each window's end. (Made
/// outside a runtime, this channel follows no memory pressure; inside one,
/// it would also shrink when the runtime reports some.)
///
/// ```
/// use perf_runtime::sync::mpsc::{self, error::TrySendError};
///
/// let (tx, mut rx) = mpsc::adaptive::<u32>(2, 64);
/// assert_eq!(tx.max_capacity(), 2);
/// for _burst in 0..40 {
///     // The burst fills the channel: senders would wait here...
///     while tx.try_send(7).is_ok() {}
///     assert!(matches!(tx.try_send(7), Err(TrySendError::Full(7))));
///     // ...and the consumer drains it.
///     while rx.try_recv().is_ok() {}
/// }
/// assert_eq!(tx.max_capacity(), 64);
///
/// // A consumer that lags for good brings it back down.
/// while tx.try_send(0).is_ok() {}
/// for _ in 0..1000 {
///     rx.try_recv().unwrap();
///     let _ = tx.try_send(0); // the producer refills at once
/// }
/// assert_eq!(tx.max_capacity(), 2);
/// ```
#[track_caller]
pub fn adaptive<T>(min: usize, max: usize) -> (Sender<T>, Receiver<T>) {
    #[cfg(not(perf_runtime_loom))]
    let pressure = crate::runtime::Handle::try_current()
        .ok()
        .map(|h| h.pressure_watch());
    #[cfg(perf_runtime_loom)]
    let pressure = None;
    adaptive_with(min, max, pressure)
}

/// [`adaptive`], following the pressure `pressure` gives (tests pass a
/// watch of their own cell).
#[track_caller]
pub(crate) fn adaptive_with<T>(
    min: usize,
    max: usize,
    pressure: Option<PressureWatch>,
) -> (Sender<T>, Receiver<T>) {
    assert!(
        min > 0,
        "mpsc::adaptive: `min` must be at least 1, was 0 (a bounded channel needs room for one \
         message; use `oneshot` for a hand-off)"
    );
    assert!(
        min <= max,
        "mpsc::adaptive: `min` ({min}) may not exceed `max` ({max})"
    );
    assert!(
        max <= MAX_PERMITS,
        "mpsc::adaptive: `max` may be at most usize::MAX >> 3, was {max}"
    );
    let semaphore = BoundedSemaphore {
        sem: BatchSemaphore::new(min),
        bound: max,
        adaptive: Some(Box::new(Sizer::new(min, max, pressure))),
    };
    bounded::from_semaphore(semaphore, Some(max), min)
}

/// An adaptive channel's bound and its policy (module docs).
pub(crate) struct Sizer {
    min: usize,
    max: usize,
    /// The bound in force; written under `lock` (invariant 2).
    bound: AtomicUsize,
    /// Claims taken above `bound`, to absorb as they are given back.
    debt: AtomicUsize,
    /// The pressure level the bound last reacted to, as `level_u8`: read
    /// without the lock to skip it when nothing changed.
    applied: AtomicU8,
    pressure: Option<PressureWatch>,
    /// Serialises resizes, and `is_idle` against them.
    lock: Mutex<()>,
}

/// The receiver's statistics of the current window (only the receiver
/// touches them: they live in its handle).
#[derive(Debug, Default)]
pub(crate) struct RxStats {
    /// Receives in this window.
    pops: usize,
    /// Of those, how many found the channel full.
    full: usize,
    /// The receiver found the queue empty in this window.
    empty: bool,
    /// Consecutive lagging windows before this one.
    lagging: u32,
}

impl RxStats {
    #[inline]
    pub(crate) fn found_empty(&mut self) {
        self.empty = true;
    }
}

fn level_u8(level: PressureLevel) -> u8 {
    match level {
        PressureLevel::None => 0,
        PressureLevel::Moderate => 1,
        PressureLevel::Critical => 2,
    }
}

impl Sizer {
    fn new(min: usize, max: usize, pressure: Option<PressureWatch>) -> Sizer {
        Sizer {
            min,
            max,
            bound: AtomicUsize::new(min),
            debt: AtomicUsize::new(0),
            applied: AtomicU8::new(level_u8(PressureLevel::None)),
            pressure,
            lock: Mutex::new(()),
        }
    }

    /// The bound in force now.
    pub(crate) fn bound(&self) -> usize {
        self.bound.load(Relaxed)
    }

    fn level(&self) -> PressureLevel {
        self.pressure
            .as_ref()
            .map_or(PressureLevel::None, PressureWatch::level)
    }

    fn lock(&self) -> crate::loom::sync::MutexGuard<'_, ()> {
        // Nothing panics under it; the data is outside it.
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// No claim is taken (invariant 1 with `held == 0`). Reads `debt`
    /// before `free`: whatever changes between the two reads makes the
    /// result err towards "not idle", never towards "idle".
    pub(crate) fn is_idle(&self, sem: &BatchSemaphore) -> bool {
        let _g = self.lock();
        let debt = self.debt.load(SeqCst);
        let free = sem.available_permits();
        free == self.bound() + debt
    }

    /// Gives back one claim: absorbed by the debt if there is one, else
    /// released.
    #[inline]
    pub(crate) fn give_back(&self, sem: &BatchSemaphore) {
        let mut debt = self.debt.load(Relaxed);
        while debt > 0 {
            match self
                .debt
                .compare_exchange_weak(debt, debt - 1, Relaxed, Relaxed)
            {
                Ok(_) => return,
                Err(actual) => debt = actual,
            }
        }
        self.release(sem, 1);
    }

    /// Adds `n` free permits, then repays a debt raised meanwhile
    /// (invariant 3).
    fn release(&self, sem: &BatchSemaphore, n: usize) {
        sem.release(n);
        fence(SeqCst);
        if self.debt.load(Relaxed) > 0 {
            self.repay(sem);
        }
    }

    /// Pays the debt from free permits while there are both.
    #[cold]
    fn repay(&self, sem: &BatchSemaphore) {
        loop {
            let debt = self.debt.load(Relaxed);
            if debt == 0 {
                return;
            }
            let took = sem.forget_permits(debt);
            if took == 0 {
                return;
            }
            // The debt may have fallen meanwhile (absorbed claims, a grow):
            // deduct what is still owed and give the rest back.
            let mut cur = self.debt.load(Relaxed);
            let paid = loop {
                let pay = cur.min(took);
                if pay == 0 {
                    break 0;
                }
                match self
                    .debt
                    .compare_exchange_weak(cur, cur - pay, Relaxed, Relaxed)
                {
                    Ok(_) => break pay,
                    Err(actual) => cur = actual,
                }
            };
            if paid < took {
                sem.release(took - paid);
                fence(SeqCst);
            }
        }
    }

    /// Moves the bound to `f(bound, level)`, under the lock, and reports
    /// the new bound to `resized` (if it changed).
    fn resize(
        &self,
        sem: &BatchSemaphore,
        resized: &dyn Fn(usize),
        f: impl FnOnce(usize, u8) -> usize,
    ) {
        let _g = self.lock();
        let old = self.bound();
        let new = f(old, self.applied.load(Relaxed)).clamp(self.min, self.max);
        if new < old {
            self.bound.store(new, Relaxed);
            self.debt.fetch_add(old - new, Relaxed);
            fence(SeqCst);
            self.repay(sem);
        } else if new > old {
            self.bound.store(new, Relaxed);
            let grow = new - old;
            // Claims above the old bound fit under the new one first.
            let mut debt = self.debt.load(Relaxed);
            let paid = loop {
                let pay = debt.min(grow);
                if pay == 0 {
                    break 0;
                }
                match self
                    .debt
                    .compare_exchange_weak(debt, debt - pay, Relaxed, Relaxed)
                {
                    Ok(_) => break pay,
                    Err(actual) => debt = actual,
                }
            };
            // Nobody raises the debt while we hold the lock, so none is
            // owed if anything is left to release.
            sem.release(grow - paid);
        } else {
            return;
        }
        resized(new);
    }

    /// Reacts to a pressure level that differs from the applied one
    /// (checked by every send and receive).
    #[inline]
    pub(crate) fn check_pressure(&self, sem: &BatchSemaphore, resized: &dyn Fn(usize)) {
        let level = self.level();
        if level_u8(level) != self.applied.load(Relaxed) {
            self.pressure_changed(sem, level, resized);
        }
    }

    #[cold]
    fn pressure_changed(
        &self,
        sem: &BatchSemaphore,
        level: PressureLevel,
        resized: &dyn Fn(usize),
    ) {
        let new = level_u8(level);
        self.resize(sem, resized, |bound, _| {
            let old = self.applied.swap(new, Relaxed);
            match level {
                PressureLevel::Critical => self.min,
                // Entering Moderate from None halves; leaving Critical for
                // Moderate keeps what Critical left.
                PressureLevel::Moderate if old == level_u8(PressureLevel::None) => bound / 2,
                _ => bound,
            }
        });
    }

    /// The receiver popped a message: gives its claim back and runs the
    /// policy (the `adaptive` docs).
    #[inline]
    pub(crate) fn popped(&self, sem: &BatchSemaphore, rx: &mut RxStats, resized: &dyn Fn(usize)) {
        // Every slot taken (or more: a shrink left a debt).
        let full = sem.available_permits() == 0;
        self.give_back(sem);
        rx.pops += 1;
        rx.full += usize::from(full);
        self.check_pressure(sem, resized);
        if rx.pops >= self.bound().max(MIN_WINDOW) {
            self.end_window(sem, rx, resized);
        }
    }

    #[cold]
    fn end_window(&self, sem: &BatchSemaphore, rx: &mut RxStats, resized: &dyn Fn(usize)) {
        let keeps_up = rx.full > 0 && rx.empty;
        let lagging = !rx.empty && rx.full * 2 >= rx.pops;
        rx.lagging = if lagging { rx.lagging + 1 } else { 0 };
        let lagged = rx.lagging >= LAG_WINDOWS;
        if lagged {
            rx.lagging = 0;
        }
        rx.pops = 0;
        rx.full = 0;
        rx.empty = false;
        if !keeps_up && !lagged && self.applied.load(Relaxed) != level_u8(PressureLevel::Moderate) {
            return;
        }
        self.resize(sem, resized, |bound, level| {
            if level == level_u8(PressureLevel::Moderate) || lagged {
                bound / 2
            } else if level == level_u8(PressureLevel::None) && keeps_up {
                bound.saturating_mul(2)
            } else {
                bound
            }
        });
    }
}

/// Test hooks: the resize without the policy, and invariants 1 and 3.
#[cfg(test)]
impl Sizer {
    pub(crate) fn force_bound(&self, sem: &BatchSemaphore, bound: usize, resized: &dyn Fn(usize)) {
        self.resize(sem, resized, |_, _| bound);
    }

    /// With every operation returned and `held` claims taken.
    pub(crate) fn assert_at_rest(&self, sem: &BatchSemaphore, held: usize) {
        let free = sem.available_permits();
        let debt = self.debt.load(SeqCst);
        let bound = self.bound();
        assert_eq!(
            free + held,
            bound + debt,
            "free {free} + held {held} != bound {bound} + debt {debt}"
        );
        assert!(
            free == 0 || debt == 0,
            "free {free} and debt {debt} at rest"
        );
    }
}

impl std::fmt::Debug for Sizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sizer")
            .field("min", &self.min)
            .field("max", &self.max)
            .field("bound", &self.bound())
            .field("debt", &self.debt.load(Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
