//! The SystemsProvider seam, driven through every path by a test provider:
//! its policy layer (between the file and the builder, asked again while
//! the runtime runs), NUMA and lock policy, container context, deadlock
//! strategy, pressure handler and anomaly reports.

mod policy_support;
mod support;
use policy_support::*;
use support::wait_until;

use perf_runtime::container::{K8sQos, Limits, PressureLevel};
use perf_runtime::policy::{ResourceLimit, SystemsProvider};
use perf_runtime::runtime::Builder;
use perf_runtime::task::{self, Qos, TrySpawnError};
use perf_runtime::validation::Mode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Answers {
    policy: ResourceLimit,
    numa: Option<Vec<usize>>,
    locks: Option<usize>,
    container: Option<Limits>,
    strategy: Option<Mode>,
}

/// Answers what the test sets, records what the runtime tells it.
#[derive(Clone, Default)]
struct TestProvider {
    answers: Arc<Mutex<Answers>>,
    pressure: Arc<Mutex<Vec<PressureLevel>>>,
    anomalies: Arc<Mutex<Vec<(String, f64)>>>,
}

impl SystemsProvider for TestProvider {
    fn qos_policy(&self) -> ResourceLimit {
        self.answers.lock().unwrap().policy.clone()
    }
    fn numa_policy(&self) -> Option<Vec<usize>> {
        self.answers.lock().unwrap().numa.clone()
    }
    fn lock_policy(&self) -> Option<usize> {
        self.answers.lock().unwrap().locks
    }
    fn container_context(&self) -> Option<Limits> {
        self.answers.lock().unwrap().container.clone()
    }
    fn deadlock_strategy(&self) -> Option<Mode> {
        self.answers.lock().unwrap().strategy
    }
    fn on_pressure(&self, level: PressureLevel) {
        self.pressure.lock().unwrap().push(level);
    }
    fn report_anomaly(&self, metric: &str, value: f64) {
        self.anomalies
            .lock()
            .unwrap()
            .push((metric.to_owned(), value));
    }
}

fn batch_limit(limit: usize) -> ResourceLimit {
    let mut l = ResourceLimit::default();
    l.class_mut(Qos::Batch).max_tasks = Some(limit);
    l
}

#[test]
fn the_provider_layer_sits_between_the_file_and_the_builder() {
    let s = Scratch::new("layer");
    let file = s.put(
        "policy.toml",
        "[limits]\nmax_locks = 1\nmax_tasks = 7\nnuma_nodes = [3]\n[class.batch]\nmax_tasks = 10\n",
    );
    let p = TestProvider::default();
    {
        let mut a = p.answers.lock().unwrap();
        a.policy = batch_limit(20);
        a.numa = Some(vec![0]);
        a.locks = Some(99);
    }
    let mut builder = ResourceLimit::default();
    builder.max_tasks = Some(8);
    let rt = Builder::new_current_thread()
        .policy_file(&file)
        .policy_reload_interval(None)
        .systems_provider(p.clone())
        .resource_limit(builder)
        .build()
        .unwrap();
    let cur = rt.handle().policy().current();
    assert_eq!(
        cur.class(Qos::Batch).max_tasks,
        Some(20),
        "the provider over the file"
    );
    assert_eq!(cur.numa_nodes, Some(vec![0]), "numa_policy");
    assert_eq!(cur.max_locks, Some(99), "lock_policy");
    assert_eq!(cur.max_tasks, Some(8), "the builder over the file");
}

#[test]
fn the_provider_is_asked_again_while_the_runtime_runs() {
    let p = TestProvider::default();
    p.answers.lock().unwrap().policy = batch_limit(1);
    let rt = Builder::new_current_thread()
        .policy_reload_interval(Some(Duration::from_millis(5)))
        .systems_provider(p.clone())
        .build()
        .unwrap();
    let policy = rt.handle().policy().clone();
    assert_eq!(policy.current().class(Qos::Batch).max_tasks, Some(1));
    p.answers.lock().unwrap().policy = batch_limit(5);
    // A bound on a broken policy thread, not a timing assertion.
    assert!(wait_until(Duration::from_secs(30), || {
        policy.current().class(Qos::Batch).max_tasks == Some(5)
    }));
}

#[test]
fn the_container_context_replaces_what_detection_found() {
    let s = Scratch::new("context");
    let root = s.container_in(
        "kubepods/burstable/pod1/c1",
        "150000 100000",
        1 << 20,
        1 << 30,
    );
    let file = s.put("policy.toml", "[limits]\nqos = \"guaranteed\"\n");
    // The orchestrator knows better: a Guaranteed pod with 3 CPUs.
    let mut context = Limits::detect_at(&root);
    assert_eq!(context.k8s_qos, Some(K8sQos::Burstable));
    context.k8s_qos = Some(K8sQos::Guaranteed);
    context.cpu_quota = Some(3.0);
    let p = TestProvider::default();
    p.answers.lock().unwrap().container = Some(context);
    let rt = Builder::new_current_thread()
        .container_root(&root)
        .container_refresh(None)
        .policy_file(&file)
        .policy_reload_interval(None)
        .systems_provider(p)
        .build()
        .unwrap();
    let cur = rt.handle().policy().current();
    assert_eq!(cur.cpu_millicores, Some(3000));
    assert_eq!(cur.memory_mb, Some(1024), "the rest as detected");
    // The pod-QoS check takes the provider's class too: Guaranteed, as the
    // file requires (detection's Burstable would be a violation).
    assert_eq!(rt.handle().check_policy(), vec![]);
}

#[test]
fn the_deadlock_strategy_sets_the_validation_mode_of_the_runtime() {
    let p = TestProvider::default();
    p.answers.lock().unwrap().strategy = Some(Mode::Off);
    let rt = Builder::new_current_thread()
        .validation(Mode::Panic)
        .policy_reload_interval(None)
        .systems_provider(p)
        .build()
        .unwrap();
    if std::env::var_os("PERF_RUNTIME_VALIDATION").is_none() {
        assert_eq!(
            rt.block_on(async { perf_runtime::validation::mode() }),
            Mode::Off
        );
    }
    let rt = Builder::new_current_thread()
        .validation(Mode::Panic)
        .policy_reload_interval(None)
        .systems_provider(TestProvider::default())
        .build()
        .unwrap();
    if std::env::var_os("PERF_RUNTIME_VALIDATION").is_none() {
        assert_eq!(
            rt.block_on(async { perf_runtime::validation::mode() }),
            Mode::Panic,
            "no strategy: the builder's mode"
        );
    }
}

#[test]
fn the_pressure_handler_hears_each_change_and_the_return_to_none() {
    let s = Scratch::new("pressure");
    let root = s.container("max 100000", 990 << 20, 1000 << 20);
    let p = TestProvider::default();
    let rt = Builder::new_current_thread()
        .container_root(&root)
        .container_refresh(Some(Duration::from_millis(5)))
        .policy_reload_interval(Some(Duration::from_millis(5)))
        .systems_provider(p.clone())
        .build()
        .unwrap();
    let heard = |want: &[PressureLevel]| {
        wait_until(Duration::from_secs(30), || {
            p.pressure.lock().unwrap().as_slice() == want
        })
    };
    assert!(heard(&[PressureLevel::Critical]), "{:?}", p.pressure);
    s.put(
        "container/sys/fs/cgroup/svc/memory.current",
        &format!("{}\n", 100 << 20),
    );
    assert!(
        heard(&[PressureLevel::Critical, PressureLevel::None]),
        "{:?}",
        p.pressure
    );
    drop(rt);
}

#[test]
fn every_violation_is_reported_as_an_anomaly() {
    let p = TestProvider::default();
    p.answers.lock().unwrap().policy = batch_limit(0);
    let rt = Builder::new_current_thread()
        .policy_reload_interval(None)
        .systems_provider(p.clone())
        .build()
        .unwrap();
    rt.block_on(async {
        for _ in 0..2 {
            let r = task::Builder::new().qos(Qos::Batch).try_spawn(async {});
            assert!(matches!(r, Err(TrySpawnError::Overloaded(_))));
        }
    });
    assert_eq!(
        *p.anomalies.lock().unwrap(),
        vec![
            ("violations.class_tasks".to_owned(), 1.0),
            ("violations.class_tasks".to_owned(), 2.0)
        ]
    );
}
