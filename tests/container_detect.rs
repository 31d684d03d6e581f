//! `container::Limits` through the public API: on this machine, and on a
//! fixture tree built here (the module's own tests cover the fixture
//! matrix; this checks what a user of the crate can reach).

use std::fs;
use std::path::{Path, PathBuf};

use perf_runtime::container::{
    CgroupMode, K8sQos, Limits, PressureLevel, Rounding, WorkerOverride,
};
use perf_runtime::topology::CpuSet;

/// The keys of the log line, in their fixed order.
const LOG_KEYS: [&str; 15] = [
    "mode",
    "cpu_quota",
    "cpuset",
    "cpus",
    "mem_limit",
    "mem_usage",
    "mem_working_set",
    "nr_periods",
    "nr_throttled",
    "throttled_us",
    "psi_cpu_some10",
    "psi_mem_some10",
    "psi_mem_full10",
    "k8s_qos",
    "fallbacks",
];

fn log_keys(line: &str) -> Vec<&str> {
    line.split(' ')
        .map(|kv| kv.split_once('=').expect("key=value").0)
        .collect()
}

#[test]
fn detect_on_this_machine_is_consistent() {
    let limits = Limits::detect();
    eprintln!("{limits}\n{}", limits.log_line());

    let line = limits.log_line().to_string();
    assert!(!line.contains('\n'));
    assert_eq!(log_keys(&line), LOG_KEYS);

    // The cpuset never names a CPU the process may not use.
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(list) = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
    {
        let allowed = CpuSet::parse_list(list).unwrap();
        assert!(
            limits.cpuset.is_subset(&allowed),
            "{} not within {allowed}",
            limits.cpuset
        );
    }
    assert!(!limits.cpuset.is_empty());

    // The mode agrees with a plain reading of mountinfo.
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let v2 = mountinfo.contains(" - cgroup2 ");
    let v1 = mountinfo
        .lines()
        .filter(|l| l.contains(" - cgroup "))
        .any(|l| {
            ["cpu", "memory", "cpuset", "pids"].iter().any(|c| {
                l.split(',')
                    .any(|o| o == *c || o.ends_with(&format!(" {c}")))
            })
        });
    let expected = match (v1, v2) {
        (true, true) => CgroupMode::Hybrid,
        (true, false) => CgroupMode::V1,
        (false, true) => CgroupMode::V2,
        (false, false) => CgroupMode::Absent,
    };
    assert_eq!(limits.source.mode, expected, "{mountinfo}");

    let decision = limits.workers(Rounding::Ceil, None);
    assert!(decision.workers >= 1 && decision.workers <= limits.cpuset.len());
    if let Some(q) = limits.cpu_quota {
        assert!(q > 0.0);
        assert_eq!(
            decision.workers,
            (q.ceil() as usize).clamp(1, limits.cpuset.len())
        );
    }
    assert_eq!(
        limits.throttling.is_some(),
        limits.source.cpu_stat.is_some()
    );

    // detect_at("/") reads the same files.
    let again = Limits::detect_at(Path::new("/"));
    assert_eq!(again.source.mode, limits.source.mode);
    assert_eq!(again.cpu_quota, limits.cpu_quota);
    assert_eq!(again.memory_limit, limits.memory_limit);
    assert_eq!(again.cpuset, limits.cpuset);
}

/// A v2 pod container with the pod's limit above it, built by hand.
#[test]
fn detect_at_a_fixture_tree() {
    let root = std::env::temp_dir().join(format!(
        "perf_runtime_container_detect_{}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&root);
    let write = |rel: &str, text: &str| {
        let path: PathBuf = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    };
    let pod = "sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice";
    write(
        "proc/self/mountinfo",
        "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
    );
    write(
        "proc/self/cgroup",
        "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-x.scope\n",
    );
    write("proc/self/status", "Cpus_allowed_list:\t0-3\n");
    write("proc/self/oom_score_adj", "968\n");
    write("sys/devices/system/cpu/online", "0-3\n");
    write(&format!("{pod}/cpu.max"), "250000 100000\n");
    write(&format!("{pod}/memory.max"), "1000\n");
    write(&format!("{pod}/memory.current"), "900\n");
    write(&format!("{pod}/memory.stat"), "inactive_file 0\n");
    write(
        &format!("{pod}/cri-containerd-x.scope/cpu.max"),
        "max 100000\n",
    );

    let limits = Limits::detect_at(&root);
    let _ = fs::remove_dir_all(&root);
    assert_eq!(limits.source.mode, CgroupMode::V2);
    assert_eq!(limits.cpu_quota, Some(2.5));
    assert_eq!(limits.memory_limit, Some(1000));
    assert_eq!(limits.k8s_qos, Some(K8sQos::Burstable));
    assert_eq!(
        limits.memory_pressure(),
        PressureLevel::Moderate,
        "90 % of the limit"
    );
    let d = limits.workers(Rounding::Floor, None);
    assert_eq!(
        (d.workers, d.reason.as_str()),
        (2, "2.5-CPU quota rounded down (Floor) = 2; cpuset allows 4")
    );
    let d = limits.workers(Rounding::Ceil, Some(WorkerOverride::Env(7)));
    assert_eq!(d.workers, 7);
}
