//! How [`Limits`] prints: several lines for a person, one stable line for
//! the start-up log.

use std::fmt;

use super::policy::Quota;
use super::psi::Psi;
use super::Limits;

/// Several lines, one per resource, then the fallbacks:
///
/// ```text
/// cgroup: v2
/// cpu quota: 1.5 CPUs (from /sys/fs/cgroup/kubepods.slice/...)
/// cpuset: 0-3 (4 CPUs)
/// memory: 412.0 MiB used (398.2 MiB working set) of 1.0 GiB limit
/// throttling: 12 of 4810 periods throttled, 0.315 s held back
/// pressure: cpu some 1.20% (cgroup); memory some 0.00%, full 0.00% (cgroup)
/// k8s QoS: Burstable
/// fallback: ...
/// ```
impl fmt::Display for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "cgroup: {}", self.source.mode)?;
        match (self.cpu_quota, &self.source.cpu_dir) {
            (Some(q), Some(dir)) => {
                writeln!(f, "cpu quota: {} CPUs (from {})", Quota(q), dir.display())?
            }
            (Some(q), None) => writeln!(f, "cpu quota: {} CPUs", Quota(q))?,
            (None, _) => writeln!(f, "cpu quota: none")?,
        }
        writeln!(f, "cpuset: {} ({} CPUs)", self.cpuset, self.cpuset.len())?;
        write!(
            f,
            "memory: {} used ({} working set)",
            Bytes(self.memory_usage),
            Bytes(self.memory_working_set)
        )?;
        match self.memory_limit {
            Some(limit) => writeln!(f, " of {} limit", Bytes(limit))?,
            None => writeln!(f, ", no limit")?,
        }
        match &self.throttling {
            Some(t) => writeln!(
                f,
                "throttling: {} of {} periods throttled, {:.3} s held back",
                t.nr_throttled,
                t.nr_periods,
                t.throttled_time.as_secs_f64()
            )?,
            None => writeln!(f, "throttling: not applicable (no quota)")?,
        }
        let p = &self.pressure;
        let scope = |cgroup: bool| if cgroup { "cgroup" } else { "system" };
        write!(f, "pressure: cpu ")?;
        match p.cpu() {
            Some(psi) => write!(
                f,
                "some {:.2}% ({})",
                psi.some.avg10,
                scope(p.cgroup_cpu.is_some())
            )?,
            None => write!(f, "unknown")?,
        }
        write!(f, "; memory ")?;
        match p.memory() {
            Some(psi) => writeln!(
                f,
                "some {:.2}%, full {:.2}% ({})",
                psi.some.avg10,
                full10(psi),
                scope(p.cgroup_memory.is_some())
            )?,
            None => writeln!(f, "unknown")?,
        }
        match self.k8s_qos {
            Some(qos) => writeln!(f, "k8s QoS: {qos}")?,
            None => writeln!(f, "k8s QoS: not a pod")?,
        }
        for why in &self.source.fallbacks {
            writeln!(f, "fallback: {why}")?;
        }
        Ok(())
    }
}

fn full10(psi: &Psi) -> f64 {
    psi.full.map_or(0.0, |l| l.avg10)
}

/// The one-line form of [`Limits`], from [`Limits::log_line`]: `key=value`
/// pairs separated by single spaces, always the same keys in the same order,
/// no value containing a space, absent values as `none`. Numbers are plain
/// integers (bytes, microseconds) except the quota (CPUs, up to three
/// decimals) and PSI (percent, two decimals):
///
/// ```text
/// mode=v2 cpu_quota=1.5 cpuset=0-3 cpus=4 mem_limit=1073741824 mem_usage=432013312
/// mem_working_set=417529856 nr_periods=4810 nr_throttled=12 throttled_us=315000
/// psi_cpu_some10=1.20 psi_mem_some10=0.00 psi_mem_full10=0.00 k8s_qos=Burstable fallbacks=0
/// ```
///
/// (shown wrapped; it is one line). New keys are only ever appended.
#[derive(Clone, Copy, Debug)]
pub struct LogLine<'a>(pub(super) &'a Limits);

impl fmt::Display for LogLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = self.0;
        write!(f, "mode={}", l.source.mode)?;
        match l.cpu_quota {
            Some(q) => write!(f, " cpu_quota={}", Quota(q))?,
            None => write!(f, " cpu_quota=none")?,
        }
        write!(f, " cpuset={} cpus={}", l.cpuset, l.cpuset.len())?;
        match l.memory_limit {
            Some(m) => write!(f, " mem_limit={m}")?,
            None => write!(f, " mem_limit=none")?,
        }
        write!(
            f,
            " mem_usage={} mem_working_set={}",
            l.memory_usage, l.memory_working_set
        )?;
        match &l.throttling {
            Some(t) => write!(
                f,
                " nr_periods={} nr_throttled={} throttled_us={}",
                t.nr_periods,
                t.nr_throttled,
                t.throttled_time.as_micros()
            )?,
            None => write!(f, " nr_periods=none nr_throttled=none throttled_us=none")?,
        }
        match l.pressure.cpu() {
            Some(p) => write!(f, " psi_cpu_some10={:.2}", p.some.avg10)?,
            None => write!(f, " psi_cpu_some10=none")?,
        }
        match l.pressure.memory() {
            Some(p) => write!(
                f,
                " psi_mem_some10={:.2} psi_mem_full10={:.2}",
                p.some.avg10,
                full10(p)
            )?,
            None => write!(f, " psi_mem_some10=none psi_mem_full10=none")?,
        }
        match l.k8s_qos {
            Some(q) => write!(f, " k8s_qos={q}")?,
            None => write!(f, " k8s_qos=none")?,
        }
        write!(f, " fallbacks={}", l.source.fallbacks.len())
    }
}

/// Bytes in binary units with one decimal: `512 B`, `1.5 KiB`, `1.0 GiB`.
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        if self.0 < 1024 {
            return write!(f, "{} B", self.0);
        }
        let mut value = self.0 as f64 / 1024.0;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        write!(f, "{value:.1} {}", UNITS[unit])
    }
}
