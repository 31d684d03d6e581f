//! Timers: [`sleep`], [`timeout`], [`interval`], and the clock they read.
//!
//! A timer never fires early. It is due at the deadline the task asked for,
//! not at the next tick of a coarse wheel, and workers look for due timers
//! between polls (at every poll when polls are long, every few microseconds
//! of short ones), so timers stay on time while the workers are busy with
//! other tasks. A paused clock ([`pause`], [`advance`]) makes timer tests
//! instant and deterministic.
//!
//! # Examples
//! ```
//! use perf_runtime::time::{sleep, timeout, Duration};
//!
//! #[perf_runtime::main]
//! async fn main() {
//!     sleep(Duration::from_millis(5)).await;
//!     let res = timeout(Duration::from_millis(5), std::future::pending::<()>()).await;
//!     assert!(res.is_err());
//! }
//! ```

// Each worker keeps the timers its tasks start in its own hierarchical
// timer wheel (ticks of `Builder::timer_resolution`, 1 ms by default, for
// coarse placement; the timers of the next occupied tick wait in a heap by
// exact deadline), so starting and cancelling a timer contends with no
// other worker and allocates nothing. The scheduler drives them: every
// scheduling tick loads `next_wake` (one atomic load when no timer is
// pending) and, paced by `TimerPace` (a clock read costs up to a few
// hundred nanoseconds on a VM), reads the clock and fires its own wheel's
// due timers, and those of every other wheel that are a little overdue
// (their worker is in a long poll) or whose worker is parked, so timers
// fire on time even when no worker parks or their own worker is busy.

// What lives where (for contributors):
// - `clock.rs`: real or paused time; time ↔ nanoseconds since its origin.
// - `wheel.rs`: the wheel (6 levels × 64 slots) and its slab of entries
//   (each node is a whole timer entry: deadline, state, waker).
// - `handle.rs`: `TimeHandle`, the driver the scheduler calls: one wheel
//   per worker ("shard"), the `next_wake` bound across them, and the
//   registration/cancellation used by `Sleep`.
// - `slack.rs`: lowering the kernel's timer slack on runtime threads.
// - `pace.rs`: how often a busy worker reads the clock for due timers.
// - `instant.rs`, `sleep.rs`, `timeout.rs`, `interval.rs`, `error.rs`: the
//   public API, in tokio's names and shapes.
// - `tests.rs` (driver and public API on a paused clock, driven by hand;
//   `test_harness.rs` enters a driver),
//   `wheel_tests.rs` (wheel properties), `loom_tests.rs` (owner/driver
//   races, under `--cfg perf_runtime_loom`).
//
// Invariants:
// - A timer never fires early, and is not rounded up to a tick: an entry
//   fires only when the clock (in nanoseconds) has reached its exact
//   deadline; the tick only decides where the wheel keeps it until then.
// - A shard's wheel, its slab and every entry's state are guarded by the
//   shard's mutex. A `Sleep` owns its slab node from registration to drop;
//   firing only marks the node fired and takes its waker. Shutdown frees
//   every node and marks the shard shut down, which every later access
//   checks first.
// - Wakers are woken and dropped with every lock released.
// - `next_wake` (an atomic) is a lower bound of every shard's next
//   expiration; the unpark callback runs when a registration lowers it.
//   The protocol and its no-late-timer argument are in `handle.rs`.
// - Wheel invariants (levels, cascading, the span) are in `wheel.rs`.

mod clock;
pub mod error;
mod handle;
mod instant;
mod interval;
mod pace;
mod slack;
mod sleep;
mod timeout;
mod wheel;

#[cfg(all(test, perf_runtime_loom))]
mod loom_tests;
#[cfg(all(test, not(perf_runtime_loom)))]
mod test_harness;
#[cfg(all(test, not(perf_runtime_loom)))]
mod tests;
#[cfg(all(test, not(perf_runtime_loom)))]
mod wheel_tests;

pub(crate) use handle::{leave_worker_shard, TimeHandle};
pub use instant::Instant;
pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub(crate) use pace::TimerPace;
pub(crate) use slack::{
    before_worker_wait as worker_wait_slack, init_worker as init_worker_timer_slack,
    leave_worker as leave_worker_timer_slack,
};
pub use sleep::{sleep, sleep_until, Sleep};
pub use std::time::Duration;
pub use timeout::{timeout, timeout_at, Timeout};

/// Pauses the current runtime's clock.
///
/// While paused, [`Instant::now`] stands still and, whenever the runtime has
/// nothing to run, the clock jumps to the next timer's deadline, so tests of
/// timeouts and intervals run instantly and deterministically. Move the clock
/// by hand with [`advance`]; restart it with [`resume`].
///
/// # Panics
/// Outside a runtime; if the runtime is not current_thread; if the clock is
/// already paused.
///
/// # Examples
/// ```
/// use perf_runtime::time::{self, Duration, Instant};
///
/// #[perf_runtime::main(flavor = "current_thread")]
/// async fn main() {
///     time::pause();
///     let start = Instant::now();
///     time::sleep(Duration::from_secs(3600)).await; // returns at once
///     assert!(start.elapsed() >= Duration::from_secs(3600));
/// }
/// ```
#[track_caller]
pub fn pause() {
    let handle = sleep::current_handle();
    assert!(
        handle.clock().is_pausable(),
        "time::pause() requires the current_thread runtime; build it with \
         runtime::Builder::new_current_thread()"
    );
    handle.clock().pause();
}

/// Lets a paused clock run again, from the time it was paused at (plus any
/// [`advance`]).
///
/// # Panics
/// Outside a runtime, or if the clock is not paused.
///
/// # Examples
/// ```
/// use perf_runtime::time;
///
/// #[perf_runtime::main(flavor = "current_thread")]
/// async fn main() {
///     time::pause();
///     time::resume();
/// }
/// ```
#[track_caller]
pub fn resume() {
    sleep::current_handle().clock().resume();
}

/// Moves a paused clock forward by `duration`, fires the timers that became
/// due, and yields once so the tasks they woke can run.
///
/// # Panics
/// Outside a runtime, or if the clock is not paused.
///
/// # Examples
/// ```
/// use perf_runtime::time::{self, Duration, Instant};
///
/// #[perf_runtime::main(flavor = "current_thread")]
/// async fn main() {
///     time::pause();
///     let start = Instant::now();
///     time::advance(Duration::from_secs(5)).await;
///     assert_eq!(start.elapsed(), Duration::from_secs(5));
/// }
/// ```
pub async fn advance(duration: Duration) {
    let handle = sleep::current_handle();
    handle.clock().advance(duration);
    handle.process();
    crate::task::yield_now().await;
}
