//! Tasks: spawning, joining, aborting, classes, and cooperative yielding.
//!
//! ```
//! use perf_runtime::task::{self, Qos};
//!
//! #[perf_runtime::main]
//! async fn main() {
//!     // A task, joined for its output; a latency-critical one; a blocking job.
//!     let sum = perf_runtime::spawn(async { (1..=10).sum::<u32>() });
//!     let urgent = task::spawn_with(Qos::Critical, async { "answered first" });
//!     let file = task::spawn_blocking(|| std::fs::read_to_string("/proc/self/stat").is_ok());
//!     assert_eq!(sum.await.unwrap(), 55);
//!     assert_eq!(urgent.await.unwrap(), "answered first");
//!     assert!(file.await.unwrap());
//!
//!     // Aborting: the JoinHandle reports the cancellation.
//!     let forever = perf_runtime::spawn(std::future::pending::<()>());
//!     forever.abort();
//!     assert!(forever.await.unwrap_err().is_cancelled());
//! }
//! ```
//!
//! A panic in a task's poll is caught: the future is dropped, the
//! `JoinHandle` gets a `JoinError` with `is_panic()`, and the worker carries
//! on.
//!
//! # Classes
//!
//! Every task has a [`Qos`] class. `spawn` uses `Normal`; choose another with
//! [`spawn_with`] or [`Builder::qos`]. A task spawned
//! from a `Critical` task without an explicit class is `Normal`: being
//! latency-critical is a property of one piece of work, and letting it spread
//! to everything that work spawns would soon make everything Critical.

// The raw task and its invariants (for contributors):
//
// # The raw task and its invariants
//
// A spawned task is one heap allocation, a `Cell<F, S>` (`core.rs`):
// a `Header` (the atomic state word, the vtable, id, class, name and spawn
// site), the `Core` (the scheduler handle and the stage: the future, then
// its output), and the `Trailer` (the join waker and the owned-list links).
//
// Reference types, each holding one count of the state word's reference
// count: `Task` (the owned list's), `Notified` (a run queue's: "poll me"),
// `JoinHandle`, `AbortHandle`, and every `Waker`. A new task starts with
// three (list, first `Notified`, `JoinHandle`). The allocation is freed by
// whoever drops the count to zero.
//
// State bits (`state.rs`): RUNNING (exclusive right to the stage), COMPLETE,
// NOTIFIED (a `Notified` exists, or "poll again" while RUNNING), CANCELLED,
// JOIN_INTEREST, JOIN_WAKER. Who touches what:
// - the stage: only the RUNNING holder; after COMPLETE, only the
//   `JoinHandle` (if JOIN_INTEREST) or the completing thread (if not);
// - the join waker: only the `JoinHandle` while JOIN_WAKER is unset and the
//   task is not complete; only the completing thread while it is set;
// - the owned-list links: only under the list shard's lock.
//
// A panic in a poll is caught: the future is dropped, the `JoinHandle`
// gets a `JoinError` with `is_panic()`, and the worker carries on.
//

pub(crate) mod abort;
mod builder;
pub mod coop;
pub(crate) mod core;
mod error;
mod harness;
mod id;
mod join;
mod join_set;
pub(crate) mod list;
pub(crate) mod local;
mod qos;
pub(crate) mod raw;
pub(crate) mod state;
mod task_local;
mod waker;
mod yield_now;

#[cfg(test)]
mod tests;

pub use abort::AbortHandle;
pub use builder::{Builder, TrySpawnError};
pub use coop::{consume_budget, unconstrained, Unconstrained};
pub use error::JoinError;
pub use id::{id, try_id, Id};
pub use join::JoinHandle;
pub use join_set::JoinSet;
pub use local::{spawn_local, LocalEnterGuard, LocalSet};
pub use qos::Qos;
pub use task_local::{AccessError, LocalKey};
pub use yield_now::yield_now;

/// The futures of task-local scopes, as `tokio::task::futures`.
///
/// ```
/// use perf_runtime::task::futures::TaskLocalFuture;
///
/// perf_runtime::task_local! { static KEY: u8; }
/// let fut: TaskLocalFuture<u8, _> = KEY.scope(1, async { KEY.get() });
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// assert_eq!(fut.await, 1);
/// # });
/// ```
pub mod futures {
    pub use super::task_local::TaskLocalFuture;
}

use crate::runtime::context;
use raw::TaskMeta;
use std::future::Future;
use std::panic::Location;

/// Spawns a `Normal`-class task on the current runtime, as `tokio::spawn`.
///
/// # Panics
/// Outside a runtime.
///
/// ```
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let handle = perf_runtime::spawn(async { "hello" });
/// assert_eq!(handle.await.unwrap(), "hello");
/// # });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_inner(future, TaskMeta::new(Qos::Normal, None, Location::caller()))
}

/// Spawns a task of class `qos` on the current runtime.
///
/// # Panics
/// Outside a runtime.
///
/// ```
/// use perf_runtime::task::Qos;
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let urgent = perf_runtime::spawn_with(Qos::Critical, async { 1 });
/// let bulk = perf_runtime::spawn_with(Qos::Batch, async { 2 });
/// assert_eq!(urgent.await.unwrap() + bulk.await.unwrap(), 3);
/// # });
/// ```
#[track_caller]
pub fn spawn_with<F>(qos: Qos, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_inner(future, TaskMeta::new(qos, None, Location::caller()))
}

#[track_caller]
pub(crate) fn spawn_inner<F>(future: F, meta: TaskMeta) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    context::with_handle(|h| match h {
        Some(h) => h.spawn(future, meta),
        None => panic!("{}", no_runtime("spawn")),
    })
}

/// Runs a blocking closure on the current runtime's blocking pool, as
/// `tokio::task::spawn_blocking`.
///
/// # Panics
/// Outside a runtime.
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    spawn_blocking_inner(f, TaskMeta::new(Qos::Normal, None, Location::caller()))
}

#[track_caller]
pub(crate) fn spawn_blocking_inner<F, R>(f: F, meta: TaskMeta) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    context::with_handle(|h| match h {
        Some(h) => h.common().blocking.spawn_blocking(h, f, meta),
        None => panic!("{}", no_runtime("spawn_blocking")),
    })
}

/// As [`spawn_blocking`], for work the caller was already told is done (a
/// buffered file write): once queued it runs even if the runtime shuts
/// down first. Spawned after shutdown began, it is cancelled.
#[track_caller]
pub(crate) fn spawn_mandatory_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let meta = TaskMeta::new(Qos::Normal, None, Location::caller());
    context::with_handle(|h| match h {
        Some(h) => h.common().blocking.spawn_mandatory_blocking(h, f, meta),
        None => panic!("{}", no_runtime("spawn_blocking")),
    })
}

pub(crate) fn no_runtime(what: &str) -> String {
    format!(
        "perf_runtime::{what} called outside a perf_runtime runtime: call it from a task, from \
         Runtime::block_on, or while a Handle::enter() guard is alive"
    )
}

/// Runs `f`, a blocking section, on the current worker thread after handing
/// this worker's queued tasks to a new worker thread, as
/// `tokio::task::block_in_place`. Outside any runtime `f` simply runs.
///
/// # Panics
/// On a current_thread runtime, where no other worker can take over.
#[track_caller]
pub fn block_in_place<F, R>(f: F) -> R
where
    F: FnOnce() -> R,
{
    crate::scheduler::multi_thread::block_in_place(f)
}
