//! The open-loop arrival schedule: every request's arrival time, fixed
//! before the run starts.
//!
//! Arrivals are a Poisson process (exponential gaps) whose rate is constant
//! within each [`Phase`]. The gaps come from a seeded splitmix64 generator,
//! so a scenario's schedule is a pure function of its phases and seed and
//! both runtimes are offered exactly the same requests at exactly the same
//! offsets. Because a Poisson process is memoryless, starting the next
//! phase's gaps afresh at the phase boundary is the same process as a
//! piecewise-constant rate.

use std::time::Duration;

/// A stretch of the schedule with one arrival rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Phase {
    /// How long the phase lasts.
    pub duration: Duration,
    /// Mean arrivals per second (0 for a silent phase).
    pub rate_per_s: f64,
}

/// splitmix64: a tiny, well-mixed 64-bit generator; enough for gaps.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in (0, 1]: never 0, so its logarithm is finite.
    pub fn next_open01(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
}

/// The arrival offsets, in ns from the start of the schedule, ascending.
///
/// Each phase draws exponential gaps of mean `1 / rate_per_s` from its own
/// start until its end; arrivals past the end of a phase are dropped and
/// the next phase starts at its boundary.
///
/// # Panics
///
/// If a rate is negative or not finite (a bug in the scenario table).
pub fn poisson_arrivals(phases: &[Phase], seed: u64) -> Vec<u64> {
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::new();
    let mut phase_start = 0.0_f64;
    for phase in phases {
        assert!(
            phase.rate_per_s.is_finite() && phase.rate_per_s >= 0.0,
            "phase rate {} is not a non-negative number",
            phase.rate_per_s
        );
        let end = phase_start + phase.duration.as_nanos() as f64;
        if phase.rate_per_s > 0.0 {
            let mean_gap_ns = 1e9 / phase.rate_per_s;
            let mut t = phase_start;
            loop {
                t += -rng.next_open01().ln() * mean_gap_ns;
                if t >= end {
                    break;
                }
                out.push(t as u64);
            }
        }
        phase_start = end;
    }
    out
}

/// The index of the first arrival at or after `offset_ns` (the length of
/// `arrivals` if there is none): where a measurement window starts.
pub fn first_at_or_after(arrivals: &[u64], offset_ns: u64) -> usize {
    arrivals.partition_point(|&t| t < offset_ns)
}

/// Total length of `phases`.
pub fn total(phases: &[Phase]) -> Duration {
    phases.iter().map(|p| p.duration).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn phase(secs: u64, rate: f64) -> Phase {
        Phase {
            duration: SEC * secs as u32,
            rate_per_s: rate,
        }
    }

    #[test]
    fn splitmix_matches_its_reference_values() {
        // First outputs for seed 0 of the reference splitmix64.
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let mut r = SplitMix64::new(7);
        for _ in 0..10_000 {
            let u = r.next_open01();
            assert!(u > 0.0 && u <= 1.0, "{u}");
        }
    }

    #[test]
    fn same_seed_same_schedule_other_seed_other_schedule() {
        let phases = [phase(1, 5_000.0)];
        let a = poisson_arrivals(&phases, 42);
        assert_eq!(a, poisson_arrivals(&phases, 42));
        assert_ne!(a, poisson_arrivals(&phases, 43));
    }

    #[test]
    fn arrivals_ascend_and_stay_inside_the_schedule() {
        let phases = [phase(2, 6_000.0), phase(3, 14_000.0)];
        let a = poisson_arrivals(&phases, 1);
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
        assert!(*a.last().unwrap() < 5 * 1_000_000_000);
    }

    #[test]
    fn each_phase_gets_its_rate() {
        // Deterministic for the fixed seed; the bounds (±3%, about 5
        // standard deviations at these counts) only guard against a wrong
        // mean, e.g. a gap in µs instead of ns.
        let phases = [phase(5, 6_000.0), phase(10, 14_000.0)];
        let a = poisson_arrivals(&phases, 0x5EED);
        let split = first_at_or_after(&a, 5_000_000_000);
        let (first, second) = (split as f64, (a.len() - split) as f64);
        assert!((first / 30_000.0 - 1.0).abs() < 0.03, "{first}");
        assert!((second / 140_000.0 - 1.0).abs() < 0.03, "{second}");
    }

    #[test]
    fn gaps_are_exponential_not_even() {
        // An exponential's standard deviation equals its mean; evenly spaced
        // arrivals would have none.
        let a = poisson_arrivals(&[phase(10, 11_000.0)], 9);
        let gaps: Vec<f64> = a.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        assert!((mean / (1e9 / 11_000.0) - 1.0).abs() < 0.02, "{mean}");
        assert!(
            (var.sqrt() / mean - 1.0).abs() < 0.05,
            "{}",
            var.sqrt() / mean
        );
    }

    #[test]
    fn silent_phase_shifts_the_next_one() {
        let a = poisson_arrivals(&[phase(1, 0.0), phase(1, 1_000.0)], 3);
        assert!(!a.is_empty());
        assert!(a[0] >= 1_000_000_000, "{}", a[0]);
        assert!(poisson_arrivals(&[], 3).is_empty());
    }

    #[test]
    fn window_start_index() {
        let a = [10, 20, 20, 30];
        assert_eq!(first_at_or_after(&a, 0), 0);
        assert_eq!(first_at_or_after(&a, 20), 1);
        assert_eq!(first_at_or_after(&a, 21), 3);
        assert_eq!(first_at_or_after(&a, 31), 4);
        assert_eq!(total(&[phase(5, 1.0), phase(10, 1.0)]), SEC * 15);
    }
}
