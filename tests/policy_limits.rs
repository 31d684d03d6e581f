//! The three limits of the resource policy that act on the pool rather than
//! on a spawn: `max_locks` (a High violation on resource `locks` at a pool
//! check), `cpu_millicores` (caps the worker count, at start and live) and
//! `memory_mb` (the process's resident memory graded against it),
//! on both flavours, with or without the container monitor thread.

mod policy_support;
use policy_support::*;

use perf_runtime::container::PressureLevel;
use perf_runtime::policy::ResourceLimit;
use perf_runtime::qos::{Severity, ViolationKind};
use perf_runtime::runtime::{Builder, Runtime};
use perf_runtime::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

const REFRESH: Duration = Duration::from_millis(10);
const PATIENCE: Duration = Duration::from_secs(10);
const MIB: u64 = 1 << 20;

fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + PATIENCE;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

/// A multi-thread runtime on the fixture container, its monitor running.
fn sized(root: &std::path::Path, limit: ResourceLimit) -> Runtime {
    Builder::new_multi_thread()
        .container_root(root)
        .container_refresh(Some(REFRESH))
        .resource_limit(limit)
        .build()
        .unwrap()
}

fn lock_breaches(rt: &Runtime) -> Vec<perf_runtime::qos::QosViolation> {
    rt.handle()
        .check_policy()
        .into_iter()
        .filter(|v| v.kind == ViolationKind::Locks)
        .collect()
}

#[test]
fn more_live_locks_than_max_locks_is_a_high_violation_on_locks() {
    let mut limit = ResourceLimit::default();
    limit.max_locks = Some(500);
    let rt = Builder::new_current_thread()
        .container_refresh(None)
        .policy_reload_interval(None)
        .resource_limit(limit)
        .build()
        .unwrap();
    assert!(lock_breaches(&rt).is_empty(), "no breach before the locks");
    let mutexes: Vec<Mutex<u32>> = (0..400).map(Mutex::new).collect();
    let rwlocks: Vec<RwLock<u32>> = (0..400).map(RwLock::new).collect();
    let found = lock_breaches(&rt);
    assert_eq!(found.len(), 1, "{found:?}");
    let v = &found[0];
    assert_eq!(v.resource, "locks");
    assert_eq!(v.severity, Severity::High);
    assert!(v.message.contains("limit of 500"), "{}", v.message);
    assert_eq!(rt.handle().qos_violation_count(ViolationKind::Locks), 1);
    // Still in breach: reported by the check, recorded once.
    assert_eq!(lock_breaches(&rt).len(), 1);
    assert_eq!(rt.handle().qos_violation_count(ViolationKind::Locks), 1);
    drop(mutexes);
    drop(rwlocks);
    assert!(
        lock_breaches(&rt).is_empty(),
        "the dropped locks still count"
    );
    assert!(rt
        .handle()
        .qos_violations()
        .iter()
        .any(|v| v.kind == ViolationKind::Locks && v.resource == "locks"));
}

#[test]
fn cpu_millicores_caps_the_workers_at_start() {
    let s = Scratch::new("millicores_start");
    // No quota on 2 CPUs: 2 workers without the policy.
    let root = s.container("max 100000", 100 * MIB, 1024 * MIB);
    let uncapped = sized(&root, ResourceLimit::default());
    assert_eq!(uncapped.metrics().active_workers(), 2);
    drop(uncapped);
    let mut limit = ResourceLimit::default();
    limit.cpu_millicores = Some(900);
    let rt = sized(&root, limit);
    assert_eq!(rt.metrics().active_workers(), 1);
    let d = rt.handle().worker_decision();
    assert_eq!(d.workers, 1);
    assert!(d.reason.contains("cpu_millicores = 900"), "{}", d.reason);
    assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);
}

#[test]
fn a_reloaded_cpu_millicores_resizes_the_workers_live() {
    let s = Scratch::new("millicores_live");
    let root = s.container("max 100000", 100 * MIB, 1024 * MIB);
    let file = s.put("policy.toml", "[limits]\ncpu_millicores = 2000\n");
    let rt = Builder::new_multi_thread()
        .container_root(&root)
        .container_refresh(Some(REFRESH))
        .policy_file(&file)
        .policy_reload_interval(Some(REFRESH))
        .build()
        .unwrap();
    assert_eq!(rt.metrics().active_workers(), 2);
    s.put("policy.toml", "[limits]\ncpu_millicores = 1000\n");
    assert!(
        wait_until(|| rt.metrics().active_workers() == 1),
        "active workers stayed at {}",
        rt.metrics().active_workers()
    );
    // Above the container's CPUs: back to what the cpuset allows.
    s.put("policy.toml", "[limits]\ncpu_millicores = 8000\n");
    assert!(
        wait_until(|| rt.metrics().active_workers() == 2),
        "active workers stayed at {}",
        rt.metrics().active_workers()
    );
}

#[test]
fn memory_mb_grades_the_processs_resident_memory() {
    let s = Scratch::new("memory_mb");
    // 600 MiB of a 1 GiB limit: no pressure from the container.
    let root = s.container("max 100000", 600 * MIB, 1024 * MIB);
    let plain = sized(&root, ResourceLimit::default());
    assert_eq!(plain.handle().pressure(), PressureLevel::None);
    drop(plain);
    // This test process's resident memory is far above 1 MiB: Critical.
    let mut limit = ResourceLimit::default();
    limit.memory_mb = Some(1);
    let rt = sized(&root, limit);
    assert_eq!(rt.handle().pressure(), PressureLevel::Critical);
    // And it stays so at the monitor's passes (not reset to the
    // container's level).
    std::thread::sleep(REFRESH * 5);
    assert_eq!(rt.handle().pressure(), PressureLevel::Critical);
    drop(rt);
    // A generous memory_mb changes nothing: the container's 600 MiB of
    // usage (page cache included) does not count against it.
    let mut limit = ResourceLimit::default();
    limit.memory_mb = Some(1 << 20);
    let rt = sized(&root, limit);
    std::thread::sleep(REFRESH * 5);
    assert_eq!(rt.handle().pressure(), PressureLevel::None);
}

#[test]
fn the_limits_apply_without_the_monitor_thread_and_on_current_thread() {
    let s = Scratch::new("no_monitor");
    let root = s.container("max 100000", 600 * MIB, 1024 * MIB);
    let mut limit = ResourceLimit::default();
    limit.cpu_millicores = Some(900);
    // Below this test process's resident memory: Critical.
    limit.memory_mb = Some(1);
    // Multi-thread, no monitor: both limits act at build time.
    let rt = Builder::new_multi_thread()
        .container_root(&root)
        .container_refresh(None)
        .resource_limit(limit.clone())
        .build()
        .unwrap();
    assert_eq!(rt.metrics().active_workers(), 1);
    assert_eq!(rt.handle().pressure(), PressureLevel::Critical);
    assert_eq!(rt.block_on(rt.spawn(async { 7 })).unwrap(), 7);
    drop(rt);
    // current_thread, with or without the monitor: memory_mb sets the level.
    for refresh in [None, Some(REFRESH)] {
        let rt = Builder::new_current_thread()
            .container_root(&root)
            .container_refresh(refresh)
            .resource_limit(limit.clone())
            .build()
            .unwrap();
        assert_eq!(
            rt.handle().pressure(),
            PressureLevel::Critical,
            "current_thread, container_refresh {refresh:?}"
        );
    }
}
