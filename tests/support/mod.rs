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
