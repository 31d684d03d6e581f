//! Detection inside real cgroups: the test makes a child cgroup with a
//! 1.5-CPU quota (and a 1-CPU cpuset where the cpuset controller is
//! writable), runs a copy of this test binary inside it, and checks what
//! that child detected.
//!
//! Needs root and a writable cgroup file system (CI has both). Where either
//! is missing the test prints `SKIPPED: <reason>` on stderr and returns.
//!
//! The child is this binary run as
//! `<exe> --exact cgroup_child_helper --ignored --nocapture` with
//! `PERF_RUNTIME_CGROUP_CHILD` naming the cgroup directories to join; it
//! moves itself in by writing its pid to each `cgroup.procs`, then detects
//! and prints its results on stdout. [`TestCgroup`] is reusable: create,
//! configure, spawn children inside, read counters; dropped, it moves any
//! process left back to the parent cgroup and removes the directories.
//!
//! The live tests run a child runtime that stays up: [`LiveChild`] talks to
//! it over its stdin and stdout (one `@cg STATE ...` line per change of its
//! sizing), while the parent rewrites the cgroup's quota or makes it burn
//! CPU until the kernel throttles it. They wait on the pipe with a bounded
//! timeout, never on a sleep, and print the delays they observed.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use perf_runtime::container::{CgroupMode, Limits, Rounding};
use perf_runtime::topology::CpuSet;

/// Set in a child to the cgroup directories it must join, one per line.
const CHILD_ENV: &str = "PERF_RUNTIME_CGROUP_CHILD";

/// Where a controller lives on this machine.
#[derive(Clone, Debug)]
struct Hierarchy {
    /// `true` for the unified (v2) hierarchy.
    v2: bool,
    mount_point: PathBuf,
}

/// The cgroup mounts of this process: `(mount point, None)` for cgroup2,
/// `(mount point, Some(options))` for v1.
fn cgroup_mounts() -> io::Result<Vec<(PathBuf, Option<Vec<String>>)>> {
    let text = fs::read_to_string("/proc/self/mountinfo")?;
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(sep) = fields.iter().position(|&f| f == "-") else {
            continue;
        };
        let (Some(mount_point), Some(fstype), Some(options)) =
            (fields.get(4), fields.get(sep + 1), fields.get(sep + 3))
        else {
            continue;
        };
        let mount_point = PathBuf::from(mount_point.replace("\\040", " "));
        match *fstype {
            "cgroup2" => out.push((mount_point, None)),
            "cgroup" => {
                let options = options.split(',').map(str::to_owned).collect();
                out.push((mount_point, Some(options)));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The hierarchy carrying `controller`: a v1 mount with it, else the v2
/// mount if its root lists it in `cgroup.controllers`.
fn find_hierarchy(controller: &str) -> Option<Hierarchy> {
    let mounts = cgroup_mounts().ok()?;
    let v1 = mounts.iter().find_map(|(point, options)| {
        let options = options.as_ref()?;
        options
            .iter()
            .any(|o| o == controller)
            .then(|| point.clone())
    });
    if let Some(mount_point) = v1 {
        return Some(Hierarchy {
            v2: false,
            mount_point,
        });
    }
    let (point, _) = mounts.iter().find(|(_, options)| options.is_none())?;
    let available = fs::read_to_string(point.join("cgroup.controllers")).ok()?;
    available
        .split_whitespace()
        .any(|c| c == controller)
        .then(|| Hierarchy {
            v2: true,
            mount_point: point.clone(),
        })
}

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|uids| uids.split_whitespace().nth(1))
            == Some("0")
    })
}

/// A cgroup created for a test, in every hierarchy that carries one of the
/// controllers it was asked for (one directory for v2; for v1 one per
/// hierarchy, e.g. `cpu,cpuacct/<name>` and `cpuset/<name>`). Removed on
/// drop.
pub struct TestCgroup {
    /// `(controller, hierarchy, directory)` per controller asked for; v1
    /// controllers sharing a hierarchy share the directory.
    dirs: Vec<(String, Hierarchy, PathBuf)>,
}

impl TestCgroup {
    /// Creates `perf_runtime_test_<pid>_<n>_<label>` under the mount point
    /// of each hierarchy carrying one of `controllers`.
    ///
    /// # Errors
    ///
    /// Why the cgroup cannot be made here, as a sentence for `SKIPPED:`:
    /// not root, a controller on no hierarchy, or the kernel refusing the
    /// directory or enabling the controller.
    pub fn create(label: &str, controllers: &[&str]) -> Result<TestCgroup, String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        if !is_root() {
            return Err("not running as root: cannot create cgroups".to_owned());
        }
        let name = format!(
            "perf_runtime_test_{}_{}_{label}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut cgroup = TestCgroup { dirs: Vec::new() };
        for &controller in controllers {
            let hierarchy = find_hierarchy(controller).ok_or_else(|| {
                format!("no cgroup hierarchy on this machine carries the {controller} controller")
            })?;
            let dir = hierarchy.mount_point.join(&name);
            if hierarchy.v2 {
                // Children of the root may use a controller the root's
                // subtree_control enables (the root is exempt from the
                // no-internal-processes rule).
                let control = hierarchy.mount_point.join("cgroup.subtree_control");
                fs::write(&control, format!("+{controller}")).map_err(|e| {
                    format!("cannot enable {controller} in {}: {e}", control.display())
                })?;
            }
            if !dir.exists() {
                fs::create_dir(&dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            cgroup.dirs.push((controller.to_owned(), hierarchy, dir));
        }
        Ok(cgroup)
    }

    /// The directory carrying `controller`.
    pub fn dir(&self, controller: &str) -> &Path {
        self.entry(controller).2.as_path()
    }

    fn entry(&self, controller: &str) -> &(String, Hierarchy, PathBuf) {
        self.dirs
            .iter()
            .find(|(c, _, _)| c == controller)
            .unwrap_or_else(|| panic!("TestCgroup was not created with {controller}"))
    }

    /// Whether `controller` is on the v2 hierarchy.
    pub fn is_v2(&self, controller: &str) -> bool {
        self.entry(controller).1.v2
    }

    /// Writes `value` to `file` in the directory carrying `controller`.
    pub fn write(&self, controller: &str, file: &str, value: &str) -> io::Result<()> {
        let path = self.dir(controller).join(file);
        fs::write(&path, value).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("writing {value:?} to {}: {e}", path.display()),
            )
        })
    }

    /// Reads `file` in the directory carrying `controller`.
    pub fn read(&self, controller: &str, file: &str) -> io::Result<String> {
        fs::read_to_string(self.dir(controller).join(file))
    }

    /// Sets the CFS quota: `cpu.max` on v2, `cpu.cfs_*_us` on v1.
    pub fn set_cpu_quota(&self, quota_us: u64, period_us: u64) -> io::Result<()> {
        if self.is_v2("cpu") {
            self.write("cpu", "cpu.max", &format!("{quota_us} {period_us}"))
        } else {
            // Period first, so the quota is checked against the new one.
            self.write("cpu", "cpu.cfs_period_us", &period_us.to_string())?;
            self.write("cpu", "cpu.cfs_quota_us", &quota_us.to_string())
        }
    }

    /// Restricts the cgroup to `cpus`. On v1 `cpuset.mems` must be set
    /// before a task may join, so it is copied from the parent.
    pub fn set_cpuset(&self, cpus: &CpuSet) -> io::Result<()> {
        if !self.is_v2("cpuset") {
            let parent = self.dir("cpuset").parent().unwrap_or(Path::new("/"));
            let mems = fs::read_to_string(parent.join("cpuset.effective_mems"))
                .or_else(|_| fs::read_to_string(parent.join("cpuset.mems")))?;
            self.write("cpuset", "cpuset.mems", mems.trim())?;
        }
        self.write("cpuset", "cpuset.cpus", &cpus.to_string())
    }

    /// A command running this test binary's `helper` test (an `#[ignore]`d
    /// test that calls [`join_if_child`] first) inside this cgroup.
    pub fn child_command(&self, helper: &str) -> Command {
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut dirs: Vec<String> = self
            .dirs
            .iter()
            .map(|(_, _, d)| d.display().to_string())
            .collect();
        dirs.dedup();
        let mut cmd = Command::new(exe);
        cmd.args([
            "--exact",
            helper,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dirs.join("\n"))
        .env_remove("PERF_RUNTIME_WORKER_THREADS");
        cmd
    }

    /// Runs `helper` inside the cgroup and waits for it.
    pub fn run_child(&self, helper: &str) -> Output {
        self.child_command(helper)
            .output()
            .expect("spawning the test binary as a child")
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let mut dirs: Vec<&PathBuf> = self.dirs.iter().map(|(_, _, d)| d).collect();
        dirs.dedup();
        for dir in dirs {
            // A child still alive (a failed test may leave one) is moved
            // back to the parent, or rmdir fails with EBUSY.
            if let (Ok(procs), Some(parent)) =
                (fs::read_to_string(dir.join("cgroup.procs")), dir.parent())
            {
                for pid in procs.split_whitespace() {
                    let _ = fs::write(parent.join("cgroup.procs"), pid);
                }
            }
            // The kernel can report a just-reaped child for a moment.
            let mut result = fs::remove_dir(dir);
            for _ in 0..100 {
                if result.is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
                result = fs::remove_dir(dir);
            }
            if let Err(e) = result {
                eprintln!(
                    "warning: could not remove test cgroup {}: {e}",
                    dir.display()
                );
            }
        }
    }
}

/// In a child started by [`TestCgroup::child_command`]: joins the cgroups
/// and returns `true`. Elsewhere (a plain `--ignored` run): returns `false`.
pub fn join_if_child() -> bool {
    let Ok(dirs) = std::env::var(CHILD_ENV) else {
        return false;
    };
    let pid = std::process::id().to_string();
    for dir in dirs.lines() {
        let procs = Path::new(dir).join("cgroup.procs");
        fs::write(&procs, &pid)
            .unwrap_or_else(|e| panic!("child: cannot join {}: {e}", procs.display()));
    }
    true
}

/// Prints `SKIPPED: <why>` on stderr. Written to the stream directly, not
/// through `eprintln!`, which libtest captures and hides for a passing
/// test: a skip must show in a plain `cargo test` run.
fn skip(why: &str) {
    let _ = writeln!(io::stderr(), "SKIPPED: {why}");
}

/// The value of `key` in a [`Limits::log_line`].
fn field<'a>(log_line: &'a str, key: &str) -> &'a str {
    log_line
        .split(' ')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key}= in {log_line:?}"))
}

/// The child: joins the cgroup, detects, prints what the parent checks.
#[test]
#[ignore = "run by the container_cgroup tests inside a cgroup"]
fn cgroup_child_helper() {
    if !join_if_child() {
        eprintln!("cgroup_child_helper only does something when started by a TestCgroup");
        return;
    }
    let limits = Limits::detect();
    let decision = limits.workers(Rounding::Ceil, None);
    // libtest prints `test name ... ` without a newline before the output.
    println!();
    println!("CHILD_LIMITS {}", limits.log_line());
    println!("CHILD_WORKERS {}", decision.workers);
    println!("CHILD_REASON {}", decision.reason);
    println!("CHILD_CPU_DIR {:?}", limits.source.cpu_dir);
    for line in limits.to_string().lines() {
        println!("CHILD_HUMAN {line}");
    }
}

#[test]
fn child_in_a_1_5_cpu_cgroup_detects_the_quota_and_sizes_the_pool() {
    let before = Limits::detect();
    eprintln!("this process: {}", before.log_line());
    let cgroup = match TestCgroup::create("quota", &["cpu"]) {
        Ok(c) => c,
        Err(why) => return skip(&why),
    };
    if let Err(e) = cgroup.set_cpu_quota(150_000, 100_000) {
        return skip(&format!("cannot set a CPU quota: {e}"));
    }
    // A 1-CPU cpuset where that controller is writable too.
    let one_cpu: Option<(TestCgroup, usize)> = match TestCgroup::create("cpuset", &["cpuset"]) {
        Ok(cs) => {
            let cpu = before.cpuset.iter().last().expect("a non-empty cpuset");
            match cs.set_cpuset(&[cpu].into_iter().collect()) {
                Ok(()) => Some((cs, cpu)),
                Err(e) => {
                    let msg = format!("cpuset not restricted ({e}); checking the quota alone");
                    let _ = writeln!(io::stderr(), "SKIPPED (part): {msg}");
                    None
                }
            }
        }
        Err(why) => {
            let msg = format!("no cpuset cgroup ({why}); checking the quota alone");
            let _ = writeln!(io::stderr(), "SKIPPED (part): {msg}");
            None
        }
    };
    // One child joins both: combine the directories.
    let mut cmd = cgroup.child_command("cgroup_child_helper");
    if let Some((cs, _)) = &one_cpu {
        let dirs = format!(
            "{}\n{}",
            cgroup.dir("cpu").display(),
            cs.dir("cpuset").display()
        );
        cmd.env(CHILD_ENV, dirs);
    }
    let out = cmd.output().expect("spawning the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    let line = |tag: &str| {
        stdout
            .lines()
            .find_map(|l| l.split_once(tag).map(|(_, rest)| rest))
            .unwrap_or_else(|| panic!("no {tag} in the child's output:\n{stdout}\n{stderr}"))
            .trim()
            .to_owned()
    };
    let limits = line("CHILD_LIMITS ");
    eprintln!("child: {limits}\nchild workers: {}", line("CHILD_REASON "));
    assert_eq!(field(&limits, "cpu_quota"), "1.5", "{stdout}");
    let cpu_dir = line("CHILD_CPU_DIR ");
    let expected_dir = format!("{:?}", Some(cgroup.dir("cpu")));
    assert_eq!(cpu_dir, expected_dir, "the quota came from the test cgroup");
    let mode = field(&limits, "mode");
    assert_ne!(mode, CgroupMode::Absent.as_str());
    let cpus: usize = field(&limits, "cpus").parse().unwrap();
    let workers: usize = line("CHILD_WORKERS ").parse().unwrap();
    match &one_cpu {
        Some((_, cpu)) => {
            assert_eq!(field(&limits, "cpuset"), cpu.to_string(), "{stdout}");
            assert_eq!(workers, 1, "min(1 CPU, ceil(1.5))");
            assert_eq!(
                line("CHILD_REASON "),
                "1.5-CPU quota rounded up (Ceil) = 2; cpuset allows 1, so 1"
            );
        }
        None => {
            assert_eq!(cpus, before.cpuset.len());
            assert_eq!(workers, 2.min(cpus), "ceil(1.5) capped by the cpuset");
        }
    }
    // The parent is not in the cgroup, so it saw no such quota.
    assert_ne!(before.source.cpu_dir.as_deref(), Some(cgroup.dir("cpu")));
}

#[test]
fn test_cgroup_helper_creates_configures_and_removes() {
    let dir;
    {
        let cgroup = match TestCgroup::create("helper", &["cpu"]) {
            Ok(c) => c,
            Err(why) => return skip(&why),
        };
        dir = cgroup.dir("cpu").to_owned();
        assert!(dir.is_dir());
        cgroup.set_cpu_quota(50_000, 100_000).unwrap();
        let file = if cgroup.is_v2("cpu") {
            "cpu.max"
        } else {
            "cpu.cfs_quota_us"
        };
        assert!(cgroup.read("cpu", file).unwrap().starts_with("50000"));
        // A child ran inside and exited: the directory must still go.
        let out = cgroup.run_child("cgroup_child_helper");
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("CHILD_LIMITS"));
        assert!(cgroup
            .read("cpu", "cgroup.procs")
            .unwrap()
            .trim()
            .is_empty());
    }
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[path = "container_cgroup_live.rs"]
mod live;
