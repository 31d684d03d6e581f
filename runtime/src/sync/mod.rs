//! Synchronisation primitives for tasks, with tokio's names, shapes and
//! semantics: [`Mutex`], [`RwLock`], [`Semaphore`], [`Notify`], [`Barrier`],
//! and the channels [`mpsc`], [`oneshot`], [`watch`] and [`broadcast`]; plus
//! [`blocking::Mutex`], a parking thread mutex for short sections.
//!
//! All async operations are FIFO-fair, consult the cooperative budget
//! ([`crate::task::coop`]) so a task that always finds them ready still
//! yields, and are cancel-safe where tokio documents them so: a dropped
//! `lock()`, `acquire()`, `notified()`, `send()` or `recv()` future leaves no
//! waiter behind, passes on a lock, permit or notification it had already
//! been handed, and loses no message.
//!
//! ```
//! use perf_runtime::sync::{mpsc, oneshot, Mutex};
//! use std::sync::Arc;
//!
//! #[perf_runtime::main]
//! async fn main() {
//!     // A counter shared by tasks, and a request/reply pair per job.
//!     let total = Arc::new(Mutex::new(0u64));
//!     let (tx, mut rx) = mpsc::channel::<(u64, oneshot::Sender<u64>)>(16);
//!     let worker = {
//!         let total = total.clone();
//!         perf_runtime::spawn(async move {
//!             while let Some((n, reply)) = rx.recv().await {
//!                 let mut t = total.lock().await;
//!                 *t += n;
//!                 let _ = reply.send(*t);
//!             }
//!         })
//!     };
//!     for n in 1..=3 {
//!         let (reply, answer) = oneshot::channel();
//!         tx.send((n, reply)).await.unwrap();
//!         println!("running total: {}", answer.await.unwrap());
//!     }
//!     drop(tx); // the worker's recv() returns None: it ends
//!     worker.await.unwrap();
//!     assert_eq!(*total.lock().await, 6);
//! }
//! ```
//!
//! # Validation
//!
//! Every primitive reports to the engine ([`crate::validation`]), keyed by
//! the task (or thread) that calls it:
//!
//! - `Mutex`, `RwLock`, `blocking::Mutex`: each acquisition is checked
//!   (lock order, hierarchy levels, double locks, recursive reads) and
//!   recorded as held until its guard drops; a wait for it joins the
//!   wait-for graph, where the wait that closes a cycle reports the
//!   deadlock. The class is the creation site, or an explicit
//!   [`LockClass`](crate::validation::LockClass) given to `with_class`
//!   (perf_runtime's own constructors; tokio has none).
//! - `Semaphore`: permits held by borrowed permits take part in deadlock
//!   detection; a wait nothing can end (every task of the runtime
//!   blocked) is a `WaitStall`.
//! - `mpsc`, `oneshot`, `broadcast`: sender and receiver ownership,
//!   deliveries and waits feed deadlock and stuck-wait detection. Dropping
//!   a receiver with messages queued, a sender unsent (to cancel), or a
//!   broadcast receiver with values unread are idioms and never reported.
//! - `Notify`, `Barrier`, `watch`: a wait nothing can end is a `WaitStall`.
//!
//! A wait that is only long is an advisory slow-wait event
//! (`perf_validation::slow_wait`), never a report: see the
//! [`validation`](crate::validation) docs, "a report is a bug".
//!
//! The site in a report is the user's call (`lock()`, `recv()`,
//! `notified()` are `#[track_caller]` functions returning futures); waits
//! under `time::timeout` are bounded and never reported as stuck. With
//! validation `Off`, each hook is one mode load.

// What lives where (for contributors):
//
// - `linked_list.rs`, `wake_list.rs`: the intrusive waiter queue and the
//   batch of wakers woken after a lock is released.
// - `tracking.rs`: how acquisitions and waits report to the validation
//   engine (the acquisition future, wait registration, call sites).
// - `batch_semaphore.rs`: the one waiter queue under `Mutex`, `RwLock`,
//   `Semaphore` and the bounded `mpsc` capacity. Every acquire, wait start
//   and release of those passes through it.
// - `notify.rs`: `Notify`, the wait/notify core under `Barrier`, `watch`
//   and the channels' "closed" futures.
// - `mutex.rs`, `rwlock/`, `semaphore.rs`, `barrier.rs`: the primitives.
// - `mpsc/`: the channel core (`chan.rs`: every send, receive, close and
//   wait of both flavours passes through it) and the bounded and unbounded
//   handles.
// - `oneshot.rs`, `watch.rs`, `broadcast.rs`: one file each, each with its
//   own state protocol.
// - `blocking/`: the thread mutex and its futex-style parking.
//
// Each file opens with its invariants.

mod batch_semaphore;
pub(crate) mod class_stats;
mod linked_list;
mod tracking;
pub(crate) mod wake_list;

mod barrier;
pub mod blocking;
pub mod broadcast;
pub mod mpsc;
mod mutex;
mod notify;
#[cfg(test)]
mod notify_last_tests;
mod once_cell;
pub mod oneshot;
mod rwlock;
mod semaphore;
pub mod watch;

#[cfg(test)]
mod tests;

pub use crate::topology::NodeLocal;
pub use barrier::{Barrier, BarrierWaitResult};
pub use mutex::{
    MappedMutexGuard, Mutex, MutexGuard, OwnedMappedMutexGuard, OwnedMutexGuard, TryLockError,
};
pub use notify::{Notified, Notify};
pub use once_cell::{OnceCell, SetError};
pub use rwlock::{
    OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock, RwLockMappedWriteGuard, RwLockReadGuard,
    RwLockWriteGuard,
};
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};

use std::future::Future;

/// Runs `f` to completion on this thread, parking it between polls: the
/// engine of every `blocking_*` method.
///
/// # Panics
/// If this thread drives a runtime (a worker, or inside `block_on`):
/// parking it would stall every task it runs, and deadlock if one of them is
/// the one that would wake it.
#[track_caller]
pub(crate) fn block_on<F: Future>(what: &'static str, f: F) -> F::Output {
    if crate::runtime::context::is_entered() {
        panic!(
            "`{what}` was called from a thread that drives a perf_runtime runtime: blocking it \
             would stall its tasks. Use the async method with `.await` instead, or call \
             `{what}` from `spawn_blocking`, `task::block_in_place` or a plain thread."
        );
    }

    crate::runtime::park_thread::block_on(f)
}
