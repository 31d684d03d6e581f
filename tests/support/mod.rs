//! Helpers shared by the behaviour tests: a hang becomes a failure, and both
//! runtime flavours are built the same way everywhere.
//!
//! Each test file includes this with `mod support;` and uses what it needs.
#![allow(dead_code)]

use perf_runtime::runtime::{Builder, Runtime};
use perf_runtime::task::{JoinError, JoinHandle};
use std::panic::resume_unwind;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a test waits for something that should take microseconds before
/// it reports failure instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Runs `f` on its own thread and fails the test if it does not return
/// within [`PATIENCE`], so a scheduler bug shows up as a failure, not a hang.
/// A panic in `f` is re-raised with its payload.
pub fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let t = thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(PATIENCE) {
        Ok(v) => {
            t.join().expect("the test thread panicked after sending");
            v
        }
        Err(RecvTimeoutError::Timeout) => panic!("the test body hung for {PATIENCE:?}"),
        Err(RecvTimeoutError::Disconnected) => match t.join() {
            Err(payload) => resume_unwind(payload),
            Ok(()) => unreachable!("the body returned without sending"),
        },
    }
}

/// A current_thread runtime with default settings.
pub fn current_thread() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

/// A two-worker multi_thread runtime (this machine has two cores).
pub fn multi_thread() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// One runtime of each flavour, labelled for assertion messages.
pub fn both_flavours() -> [(&'static str, Runtime); 2] {
    [
        ("current_thread", current_thread()),
        ("multi_thread", multi_thread()),
    ]
}

/// Awaits `handle` on a fresh runtime: the one it was spawned on may be gone.
pub fn join_elsewhere<T: Send + 'static>(handle: JoinHandle<T>) -> Result<T, JoinError> {
    current_thread().block_on(handle)
}

/// Counts its drops: proves that a task's future was dropped.
pub struct DropCounter(pub std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The message of a panic payload (`&str` or `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// Polls `cond` every millisecond for at most `limit`: a bounded wait for a
/// condition the runtime reaches on its own clock (a keep-alive expiring).
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// `std::sync::Barrier` that gives up: a `Barrier` on a worker whose partner
/// never comes would block that worker forever, and the failing test would
/// then hang in the runtime's shutdown instead of failing.
pub struct Rendezvous {
    arrived: Mutex<usize>,
    all_here: Condvar,
}

impl Rendezvous {
    pub fn new() -> Self {
        Self {
            arrived: Mutex::new(0),
            all_here: Condvar::new(),
        }
    }

    /// Whether `parties` callers were here at once within [`PATIENCE`].
    pub fn meet(&self, parties: usize) -> bool {
        self.meet_within(parties, PATIENCE)
    }

    /// Whether `parties` callers were here at once within `limit`.
    pub fn meet_within(&self, parties: usize, limit: Duration) -> bool {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.all_here.notify_all();
        let (_arrived, wait) = self
            .all_here
            .wait_timeout_while(arrived, limit, |a| *a < parties)
            .unwrap();
        !wait.timed_out()
    }
}

// ---- child probes ------------------------------------------------------------
//
// A setting read once per process (an environment variable a runtime reads
// when it is built, a process-wide mode) cannot be varied by tests that run
// side by side in one process. Such a case runs in a child: this test binary,
// re-executed to run one ignored test, the probe, with the setting in place.

/// Set only in a child run by [`run_child_probe`]; a probe returns at once
/// without it (when the whole binary runs with `--ignored`).
const CHILD_PROBE: &str = "PERF_RUNTIME_TESTS_CHILD_PROBE";

/// What a probe prints before its result, for the parent to find.
const CHILD_RESULT: &str = "CHILD RESULT ";

/// Runs the ignored test `probe` of this binary in a child process with the
/// variables of `env` set (`None`: removed), and returns the line the probe
/// gave [`child_result`]. Fails the test if the child fails or reports
/// nothing.
pub fn run_child_probe(probe: &str, env: &[(&str, Option<&str>)]) -> String {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = std::process::Command::new(exe);
    cmd.args([probe, "--exact", "--ignored", "--nocapture"])
        .env(CHILD_PROBE, "1");
    for &(name, value) in env {
        match value {
            Some(v) => cmd.env(name, v),
            None => cmd.env_remove(name),
        };
    }
    let out = cmd.output().expect("could not re-run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child `{probe}` failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(CHILD_RESULT))
        .unwrap_or_else(|| panic!("the child `{probe}` reported nothing:\n{stdout}"))
        .to_owned()
}

/// Whether this process is a child run by [`run_child_probe`].
pub fn in_child_probe() -> bool {
    std::env::var_os(CHILD_PROBE).is_some()
}

/// Reports a probe's result to its parent, on one line.
pub fn child_result(result: &str) {
    println!("{CHILD_RESULT}{}", result.replace('\n', " "));
}
