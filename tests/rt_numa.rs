//! NUMA placement on synthetic topologies (workers on virtual CPUs, pinning
//! off): node affinity, the stealing order and its hysteresis, `NodeLocal`.
//!
//! Which node a task ran on is read through `NodeLocal::get`, which returns
//! the instance of the calling worker's node. Assertions use counts and
//! synchronisation, never timing.

mod support;
use support::*;

use perf_runtime::runtime::{Builder, Runtime};
use perf_runtime::task;
use perf_runtime::topology::{NodeId, NodeLocal, Topology};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};

fn numa_runtime(nodes: usize, workers_per_node: usize, hysteresis: u32) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(nodes * workers_per_node)
        .topology(Topology::synthetic(nodes, workers_per_node))
        .steal_hysteresis(hysteresis)
        .build()
        .unwrap()
}

/// Per-node counters on `rt`'s topology.
fn counters(rt: &Runtime) -> Arc<NodeLocal<AtomicUsize>> {
    Arc::new(NodeLocal::with_topology(rt.handle().topology(), |_| {
        AtomicUsize::new(0)
    }))
}

fn count_on(c: &NodeLocal<AtomicUsize>, node: usize) -> usize {
    c.get_node(NodeId::new(node)).unwrap().load(SeqCst)
}

/// Spawns `n` tasks with affinity to `node` that each count three polls on
/// the node they run on, and waits for them.
fn run_affine_tasks(rt: &Runtime, node: usize, n: usize, seen: &Arc<NodeLocal<AtomicUsize>>) {
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let seen = seen.clone();
            task::Builder::new()
                .node(node)
                .spawn_on(
                    async move {
                        for _ in 0..3 {
                            seen.get().fetch_add(1, SeqCst);
                            task::yield_now().await;
                        }
                    },
                    rt.handle(),
                )
                .unwrap()
        })
        .collect();
    rt.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
}

#[test]
fn affine_tasks_run_only_on_their_node_when_remote_stealing_is_off() {
    for nodes in [2, 4] {
        within(move || {
            let rt = numa_runtime(nodes, 2, u32::MAX);
            let seen = counters(&rt);
            let target = nodes - 1;
            run_affine_tasks(&rt, target, 300, &seen);
            assert_eq!(count_on(&seen, target), 900, "{nodes} nodes");
            for other in 0..target {
                assert_eq!(
                    count_on(&seen, other),
                    0,
                    "{nodes} nodes: ran on node {other}"
                );
            }
            assert_eq!(rt.metrics().remote_steals(), 0);
        });
    }
}

/// Blocks one worker until the returned sender is used; returns the node it
/// blocks on (wherever the scheduler put it).
fn block_one_worker(rt: &Runtime) -> (usize, mpsc::Sender<()>, task::JoinHandle<()>) {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (node_tx, node_rx) = mpsc::channel::<usize>();
    let probe = counters(rt);
    let h = rt.spawn(async move {
        probe.get().fetch_add(1, SeqCst);
        let node = (0..probe.len())
            .find(|&n| count_on(&probe, n) == 1)
            .unwrap();
        node_tx.send(node).unwrap();
        let _ = release_rx.recv_timeout(PATIENCE);
    });
    let node = node_rx
        .recv_timeout(PATIENCE)
        .expect("the blocker never ran");
    (node, release_tx, h)
}

#[test]
fn an_idle_node_steals_from_a_starved_one_after_the_hysteresis() {
    for hysteresis in [0, 3] {
        within(move || {
            // One worker per node: block one, and give its node work.
            let rt = numa_runtime(2, 1, hysteresis);
            let (blocked, release, blocker) = block_one_worker(&rt);
            let seen = counters(&rt);
            run_affine_tasks(&rt, blocked, 50, &seen);
            let other = 1 - blocked;
            assert_eq!(
                count_on(&seen, other),
                150,
                "hysteresis {hysteresis}: the idle node did not take over"
            );
            assert!(rt.metrics().remote_steals() >= 1);
            release.send(()).unwrap();
            rt.block_on(blocker).unwrap();
        });
    }
}

#[test]
fn node_outside_the_runtime_is_an_error_naming_it() {
    let rt = numa_runtime(2, 1, 2);
    let err = task::Builder::new()
        .node(2)
        .spawn_on(async {}, rt.handle())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("node(2)") && err.contains("2 NUMA node"),
        "{err}"
    );
}

#[test]
fn node_local_gives_each_worker_its_node_instance_created_lazily() {
    within(|| {
        let rt = numa_runtime(2, 1, u32::MAX);
        let created = Arc::new(Mutex::new(Vec::new()));
        let c2 = created.clone();
        let local = Arc::new(NodeLocal::with_topology(rt.handle().topology(), move |n| {
            c2.lock().unwrap().push(n.index());
            n.index()
        }));
        assert_eq!(local.iter().count(), 0, "nothing is created up front");
        for node in [1, 0] {
            let l = local.clone();
            let got = rt
                .block_on(
                    task::Builder::new()
                        .node(node)
                        .spawn_on(async move { *l.get() }, rt.handle())
                        .unwrap(),
                )
                .unwrap();
            assert_eq!(got, node);
        }
        assert_eq!(*created.lock().unwrap(), vec![1, 0]);
        assert_eq!(local.len(), 2);
    });
}

#[test]
fn placement_errors_name_the_problem() {
    use perf_runtime::topology::{CpuSet, Placement};
    let allowed = Topology::detect().allowed_cpus().clone();
    let bad_cpu = allowed.iter().max().unwrap() + 1;
    let err = Builder::new_multi_thread()
        .worker_threads(1)
        .placement(Placement::Custom(vec![CpuSet::from_iter([bad_cpu])]))
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains(&bad_cpu.to_string()), "{err}");
    let err = Builder::new_multi_thread()
        .worker_threads(allowed.len() + 1)
        .placement(Placement::PinToCore)
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("PinToCore"), "{err}");
}

#[test]
fn pin_to_core_pins_each_worker_to_its_own_cpu() {
    use perf_runtime::topology::Placement;
    within(|| {
        let allowed = Topology::detect().allowed_cpus().clone();
        let n = allowed.len().min(2);
        let rt = Builder::new_multi_thread()
            .worker_threads(n)
            .placement(Placement::PinToCore)
            .build()
            .unwrap();
        // Hold every worker at once, and ask each for its affinity mask.
        let meeting = Arc::new(Rendezvous::new());
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let m = meeting.clone();
                rt.spawn(async move {
                    assert!(m.meet(n), "the workers never ran together");
                    affinity_len()
                })
            })
            .collect();
        for h in handles {
            assert_eq!(
                rt.block_on(h).unwrap(),
                1,
                "a worker is not pinned to one CPU"
            );
        }
    });
}

/// The number of CPUs in the calling thread's affinity mask.
fn affinity_len() -> usize {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list:"))
        .unwrap();
    line.split(':')
        .nth(1)
        .unwrap()
        .trim()
        .parse::<perf_runtime::topology::CpuSet>()
        .unwrap()
        .len()
}

#[test]
fn a_busy_workers_queue_is_stolen_by_its_node_sibling() {
    within(|| {
        // 2 nodes × 2 workers, remote stealing off: a task on node 0 queues
        // work on its own worker and then blocks it; only the other node-0
        // worker can take that work, by a local steal.
        let rt = numa_runtime(2, 2, u32::MAX);
        let meeting = Arc::new(Rendezvous::new());
        let seen = counters(&rt);
        let (m, s) = (meeting.clone(), seen.clone());
        let parent = task::Builder::new()
            .node(0)
            .spawn_on(
                async move {
                    let m2 = m.clone();
                    let s2 = s.clone();
                    let partner = perf_runtime::spawn(async move {
                        s2.get().fetch_add(1, SeqCst);
                        m2.meet(2)
                    });
                    // Two more, so the deque holds two tasks and a sibling
                    // is woken to steal.
                    let extra: Vec<_> = (0..2).map(|_| perf_runtime::spawn(async {})).collect();
                    let met = m.meet(2);
                    (met, partner, extra)
                },
                rt.handle(),
            )
            .unwrap();
        let (met, partner, extra) = rt.block_on(parent).unwrap();
        assert!(
            met,
            "the queued partner never ran while its worker was blocked"
        );
        assert!(rt.block_on(partner).unwrap());
        for h in extra {
            rt.block_on(h).unwrap();
        }
        assert_eq!(count_on(&seen, 0), 1, "the partner ran on node 0");
        let m = rt.metrics();
        assert!(m.local_steals() >= 1, "no local steal counted");
        assert_eq!(m.remote_steals(), 0);
    });
}
