//! The worker-count rule: how many workers a runtime starts with, given the
//! CPU quota, the CPUs it may run on, and any explicit count.
//!
//! ```text
//! explicit count (Builder::worker_threads, else PERF_RUNTIME_WORKER_THREADS)  → that count
//! CPU quota q                                                                 → min(allowed CPUs, max(1, round(q)))
//! no quota                                                                    → allowed CPUs
//! ```
//!
//! Why `Ceil` is the default: a 1.5-CPU quota floored to one worker leaves a
//! third of the container's CPU unused and queues every burst behind one
//! thread — exactly the tail-latency loss the quota was bought to avoid.
//! Go 1.25 (`GOMAXPROCS` from the cgroup limit) and the JVM
//! (`availableProcessors`) both round up. The risk of rounding up is that
//! two busy workers on a 1.5-CPU quota exhaust it before each period ends
//! and get throttled for the rest of it; the throttling step-down
//! controller ([`super::ThrottleController`]) watches `nr_throttled` and
//! takes a worker out of service while that happens. `Floor` is what
//! `std::thread::available_parallelism` (so tokio's default) and uber's
//! automaxprocs do; it never over-subscribes the quota but wastes the
//! fraction. `Nearest` is in between.
//!
//! Unlike Go, the minimum is 1, not 2: two busy workers in a 0.5-CPU
//! container would be throttled for half of every period.
//!
//! An explicit count is taken as given, even above the cpuset: the user
//! may know better (I/O-bound tasks); the reason says so. Rejecting counts
//! that cannot be met (more workers than CPUs with pinning on) is the
//! builder's job, which knows whether pinning is on.

use std::fmt;

/// How a fractional CPU quota becomes a whole number of workers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// Round up: 1.5 → 2, 1.01 → 2. The default (as Go 1.25 and the JVM).
    #[default]
    Ceil,
    /// Round down: 1.5 → 1 (as `available_parallelism` and automaxprocs).
    Floor,
    /// Round to the nearest, halves up: 1.5 → 2, 1.49 → 1.
    Nearest,
}

impl Rounding {
    /// `quota` rounded this way, at least 1, saturating at `usize::MAX`.
    /// A non-finite or non-positive `quota` gives 1.
    pub fn apply(self, quota: f64) -> usize {
        if !quota.is_finite() || quota <= 0.0 {
            return 1;
        }
        let rounded = match self {
            Rounding::Ceil => quota.ceil(),
            Rounding::Floor => quota.floor(),
            Rounding::Nearest => quota.round(),
        };
        // `as` saturates for values above usize::MAX.
        (rounded as usize).max(1)
    }

    fn describe(self) -> &'static str {
        match self {
            Rounding::Ceil => "rounded up (Ceil)",
            Rounding::Floor => "rounded down (Floor)",
            Rounding::Nearest => "rounded to nearest (Nearest)",
        }
    }
}

/// A worker count set by the user rather than detected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WorkerOverride {
    /// `Builder::worker_threads(n)`.
    Builder(usize),
    /// The `PERF_RUNTIME_WORKER_THREADS` environment variable, already
    /// parsed and checked to be at least 1 by the builder.
    Env(usize),
}

/// The worker count the policy chose, and why in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerDecision {
    /// The number of workers; at least 1.
    pub workers: usize,
    /// One line saying how the number was reached, e.g. `"1.5-CPU quota
    /// rounded up (Ceil) = 2; cpuset allows 2"`.
    pub reason: String,
}

impl fmt::Display for WorkerDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} workers: {}", self.workers, self.reason)
    }
}

/// Applies the worker-count rule (see the module docs).
///
/// - `quota`: CPUs of quota ([`super::Limits::cpu_quota`]); `None`, or a
///   value that is not a positive finite number, means no quota.
/// - `allowed_cpus`: how many CPUs the process may run on (its cpuset);
///   0 is treated as 1.
/// - `explicit`: a count the user set; it wins over detection, even above
///   `allowed_cpus` (the reason then says so).
pub fn decide_workers(
    quota: Option<f64>,
    allowed_cpus: usize,
    rounding: Rounding,
    explicit: Option<WorkerOverride>,
) -> WorkerDecision {
    let allowed = allowed_cpus.max(1);
    if let Some(over) = explicit {
        let (n, what) = match over {
            WorkerOverride::Builder(n) => (n.max(1), format!("Builder::worker_threads({n})")),
            WorkerOverride::Env(n) => (n.max(1), format!("PERF_RUNTIME_WORKER_THREADS={n}")),
        };
        let mut reason = format!("{what} set explicitly; detection not used");
        if n > allowed {
            reason.push_str(&format!(
                " (more workers than the {allowed} CPUs the cpuset allows)"
            ));
        }
        return WorkerDecision { workers: n, reason };
    }
    match quota.filter(|q| q.is_finite() && *q > 0.0) {
        Some(q) => {
            let rounded = rounding.apply(q);
            let workers = rounded.min(allowed);
            let mut reason = format!(
                "{}-CPU quota {} = {rounded}; cpuset allows {allowed}",
                Quota(q),
                rounding.describe()
            );
            if rounded > allowed {
                reason.push_str(&format!(", so {workers}"));
            }
            WorkerDecision { workers, reason }
        }
        None => {
            let mut reason = format!("no CPU quota; cpuset allows {allowed}");
            if let Some(q) = quota {
                reason = format!("CPU quota {q} is not a positive number, ignored; {reason}");
            }
            WorkerDecision {
                workers: allowed,
                reason,
            }
        }
    }
}

/// Prints a quota with at most three decimals and no trailing zeros beyond
/// the first (1.5, 2.0, 0.333).
pub(super) struct Quota(pub(super) f64);

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = format!("{:.3}", self.0);
        let text = text.trim_end_matches('0');
        if text.ends_with('.') {
            write!(f, "{text}0")
        } else {
            f.write_str(text)
        }
    }
}
