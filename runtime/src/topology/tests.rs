//! Tests of `CpuSet`, `assign_workers`, `synthetic` and the builder; the
//! fixture sysfs trees shared with `sysfs_trees`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

#[cfg(feature = "hwloc")]
mod hwloc;
mod placement;
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
    assert_eq!(a.difference(&b), set("0-4,67-70,300"));
    assert_eq!(b.difference(&a), set("10-63"));
    // Removing the high words leaves a set equal to one never holding them.
    assert_eq!(a.difference(&set("64-70,300")), set("0-9"));
    assert_eq!(set("0-3").difference(&set("0-3")), CpuSet::new());
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

    /// Writes `nodeN/distance`.
    fn distance(&self, node: usize, row: &str) -> &Self {
        self.write(
            &format!("sys/devices/system/node/node{node}/distance"),
            &format!("{row}\n"),
        );
        self
    }

    /// Writes `cpuN/cache/indexI/{level,type,shared_cpu_list}`.
    fn cache(&self, cpu: usize, index: usize, level: u8, kind: &str, shared: &str) -> &Self {
        let dir = format!("sys/devices/system/cpu/cpu{cpu}/cache/index{index}");
        self.write(&format!("{dir}/level"), &format!("{level}\n"));
        self.write(&format!("{dir}/type"), &format!("{kind}\n"));
        self.write(&format!("{dir}/shared_cpu_list"), &format!("{shared}\n"));
        self
    }

    /// Gives each CPU of `cpus` private L1 data, L1 instruction and L2
    /// caches, and an L3 shared with the CPUs of its entry in `l3`.
    fn caches(&self, l3: &[&str]) -> &Self {
        for shared in l3 {
            for cpu in &set(shared) {
                let own = cpu.to_string();
                self.cache(cpu, 0, 1, "Data", &own)
                    .cache(cpu, 1, 1, "Instruction", &own)
                    .cache(cpu, 2, 2, "Unified", &own)
                    .cache(cpu, 3, 3, "Unified", shared);
            }
        }
        self
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

/// Each LLC group as `"node:level:cpus"`, e.g. `"0:L3:0-3"` (`L?` for an
/// unknown level); also checks the group ids and the CPU lookup.
fn llcs(t: &Topology) -> Vec<String> {
    let mut covered = CpuSet::new();
    let out = t
        .llc_groups()
        .iter()
        .enumerate()
        .map(|(i, g)| {
            assert_eq!(g.id(), LlcId::new(i));
            assert!(!g.cpus().is_empty());
            assert!(g.cpus().is_subset(t.nodes()[g.node().index()].cpus()));
            assert!(g.cpus().intersection(&covered).is_empty(), "{t:?}");
            covered = covered.union(g.cpus());
            for cpu in g.cpus() {
                assert_eq!(t.llc_of_cpu(cpu), Some(g));
                assert_eq!(t.node_of_cpu(cpu), Some(g.node()));
            }
            let level = g.level().map_or("L?".to_owned(), |l| format!("L{l}"));
            format!("{}:{level}:{}", g.node().index(), g.cpus())
        })
        .collect();
    // The groups cover every node CPU.
    let all = t
        .nodes()
        .iter()
        .fold(CpuSet::new(), |acc, n| acc.union(n.cpus()));
    assert_eq!(covered, all);
    for node in t.nodes() {
        let of_node = t.llc_groups_of(node.id());
        assert!(of_node.iter().all(|g| g.node() == node.id()));
        let cpus = of_node.iter().map(|g| g.cpus().len()).sum::<usize>();
        assert_eq!(cpus, node.cpus().len());
    }
    out
}

/// The distance matrix, row by row.
fn distances(t: &Topology) -> Vec<Vec<u32>> {
    let ids: Vec<NodeId> = t.nodes().iter().map(Node::id).collect();
    ids.iter()
        .map(|&a| ids.iter().map(|&b| t.distance(a, b).unwrap()).collect())
        .collect()
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
    assert_eq!(llcs(&t), ["0:L?:0-2", "1:L?:3-5"]);
    assert_eq!(distances(&t), [[10, 20], [20, 10]]);
    // Made-up CPU ids say nothing about where this thread runs.
    assert_eq!(t.current_node(), None);
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

// ---- builder ----

fn build_err(b: &TopologyBuilder) -> String {
    let err = b.build().unwrap_err();
    assert!(!err.is_parse() && !err.is_placement() && err.path().is_none());
    err.to_string()
}

#[test]
fn builder_two_nodes_with_cache_groups_and_distances() {
    let t = Topology::builder()
        // Out of order on purpose: groups are sorted by lowest CPU.
        .node_with_llcs(vec![set("4-7"), set("0-3")])
        .node_with_llcs(vec![set("8-9,12-13"), set("10-11,14-15")])
        .distances(vec![vec![10, 21], vec![21, 10]])
        .allowed(set("2-5,8-15"))
        .build()
        .unwrap();
    assert_eq!(node_cpus(&t), ["0-7", "8-15"]);
    assert_eq!(
        llcs(&t),
        ["0:L?:0-3", "0:L?:4-7", "1:L?:8-9,12-13", "1:L?:10-11,14-15"]
    );
    assert_eq!(t.llc_groups_of(NodeId::new(1))[0].id(), LlcId::new(2));
    assert_eq!(t.llc_of_cpu(13).unwrap().id(), LlcId::new(2));
    assert_eq!(t.llc_of_cpu(16), None);
    assert_eq!(t.node_of_cpu(100_000), None);
    assert_eq!(distances(&t), [[10, 21], [21, 10]]);
    assert_eq!(t.distance(NodeId::new(0), NodeId::new(2)), None);
    assert!(t.llc_groups_of(NodeId::new(2)).is_empty());
    assert_eq!(t.allowed_cpus_of(NodeId::new(0)), set("2-5"));
    assert_eq!(counts(&t, 6), [2, 4]);
    assert_eq!(t.current_node(), None);
    assert_eq!(
        t.to_string(),
        "2 NUMA nodes, 16 CPUs, 12 allowed (2-5,8-15)\n  \
         node0: CPUs 0-7 (2-5 allowed), LLC groups 0-3 | 4-7, distances 10 21\n  \
         node1: CPUs 8-15, LLC groups 8-9,12-13 | 10-11,14-15, distances 21 10"
    );
}

#[test]
fn builder_four_nodes_nearest_order_follows_distances() {
    // Two sockets of two nodes each; node 0's matrix row is uneven on purpose.
    let matrix = vec![
        vec![10, 30, 12, 20],
        vec![30, 10, 20, 12],
        vec![12, 20, 10, 30],
        vec![20, 12, 30, 10],
    ];
    let mut b = Topology::builder();
    for n in 0..4 {
        b.node_with_llcs(vec![
            (n * 4..n * 4 + 2).collect(),
            (n * 4 + 2..n * 4 + 4).collect(),
        ]);
    }
    let t = b.distances(matrix.clone()).build().unwrap();
    assert_eq!(distances(&t), matrix);
    assert_eq!(t.llc_groups().len(), 8);
    assert_eq!(llcs(&t)[5], "2:L?:10-11");
    let order = |n: usize| -> Vec<usize> {
        let v = t.nearest_nodes(NodeId::new(n));
        v.into_iter().map(NodeId::index).collect()
    };
    assert_eq!(order(0), [0, 2, 3, 1]);
    assert_eq!(order(1), [1, 3, 2, 0]);
    assert_eq!(order(3), [3, 1, 0, 2]);
    assert!(t.nearest_nodes(NodeId::new(4)).is_empty());
    // Ties go to the lower id; the node itself comes first whatever its row.
    let t = Topology::builder()
        .node(set("0"))
        .node(set("1"))
        .node(set("2"))
        .distances(vec![vec![40, 20, 20], vec![20, 10, 20], vec![20, 20, 10]])
        .build()
        .unwrap();
    assert_eq!(t.nearest_nodes(NodeId::new(0)), [0, 1, 2].map(NodeId::new));
    assert_eq!(t.nearest_nodes(NodeId::new(2)), [2, 0, 1].map(NodeId::new));
    assert_eq!(counts(&Topology::synthetic(4, 2), 5), [2, 1, 1, 1]);
}

#[test]
fn builder_cpuless_node() {
    let t = Topology::builder()
        .node(set("0-3"))
        .node(CpuSet::new())
        .node_with_llcs(vec![])
        .build()
        .unwrap();
    assert_eq!(node_cpus(&t), ["0-3", "", ""]);
    assert_eq!(llcs(&t), ["0:L?:0-3"]);
    assert!(t.llc_groups_of(NodeId::new(1)).is_empty());
    assert_eq!(counts(&t, 3), [3, 0, 0]);
    assert_eq!(distances(&t)[1], [20, 10, 20]);
}

#[test]
fn builder_errors_name_the_part() {
    assert_eq!(
        build_err(&Topology::builder()),
        "unusable topology: the topology has no node; add one with .node(..)"
    );
    let cases: Vec<(TopologyBuilder, &str)> = vec![
        (
            Topology::builder()
                .node_with_llcs(vec![set("0-1"), CpuSet::new()])
                .clone(),
            "LLC group 1 of node0 is empty; give every cache group at least one CPU",
        ),
        (
            Topology::builder()
                .node(set("0-1"))
                .node_with_llcs(vec![set("2-4"), set("4-5")])
                .clone(),
            "CPUs 4 are in two LLC groups of node1; put each CPU in one group",
        ),
        (
            Topology::builder()
                .node(set("0-3"))
                .node(set("4-5"))
                .node(set("3-4,9"))
                .clone(),
            "CPUs 3-4 are in node0 and in node2; give each CPU to one node",
        ),
        (
            Topology::builder().node(CpuSet::new()).clone(),
            "no node has a CPU; give at least one node a CPU",
        ),
        (
            Topology::builder()
                .node(set("0"))
                .node([CpuSet::MAX_PARSED_CPU + 1].into_iter().collect())
                .clone(),
            "CPU 1048576 of node1 is above the largest supported CPU id 1048575",
        ),
        (
            Topology::builder()
                .node(set("0"))
                .node(set("1"))
                .distances(vec![vec![10, 20]])
                .clone(),
            "the distance matrix has 1 rows but there are 2 nodes; give one row per node",
        ),
        (
            Topology::builder()
                .node(set("0"))
                .node(set("1"))
                .distances(vec![vec![10, 20], vec![20]])
                .clone(),
            "row 1 of the distance matrix has 1 entries but there are 2 nodes; \
             give one entry per node",
        ),
        (
            Topology::builder()
                .node(set("0"))
                .node(set("1"))
                .distances(vec![vec![10, 20], vec![0, 10]])
                .clone(),
            "the distance from node1 to node0 is 0; distances are positive \
             (Linux reports 10 from a node to itself)",
        ),
        (
            Topology::builder()
                .node(set("0-3"))
                .allowed(CpuSet::new())
                .clone(),
            "the allowed CPU set is empty; allow at least one CPU",
        ),
        (
            Topology::builder()
                .node(set("0-3"))
                .allowed(set("2-5"))
                .clone(),
            "allowed CPUs 4-5 belong to no node (the nodes have CPUs 0-3)",
        ),
    ];
    for (builder, what) in cases {
        assert_eq!(build_err(&builder), format!("unusable topology: {what}"));
    }
}

#[test]
#[should_panic(expected = "Topology::synthetic: 1048577 nodes x 1 CPUs is more than 1048576 CPUs")]
fn synthetic_too_many_cpus_panics() {
    let _ = Topology::synthetic(CpuSet::MAX_PARSED_CPU + 2, 1);
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Topology>();
    check::<CpuSet>();
    check::<TopologyError>();
    check::<NodeId>();
    check::<LlcId>();
    check::<CacheGroup>();
    check::<TopologyBuilder>();
    check::<Placement>();
    check::<WorkerPlacement>();
}
