//! The container is the machine: CPU quota, cpuset, memory limit and usage,
//! throttling counters, pressure (PSI) and the Kubernetes QoS class, read
//! from cgroup v1, v2 or hybrid hosts; and the pure rules built on them —
//! the worker count, the memory pressure level, the throttling step-down.
//!
//! The runtime reads them at build and sizes its worker pool from the real
//! CPU quota (and re-reads them while it runs: see
//! `Builder::container_refresh`). A program can read them too:
//!
//! ```
//! use perf_runtime::container::{Limits, Rounding};
//!
//! let limits = Limits::detect();
//! println!("{limits}"); // quota, cpuset, memory, pressure, and their sources
//! // The worker count the runtime would pick (no explicit override).
//! let decision = limits.workers(Rounding::default(), None);
//! println!("{decision:?}");
//! ```
//!
//! Detection never fails and never panics. Whatever cannot be read — a
//! missing file, a permission error, garbled contents, a quota or period of
//! 0, a cpuset naming offline CPUs — is skipped in favour of the next-best
//! source, and [`Sources::fallbacks`] says what was skipped and why.
//!
//! # The walk
//!
//! A limit set on any ancestor cgroup binds the process as much as one on
//! its own cgroup (Kubernetes sets the pod's limit on the pod cgroup, above
//! the container's). So each limit is read from the process's cgroup and
//! every parent up to the mount root, and the tightest wins; the usage and
//! throttling counters are read where that tightest limit was found, since
//! that is the cgroup whose budget runs out.

// What lives where (for contributors):
//
// What lives where:
// - `mod.rs` — [`Limits`] (the detection result) and [`Sources`].
// - `cgroup.rs` — mountinfo and `/proc/self/cgroup`: which hierarchy
//   carries which controller, and where this process's directory is.
// - `detect/` — reading the files, tightest-limit walks, fallbacks
//   (`memory.rs`: the memory limit, usage and working set).
// - `psi.rs` — [`Psi`], [`Pressure`]. `k8s.rs` — [`K8sQos`].
// - `policy.rs` — the worker-count rule ([`decide_workers`]).
// - `level.rs` — [`PressureLevel`] and its thresholds.
// - `pressure_watch.rs` — [`PressureWatch`]: the level the runtime's
//   sizing monitor publishes, and waiting for it to change.
// - `throttle.rs` — [`Throttling`] and the [`ThrottleController`].
// - `display.rs` — the human and the one-line log forms of [`Limits`].
// - `tests/` — fixture trees and the pure rules.
//

mod cgroup;
mod detect;
mod display;
mod k8s;
mod level;
mod policy;
mod pressure_watch;
mod psi;
#[cfg(test)]
mod tests;
mod throttle;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::topology::CpuSet;

pub use cgroup::CgroupMode;
pub use display::LogLine;
pub use k8s::K8sQos;
pub use level::{memory_pressure_level, PressureLevel, PressureThresholds};
pub use policy::{decide_workers, Rounding, WorkerDecision, WorkerOverride};
pub(crate) use pressure_watch::PressureCell;
pub use pressure_watch::{PressureWatch, PressureWatchClosed};
pub use psi::{Pressure, Psi, PsiLine};
pub use throttle::{Step, ThrottleConfig, ThrottleController, Throttling};

/// What the container allows this process, as detected at one moment.
///
/// Made by [`Limits::detect`] (the real machine) or [`Limits::detect_at`]
/// (a tree of files under another root, for tests and tools).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Limits {
    /// The tightest CFS quota on the way from this process's cgroup to the
    /// mount root, in CPUs (`quota / period`: 150000/100000 is 1.5); `None`
    /// if no cgroup sets one.
    pub cpu_quota: Option<f64>,
    /// The CPUs this process may run on: its affinity mask, the cgroup
    /// cpuset and the online CPUs, intersected. Never empty.
    pub cpuset: CpuSet,
    /// The tightest memory limit in bytes; `None` if none is set (`max`, or
    /// v1's "unlimited" value).
    pub memory_limit: Option<u64>,
    /// Memory in use, in bytes, by the cgroup whose limit is
    /// [`memory_limit`](Self::memory_limit) (this process's cgroup when there
    /// is no limit; the machine's `MemTotal - MemAvailable` when no cgroup
    /// usage is readable; 0 when nothing is — [`source`](Self::source) then
    /// says why).
    pub memory_usage: u64,
    /// [`memory_usage`](Self::memory_usage) less the inactive file cache
    /// (`inactive_file` of `memory.stat`), which the kernel reclaims before
    /// it would OOM-kill; what [`PressureLevel`] is computed from.
    pub memory_working_set: u64,
    /// The throttling counters of the cgroup whose CPU quota is
    /// [`cpu_quota`](Self::cpu_quota); `None` without a quota.
    pub throttling: Option<Throttling>,
    /// CPU and memory pressure of the machine and of the cgroup.
    pub pressure: Pressure,
    /// The Kubernetes QoS class of the pod, if this is a pod.
    pub k8s_qos: Option<K8sQos>,
    /// Which files were read, and why better sources were not used.
    pub source: Sources,
}

/// Where a [`Limits`] came from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sources {
    /// Which cgroup hierarchies the host has.
    pub mode: CgroupMode,
    /// Every file that was read, in order.
    pub files: Vec<PathBuf>,
    /// Why a file or value was skipped and what was used instead, one
    /// sentence each naming the file. Empty when everything read cleanly.
    pub fallbacks: Vec<String>,
    /// The cgroup directory the CPU quota came from.
    pub cpu_dir: Option<PathBuf>,
    /// The cgroup directory the memory limit came from.
    pub memory_dir: Option<PathBuf>,
    /// The `cpu.stat` the throttling counters came from; re-read it with
    /// [`Limits::read_throttling`].
    pub cpu_stat: Option<PathBuf>,
}

impl Default for Sources {
    fn default() -> Sources {
        Sources {
            mode: CgroupMode::Absent,
            files: Vec::new(),
            fallbacks: Vec::new(),
            cpu_dir: None,
            memory_dir: None,
            cpu_stat: None,
        }
    }
}

impl Limits {
    /// Reads the limits of this process from `/proc` and the cgroup file
    /// systems, and its CPU affinity from `sched_getaffinity(2)` (calling
    /// thread). Never fails; see [`Sources::fallbacks`].
    pub fn detect() -> Limits {
        detect::Probe::new(Path::new("/")).detect(Some(crate::topology::affinity()))
    }

    /// Reads the limits from a tree under `root`: `root/proc/self/cgroup`,
    /// `root/proc/self/mountinfo` (whose mount points are looked up under
    /// `root`), `root/proc/self/status` for the affinity mask,
    /// `root/proc/self/oom_score_adj`, `root/proc/pressure/*`,
    /// `root/proc/meminfo` and `root/sys/devices/system/cpu/online`.
    /// `detect_at(Path::new("/"))` is [`detect`](Self::detect) with the
    /// affinity mask of the process's main thread instead of the calling
    /// thread's.
    pub fn detect_at(root: &Path) -> Limits {
        detect::Probe::new(root).detect(None)
    }

    /// The default worker count for these limits (see [`decide_workers`]).
    pub fn workers(&self, rounding: Rounding, explicit: Option<WorkerOverride>) -> WorkerDecision {
        decide_workers(self.cpu_quota, self.cpuset.len(), rounding, explicit)
    }

    /// The memory pressure level with the default thresholds, from the
    /// working set, the limit and the cgroup's memory PSI (the machine's
    /// where the cgroup has none).
    pub fn memory_pressure(&self) -> PressureLevel {
        memory_pressure_level(
            self.memory_working_set,
            self.memory_limit,
            self.pressure.memory(),
            &PressureThresholds::DEFAULT,
        )
    }

    /// Re-reads the throttling counters from the `cpu.stat` detection used,
    /// for a monitor that samples them more often than it re-detects.
    ///
    /// # Errors
    ///
    /// `NotFound` if detection found no `cpu.stat` (no CPU quota); the
    /// read error; `InvalidData` naming the file if it no longer parses.
    pub fn read_throttling(&self) -> io::Result<Throttling> {
        let Some(path) = &self.source.cpu_stat else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no cpu.stat was found at detection (no CPU quota applies)",
            ));
        };
        let text = fs::read_to_string(path)?;
        Throttling::parse_cpu_stat(&text).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })
    }

    /// The stable one-line form for the start-up log (see [`LogLine`]).
    pub fn log_line(&self) -> LogLine<'_> {
        LogLine(self)
    }
}
