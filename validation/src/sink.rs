//! Where reports go: recorded once per distinct violation, counted, logged
//! through `tracing`, and in `Panic` mode raised as a panic.
//!
//! Every report is handed over only after the detecting code released its own
//! locks, so a panic here or a `tracing` subscriber that takes a validated
//! lock never meets an engine lock held.

use crate::loom::sync::atomic::{AtomicU64, Ordering::Relaxed};
use crate::loom::sync::Mutex;
use crate::mode::{self, Mode};
use crate::report::{Violation, ViolationKind};
use crate::resolve::DeadlockAction;
use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};

/// Reports kept for [`take_reports`](crate::take_reports); the oldest are
/// dropped past this (the counters still count them).
pub(crate) const MAX_KEPT: usize = 4096;

pub(crate) struct Sink {
    inner: Mutex<Inner>,
    counts: [AtomicU64; ViolationKind::ALL.len()],
}

struct Inner {
    reports: VecDeque<Violation>,
    seen: HashSet<u64>,
}

impl Sink {
    pub(crate) fn new() -> Sink {
        Sink {
            inner: Mutex::new(Inner {
                reports: VecDeque::new(),
                seen: HashSet::new(),
            }),
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Records `v` if no equal violation was recorded before; returns
    /// whether it was new.
    pub(crate) fn record(&self, v: &Violation) -> bool {
        let mut g = crate::loom::lock(&self.inner);
        if !g.seen.insert(v.dedup_key()) {
            return false;
        }
        self.counts[v.kind().index()].fetch_add(1, Relaxed);
        if g.reports.len() == MAX_KEPT {
            g.reports.pop_front();
        }
        g.reports.push_back(v.clone());
        true
    }

    pub(crate) fn take_matching(&self, mut keep: impl FnMut(&Violation) -> bool) -> Vec<Violation> {
        let mut g = crate::loom::lock(&self.inner);
        let mut out = Vec::new();
        let mut rest = VecDeque::with_capacity(g.reports.len());
        for v in g.reports.drain(..) {
            if keep(&v) {
                out.push(v);
            } else {
                rest.push_back(v);
            }
        }
        g.reports = rest;
        out
    }

    pub(crate) fn count(&self, kind: ViolationKind) -> u64 {
        self.counts[kind.index()].load(Relaxed)
    }
}

thread_local! {
    /// Reports held back by [`with_reports_deferred`] on this thread.
    static DEFERRED: RefCell<Option<Vec<Violation>>> = const { RefCell::new(None) };
}

/// Runs `f`, holding back the reports it raises (a deadlock found when a
/// wait starts) instead of submitting them; submit them with
/// [`DeferredReports::submit`] once `f`'s caller has released its locks.
///
/// For a primitive that must register a wait while holding its own lock
/// (so that whoever ends the wait cannot miss it): submitting under that
/// lock would run a `tracing` subscriber there, or panic there in `Panic`
/// mode, and a subscriber that uses the same primitive would deadlock.
pub fn with_reports_deferred<R>(f: impl FnOnce() -> R) -> (R, DeferredReports) {
    struct Restore(Option<Vec<Violation>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let outer = self.0.take();
            let _ = DEFERRED.try_with(|d| *d.borrow_mut() = outer);
        }
    }
    let outer = DEFERRED
        .try_with(|d| d.borrow_mut().replace(Vec::new()))
        .ok()
        .flatten();
    let restore = Restore(outer);
    let r = f();
    let held = DEFERRED
        .try_with(|d| d.borrow_mut().take())
        .ok()
        .flatten()
        .unwrap_or_default();
    drop(restore);
    (r, DeferredReports(held))
}

/// Reports held back by [`with_reports_deferred`].
#[must_use = "submit() the reports once the locks are released"]
#[derive(Debug, Default)]
pub struct DeferredReports(Vec<Violation>);

impl DeferredReports {
    /// Whether nothing was reported.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Submits the reports under the calling thread's mode (in `Panic` mode
    /// the first one panics here).
    pub fn submit(self) {
        for v in self.0 {
            submit(v);
        }
    }
}

/// Hands a violation to the global sink under the calling thread's mode:
/// in `Panic` mode it then panics, in the context that caused it.
#[cold]
#[inline(never)]
pub(crate) fn submit(v: Violation) {
    let mut v = Some(v);
    // (On a thread that is exiting, the thread-local is gone: submit.)
    let _ = DEFERRED.try_with(|d| {
        if let Some(held) = d.borrow_mut().as_mut() {
            held.extend(v.take());
        }
    });
    let Some(v) = v else { return };
    let mode = mode::mode();
    if mode == Mode::Off {
        return;
    }
    let panics = match resolved(&v) {
        None => mode == Mode::Panic,
        Some(action) => action == DeadlockAction::Panic,
    };
    record_and_log(&v);
    if panics && !std::thread::panicking() {
        panic!("{v}");
    }
}

/// The runtime's action for a deadlock report (`resolve.rs`); `None` for
/// other kinds, or when the mode decides.
fn resolved(v: &Violation) -> Option<DeadlockAction> {
    if v.kind() == ViolationKind::Deadlock {
        crate::resolve::resolve(v)
    } else {
        None
    }
}

/// Records and logs, but never panics: for reports made on the runtime's
/// own threads (the stall scan, the watchdog, the scheduler), where a panic
/// would take down a worker. Returns whether the violation was new.
#[cold]
pub(crate) fn submit_quietly(v: &Violation) -> bool {
    if mode::mode() == Mode::Off {
        return false;
    }
    // A deadlock found by the scan may still be resolved (a victim
    // cancelled); whatever the action, nothing panics here.
    let _ = resolved(v);
    record_and_log(v)
}

fn record_and_log(v: &Violation) -> bool {
    let new = crate::engine::get().sink.record(v);
    if new {
        tracing::warn!(
            target: "perf_validation",
            kind = v.kind().as_str(),
            json = %v.to_json(),
            "{v}"
        );
    }
    new
}

/// Drains and returns every recorded report, oldest first.
///
/// A violation is recorded once: after it was taken, the same violation
/// (same kind and sites) is not recorded again.
pub fn take_reports() -> Vec<Violation> {
    crate::engine::get().sink.take_matching(|_| true)
}

/// Drains and returns the recorded reports for which `keep` is true, leaving
/// the others; lets tests that share a process take only their own.
pub fn take_reports_matching(keep: impl FnMut(&Violation) -> bool) -> Vec<Violation> {
    crate::engine::get().sink.take_matching(keep)
}

/// How many distinct violations of `kind` were recorded since start.
pub fn count(kind: ViolationKind) -> u64 {
    crate::engine::get().sink.count(kind)
}

/// Every kind with its count of distinct violations since start.
pub fn counts() -> Vec<(ViolationKind, u64)> {
    ViolationKind::ALL.iter().map(|&k| (k, count(k))).collect()
}
