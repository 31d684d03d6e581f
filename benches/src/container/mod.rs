//! The `container` benchmark: request latency of perf_runtime and tokio,
//! each in its own child process inside its own real cgroup, under a CPU
//! quota that is fractional (scenario 1) or raised while the service runs
//! (scenario 2).
//!
//! Both children serve the same open-loop workload: arrival times are fixed
//! in advance ([`schedule`], a seeded Poisson process), a generator thread
//! inside the child spawns each request into the runtime at its time, and a
//! request burns ~100 µs of calibrated CPU ([`crate::spin`]). Latency runs
//! from the *scheduled* arrival to the request's completion, so time spent
//! queued behind earlier requests — or behind a late generator — counts.
//!
//! What lives where: `schedule.rs` — the arrival times; `cgroup.rs` — the
//! real cgroups (find, make, configure, join, read `cpu.stat`, remove);
//! `child.rs` — the child process (join, build the runtime, serve, measure);
//! `parent.rs` — running the children one after the other, the quota
//! change, deadlines; `report.rs` — the child's result line, the table and
//! the JSON lines.

pub mod cgroup;
mod child;
mod parent;
pub mod report;
pub mod schedule;

use std::time::Duration;

pub use child::child_main;
pub use parent::{run, Failure, Options};

use schedule::Phase;

/// The hidden subcommand `compare` re-executes itself with for one child.
pub const CHILD: &str = "__container-child";

/// CPU burnt by one request on an undisturbed core.
pub const WORK: Duration = Duration::from_micros(100);

/// The CFS period of every quota the benchmark sets.
pub const PERIOD_US: u64 = 100_000;

/// perf_runtime's `container_refresh` unless `--refresh-ms` says otherwise
/// (the runtime's default too; set explicitly so the report states it).
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(1);

/// Exit status when the machine cannot run the benchmark (not root, no
/// writable `cpu` controller, fewer than 2 CPUs): distinct from a failure.
pub const EXIT_UNAVAILABLE: u8 = 4;

/// Exit status when a child did not finish in time.
pub const EXIT_HUNG: u8 = 3;

/// The two scenarios of issue 4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// A 1.5-CPU quota on a 2-CPU cpuset, ~1.1 CPU of demand for 10 s.
    Fractional,
    /// A 1-CPU quota with ~0.6 CPU of demand for 5 s; then the quota is
    /// raised to 2 CPUs and demand to ~1.4 CPU for 10 s (measured).
    Resize,
}

impl Scenario {
    /// Both, in run order.
    pub const ALL: [Scenario; 2] = [Scenario::Fractional, Scenario::Resize];

    /// Name on the command line and in bench names.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Fractional => "fractional",
            Scenario::Resize => "resize",
        }
    }

    /// Looks a scenario up by [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Scenario> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The arrival phases: requests per second of [`WORK`] each, so 11,000/s
    /// is ~1.1 CPU of demand.
    pub fn phases(self) -> Vec<Phase> {
        let phase = |secs, rate_per_s| Phase {
            duration: Duration::from_secs(secs),
            rate_per_s,
        };
        match self {
            Scenario::Fractional => vec![phase(10, 11_000.0)],
            Scenario::Resize => vec![phase(5, 6_000.0), phase(10, 14_000.0)],
        }
    }

    /// Where the measured window starts, from the start of the schedule.
    pub fn measure_from(self) -> Duration {
        match self {
            Scenario::Fractional => Duration::ZERO,
            Scenario::Resize => Duration::from_secs(5),
        }
    }

    /// The quota the cgroup starts with, µs per [`PERIOD_US`].
    pub fn start_quota_us(self) -> u64 {
        match self {
            Scenario::Fractional => 150_000,
            Scenario::Resize => 100_000,
        }
    }

    /// When the parent changes the quota while the child runs, and to what.
    pub fn quota_change(self) -> Option<(Duration, u64)> {
        match self {
            Scenario::Fractional => None,
            Scenario::Resize => Some((Duration::from_secs(5), 200_000)),
        }
    }

    /// The schedule's seed: fixed, so every run offers the same requests.
    pub fn seed(self) -> u64 {
        match self {
            Scenario::Fractional => 0xC0_4741_4E45_5201,
            Scenario::Resize => 0xC0_4741_4E45_5202,
        }
    }

    /// The runtimes this scenario runs, in order.
    ///
    /// The resize has no [`Side::TokioSized`]: `worker_threads` is fixed at
    /// build, and sized by hand for the starting 1-CPU quota it is 1, what
    /// tokio picks by itself; no count set before the run follows the quota.
    pub fn sides(self) -> &'static [Side] {
        match self {
            Scenario::Fractional => &[Side::Perf, Side::PerfFloor, Side::Tokio, Side::TokioSized],
            Scenario::Resize => &[Side::Perf, Side::Tokio],
        }
    }

    /// The `worker_threads` a careful tokio user sets by hand for this
    /// scenario's quota: the starting quota rounded up (1.5 CPU → 2), at
    /// least 1.
    pub fn hand_sized_workers(self) -> usize {
        (self.start_quota_us().div_ceil(PERIOD_US) as usize).max(1)
    }

    /// The quota in CPUs as a human reads it: `1.5`, `1->2`.
    pub fn quota_label(self) -> String {
        let cpus = |us: u64| format!("{}", us as f64 / PERIOD_US as f64);
        match self.quota_change() {
            None => cpus(self.start_quota_us()),
            Some((_, to)) => format!("{}->{}", cpus(self.start_quota_us()), cpus(to)),
        }
    }

    /// The demand of the measured window, in CPUs (rate × [`WORK`]).
    pub fn measured_demand(self) -> f64 {
        let phases = self.phases();
        let mut at = Duration::ZERO;
        for p in &phases {
            if at >= self.measure_from() {
                return p.rate_per_s * WORK.as_secs_f64();
            }
            at += p.duration;
        }
        0.0
    }
}

/// A runtime configuration one child runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// perf_runtime auto-sized (`Rounding::Ceil`, the default).
    Perf,
    /// perf_runtime auto-sized with `Rounding::Floor`.
    PerfFloor,
    /// tokio as a tokio user gets it: `worker_threads` unset.
    Tokio,
    /// tokio with `worker_threads` set by hand to the quota rounded up
    /// ([`Scenario::hand_sized_workers`]), as a careful user sizes it.
    TokioSized,
}

impl Side {
    /// Name on the child's command line.
    pub fn name(self) -> &'static str {
        match self {
            Side::Perf => "perf",
            Side::PerfFloor => "perf_floor",
            Side::Tokio => "tokio",
            Side::TokioSized => "tokio_sized",
        }
    }

    /// A perf_runtime configuration (the others are tokio's).
    pub fn is_perf(self) -> bool {
        matches!(self, Side::Perf | Side::PerfFloor)
    }

    /// Looks a side up by [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Side> {
        [Side::Perf, Side::PerfFloor, Side::Tokio, Side::TokioSized]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_match_the_issue() {
        let f = Scenario::Fractional;
        assert_eq!(f.quota_label(), "1.5");
        assert!((f.measured_demand() - 1.1).abs() < 1e-9);
        assert_eq!(schedule::total(&f.phases()), Duration::from_secs(10));
        let r = Scenario::Resize;
        assert_eq!(r.quota_label(), "1->2");
        assert!((r.measured_demand() - 1.4).abs() < 1e-9);
        assert!((r.phases()[0].rate_per_s * WORK.as_secs_f64() - 0.6).abs() < 1e-9);
        assert_eq!(r.quota_change(), Some((r.measure_from(), 200_000)));
        assert_eq!(schedule::total(&r.phases()), Duration::from_secs(15));
        for s in Scenario::ALL {
            assert_eq!(Scenario::from_name(s.name()), Some(s));
            assert!(s.sides().contains(&Side::Tokio));
            for &side in s.sides() {
                assert_eq!(Side::from_name(side.name()), Some(side));
            }
        }
        // The hand-sized tokio arm: the fractional quota rounded up, and
        // only where a count fixed before the run can fit the quota.
        assert_eq!(f.hand_sized_workers(), 2);
        assert!(f.sides().contains(&Side::TokioSized));
        assert_eq!(r.hand_sized_workers(), 1);
        assert!(!r.sides().contains(&Side::TokioSized));
        assert!(Side::PerfFloor.is_perf() && !Side::TokioSized.is_perf());
        assert_eq!(Scenario::from_name("nope"), None);
    }
}
