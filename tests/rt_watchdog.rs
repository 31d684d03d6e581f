//! The watchdog: a poll that blocks its worker past the threshold is counted
//! once per task and reported as a `tracing` warning naming the task.
//!
//! Here a task really blocks its worker with `std::thread::sleep` inside a
//! poll: that is the behaviour under test, not a way to wait for something.
//! Each sleep is at least three thresholds long, so the watchdog (which
//! samples every threshold / 8) has ample time to see it.

mod support;
use support::*;

use perf_runtime::runtime::{Builder, Runtime};
use perf_runtime::task;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// The default `long_poll_threshold` is 100 ms; this is three of them.
const LONG_POLL: Duration = Duration::from_millis(300);

/// Blocks the calling thread (a worker, when called from a poll).
fn block_worker(d: Duration) {
    thread::sleep(d);
}

#[test]
fn a_long_poll_is_counted_once_it_completes() {
    within(|| {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        assert_eq!(rt.metrics().long_polls(), 0);
        let t = rt.spawn(async { block_worker(LONG_POLL) });
        rt.block_on(t).unwrap();
        // The worker reports at the end of the poll, before the task
        // completes, so the count is final once the JoinHandle is ready.
        assert_eq!(rt.metrics().long_polls(), 1);
        // Short polls afterwards do not count.
        for _ in 0..10 {
            rt.block_on(rt.spawn(async { task::yield_now().await }))
                .unwrap();
        }
        assert_eq!(rt.metrics().long_polls(), 1);
    });
}

#[test]
fn a_second_long_poll_of_the_same_task_is_not_counted_again() {
    within(|| {
        let rt = Builder::new_current_thread().build().unwrap();
        let t = rt.spawn(async {
            block_worker(LONG_POLL);
            task::yield_now().await;
            block_worker(LONG_POLL);
        });
        rt.block_on(t).unwrap();
        assert_eq!(
            rt.metrics().long_polls(),
            1,
            "two long polls of one task counted as two tasks"
        );
        // A different task is a different report.
        rt.block_on(rt.spawn(async { block_worker(LONG_POLL) }))
            .unwrap();
        assert_eq!(rt.metrics().long_polls(), 2, "a second task's long poll");
    });
}

#[test]
fn long_poll_threshold_none_turns_the_watchdog_off() {
    within(|| {
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .long_poll_threshold(None)
            .build()
            .unwrap();
        rt.block_on(rt.spawn(async { block_worker(LONG_POLL) }))
            .unwrap();
        assert_eq!(rt.metrics().long_polls(), 0);
        assert_eq!(rt.metrics().stuck_polls(), 0);
    });
}

#[test]
fn a_custom_threshold_is_honoured_and_stuck_polls_are_counted() {
    within(|| {
        // Deterministic: the poll blocks until the watchdog itself has
        // reported it as stuck (ten thresholds), so it was certainly seen
        // past the threshold too.
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .long_poll_threshold(Some(Duration::from_millis(10)))
            .build()
            .unwrap();
        let r = rt.handle().clone();
        let t = rt.spawn(async move {
            let deadline = Instant::now() + PATIENCE;
            while r.metrics().stuck_polls() == 0 {
                assert!(
                    Instant::now() < deadline,
                    "the watchdog never flagged the poll"
                );
                block_worker(Duration::from_millis(5));
            }
        });
        rt.block_on(t).unwrap();
        assert_eq!(rt.metrics().stuck_polls(), 1);
        assert_eq!(rt.metrics().long_polls(), 1);
    });
}

/// A `tracing-subscriber` writer that appends to a shared buffer.
#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Installs (once) a global `fmt` subscriber writing into a shared buffer.
///
/// Process-wide on purpose: a thread-local one (`set_default`) can miss the
/// event when another test's thread registers the warning's callsite first
/// (with a single dispatcher, tracing caches the callsite's interest as seen
/// from the registering thread). Other tests' lines land in the same buffer;
/// the task id picks out ours.
fn global_capture() -> Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(buf.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("another global subscriber was installed in this test binary");
        buf
    })
    .clone()
}

#[test]
fn the_warning_names_the_task_its_name_and_its_spawn_site() {
    within(|| {
        let buf = global_capture();
        let rt: Runtime = Builder::new_current_thread().build().unwrap();
        let (id, spawn_line) = rt.block_on(async {
            let line = line!() + 1;
            let t = task::Builder::new()
                .name("sleepy-report")
                .spawn(async { block_worker(LONG_POLL) })
                .unwrap();
            let id = t.id();
            t.await.unwrap();
            (id, line)
        });
        assert_eq!(rt.metrics().long_polls(), 1);
        let log = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        let id_field = format!("task.id={id} ");
        let ours: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("without yielding") && l.contains(&id_field))
            .collect();
        assert_eq!(ours.len(), 1, "want one warning naming task {id}:\n{log}");
        let line = ours[0];
        assert!(line.contains("WARN"), "{line}");
        assert!(
            line.contains("task.name=\"sleepy-report\""),
            "no task name: {line}"
        );
        // `spawned_at=<file>:<line>:<col>`, the `.spawn(..)` call just below
        // `spawn_line` (rustfmt may put the method call on a later line).
        let site = line
            .split_whitespace()
            .find_map(|f| f.strip_prefix("spawned_at="))
            .unwrap_or_else(|| panic!("no spawned_at field: {line}"));
        let mut parts = site.rsplitn(3, ':');
        let (_col, at_line, file) = (parts.next(), parts.next(), parts.next());
        assert!(
            file.is_some_and(|f| f.ends_with("rt_watchdog.rs")),
            "the spawn site should be this file: {site}"
        );
        let at_line: u32 = at_line.and_then(|l| l.parse().ok()).unwrap();
        assert!(
            (spawn_line..spawn_line + 4).contains(&at_line),
            "the spawn site should be the spawn call at line {spawn_line}..: {site}"
        );
    });
}

/// An `AllTasksBlocked` report naming the task spawned at `spawn_line`
/// (its spawn call spans the next lines).
fn all_blocked_at(spawn_line: u32) -> impl Fn(&perf_runtime::validation::Violation) -> bool {
    move |v| {
        v.kind() == perf_runtime::validation::ViolationKind::AllTasksBlocked
            && (spawn_line..spawn_line + 3).any(|l| v.mentions(file!(), l))
    }
}

/// Waits (at most [`PATIENCE`]) for reports matching `ours`; fails with
/// `missing` if none comes.
fn first_reports(
    ours: impl Fn(&perf_runtime::validation::Violation) -> bool,
    missing: &str,
) -> Vec<perf_runtime::validation::Violation> {
    let mut found = Vec::new();
    assert!(
        wait_until(PATIENCE, || {
            found.extend(perf_runtime::validation::take_reports_matching(&ours));
            !found.is_empty()
        }),
        "{missing}"
    );
    found
}

/// The watchdog reports `AllTasksBlocked` once nothing of a runtime can run
/// (every worker asleep, no queued task, no timer) for the stall threshold,
/// and every task waits on something the engine tracks. Here a `Notify`
/// that no task of the runtime can notify (the test thread does, once the
/// report is in: the engine cannot know a thread holds it, and a thread
/// that never touched it is not counted).
#[test]
fn a_runtime_whose_tasks_all_wait_on_nothing_runnable_is_reported() {
    within(|| {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .stall_threshold(Duration::from_millis(200))
            .build()
            .unwrap();
        let notify = Arc::new(perf_runtime::sync::Notify::new());
        let n = notify.clone();
        let spawn_line = line!() + 2;
        let stuck = task::Builder::new()
            .name("waits-forever")
            .spawn_on(async move { n.notified().await }, rt.handle())
            .unwrap();
        let mentions_ours = all_blocked_at(spawn_line);
        let found = first_reports(
            &mentions_ours,
            "no AllTasksBlocked report for a runtime idle with a blocked task",
        );
        let text = found[0].to_string();
        assert!(text.contains("waits-forever"), "{text}");
        notify.notify_one();
        rt.block_on(stuck).unwrap();
    });
}

/// The same on a current_thread runtime: its driving thread sleeps in
/// `block_on`, awaiting a task that waits on a `Notify` no task notifies.
#[test]
fn a_current_thread_runtime_blocked_in_block_on_is_reported() {
    within(|| {
        let rt = Arc::new(
            Builder::new_current_thread()
                .stall_threshold(Duration::from_millis(200))
                .build()
                .unwrap(),
        );
        let notify = Arc::new(perf_runtime::sync::Notify::new());
        let n = notify.clone();
        let spawn_line = line!() + 2;
        let stuck = task::Builder::new()
            .name("ct-waits-forever")
            .spawn_on(async move { n.notified().await }, rt.handle())
            .unwrap();
        let driver = {
            let rt = rt.clone();
            std::thread::spawn(move || rt.block_on(stuck).unwrap())
        };
        let mentions_ours = all_blocked_at(spawn_line);
        let found = first_reports(
            &mentions_ours,
            "no AllTasksBlocked report for a current_thread runtime blocked in block_on",
        );
        let text = found[0].to_string();
        assert!(text.contains("ct-waits-forever"), "{text}");
        notify.notify_one();
        driver.join().unwrap();
    });
}

/// A task parked on something the engine does not track — here a
/// `futures_channel` oneshot the test thread sends on later — may still be
/// woken from outside: the idle runtime is not stuck. The watchdog logs a
/// slow-wait advisory naming the task, and raises no report.
#[test]
fn a_task_waiting_on_something_untracked_is_an_advisory_not_a_report() {
    within(|| {
        let buf = global_capture();
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .stall_threshold(Duration::from_millis(100))
            .build()
            .unwrap();
        let (tx, rx) = futures_channel::oneshot::channel::<()>();
        let spawn_line = line!() + 2;
        let waiting = task::Builder::new()
            .name("fed-from-a-thread")
            .spawn_on(
                async move {
                    let _ = rx.await;
                },
                rt.handle(),
            )
            .unwrap();
        // The advisory comes where the report used to: once the runtime has
        // been idle for the threshold.
        let advised = wait_until(PATIENCE, || {
            let log = String::from_utf8_lossy(&buf.lock().unwrap()).into_owned();
            log.lines()
                .any(|l| l.contains("fed-from-a-thread") && l.contains("does not track"))
        });
        assert!(advised, "no slow-wait advisory for the untracked wait");
        let reports = perf_runtime::validation::take_reports_matching(|v| {
            (spawn_line..spawn_line + 3).any(|l| v.mentions(file!(), l))
        });
        assert!(reports.is_empty(), "reported: {reports:?}");
        tx.send(()).unwrap();
        rt.block_on(waiting).unwrap();
    });
}

/// A task awaiting a `spawn_blocking` job is not blocked for good while
/// the job runs; once the job is done and the task waits on nothing that
/// any task can end (a `Notify` only the test thread holds), it is (the
/// watchdog was watching all along).
#[test]
fn a_task_awaiting_a_running_blocking_job_is_not_all_blocked() {
    use perf_runtime::validation::take_reports_matching;
    within(|| {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .stall_threshold(Duration::from_millis(100))
            .build()
            .unwrap();
        let (job_go, job_wait) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let notify = Arc::new(perf_runtime::sync::Notify::new());
        let n = notify.clone();
        let spawn_line = line!() + 2;
        let waiter = task::Builder::new()
            .name("awaits-blocking")
            .spawn_on(
                async move {
                    perf_runtime::task::spawn_blocking(move || {
                        started_tx.send(()).unwrap();
                        job_wait.recv().unwrap();
                    })
                    .await
                    .unwrap();
                    n.notified().await;
                },
                rt.handle(),
            )
            .unwrap();
        let ours = all_blocked_at(spawn_line);
        started_rx.recv().unwrap();
        // Several stall thresholds and watchdog scans while the job runs.
        thread::sleep(Duration::from_millis(900));
        let early = take_reports_matching(&ours);
        assert!(
            early.is_empty(),
            "the blocking job can still finish: {early:?}"
        );
        job_go.send(()).unwrap();
        first_reports(
            &ours,
            "once the job is done the task waits on nothing: reported",
        );
        notify.notify_one();
        rt.block_on(waiter).unwrap();
    });
}

#[test]
fn a_task_waiting_for_a_timer_is_not_all_blocked() {
    use perf_runtime::validation::{take_reports_matching, ViolationKind};
    within(|| {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .stall_threshold(Duration::from_millis(100))
            .build()
            .unwrap();
        let spawn_line = line!() + 1;
        let sleeper =
            rt.spawn(async { perf_runtime::time::sleep(Duration::from_millis(600)).await });
        rt.block_on(sleeper).unwrap();
        let ours = take_reports_matching(|v| {
            v.kind() == ViolationKind::AllTasksBlocked
                && (spawn_line..spawn_line + 2).any(|l| v.mentions(file!(), l))
        });
        assert!(
            ours.is_empty(),
            "a pending timer can wake the task: {ours:?}"
        );
    });
}
