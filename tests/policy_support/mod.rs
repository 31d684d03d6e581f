//! Fixtures of the policy tests: a scratch directory, a fake cgroup v2
//! container under it (for `Builder::container_root`), and a directory laid
//! out as the kubelet lays out a ConfigMap volume, with its atomic swap.

#![allow(dead_code)]

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// A scratch directory, removed on drop.
pub struct Scratch {
    pub root: PathBuf,
}

impl Scratch {
    pub fn new(label: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "perf_runtime_policy_{}_{label}_{}",
            std::process::id(),
            N.fetch_add(1, SeqCst)
        ));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        Scratch { root }
    }

    pub fn put(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        // Write then rename: a monitor re-reading the file never sees half.
        let tmp = path.with_extension("partial");
        fs::write(&tmp, text).unwrap();
        fs::rename(&tmp, &path).unwrap();
        path
    }

    /// A cgroup v2 container on 2 CPUs with a `cpu.max` of `cpu_max` and
    /// `memory.current` / `memory.max` as given, under `container/`;
    /// returns the root to pass to `Builder::container_root`.
    pub fn container(&self, cpu_max: &str, memory_current: u64, memory_max: u64) -> PathBuf {
        self.container_in("svc", cpu_max, memory_current, memory_max)
    }

    /// [`container`](Self::container) in the cgroup `cgroup` (a pod's path
    /// under `kubepods` makes detection find a pod QoS class).
    pub fn container_in(
        &self,
        cgroup: &str,
        cpu_max: &str,
        memory_current: u64,
        memory_max: u64,
    ) -> PathBuf {
        let dir = format!("sys/fs/cgroup/{cgroup}");
        let files = [
            (
                "proc/self/mountinfo".to_owned(),
                "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
                    .to_owned(),
            ),
            ("proc/self/cgroup".to_owned(), format!("0::/{cgroup}\n")),
            (
                "proc/self/status".to_owned(),
                "Cpus_allowed_list:\t0-1\n".to_owned(),
            ),
            (
                "sys/devices/system/cpu/online".to_owned(),
                "0-1\n".to_owned(),
            ),
            (format!("{dir}/cpu.max"), format!("{cpu_max}\n")),
            (format!("{dir}/cpuset.cpus.effective"), "0-1\n".to_owned()),
            (format!("{dir}/memory.max"), format!("{memory_max}\n")),
            (
                format!("{dir}/memory.current"),
                format!("{memory_current}\n"),
            ),
        ];
        for (rel, text) in files {
            self.put(&format!("container/{rel}"), &text);
        }
        self.root.join("container")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// A ConfigMap volume as the kubelet writes it:
/// `dir/policy.toml -> ..data/policy.toml`, `..data -> ..<version>`.
/// [`swap`](Self::swap) writes a new version directory and replaces the
/// `..data` link with one `rename`, as the kubelet's atomic writer does.
pub struct ConfigMapDir {
    pub dir: PathBuf,
    version: usize,
}

impl ConfigMapDir {
    pub fn new(dir: PathBuf, text: &str) -> ConfigMapDir {
        fs::create_dir_all(&dir).unwrap();
        let mut c = ConfigMapDir { dir, version: 0 };
        c.swap(text);
        std::os::unix::fs::symlink("..data/policy.toml", c.file()).unwrap();
        c
    }

    /// The path `PERF_RUNTIME_POLICY` points at.
    pub fn file(&self) -> PathBuf {
        self.dir.join("policy.toml")
    }

    pub fn swap(&mut self, text: &str) {
        self.version += 1;
        let version = format!("..v{}", self.version);
        let new = self.dir.join(&version);
        fs::create_dir_all(&new).unwrap();
        fs::write(new.join("policy.toml"), text).unwrap();
        let tmp = self.dir.join("..data_tmp");
        std::os::unix::fs::symlink(&version, &tmp).unwrap();
        fs::rename(&tmp, self.dir.join("..data")).unwrap();
        if self.version > 1 {
            fs::remove_dir_all(self.dir.join(format!("..v{}", self.version - 1))).unwrap();
        }
    }
}
