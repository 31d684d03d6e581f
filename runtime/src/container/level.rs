//! Memory pressure levels: how close the container is to its memory limit,
//! in three steps a service can act on (shed load, shrink caches, refuse
//! new work).
//!
//! Two signals, the worse one wins:
//!
//! - **Working set / limit.** The working set is usage minus inactive file
//!   cache (what the kubelet and cAdvisor evict on), because the kernel
//!   reclaims that cache before it OOM-kills; raw usage near the limit is
//!   normal for a service that reads files. Moderate at 80 %, Critical at
//!   95 %: at 95 % one allocation burst can reach the limit, and the
//!   kernel's own reclaim starts in earnest close to it.
//! - **Memory PSI, 10-second average.** `some` ≥ 10 % (tasks stalled on
//!   reclaim or refaults a tenth of the time) is Moderate; `full` ≥ 10 %
//!   (every task stalled at once a tenth of the time: the service made no
//!   progress) is Critical. PSI catches pressure that the ratio misses —
//!   no limit set, or a host short of memory — and its short window keeps
//!   the level from lagging the event.

use std::fmt;

use super::psi::Psi;

/// How hard the container is pressed for memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PressureLevel {
    /// Below every threshold.
    #[default]
    None,
    /// Worth shedding optional work: caches, prefetching, batch jobs.
    Moderate,
    /// Near the limit or stalling: refuse new work until it passes.
    Critical,
}

impl PressureLevel {
    /// `none`, `moderate` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            PressureLevel::None => "none",
            PressureLevel::Moderate => "moderate",
            PressureLevel::Critical => "critical",
        }
    }
}

impl fmt::Display for PressureLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The thresholds of [`memory_pressure_level`]; [`Default`] gives the
/// documented ones (see the module docs for why).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PressureThresholds {
    /// Working set / limit at or above which the level is Moderate (0.80).
    pub moderate_usage: f64,
    /// Working set / limit at or above which the level is Critical (0.95).
    pub critical_usage: f64,
    /// Memory PSI `some avg10` (percent) at or above which the level is
    /// Moderate (10.0).
    pub moderate_some_avg10: f64,
    /// Memory PSI `full avg10` (percent) at or above which the level is
    /// Critical (10.0).
    pub critical_full_avg10: f64,
}

impl PressureThresholds {
    /// The documented defaults.
    pub const DEFAULT: PressureThresholds = PressureThresholds {
        moderate_usage: 0.80,
        critical_usage: 0.95,
        moderate_some_avg10: 10.0,
        critical_full_avg10: 10.0,
    };
}

impl Default for PressureThresholds {
    fn default() -> PressureThresholds {
        PressureThresholds::DEFAULT
    }
}

/// The memory pressure level from the working set, the limit (`None`: no
/// limit, so only PSI counts; `Some(0)` is treated the same, as no usable
/// limit) and the memory PSI (`None`: not available, so only the ratio
/// counts).
pub fn memory_pressure_level(
    working_set: u64,
    limit: Option<u64>,
    memory_psi: Option<&Psi>,
    thresholds: &PressureThresholds,
) -> PressureLevel {
    let by_usage = match limit.filter(|&l| l > 0) {
        Some(limit) => {
            let ratio = working_set as f64 / limit as f64;
            if ratio >= thresholds.critical_usage {
                PressureLevel::Critical
            } else if ratio >= thresholds.moderate_usage {
                PressureLevel::Moderate
            } else {
                PressureLevel::None
            }
        }
        None => PressureLevel::None,
    };
    let by_psi = match memory_psi {
        Some(psi) => {
            let full = psi.full.map_or(0.0, |f| f.avg10);
            if full >= thresholds.critical_full_avg10 {
                PressureLevel::Critical
            } else if psi.some.avg10 >= thresholds.moderate_some_avg10 {
                PressureLevel::Moderate
            } else {
                PressureLevel::None
            }
        }
        None => PressureLevel::None,
    };
    by_usage.max(by_psi)
}
