//! The validation engine, wired to this runtime: lock-order inversions,
//! deadlocks, waits nothing can end, long polls and atomics misuse, found
//! while the service runs. See the [`perf_validation`] crate docs for the
//! reports and how to read them; everything it exports is here.
//!
//! ```
//! use perf_runtime::sync::Mutex;
//! use perf_runtime::validation::{take_reports, ViolationKind};
//!
//! #[perf_runtime::main]
//! async fn main() {
//!     let (a, b) = (Mutex::new(0), Mutex::new(0));
//!     {
//!         let _a = a.lock().await;
//!         let _b = b.lock().await; // a, then b
//!     }
//!     {
//!         let _b = b.lock().await;
//!         let _a = a.lock().await; // b, then a: a deadlock waiting to happen
//!     }
//!     // `#[perf_runtime::main]` runs in Report mode: the inversion was
//!     // recorded (and logged once), and the program went on.
//!     let reports = take_reports();
//!     assert!(reports.iter().any(|r| r.kind() == ViolationKind::LockOrderInversion));
//!     println!("{}", reports[0]);
//! }
//! ```
//!
//! **A report is a bug**: a violation is raised only when a reviewer would
//! agree the program is wrong, so validation can stay on in production and
//! `#[perf_runtime::test]` can panic on every report. Correct tokio idioms
//! — dropping a sender to cancel, dropping a receiver with messages queued,
//! an unread broadcast message, an idle consumer — never raise one. A wait
//! that is only long (past `Builder::stall_threshold`, checked by the
//! watchdog) is an advisory: a `tracing` event (target
//! `perf_validation::slow_wait`, with the site and how long) counted by
//! [`slow_waits`], never a violation, never a panic. A wait is reported
//! (`ChannelStall`, `WaitStall`) when nothing can end it: every task of the
//! runtime is blocked, with no timer, I/O or blocking job pending.
//!
//! The runtime installs the engine's context hook on the first runtime
//! built, so "who holds what" is keyed by task inside a task (a guard held
//! across `.await` stays with its task as it moves between workers) and by
//! thread elsewhere. `runtime::Builder::validation` sets the mode of the
//! runtime's threads (default [`Mode::Report`]; `#[perf_runtime::test]`
//! uses [`Mode::Panic`]); `PERF_RUNTIME_VALIDATION=off|report|panic`
//! overrides it, and once a runtime is built sets the mode of the whole
//! process, threads outside any runtime included.

pub use perf_validation::*;

use crate::runtime::context;

fn current_task() -> Option<TaskRef> {
    context::with_current_task(|h| h.and_then(|h| h.validation_ref()))
}

fn current_task_name() -> Option<String> {
    context::with_current_task(|h| h.and_then(|h| h.name().map(str::to_owned)))
}

/// Installs the context hook (once per process; later calls do nothing).
pub(crate) fn install_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let hook = ContextHook {
            current_task,
            current_task_name,
        };
        // SAFETY: `current_task` returns the slot of the task whose poll is in progress on the calling thread (`context::enter_task` sets it for exactly the poll); the poller holds a reference to the task, so the slot outlives the poll, and a task is polled by one thread at a time (its RUNNING bit).
        let installed = unsafe { set_context_hook(hook) };
        if !installed {
            tracing::warn!(
                "another context hook was installed before perf_runtime's: validation reports \
                 will not tell perf_runtime tasks apart"
            );
        }
    });
}
