//! How often a busy worker reads the clock to look for due timers (and for
//! its I/O ring's periodic harvest).
//!
//! A worker checks for due timers between polls, which needs the time.
//! Reading the clock costs ~20 ns on bare metal but 100-400 ns on a VM
//! whose TSC reads trap to the hypervisor: read at every tick, it cost as
//! much as the poll itself when tasks are short (10 000 sleeping tasks,
//! each polled twice for a few hundred nanoseconds, and a timer due every
//! few hundred nanoseconds, so `next_wake` is always "maybe due").
//!
//! `TimerPace` measures how long the worker's ticks take, from two clock
//! reads and the ticks between them, and skips the read for as many ticks
//! as fit in `PACE_NS` of that average (at most `MAX_SKIP`). A timer then
//! fires at most about `PACE_NS` later than at the first tick after its
//! deadline while ticks stay short; when ticks are long (a task burning
//! 100 µs per poll) the average is long and the clock is read at every
//! tick, as before. The estimate restarts conservatively: after a park, or
//! while no timer is pending, the next read finds a long average and the
//! following tick reads again. Skipping a read never makes a timer early:
//! timers fire only against a time actually read.
//!
//! The worker's io_uring ring needs the time too (it harvests its epoll set
//! every 100 µs while the worker is busy): it gets this tick's reading, if
//! the pace took one, instead of reading the clock itself, and the pace
//! reads while the ring has resources even with no timer pending.

use super::TimeHandle;
use std::cell::Cell;

/// The work, in nanoseconds of average tick time, that a skipped read may
/// add to a timer's lateness.
const PACE_NS: u64 = 4_000;

/// Ticks skipped at most between two reads.
const MAX_SKIP: u32 = 15;

/// One worker's pacing of its clock reads (owned by its core, `!Sync`).
pub(crate) struct TimerPace {
    /// Ticks since the last read.
    since: Cell<u32>,
    /// Ticks to skip after a read.
    skip: Cell<u32>,
    /// The time of the last read (nanoseconds since the clock's origin).
    last: Cell<u64>,
}

impl TimerPace {
    pub(crate) fn new() -> TimerPace {
        TimerPace {
            since: Cell::new(0),
            skip: Cell::new(0),
            last: Cell::new(0),
        }
    }

    /// `TimeHandle::due_now`, reading the clock only when the pace allows:
    /// the time read if a timer is due (`tick` without a ring).
    #[cfg(test)]
    pub(crate) fn due_now(&self, time: &TimeHandle) -> Option<u64> {
        self.tick(time, false)
            .and_then(|(now, due)| due.then_some(now))
    }

    /// This tick's clock reading, when the pace takes one: the time read
    /// (nanoseconds since the clock's origin) and whether a timer is due at
    /// it. `io_wants`: the worker's ring wants readings too.
    #[inline]
    pub(crate) fn tick(&self, time: &TimeHandle, io_wants: bool) -> Option<(u64, bool)> {
        if !io_wants && !time.has_wake() {
            // Nothing wants the time: the next read starts a fresh estimate.
            self.since.set(0);
            self.skip.set(0);
            return None;
        }
        let since = self.since.get() + 1;
        if since <= self.skip.get() {
            self.since.set(since);
            return None;
        }
        Some(self.read(time, since))
    }

    fn read(&self, time: &TimeHandle, since: u32) -> (u64, bool) {
        let (due, now) = time.due_at_now();
        let per_tick = now.saturating_sub(self.last.get()) / u64::from(since);
        self.last.set(now);
        self.since.set(0);
        self.skip.set(skip_for(per_tick, PACE_NS, MAX_SKIP));
        (now, due)
    }

    /// The worker is about to park: the ticks after it are not the ticks
    /// measured so far.
    #[inline]
    pub(crate) fn reset(&self) {
        self.since.set(0);
        self.skip.set(0);
    }
}

/// Ticks to skip when ticks take `per_tick` ns on average.
pub(super) fn skip_for(per_tick: u64, pace_ns: u64, max_skip: u32) -> u32 {
    match pace_ns.checked_div(per_tick) {
        // Ticks shorter than a nanosecond: the clock did not move.
        None => max_skip,
        Some(n) => u32::try_from(n).unwrap_or(u32::MAX).min(max_skip),
    }
}
