//! A calibrated CPU burner: a fixed amount of work that takes about a given
//! time on an undisturbed core.
//!
//! The `qos` benchmark's Batch tasks burn ~100 µs of CPU per poll. Sleeping
//! or spinning until a deadline would not do: a spin-until-deadline poll that
//! is preempted ends on time having done less work, and the Batch throughput
//! would stop measuring the CPU a runtime actually gave its Batch tasks. So
//! a poll runs a fixed number of iterations of a serial dependency chain
//! (xorshift64, which the compiler can neither vectorise nor fold), and that
//! number is calibrated once per process, before any runtime starts, and
//! shared by both runtimes.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Any non-zero seed works for xorshift; this one is fixed so `burn` is a pure
/// function of its argument.
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// A probe must take at least this long before it is trusted for scaling.
const MIN_PROBE: Duration = Duration::from_millis(2);

/// Timed repetitions of the final probe; the fastest is kept.
const PROBE_RUNS: usize = 7;

/// Runs `iters` xorshift64 steps and returns the final state.
///
/// Each step depends on the previous one, so the time is linear in `iters`
/// and the loop cannot be shortened by the optimiser.
pub fn burn(iters: u64) -> u64 {
    let mut x = SEED;
    for _ in 0..black_box(iters) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    black_box(x)
}

/// The iteration count that takes `target`, given that `probe_iters`
/// iterations took `probe_elapsed`. Rounded to the nearest integer, at least
/// 1; a zero `probe_elapsed` (a clock too coarse to see the probe) keeps
/// `probe_iters`.
pub fn iterations_for(target: Duration, probe_iters: u64, probe_elapsed: Duration) -> u64 {
    let elapsed = probe_elapsed.as_nanos();
    if elapsed == 0 {
        return probe_iters.max(1);
    }
    let scaled = u128::from(probe_iters)
        .saturating_mul(target.as_nanos())
        .saturating_add(elapsed / 2)
        / elapsed;
    u64::try_from(scaled).unwrap_or(u64::MAX).max(1)
}

/// A fixed amount of CPU work, sized by [`Spin::calibrate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spin {
    iters: u64,
}

impl Spin {
    /// A spin of exactly `iters` iterations (at least 1).
    pub fn with_iterations(iters: u64) -> Spin {
        Spin {
            iters: iters.max(1),
        }
    }

    /// Measures this thread's speed and returns the spin that takes about
    /// `target` on an undisturbed core.
    ///
    /// The probe doubles until one run takes at least 2 ms (so timer
    /// resolution does not matter), then the fastest of 7 runs of that size is
    /// scaled to `target`: the fastest run is the one least disturbed by
    /// preemption, so a disturbed poll takes longer than `target`, never less
    /// work.
    pub fn calibrate(target: Duration) -> Spin {
        let mut probe: u64 = 1 << 10;
        while time(probe) < MIN_PROBE && probe < 1 << 40 {
            probe *= 2;
        }
        let best = (0..PROBE_RUNS)
            .map(|_| time(probe))
            .min()
            .expect("PROBE_RUNS > 0");
        Spin::with_iterations(iterations_for(target, probe, best))
    }

    /// The iteration count of one [`run`](Self::run).
    pub fn iterations(self) -> u64 {
        self.iters
    }

    /// Burns the CPU once; returns the burner's result so the caller can
    /// `black_box` it.
    pub fn run(self) -> u64 {
        burn(self.iters)
    }
}

fn time(iters: u64) -> Duration {
    let start = Instant::now();
    black_box(burn(iters));
    start.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burn_is_a_pure_function_of_the_count() {
        assert_eq!(burn(0), SEED);
        assert_eq!(burn(1000), burn(1000));
        assert_ne!(burn(1000), burn(1001));
        // One step by hand: the loop really runs the xorshift.
        let mut x = SEED;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        assert_eq!(burn(1), x);
    }

    #[test]
    fn iterations_scale_linearly_and_round_to_nearest() {
        let us = Duration::from_micros;
        // 1,000 iterations in 10 µs: 10,000 in 100 µs.
        assert_eq!(iterations_for(us(100), 1_000, us(10)), 10_000);
        // 3 iterations in 2 ns → 1 ns target: 1.5 rounds up to 2.
        assert_eq!(
            iterations_for(Duration::from_nanos(1), 3, Duration::from_nanos(2)),
            2
        );
        // Never zero, even for a target far below one iteration.
        assert_eq!(
            iterations_for(Duration::from_nanos(1), 1, Duration::from_secs(1)),
            1
        );
        // A probe the clock could not see keeps its count.
        assert_eq!(iterations_for(us(100), 4_096, Duration::ZERO), 4_096);
        // No overflow for huge targets.
        assert_eq!(
            iterations_for(Duration::MAX, u64::MAX, Duration::from_nanos(1)),
            u64::MAX
        );
    }

    #[test]
    fn spin_runs_its_iteration_count() {
        assert_eq!(Spin::with_iterations(0).iterations(), 1);
        let s = Spin::with_iterations(500);
        assert_eq!(s.iterations(), 500);
        assert_eq!(s.run(), burn(500));
    }

    #[test]
    fn calibrate_returns_a_usable_spin() {
        // No timing assertion (a loaded machine changes the figure); only
        // that calibration terminates with a positive count.
        assert!(Spin::calibrate(Duration::from_micros(100)).iterations() >= 1);
    }
}
