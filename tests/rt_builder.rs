//! `runtime::Builder`: settings that are refused, the worker-count
//! environment variable, thread naming and start/stop hooks, and topology.

mod support;
use support::*;

use perf_runtime::runtime::{
    Builder, Runtime, RuntimeFlavor, MAX_WORKER_THREADS, WORKER_THREADS_ENV,
};
use perf_runtime::topology::Topology;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;

/// Runs `n` tasks that each block their worker until all `n` are running:
/// true only if the runtime has at least `n` workers running at once.
fn n_tasks_run_at_once(rt: &Runtime, n: usize) -> bool {
    let meeting = Arc::new(Rendezvous::new());
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let m = meeting.clone();
            rt.spawn(async move { m.meet(n) })
        })
        .collect();
    rt.block_on(async {
        let mut all = true;
        for t in tasks {
            all &= t.await.unwrap();
        }
        all
    })
}

#[test]
#[should_panic(expected = "worker_threads")]
fn worker_threads_0_panics_naming_the_setting() {
    Builder::new_multi_thread().worker_threads(0);
}

#[test]
#[should_panic(expected = "thread_stack_size")]
fn thread_stack_size_0_panics_naming_the_setting() {
    Builder::new_multi_thread().thread_stack_size(0);
}

#[test]
#[should_panic(expected = "max_blocking_threads")]
fn max_blocking_threads_0_panics_naming_the_setting() {
    Builder::new_current_thread().max_blocking_threads(0);
}

#[test]
#[should_panic(expected = "global_queue_interval")]
fn global_queue_interval_0_panics_naming_the_setting() {
    Builder::new_multi_thread().global_queue_interval(0);
}

#[test]
#[should_panic(expected = "event_interval")]
fn event_interval_0_panics_naming_the_setting() {
    Builder::new_current_thread().event_interval(0);
}

#[test]
fn start_paused_on_multi_thread_is_a_build_error() {
    let err = Builder::new_multi_thread()
        .worker_threads(1)
        .start_paused(true)
        .build()
        .expect_err("a paused multi-thread runtime was built");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let msg = err.to_string();
    assert!(
        msg.contains("start_paused") && msg.contains("current_thread"),
        "message: {msg}"
    );
}

#[test]
fn start_paused_on_current_thread_builds() {
    let rt = Builder::new_current_thread()
        .start_paused(true)
        .build()
        .unwrap();
    assert_eq!(rt.block_on(async { 1 }), 1);
}

#[test]
fn worker_threads_sets_the_worker_count() {
    within(|| {
        for n in [1, 3] {
            let rt = Builder::new_multi_thread()
                .worker_threads(n)
                .build()
                .unwrap();
            assert_eq!(rt.metrics().num_workers(), n);
            assert!(n_tasks_run_at_once(&rt, n), "{n} workers did not all run");
        }
        let rt = Builder::new_current_thread()
            .worker_threads(4)
            .build()
            .unwrap();
        assert_eq!(
            rt.metrics().num_workers(),
            1,
            "current_thread ignores worker_threads"
        );
        assert_eq!(rt.handle().runtime_flavor(), RuntimeFlavor::CurrentThread);
    });
}

// ---- PERF_RUNTIME_WORKER_THREADS -------------------------------------------
//
// The environment is process-global and other tests build runtimes
// concurrently, so each case runs in a child process (`run_child_probe`).

const FLAVOUR_VAR: &str = "RT_BUILDER_ENV_CHILD_FLAVOUR";
const WORKERS_VAR: &str = "RT_BUILDER_ENV_CHILD_WORKERS";

/// What a child reported: `Ok(workers)` or `Err(message)`.
fn build_in_child(
    value: &str,
    flavour: &str,
    explicit_workers: Option<usize>,
) -> Result<usize, String> {
    let workers = explicit_workers.map(|n| n.to_string());
    let line = run_child_probe(
        "env_child_probe",
        &[
            (FLAVOUR_VAR, Some(flavour)),
            (WORKER_THREADS_ENV, Some(value)),
            (WORKERS_VAR, workers.as_deref()),
        ],
    );
    match line.split_once(' ') {
        Some(("ok", n)) => Ok(n.parse().unwrap()),
        Some(("err", msg)) => Err(msg.to_owned()),
        _ => panic!("unexpected child line {line:?}"),
    }
}

#[test]
#[ignore = "helper: run in a child process by the PERF_RUNTIME_WORKER_THREADS tests"]
fn env_child_probe() {
    if !in_child_probe() {
        return;
    }
    let mut builder = match std::env::var(FLAVOUR_VAR).as_deref() {
        Ok("current_thread") => Builder::new_current_thread(),
        _ => Builder::new_multi_thread(),
    };
    if let Ok(n) = std::env::var(WORKERS_VAR) {
        builder.worker_threads(n.parse().unwrap());
    }
    match builder.build() {
        Ok(rt) => {
            // The runtime must also work, not just report a count.
            assert_eq!(rt.block_on(rt.spawn(async { 7 })).unwrap(), 7);
            child_result(&format!("ok {}", rt.metrics().num_workers()));
        }
        Err(e) => {
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
            child_result(&format!("err {e}"));
        }
    }
}

#[test]
fn env_worker_count_garbage_is_a_build_error_naming_the_variable() {
    let msg = build_in_child("lots", "multi_thread", None).expect_err("garbage was accepted");
    assert!(msg.contains(WORKER_THREADS_ENV), "message: {msg}");
    assert!(
        msg.contains("lots"),
        "the message should quote the value: {msg}"
    );
}

#[test]
fn env_worker_count_0_is_a_build_error() {
    let msg = build_in_child("0", "multi_thread", None).expect_err("0 workers accepted");
    assert!(msg.contains(WORKER_THREADS_ENV), "message: {msg}");
}

#[test]
fn env_worker_count_sets_the_workers() {
    assert_eq!(build_in_child("3", "multi_thread", None), Ok(3));
    assert_eq!(
        build_in_child(" 2 ", "multi_thread", None),
        Ok(2),
        "surrounding whitespace"
    );
}

#[test]
fn explicit_worker_threads_wins_over_the_env_variable() {
    assert_eq!(build_in_child("lots", "multi_thread", Some(2)), Ok(2));
}

#[test]
fn current_thread_ignores_the_env_variable() {
    assert_eq!(build_in_child("lots", "current_thread", None), Ok(1));
}

// ---- threads -------------------------------------------------------------------

#[test]
fn thread_name_and_start_stop_hooks() {
    within(|| {
        let starts = Arc::new(AtomicUsize::new(0));
        let stops = Arc::new(AtomicUsize::new(0));
        let (s1, s2) = (starts.clone(), stops.clone());
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("rt-builder-named")
            .on_thread_start(move || {
                s1.fetch_add(1, SeqCst);
            })
            .on_thread_stop(move || {
                s2.fetch_add(1, SeqCst);
            })
            .build()
            .unwrap();
        // Both workers running proves both start hooks ran (the hook runs
        // before a worker takes its first task).
        assert!(n_tasks_run_at_once(&rt, 2));
        assert!(starts.load(SeqCst) >= 2, "starts: {}", starts.load(SeqCst));
        let name = rt
            .block_on(rt.spawn(async { thread::current().name().map(str::to_owned) }))
            .unwrap();
        assert_eq!(name.as_deref(), Some("rt-builder-named"));
        drop(rt);
        let (started, stopped) = (starts.load(SeqCst), stops.load(SeqCst));
        assert!(started >= 2);
        assert_eq!(
            stopped, started,
            "after the runtime's drop every started thread has run its stop hook"
        );
    });
}

/// Builds a runtime whose park hook reports on `parked` and whose unpark
/// hook counts into `unparks`.
fn with_park_hooks(
    mut builder: Builder,
    parked: std::sync::mpsc::Sender<()>,
    unparks: Arc<AtomicUsize>,
) -> Runtime {
    builder
        .on_thread_park(move || {
            let _ = parked.send(());
        })
        .on_thread_unpark(move || {
            unparks.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap()
}

#[test]
fn park_and_unpark_hooks_run_around_a_multi_thread_workers_park() {
    within(|| {
        let (parked_tx, parked) = std::sync::mpsc::channel();
        let unparks = Arc::new(AtomicUsize::new(0));
        let mut b = Builder::new_multi_thread();
        b.worker_threads(1);
        let rt = with_park_hooks(b, parked_tx, unparks.clone());
        // With nothing to run, the one worker parks.
        parked.recv().unwrap();
        // Running a task needs that worker, so it must unpark first.
        rt.block_on(rt.spawn(async {})).unwrap();
        assert!(unparks.load(SeqCst) >= 1, "the unpark hook did not run");
    });
}

#[test]
fn park_and_unpark_hooks_run_around_a_current_thread_park() {
    within(|| {
        let (parked_tx, parked) = std::sync::mpsc::channel();
        let unparks = Arc::new(AtomicUsize::new(0));
        let rt = with_park_hooks(Builder::new_current_thread(), parked_tx, unparks.clone());
        let (tx, rx) = perf_runtime::sync::oneshot::channel();
        // The value is sent only once `block_on` has parked waiting for it,
        // so `block_on` returns only after an unpark.
        let sender = thread::spawn(move || {
            parked.recv().unwrap();
            tx.send(7).unwrap();
        });
        assert_eq!(rt.block_on(rx).unwrap(), 7);
        sender.join().unwrap();
        assert!(unparks.load(SeqCst) >= 1, "the unpark hook did not run");
    });
}

#[test]
fn thread_name_fn_names_each_thread() {
    within(|| {
        let next = Arc::new(AtomicUsize::new(0));
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name_fn(move || format!("numbered-{}", next.fetch_add(1, SeqCst)))
            .build()
            .unwrap();
        let name = rt
            .block_on(rt.spawn(async { thread::current().name().map(str::to_owned) }))
            .unwrap()
            .unwrap();
        assert!(name.starts_with("numbered-"), "worker name {name}");
        let blocking = rt
            .block_on(rt.spawn_blocking(|| thread::current().name().map(str::to_owned)))
            .unwrap()
            .unwrap();
        assert!(blocking.starts_with("numbered-"), "pool thread {blocking}");
    });
}

#[test]
fn a_small_thread_stack_size_still_runs_tasks() {
    within(|| {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .thread_stack_size(256 * 1024)
            .build()
            .unwrap();
        let sum = rt.block_on(async {
            let hs: Vec<_> = (0..100u32)
                .map(|i| perf_runtime::spawn(async move { i }))
                .collect();
            let mut sum = 0;
            for h in hs {
                sum += h.await.unwrap();
            }
            sum
        });
        assert_eq!(sum, 4950);
        assert_eq!(rt.block_on(rt.spawn_blocking(|| 1)).unwrap(), 1);
    });
}

#[test]
fn a_synthetic_two_node_topology_with_four_workers_runs_tasks() {
    within(|| {
        let rt = Builder::new_multi_thread()
            .topology(Topology::synthetic(2, 2))
            .worker_threads(4)
            .build()
            .unwrap();
        assert_eq!(rt.metrics().num_workers(), 4);
        assert_eq!(rt.handle().topology().num_nodes(), 2);
        assert!(n_tasks_run_at_once(&rt, 4), "four workers did not all run");
        let sum = rt.block_on(async {
            let hs: Vec<_> = (0..1_000u64)
                .map(|i| {
                    perf_runtime::spawn(async move {
                        perf_runtime::task::yield_now().await;
                        i
                    })
                })
                .collect();
            let mut sum = 0;
            for h in hs {
                sum += h.await.unwrap();
            }
            sum
        });
        assert_eq!(sum, 499_500);
    });
}

#[test]
fn runtime_new_and_tokio_compat_switches_build_a_working_runtime() {
    within(|| {
        let rt = Runtime::new().unwrap();
        assert_eq!(rt.handle().runtime_flavor(), RuntimeFlavor::MultiThread);
        assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
        let rt = Builder::new_current_thread()
            .enable_all()
            .enable_time()
            .long_poll_threshold(None)
            .global_queue_interval(7)
            .event_interval(3)
            .build()
            .unwrap();
        assert_eq!(rt.block_on(rt.spawn(async { 2 })).unwrap(), 2);
    });
}

/// Issue 15: `PERF_RUNTIME_WORKER_THREADS=999999` allocated until the
/// allocator aborted. Above the cap the build fails naming the setting.
#[test]
fn env_worker_count_above_the_cap_is_a_build_error_naming_the_cap() {
    let too_many = (MAX_WORKER_THREADS + 1).to_string();
    let msg = build_in_child(&too_many, "multi_thread", None).expect_err("no cap");
    assert!(msg.contains(WORKER_THREADS_ENV), "message: {msg}");
    assert!(
        msg.contains(&too_many),
        "the message should quote the value: {msg}"
    );
    assert!(
        msg.contains(&MAX_WORKER_THREADS.to_string()),
        "the message should name the cap: {msg}"
    );
    let msg = build_in_child("999999", "multi_thread", None).expect_err("no cap");
    assert!(msg.contains("999999"), "message: {msg}");
}

#[test]
fn builder_worker_threads_above_the_cap_is_a_build_error_naming_the_cap() {
    let err = Builder::new_multi_thread()
        .worker_threads(MAX_WORKER_THREADS + 1)
        .build()
        .expect_err("no cap on Builder::worker_threads");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    let msg = err.to_string();
    assert!(msg.contains("Builder::worker_threads"), "message: {msg}");
    assert!(
        msg.contains(&MAX_WORKER_THREADS.to_string()),
        "the message should name the cap: {msg}"
    );
}

/// Issue 15: at 10k workers the build failed with a bare `os error 11`,
/// naming neither the thread nor the count. A stack no system can map makes
/// the first worker's spawn fail deterministically.
#[test]
fn a_worker_thread_that_cannot_start_is_an_error_naming_the_thread_and_count() {
    let err = Builder::new_multi_thread()
        .worker_threads(3)
        .thread_stack_size(1 << 52)
        .container_refresh(None)
        .build()
        .expect_err("a 4 PiB stack was accepted");
    let msg = err.to_string();
    assert!(msg.contains("worker thread"), "which thread: {msg}");
    assert!(msg.contains("of 3"), "how many were asked for: {msg}");
    assert!(
        msg.contains("Builder::worker_threads") && msg.contains(WORKER_THREADS_ENV),
        "what to do: {msg}"
    );
}
