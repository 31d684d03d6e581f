//! The memory half of a [`Probe`]: the tightest limit, the usage of the
//! cgroup it binds, the working set, and the machine-wide fallback.

use std::path::{Path, PathBuf};

use super::{Level, Probe};
use crate::container::cgroup::Location;

/// v1 reports "no memory limit" as the largest page-counter value times the
/// page size: `i64::MAX` rounded down to a page (9223372036854771712 with
/// 4 KiB pages). Anything this close to `i64::MAX` (within 1 MiB, so every
/// page size up to that counts) is no limit; v2 writes `max` instead, but a
/// value this large there means the same.
const UNLIMITED_MEMORY_FROM: u64 = i64::MAX as u64 - (1 << 20);

impl Probe<'_> {
    /// The tightest memory limit up to the mount root, the usage of the
    /// cgroup that limit applies to (the leaf's without a limit), and the
    /// working set (usage less inactive file cache).
    pub(super) fn memory(&mut self, loc: Option<&Location>) -> (Option<u64>, u64, u64) {
        let mut best: Option<(u64, PathBuf)> = None;
        if let Some(loc) = loc {
            let file = if loc.v2 {
                "memory.max"
            } else {
                "memory.limit_in_bytes"
            };
            for dir in loc.walk() {
                let path = dir.join(file);
                let Some(text) = self.read(&path) else {
                    continue;
                };
                match self.memory_limit(&path, &text) {
                    Level::Limit(l) if best.as_ref().is_none_or(|(b, _)| l < *b) => {
                        best = Some((l, dir));
                    }
                    _ => {}
                }
            }
        }
        let limit = best.as_ref().map(|(l, _)| *l);
        self.sources.memory_dir = best.as_ref().map(|(_, dir)| dir.clone());
        if let Some(loc) = loc {
            let mut dirs = vec![loc.dir.clone()];
            if let Some((_, dir)) = best.filter(|(_, dir)| *dir != loc.dir) {
                dirs.insert(0, dir);
            }
            for dir in dirs {
                if let Some(usage) = self.memory_usage(&dir, loc.v2) {
                    return (limit, usage.0, usage.1);
                }
            }
        }
        match self.meminfo_usage() {
            Some(used) => {
                if loc.is_some() {
                    self.note(
                        "no cgroup memory usage could be read; using the machine's \
                         (MemTotal - MemAvailable of /proc/meminfo)"
                            .to_owned(),
                    );
                }
                (limit, used, used)
            }
            None => {
                self.note("no memory usage could be read; reporting 0".to_owned());
                (limit, 0, 0)
            }
        }
    }

    fn memory_limit(&mut self, path: &Path, text: &str) -> Level<u64> {
        let text = text.trim();
        if text == "max" || text == "-1" {
            return Level::Unlimited;
        }
        match text.parse::<u64>() {
            Ok(l) if l >= UNLIMITED_MEMORY_FROM => Level::Unlimited,
            Ok(0) => {
                self.note(format!(
                    "{}: a limit of 0 bytes would let nothing run; ignored",
                    path.display()
                ));
                Level::Bad
            }
            Ok(l) => Level::Limit(l),
            Err(_) => {
                self.note(format!(
                    "{}: {text:?} is not `max` or a number of bytes; ignored",
                    path.display()
                ));
                Level::Bad
            }
        }
    }

    /// Usage and working set of the cgroup at `dir`, if its usage file reads.
    fn memory_usage(&mut self, dir: &Path, v2: bool) -> Option<(u64, u64)> {
        let (usage_file, inactive_key) = if v2 {
            ("memory.current", "inactive_file")
        } else {
            ("memory.usage_in_bytes", "total_inactive_file")
        };
        let path = dir.join(usage_file);
        let text = self.read(&path)?;
        let Ok(usage) = text.trim().parse::<u64>() else {
            self.note(format!(
                "{}: {:?} is not a number of bytes; ignored",
                path.display(),
                text.trim()
            ));
            return None;
        };
        let stat_path = dir.join("memory.stat");
        let inactive = self.read(&stat_path).and_then(|stat| {
            stat.lines().find_map(|l| {
                let (key, value) = l.split_once(' ')?;
                (key == inactive_key).then(|| value.trim().parse::<u64>().ok())?
            })
        });
        if inactive.is_none() {
            self.note(format!(
                "no {inactive_key} in {}; working set = usage",
                stat_path.display()
            ));
        }
        Some((usage, usage.saturating_sub(inactive.unwrap_or(0))))
    }

    /// MemTotal - MemAvailable of `proc/meminfo`, in bytes.
    fn meminfo_usage(&mut self) -> Option<u64> {
        let path = self.proc_file("meminfo");
        let text = self.read(&path)?;
        let field = |name: &str| {
            text.lines().find_map(|l| {
                let rest = l.strip_prefix(name)?.strip_prefix(':')?;
                let kib = rest.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()?;
                kib.checked_mul(1024)
            })
        };
        Some(field("MemTotal")?.saturating_sub(field("MemAvailable")?))
    }
}
