//! Fixture sysfs trees, and `detect` on them and on this machine.

use std::fs;
use std::io;
use std::process::Command;

use super::*;

#[test]
fn sysfs_one_node() {
    let f = Fixture::new("0-7", &[(0, "0-7")]);
    let t = f.read("0-7").unwrap();
    assert_eq!(t.num_nodes(), 1);
    assert_eq!(t.nodes()[0].id(), NodeId::new(0));
    assert_eq!(node_cpus(&t), ["0-7"]);
    assert_eq!(t.allowed_cpus(), &set("0-7"));
    assert_eq!(t.fallback_reason(), None);
}

#[test]
fn sysfs_two_nodes_with_interleaved_cpus() {
    let f = Fixture::new("0-7", &[(0, "0-1,4-5"), (1, "2-3,6-7")]);
    let t = f.read("0-7").unwrap();
    assert_eq!(node_cpus(&t), ["0-1,4-5", "2-3,6-7"]);
    assert_eq!(t.node_of_cpu(5), Some(NodeId::new(0)));
    assert_eq!(t.node_of_cpu(6), Some(NodeId::new(1)));
    assert_eq!(t.node_of_cpu(8), None);
}

#[test]
fn sysfs_four_nodes_in_numeric_order() {
    // Listed out of order, and node10 must sort after node2.
    let f = Fixture::new(
        "0-15",
        &[(10, "12-15"), (2, "8-11"), (0, "0-3"), (1, "4-7")],
    );
    let t = f.read("0-15").unwrap();
    assert_eq!(t.num_nodes(), 4);
    let os_ids: Vec<usize> = t.nodes().iter().map(Node::os_id).collect();
    assert_eq!(os_ids, [0, 1, 2, 10]);
    for (i, node) in t.nodes().iter().enumerate() {
        assert_eq!(node.id().index(), i);
    }
    assert_eq!(node_cpus(&t), ["0-3", "4-7", "8-11", "12-15"]);
    assert_eq!(t.node_of_cpu(13), Some(NodeId::new(3)));
    assert_eq!(NodeId::new(3).to_string(), "node3");
}

#[test]
fn sysfs_allowed_is_intersected_with_node_cpus() {
    let f = Fixture::new("0-7", &[(0, "0-3"), (1, "4-7")]);
    let t = f.read("2-5,100").unwrap();
    assert_eq!(t.allowed_cpus(), &set("2-5"));
    assert_eq!(t.allowed_cpus_of(NodeId::new(0)), set("2-3"));
    assert_eq!(t.allowed_cpus_of(NodeId::new(1)), set("4-5"));
    assert_eq!(t.allowed_cpus_of(NodeId::new(2)), CpuSet::new());
    // Node CPU sets are not narrowed by the affinity mask.
    assert_eq!(node_cpus(&t), ["0-3", "4-7"]);
}

#[test]
fn sysfs_garbled_cpulist_is_an_error_naming_the_file() {
    let f = Fixture::new("0-7", &[(0, "0-3"), (1, "4-x")]);
    let err = f.read("0-7").unwrap_err();
    assert!(err.is_parse());
    let msg = err.to_string();
    assert!(msg.starts_with(r#"invalid CPU list "4-x\n" in "#), "{msg}");
    assert!(
        msg.ends_with("node1/cpulist: unexpected character 'x' at byte 2"),
        "{msg}"
    );
    assert!(err.path().unwrap().ends_with("node1/cpulist"));
}

#[test]
fn sysfs_missing_pieces_are_errors() {
    // No node directory at all (a kernel built without NUMA).
    let f = Fixture::new("0-3", &[]);
    fs::remove_dir_all(f.path().join("sys/devices/system/node")).unwrap();
    let err = f.read("0-3").unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(err.to_string().starts_with("cannot read "), "{err}");
    assert!(err.path().unwrap().ends_with("system/node"));

    // The node directory exists but holds no nodeN.
    let f = Fixture::new("0-3", &[]);
    let err = f.read("0-3").unwrap_err();
    assert!(
        err.to_string().contains("no node<N> directory found"),
        "{err}"
    );

    // A node directory without its cpulist.
    let f = Fixture::new("0-3", &[(0, "0-3")]);
    fs::create_dir_all(f.path().join("sys/devices/system/node/node1")).unwrap();
    let err = f.read("0-3").unwrap_err();
    assert!(err.is_not_found() && err.path().unwrap().ends_with("node1/cpulist"));

    // No online file.
    let f = Fixture::new("0-3", &[(0, "0-3")]);
    fs::remove_file(f.path().join("sys/devices/system/cpu/online")).unwrap();
    assert!(f.read("0-3").unwrap_err().is_not_found());
}

#[test]
fn sysfs_contradictions_are_errors() {
    let f = Fixture::new("0-7", &[(0, "0-4"), (1, "4-7")]);
    let err = f.read("0-7").unwrap_err().to_string();
    assert!(
        err.contains("CPUs 4 are listed by node1 and by another node"),
        "{err}"
    );

    let f = Fixture::new("0-7", &[(0, "0-3"), (1, "4-5")]);
    let err = f.read("0-7").unwrap_err().to_string();
    assert!(
        err.contains("online CPUs 6-7 are allowed but belong to no node"),
        "{err}"
    );

    let f = Fixture::new("0-3", &[(0, "0-3")]);
    let err = f.read("4-7").unwrap_err().to_string();
    assert!(
        err.contains("none of the allowed CPUs (4-7) is online (0-3)"),
        "{err}"
    );
}

#[test]
fn sysfs_cpuless_node_gets_no_workers() {
    // Node 1 has memory but no CPUs (empty cpulist, as HBM or CXL memory shows).
    let f = Fixture::new("0-7", &[(0, "0-3"), (1, ""), (2, "4-7")]);
    let t = f.read("0-7").unwrap();
    assert_eq!(node_cpus(&t), ["0-3", "", "4-7"]);
    assert!(t.allowed_cpus_of(NodeId::new(1)).is_empty());
    let ids = |v: Vec<NodeId>| v.into_iter().map(NodeId::index).collect::<Vec<_>>();
    assert_eq!(ids(t.assign_workers(4)), [0, 0, 2, 2]);
    assert_eq!(ids(t.assign_workers(3)), [0, 0, 2]);
    assert_eq!(ids(t.assign_workers(1)), [0]);
}

#[test]
fn sysfs_offline_cpus_are_dropped() {
    // CPUs 3 and 6 are offline; the node lists may or may not still show them.
    let f = Fixture::new("0-2,4-5,7", &[(0, "0-3"), (1, "4-7")]);
    let t = f.read("0-7").unwrap();
    assert_eq!(node_cpus(&t), ["0-2", "4-5,7"]);
    assert_eq!(t.allowed_cpus(), &set("0-2,4-5,7"));
    assert_eq!(t.node_of_cpu(3), None);
}

// ---- distances ----

#[test]
fn sysfs_distances_are_read_in_node_order() {
    let f = Fixture::new(
        "0-15",
        &[(10, "12-15"), (2, "8-11"), (0, "0-3"), (1, "4-7")],
    );
    // Rows follow the kernel's node order (0, 1, 2, 10); node 1's row is
    // asymmetric on purpose.
    f.distance(0, "10 16 32 32")
        .distance(1, "17 10 32 32")
        .distance(2, "32 32 10 16")
        .distance(10, "32 32 16 10");
    let t = f.read("0-15").unwrap();
    assert_eq!(
        distances(&t),
        [
            [10, 16, 32, 32],
            [17, 10, 32, 32],
            [32, 32, 10, 16],
            [32, 32, 16, 10]
        ]
    );
    assert_eq!(t.distance(NodeId::new(3), NodeId::new(2)), Some(16));
    let order: Vec<usize> = t
        .nearest_nodes(NodeId::new(3))
        .into_iter()
        .map(NodeId::index)
        .collect();
    assert_eq!(order, [3, 2, 0, 1]);
}

#[test]
fn sysfs_distances_default_when_no_node_has_the_file() {
    let f = Fixture::new("0-5", &[(0, "0-1"), (1, "2-3"), (2, "4-5")]);
    let t = f.read("0-5").unwrap();
    assert_eq!(distances(&t), [[10, 20, 20], [20, 10, 20], [20, 20, 10]]);
}

#[test]
fn sysfs_distance_errors_name_the_file() {
    let two = || Fixture::new("0-3", &[(0, "0-1"), (1, "2-3")]);
    let cases = [
        (
            "10 2x",
            r#"distance "2x" in "10 2x\n" is not a positive whole number"#,
        ),
        (
            "10 0",
            r#"distance "0" in "10 0\n" is not a positive whole number"#,
        ),
        (
            "10 -20",
            r#"distance "-20" in "10 -20\n" is not a positive whole number"#,
        ),
        (
            "10 20 20",
            r#""10 20 20\n" lists 3 distances, but there are 2 nodes; expected one distance per node"#,
        ),
        (
            "",
            r#""\n" lists 0 distances, but there are 2 nodes; expected one distance per node"#,
        ),
    ];
    for (row, what) in cases {
        let f = two();
        f.distance(0, "10 20").distance(1, row);
        let err = f.read("0-3").unwrap_err();
        assert!(err.path().unwrap().ends_with("node1/distance"), "{err}");
        let msg = err.to_string();
        assert!(msg.starts_with("unusable topology at "), "{msg}");
        assert!(msg.ends_with(&format!("node1/distance: {what}")), "{msg}");
    }
    // One node has the file and another lacks it: the missing one is named.
    let f = two();
    f.distance(1, "20 10");
    let err = f.read("0-3").unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(err.path().unwrap().ends_with("node0/distance"), "{err}");
}

// ---- last-level caches ----

#[test]
fn sysfs_llc_groups_split_nodes_by_l3() {
    let f = Fixture::new("0-11", &[(0, "0-7"), (1, "8-11")]);
    // Node 0 has two L3s; CPU lists interleave to check sorting.
    f.caches(&["0-1,4-5", "2-3,6-7", "8-11"]);
    let t = f.read("0-11").unwrap();
    assert_eq!(llcs(&t), ["0:L3:0-1,4-5", "0:L3:2-3,6-7", "1:L3:8-11"]);
    assert_eq!(t.llc_of_cpu(6).unwrap().id(), LlcId::new(1));
    assert_eq!(t.llc_of_cpu(6).unwrap().level(), Some(3));
    assert_eq!(t.llc_groups_of(NodeId::new(1)).len(), 1);
}

#[test]
fn sysfs_llc_spanning_two_nodes_is_split_per_node() {
    // Sub-NUMA clustering: one L3 over both nodes.
    let f = Fixture::new("0-7", &[(0, "0-3"), (1, "4-7")]);
    f.caches(&["0-7"]);
    let t = f.read("0-7").unwrap();
    assert_eq!(llcs(&t), ["0:L3:0-3", "1:L3:4-7"]);
}

#[test]
fn sysfs_llc_is_the_highest_data_or_unified_cache() {
    let f = Fixture::new("0-3", &[(0, "0-3")]);
    for cpu in 0..4 {
        let pair = if cpu < 2 { "0-1" } else { "2-3" };
        // An instruction cache above the L2 does not count; index order does
        // not matter.
        f.cache(cpu, 0, 2, "Unified", pair)
            .cache(cpu, 1, 1, "Data", &cpu.to_string())
            .cache(cpu, 2, 3, "Instruction", "0-3");
    }
    let t = f.read("0-3").unwrap();
    assert_eq!(llcs(&t), ["0:L2:0-1", "0:L2:2-3"]);
}

#[test]
fn sysfs_llc_unknown_when_caches_are_not_reported() {
    // No cache directories at all: one group per node.
    let f = Fixture::new("0-7", &[(0, "0-3"), (1, "4-7")]);
    let t = f.read("0-7").unwrap();
    assert_eq!(llcs(&t), ["0:L?:0-3", "1:L?:4-7"]);

    // Some CPUs report caches, some report none (an empty cache directory,
    // or only an instruction cache): those form their own group per node.
    let f = Fixture::new("0-7", &[(0, "0-3"), (1, "4-7")]);
    f.caches(&["0-1", "4-5"]);
    fs::create_dir_all(f.path().join("sys/devices/system/cpu/cpu2/cache")).unwrap();
    f.cache(3, 0, 1, "Instruction", "3");
    let t = f.read("0-7").unwrap();
    assert_eq!(llcs(&t), ["0:L3:0-1", "0:L?:2-3", "1:L3:4-5", "1:L?:6-7"]);
}

#[test]
fn sysfs_llc_ignores_offline_and_cpuless_pieces() {
    // CPU 3 is offline but still listed as sharing CPU 2's L3; node 1 has
    // no CPUs and so no groups.
    let f = Fixture::new("0-2", &[(0, "0-3"), (1, "")]);
    f.caches(&["0-3"]);
    let t = f.read("0-2").unwrap();
    assert_eq!(llcs(&t), ["0:L3:0-2"]);
    assert!(t.llc_groups_of(NodeId::new(1)).is_empty());
}

#[test]
fn sysfs_cache_errors_name_the_file() {
    let f = Fixture::new("0-1", &[(0, "0-1")]);
    f.caches(&["0-1"]);
    f.write("sys/devices/system/cpu/cpu0/cache/index3/level", "three\n");
    let err = f.read("0-1").unwrap_err();
    assert!(err.path().unwrap().ends_with("cpu0/cache/index3/level"));
    assert!(
        err.to_string()
            .ends_with(r#"level: cache level "three\n" is not a small whole number"#),
        "{err}"
    );

    let f = Fixture::new("0-1", &[(0, "0-1")]);
    f.caches(&["0-1"]);
    fs::remove_file(
        f.path()
            .join("sys/devices/system/cpu/cpu0/cache/index3/shared_cpu_list"),
    )
    .unwrap();
    let err = f.read("0-1").unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(err.path().unwrap().ends_with("index3/shared_cpu_list"));

    let f = Fixture::new("0-1", &[(0, "0-1")]);
    f.caches(&["0-1"]);
    f.write(
        "sys/devices/system/cpu/cpu0/cache/index3/shared_cpu_list",
        "0-z\n",
    );
    let err = f.read("0-1").unwrap_err();
    assert!(err.is_parse(), "{err}");
    assert!(err.path().unwrap().ends_with("index3/shared_cpu_list"));

    let f = Fixture::new("0-1", &[(0, "0-1")]);
    f.cache(0, 0, 3, "Unified", "1");
    let err = f.read("0-1").unwrap_err();
    assert!(err.path().unwrap().ends_with("cpu0/cache"), "{err}");
    assert!(
        err.to_string().ends_with(
            "cpu0/cache: cpu0's level-3 cache is shared by CPUs 1, which do not include cpu0"
        ),
        "{err}"
    );

    // CPU 0 shares with 0-1, CPU 2 claims 1-3: the caches contradict.
    let f = Fixture::new("0-3", &[(0, "0-3")]);
    f.cache(0, 0, 3, "Unified", "0-1")
        .cache(2, 0, 3, "Unified", "1-3");
    let err = f.read("0-3").unwrap_err();
    assert!(err.path().unwrap().ends_with("cpu2/cache"), "{err}");
    assert!(
        err.to_string().ends_with(
            "cpu2's level-3 cache is shared by CPUs 1-3 of node0, but CPUs 1 already share \
             another cache"
        ),
        "{err}"
    );
}

// ---- detect ----

#[test]
fn detect_falls_back_when_node_dir_is_missing() {
    let f = Fixture::new("0-3", &[]);
    fs::remove_dir_all(f.path().join("sys/devices/system/node")).unwrap();
    let t = Topology::detect_from(Some(f.path()), Ok(set("1-3")));
    assert_eq!(t.num_nodes(), 1);
    assert_eq!(t.nodes()[0].cpus(), &set("1-3"));
    assert_eq!(t.allowed_cpus(), &set("1-3"));
    let why = t.fallback_reason().unwrap();
    assert!(why.starts_with("cannot read "), "{why}");
    assert!(
        why.ends_with("; treating all allowed CPUs as one NUMA node"),
        "{why}"
    );
    assert_eq!(t.assign_workers(3), vec![NodeId::new(0); 3]);
}

#[test]
fn detect_falls_back_on_garbled_sysfs_and_bad_affinity() {
    let f = Fixture::new("0-3", &[(0, "garbage")]);
    let t = Topology::detect_from(Some(f.path()), Ok(set("0-3")));
    assert_eq!(t.num_nodes(), 1);
    assert!(t.fallback_reason().unwrap().contains("invalid CPU list"));

    // A failing affinity call is noted even when sysfs reads fine.
    let f = Fixture::new("0-63", &[(0, "0-63")]);
    let t = Topology::detect_from(Some(f.path()), Err(io::Error::other("boom")));
    assert!(!t.allowed_cpus().is_empty());
    let why = t.fallback_reason().unwrap();
    assert!(
        why.starts_with("cannot read the CPU affinity mask (boom)"),
        "{why}"
    );

    let t = Topology::detect_from(None, Ok(set("0-1")));
    assert_eq!(t.allowed_cpus(), &set("0-1"));
    assert!(t.fallback_reason().unwrap().contains("Linux only"));
}

/// What `nproc` prints (the affinity mask's size), if `nproc` can be run.
fn nproc() -> Option<usize> {
    let out = Command::new("nproc")
        .env_remove("OMP_NUM_THREADS")
        .env_remove("OMP_THREAD_LIMIT")
        .output()
        .ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

#[test]
#[cfg(target_os = "linux")]
fn detect_on_this_machine() {
    let t = Topology::detect();
    assert!(t.num_nodes() >= 1);
    assert!(!t.allowed_cpus().is_empty());
    if let Some(n) = nproc() {
        assert_eq!(t.allowed_cpus().len(), n, "{t:?}");
    }
    // The kernel's own view, from a second source.
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"));
    let online = fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    let expected = set(line.unwrap()).intersection(&set(&online));
    assert_eq!(t.allowed_cpus(), &expected);
    for cpu in t.allowed_cpus() {
        assert!(t.node_of_cpu(cpu).is_some(), "CPU {cpu} has no node: {t:?}");
    }
    assert!(t.allowed_cpus().is_subset(&os::affinity().unwrap()));
    let cpu = current_cpu().expect("sched_getcpu failed");
    assert!(
        t.allowed_cpus().contains(cpu),
        "running on CPU {cpu}: {t:?}"
    );
    // Every node CPU has a cache group, and the matrix has sane diagonals.
    let _ = llcs(&t);
    for node in t.nodes() {
        let local = t.distance(node.id(), node.id()).unwrap();
        for other in t.nodes() {
            assert!(t.distance(node.id(), other.id()).unwrap() >= local, "{t}");
        }
    }
    assert!(t.current_node().is_some(), "{t}");
    println!("{t}");
}
