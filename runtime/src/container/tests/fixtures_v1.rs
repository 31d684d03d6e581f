//! cgroup v1 and hybrid fixture trees.

use std::time::Duration;

use super::*;

const CPU: &str = "/sys/fs/cgroup/cpu,cpuacct";
const CPUSET: &str = "/sys/fs/cgroup/cpuset";
const MEMORY: &str = "/sys/fs/cgroup/memory";
/// v1's "unlimited": `i64::MAX` rounded down to a 4 KiB page.
const V1_UNLIMITED: &str = "9223372036854771712\n";

/// A v1 host, process in `/docker/abc`, with a 1.5-CPU quota, a 1-2 cpuset
/// and a 512 MiB limit on its cgroup, and unlimited roots.
fn v1_full(unified: bool) -> TempTree {
    let tree = v1_host("/docker/abc", "/", unified);
    tree.files(
        &format!("{CPU}/docker/abc"),
        &[
            ("cpu.cfs_quota_us", "150000\n"),
            ("cpu.cfs_period_us", "100000\n"),
            (
                "cpu.stat",
                "nr_periods 50\nnr_throttled 5\nthrottled_time 2500000000\nnr_bursts 0\nburst_time 0\n",
            ),
        ],
    )
    .files(
        CPU,
        &[("cpu.cfs_quota_us", "-1\n"), ("cpu.cfs_period_us", "100000\n")],
    )
    .files(
        &format!("{CPUSET}/docker/abc"),
        &[("cpuset.cpus", "1-2\n"), ("cpuset.effective_cpus", "1-2\n")],
    )
    .files(CPUSET, &[("cpuset.cpus", "0-7\n"), ("cpuset.effective_cpus", "0-7\n")])
    .files(
        &format!("{MEMORY}/docker/abc"),
        &[
            ("memory.limit_in_bytes", "536870912\n"),
            ("memory.usage_in_bytes", "268435456\n"),
            (
                "memory.stat",
                "cache 1000\ninactive_file 7\nhierarchical_memory_limit 536870912\n\
                 total_inactive_file 68435456\n",
            ),
        ],
    )
    .files(
        MEMORY,
        &[
            ("memory.limit_in_bytes", V1_UNLIMITED),
            ("memory.usage_in_bytes", "9000000000\n"),
        ],
    );
    tree
}

#[test]
fn v1_reads_joint_cpu_cpuacct_cpuset_and_memory() {
    let tree = v1_full(false);
    let l = tree.detect();
    assert_eq!(l.source.mode, CgroupMode::V1);
    assert_quota(&l, Some(1.5));
    assert_eq!(
        l.source.cpu_dir.as_deref(),
        Some(tree.at(&format!("{CPU}/docker/abc")).as_path())
    );
    assert_eq!(
        l.throttling,
        Some(Throttling {
            nr_periods: 50,
            nr_throttled: 5,
            throttled_time: Duration::from_millis(2500),
        })
    );
    assert_eq!(l.cpuset, set("1-2"));
    assert_eq!(l.memory_limit, Some(512 << 20));
    assert_eq!(l.memory_usage, 256 << 20);
    assert_eq!(
        l.memory_working_set, 200_000_000,
        "total_inactive_file, not inactive_file"
    );
    assert_eq!(l.pressure.cgroup_cpu, None, "no v2 hierarchy");
    assert!(l.pressure.system_cpu.is_some());
    assert!(l.source.fallbacks.is_empty(), "{:#?}", l.source.fallbacks);
    let d = l.workers(Rounding::Ceil, None);
    assert_eq!(
        (d.workers, d.reason.as_str()),
        (2, "1.5-CPU quota rounded up (Ceil) = 2; cpuset allows 2")
    );
    let d = l.workers(Rounding::Floor, None);
    assert_eq!(
        (d.workers, d.reason.as_str()),
        (1, "1.5-CPU quota rounded down (Floor) = 1; cpuset allows 2")
    );
}

#[test]
fn hybrid_takes_limits_from_v1_and_pressure_from_v2() {
    let tree = v1_full(true);
    let unified = "/sys/fs/cgroup/unified/docker/abc";
    tree.files(
        unified,
        &[
            ("cgroup.controllers", ""),
            ("cpu.pressure", &psi_text(33.0, Some(0.0))),
            ("memory.pressure", &psi_text(4.0, Some(1.0))),
            // Not authoritative in hybrid mode: cpu is bound to v1.
            ("cpu.max", "10000 100000\n"),
        ],
    );
    let l = tree.detect();
    assert_eq!(l.source.mode, CgroupMode::Hybrid);
    assert_quota(&l, Some(1.5));
    assert_eq!(l.memory_limit, Some(512 << 20));
    assert_eq!(l.pressure.cgroup_cpu.unwrap().some.avg10, 33.0);
    assert_eq!(l.pressure.memory().unwrap().full.unwrap().avg10, 1.0);
    assert!(l.source.fallbacks.is_empty(), "{:#?}", l.source.fallbacks);
    assert!(l
        .log_line()
        .to_string()
        .starts_with("mode=hybrid cpu_quota=1.5 cpuset=1-2 cpus=2 "));
}

#[test]
fn v1_unlimited_sentinels_are_no_limit() {
    let tree = v1_host("/app", "/", false);
    tree.files(
        &format!("{CPU}/app"),
        &[
            ("cpu.cfs_quota_us", "-1\n"),
            ("cpu.cfs_period_us", "100000\n"),
        ],
    )
    .files(
        &format!("{MEMORY}/app"),
        &[
            ("memory.limit_in_bytes", V1_UNLIMITED),
            ("memory.usage_in_bytes", "4096\n"),
            ("memory.stat", "total_inactive_file 96\n"),
        ],
    )
    // 64 KiB pages round i64::MAX down further; still unlimited.
    .file(
        &format!("{MEMORY}/memory.limit_in_bytes"),
        "9223372036854710272\n",
    );
    let l = tree.detect();
    assert_quota(&l, None);
    assert_eq!(l.throttling, None);
    assert_eq!(l.memory_limit, None);
    assert_eq!((l.memory_usage, l.memory_working_set), (4096, 4000));
    assert!(l.source.fallbacks.is_empty(), "{:#?}", l.source.fallbacks);
}

#[test]
fn v1_parent_tighter_than_leaf_wins() {
    let tree = v1_host("/parent/leaf", "/", false);
    tree.files(
        &format!("{CPU}/parent/leaf"),
        &[
            ("cpu.cfs_quota_us", "300000\n"),
            ("cpu.cfs_period_us", "100000\n"),
        ],
    )
    .files(
        &format!("{CPU}/parent"),
        &[
            ("cpu.cfs_quota_us", "50000\n"),
            ("cpu.cfs_period_us", "100000\n"),
            (
                "cpu.stat",
                "nr_periods 10\nnr_throttled 9\nthrottled_time 1000\n",
            ),
        ],
    )
    .files(
        &format!("{MEMORY}/parent/leaf"),
        &[
            ("memory.limit_in_bytes", "4000\n"),
            ("memory.usage_in_bytes", "100\n"),
        ],
    )
    .files(
        &format!("{MEMORY}/parent"),
        &[
            ("memory.limit_in_bytes", "2000\n"),
            ("memory.usage_in_bytes", "1900\n"),
            ("memory.stat", "total_inactive_file 0\n"),
        ],
    )
    .files(
        &format!("{CPUSET}/parent/leaf"),
        &[("cpuset.cpus", "0-5\n")],
    )
    .files(&format!("{CPUSET}/parent"), &[("cpuset.cpus", "4-7\n")]);
    let l = tree.detect();
    assert_quota(&l, Some(0.5));
    assert_eq!(l.throttling.unwrap().nr_throttled, 9);
    assert_eq!(l.memory_limit, Some(2000));
    assert_eq!(
        l.memory_usage, 1900,
        "usage of the cgroup whose limit binds"
    );
    assert_eq!(l.cpuset, set("4-5"), "levels are intersected");
    assert_eq!(l.memory_pressure(), PressureLevel::Critical);
    let d = l.workers(Rounding::Ceil, None);
    assert_eq!(
        (d.workers, d.reason.as_str()),
        (1, "0.5-CPU quota rounded up (Ceil) = 1; cpuset allows 2")
    );
}

#[test]
fn v1_without_cgroup_namespace_resolves_through_the_mount_root() {
    // Docker on v1 without a cgroup namespace: /proc/self/cgroup says
    // /docker/abc and each controller is mounted showing /docker/abc.
    let tree = v1_host("/docker/abc", "/docker/abc", false);
    tree.files(
        CPU,
        &[
            ("cpu.cfs_quota_us", "200000\n"),
            ("cpu.cfs_period_us", "100000\n"),
        ],
    )
    .files(
        MEMORY,
        &[
            ("memory.limit_in_bytes", "1048576\n"),
            ("memory.usage_in_bytes", "1024\n"),
        ],
    );
    let l = tree.detect();
    assert_quota(&l, Some(2.0));
    assert_eq!(l.source.cpu_dir.as_deref(), Some(tree.at(CPU).as_path()));
    assert_eq!(l.memory_limit, Some(1 << 20));
    // The mount point has no memory.stat: working set falls back to usage.
    assert_eq!(l.memory_working_set, 1024);
    assert_fallback(&l, &["total_inactive_file", "working set = usage"]);
}

#[test]
fn v1_kubepods_cgroupfs_paths_give_the_class() {
    for (path, class) in [
        ("/kubepods/besteffort/pod1/ctr", K8sQos::BestEffort),
        ("/kubepods/burstable/pod1/ctr", K8sQos::Burstable),
        ("/kubepods/pod1/ctr", K8sQos::Guaranteed),
    ] {
        let tree = v1_host(path, "/", false);
        assert_eq!(tree.detect().k8s_qos, Some(class), "{path}");
        // Without a cgroup namespace the path shows in the mount root too.
        let tree = v1_host(path, path, false);
        assert_eq!(tree.detect().k8s_qos, Some(class), "{path} as mount root");
    }
}
