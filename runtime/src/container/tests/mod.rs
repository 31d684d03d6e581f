//! Tests of the container module: `parse` — the file formats; `fixtures_*`
//! — whole `/proc` + cgroup trees under a temp dir, read by
//! `Limits::detect_at`; `policy`, `level`, `throttle` — the pure rules;
//! `pressure_watch` and `loom_pressure_watch` — the pressure level's cell.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

mod fixtures_bad;
mod fixtures_v1;
mod fixtures_v2;
mod level;
#[cfg(perf_runtime_loom)]
mod loom_pressure_watch;
mod parse;
mod policy;
#[cfg(not(perf_runtime_loom))]
mod pressure_watch;
mod throttle;

/// A directory under the system temp dir, removed with everything in it on
/// drop. Unique per process and per call, so tests can run in parallel.
pub(super) struct TempTree {
    root: PathBuf,
}

impl TempTree {
    pub(super) fn new() -> TempTree {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let root =
            std::env::temp_dir().join(format!("perf_runtime_container_{}_{n}", std::process::id()));
        // A leftover from a crashed run with the same pid is stale.
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        TempTree { root }
    }

    pub(super) fn path(&self) -> &Path {
        &self.root
    }

    /// The path of `rel` (relative, or absolute in the fixture's namespace)
    /// inside the tree.
    pub(super) fn at(&self, rel: &str) -> PathBuf {
        self.root.join(rel.trim_start_matches('/'))
    }

    /// Writes `contents` to `rel`, creating parent directories.
    pub(super) fn file(&self, rel: &str, contents: &str) -> &TempTree {
        let path = self.at(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, contents).unwrap();
        self
    }

    /// Writes each `(name, contents)` in the directory `dir`.
    pub(super) fn files(&self, dir: &str, files: &[(&str, &str)]) -> &TempTree {
        for (name, contents) in files {
            self.file(&format!("{}/{name}", dir.trim_end_matches('/')), contents);
        }
        self
    }

    pub(super) fn remove(&self, rel: &str) {
        fs::remove_file(self.at(rel)).unwrap();
    }

    pub(super) fn detect(&self) -> Limits {
        Limits::detect_at(&self.root)
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// Non-cgroup mounts every fixture's mountinfo starts with, so the parser
/// must skip them.
const BASE_MOUNTS: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:2 - proc proc rw
24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:3 - sysfs sysfs rw
";

/// A mountinfo line for a cgroup mount.
fn mount_line(root: &str, mount_point: &str, fstype: &str, super_options: &str) -> String {
    format!(
        "40 24 0:30 {root} {mount_point} rw,nosuid,nodev,noexec,relatime shared:9 - \
         {fstype} {fstype} {super_options}\n"
    )
}

/// The files every fixture host has besides cgroups: 8 online CPUs, all in
/// the affinity mask, idle system PSI, a `oom_score_adj` of 0, and 16 GiB
/// of memory with 12 GiB available.
fn host_files(tree: &TempTree) {
    tree.file("sys/devices/system/cpu/online", "0-7\n")
        .file("proc/pressure/cpu", &psi_text(0.0, Some(0.0)))
        .file("proc/pressure/memory", &psi_text(0.0, Some(0.0)))
        .file(
            "proc/self/status",
            "Name:\ttest\nCpus_allowed:\tff\nCpus_allowed_list:\t0-7\nMems_allowed_list:\t0\n",
        )
        .file("proc/self/oom_score_adj", "0\n")
        .file(
            "proc/meminfo",
            "MemTotal:       16777216 kB\nMemFree:         1000000 kB\nMemAvailable:   12582912 kB\n",
        );
}

/// A pure v2 host: cgroup2 mounted at `mount_point` showing `mount_root`,
/// this process in `path`.
fn v2_host(path: &str, mount_root: &str, mount_point: &str) -> TempTree {
    let tree = TempTree::new();
    host_files(&tree);
    let mounts =
        BASE_MOUNTS.to_owned() + &mount_line(mount_root, mount_point, "cgroup2", "rw,nsdelegate");
    tree.file("proc/self/mountinfo", &mounts)
        .file("proc/self/cgroup", &format!("0::{path}\n"));
    tree
}

/// A v1 host: `cpu,cpuacct` joint at `/sys/fs/cgroup/cpu,cpuacct`, `cpuset`
/// and `memory` each on their own, and a `name=systemd` hierarchy; all
/// showing `mount_root`, this process in `path` in each. With `unified`, a
/// cgroup2 mount at `/sys/fs/cgroup/unified` too (hybrid), the process at
/// `path` there as well.
fn v1_host(path: &str, mount_root: &str, unified: bool) -> TempTree {
    let tree = TempTree::new();
    host_files(&tree);
    let mut mounts = BASE_MOUNTS.to_owned();
    mounts += &mount_line(
        "/",
        "/sys/fs/cgroup/systemd",
        "cgroup",
        "rw,xattr,name=systemd",
    );
    mounts += &mount_line(
        mount_root,
        "/sys/fs/cgroup/cpu,cpuacct",
        "cgroup",
        "rw,cpu,cpuacct",
    );
    mounts += &mount_line(mount_root, "/sys/fs/cgroup/cpuset", "cgroup", "rw,cpuset");
    mounts += &mount_line(mount_root, "/sys/fs/cgroup/memory", "cgroup", "rw,memory");
    let mut cgroup = format!("12:memory:{path}\n11:cpuset:{path}\n4:cpu,cpuacct:{path}\n");
    cgroup += &format!("1:name=systemd:{path}\n");
    if unified {
        mounts += &mount_line("/", "/sys/fs/cgroup/unified", "cgroup2", "rw,nsdelegate");
        cgroup += &format!("0::{path}\n");
    }
    tree.file("proc/self/mountinfo", &mounts)
        .file("proc/self/cgroup", &cgroup);
    tree
}

/// A PSI file's text.
fn psi_text(some10: f64, full10: Option<f64>) -> String {
    let mut text = format!("some avg10={some10:.2} avg60=0.50 avg300=0.10 total=123456\n");
    if let Some(full) = full10 {
        text += &format!("full avg10={full:.2} avg60=0.25 avg300=0.05 total=4567\n");
    }
    text
}

fn set(list: &str) -> CpuSet {
    CpuSet::parse_list(list).unwrap()
}

/// Whether some fallback mentions every one of `words`.
fn has_fallback(limits: &Limits, words: &[&str]) -> bool {
    limits
        .source
        .fallbacks
        .iter()
        .any(|f| words.iter().all(|w| f.contains(w)))
}

#[track_caller]
fn assert_fallback(limits: &Limits, words: &[&str]) {
    assert!(
        has_fallback(limits, words),
        "no fallback mentions {words:?}; fallbacks: {:#?}",
        limits.source.fallbacks
    );
}

#[track_caller]
fn assert_quota(limits: &Limits, expected: Option<f64>) {
    match (limits.cpu_quota, expected) {
        (Some(q), Some(e)) => assert!((q - e).abs() < 1e-9, "quota {q}, expected {e}"),
        (q, e) => assert_eq!(q, e, "fallbacks: {:#?}", limits.source.fallbacks),
    }
}
