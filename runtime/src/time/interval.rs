//! `Interval`, `interval`, `interval_at` and `MissedTickBehavior`, with
//! tokio's semantics.

use super::{Instant, Sleep};
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// A tick later than its deadline by more than this counts as missed.
const MISSED_SLACK: Duration = Duration::from_millis(5);

/// An [`Interval`] that ticks every `period`, the first tick completing
/// immediately.
///
/// # Panics
/// If `period` is zero, or if called outside a perf_runtime runtime.
///
/// # Examples
/// ```
/// use perf_runtime::time::{interval, Duration};
///
/// #[perf_runtime::main]
/// async fn main() {
///     let mut every = interval(Duration::from_millis(10));
///     every.tick().await; // immediately
///     every.tick().await; // 10 ms later
///     every.tick().await; // 20 ms after the first
/// }
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    assert!(period > Duration::ZERO, "`period` must be non-zero.");
    interval_at(Instant::now(), period)
}

/// An [`Interval`] that first ticks at `start`, then every `period`.
///
/// # Panics
/// If `period` is zero, or if called outside a perf_runtime runtime.
///
/// # Examples
/// ```
/// use perf_runtime::time::{interval_at, Duration, Instant};
///
/// #[perf_runtime::main]
/// async fn main() {
///     let start = Instant::now() + Duration::from_millis(5);
///     let mut every = interval_at(start, Duration::from_millis(10));
///     assert_eq!(every.tick().await, start);
/// }
/// ```
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(period > Duration::ZERO, "`period` must be non-zero.");
    Interval {
        delay: Sleep::new_or_far(Some(start), false),
        period,
        missed_tick_behavior: MissedTickBehavior::default(),
    }
}

/// What an [`Interval`] does when ticks were missed (the task did not call
/// [`Interval::tick`] in time, more than 5 ms after a tick was due).
///
/// With a period of 50 ms, ticks due at 50, 100 and 150 ms but collected
/// only at 180 ms:
/// - `Burst` (default) yields the missed ticks at once, then keeps the
///   original schedule: ticks due at 100 and 150 ms complete immediately,
///   then 200, 250, ...
/// - `Delay` restarts the schedule from the late tick: 230, 280, ...
/// - `Skip` drops the missed ticks and keeps the original phase: 200, 250, ...
///
/// # Examples
/// ```
/// use perf_runtime::time::{interval, Duration, MissedTickBehavior};
///
/// #[perf_runtime::main]
/// async fn main() {
///     let mut every = interval(Duration::from_millis(50));
///     every.set_missed_tick_behavior(MissedTickBehavior::Delay);
///     every.tick().await;
/// }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissedTickBehavior {
    /// Yield missed ticks as fast as possible until caught up.
    #[default]
    Burst,
    /// Schedule the next tick one `period` after the late tick was yielded.
    Delay,
    /// Skip missed ticks; the next tick is the next one on the original
    /// schedule after now.
    Skip,
}

impl MissedTickBehavior {
    /// The deadline of the tick after one due at `timeout` and yielded at
    /// `now` (late).
    fn next_timeout(self, timeout: Instant, now: Instant, period: Duration) -> Instant {
        match self {
            MissedTickBehavior::Burst => timeout + period,
            MissedTickBehavior::Delay => now + period,
            MissedTickBehavior::Skip => {
                let late = (now - timeout).as_nanos() % period.as_nanos();
                // `late < period`, which is a `Duration`, so it fits in u64.
                now + period - Duration::from_nanos(late as u64)
            }
        }
    }
}

/// Ticks at a fixed period; see [`interval`] and [`interval_at`].
///
/// Ticks are never early; a late tick is handled per
/// [`MissedTickBehavior`].
pub struct Interval {
    delay: Sleep,
    period: Duration,
    missed_tick_behavior: MissedTickBehavior,
}

impl Interval {
    /// Completes at the next tick, returning the instant it was due at.
    ///
    /// Cancel-safe: dropping the future before it completes loses no tick.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick; returns the instant it was due at.
    ///
    /// When `Pending`, the waker of `cx` is woken at the tick (only the last
    /// polled waker is).
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if self.delay.poll_elapsed(cx).is_pending() {
            return Poll::Pending;
        }
        let timeout = self.delay.deadline();
        let now = self.now();
        let next = if now > timeout + MISSED_SLACK {
            self.missed_tick_behavior
                .next_timeout(timeout, now, self.period)
        } else {
            timeout
                .checked_add(self.period)
                .unwrap_or_else(|| timeout.far_future_from())
        };
        Pin::new(&mut self.delay).reset(next);
        Poll::Ready(timeout)
    }

    /// Restarts the schedule: the next tick is one `period` from now.
    pub fn reset(&mut self) {
        self.reset_at(self.now() + self.period);
    }

    /// Makes the next tick complete immediately, the schedule continuing from
    /// now.
    pub fn reset_immediately(&mut self) {
        self.reset_at(self.now());
    }

    /// Makes the next tick due `after` from now.
    pub fn reset_after(&mut self, after: Duration) {
        self.reset_at(self.now() + after);
    }

    /// Makes the next tick due at `deadline`.
    pub fn reset_at(&mut self, deadline: Instant) {
        Pin::new(&mut self.delay).reset(deadline);
    }

    /// The current time of the clock this interval runs on.
    fn now(&self) -> Instant {
        self.delay.clock_now()
    }

    /// How missed ticks are handled.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// Sets how missed ticks are handled.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }

    /// The period between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }
}

impl fmt::Debug for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interval")
            .field("next", &self.delay.deadline())
            .field("period", &self.period)
            .field("missed_tick_behavior", &self.missed_tick_behavior)
            .finish()
    }
}
