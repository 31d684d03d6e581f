//! Shared helpers of the `validation_*` tests: the primitives reporting to
//! the validation engine on real runtimes.
//!
//! The engine is process-wide (one report sink, one wait-for graph, one
//! stall threshold), so every test of a file takes [`serial`] first, and
//! picks out its own reports by the source lines they mention.

#![allow(dead_code)] // each test file uses a different subset

#[path = "../support/mod.rs"]
mod support;
pub use support::*;

use perf_runtime::runtime::{Builder, Runtime};
use perf_runtime::validation::{self, Mode, Violation, ViolationKind};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs the calling test alone among this file's tests (a failed test's
/// poisoned lock is taken anyway).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A two-worker multi_thread runtime in `mode`, with timers.
pub fn multi(mode: Mode) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .validation(mode)
        .build()
        .unwrap()
}

/// A current_thread runtime in `mode`, with timers.
pub fn current(mode: Mode) -> Runtime {
    Builder::new_current_thread()
        .enable_all()
        .validation(mode)
        .build()
        .unwrap()
}

/// A multi_thread runtime in `Report` mode whose watchdog reports waits
/// stalled for more than 50 ms.
pub fn stalling() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .validation(Mode::Report)
        .stall_threshold(Duration::from_millis(50))
        .build()
        .unwrap()
}

/// Takes the recorded reports that mention `file` at any of `lines`.
pub fn take_at(file: &str, lines: &[u32]) -> Vec<Violation> {
    validation::take_reports_matching(|v| lines.iter().any(|&l| v.mentions(file, l)))
}

/// Waits (at most [`PATIENCE`]) for a report of `kind` mentioning `file` at
/// `line`, and takes it with every other report mentioning `line`.
pub fn await_report(kind: ViolationKind, file: &str, line: u32) -> Vec<Violation> {
    let deadline = Instant::now() + PATIENCE;
    let mut got = Vec::new();
    loop {
        got.extend(take_at(file, &[line]));
        if got.iter().any(|v| v.kind() == kind) || Instant::now() >= deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The one report of `kind` in `reports`, or a failure listing them all.
#[track_caller]
pub fn only(kind: ViolationKind, reports: &[Violation]) -> Violation {
    let of_kind: Vec<&Violation> = reports.iter().filter(|v| v.kind() == kind).collect();
    assert_eq!(
        of_kind.len(),
        1,
        "expected one {kind:?} report, got:\n{}",
        reports
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    of_kind[0].clone()
}

/// The names of the contexts a report's sides name.
pub fn names(v: &Violation) -> Vec<String> {
    v.contexts()
        .iter()
        .filter_map(|c| c.name().map(str::to_owned))
        .collect()
}

/// Waits until the engine has at least `n` waits registered (the other side
/// of a test has started waiting).
#[track_caller]
pub fn await_waits(n: usize) {
    assert!(
        wait_until(PATIENCE, || validation::stats().active_waits >= n),
        "{n} waits were never registered (engine: {:?})",
        validation::stats()
    );
}

/// The line of `src` (a test file's own text, from `include_str!`) that
/// holds `marker` (a `// @name` comment): sites checked by reports without
/// counting lines by hand.
#[track_caller]
pub fn line_of(src: &str, marker: &str) -> u32 {
    let tag = format!("// {marker}");
    let mut found = src
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_end().ends_with(&tag));
    let (i, _) = found
        .next()
        .unwrap_or_else(|| panic!("no line ends with `{tag}`"));
    assert!(found.next().is_none(), "two lines end with `{tag}`");
    i as u32 + 1
}
