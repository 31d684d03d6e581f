//! Reading a sysfs tree (any OS, so fixture trees test everywhere), and the
//! one platform switch of the module: the affinity mask and the current CPU,
//! from the kernel on Linux and a stub elsewhere.

use std::fs;
use std::path::Path;

use super::{CpuSet, Node, NodeId, TopologyError};

pub(super) use os::{affinity, current_cpu, SYSFS_ROOT};

/// Reads the nodes under `root/sys/devices/system/node` and the online CPUs
/// from `root/sys/devices/system/cpu/online`; returns the nodes (their CPUs
/// limited to online ones) and `allowed` limited to online CPUs.
pub(super) fn read(root: &Path, allowed: &CpuSet) -> Result<(Vec<Node>, CpuSet), TopologyError> {
    let system = root.join("sys/devices/system");
    let online_path = system.join("cpu/online");
    let online = read_cpulist(&online_path)?;

    let node_dir = system.join("node");
    let entries = fs::read_dir(&node_dir).map_err(|e| TopologyError::io(&node_dir, e))?;
    let mut os_ids = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| TopologyError::io(&node_dir, e))?;
        // Skip `online`, `possible`, `has_cpu` and the like.
        let name = entry.file_name();
        let digits = name.to_str().and_then(|n| n.strip_prefix("node"));
        if let Some(digits) = digits.filter(|d| d.bytes().all(|b| b.is_ascii_digit())) {
            if let Ok(os_id) = digits.parse::<usize>() {
                os_ids.push(os_id);
            }
        }
    }
    if os_ids.is_empty() {
        let what = "no node<N> directory found".to_owned();
        return Err(TopologyError::invalid(&node_dir, what));
    }
    os_ids.sort_unstable();

    let mut nodes = Vec::with_capacity(os_ids.len());
    let mut seen = CpuSet::new();
    for (index, os_id) in os_ids.into_iter().enumerate() {
        let path = node_dir.join(format!("node{os_id}/cpulist"));
        let cpus = read_cpulist(&path)?.intersection(&online);
        let shared = cpus.intersection(&seen);
        if !shared.is_empty() {
            let what = format!("CPUs {shared} are listed by node{os_id} and by another node");
            return Err(TopologyError::invalid(&node_dir, what));
        }
        seen = seen.union(&cpus);
        nodes.push(Node {
            id: NodeId::new(index),
            os_id,
            cpus,
        });
    }

    let allowed_online = allowed.intersection(&online);
    if allowed_online.is_empty() {
        let what = format!("none of the allowed CPUs ({allowed}) is online ({online})");
        return Err(TopologyError::invalid(&online_path, what));
    }
    let homeless: CpuSet = allowed_online
        .iter()
        .filter(|&c| !seen.contains(c))
        .collect();
    if !homeless.is_empty() {
        let what = format!("online CPUs {homeless} are allowed but belong to no node");
        return Err(TopologyError::invalid(&node_dir, what));
    }
    Ok((nodes, allowed_online))
}

fn read_cpulist(path: &Path) -> Result<CpuSet, TopologyError> {
    let text = fs::read_to_string(path).map_err(|e| TopologyError::io(path, e))?;
    CpuSet::parse_list(&text).map_err(|e| e.in_file(path))
}

#[cfg(target_os = "linux")]
mod os {
    use std::io;
    use std::mem::size_of;

    use libc::c_ulong;

    use super::CpuSet;

    /// Where `Topology::detect` finds `sys/devices/system`.
    pub(in crate::topology) const SYSFS_ROOT: Option<&str> = Some("/");

    /// The CPUs the calling thread may run on, from `sched_getaffinity(2)`.
    ///
    /// Calls the syscall directly with a buffer that starts at glibc's
    /// `cpu_set_t` size (1024 CPUs) and doubles while the kernel answers
    /// `EINVAL` (its CPU count is larger than the buffer), as `CPU_ALLOC`
    /// users do, up to `CpuSet::MAX_PARSED_CPU + 1` CPUs.
    pub(in crate::topology) fn affinity() -> io::Result<CpuSet> {
        const MAX_BITS: usize = CpuSet::MAX_PARSED_CPU + 1;
        let bits_per_long = c_ulong::BITS as usize;
        let mut longs = 1024 / bits_per_long;
        loop {
            let mut buf: Vec<c_ulong> = vec![0; longs];
            let bytes = buf.len() * size_of::<c_ulong>();
            // SAFETY: `buf` is an initialized, writable allocation of `bytes`
            // bytes, aligned for `unsigned long` as the kernel's cpumask
            // expects, and the kernel writes at most `bytes` bytes into it.
            // The pid 0 means the calling thread.
            let ret = unsafe {
                libc::syscall(
                    libc::SYS_sched_getaffinity,
                    0 as libc::pid_t,
                    bytes,
                    buf.as_mut_ptr(),
                )
            };
            // On success the kernel returns how many bytes of the mask it wrote.
            if let Ok(bytes_written) = usize::try_from(ret) {
                let written = bytes_written.div_ceil(size_of::<c_ulong>());
                buf.truncate(written);
                let mut set = CpuSet::new();
                for (i, &long) in buf.iter().enumerate() {
                    let mut bits = long;
                    while bits != 0 {
                        set.insert(i * bits_per_long + bits.trailing_zeros() as usize);
                        bits &= bits - 1;
                    }
                }
                return Ok(set);
            }
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINVAL) || longs * bits_per_long >= MAX_BITS {
                return Err(err);
            }
            longs *= 2;
        }
    }

    /// The CPU the calling thread runs on, from `sched_getcpu(3)`.
    pub(in crate::topology) fn current_cpu() -> Option<usize> {
        // SAFETY: `sched_getcpu` takes no arguments and touches no memory of
        // ours; it returns -1 on error, which `try_from` turns into `None`.
        let cpu = unsafe { libc::sched_getcpu() };
        usize::try_from(cpu).ok()
    }
}

#[cfg(not(target_os = "linux"))]
mod os {
    use std::io;

    use super::CpuSet;

    /// There is no sysfs to read outside Linux.
    pub(in crate::topology) const SYSFS_ROOT: Option<&str> = None;

    pub(in crate::topology) fn affinity() -> io::Result<CpuSet> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "CPU affinity masks are read on Linux only",
        ))
    }

    pub(in crate::topology) fn current_cpu() -> Option<usize> {
        None
    }
}
