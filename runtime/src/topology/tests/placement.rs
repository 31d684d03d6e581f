//! `Placement::plan` on made-up 2- and 4-node shapes, and pinning real
//! threads of this process.

use std::io;
use std::thread;

use super::*;

fn plan(p: &Placement, t: &Topology, workers: usize) -> Vec<WorkerPlacement> {
    let out = p.plan(t, workers).unwrap();
    assert_eq!(out.len(), workers);
    for w in &out {
        if let Some(cpus) = &w.cpus {
            assert!(
                !cpus.is_empty() && cpus.is_subset(t.allowed_cpus()),
                "{w:?}"
            );
        }
    }
    out
}

/// Each worker as `"node:cpus"` (`-` when unpinned).
fn shape(out: &[WorkerPlacement]) -> Vec<String> {
    out.iter()
        .map(|w| {
            let cpus = w.cpus.as_ref().map_or("-".to_owned(), CpuSet::to_string);
            format!("{}:{cpus}", w.node.index())
        })
        .collect()
}

fn plan_err(p: &Placement, t: &Topology, workers: usize) -> String {
    let err = p.plan(t, workers).unwrap_err();
    assert!(err.is_placement() && !err.is_parse() && err.path().is_none());
    let msg = err.to_string();
    assert!(msg.starts_with("invalid worker placement: "), "{msg}");
    msg
}

/// Two nodes: node 0 with two L3 groups of 4, node 1 with one of 8.
fn two_nodes() -> Topology {
    Topology::builder()
        .node_with_llcs(vec![set("0-3"), set("4-7")])
        .node(set("8-15"))
        .build()
        .unwrap()
}

#[test]
fn unpinned_and_pin_to_node_follow_assign_workers() {
    let t = two_nodes();
    assert_eq!(Placement::default(), Placement::Unpinned);
    assert_eq!(
        shape(&plan(&Placement::Unpinned, &t, 3)),
        ["0:-", "0:-", "1:-"]
    );
    assert_eq!(
        shape(&plan(&Placement::PinToNode, &t, 3)),
        ["0:0-7", "0:0-7", "1:8-15"]
    );
    // More workers than CPUs is fine: they share their node's CPUs.
    let out = plan(&Placement::PinToNode, &t, 40);
    assert_eq!(out.iter().filter(|w| w.node == NodeId::new(0)).count(), 20);
    // Only allowed CPUs, and nodes without allowed CPUs get no worker.
    let t = Topology::builder()
        .node(set("0-3"))
        .node(set("4-7"))
        .node(set("8-11"))
        .allowed(set("1-2,8-11"))
        .build()
        .unwrap();
    assert_eq!(
        shape(&plan(&Placement::PinToNode, &t, 3)),
        ["0:1-2", "2:8-11", "2:8-11"]
    );
    for p in [
        Placement::Unpinned,
        Placement::PinToNode,
        Placement::PinToCore,
    ] {
        assert!(plan(&p, &t, 0).is_empty());
    }
}

#[test]
fn pin_to_core_spreads_over_nodes_and_caches() {
    let t = two_nodes();
    // Node 0 gets 2 of 4 workers: one in each of its L3 groups.
    assert_eq!(
        shape(&plan(&Placement::PinToCore, &t, 4)),
        ["0:0", "0:4", "1:8", "1:9"]
    );
    assert_eq!(
        shape(&plan(&Placement::PinToCore, &t, 6)),
        ["0:0", "0:1", "0:4", "1:8", "1:9", "1:10"]
    );
    // Every CPU once.
    let out = plan(&Placement::PinToCore, &t, 16);
    let cpus: Vec<usize> = out
        .iter()
        .map(|w| w.cpus.as_ref().unwrap().iter().next().unwrap())
        .collect();
    assert_eq!(cpus, (0..16).collect::<Vec<_>>());
    for w in &out {
        let cpu = w.cpus.as_ref().unwrap();
        assert_eq!(cpu.len(), 1);
        assert_eq!(t.node_of_cpu(cpu.iter().next().unwrap()), Some(w.node));
    }
    assert_eq!(
        plan_err(&Placement::PinToCore, &t, 17),
        "invalid worker placement: PinToCore gives each worker a CPU of its own, but there \
         are 17 workers and only 16 allowed CPUs (0-15); use at most 16 workers, or PinToNode"
    );
}

#[test]
fn pin_to_core_on_four_nodes_uses_only_allowed_cpus() {
    let mut b = Topology::builder();
    for n in 0..4 {
        b.node_with_llcs(vec![
            (n * 4..n * 4 + 2).collect(),
            (n * 4 + 2..n * 4 + 4).collect(),
        ]);
    }
    // Node 1 keeps one CPU, node 3 none.
    let t = b.allowed(set("0-3,5,8-11")).build().unwrap();
    assert_eq!(
        shape(&plan(&Placement::PinToCore, &t, 5)),
        ["0:0", "0:2", "1:5", "2:8", "2:10"]
    );
    let out = plan(&Placement::PinToCore, &t, 9);
    assert_eq!(
        shape(&out),
        ["0:0", "0:1", "0:2", "0:3", "1:5", "2:8", "2:9", "2:10", "2:11"]
    );
    assert!(plan_err(&Placement::PinToCore, &t, 10)
        .contains("10 workers and only 9 allowed CPUs (0-3,5,8-11)"));

    let t = Topology::synthetic(4, 2);
    assert_eq!(
        shape(&plan(&Placement::PinToCore, &t, 5)),
        ["0:0", "0:1", "1:2", "2:4", "3:6"]
    );
}

#[test]
fn custom_sets_are_checked_and_pick_the_majority_node() {
    let t = two_nodes();
    let custom = Placement::Custom(vec![set("0-1"), set("6-9"), set("7-10"), set("15")]);
    assert_eq!(
        shape(&plan(&custom, &t, 4)),
        ["0:0-1", "0:6-9", "1:7-10", "1:15"]
    );
    assert_eq!(
        plan_err(&custom, &t, 3),
        "invalid worker placement: Custom lists 4 CPU sets but the runtime has 3 workers; \
         give one CPU set per worker"
    );
    let empty = Placement::Custom(vec![set("0"), CpuSet::new()]);
    assert_eq!(
        plan_err(&empty, &t, 2),
        "invalid worker placement: the CPU set of worker 1 in Custom is empty; give every \
         worker at least one CPU"
    );
    let t = Topology::builder()
        .node(set("0-3"))
        .allowed(set("0-1"))
        .build()
        .unwrap();
    let outside = Placement::Custom(vec![set("1"), set("1-2")]);
    assert_eq!(
        plan_err(&outside, &t, 2),
        "invalid worker placement: worker 1 is given CPU 2, which this process may not use \
         (allowed CPUs: 0-1); pick CPUs from Topology::allowed_cpus()"
    );
    let outside = Placement::Custom(vec![set("0,2-3,9")]);
    assert!(plan_err(&outside, &t, 1).contains("worker 0 is given CPUs 2-3,9, which"));
    assert!(plan(&Placement::Custom(vec![]), &t, 0).is_empty());
}

// ---- pinning real threads ----

/// Runs `f` on a fresh thread (so the test thread's mask is never touched)
/// and returns its result.
fn on_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    thread::spawn(f).join().unwrap()
}

#[test]
#[cfg(target_os = "linux")]
fn pinning_a_spawned_thread_to_each_allowed_cpu() {
    let t = Topology::detect();
    let allowed = os::affinity().unwrap();
    for cpu in t.allowed_cpus() {
        let (before, after, ran_on, node) = on_thread(move || {
            let before = os::affinity().unwrap();
            pin_current_thread(&[cpu].into_iter().collect()).unwrap();
            // The kernel moves the calling thread before returning.
            let ran_on = current_cpu();
            let node = Topology::detect().current_node();
            (before, os::affinity().unwrap(), ran_on, node)
        });
        assert_eq!(before, allowed);
        assert_eq!(after, [cpu].into_iter().collect::<CpuSet>());
        assert_eq!(ran_on, Some(cpu));
        assert_eq!(node, t.node_of_cpu(cpu));
    }
    // The test thread itself was never pinned.
    assert_eq!(os::affinity().unwrap(), allowed);
}

#[test]
#[cfg(target_os = "linux")]
fn planned_workers_pin_themselves() {
    let t = Topology::detect();
    for placement in [Placement::PinToCore, Placement::PinToNode] {
        let workers = t.allowed_cpus().len();
        for w in placement.plan(&t, workers).unwrap() {
            let cpus = w.cpus.clone().unwrap();
            let got = on_thread(move || {
                pin_current_thread(&cpus).unwrap();
                os::affinity().unwrap()
            });
            assert_eq!(Some(&got), w.cpus.as_ref());
        }
    }
}

#[test]
#[cfg(target_os = "linux")]
fn pinning_to_a_cpu_the_process_may_not_use_is_an_error() {
    let allowed = os::affinity().unwrap();
    let beyond = allowed.iter().last().unwrap() + 1;
    let (err, after) = on_thread(move || {
        let cpus: CpuSet = [beyond].into_iter().collect();
        (
            pin_current_thread(&cpus).unwrap_err(),
            os::affinity().unwrap(),
        )
    });
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(
        err.to_string(),
        format!(
            "cannot pin the thread to CPUs {beyond}: CPU {beyond} is not one this thread may \
             use (allowed CPUs: {allowed}); pick CPUs from Topology::allowed_cpus()"
        )
    );
    assert_eq!(after, allowed, "a refused pin must leave the mask alone");

    // Partly allowed is refused too (the kernel would silently shrink it).
    let first = allowed.iter().next().unwrap();
    let mixed: CpuSet = [first, beyond, beyond + 5].into_iter().collect();
    let err = on_thread(move || pin_current_thread(&mixed).unwrap_err());
    assert!(
        err.to_string()
            .contains(&format!("CPUs {beyond},{} are not one", beyond + 5)),
        "{err}"
    );

    let err = on_thread(|| pin_current_thread(&CpuSet::new()).unwrap_err());
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("empty CPU set"), "{err}");
}

#[test]
#[cfg(target_os = "linux")]
fn a_pinned_thread_cannot_widen_its_mask() {
    let allowed = os::affinity().unwrap();
    let mut cpus = allowed.iter();
    let (Some(a), Some(b)) = (cpus.next(), cpus.next()) else {
        // One allowed CPU: there is nothing to widen to.
        return;
    };
    let err = on_thread(move || {
        pin_current_thread(&[a].into_iter().collect()).unwrap();
        pin_current_thread(&[a, b].into_iter().collect()).unwrap_err()
    });
    assert!(
        err.to_string().contains(&format!(
            "CPU {b} is not one this thread may use (allowed CPUs: {a})"
        )),
        "{err}"
    );
}
