//! Tests of `CpuSet`, `assign_workers` and `synthetic`; the fixture sysfs
//! trees shared with `sysfs_trees`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

mod sysfs_trees;

fn set(list: &str) -> CpuSet {
    list.parse().unwrap()
}

fn parse_err(list: &str) -> String {
    CpuSet::parse_list(list).unwrap_err().to_string()
}

// ---- CpuSet ----

#[test]
fn cpuset_basic_ops() {
    let mut s = CpuSet::new();
    assert!(s.is_empty());
    assert!(s.insert(3));
    assert!(!s.insert(3));
    assert!(s.insert(200));
    assert_eq!(s.len(), 2);
    assert!(s.contains(200) && s.contains(3) && !s.contains(4) && !s.contains(10_000));
    assert_eq!(s.iter().collect::<Vec<_>>(), [3, 200]);
    assert!(s.remove(200));
    assert!(!s.remove(200));
    // Removing the high CPU must leave a set equal to one never holding it.
    assert_eq!(s, [3].into_iter().collect());
    assert!(s.remove(3));
    assert_eq!(s, CpuSet::new());
    assert!(s.is_empty());
}

#[test]
fn cpuset_set_algebra() {
    let a = set("0-9,64-70,300");
    let b = set("5-66");
    assert_eq!(a.intersection(&b), set("5-9,64-66"));
    assert_eq!(a.union(&b), set("0-70,300"));
    assert_eq!(b.union(&a), set("0-70,300"));
    assert!(set("5-9").is_subset(&a));
    assert!(!b.is_subset(&a));
    assert!(CpuSet::new().is_subset(&CpuSet::new()));
    assert!(!set("300").is_subset(&set("0-3")));
    assert_eq!(set("0-3").intersection(&set("200")), CpuSet::new());
    let collected: CpuSet = (0..4).chain([8, 10, 11]).collect();
    assert_eq!(collected.to_string(), "0-3,8,10-11");
}

#[test]
fn cpuset_display_and_parse_round_trip() {
    for list in [
        "",
        "0",
        "0-3,8,10-11",
        "1,3,5",
        "0-1",
        "63-64",
        "0-1023",
        "5,4095",
    ] {
        let s = set(list);
        assert_eq!(s.to_string(), list);
        assert_eq!(set(&s.to_string()), s);
    }
    assert_eq!(format!("{:?}", set("0-2,7")), "CpuSet(0-2,7)");
}

#[test]
fn cpuset_parse_tolerates_whitespace_and_unsorted_input() {
    assert_eq!(set("0-3\n"), set("0-3"));
    assert_eq!(set(" 0 - 3 , 8 ,\t10-11 \n"), set("0-3,8,10-11"));
    assert_eq!(set("\n"), CpuSet::new());
    assert_eq!(set("   "), CpuSet::new());
    assert_eq!(set("8,0-3,2"), set("0-3,8"));
    assert_eq!(set("4-4"), set("4"));
}

#[test]
fn cpuset_parse_errors_name_input_and_position() {
    // The exact wording, once.
    assert_eq!(
        parse_err("0-"),
        r#"invalid CPU list "0-": range end missing at byte 2"#
    );
    let cases = [
        ("0-,3", "range end missing at byte 2"),
        ("3-1", "range 3-1 is reversed (start after end) at byte 0"),
        ("0,,1", "expected a CPU id at byte 2"),
        ("0,", "expected a CPU id at byte 2"),
        ("0-3x", "unexpected character 'x' at byte 3"),
        ("1 2", "unexpected character '2' at byte 2"),
        ("-1", "unexpected character '-' at byte 0"),
        ("0-\u{e4}", "unexpected character '\u{e4}' at byte 2"),
    ];
    for (input, what) in cases {
        let expected = format!("invalid CPU list {input:?}: {what}");
        assert_eq!(parse_err(input), expected);
    }
    assert!(parse_err("0-7:2/4").contains("stride ranges"));
    assert!(parse_err("0-99999999999999999999999").contains("larger than the supported maximum"));
    assert!(parse_err("1048576").contains("larger than the supported maximum"));
    assert!(CpuSet::parse_list("1048575").is_ok());
    let err = CpuSet::parse_list("x").unwrap_err();
    assert!(err.is_parse() && !err.is_not_found() && err.path().is_none());
}

// ---- sysfs fixtures ----

/// A sysfs tree in a fresh temporary directory, removed on drop.
struct Fixture {
    root: PathBuf,
}

impl Fixture {
    /// `online` for `cpu/online`, and `(N, cpulist)` per `nodeN` directory.
    fn new(online: &str, nodes: &[(usize, &str)]) -> Fixture {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "perf_runtime_topology_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&root);
        let fixture = Fixture { root };
        fixture.write("sys/devices/system/cpu/online", &format!("{online}\n"));
        // Files that real trees have beside the node directories.
        fixture.write("sys/devices/system/node/online", "0\n");
        fixture.write("sys/devices/system/node/has_cpu", "0\n");
        for &(n, cpus) in nodes {
            fixture.write(
                &format!("sys/devices/system/node/node{n}/cpulist"),
                &format!("{cpus}\n"),
            );
        }
        fixture
    }

    fn write(&self, rel: &str, contents: &str) {
        let path = self.root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
    }

    fn path(&self) -> &Path {
        &self.root
    }

    fn read(&self, allowed: &str) -> Result<Topology, TopologyError> {
        Topology::from_sysfs_root(self.path(), set(allowed))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn node_cpus(t: &Topology) -> Vec<String> {
    t.nodes().iter().map(|n| n.cpus().to_string()).collect()
}

// ---- assign_workers ----

/// How many workers each node got.
fn counts(t: &Topology, workers: usize) -> Vec<usize> {
    let out = t.assign_workers(workers);
    assert_eq!(out.len(), workers);
    // Grouped by node, in node order.
    assert!(out.windows(2).all(|w| w[0] <= w[1]), "{out:?}");
    let mut counts = vec![0; t.num_nodes()];
    for id in out {
        counts[id.index()] += 1;
    }
    counts
}

#[test]
fn assign_workers_is_proportional_to_allowed_cpus() {
    let f = Fixture::new("0-7", &[(0, "0-5"), (1, "6-7")]);
    let t = f.read("0-7").unwrap();
    assert_eq!(counts(&t, 4), [3, 1]);
    assert_eq!(counts(&t, 8), [6, 2]);
    assert_eq!(counts(&t, 16), [12, 4]);
    assert_eq!(counts(&t, 1), [1, 0]);
    assert_eq!(counts(&t, 0), [0, 0]);
    // Only allowed CPUs count: node 0 shrinks to 2 allowed CPUs.
    let t = f.read("0-1,6-7").unwrap();
    assert_eq!(counts(&t, 4), [2, 2]);
}

#[test]
fn assign_workers_fewer_workers_than_nodes() {
    let t = Topology::synthetic(4, 4);
    assert_eq!(t.assign_workers(2), [NodeId::new(0), NodeId::new(1)]);
    assert_eq!(counts(&t, 3), [1, 1, 1, 0]);
    assert_eq!(counts(&t, 6), [2, 2, 1, 1]);
    // The largest nodes win.
    let f = Fixture::new("0-15", &[(0, "0-1"), (1, "2-6"), (2, "7-8"), (3, "9-15")]);
    let t = f.read("0-15").unwrap();
    assert_eq!(counts(&t, 2), [0, 1, 0, 1]);
    assert_eq!(counts(&t, 1), [0, 0, 0, 1]);
}

#[test]
fn assign_workers_skips_nodes_without_allowed_cpus() {
    let f = Fixture::new("0-11", &[(0, "0-3"), (1, "4-7"), (2, "8-11")]);
    let t = f.read("0-3,8-11").unwrap();
    assert_eq!(counts(&t, 4), [2, 0, 2]);
    assert_eq!(counts(&t, 3), [2, 0, 1]);
    assert_eq!(counts(&t, 100), [50, 0, 50]);
}

#[test]
fn assign_workers_never_exceeds_allowed_cpus_until_oversubscribed() {
    let f = Fixture::new("0-19", &[(0, "0"), (1, "1-6"), (2, "7-9"), (3, "10-19")]);
    let t = f.read("0-19").unwrap();
    for workers in 0..=40 {
        let c = counts(&t, workers);
        let total: usize = t.allowed_cpus().len();
        for (i, &n) in c.iter().enumerate() {
            let cpus = t.allowed_cpus_of(NodeId::new(i)).len();
            // The quota rule: floor or ceiling of the exact share.
            let exact = workers * cpus;
            assert!(
                n >= exact / total && n <= exact.div_ceil(total),
                "{workers}: {c:?}"
            );
            if workers <= total {
                assert!(n <= cpus, "{workers}: {c:?}");
            }
        }
    }
    // Deterministic.
    assert_eq!(t.assign_workers(13), t.assign_workers(13));
}

// ---- synthetic ----

#[test]
fn synthetic_topology() {
    let t = Topology::synthetic(2, 3);
    assert_eq!(node_cpus(&t), ["0-2", "3-5"]);
    assert_eq!(t.allowed_cpus(), &set("0-5"));
    assert_eq!(t.node_of_cpu(4), Some(NodeId::new(1)));
    assert_eq!(t.fallback_reason(), None);
    assert_eq!(counts(&t, 5), [3, 2]);
}

#[test]
#[should_panic(expected = "Topology::synthetic: a topology needs at least one node")]
fn synthetic_zero_nodes_panics() {
    let _ = Topology::synthetic(0, 4);
}

#[test]
#[should_panic(expected = "Topology::synthetic: a node needs at least one CPU")]
fn synthetic_zero_cpus_panics() {
    let _ = Topology::synthetic(4, 0);
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Topology>();
    check::<CpuSet>();
    check::<TopologyError>();
    check::<NodeId>();
}
