//! What happens when the engine finds an actual deadlock: the runtime may
//! resolve it (the specification's DeadlockResolution strategy).
//!
//! The engine knows contexts, not how to cancel a task: a runtime installs
//! a [`DeadlockHandler`] ([`set_deadlock_handler`]) that is shown every
//! `Deadlock` report before it is submitted — from the wait that closed the
//! cycle (in the waiting context, after the primitive's locks are released)
//! and from the periodic scan (on the watchdog's thread). The report's
//! [`contexts`](crate::Violation::contexts) are exactly the cycle's members.
//! The handler says what was done; [`DeadlockAction::AbortVictim`] means it
//! cancelled a task of the cycle, so the report is recorded and logged but
//! never raised as a panic.

use crate::report::Violation;
use std::sync::OnceLock;

/// What a runtime does when the wait-for graph holds an actual deadlock
/// (`runtime::Builder::on_deadlock`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DeadlockAction {
    /// Record and log the `Deadlock` report once; the tasks stay blocked.
    /// The default (under `Mode::Panic`, as in `#[perf_runtime::test]`,
    /// the waiting task panics as for any report).
    #[default]
    Report,
    /// Record and log it, then panic in the task whose wait closed the
    /// cycle, whatever the validation mode (a cycle found by the periodic
    /// scan is recorded and logged only: no task is polling there).
    Panic,
    /// Break the deadlock as a database does: cancel the youngest task of
    /// the cycle — never a task outside it, never a blocking thread or a
    /// `spawn_blocking` job — so its guards and permits are released and
    /// the others go on. Its `JoinHandle` resolves to a cancelled
    /// `JoinError` whose message says it was chosen as a deadlock victim
    /// and names the cycle. The report is recorded and logged.
    AbortVictim,
}

/// Shown each `Deadlock` report before it is submitted; returns the action
/// taken for it, or `None` to leave it to the validation mode (no runtime
/// with an explicit [`DeadlockAction`] owns a task of the cycle).
///
/// It runs where the report is made — in the waiting task, or on the
/// watchdog's thread — with no engine lock held; it must not block.
pub type DeadlockHandler = fn(&Violation) -> Option<DeadlockAction>;

static HANDLER: OnceLock<DeadlockHandler> = OnceLock::new();

/// Installs the process's deadlock handler; returns false (and installs
/// nothing) if one was installed before.
pub fn set_deadlock_handler(handler: DeadlockHandler) -> bool {
    HANDLER.set(handler).is_ok()
}

/// What the installed handler did with `v` (`None` without a handler).
pub(crate) fn resolve(v: &Violation) -> Option<DeadlockAction> {
    HANDLER.get().and_then(|h| h(v))
}
