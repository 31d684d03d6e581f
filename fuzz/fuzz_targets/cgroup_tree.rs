//! The whole container detection over a file tree written from the input:
//! `/proc/self/mountinfo`, `/proc/self/cgroup`, and the cgroup v1/v2 files
//! (cpu.max, cpu.cfs_*, cpuset lists, memory files, memory.stat, cpu.stat,
//! PSI) and the host files (`/proc/self/status`, `/proc/meminfo`, the online
//! CPU list). Any content gives limits (garbage ones are reported as
//! unreadable), never a panic.
//!
//! The input is NUL-separated parts. Part 0's first byte picks the layout:
//! `'1'` a v1 host, `'2'` a mountinfo and cgroup file from parts 1 and 2,
//! otherwise a v2 host; the next parts fill `FILES` in order.
#![no_main]
use libfuzzer_sys::fuzz_target;
use perf_runtime::container::Limits;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const V2_MOUNTS: &str = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
40 22 0:30 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
const V2_CGROUP: &str = "0::/\n";
const V1_MOUNTS: &str = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
41 22 0:31 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
42 22 0:32 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n\
43 22 0:33 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
const V1_CGROUP: &str = "12:memory:/\n11:cpuset:/\n4:cpu,cpuacct:/\n";

/// Where each later part of the input goes, relative to the tree's root.
const FILES: &[&str] = &[
    "sys/fs/cgroup/cpu.max",
    "sys/fs/cgroup/cpuset.cpus.effective",
    "sys/fs/cgroup/memory.max",
    "sys/fs/cgroup/memory.current",
    "sys/fs/cgroup/memory.stat",
    "sys/fs/cgroup/cpu.stat",
    "sys/fs/cgroup/cpu.pressure",
    "sys/fs/cgroup/memory.pressure",
    "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us",
    "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us",
    "sys/fs/cgroup/cpu,cpuacct/cpu.stat",
    "sys/fs/cgroup/cpuset/cpuset.cpus",
    "sys/fs/cgroup/cpuset/cpuset.effective_cpus",
    "sys/fs/cgroup/memory/memory.limit_in_bytes",
    "sys/fs/cgroup/memory/memory.usage_in_bytes",
    "sys/fs/cgroup/memory/memory.stat",
    "proc/pressure/cpu",
    "proc/pressure/memory",
    "proc/self/status",
    "proc/meminfo",
    "sys/devices/system/cpu/online",
];

fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("perf-runtime-fuzz-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    })
}

fn write(rel: &str, bytes: &[u8]) {
    let path = root().join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let layout = parts.next().and_then(|p| p.first().copied());
    match layout {
        Some(b'1') => {
            write("proc/self/mountinfo", V1_MOUNTS.as_bytes());
            write("proc/self/cgroup", V1_CGROUP.as_bytes());
        }
        Some(b'2') => {
            write("proc/self/mountinfo", parts.next().unwrap_or_default());
            write("proc/self/cgroup", parts.next().unwrap_or_default());
        }
        _ => {
            write("proc/self/mountinfo", V2_MOUNTS.as_bytes());
            write("proc/self/cgroup", V2_CGROUP.as_bytes());
        }
    }
    for rel in FILES {
        match parts.next() {
            Some(bytes) => write(rel, bytes),
            None => {
                let _ = fs::remove_file(root().join(rel));
            }
        }
    }
    let limits = Limits::detect_at(root());
    // What the runtime does with the limits must not panic either.
    let _ = limits.memory_pressure();
    let _ = limits.read_throttling();
    let _ = limits.log_line().to_string();
    let _ = format!("{limits:?}");
});
