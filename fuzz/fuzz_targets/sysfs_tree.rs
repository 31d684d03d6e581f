//! The sysfs topology over a file tree written from the input: the online
//! CPU list, two NUMA nodes' `cpulist` and `distance`, and CPU 0-1's cache
//! `type`, `level` and `shared_cpu_list`. Any content gives a topology or an
//! error naming the file, never a panic.
//!
//! The input is NUL-separated parts filling `FILES` in order.
#![no_main]
use libfuzzer_sys::fuzz_target;
use perf_runtime::topology::{CpuSet, Topology};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const FILES: &[&str] = &[
    "sys/devices/system/cpu/online",
    "sys/devices/system/node/node0/cpulist",
    "sys/devices/system/node/node0/distance",
    "sys/devices/system/node/node1/cpulist",
    "sys/devices/system/node/node1/distance",
    "sys/devices/system/cpu/cpu0/cache/index0/type",
    "sys/devices/system/cpu/cpu0/cache/index0/level",
    "sys/devices/system/cpu/cpu0/cache/index0/shared_cpu_list",
    "sys/devices/system/cpu/cpu1/cache/index0/type",
    "sys/devices/system/cpu/cpu1/cache/index0/level",
    "sys/devices/system/cpu/cpu1/cache/index0/shared_cpu_list",
];

fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("perf-runtime-fuzz-sysfs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    for rel in FILES {
        let path = root().join(rel);
        match parts.next() {
            Some(bytes) => {
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(&path, bytes).unwrap();
            }
            None => {
                let _ = fs::remove_file(&path);
            }
        }
    }
    let allowed: CpuSet = (0..4).collect();
    if let Ok(t) = Topology::from_sysfs_root(root(), allowed) {
        let _ = format!("{t:?}");
    }
});
