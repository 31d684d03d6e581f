//! The pool checks of the resource policy (the specification's
//! `ValidatePoolCompliance`): worker count, queue depth per class, NUMA
//! placement and pod QoS class, each a violation with its severity and
//! resource, recorded when the breach starts; and the runtime running them
//! on its own.

mod policy_support;
mod support;
use policy_support::*;
use support::wait_until;

use perf_runtime::policy::ResourceLimit;
use perf_runtime::qos::{Severity, ViolationKind};
use perf_runtime::runtime::Builder;
use perf_runtime::task::{self, Qos};
use std::time::Duration;

#[test]
fn more_workers_than_max_workers_is_a_high_violation_recorded_once() {
    let mut limit = ResourceLimit::default();
    limit.max_workers = Some(1);
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .resource_limit(limit)
        .policy_reload_interval(None)
        .build()
        .unwrap();
    let h = rt.handle();
    let found = h.check_policy();
    assert_eq!(found.len(), 1, "{found:?}");
    let v = &found[0];
    assert_eq!(v.kind, ViolationKind::Workers);
    assert_eq!(v.severity, Severity::High);
    assert_eq!(v.resource, "workers");
    assert_eq!(v.qos, None);
    assert!(
        v.message.contains("2 active workers exceed the limit of 1"),
        "{v}"
    );
    // Still in force: reported, not recorded again.
    assert_eq!(h.check_policy().len(), 1);
    assert_eq!(h.qos_violations().len(), 1);
    assert_eq!(h.qos_violation_count(ViolationKind::Workers), 1);
}

#[test]
fn a_deep_class_queue_is_a_medium_violation_each_time_it_starts() {
    let mut limit = ResourceLimit::default();
    limit.class_mut(Qos::Batch).max_queue_depth = Some(2);
    let rt = Builder::new_current_thread()
        .resource_limit(limit)
        .policy_reload_interval(None)
        .build()
        .unwrap();
    let h = rt.handle();
    let queue = |n: usize| {
        for _ in 0..n {
            // From outside the runtime's thread: into the injection queue.
            task::Builder::new()
                .qos(Qos::Batch)
                .spawn_on(async {}, h)
                .unwrap();
        }
    };
    queue(2);
    assert!(h.check_policy().is_empty(), "2 queued is at the limit");
    queue(1);
    let found = h.check_policy();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, ViolationKind::QueueDepth);
    assert_eq!(found[0].severity, Severity::Medium);
    assert_eq!(found[0].resource, "queue.batch");
    assert_eq!(found[0].qos, Some(Qos::Batch));
    assert!(
        found[0].message.starts_with("3 queued batch tasks"),
        "{}",
        found[0]
    );

    // The runtime drains the queue: the breach ends...
    rt.block_on(task::yield_now());
    assert!(h.check_policy().is_empty());
    // ...and a new one is a new violation.
    queue(3);
    assert_eq!(h.check_policy().len(), 1);
    assert_eq!(h.qos_violation_count(ViolationKind::QueueDepth), 2);
}

#[test]
fn cpus_on_a_numa_node_outside_the_policy_are_a_critical_violation() {
    let probe = Builder::new_current_thread().build().unwrap();
    let ours: Vec<usize> = probe
        .handle()
        .topology()
        .nodes()
        .iter()
        .map(|n| n.os_id())
        .collect();
    drop(probe);

    let mut limit = ResourceLimit::default();
    limit.numa_nodes = Some(ours.clone());
    let rt = Builder::new_current_thread()
        .resource_limit(limit)
        .policy_reload_interval(None)
        .build()
        .unwrap();
    assert!(
        rt.handle().check_policy().is_empty(),
        "our own nodes: {ours:?}"
    );

    let elsewhere = ours.iter().max().unwrap() + 1;
    let mut limit = ResourceLimit::default();
    limit.numa_nodes = Some(vec![elsewhere]);
    let rt = Builder::new_current_thread()
        .resource_limit(limit)
        .policy_reload_interval(None)
        .build()
        .unwrap();
    let found = rt.handle().check_policy();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, ViolationKind::Numa);
    assert_eq!(found[0].severity, Severity::Critical);
    assert_eq!(found[0].resource, "numa");
}

#[test]
fn a_pod_in_another_qos_class_than_the_policy_requires_is_a_violation() {
    let s = Scratch::new("podqos");
    let root = s.container_in(
        "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-abc.scope",
        "200000 100000",
        1 << 20,
        1 << 30,
    );
    let file = s.put("policy.toml", "[limits]\nqos = \"guaranteed\"\n");
    let rt = Builder::new_current_thread()
        .container_root(&root)
        .container_refresh(None)
        .policy_file(&file)
        .policy_reload_interval(None)
        .build()
        .unwrap();
    let h = rt.handle();
    assert_eq!(
        h.container_limits().unwrap().k8s_qos,
        Some(perf_runtime::container::K8sQos::Burstable)
    );
    let found = h.check_policy();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, ViolationKind::PodQos);
    assert_eq!(
        found[0].message,
        "the pod runs as Burstable, the policy requires Guaranteed"
    );
    // Without a requirement in the file, the detected class is the policy's.
    let rt = Builder::new_current_thread()
        .container_root(&root)
        .container_refresh(None)
        .policy_reload_interval(None)
        .build()
        .unwrap();
    assert!(rt.handle().check_policy().is_empty());
}

#[test]
fn the_runtime_runs_the_checks_on_its_own() {
    let mut limit = ResourceLimit::default();
    limit.max_workers = Some(1);
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .resource_limit(limit)
        .policy_reload_interval(Some(Duration::from_millis(5)))
        .build()
        .unwrap();
    let h = rt.handle().clone();
    // A bound on a broken checker, not a timing assertion.
    assert!(wait_until(Duration::from_secs(30), || {
        h.qos_violation_count(ViolationKind::Workers) == 1
    }));
    assert_eq!(h.qos_violations()[0].kind, ViolationKind::Workers);
}
