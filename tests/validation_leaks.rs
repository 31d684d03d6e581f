//! goleak's leak: a `#[perf_runtime::test]` whose runtime is left with
//! tasks parked in channel or sync waits that can never complete (nothing
//! runs, no timer is pending, and only those parked tasks could end the
//! waits) fails with a `ChannelLeak` naming each wait's site. Tasks that
//! end once the body's values drop, tasks sleeping on a timer, and tasks a
//! live outside party can still wake are not leaks.

use perf_runtime::sync::{mpsc, oneshot, Notify};
use perf_runtime::validation::{self, ViolationKind};
use std::sync::Arc;
use std::time::Duration;

/// One task waits on a `Notify` only it holds, another on a channel whose
/// only sender the first task holds: nothing can ever end either wait.
#[perf_runtime::test]
#[should_panic(expected = "ChannelLeak")]
async fn tasks_parked_in_waits_only_they_could_end_fail_the_test() {
    let notify = Arc::new(Notify::new());
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    let (ready_tx, ready_rx) = oneshot::channel::<()>();
    perf_runtime::spawn(async move {
        let _keep = tx;
        ready_tx.send(()).unwrap();
        notify.notified().await; // @leaked_notify
    });
    perf_runtime::spawn(async move {
        rx.recv().await; // @leaked_recv
    });
    ready_rx.await.unwrap();
}

/// The consumer's sender is a local of the body: when the body ends, the
/// consumer sees the channel closed and finishes. Not a leak.
#[perf_runtime::test]
async fn a_consumer_whose_sender_the_body_drops_is_no_leak() {
    let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
    perf_runtime::spawn(async move { while rx.recv().await.is_some() {} });
    tx.send(1).unwrap();
}

/// A task sleeping on a timer may still end the wait of another.
#[perf_runtime::test]
async fn a_wait_whose_waker_sleeps_on_a_timer_is_no_leak() {
    let (tx, rx) = oneshot::channel::<()>();
    perf_runtime::spawn(async move {
        perf_runtime::time::sleep(Duration::from_secs(3600)).await;
        let _ = tx.send(());
    });
    perf_runtime::spawn(async move {
        let _ = rx.await;
    });
    perf_runtime::task::yield_now().await;
}

/// A task parked on something the engine does not track (here a future
/// never woken; I/O or an external event alike) may be woken from outside,
/// so the runtime is not judged — even though another task waits on a
/// `Notify` only it holds.
#[perf_runtime::test]
async fn a_task_parked_on_something_untracked_is_not_judged() {
    let notify = Arc::new(Notify::new());
    perf_runtime::spawn(async move { notify.notified().await });
    perf_runtime::spawn(std::future::pending::<()>());
    perf_runtime::task::yield_now().await;
}

/// The report the first test panics with names both waits' sites; checked
/// here through the engine's record of it.
#[test]
fn the_leak_report_names_every_waits_site() {
    let _ = std::panic::catch_unwind(tasks_parked_in_waits_only_they_could_end_fail_the_test);
    let src = include_str!("validation_leaks.rs");
    let line = |m: &str| {
        src.lines()
            .position(|l| l.trim_end().ends_with(&format!("// {m}")))
            .unwrap() as u32
            + 1
    };
    let reports = validation::take_reports_matching(|v| {
        v.kind() == ViolationKind::ChannelLeak && v.mentions(file!(), line("@leaked_notify"))
    });
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(
        reports[0].mentions(file!(), line("@leaked_recv")),
        "{}",
        reports[0]
    );
}
