//! cgroup v2 fixture trees.

use std::time::Duration;

use super::*;

const APP: &str = "/sys/fs/cgroup/system.slice/app.service";

/// A v2 host with a 1.5-CPU quota, a 0-3 cpuset, a 1 GiB limit and PSI on
/// the process's own cgroup.
fn v2_full() -> TempTree {
    let tree = v2_host("/system.slice/app.service", "/", "/sys/fs/cgroup");
    tree.file(
        "sys/fs/cgroup/cgroup.controllers",
        "cpuset cpu io memory pids\n",
    )
    .files(
        APP,
        &[
            ("cgroup.controllers", "cpuset cpu memory pids\n"),
            ("cpu.max", "150000 100000\n"),
            ("cpuset.cpus.effective", "0-3\n"),
            ("memory.max", "1073741824\n"),
            ("memory.current", "536870912\n"),
            (
                "memory.stat",
                "anon 400000000\nfile 136870912\ninactive_file 100000000\n",
            ),
            (
                "cpu.stat",
                "usage_usec 9000\nuser_usec 5000\nsystem_usec 4000\nnr_periods 200\n\
                     nr_throttled 12\nthrottled_usec 345678\nnr_bursts 0\nburst_usec 0\n",
            ),
            ("cpu.pressure", &psi_text(2.5, Some(0.5))),
            ("memory.pressure", &psi_text(1.25, Some(0.0))),
        ],
    )
    .file("proc/pressure/cpu", &psi_text(7.0, Some(0.0)))
    .file("proc/pressure/memory", &psi_text(0.0, Some(0.0)));
    tree
}

#[test]
fn v2_reads_every_limit_of_the_process_cgroup() {
    let tree = v2_full();
    let l = tree.detect();
    assert_eq!(l.source.mode, CgroupMode::V2);
    assert_quota(&l, Some(1.5));
    assert_eq!(l.source.cpu_dir.as_deref(), Some(tree.at(APP).as_path()));
    assert_eq!(l.cpuset, set("0-3"));
    assert_eq!(l.memory_limit, Some(1 << 30));
    assert_eq!(l.memory_usage, 512 << 20);
    assert_eq!(l.memory_working_set, (512 << 20) - 100_000_000);
    assert_eq!(
        l.throttling,
        Some(Throttling {
            nr_periods: 200,
            nr_throttled: 12,
            throttled_time: Duration::from_micros(345_678),
        })
    );
    assert_eq!(l.pressure.cgroup_cpu.unwrap().some.avg10, 2.5);
    assert_eq!(
        l.pressure.cpu().unwrap().some.avg10,
        2.5,
        "cgroup PSI first"
    );
    assert_eq!(l.pressure.system_cpu.unwrap().some.avg10, 7.0);
    assert_eq!(l.pressure.memory().unwrap().some.avg10, 1.25);
    assert_eq!(l.k8s_qos, None);
    assert!(l.source.fallbacks.is_empty(), "{:#?}", l.source.fallbacks);
    assert!(l.source.files.contains(&tree.at(APP).join("cpu.max")));
    assert_eq!(l.source.cpu_stat, Some(tree.at(APP).join("cpu.stat")));
    let d = l.workers(Rounding::Ceil, None);
    assert_eq!(d.workers, 2);
    assert_eq!(
        d.reason,
        "1.5-CPU quota rounded up (Ceil) = 2; cpuset allows 4"
    );
}

#[test]
fn v2_log_line_is_stable() {
    let tree = v2_full();
    let l = tree.detect();
    assert_eq!(
        l.log_line().to_string(),
        "mode=v2 cpu_quota=1.5 cpuset=0-3 cpus=4 mem_limit=1073741824 mem_usage=536870912 \
         mem_working_set=436870912 nr_periods=200 nr_throttled=12 throttled_us=345678 \
         psi_cpu_some10=2.50 psi_mem_some10=1.25 psi_mem_full10=0.00 k8s_qos=none fallbacks=0"
    );
    let human = l.to_string();
    for line in [
        "cgroup: v2\n",
        "cpu quota: 1.5 CPUs (from ",
        "cpuset: 0-3 (4 CPUs)\n",
        "memory: 512.0 MiB used (416.6 MiB working set) of 1.0 GiB limit\n",
        "throttling: 12 of 200 periods throttled, 0.346 s held back\n",
        "pressure: cpu some 2.50% (cgroup); memory some 1.25%, full 0.00% (cgroup)\n",
        "k8s QoS: not a pod\n",
    ] {
        assert!(human.contains(line), "{line:?} not in:\n{human}");
    }
    assert!(!human.contains("fallback:"), "{human}");
}

#[test]
fn v2_read_throttling_rereads_cpu_stat() {
    let tree = v2_full();
    let l = tree.detect();
    tree.file(
        &format!("{APP}/cpu.stat"),
        "nr_periods 300\nnr_throttled 40\nthrottled_usec 1000000\n",
    );
    let t = l.read_throttling().unwrap();
    assert_eq!((t.nr_periods, t.nr_throttled), (300, 40));
    assert_eq!(t.throttled_time, Duration::from_secs(1));
    tree.file(&format!("{APP}/cpu.stat"), "nr_periods lots\n");
    let err = l.read_throttling().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("cpu.stat"), "{err}");
}

#[test]
fn v2_parent_tighter_than_leaf_wins() {
    let tree = v2_host(
        "/kubepods.slice/pod1.slice/ctr.scope",
        "/",
        "/sys/fs/cgroup",
    );
    let pod = "/sys/fs/cgroup/kubepods.slice/pod1.slice";
    let ctr = "/sys/fs/cgroup/kubepods.slice/pod1.slice/ctr.scope";
    tree.files(
        ctr,
        &[
            ("cpu.max", "400000 100000\n"),
            ("memory.max", "4294967296\n"),
            ("memory.current", "1000\n"),
            (
                "cpu.stat",
                "nr_periods 1\nnr_throttled 0\nthrottled_usec 0\n",
            ),
        ],
    )
    .files(
        pod,
        &[
            ("cpu.max", "50000 25000\n"),
            ("memory.max", "2147483648\n"),
            ("memory.current", "2000\n"),
            ("memory.stat", "inactive_file 500\n"),
            (
                "cpu.stat",
                "nr_periods 9\nnr_throttled 3\nthrottled_usec 7\n",
            ),
        ],
    )
    .files(
        "/sys/fs/cgroup/kubepods.slice",
        &[("cpu.max", "max 100000\n"), ("memory.max", "max\n")],
    );
    let l = tree.detect();
    assert_quota(&l, Some(2.0));
    assert_eq!(l.source.cpu_dir.as_deref(), Some(tree.at(pod).as_path()));
    assert_eq!(l.throttling.unwrap().nr_throttled, 3, "the pod's counters");
    assert_eq!(l.memory_limit, Some(2 << 30));
    assert_eq!(l.source.memory_dir.as_deref(), Some(tree.at(pod).as_path()));
    assert_eq!((l.memory_usage, l.memory_working_set), (2000, 1500));
    // The leaf has no memory.stat and is not where the limit binds: only
    // the limiting cgroup's files matter.
    assert!(l.source.fallbacks.is_empty(), "{:#?}", l.source.fallbacks);
    assert_eq!(l.k8s_qos, Some(K8sQos::Guaranteed));
}

#[test]
fn v2_max_sentinels_are_no_limit() {
    let tree = v2_host("/app", "/", "/sys/fs/cgroup");
    tree.files(
        "/sys/fs/cgroup/app",
        &[
            ("cpu.max", "max 100000\n"),
            ("memory.max", "max\n"),
            ("memory.current", "4096\n"),
            ("memory.stat", "inactive_file 1024\n"),
        ],
    );
    let l = tree.detect();
    assert_quota(&l, None);
    assert_eq!(l.throttling, None);
    assert_eq!(l.memory_limit, None);
    assert_eq!((l.memory_usage, l.memory_working_set), (4096, 3072));
    assert_eq!(l.cpuset, set("0-7"), "affinity ∩ online, no cgroup cpuset");
    let d = l.workers(Rounding::Ceil, None);
    assert_eq!(
        (d.workers, d.reason.as_str()),
        (8, "no CPU quota; cpuset allows 8")
    );
    assert_eq!(l.memory_pressure(), PressureLevel::None);
}

#[test]
fn v2_without_cgroup_namespace_resolves_through_the_mount_root() {
    // The container sees its own cgroup mounted at /sys/fs/cgroup, but
    // /proc/self/cgroup names the full host path (no cgroup namespace).
    let path = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod9.slice/cri-containerd-abc.scope";
    let tree = v2_host(path, path, "/sys/fs/cgroup");
    tree.files(
        "/sys/fs/cgroup",
        &[
            ("cpu.max", "250000 100000\n"),
            ("cpuset.cpus.effective", "2-5\n"),
        ],
    );
    let l = tree.detect();
    assert_quota(&l, Some(2.5));
    assert_eq!(
        l.source.cpu_dir.as_deref(),
        Some(tree.at("/sys/fs/cgroup").as_path())
    );
    assert_eq!(l.cpuset, set("2-5"));
    assert_eq!(l.k8s_qos, Some(K8sQos::Burstable));
    assert_eq!(l.workers(Rounding::Floor, None).workers, 2);
    assert_eq!(l.workers(Rounding::Ceil, None).workers, 3);
}

#[test]
fn v2_mounted_elsewhere_and_path_below_mount_root() {
    // cgroup2 at /run/cg2 showing /outer; the process is in /outer/inner.
    let tree = v2_host("/outer/inner", "/outer", "/run/cg2");
    tree.file("/run/cg2/inner/cpu.max", "300000 100000\n")
        .file("/run/cg2/cpu.max", "100000 100000\n");
    let l = tree.detect();
    assert_quota(&l, Some(1.0));
    assert_eq!(
        l.source.cpu_dir.as_deref(),
        Some(tree.at("/run/cg2").as_path())
    );
}

#[test]
fn v2_cgroup_namespace_with_oom_score_gives_k8s_class() {
    for (score, class) in [
        ("-997", Some(K8sQos::Guaranteed)),
        ("-998", Some(K8sQos::Guaranteed)),
        ("1000", Some(K8sQos::BestEffort)),
        ("500", Some(K8sQos::Burstable)),
        ("0", None),
        ("-1000", None),
    ] {
        let tree = v2_host("/", "/", "/sys/fs/cgroup");
        tree.file("proc/self/oom_score_adj", score);
        let l = tree.detect();
        assert_eq!(l.k8s_qos, class, "oom_score_adj {score}");
        if class.is_some() {
            assert_fallback(&l, &["oom_score_adj", score]);
        }
    }
}

#[test]
fn v2_host_path_without_kubepods_is_not_a_pod_whatever_the_score() {
    let tree = v2_host(
        "/user.slice/user-1000.slice/app.scope",
        "/",
        "/sys/fs/cgroup",
    );
    tree.file("proc/self/oom_score_adj", "300\n");
    assert_eq!(tree.detect().k8s_qos, None);
}

#[test]
fn v2_path_and_score_disagreeing_prefers_the_path() {
    let tree = v2_host("/kubepods/besteffort/pod1/ctr", "/", "/sys/fs/cgroup");
    tree.file("proc/self/oom_score_adj", "-997\n");
    let l = tree.detect();
    assert_eq!(l.k8s_qos, Some(K8sQos::BestEffort));
    assert_fallback(&l, &["BestEffort", "Guaranteed", "using the path"]);
}

#[test]
fn v2_cpu_controller_not_enabled_is_explained() {
    let tree = v2_host("/app", "/", "/sys/fs/cgroup");
    tree.file("/sys/fs/cgroup/app/cgroup.controllers", "memory pids\n")
        // A stale file must not be trusted when the controller is off.
        .file("/sys/fs/cgroup/app/cpu.max", "50000 100000\n");
    let l = tree.detect();
    assert_quota(&l, None);
    assert_fallback(&l, &["cpu controller is not enabled", "memory pids"]);
}

#[test]
fn v2_no_quota_file_anywhere_below_the_top_is_explained() {
    let tree = v2_host("/a/b", "/", "/sys/fs/cgroup");
    tree.file("/sys/fs/cgroup/a/b/cgroup.procs", "1\n");
    let l = tree.detect();
    assert_quota(&l, None);
    assert_fallback(&l, &["no cpu.max from", "no CPU quota applies"]);
}

#[test]
fn v2_memory_pressure_level_from_working_set() {
    let tree = v2_host("/app", "/", "/sys/fs/cgroup");
    let dir = "/sys/fs/cgroup/app";
    tree.files(
        dir,
        &[
            ("memory.max", "1000000\n"),
            ("memory.current", "990000\n"),
            ("memory.stat", "inactive_file 100000\n"),
        ],
    );
    // 890000 / 1000000 = 89 %: above 80 %, below 95 %.
    assert_eq!(tree.detect().memory_pressure(), PressureLevel::Moderate);
    tree.file(&format!("{dir}/memory.stat"), "inactive_file 0\n");
    assert_eq!(tree.detect().memory_pressure(), PressureLevel::Critical);
    tree.file(&format!("{dir}/memory.stat"), "inactive_file 500000\n")
        .file(
            &format!("{dir}/memory.pressure"),
            &psi_text(0.0, Some(25.0)),
        );
    assert_eq!(
        tree.detect().memory_pressure(),
        PressureLevel::Critical,
        "PSI full"
    );
}
