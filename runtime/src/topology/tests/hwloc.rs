//! With the `hwloc` feature: hwloc and the sysfs reader describe this
//! machine the same way.

use super::*;

#[test]
#[cfg(target_os = "linux")]
fn hwloc_and_sysfs_agree_on_this_machine() {
    let hw = Topology::from_hwloc().unwrap();
    let fs = Topology::detect();
    assert_eq!(fs.fallback_reason(), None, "{fs}");
    println!("sysfs: {fs}\nhwloc: {hw}");

    let os_ids = |t: &Topology| t.nodes().iter().map(Node::os_id).collect::<Vec<_>>();
    assert_eq!(os_ids(&hw), os_ids(&fs));
    assert_eq!(node_cpus(&hw), node_cpus(&fs));
    assert_eq!(hw.allowed_cpus(), fs.allowed_cpus());
    for node in fs.nodes() {
        assert_eq!(hw.allowed_cpus_of(node.id()), fs.allowed_cpus_of(node.id()));
    }
    // `llcs` also checks each topology's own invariants.
    assert_eq!(llcs(&hw), llcs(&fs));
    assert_eq!(distances(&hw), distances(&fs));
    assert_eq!(hw.to_string(), fs.to_string());
    assert_eq!(hw.assign_workers(5), fs.assign_workers(5));
    // A real topology, unlike a made-up one, knows where this thread runs.
    assert!(hw.current_node().is_some());
}

#[test]
#[cfg(target_os = "linux")]
fn hwloc_allowed_cpus_follow_this_thread_binding() {
    // Pinned to one CPU, the thread's hwloc view shrinks to it while node
    // CPUs stay whole, exactly as `detect` does.
    let cpu = Topology::detect().allowed_cpus().iter().last().unwrap();
    let (hw, fs) = std::thread::spawn(move || {
        pin_current_thread(&[cpu].into_iter().collect()).unwrap();
        (Topology::from_hwloc().unwrap(), Topology::detect())
    })
    .join()
    .unwrap();
    assert_eq!(hw.allowed_cpus(), &[cpu].into_iter().collect::<CpuSet>());
    assert_eq!(hw.allowed_cpus(), fs.allowed_cpus());
    assert_eq!(node_cpus(&hw), node_cpus(&fs));
}

// ---- the reader on hwloc's own made-up machines ----

/// An hwloc topology from a synthetic description, optionally with an
/// OS-style NUMA latency matrix (which synthetic descriptions cannot
/// express, so it is added to the description's XML export).
fn hwloc_synthetic(description: &str, distances: Option<&[&[u64]]>) -> hwlocality::Topology {
    let hw = hwlocality::Topology::builder()
        .from_synthetic(description)
        .unwrap()
        .build()
        .unwrap();
    let Some(rows) = distances else {
        return hw;
    };
    let flags = hwlocality::topology::export::xml::XMLExportFlags::empty();
    let xml = hw.export_xml(flags).unwrap().as_str().to_owned();
    let n = rows.len();
    // hwloc's `length` attributes count the characters of the content.
    let indexes: String = (0..n).map(|i| format!("{i} ")).collect();
    let values: String = rows
        .iter()
        .flat_map(|r| r.iter().map(|v| format!("{v} ")))
        .collect();
    // kind 5 = FROM_OS | MEANS_LATENCY, as the Linux backend reports them.
    let element = format!(
        "  <distances2 type=\"NUMANode\" nbobjs=\"{n}\" kind=\"5\" indexing=\"os\">\n    \
         <indexes length=\"{}\">{indexes}</indexes>\n    \
         <u64values length=\"{}\">{values}</u64values>\n  </distances2>\n",
        indexes.len(),
        values.len(),
    );
    let at = xml
        .find("  <support")
        .unwrap_or_else(|| xml.find("</topology>").unwrap());
    let xml = format!("{}{element}{}", &xml[..at], &xml[at..]);
    hwlocality::Topology::builder()
        .from_xml(&xml)
        .unwrap()
        .build()
        .unwrap()
}

fn from_hw(hw: &hwlocality::Topology, binding: &str) -> Result<Topology, TopologyError> {
    super::super::hwloc::parts_of(hw, &set(binding)).map(|p| Topology::from_parts(p, false))
}

#[test]
fn hwloc_reader_agrees_with_sysfs_on_a_four_node_machine() {
    // Two packages of two nodes, each node with two L3s of two cores of two
    // hardware threads: 32 CPUs.
    let matrix: [&[u64]; 4] = [
        &[10, 12, 32, 32],
        &[12, 10, 32, 32],
        &[32, 32, 10, 12],
        &[32, 32, 13, 10],
    ];
    let hw = hwloc_synthetic("pack:2 numa:2 l3:2 core:2 pu:2", Some(&matrix));
    let hw = from_hw(&hw, "2-29").unwrap();

    // The same machine as a sysfs tree.
    let f = Fixture::new(
        "0-31",
        &[(0, "0-7"), (1, "8-15"), (2, "16-23"), (3, "24-31")],
    );
    for (node, row) in matrix.iter().enumerate() {
        let row: Vec<String> = row.iter().map(u64::to_string).collect();
        f.distance(node, &row.join(" "));
    }
    let l3: Vec<String> = (0..8).map(|i| format!("{}-{}", i * 4, i * 4 + 3)).collect();
    f.caches(&l3.iter().map(String::as_str).collect::<Vec<_>>());
    let fs = f.read("2-29").unwrap();

    assert_eq!(node_cpus(&hw), node_cpus(&fs));
    assert_eq!(llcs(&hw), llcs(&fs));
    assert_eq!(llcs(&hw)[7], "3:L3:28-31");
    assert_eq!(distances(&hw), distances(&fs));
    assert_eq!(distances(&hw)[3], [32, 32, 13, 10]);
    assert_eq!(hw.allowed_cpus(), &set("2-29"));
    assert_eq!(hw.to_string(), fs.to_string());
}

#[test]
fn hwloc_reader_splits_a_cache_over_nodes_and_keeps_cpuless_nodes_empty() {
    // One L3 over two nodes (sub-NUMA clustering).
    let hw = from_hw(
        &hwloc_synthetic("pack:1 l3:1 numa:2 core:2 pu:1", None),
        "0-3",
    )
    .unwrap();
    assert_eq!(node_cpus(&hw), ["0-1", "2-3"]);
    assert_eq!(llcs(&hw), ["0:L3:0-1", "1:L3:2-3"]);
    assert_eq!(distances(&hw), [[10, 20], [20, 10]]);

    // A second, CPU-less node beside each package's node (HBM-like): hwloc
    // lists the package's CPUs for both; the lower OS number keeps them.
    let hw = hwloc_synthetic("pack:2 [numa] [numa] l3:1 core:2 pu:1", None);
    let hw = from_hw(&hw, "0-3").unwrap();
    assert_eq!(node_cpus(&hw), ["0-1", "", "2-3", ""]);
    assert_eq!(llcs(&hw), ["0:L3:0-1", "2:L3:2-3"]);
    assert_eq!(hw.assign_workers(4), [0, 0, 2, 2].map(NodeId::new));
    assert_eq!(
        hw.to_string(),
        "4 NUMA nodes, 4 CPUs, 4 allowed (0-3)\n  \
         node0: CPUs 0-1, LLC groups 0-1 (L3), distances 10 20 20 20\n  \
         node1: no CPUs, distances 20 10 20 20\n  \
         node2: CPUs 2-3, LLC groups 2-3 (L3), distances 20 20 10 20\n  \
         node3: no CPUs, distances 20 20 20 10"
    );
}

#[test]
fn hwloc_reader_errors() {
    let hw = hwloc_synthetic("pack:1 numa:1 core:2 pu:1", None);
    let err = from_hw(&hw, "4-5").unwrap_err().to_string();
    assert_eq!(
        err,
        "unusable topology: hwloc: none of the CPUs this thread is bound to (4-5) is online (0-1)"
    );
    // Without a matrix, the kernel's defaults; with one that leaves out a
    // node, an error rather than a guess.
    let hw = hwloc_synthetic("numa:3 core:1 pu:1", None);
    assert_eq!(distances(&from_hw(&hw, "0-2").unwrap())[0], [10, 20, 20]);
    let hw = hwloc_synthetic("numa:3 core:1 pu:1", Some(&[&[10, 15], &[15, 10]]));
    assert_eq!(
        from_hw(&hw, "0-2").unwrap_err().to_string(),
        "unusable topology: hwloc: no NUMA distance matrix covers all 3 nodes"
    );
}
