//! Real cgroups for the `container` benchmark: find the hierarchy that
//! carries a controller (cgroup v1, v2 or a hybrid of both), make a cgroup
//! there, set its CPU quota and cpuset, let a child process join it, read
//! its throttling counters, and remove it again.
//!
//! Nothing is hard-coded: the hierarchies come from `/proc/self/mountinfo`.
//! A v1 mount whose options name the controller wins (a controller is bound
//! to one hierarchy at a time); otherwise the cgroup2 mount is used if its
//! `cgroup.controllers` lists the controller. The benchmark's cgroups are
//! made directly under the mount point, the top of the hierarchy this
//! process can see.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use perf_runtime::container::Throttling;
use perf_runtime::topology::CpuSet;

/// Prefix of every cgroup this benchmark makes, so a leftover one (after a
/// `kill -9` of `compare`) is easy to recognise.
pub const NAME_PREFIX: &str = "perf_runtime_bench";

/// One cgroup mount from `/proc/self/mountinfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted.
    pub point: PathBuf,
    /// The v1 mount options (the controllers are among them); `None` for
    /// cgroup2.
    pub v1_options: Option<Vec<String>>,
}

/// A hierarchy carrying a controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchy {
    /// `true` for the unified (v2) hierarchy.
    pub v2: bool,
    /// Its mount point.
    pub mount_point: PathBuf,
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\011`, `\012`,
/// `\134`); anything else is kept as written.
pub fn unescape_mount_path(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let v = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(b) = u8::try_from(v) {
                    out.push(b);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup mounts listed in a mountinfo text, in order. Lines that are
/// not cgroup mounts or are malformed are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // id parent major:minor root mount-point options [optional...] - type source super-options
        let Some(sep) = fields.iter().position(|&f| f == "-") else {
            continue;
        };
        let (Some(point), Some(fstype), Some(super_options)) =
            (fields.get(4), fields.get(sep + 1), fields.get(sep + 3))
        else {
            continue;
        };
        let point = PathBuf::from(unescape_mount_path(point));
        match *fstype {
            "cgroup2" => out.push(Mount {
                point,
                v1_options: None,
            }),
            "cgroup" => out.push(Mount {
                point,
                v1_options: Some(super_options.split(',').map(str::to_owned).collect()),
            }),
            _ => {}
        }
    }
    out
}

/// The hierarchy carrying `controller` among `mounts`: a v1 mount whose
/// options name it, else the first cgroup2 mount whose `cgroup.controllers`
/// (read through `read_controllers`, given the mount point) lists it.
pub fn pick_hierarchy(
    mounts: &[Mount],
    controller: &str,
    read_controllers: impl Fn(&Path) -> Option<String>,
) -> Option<Hierarchy> {
    let v1 = mounts.iter().find(|m| {
        m.v1_options
            .as_ref()
            .is_some_and(|o| o.iter().any(|c| c == controller))
    });
    if let Some(m) = v1 {
        return Some(Hierarchy {
            v2: false,
            mount_point: m.point.clone(),
        });
    }
    mounts
        .iter()
        .filter(|m| m.v1_options.is_none())
        .find(|m| {
            read_controllers(&m.point)
                .is_some_and(|list| list.split_whitespace().any(|c| c == controller))
        })
        .map(|m| Hierarchy {
            v2: true,
            mount_point: m.point.clone(),
        })
}

/// The file writes that set a CFS quota of `quota_us` per `period_us`, in
/// the order they must happen: `cpu.max` on v2; on v1 the period first, so
/// the quota is checked against the new period.
pub fn quota_writes(v2: bool, quota_us: u64, period_us: u64) -> Vec<(&'static str, String)> {
    if v2 {
        vec![("cpu.max", format!("{quota_us} {period_us}"))]
    } else {
        vec![
            ("cpu.cfs_period_us", period_us.to_string()),
            ("cpu.cfs_quota_us", quota_us.to_string()),
        ]
    }
}

/// The file write that gives a cgroup `factor` times the default CPU
/// weight: `cpu.shares` (default 1024) on v1, `cpu.weight` (default 100,
/// at most 10000) on v2.
pub fn weight_write(v2: bool, factor: u32) -> (&'static str, String) {
    if v2 {
        ("cpu.weight", (100 * factor).clamp(1, 10_000).to_string())
    } else {
        ("cpu.shares", (1024 * factor).clamp(2, 262_144).to_string())
    }
}

/// The name of the `n`th cgroup made by process `pid` for `label`.
pub fn cgroup_name(pid: u32, n: usize, label: &str) -> String {
    let label: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{NAME_PREFIX}_{pid}_{n}_{label}")
}

/// The throttling counters in the `cpu.stat` file at `path`.
///
/// # Errors
///
/// The file cannot be read, or its contents are not a `cpu.stat` (the
/// message names the file).
pub fn read_throttling(path: &Path) -> Result<Throttling, String> {
    let text =
        fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Throttling::parse_cpu_stat(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Whether this process runs with effective user id 0.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn hierarchy_for(controller: &str) -> Result<Hierarchy, String> {
    let text = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    pick_hierarchy(&parse_mountinfo(&text), controller, |p| {
        fs::read_to_string(p.join("cgroup.controllers")).ok()
    })
    .ok_or_else(|| {
        format!("no cgroup hierarchy on this machine carries the {controller} controller")
    })
}

/// A cgroup made for one benchmark child: a directory in the hierarchy
/// carrying `cpu` and, when asked for and available, one in the hierarchy
/// carrying `cpuset` (the same directory on v2). Removed on drop.
pub struct BenchCgroup {
    cpu: (Hierarchy, PathBuf),
    cpuset: Option<(Hierarchy, PathBuf)>,
}

impl BenchCgroup {
    /// Makes the cgroup. `with_cpuset` asks for the cpuset controller too;
    /// the second value says why it could not be had (the cgroup is then
    /// made with `cpu` alone).
    ///
    /// # Errors
    ///
    /// Why no cgroup with a writable `cpu` controller can be made here, as
    /// a sentence: not root, no hierarchy carries `cpu`, or the kernel
    /// refused the directory or the controller.
    pub fn create(label: &str, with_cpuset: bool) -> Result<(BenchCgroup, Option<String>), String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        if !is_root() {
            return Err("not running as root: cannot create cgroups".to_owned());
        }
        let name = cgroup_name(
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            label,
        );
        let cpu_h = hierarchy_for("cpu")?;
        let cpu_dir = make_dir(&cpu_h, &name, "cpu")?;
        let mut cgroup = BenchCgroup {
            cpu: (cpu_h, cpu_dir),
            cpuset: None,
        };
        let mut cpuset_note = None;
        if with_cpuset {
            match hierarchy_for("cpuset").and_then(|h| {
                let dir = make_dir(&h, &name, "cpuset")?;
                Ok((h, dir))
            }) {
                Ok(entry) => cgroup.cpuset = Some(entry),
                Err(why) => cpuset_note = Some(why),
            }
        }
        Ok((cgroup, cpuset_note))
    }

    /// The directory carrying `cpu` (its `cpu.stat` is the one to read).
    pub fn cpu_dir(&self) -> &Path {
        &self.cpu.1
    }

    /// Every directory a process must join to be in this cgroup, without
    /// repeats.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.cpu.1.clone()];
        if let Some((_, d)) = &self.cpuset {
            if !dirs.contains(d) {
                dirs.push(d.clone());
            }
        }
        dirs
    }

    /// Whether a cpuset directory was made.
    pub fn has_cpuset(&self) -> bool {
        self.cpuset.is_some()
    }

    /// Sets the CFS quota (can be called while a child runs: the in-place
    /// resize).
    ///
    /// # Errors
    ///
    /// The kernel refused a write; the message names the file and value.
    pub fn set_quota(&self, quota_us: u64, period_us: u64) -> Result<(), String> {
        for (file, value) in quota_writes(self.cpu.0.v2, quota_us, period_us) {
            write(&self.cpu.1.join(file), &value)?;
        }
        Ok(())
    }

    /// Gives the cgroup `factor` times the default CPU weight against its
    /// siblings (other processes of the machine), so background load takes
    /// less of the CPU the quota allows.
    ///
    /// # Errors
    ///
    /// The kernel refused the write.
    pub fn set_weight(&self, factor: u32) -> Result<(), String> {
        let (file, value) = weight_write(self.cpu.0.v2, factor);
        write(&self.cpu.1.join(file), &value)
    }

    /// Restricts the cgroup to `cpus`. On v1 `cpuset.mems` must be set before
    /// a process may join, so it is copied from the parent cgroup.
    ///
    /// # Errors
    ///
    /// No cpuset directory was made, or the kernel refused a write.
    pub fn set_cpuset(&self, cpus: &CpuSet) -> Result<(), String> {
        let Some((h, dir)) = &self.cpuset else {
            return Err("this cgroup has no cpuset controller".to_owned());
        };
        if !h.v2 {
            let parent = dir.parent().unwrap_or(Path::new("/"));
            let mems = fs::read_to_string(parent.join("cpuset.effective_mems"))
                .or_else(|_| fs::read_to_string(parent.join("cpuset.mems")))
                .map_err(|e| format!("cannot read the parent's cpuset.mems: {e}"))?;
            write(&dir.join("cpuset.mems"), mems.trim())?;
        }
        write(&dir.join("cpuset.cpus"), &cpus.to_string())
    }

    /// The throttling counters of the `cpu` directory.
    ///
    /// # Errors
    ///
    /// As [`read_throttling`].
    pub fn throttling(&self) -> Result<Throttling, String> {
        read_throttling(&self.cpu.1.join("cpu.stat"))
    }
}

/// Makes `name` under the hierarchy's mount point; on v2 first enables
/// `controller` for the root's children (the root is exempt from the
/// no-internal-processes rule).
fn make_dir(h: &Hierarchy, name: &str, controller: &str) -> Result<PathBuf, String> {
    if h.v2 {
        write(
            &h.mount_point.join("cgroup.subtree_control"),
            &format!("+{controller}"),
        )?;
    }
    let dir = h.mount_point.join(name);
    match fs::create_dir(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(dir),
        Err(e) => Err(format!("cannot create {}: {e}", dir.display())),
    }
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    fs::write(path, value).map_err(|e| format!("cannot write {value:?} to {}: {e}", path.display()))
}

/// Moves the calling process into every directory of `dirs` (what the
/// child does first, before it starts any thread).
///
/// # Errors
///
/// A `cgroup.procs` write was refused; the message names it.
pub fn join(dirs: &[PathBuf]) -> Result<(), String> {
    let pid = std::process::id().to_string();
    for dir in dirs {
        write(&dir.join("cgroup.procs"), &pid)?;
    }
    Ok(())
}

impl Drop for BenchCgroup {
    fn drop(&mut self) {
        for dir in self.dirs() {
            // A child still alive (killed after a timeout but not yet
            // reaped) is moved back to the parent, or rmdir fails with EBUSY.
            if let (Ok(procs), Some(parent)) =
                (fs::read_to_string(dir.join("cgroup.procs")), dir.parent())
            {
                for pid in procs.split_whitespace() {
                    let _ = fs::write(parent.join("cgroup.procs"), pid);
                }
            }
            // The kernel can list a just-reaped child for a moment.
            let mut result = fs::remove_dir(&dir);
            for _ in 0..100 {
                if result.is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
                result = fs::remove_dir(&dir);
            }
            if let Err(e) = result {
                eprintln!(
                    "compare: warning: could not remove cgroup {}: {e}",
                    dir.display()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine's shape: v1 controllers each on their own mount, a
    /// joint `cpu,cpuacct` elsewhere in other hosts, cgroup2 at `unified`.
    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn mountinfo_lists_cgroup_mounts_only() {
        let mounts = parse_mountinfo(HYBRID);
        assert_eq!(mounts.len(), 4);
        assert_eq!(mounts[0].point, Path::new("/sys/fs/cgroup/cpu"));
        assert_eq!(
            mounts[0].v1_options.as_deref(),
            Some(&["rw".to_owned(), "cpu".to_owned()][..])
        );
        assert_eq!(mounts[3].point, Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(mounts[3].v1_options, None);
        // Optional fields before the separator, and a garbled line.
        let text = "1 0 0:1 / /cg rw shared:5 master:2 - cgroup2 none rw\nnot a mount line\n";
        assert_eq!(
            parse_mountinfo(text),
            vec![Mount {
                point: PathBuf::from("/cg"),
                v1_options: None
            }]
        );
    }

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(unescape_mount_path(r"/mnt/my\040cg"), "/mnt/my cg");
        assert_eq!(unescape_mount_path(r"/a\134b"), r"/a\b");
        // Not an escape: kept as is.
        assert_eq!(unescape_mount_path(r"/a\9x"), r"/a\9x");
        assert_eq!(unescape_mount_path(r"/end\04"), r"/end\04");
    }

    #[test]
    fn v1_mount_wins_and_v2_needs_the_controller_listed() {
        let mounts = parse_mountinfo(HYBRID);
        // The unified mount has no cpu controller on this host.
        let no_v2 = |_: &Path| Some("memory pids".to_owned());
        assert_eq!(
            pick_hierarchy(&mounts, "cpu", no_v2),
            Some(Hierarchy {
                v2: false,
                mount_point: "/sys/fs/cgroup/cpu".into()
            })
        );
        assert_eq!(
            pick_hierarchy(&mounts, "cpuset", no_v2).map(|h| h.mount_point),
            Some("/sys/fs/cgroup/cpuset".into())
        );
        assert_eq!(pick_hierarchy(&mounts, "io", no_v2), None);
        assert_eq!(
            pick_hierarchy(&mounts, "io", |_| Some("cpu io".to_owned())),
            Some(Hierarchy {
                v2: true,
                mount_point: "/sys/fs/cgroup/unified".into()
            })
        );
        // A joint v1 mount.
        let joint = parse_mountinfo(
            "5 1 0:5 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n",
        );
        assert_eq!(
            pick_hierarchy(&joint, "cpuacct", |_| None).map(|h| h.mount_point),
            Some("/sys/fs/cgroup/cpu,cpuacct".into())
        );
        // Pure v2; an unreadable cgroup.controllers means "not there".
        let v2 = parse_mountinfo("5 1 0:5 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        assert!(pick_hierarchy(&v2, "cpu", |_| Some("cpuset cpu io".into())).is_some_and(|h| h.v2));
        assert_eq!(pick_hierarchy(&v2, "cpu", |_| None), None);
    }

    #[test]
    fn quota_is_written_in_each_versions_files() {
        assert_eq!(
            quota_writes(true, 150_000, 100_000),
            vec![("cpu.max", "150000 100000".to_owned())]
        );
        assert_eq!(
            quota_writes(false, 200_000, 100_000),
            vec![
                ("cpu.cfs_period_us", "100000".to_owned()),
                ("cpu.cfs_quota_us", "200000".to_owned())
            ]
        );
    }

    #[test]
    fn weight_is_written_in_each_versions_file_and_range() {
        assert_eq!(weight_write(false, 10), ("cpu.shares", "10240".to_owned()));
        assert_eq!(weight_write(true, 10), ("cpu.weight", "1000".to_owned()));
        assert_eq!(weight_write(true, 500), ("cpu.weight", "10000".to_owned()));
        assert_eq!(weight_write(false, 0), ("cpu.shares", "2".to_owned()));
    }

    #[test]
    fn names_are_prefixed_and_sanitised() {
        assert_eq!(
            cgroup_name(42, 3, "fractional/perf floor"),
            "perf_runtime_bench_42_3_fractional_perf_floor"
        );
    }

    #[test]
    fn throttling_is_read_from_either_versions_cpu_stat() {
        let dir = std::env::temp_dir().join(format!("perf_cbench_stat_{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let v1 = dir.join("v1");
        fs::write(
            &v1,
            "nr_periods 120\nnr_throttled 7\nthrottled_time 5000000\n",
        )
        .unwrap();
        let t = read_throttling(&v1).unwrap();
        assert_eq!((t.nr_periods, t.nr_throttled), (120, 7));
        assert_eq!(t.throttled_time, Duration::from_millis(5));
        let v2 = dir.join("v2");
        fs::write(
            &v2,
            "usage_usec 1\nuser_usec 1\nsystem_usec 0\nnr_periods 9\nnr_throttled 2\nthrottled_usec 300\n",
        )
        .unwrap();
        let t = read_throttling(&v2).unwrap();
        assert_eq!((t.nr_periods, t.nr_throttled), (9, 2));
        assert_eq!(t.throttled_time, Duration::from_micros(300));
        let garbled = dir.join("garbled");
        fs::write(&garbled, "nr_periods x\n").unwrap();
        let err = read_throttling(&garbled).unwrap_err();
        assert!(err.contains("garbled"), "{err}");
        let err = read_throttling(&dir.join("missing")).unwrap_err();
        assert!(err.contains("cannot read"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
