//! The one platform switch of the module: where sysfs is, the calling
//! thread's affinity mask (read and set), and the CPU it runs on — from the
//! kernel on Linux, a stub that says "unsupported" elsewhere.

pub(super) use imp::{affinity, current_cpu, set_affinity, SYSFS_ROOT};

#[cfg(target_os = "linux")]
mod imp {
    use std::io;
    use std::mem::size_of;

    use libc::c_ulong;

    use crate::topology::CpuSet;

    /// Where `Topology::detect` finds `sys/devices/system`.
    pub(in crate::topology) const SYSFS_ROOT: Option<&str> = Some("/");

    const BITS_PER_LONG: usize = c_ulong::BITS as usize;

    /// The CPUs the calling thread may run on, from `sched_getaffinity(2)`.
    ///
    /// Calls the syscall directly with a buffer that starts at glibc's
    /// `cpu_set_t` size (1024 CPUs) and doubles while the kernel answers
    /// `EINVAL` (its CPU count is larger than the buffer), as `CPU_ALLOC`
    /// users do, up to `CpuSet::MAX_PARSED_CPU + 1` CPUs.
    pub(in crate::topology) fn affinity() -> io::Result<CpuSet> {
        const MAX_BITS: usize = CpuSet::MAX_PARSED_CPU + 1;
        let mut longs = 1024 / BITS_PER_LONG;
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
                        set.insert(i * BITS_PER_LONG + bits.trailing_zeros() as usize);
                        bits &= bits - 1;
                    }
                }
                return Ok(set);
            }
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINVAL) || longs * BITS_PER_LONG >= MAX_BITS {
                return Err(err);
            }
            longs *= 2;
        }
    }

    /// Sets the calling thread's affinity mask to `cpus` with
    /// `sched_setaffinity(2)`.
    ///
    /// The mask passed is just long enough for the highest CPU of `cpus`;
    /// the kernel treats the bits beyond it as zero. The kernel silently
    /// drops CPUs outside the thread's cgroup cpuset and fails with `EINVAL`
    /// only when none is left, so callers check `cpus` first.
    pub(in crate::topology) fn set_affinity(cpus: &CpuSet) -> io::Result<()> {
        let longs = cpus.iter().last().map_or(1, |max| max / BITS_PER_LONG + 1);
        let mut buf: Vec<c_ulong> = vec![0; longs];
        for cpu in cpus {
            buf[cpu / BITS_PER_LONG] |= 1 << (cpu % BITS_PER_LONG);
        }
        let bytes = buf.len() * size_of::<c_ulong>();
        // SAFETY: `buf` is an initialized allocation of `bytes` bytes, aligned
        // for `unsigned long` as the kernel's cpumask expects; the kernel only
        // reads it. The pid 0 means the calling thread.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_sched_setaffinity,
                0 as libc::pid_t,
                bytes,
                buf.as_ptr(),
            )
        };
        if ret == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// The CPU the calling thread runs on, from `sched_getcpu(3)` (glibc
    /// answers it from the vDSO's `getcpu`, without entering the kernel).
    pub(in crate::topology) fn current_cpu() -> Option<usize> {
        // SAFETY: `sched_getcpu` takes no arguments and touches no memory of
        // ours; it returns -1 on error, which `try_from` turns into `None`.
        let cpu = unsafe { libc::sched_getcpu() };
        usize::try_from(cpu).ok()
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;

    use crate::topology::CpuSet;

    /// There is no sysfs to read outside Linux.
    pub(in crate::topology) const SYSFS_ROOT: Option<&str> = None;

    fn unsupported(what: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{what} is implemented for Linux only"),
        )
    }

    pub(in crate::topology) fn affinity() -> io::Result<CpuSet> {
        Err(unsupported("reading the CPU affinity mask"))
    }

    pub(in crate::topology) fn set_affinity(_cpus: &CpuSet) -> io::Result<()> {
        Err(unsupported("pinning a thread to CPUs"))
    }

    pub(in crate::topology) fn current_cpu() -> Option<usize> {
        None
    }
}
