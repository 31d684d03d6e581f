//! The file formats: mountinfo, `/proc/self/cgroup`, PSI, `cpu.stat`, and
//! the Kubernetes path rules.

use std::time::Duration;

use super::super::cgroup::{self, Location};
use super::*;

#[test]
fn mountinfo_keeps_cgroup_mounts_with_roots_and_controllers() {
    let text = format!(
        "{BASE_MOUNTS}\
         31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n\
         32 31 0:29 /docker/abc /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:1 master:2 - cgroup cgroup rw,cpu,cpuacct\n\
         33 31 0:30 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n\
         41 31 0:38 / /mnt/my\\040cgroups rw - cgroup2 cgroup2 rw,nsdelegate\n"
    );
    let mounts = cgroup::parse_mountinfo(&text).unwrap();
    assert_eq!(mounts.len(), 3);
    assert_eq!(mounts[0].root, "/docker/abc");
    assert_eq!(mounts[0].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
    assert_eq!(
        mounts[0].v1_controllers.as_deref(),
        Some(&["cpu".to_owned(), "cpuacct".to_owned()][..]),
        "optional fields before `-` are skipped, rw is not a controller"
    );
    assert_eq!(
        mounts[1].v1_controllers.as_deref(),
        Some(&["xattr".to_owned(), "name=systemd".to_owned()][..])
    );
    assert_eq!(
        mounts[2].mount_point, "/mnt/my cgroups",
        "octal escapes undone"
    );
    assert_eq!(mounts[2].v1_controllers, None);
    assert_eq!(cgroup::mode(&mounts), CgroupMode::Hybrid);
    assert_eq!(
        cgroup::mode(&mounts[1..]),
        CgroupMode::V2,
        "name= only is no v1 controller"
    );
    assert_eq!(cgroup::mode(&mounts[..1]), CgroupMode::V1);
    assert_eq!(cgroup::mode(&[]), CgroupMode::Absent);
}

#[test]
fn mountinfo_rejects_lines_without_the_separator() {
    let err = cgroup::parse_mountinfo("1 2 3:4 / /x rw\n").unwrap_err();
    assert!(err.contains("line 1"), "{err}");
    let err = cgroup::parse_mountinfo("\n1 2 3:4 / - cgroup2 x rw\n").unwrap_err();
    assert!(err.contains("line 2"), "{err}");
}

/// A line that ends right after the file system type and source (no super
/// options) is an error, not a panic (found by the `cgroup_tree` fuzz
/// target: a v1 `cgroup` line read its controllers past the end).
#[test]
fn mountinfo_rejects_a_line_cut_before_the_super_options() {
    for line in [
        "1 2 3:4 / /sys/fs/cgroup rw - cgroup cgroup\n",
        "1 2 3:4 / /x rw - cgroup2 x\n",
    ] {
        let err = cgroup::parse_mountinfo(line).unwrap_err();
        assert!(err.contains("line 1 is not a mountinfo line"), "{err}");
    }
}

#[test]
fn proc_cgroup_lines() {
    let members =
        cgroup::parse_proc_cgroup("4:cpu,cpuacct:/a/b\n1:name=systemd:/\n0::/c:d\n").unwrap();
    assert_eq!(members.len(), 3);
    assert_eq!(members[0].controllers, ["cpu", "cpuacct"]);
    assert_eq!(members[0].path, "/a/b");
    assert!(members[2].controllers.is_empty());
    assert_eq!(members[2].path, "/c:d", "a colon in the path is kept");
    assert!(cgroup::parse_proc_cgroup("x:cpu:/a\n").is_err());
    assert!(cgroup::parse_proc_cgroup("1:cpu\n").is_err());
    assert!(cgroup::parse_proc_cgroup("1:cpu:relative\n").is_err());
}

#[test]
fn locating_joins_the_path_below_the_mount_root() {
    let root = Path::new("/fixture");
    let mounts = cgroup::parse_mountinfo(
        "1 2 0:1 /kube /cg rw - cgroup cgroup rw,cpu,cpuacct\n\
         1 2 0:2 /kube/pod /cg-pod rw - cgroup cgroup rw,cpu,cpuacct\n",
    )
    .unwrap();
    let members = cgroup::parse_proc_cgroup("4:cpu,cpuacct:/kube/pod/ctr\n").unwrap();
    let mut notes = Vec::new();
    let loc = cgroup::locate_v1(root, &mounts, &members, "cpuacct", &mut notes).unwrap();
    assert_eq!(
        loc,
        Location {
            v2: false,
            dir: PathBuf::from("/fixture/cg-pod/ctr"),
            top: PathBuf::from("/fixture/cg-pod"),
        },
        "the mount with the longest matching root wins"
    );
    assert_eq!(
        loc.walk(),
        [
            PathBuf::from("/fixture/cg-pod/ctr"),
            PathBuf::from("/fixture/cg-pod")
        ]
    );
    assert!(notes.is_empty());
    assert_eq!(
        cgroup::locate_v1(root, &mounts, &members, "memory", &mut notes),
        None
    );
    assert_eq!(cgroup::locate_v2(root, &mounts, &members, &mut notes), None);
}

#[test]
fn psi_parses_some_and_full() {
    let psi = Psi::parse(
        "some avg10=1.50 avg60=2.25 avg300=0.00 total=1500\n\
         full avg10=0.10 avg60=0.20 avg300=0.30 total=7 future=1\n",
    )
    .unwrap();
    assert_eq!(
        psi.some,
        PsiLine {
            avg10: 1.5,
            avg60: 2.25,
            avg300: 0.0,
            total: Duration::from_micros(1500),
        }
    );
    assert_eq!(psi.full.unwrap().avg300, 0.3);
    let only_some = Psi::parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=0").unwrap();
    assert_eq!(only_some.full, None);
}

#[test]
fn psi_rejects_malformed_files() {
    for (text, why) in [
        ("", "no `some` line"),
        ("full avg10=0 avg60=0 avg300=0 total=0", "no `some` line"),
        ("some avg10=0 avg60=0 avg300=0", "no total="),
        ("some avg10=0 avg300=0 total=0", "no avg60="),
        (
            "some avg10=101 avg60=0 avg300=0 total=0",
            "not a percentage",
        ),
        (
            "some avg10=NaN avg60=0 avg300=0 total=0",
            "not a percentage",
        ),
        ("some avg10=0 avg60=0 avg300=0 total=-1", "not a count"),
        ("some avg10", "not key=value"),
        ("partial avg10=0", "unexpected line"),
    ] {
        let err = Psi::parse(text).unwrap_err();
        assert!(err.contains(why), "{text:?}: {err}");
    }
}

#[test]
fn cpu_stat_of_both_versions() {
    let v2 = Throttling::parse_cpu_stat(
        "usage_usec 10\nnr_periods 5\nnr_throttled 2\nthrottled_usec 1500\n",
    )
    .unwrap();
    assert_eq!(v2.throttled_time, Duration::from_micros(1500));
    let v1 =
        Throttling::parse_cpu_stat("nr_periods 5\nnr_throttled 2\nthrottled_time 1500\n").unwrap();
    assert_eq!(v1.throttled_time, Duration::from_nanos(1500));
    assert_eq!((v1.nr_periods, v1.nr_throttled), (5, 2));
    // An old kernel without throttled time still gives the counts.
    let bare = Throttling::parse_cpu_stat("nr_periods 1\nnr_throttled 0\n").unwrap();
    assert_eq!(bare.throttled_time, Duration::ZERO);
    for (text, why) in [
        ("nr_throttled 1\n", "no nr_periods"),
        ("nr_periods 1\n", "no nr_throttled"),
        (
            "nr_periods -1\nnr_throttled 0\n",
            "not a non-negative integer",
        ),
        ("nr_periods 1 2\n", "not `key value`"),
    ] {
        let err = Throttling::parse_cpu_stat(text).unwrap_err();
        assert!(err.contains(why), "{text:?}: {err}");
    }
}

#[test]
fn k8s_classes_from_paths_and_scores() {
    for (path, class) in [
        ("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-a.scope", Some(K8sQos::BestEffort)),
        ("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice", Some(K8sQos::Burstable)),
        ("/kubepods.slice/kubepods-pod1.slice/cri-containerd-a.scope", Some(K8sQos::Guaranteed)),
        ("/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/x", Some(K8sQos::BestEffort)),
        ("/kubepods/burstable/pod1/abc", Some(K8sQos::Burstable)),
        ("/kubepods/pod1/abc", Some(K8sQos::Guaranteed)),
        // "burstable" above the kubepods component does not count.
        ("/burstable/kubepods/pod1", Some(K8sQos::Guaranteed)),
        ("/system.slice/docker-abc.scope", None),
        ("/", None),
    ] {
        assert_eq!(K8sQos::from_cgroup_path(path), class, "{path}");
    }
    assert_eq!(K8sQos::from_oom_score_adj(-997), Some(K8sQos::Guaranteed));
    assert_eq!(K8sQos::from_oom_score_adj(-998), Some(K8sQos::Guaranteed));
    assert_eq!(K8sQos::from_oom_score_adj(-999), None, "the kubelet itself");
    assert_eq!(K8sQos::from_oom_score_adj(2), None);
    assert_eq!(K8sQos::from_oom_score_adj(3), Some(K8sQos::Burstable));
    assert_eq!(K8sQos::from_oom_score_adj(999), Some(K8sQos::Burstable));
    assert_eq!(K8sQos::from_oom_score_adj(1000), Some(K8sQos::BestEffort));
    assert_eq!(K8sQos::Burstable.to_string(), "Burstable");
}
