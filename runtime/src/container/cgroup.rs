//! Where this process's cgroups are: parsing `/proc/self/mountinfo` and
//! `/proc/self/cgroup`, and turning a controller name into the directory to
//! read and the directory where the upward walk stops.
//!
//! The path in `/proc/self/cgroup` is relative to the root of the hierarchy
//! *as the kernel sees it from this process's cgroup namespace*, while the
//! mount's root field (the 4th of mountinfo) says which directory of that
//! hierarchy the mount shows. In a container with its own cgroup namespace
//! both are `/`; in one without (Docker on cgroup v1, older runtimes) the
//! file says `/docker/<id>` and the mount root is `/docker/<id>` too, so the
//! process's directory is the mount point itself. Joining the two paths
//! naively would look for `/sys/fs/cgroup/cpu/docker/<id>`, which does not
//! exist inside the container.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// Which cgroup hierarchies the host has mounted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CgroupMode {
    /// Only the unified hierarchy (`cgroup2`).
    V2,
    /// Only v1 hierarchies, one per controller or group of controllers.
    V1,
    /// v1 controller hierarchies together with a `cgroup2` mount (systemd's
    /// "hybrid" layout, usually at `/sys/fs/cgroup/unified`). Resource
    /// controllers bound to v1 are read there; pressure files come from the
    /// v2 mount.
    Hybrid,
    /// No cgroup file system was found: not Linux, `/proc` not mounted, or
    /// cgroups not mounted in this mount namespace.
    Absent,
}

impl CgroupMode {
    /// A short lowercase name: `v2`, `v1`, `hybrid` or `absent`.
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupMode::V2 => "v2",
            CgroupMode::V1 => "v1",
            CgroupMode::Hybrid => "hybrid",
            CgroupMode::Absent => "absent",
        }
    }
}

impl fmt::Display for CgroupMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One cgroup mount from mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Mount {
    /// The directory of the hierarchy the mount shows (mountinfo field 4).
    pub(super) root: String,
    /// Where it is mounted, as the process sees it (mountinfo field 5).
    pub(super) mount_point: String,
    /// `None` for `cgroup2`; the controllers (and `name=` of a named
    /// hierarchy) for a v1 mount.
    pub(super) v1_controllers: Option<Vec<String>>,
}

/// One line of `/proc/self/cgroup`: `id:controllers:path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Membership {
    /// Empty for the v2 line (`0::/path`).
    pub(super) controllers: Vec<String>,
    pub(super) path: String,
}

/// Where a controller's files are for this process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Location {
    /// Whether the controller is on a v2 (unified) hierarchy.
    pub(super) v2: bool,
    /// This process's cgroup directory, re-rooted under the detection root.
    pub(super) dir: PathBuf,
    /// The mount point: the highest directory the walk may read.
    pub(super) top: PathBuf,
}

impl Location {
    /// `dir`, then each parent up to and including `top`. If `dir` is not
    /// under `top` (cannot happen through [`locate`]) only `dir` is returned.
    pub(super) fn walk(&self) -> Vec<PathBuf> {
        let mut out = vec![self.dir.clone()];
        if !self.dir.starts_with(&self.top) {
            return out;
        }
        let mut cur = self.dir.as_path();
        while cur != self.top {
            match cur.parent() {
                Some(parent) => {
                    out.push(parent.to_owned());
                    cur = parent;
                }
                None => break,
            }
        }
        out
    }
}

/// Parses mountinfo, keeping the `cgroup` and `cgroup2` mounts.
///
/// # Errors
///
/// A line that does not have the mountinfo shape (too few fields, or no `-`
/// separator), with its line number.
pub(super) fn parse_mountinfo(text: &str) -> Result<Vec<Mount>, String> {
    let mut mounts = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let bad = || format!("line {} is not a mountinfo line: {line:?}", n + 1);
        let sep = fields.iter().position(|&f| f == "-").ok_or_else(bad)?;
        // id, parent, major:minor, root, mount point, options come first;
        // file system type, source and super options follow the separator.
        if sep < 6 || fields.len() < sep + 4 {
            return Err(bad());
        }
        let fstype = fields[sep + 1];
        let v1_controllers = match fstype {
            "cgroup2" => None,
            "cgroup" => {
                let controllers = fields[sep + 3]
                    .split(',')
                    .filter(|o| !matches!(*o, "rw" | "ro") && !o.is_empty())
                    .map(str::to_owned)
                    .collect();
                Some(controllers)
            }
            _ => continue,
        };
        mounts.push(Mount {
            root: unescape(fields[3]),
            mount_point: unescape(fields[4]),
            v1_controllers,
        });
    }
    Ok(mounts)
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\011`, `\012`,
/// `\134`); a backslash not followed by three octal digits is kept.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(byte) = u8::try_from(value) {
                    out.push(byte);
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

/// Parses `/proc/self/cgroup`.
///
/// # Errors
///
/// A line without two `:` separators, or whose path does not start with `/`,
/// with its line number.
pub(super) fn parse_proc_cgroup(text: &str) -> Result<Vec<Membership>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = || format!("line {} is not `id:controllers:path`: {line:?}", n + 1);
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if id.parse::<u32>().is_err() || !path.starts_with('/') {
            return Err(bad());
        }
        let controllers = controllers
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect();
        out.push(Membership {
            controllers,
            path: path.to_owned(),
        });
    }
    Ok(out)
}

/// The resource controllers of cgroup v1, as they appear in mount options.
const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "blkio",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// The mode these mounts make.
pub(super) fn mode(mounts: &[Mount]) -> CgroupMode {
    let v2 = mounts.iter().any(|m| m.v1_controllers.is_none());
    // A named v1 hierarchy alone (`name=systemd`) limits nothing; its other
    // options (`xattr`, `noprefix`, ...) are no controllers either.
    let v1 = mounts.iter().any(|m| {
        m.v1_controllers
            .as_ref()
            .is_some_and(|c| c.iter().any(|c| V1_CONTROLLERS.contains(&c.as_str())))
    });
    match (v1, v2) {
        (true, true) => CgroupMode::Hybrid,
        (true, false) => CgroupMode::V1,
        (false, true) => CgroupMode::V2,
        (false, false) => CgroupMode::Absent,
    }
}

/// The v1 location of `controller`, if a v1 hierarchy carries it. `notes`
/// receives why the process's own directory could not be used, if so.
pub(super) fn locate_v1(
    root: &Path,
    mounts: &[Mount],
    members: &[Membership],
    controller: &str,
    notes: &mut Vec<String>,
) -> Option<Location> {
    let has = |list: &[String]| list.iter().any(|c| c == controller);
    let member = members.iter().find(|m| has(&m.controllers))?;
    let candidates: Vec<&Mount> = mounts
        .iter()
        .filter(|m| m.v1_controllers.as_deref().is_some_and(has))
        .collect();
    resolve(root, &candidates, &member.path, false, controller, notes)
}

/// The location of the unified (v2) hierarchy for this process, if mounted
/// and listed in `/proc/self/cgroup`.
pub(super) fn locate_v2(
    root: &Path,
    mounts: &[Mount],
    members: &[Membership],
    notes: &mut Vec<String>,
) -> Option<Location> {
    // The v2 line is `0::/path`; a v1 hierarchy always has a controller or
    // a `name=`.
    let member = members.iter().find(|m| m.controllers.is_empty())?;
    let candidates: Vec<&Mount> = mounts
        .iter()
        .filter(|m| m.v1_controllers.is_none())
        .collect();
    resolve(root, &candidates, &member.path, true, "cgroup2", notes)
}

/// Picks the mount that shows `path` (the one whose root is the longest
/// prefix of it) and joins the rest of `path` to its mount point.
fn resolve(
    root: &Path,
    candidates: &[&Mount],
    path: &str,
    v2: bool,
    what: &str,
    notes: &mut Vec<String>,
) -> Option<Location> {
    let best = candidates
        .iter()
        .filter_map(|m| relative_to(path, &m.root).map(|rel| (m, rel)))
        .max_by_key(|(m, _)| m.root.len());
    match best {
        Some((mount, rel)) => {
            let top = reroot(root, &mount.mount_point);
            let dir = top.join(rel);
            Some(Location { v2, dir, top })
        }
        None => {
            let mount = candidates.first()?;
            let top = reroot(root, &mount.mount_point);
            notes.push(format!(
                "{what}: this process's cgroup {path:?} is not inside the mount's root {:?} \
                 (moved after the mount, or outside its cgroup namespace); reading limits \
                 at the mount point {} only",
                mount.root,
                top.display()
            ));
            Some(Location {
                v2,
                dir: top.clone(),
                top,
            })
        }
    }
}

/// `path` relative to the directory `base` (both absolute cgroup paths), or
/// `None` if `path` is not inside `base` or climbs with `..`.
fn relative_to(path: &str, base: &str) -> Option<PathBuf> {
    let rel = Path::new(path).strip_prefix(base).ok()?;
    let clean = rel.components().all(|c| matches!(c, Component::Normal(_)));
    clean.then(|| rel.to_owned())
}

/// An absolute path of the process's mount namespace, under `root`.
pub(super) fn reroot(root: &Path, absolute: &str) -> PathBuf {
    root.join(absolute.trim_start_matches('/'))
}
