//! Deadlock resolution (`Builder::on_deadlock`): with `AbortVictim` an
//! actual deadlock is broken by cancelling the youngest task of its cycle —
//! its `JoinHandle` says it was chosen as a deadlock victim and names the
//! cycle, its guards are released, the other tasks of the cycle and the
//! bystanders complete, and no wait or hold is left behind. A blocking job
//! of the cycle is never chosen, nor a task outside it. `Panic` panics the
//! task whose wait closed the cycle even in `Report` mode; `Report` (the
//! default) leaves the tasks blocked.

mod validation_support;

use perf_runtime::runtime::{Builder, Runtime};
use perf_runtime::sync::{oneshot, Mutex};
use perf_runtime::task::JoinHandle;
use perf_runtime::time::timeout;
use perf_runtime::validation::{self, DeadlockAction, Mode, ViolationKind::*};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use validation_support::*;

const FILE: &str = file!();
const SRC: &str = include_str!("validation_resolution.rs");

fn at(marker: &str) -> u32 {
    line_of(SRC, marker)
}

fn runtime(action: DeadlockAction, mode: Mode) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .validation(mode)
        .on_deadlock(action)
        .build()
        .unwrap()
}

/// A task that counts until told to stop, then returns its count: it keeps
/// the runtime busy, so "every task is blocked" never holds.
fn bystander(stop: Arc<AtomicBool>) -> JoinHandle<u64> {
    perf_runtime::spawn(async move {
        let n = AtomicU64::new(0);
        while !stop.load(SeqCst) {
            n.fetch_add(1, SeqCst);
            perf_runtime::task::yield_now().await;
        }
        n.load(SeqCst)
    })
}

/// Two tasks take `a` and `b` in opposite orders, each after the other
/// holds its first lock: an actual ABBA deadlock, closed by whichever
/// second `lock()` waits last. Evaluates to (older, younger) handles.
///
/// A macro, so that every site of one use is the line that uses it: a
/// report is recorded once per distinct set of sites, and each test needs
/// its own.
macro_rules! abba {
    ($a:expr, $b:expr) => {{
        let (a_held_tx, a_held_rx) = oneshot::channel::<()>();
        let (b_held_tx, b_held_rx) = oneshot::channel::<()>();
        let (a1, b1) = ($a.clone(), $b.clone());
        let older: JoinHandle<u32> = perf_runtime::spawn(async move {
            let mut ga = a1.lock().await;
            a_held_tx.send(()).unwrap();
            b_held_rx.await.unwrap();
            let mut gb = b1.lock().await;
            *ga += 1;
            *gb += 1;
            *ga + *gb
        });
        let (a2, b2) = ($a.clone(), $b.clone());
        let younger: JoinHandle<u32> = perf_runtime::spawn(async move {
            let mut gb = b2.lock().await;
            b_held_tx.send(()).unwrap();
            a_held_rx.await.unwrap();
            let mut ga = a2.lock().await;
            *ga += 10;
            *gb += 10;
            *ga + *gb
        });
        (older, younger)
    }};
}

#[test]
fn abort_victim_cancels_the_youngest_task_of_an_abba_cycle_and_the_rest_completes() {
    let _s = serial();
    // Report mode: the inversion the two orders make is reported (once)
    // when the second order is taken, before the deadlock forms.
    let rt = runtime(DeadlockAction::AbortVictim, Mode::Report);
    let waits_before = validation::stats().active_waits;
    rt.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let ticking = bystander(stop.clone());
        let (a, b) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
        let (older, younger) = abba!(a, b); // @abba_victim
        let older_id = older.id();
        let younger_id = younger.id();
        // The older task gets both locks once the victim's guard is gone.
        let older = timeout(PATIENCE, older).await;
        assert_eq!(older.expect("the deadlock was never broken").unwrap(), 2);
        let err = younger.await.unwrap_err();
        assert!(err.is_cancelled(), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("deadlock victim"), "{msg}");
        for id in [older_id, younger_id] {
            assert!(msg.contains(&format!("task {id}")), "{msg} names task {id}");
        }
        // The victim's guard on `b` was released and its increments never
        // happened; both locks are free.
        assert_eq!(*a.try_lock().expect("a is free"), 1);
        assert_eq!(*b.try_lock().expect("b is free"), 1);
        stop.store(true, SeqCst);
        assert!(ticking.await.unwrap() > 0, "the bystander ran throughout");
    });
    let reports = take_at(FILE, &[at("@abba_victim")]);
    only(Deadlock, &reports);
    only(LockOrderInversion, &reports);
    assert_eq!(
        validation::stats().active_waits,
        waits_before,
        "no wait is left behind"
    );
}

#[test]
fn abort_victim_never_chooses_a_blocking_job_and_breaks_a_join_cycle_the_scan_finds() {
    let _s = serial();
    let rt = runtime(DeadlockAction::AbortVictim, Mode::Report);
    rt.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let ticking = bystander(stop.clone());
        let m = Arc::new(Mutex::new(0u32));
        let (m1, m2) = (m.clone(), m.clone());
        let (done_tx, done_rx) = oneshot::channel();
        // The parent holds `m` and awaits a blocking job that needs `m`:
        // a cycle through a join, which only the periodic scan sees. The
        // job was spawned last, but a blocking job is never the victim.
        let parent = perf_runtime::spawn(async move {
            let mut g = m1.lock().await;
            let job = perf_runtime::spawn_blocking(move || {
                let v = {
                    let mut g = m2.blocking_lock(); // @job_waits
                    *g += 1;
                    *g
                };
                done_tx.send(v).unwrap();
            });
            job.await.unwrap();
            *g += 100;
        });
        let parent = timeout(PATIENCE, parent).await;
        let err = parent.expect("the deadlock was never broken").unwrap_err();
        assert!(
            err.is_cancelled() && err.to_string().contains("deadlock victim"),
            "{err}"
        );
        // With the parent's guard released, the job completes; the
        // parent's increment never happened.
        assert_eq!(done_rx.await.unwrap(), 1);
        assert_eq!(*m.lock().await, 1);
        stop.store(true, SeqCst);
        ticking.await.unwrap();
    });
    only(Deadlock, &take_at(FILE, &[at("@job_waits")]));
}

#[test]
fn report_leaves_the_cycle_blocked_and_panic_panics_the_closing_task_in_report_mode() {
    let _s = serial();
    // Report: nobody is cancelled; the deadlock is recorded.
    let rt = runtime(DeadlockAction::Report, Mode::Report);
    rt.block_on(async {
        let (a, b) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
        let (older, younger) = abba!(a, b); // @abba_report
        let line = at("@abba_report");
        let reports =
            perf_runtime::task::spawn_blocking(move || await_report(Deadlock, FILE, line))
                .await
                .unwrap();
        only(Deadlock, &reports);
        assert!(!older.is_finished() && !younger.is_finished());
        // Still deadlocked: break it by hand.
        younger.abort();
        assert!(younger.await.unwrap_err().is_cancelled());
        older.await.unwrap();
    });
    drop(rt);
    // Panic: the task whose wait closed the cycle panics with the report
    // although the mode is Report; its guard goes, and the other completes.
    let rt = runtime(DeadlockAction::Panic, Mode::Report);
    rt.block_on(async {
        let (a, b) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
        let (older, younger) = abba!(a, b); // @abba_panic
        let (o, y) = (older.await, younger.await);
        let (panicked, done) = match (o, y) {
            (Err(e), Ok(v)) | (Ok(v), Err(e)) => (e, v),
            other => panic!("expected one panicked task, got {other:?}"),
        };
        assert!(panicked.is_panic());
        let msg = format!("{:?}", panicked);
        assert!(msg.contains("Deadlock"), "{msg}");
        assert!(done == 2 || done == 20, "{done}");
    });
    only(Deadlock, &take_at(FILE, &[at("@abba_panic")]));
}
