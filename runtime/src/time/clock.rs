//! The runtime's clock: real time, or a paused (test) clock that only moves
//! when told to, and the conversions between clock time and the timer
//! driver's nanoseconds since the clock's origin.
//!
//! Reads are lock-free: one `mode` load, then either `std::time::Instant::now()`
//! (real), `origin + frozen` (paused), or `std now + skew` (resumed after a
//! pause; the clock keeps whatever lead or lag the pause gave it, as tokio's).
//! Mutations (`pause`, `resume`, `advance`) are serialized by `mutate`.

use crate::loom::sync::atomic::{AtomicU64, AtomicU8, Ordering::*};
use crate::loom::sync::Mutex;
use std::time::{Duration, Instant as StdInstant};

/// The clock reads the system clock.
const REAL: u8 = 0;
/// The clock is frozen at `origin + frozen` nanoseconds.
const PAUSED: u8 = 1;
/// The clock runs, offset from the system clock by `skew` nanoseconds.
const SKEWED: u8 = 2;

/// The largest deadline (nanoseconds since the origin, ~146 years) a
/// timer converts to, kept well below the entry-state sentinels
/// (`entry::FIRED`, `entry::SHUTDOWN`).
pub(super) const MAX_NANOS: u64 = u64::MAX >> 2;

pub(super) struct Clock {
    /// Tick 0 of the timer wheel; never changes.
    origin: StdInstant,
    /// `CLOCK_MONOTONIC` read just after `origin` was, in nanoseconds: the
    /// origin of `now_nanos`'s direct reads (see `origins`).
    origin_raw: Option<u64>,
    /// May this clock be paused (current_thread runtime only)?
    pausable: bool,
    mode: AtomicU8,
    /// Paused time, in nanoseconds since `origin` (meaningful in PAUSED).
    frozen: AtomicU64,
    /// `clock - system clock`, in nanoseconds, as `i64` bits (in SKEWED).
    skew: AtomicU64,
    /// Serializes pause/resume/advance.
    mutate: Mutex<()>,
}

impl Clock {
    pub(super) fn new(pausable: bool, start_paused: bool) -> Clock {
        assert!(
            pausable || !start_paused,
            "a paused clock requires the current_thread runtime; build it with \
             runtime::Builder::new_current_thread()"
        );
        let (origin, origin_raw) = origins();
        Clock {
            origin,
            origin_raw,
            pausable,
            mode: AtomicU8::new(if start_paused { PAUSED } else { REAL }),
            frozen: AtomicU64::new(0),
            skew: AtomicU64::new(0),
            mutate: Mutex::new(()),
        }
    }

    /// The current time of this clock.
    #[inline]
    pub(super) fn now(&self) -> StdInstant {
        match self.mode.load(Acquire) {
            REAL => StdInstant::now(),
            mode => self.now_slow(mode),
        }
    }

    #[cold]
    fn now_slow(&self, mode: u8) -> StdInstant {
        if mode == PAUSED {
            return self.origin + Duration::from_nanos(self.frozen.load(Acquire));
        }
        let skew = self.skew.load(Acquire) as i64;
        let real = StdInstant::now();
        if skew >= 0 {
            real + Duration::from_nanos(skew as u64)
        } else {
            // A lagging clock never reads before `origin`.
            real.checked_sub(Duration::from_nanos(skew.unsigned_abs()))
                .map_or(self.origin, |t| t.max(self.origin))
        }
    }

    pub(super) fn is_pausable(&self) -> bool {
        self.pausable
    }

    pub(super) fn is_paused(&self) -> bool {
        self.mode.load(Acquire) == PAUSED
    }

    /// Freezes the clock at its current time.
    pub(super) fn pause(&self) {
        let _guard = lock(&self.mutate);
        assert!(
            !self.is_paused(),
            "time::pause() called while the clock is already paused"
        );
        let now = self.since_origin(self.now());
        self.frozen.store(now, Release);
        self.mode.store(PAUSED, Release);
    }

    /// Lets the clock run again from the time it was frozen at.
    pub(super) fn resume(&self) {
        let _guard = lock(&self.mutate);
        assert!(
            self.is_paused(),
            "time::resume() called while the clock is not paused; call time::pause() first"
        );
        let frozen = i128::from(self.frozen.load(Acquire));
        let real = i128::from(self.since_origin(StdInstant::now()));
        let skew = (frozen - real).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        self.skew.store(skew as u64, Release);
        self.mode.store(SKEWED, Release);
    }

    /// Moves the paused clock forward by `by`.
    pub(super) fn advance(&self, by: Duration) {
        let _guard = lock(&self.mutate);
        assert!(
            self.is_paused(),
            "time::advance() requires a paused clock; call time::pause() first"
        );
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let frozen = self.frozen.load(Acquire);
        let advanced = frozen.checked_add(by).unwrap_or_else(|| {
            panic!("time::advance() by {by} ns overflows the paused clock (~584 years)")
        });
        self.frozen.store(advanced, Release);
    }

    /// Moves the paused clock forward to `nanos` since the origin, if it
    /// is behind it. Returns false if the clock is not paused.
    pub(super) fn advance_to_nanos(&self, nanos: u64) -> bool {
        let _guard = lock(&self.mutate);
        if !self.is_paused() {
            return false;
        }
        if nanos > self.frozen.load(Acquire) {
            self.frozen.store(nanos, Release);
        }
        true
    }

    /// The clock's current time, in nanoseconds since the origin.
    ///
    /// A real clock is read directly (`raw_now`), without going through
    /// `Instant` and `Duration`: the worker loop reads it for every timer
    /// check. The reading is at most the time between `origin` and
    /// `origin_raw` behind `now() - origin` (never ahead), so a timer
    /// compared against it is never early.
    #[inline]
    pub(super) fn now_nanos(&self) -> u64 {
        if let (REAL, Some(origin_raw)) = (self.mode.load(Acquire), self.origin_raw) {
            if let Some(raw) = raw_now() {
                return raw.saturating_sub(origin_raw).min(MAX_NANOS);
            }
        }
        self.since_origin(self.now()).min(MAX_NANOS)
    }

    /// A deadline in nanoseconds since the origin (clamped to `MAX_NANOS`).
    /// `Instant` has nanosecond precision, so nothing is rounded.
    pub(super) fn deadline_to_nanos(&self, deadline: StdInstant) -> u64 {
        self.since_origin(deadline).min(MAX_NANOS)
    }

    fn since_origin(&self, t: StdInstant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }
}

/// The clock's origin, and `CLOCK_MONOTONIC` read just after it (`None`
/// without a direct clock). The raw origin is at or after `origin`, so a
/// direct read measured from it is never ahead of `now() - origin`; it is
/// behind by the time between the two reads, kept under `MAX_ORIGIN_GAP_NS`
/// by taking the pair again if the thread was descheduled between them.
fn origins() -> (StdInstant, Option<u64>) {
    /// The gap accepted between the raw reads around `origin`.
    const MAX_ORIGIN_GAP_NS: u64 = 2_000;
    let mut best = None;
    for _ in 0..8 {
        let (Some(before), origin, Some(after)) = (raw_now(), StdInstant::now(), raw_now()) else {
            return (StdInstant::now(), None);
        };
        let gap = after.saturating_sub(before);
        if best.is_none_or(|(_, _, g)| gap < g) {
            best = Some((origin, after, gap));
        }
        if gap <= MAX_ORIGIN_GAP_NS {
            break;
        }
    }
    match best {
        Some((origin, raw, _)) => (origin, Some(raw)),
        None => (StdInstant::now(), None),
    }
}

/// `CLOCK_MONOTONIC`, the clock `std::time::Instant` reads on Linux, in
/// nanoseconds (`None` elsewhere, or if the call fails).
#[inline]
fn raw_now() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec for the call.
        if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } == 0 {
            return Some((ts.tv_sec as u64).wrapping_mul(1_000_000_000) + ts.tv_nsec as u64);
        }
    }
    None
}

/// Locks `m`, ignoring poisoning: the time module's locked state is updated
/// without calling user code, so it is consistent even after a panic.
pub(super) fn lock<T>(m: &Mutex<T>) -> crate::loom::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
