//! Reading the limits: one [`Probe`] per detection walks the files under a
//! root, records every file it read and every fallback it took, and never
//! fails — a file that is missing, unreadable or garbled makes it use the
//! next-best source. `memory.rs` holds the memory half of the probe.

mod memory;

use std::fs;
use std::io;
use std::num::NonZero;
use std::path::{Path, PathBuf};

use super::cgroup::{self, Location, Membership, Mount};
use super::k8s;
use super::psi::{Pressure, Psi};
use super::throttle::Throttling;
use super::{Limits, Sources};
use crate::topology::CpuSet;

/// What one level of a cgroup walk said about a limit.
enum Level<T> {
    /// The file is not there (normal above a container's cgroup, or where a
    /// controller is not enabled).
    Absent,
    /// `max` / `-1`.
    Unlimited,
    Limit(T),
    /// Unusable contents; the probe has recorded why.
    Bad,
}

/// One detection in progress.
pub(super) struct Probe<'a> {
    root: &'a Path,
    sources: Sources,
}

impl<'a> Probe<'a> {
    pub(super) fn new(root: &'a Path) -> Probe<'a> {
        Probe {
            root,
            sources: Sources::default(),
        }
    }

    fn note(&mut self, why: String) {
        self.sources.fallbacks.push(why);
    }

    /// The file's text, recording it as read. A missing file is `None`
    /// silently (absence is information the caller interprets); any other
    /// failure is `None` with a recorded reason.
    fn read(&mut self, path: &Path) -> Option<String> {
        match fs::read_to_string(path) {
            Ok(text) => {
                self.sources.files.push(path.to_owned());
                Some(text)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                self.note(format!("cannot read {}: {e}", path.display()));
                None
            }
        }
    }

    /// Like [`read`](Self::read), but a missing file is recorded too.
    fn read_required(&mut self, path: &Path, consequence: &str) -> Option<String> {
        let text = self.read(path);
        if text.is_none() && !path.exists() {
            self.note(format!("{} does not exist; {consequence}", path.display()));
        }
        text
    }

    fn proc_file(&self, name: &str) -> PathBuf {
        self.root.join("proc").join(name)
    }

    /// Runs the whole detection. `affinity` is the kernel's answer for the
    /// calling thread, or `None` to read `proc/self/status` under the root.
    pub(super) fn detect(mut self, affinity: Option<io::Result<CpuSet>>) -> Limits {
        let (mounts, members) = self.memberships();
        self.sources.mode = cgroup::mode(&mounts);
        let mut notes = Vec::new();
        let v2 = cgroup::locate_v2(self.root, &mounts, &members, &mut notes);
        let v2_controllers = v2.as_ref().and_then(|loc| {
            let path = loc.dir.join("cgroup.controllers");
            let text = self.read(&path)?;
            Some(
                text.split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>(),
            )
        });
        let mut locate = |controller: &str| {
            cgroup::locate_v1(self.root, &mounts, &members, controller, &mut notes).or_else(|| {
                let on_v2 = v2_controllers
                    .as_ref()
                    .is_none_or(|list| list.iter().any(|c| c == controller));
                v2.clone().filter(|_| on_v2)
            })
        };
        let cpu = locate("cpu");
        let cpuset = locate("cpuset");
        let memory = locate("memory");
        self.sources.fallbacks.append(&mut notes);
        if let (None, Some(loc), Some(list)) = (&cpu, &v2, &v2_controllers) {
            if self.sources.mode == cgroup::CgroupMode::V2 {
                self.note(format!(
                    "the cpu controller is not enabled for {} (cgroup.controllers: {:?}); \
                     no CPU quota applies",
                    loc.dir.display(),
                    list.join(" ")
                ));
            }
        }

        let cpu_quota = cpu.as_ref().and_then(|loc| self.cpu_quota(loc));
        let throttling = cpu_quota.as_ref().and_then(|(_, dir)| {
            let path = dir.join("cpu.stat");
            let text = self.read_required(&path, "no throttling counters")?;
            match Throttling::parse_cpu_stat(&text) {
                Ok(t) => {
                    self.sources.cpu_stat = Some(path);
                    Some(t)
                }
                Err(e) => {
                    self.note(format!("{}: {e}; no throttling counters", path.display()));
                    None
                }
            }
        });
        self.sources.cpu_dir = cpu_quota.as_ref().map(|(_, dir)| dir.clone());

        let cgroup_cpus = cpuset.as_ref().and_then(|loc| self.cgroup_cpuset(loc));
        let cpuset = self.allowed_cpus(affinity, cgroup_cpus);

        let (memory_limit, memory_usage, memory_working_set) = self.memory(memory.as_ref());

        let pressure = self.pressure(v2.as_ref());

        let oom = self.oom_score_adj();
        let mut paths: Vec<&str> = members.iter().map(|m| m.path.as_str()).collect();
        paths.extend(mounts.iter().map(|m| m.root.as_str()));
        let mut k8s_notes = Vec::new();
        let k8s_qos = if paths.is_empty() {
            None
        } else {
            k8s::classify(&paths, oom, &mut k8s_notes)
        };
        self.sources.fallbacks.append(&mut k8s_notes);

        Limits {
            cpu_quota: cpu_quota.map(|(q, _)| q),
            cpuset,
            memory_limit,
            memory_usage,
            memory_working_set,
            throttling,
            pressure,
            k8s_qos,
            source: self.sources,
        }
    }

    /// The cgroup mounts and this process's memberships; empty where the
    /// files cannot be read or parsed (the reason is recorded).
    fn memberships(&mut self) -> (Vec<Mount>, Vec<Membership>) {
        let consequence = "assuming no cgroup limits";
        let mountinfo = self.proc_file("self/mountinfo");
        let mounts = match self.read_required(&mountinfo, consequence) {
            Some(text) => match cgroup::parse_mountinfo(&text) {
                Ok(mounts) => mounts,
                Err(e) => {
                    self.note(format!("{}: {e}; {consequence}", mountinfo.display()));
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let proc_cgroup = self.proc_file("self/cgroup");
        let members = match self.read_required(&proc_cgroup, consequence) {
            Some(text) => match cgroup::parse_proc_cgroup(&text) {
                Ok(members) => members,
                Err(e) => {
                    self.note(format!("{}: {e}; {consequence}", proc_cgroup.display()));
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        if members.is_empty() {
            // Without memberships no mount can be resolved; say so once.
            return (mounts, members);
        }
        if mounts.is_empty()
            && !self
                .sources
                .fallbacks
                .iter()
                .any(|n| n.contains("mountinfo"))
        {
            self.note(format!(
                "{} lists no cgroup mount; {consequence}",
                mountinfo.display()
            ));
        }
        (mounts, members)
    }

    /// The tightest CPU quota from the process's cgroup up to the mount
    /// root, in CPUs, and the directory it was found in.
    fn cpu_quota(&mut self, loc: &Location) -> Option<(f64, PathBuf)> {
        let mut best: Option<(f64, PathBuf)> = None;
        let mut seen = false;
        for dir in loc.walk() {
            let level = if loc.v2 {
                self.quota_v2(&dir)
            } else {
                self.quota_v1(&dir)
            };
            match level {
                Level::Absent => continue,
                Level::Limit(q) if best.as_ref().is_none_or(|(b, _)| q < *b) => {
                    best = Some((q, dir));
                }
                Level::Limit(_) | Level::Unlimited | Level::Bad => {}
            }
            seen = true;
        }
        if !seen && loc.dir != loc.top {
            let file = if loc.v2 {
                "cpu.max"
            } else {
                "cpu.cfs_quota_us"
            };
            self.note(format!(
                "no {file} from {} up to {}: no CPU quota applies",
                loc.dir.display(),
                loc.top.display()
            ));
        }
        best
    }

    fn quota_v2(&mut self, dir: &Path) -> Level<f64> {
        let path = dir.join("cpu.max");
        let Some(text) = self.read(&path) else {
            return Level::Absent;
        };
        let mut words = text.split_whitespace();
        let (quota, period) = (words.next(), words.next());
        if quota == Some("max") {
            return Level::Unlimited;
        }
        let parsed = quota.and_then(|q| q.parse::<u64>().ok());
        let period = period.and_then(|p| p.parse::<u64>().ok());
        match (parsed, period, words.next()) {
            (Some(q), Some(p), None) => self.quota_ratio(&path, q, p),
            _ => {
                self.note(format!(
                    "{}: {:?} is not `<quota> <period>` or `max <period>`; ignored",
                    path.display(),
                    text.trim()
                ));
                Level::Bad
            }
        }
    }

    fn quota_v1(&mut self, dir: &Path) -> Level<f64> {
        let path = dir.join("cpu.cfs_quota_us");
        let Some(text) = self.read(&path) else {
            return Level::Absent;
        };
        let quota = match text.trim().parse::<i64>() {
            Ok(-1) => return Level::Unlimited,
            Ok(q) if q > 0 => q.unsigned_abs(),
            Ok(0) => return self.zero_quota(&path),
            _ => {
                self.note(format!(
                    "{}: {:?} is neither -1 nor a positive number of microseconds; ignored",
                    path.display(),
                    text.trim()
                ));
                return Level::Bad;
            }
        };
        let period_path = dir.join("cpu.cfs_period_us");
        let Some(text) = self.read(&period_path) else {
            self.note(format!(
                "{} cannot be read; the quota in {} is ignored",
                period_path.display(),
                path.display()
            ));
            return Level::Bad;
        };
        match text.trim().parse::<u64>() {
            Ok(period) => self.quota_ratio(&path, quota, period),
            Err(_) => {
                self.note(format!(
                    "{}: {:?} is not a number of microseconds; the quota in {} is ignored",
                    period_path.display(),
                    text.trim(),
                    path.display()
                ));
                Level::Bad
            }
        }
    }

    fn quota_ratio(&mut self, path: &Path, quota: u64, period: u64) -> Level<f64> {
        if quota == 0 {
            return self.zero_quota(path);
        }
        if period == 0 {
            self.note(format!(
                "{}: the period is 0, so the quota means nothing; ignored",
                path.display()
            ));
            return Level::Bad;
        }
        Level::Limit(quota as f64 / period as f64)
    }

    fn zero_quota(&mut self, path: &Path) -> Level<f64> {
        self.note(format!(
            "{}: a quota of 0 would let nothing run (the kernel refuses it); ignored",
            path.display()
        ));
        Level::Bad
    }

    /// The CPUs the cgroup cpuset allows: the intersection of every readable
    /// level (the kernel keeps a child within its parent, so this is the
    /// nearest level in practice).
    fn cgroup_cpuset(&mut self, loc: &Location) -> Option<CpuSet> {
        let files: &[&str] = if loc.v2 {
            &["cpuset.cpus.effective"]
        } else {
            &["cpuset.effective_cpus", "cpuset.cpus"]
        };
        let mut result: Option<CpuSet> = None;
        for dir in loc.walk() {
            let Some((path, text)) = files.iter().find_map(|f| {
                let path = dir.join(f);
                self.read(&path).map(|text| (path, text))
            }) else {
                continue;
            };
            match CpuSet::parse_list(&text) {
                Ok(set) if set.is_empty() => {
                    self.note(format!("{} is empty; ignored", path.display()));
                }
                Ok(set) => {
                    result = Some(match result {
                        Some(r) => r.intersection(&set),
                        None => set,
                    });
                }
                Err(e) => self.note(format!("{}: {e}; ignored", path.display())),
            }
        }
        result.filter(|r| !r.is_empty())
    }

    /// Combines the affinity mask, the cgroup cpuset and the online CPUs
    /// into the CPUs the process may use; never empty.
    fn allowed_cpus(
        &mut self,
        affinity: Option<io::Result<CpuSet>>,
        cgroup: Option<CpuSet>,
    ) -> CpuSet {
        let affinity = match affinity {
            Some(Ok(set)) if !set.is_empty() => Some(set),
            Some(result) => {
                let why = match result {
                    Err(e) => format!("sched_getaffinity failed ({e})"),
                    Ok(_) => "sched_getaffinity returned an empty mask".to_owned(),
                };
                let from_status = self.status_affinity();
                let how = if from_status.is_some() {
                    "using Cpus_allowed_list of /proc/self/status"
                } else {
                    "no affinity mask"
                };
                self.note(format!("{why}; {how}"));
                from_status
            }
            None => self.status_affinity(),
        };
        let online_path = self.root.join("sys/devices/system/cpu/online");
        let online = match self.read(&online_path) {
            Some(text) => match CpuSet::parse_list(&text) {
                Ok(set) if !set.is_empty() => Some(set),
                Ok(_) => {
                    self.note(format!("{} is empty; ignored", online_path.display()));
                    None
                }
                Err(e) => {
                    let path = online_path.display();
                    self.note(format!("{path}: {e}; not checking CPUs are online"));
                    None
                }
            },
            None => None,
        };
        if let (Some(cg), Some(on)) = (&cgroup, &online) {
            let offline: CpuSet = cg.iter().filter(|&c| !on.contains(c)).collect();
            if !offline.is_empty() {
                self.note(format!(
                    "the cgroup cpuset {cg} names offline CPUs {offline}; they are not counted"
                ));
            }
        }
        let mut result: Option<CpuSet> = None;
        for (name, set) in [
            ("the affinity mask", affinity),
            ("the cgroup cpuset", cgroup),
            ("the online CPUs", online),
        ] {
            let Some(set) = set else { continue };
            result = Some(match result {
                None => set,
                Some(r) => {
                    let both = r.intersection(&set);
                    if both.is_empty() {
                        self.note(format!(
                            "{name} ({set}) shares no CPU with the CPUs found so far ({r}); \
                             ignoring {name}"
                        ));
                        r
                    } else {
                        both
                    }
                }
            });
        }
        result.unwrap_or_else(|| {
            let n = std::thread::available_parallelism().map_or(1, NonZero::get);
            self.note(format!(
                "no affinity mask, cgroup cpuset or online CPU list could be read; \
                 assuming CPUs 0-{} (available_parallelism)",
                n - 1
            ));
            (0..n).collect()
        })
    }

    /// `Cpus_allowed_list` of `proc/self/status` under the root.
    fn status_affinity(&mut self) -> Option<CpuSet> {
        let path = self.proc_file("self/status");
        let text = self.read(&path)?;
        let Some(list) = text
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        else {
            self.note(format!("{} has no Cpus_allowed_list line", path.display()));
            return None;
        };
        match CpuSet::parse_list(list) {
            Ok(set) if !set.is_empty() => Some(set),
            Ok(_) => None,
            Err(e) => {
                self.note(format!("{} (Cpus_allowed_list): {e}", path.display()));
                None
            }
        }
    }

    fn pressure(&mut self, v2: Option<&Location>) -> Pressure {
        let mut pressure = Pressure::default();
        let system = self.root.join("proc/pressure");
        if system.is_dir() {
            pressure.system_cpu = self.psi(&system.join("cpu"));
            pressure.system_memory = self.psi(&system.join("memory"));
        } else {
            self.note(format!(
                "{} does not exist (kernel without PSI, or booted with psi=0): \
                 no system pressure",
                system.display()
            ));
        }
        if let Some(loc) = v2 {
            pressure.cgroup_cpu = self.psi(&loc.dir.join("cpu.pressure"));
            pressure.cgroup_memory = self.psi(&loc.dir.join("memory.pressure"));
        }
        pressure
    }

    fn psi(&mut self, path: &Path) -> Option<Psi> {
        let text = self.read(path)?;
        match Psi::parse(&text) {
            Ok(psi) => Some(psi),
            Err(e) => {
                self.note(format!("{}: {e}; ignored", path.display()));
                None
            }
        }
    }

    fn oom_score_adj(&mut self) -> Option<i32> {
        let path = self.proc_file("self/oom_score_adj");
        let text = self.read(&path)?;
        match text.trim().parse::<i32>() {
            Ok(score) if (-1000..=1000).contains(&score) => Some(score),
            _ => {
                self.note(format!(
                    "{}: {:?} is not a score from -1000 to 1000; ignored",
                    path.display(),
                    text.trim()
                ));
                None
            }
        }
    }
}
