//! What the runtime does at each limit of the resource policy: `try_spawn`
//! refuses past a class's task limit while plain `spawn` records a
//! violation, Batch is shed under Critical memory pressure and tightened
//! under Moderate, burst credits are spent and refilled, the violation
//! history stays bounded, and a reloaded policy changes the enforcement.

mod policy_support;
use policy_support::*;

use perf_runtime::container::PressureLevel;
use perf_runtime::policy::{Burst, ResourceLimit};
use perf_runtime::qos::{self, BurstCredits, Severity, ViolationKind, HISTORY_CAPACITY};
use perf_runtime::runtime::{Builder, Runtime};
use perf_runtime::sync::oneshot;
use perf_runtime::task::{self, JoinHandle, Qos, TrySpawnError};
use std::time::{Duration, Instant};

fn runtime(limit: ResourceLimit) -> Runtime {
    Builder::new_current_thread()
        .resource_limit(limit)
        .container_refresh(None)
        .build()
        .unwrap()
}

/// A task that stays alive until `release` is dropped or sent on.
fn parked(qos: Qos, release: &mut Vec<oneshot::Sender<()>>) -> JoinHandle<()> {
    let (tx, rx) = oneshot::channel::<()>();
    release.push(tx);
    perf_runtime::spawn_with(qos, async move {
        let _ = rx.await;
    })
}

fn try_parked(
    qos: Qos,
    release: &mut Vec<oneshot::Sender<()>>,
) -> Result<JoinHandle<()>, TrySpawnError> {
    let (tx, rx) = oneshot::channel::<()>();
    let h = task::Builder::new().qos(qos).try_spawn(async move {
        let _ = rx.await;
    })?;
    release.push(tx);
    Ok(h)
}

fn overloaded(r: Result<JoinHandle<()>, TrySpawnError>) -> qos::QosViolation {
    match r {
        Err(TrySpawnError::Overloaded(v)) => v,
        other => panic!("expected Overloaded, got {other:?}"),
    }
}

#[test]
fn try_spawn_refuses_past_a_class_limit_and_spawn_records_a_violation() {
    let mut limit = ResourceLimit::default();
    limit.class_mut(Qos::Batch).max_tasks = Some(2);
    let rt = runtime(limit);
    rt.block_on(async {
        let mut release = Vec::new();
        try_parked(Qos::Batch, &mut release).unwrap();
        try_parked(Qos::Batch, &mut release).unwrap();
        let v = overloaded(try_parked(Qos::Batch, &mut release));
        assert_eq!(v.kind, ViolationKind::ClassTasks);
        assert_eq!(v.severity, Severity::High);
        assert_eq!(v.qos, Some(Qos::Batch));
        assert_eq!(v.resource, "tasks.batch");
        assert!(v.refused);
        assert!(
            v.message.contains("2 live batch tasks at the limit of 2"),
            "{v}"
        );
        // Other classes are not limited.
        try_parked(Qos::Normal, &mut release).unwrap();

        // Plain spawn never fails: the task runs, the breach is recorded.
        let extra = perf_runtime::spawn_with(Qos::Batch, async { "ran" });
        assert_eq!(extra.await.unwrap(), "ran");
        let history = qos::violations();
        assert_eq!(history.len(), 2);
        assert!(history[0].refused);
        assert!(!history[1].refused);
        assert_eq!(qos::violation_count(ViolationKind::ClassTasks), 2);

        // A completed task frees its place.
        release.remove(0).send(()).unwrap();
        perf_runtime::task::yield_now().await;
        try_parked(Qos::Batch, &mut release).unwrap();
        assert_eq!(qos::violations().len(), 2, "no new violation");
    });
}

#[test]
fn the_total_task_limit_counts_every_class() {
    let mut limit = ResourceLimit::default();
    limit.max_tasks = Some(3);
    let rt = runtime(limit);
    rt.block_on(async {
        let mut release = Vec::new();
        // block_on's future is not a task: three spawned tasks fit.
        try_parked(Qos::Critical, &mut release).unwrap();
        try_parked(Qos::Normal, &mut release).unwrap();
        try_parked(Qos::Batch, &mut release).unwrap();
        let v = overloaded(try_parked(Qos::Critical, &mut release));
        assert_eq!(v.kind, ViolationKind::TotalTasks);
        assert_eq!(v.resource, "tasks");
    });
}

#[test]
fn burst_credits_let_a_class_past_its_limit_until_spent() {
    let mut limit = ResourceLimit::default();
    limit.class_mut(Qos::Batch).max_tasks = Some(1);
    // No refill: the test does not depend on the clock.
    limit.class_mut(Qos::Batch).burst = Some(Burst {
        credits: 2,
        refill_per_sec: 0,
    });
    let rt = runtime(limit);
    rt.block_on(async {
        let handle = perf_runtime::runtime::Handle::current();
        assert_eq!(handle.burst_credits(Qos::Batch), Some(2));
        assert_eq!(handle.burst_credits(Qos::Normal), None);
        let mut release = Vec::new();
        try_parked(Qos::Batch, &mut release).unwrap();
        try_parked(Qos::Batch, &mut release).unwrap();
        assert_eq!(handle.burst_credits(Qos::Batch), Some(1));
        try_parked(Qos::Batch, &mut release).unwrap();
        assert_eq!(handle.burst_credits(Qos::Batch), Some(0));
        assert!(
            qos::violations().is_empty(),
            "a spawn on a credit is no violation"
        );
        overloaded(try_parked(Qos::Batch, &mut release));
    });
}

#[test]
fn burst_credits_refill_at_their_rate_up_to_the_bucket_size() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut b = BurstCredits::new(
        Burst {
            credits: 4,
            refill_per_sec: 3,
        },
        t0,
    );
    for _ in 0..4 {
        assert!(b.try_spend(t0));
    }
    assert!(!b.try_spend(t0), "empty");
    // 3 per second: one credit per 333.3 ms; fractions carry over.
    assert_eq!(b.available(at(300)), 0);
    assert_eq!(b.available(at(334)), 1);
    assert_eq!(b.available(at(667)), 2);
    assert!(b.try_spend(at(667)));
    assert_eq!(b.available(at(1000)), 2);
    // Never past the bucket size, however long it waits.
    assert_eq!(b.available(at(60_000)), 4);
    assert!(b.try_spend(at(60_000)));
    // The time spent full earned nothing.
    assert_eq!(b.available(at(60_100)), 3);
    assert_eq!(b.available(at(60_334)), 4);
    // A clock that goes backwards refills nothing.
    assert!(b.try_spend(at(60_334)));
    assert_eq!(b.available(at(10)), 3);
}

fn under_pressure(s: &Scratch, memory_current: u64, limit: ResourceLimit) -> Runtime {
    let root = s.container("max 100000", memory_current, 1000 << 20);
    Builder::new_current_thread()
        .container_root(&root)
        .container_refresh(None)
        .resource_limit(limit)
        .build()
        .unwrap()
}

#[test]
fn batch_is_shed_first_under_critical_memory_pressure() {
    let s = Scratch::new("critical");
    let rt = under_pressure(&s, 990 << 20, ResourceLimit::default());
    assert_eq!(rt.handle().pressure(), PressureLevel::Critical);
    rt.block_on(async {
        let mut release = Vec::new();
        let v = overloaded(try_parked(Qos::Batch, &mut release));
        assert_eq!(v.kind, ViolationKind::MemoryPressure);
        assert_eq!(v.severity, Severity::Critical);
        assert_eq!(v.resource, "memory");
        // Critical and Normal work is not shed.
        try_parked(Qos::Critical, &mut release).unwrap();
        try_parked(Qos::Normal, &mut release).unwrap();
        // A plain Batch spawn runs, and is recorded.
        assert_eq!(
            perf_runtime::spawn_with(Qos::Batch, async { 1 })
                .await
                .unwrap(),
            1
        );
        let history = qos::violations();
        assert_eq!(history.len(), 2);
        assert!(!history[1].refused);
    });
}

#[test]
fn batch_admission_tightens_under_moderate_memory_pressure() {
    let mut limit = ResourceLimit::default();
    limit.class_mut(Qos::Batch).max_tasks = Some(4);
    let s = Scratch::new("moderate");
    let rt = under_pressure(&s, 850 << 20, limit.clone());
    assert_eq!(rt.handle().pressure(), PressureLevel::Moderate);
    rt.block_on(async {
        let mut release = Vec::new();
        try_parked(Qos::Batch, &mut release).unwrap();
        try_parked(Qos::Batch, &mut release).unwrap();
        let v = overloaded(try_parked(Qos::Batch, &mut release));
        assert!(v.message.contains("limit of 2 (half of max_tasks"), "{v}");
    });
    // Without pressure, all four fit.
    let s = Scratch::new("relaxed");
    let rt = under_pressure(&s, 100 << 20, limit);
    assert_eq!(rt.handle().pressure(), PressureLevel::None);
    rt.block_on(async {
        let mut release = Vec::new();
        for _ in 0..4 {
            try_parked(Qos::Batch, &mut release).unwrap();
        }
        overloaded(try_parked(Qos::Batch, &mut release));
    });
}

#[test]
fn the_violation_history_keeps_the_newest_and_the_count_keeps_all() {
    let mut limit = ResourceLimit::default();
    limit.class_mut(Qos::Normal).max_tasks = Some(1);
    let rt = runtime(limit);
    rt.block_on(async {
        let mut release = Vec::new();
        let n = HISTORY_CAPACITY + 10;
        for _ in 0..=n {
            parked(Qos::Normal, &mut release);
        }
        let history = qos::violations();
        assert_eq!(history.len(), HISTORY_CAPACITY);
        assert_eq!(qos::violation_count(ViolationKind::ClassTasks), n as u64);
        // The oldest ten went: the first kept saw 11 live tasks.
        assert!(
            history[0].message.starts_with("11 live normal tasks"),
            "{}",
            history[0]
        );
        assert!(history[HISTORY_CAPACITY - 1]
            .message
            .starts_with(&format!("{n} live normal tasks")));
    });
}

#[test]
fn a_reloaded_policy_changes_what_is_admitted() {
    let s = Scratch::new("reload");
    let mut cm = ConfigMapDir::new(s.root.join("cm"), "[class.batch]\nmax_tasks = 1\n");
    let rt = Builder::new_current_thread()
        .policy_file(cm.file())
        .policy_reload_interval(None)
        .container_refresh(None)
        .build()
        .unwrap();
    rt.block_on(async {
        let mut release = Vec::new();
        try_parked(Qos::Batch, &mut release).unwrap();
        overloaded(try_parked(Qos::Batch, &mut release));
        cm.swap("[class.batch]\nmax_tasks = 3\n");
        let policy = perf_runtime::runtime::Handle::current().policy().clone();
        assert_eq!(policy.reload(), Ok(true));
        try_parked(Qos::Batch, &mut release).unwrap();
        try_parked(Qos::Batch, &mut release).unwrap();
        overloaded(try_parked(Qos::Batch, &mut release));
        // A file without task limits lifts them.
        cm.swap("[limits]\nmax_locks = 5\n");
        assert_eq!(policy.reload(), Ok(true));
        try_parked(Qos::Batch, &mut release).unwrap();
    });
}
