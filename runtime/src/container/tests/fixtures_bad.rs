//! Bad input: missing, garbled and impossible files. Detection must fall
//! back to the next-best source, say why, and never panic.

use super::*;

const APP: &str = "/sys/fs/cgroup/app";

#[test]
fn empty_root_detects_nothing_but_still_answers() {
    let tree = TempTree::new();
    let l = tree.detect();
    assert_eq!(l.source.mode, CgroupMode::Absent);
    assert_quota(&l, None);
    assert_eq!(l.memory_limit, None);
    assert_eq!(l.memory_usage, 0);
    assert!(!l.cpuset.is_empty());
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(l.cpuset.len(), n);
    assert_fallback(
        &l,
        &["mountinfo", "does not exist", "assuming no cgroup limits"],
    );
    assert_fallback(&l, &["available_parallelism"]);
    assert_fallback(&l, &["no memory usage could be read"]);
    assert_fallback(&l, &["pressure", "does not exist"]);
    assert_eq!(l.pressure, Pressure::default());
    assert!(l
        .log_line()
        .to_string()
        .starts_with("mode=absent cpu_quota=none "));
    // Display prints every fallback.
    let human = l.to_string();
    assert_eq!(
        human.matches("fallback: ").count(),
        l.source.fallbacks.len(),
        "{human}"
    );
}

#[test]
fn missing_proc_self_cgroup_means_no_limits() {
    let tree = v2_host("/app", "/", "/sys/fs/cgroup");
    tree.file(&format!("{APP}/cpu.max"), "100000 100000\n");
    tree.remove("proc/self/cgroup");
    let l = tree.detect();
    assert_eq!(l.source.mode, CgroupMode::V2, "mountinfo still read");
    assert_quota(&l, None);
    assert_fallback(&l, &["proc/self/cgroup", "does not exist"]);
    assert_eq!(l.cpuset, set("0-7"));
}

#[test]
fn garbled_mountinfo_and_proc_cgroup_are_reported() {
    let tree = v2_host("/app", "/", "/sys/fs/cgroup");
    tree.file(&format!("{APP}/cpu.max"), "100000 100000\n")
        .file("proc/self/mountinfo", "this is not mountinfo\n");
    let l = tree.detect();
    assert_quota(&l, None);
    assert_fallback(&l, &["mountinfo", "line 1 is not a mountinfo line"]);

    let tree = v2_host("/app", "/", "/sys/fs/cgroup");
    tree.file("proc/self/cgroup", "garbage\n");
    let l = tree.detect();
    assert_fallback(&l, &["proc/self/cgroup", "line 1 is not"]);
}

#[test]
fn garbled_limit_files_fall_back() {
    let tree = v2_host("/app", "/", "/sys/fs/cgroup");
    tree.files(
        APP,
        &[
            ("cpu.max", "banana\n"),
            ("cpuset.cpus.effective", "0-x\n"),
            ("memory.max", "lots\n"),
            ("memory.current", "some\n"),
            ("cpu.pressure", "some avg10=oops\n"),
            ("memory.pressure", "nonsense\n"),
        ],
    )
    .file("proc/self/oom_score_adj", "high\n")
    .file(
        "proc/pressure/cpu",
        "full avg10=1.00 avg60=0 avg300=0 total=1\n",
    );
    let l = tree.detect();
    assert_quota(&l, None);
    assert_fallback(&l, &["cpu.max", "banana", "ignored"]);
    assert_eq!(l.cpuset, set("0-7"), "affinity ∩ online");
    assert_fallback(&l, &["cpuset.cpus.effective", "unexpected character 'x'"]);
    assert_eq!(l.memory_limit, None);
    assert_fallback(&l, &["memory.max", "lots"]);
    assert_fallback(&l, &["memory.current", "some"]);
    // No cgroup usage: the machine's 16 GiB - 12 GiB available.
    assert_eq!(l.memory_usage, 4 << 30);
    assert_fallback(&l, &["MemTotal - MemAvailable"]);
    assert_eq!(l.pressure.cgroup_cpu, None);
    assert_eq!(l.pressure.cgroup_memory, None);
    assert_eq!(l.pressure.system_cpu, None);
    assert!(
        l.pressure.memory().is_some(),
        "system memory PSI still read"
    );
    assert_fallback(&l, &["cpu.pressure", "avg10"]);
    assert_fallback(&l, &["memory.pressure", "unexpected line"]);
    assert_fallback(&l, &["proc/pressure/cpu", "no `some` line"]);
    assert_fallback(&l, &["oom_score_adj", "high"]);
}

#[test]
fn zero_quota_and_zero_period_fall_back_to_the_parent() {
    let tree = v2_host("/pod/app", "/", "/sys/fs/cgroup");
    tree.file("/sys/fs/cgroup/pod/app/cpu.max", "0 100000\n")
        .file("/sys/fs/cgroup/pod/cpu.max", "300000 100000\n");
    let l = tree.detect();
    assert_quota(&l, Some(3.0));
    assert_fallback(&l, &["pod/app/cpu.max", "quota of 0"]);

    let tree = v2_host("/pod/app", "/", "/sys/fs/cgroup");
    tree.file("/sys/fs/cgroup/pod/app/cpu.max", "50000 0\n");
    let l = tree.detect();
    assert_quota(&l, None);
    assert_fallback(&l, &["cpu.max", "period is 0"]);

    let tree = v1_host("/app", "/", false);
    let dir = "/sys/fs/cgroup/cpu,cpuacct/app";
    tree.files(
        dir,
        &[
            ("cpu.cfs_quota_us", "0\n"),
            ("cpu.cfs_period_us", "100000\n"),
        ],
    );
    let l = tree.detect();
    assert_quota(&l, None);
    assert_fallback(&l, &["cpu.cfs_quota_us", "quota of 0"]);

    tree.files(
        dir,
        &[
            ("cpu.cfs_quota_us", "50000\n"),
            ("cpu.cfs_period_us", "0\n"),
        ],
    );
    let l = tree.detect();
    assert_quota(&l, None);
    assert_fallback(&l, &["cpu.cfs_quota_us", "period is 0"]);

    tree.files(dir, &[("cpu.cfs_quota_us", "-5\n")]);
    assert_fallback(&tree.detect(), &["neither -1 nor a positive"]);

    tree.files(dir, &[("cpu.cfs_quota_us", "50000\n")]);
    tree.remove(&format!("{dir}/cpu.cfs_period_us"));
    let l = tree.detect();
    assert_quota(&l, None);
    assert_fallback(&l, &["cpu.cfs_period_us", "cannot be read"]);
}

#[test]
fn cpuset_naming_offline_cpus_is_narrowed_to_online_ones() {
    let tree = v2_host("/app", "/", "/sys/fs/cgroup");
    tree.file(&format!("{APP}/cpuset.cpus.effective"), "2-11\n")
        .file("sys/devices/system/cpu/online", "0-3\n");
    let l = tree.detect();
    assert_eq!(l.cpuset, set("2-3"));
    assert_fallback(&l, &["names offline CPUs 4-11"]);
}

#[test]
fn cpuset_sharing_no_cpu_with_the_affinity_mask_is_ignored() {
    let tree = v2_host("/app", "/", "/sys/fs/cgroup");
    tree.file(&format!("{APP}/cpuset.cpus.effective"), "6-7\n")
        .file("proc/self/status", "Cpus_allowed_list:\t0-1\n");
    let l = tree.detect();
    assert_eq!(l.cpuset, set("0-1"));
    assert_fallback(&l, &["the cgroup cpuset (6-7) shares no CPU", "ignoring"]);
}

#[test]
fn missing_affinity_uses_the_cgroup_cpuset() {
    let tree = v2_host("/app", "/", "/sys/fs/cgroup");
    tree.file(&format!("{APP}/cpuset.cpus.effective"), "1,3\n");
    tree.remove("proc/self/status");
    assert_eq!(tree.detect().cpuset, set("1,3"));
    // A failing sched_getaffinity falls back to proc/self/status.
    let tree = v2_host("/app", "/", "/sys/fs/cgroup");
    tree.file("proc/self/status", "Cpus_allowed_list:\t4-5\n");
    let err = io::Error::from_raw_os_error(22);
    let l = detect::Probe::new(tree.path()).detect(Some(Err(err)));
    assert_eq!(l.cpuset, set("4-5"));
    assert_fallback(&l, &["sched_getaffinity failed", "Cpus_allowed_list"]);
    let l = detect::Probe::new(tree.path()).detect(Some(Ok(set("5-6"))));
    assert_eq!(l.cpuset, set("5-6"), "the syscall's mask, when it answers");
}

#[test]
fn process_outside_the_mount_root_reads_the_mount_point() {
    // A process moved out of the cgroup namespace's root sees `/../x`.
    let tree = v2_host("/../other", "/", "/sys/fs/cgroup");
    tree.file("/sys/fs/cgroup/cpu.max", "100000 100000\n");
    let l = tree.detect();
    assert_quota(&l, Some(1.0));
    assert_fallback(&l, &["not inside the mount's root", "mount point"]);
}

#[test]
fn unreadable_file_is_reported_not_fatal() {
    // A directory where a file should be reads with an error other than
    // NotFound on every OS, whether or not the tests run as root.
    let tree = v2_host("/app", "/", "/sys/fs/cgroup");
    fs::create_dir_all(tree.at(&format!("{APP}/cpu.max"))).unwrap();
    tree.file("/sys/fs/cgroup/cpu.max", "200000 100000\n");
    let l = tree.detect();
    assert_quota(&l, Some(2.0));
    assert_fallback(&l, &["cannot read", "app/cpu.max"]);
}

#[test]
fn cpu_stat_missing_or_garbled_leaves_throttling_unknown() {
    let tree = v2_host("/app", "/", "/sys/fs/cgroup");
    tree.file(&format!("{APP}/cpu.max"), "100000 100000\n");
    let l = tree.detect();
    assert_quota(&l, Some(1.0));
    assert_eq!(l.throttling, None);
    assert_fallback(
        &l,
        &["cpu.stat", "does not exist", "no throttling counters"],
    );
    assert_eq!(
        l.read_throttling().unwrap_err().kind(),
        io::ErrorKind::NotFound
    );

    tree.file(&format!("{APP}/cpu.stat"), "usage_usec 5\nnr_periods x\n");
    let l = tree.detect();
    assert_eq!(l.throttling, None);
    assert_fallback(
        &l,
        &["cpu.stat", "nr_periods", "not a non-negative integer"],
    );
}

/// Every cgroup and proc file replaced by each of these must still detect
/// without a panic.
#[test]
fn garbage_everywhere_never_panics() {
    let garbage = [
        "",
        "\n\n",
        "-",
        "max max max",
        "18446744073709551616",
        "-9223372036854775808",
        "0-18446744073709551615",
        "1 2 3 4 5 6 - cgroup2",
        "0::",
        ":::",
        "some avg10=NaN avg60=inf avg300=-1 total=-1",
        "nr_periods 18446744073709551615\nnr_throttled 1",
        "\u{0}\u{1}\u{fffd}",
        "Cpus_allowed_list:\t99999999999",
    ];
    let files = [
        "proc/self/mountinfo",
        "proc/self/cgroup",
        "proc/self/status",
        "proc/self/oom_score_adj",
        "proc/meminfo",
        "proc/pressure/cpu",
        "proc/pressure/memory",
        "sys/devices/system/cpu/online",
    ];
    let cgroup_files = [
        "cgroup.controllers",
        "cpu.max",
        "cpu.stat",
        "cpuset.cpus.effective",
        "memory.max",
        "memory.current",
        "memory.stat",
        "cpu.pressure",
        "memory.pressure",
    ];
    for junk in garbage {
        let tree = v2_host("/app", "/", "/sys/fs/cgroup");
        for name in cgroup_files {
            tree.file(&format!("{APP}/{name}"), junk);
        }
        let l = tree.detect();
        assert!(!l.cpuset.is_empty(), "{junk:?}");
        let _ = (l.to_string(), l.log_line().to_string(), l.memory_pressure());
        let _ = l.workers(Rounding::Nearest, None);
        for file in files {
            tree.file(file, junk);
        }
        let l = tree.detect();
        assert!(!l.cpuset.is_empty(), "{junk:?}");
        let _ = (l.to_string(), l.log_line().to_string(), l.memory_pressure());
    }
}
