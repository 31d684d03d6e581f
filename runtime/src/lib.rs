//! perf_runtime: an async runtime for services where tail latency matters.
//!
//! It keeps tokio's names and shapes — port a service by changing imports —
//! and adds what tokio does not have: task classes ([`task::Qos`]), NUMA-aware
//! run queues, and a watchdog for polls that block their worker.
//!
//! # A first program
//!
//! ```
//! #[perf_runtime::main]
//! async fn main() {
//!     let answer = perf_runtime::spawn(async { 6 * 7 }).await.unwrap();
//!     assert_eq!(answer, 42);
//! }
//! ```
//!
//! # Spawning with a class
//!
//! Workers serve `Critical` tasks before `Normal` before `Batch`, with a
//! bounded share for the lower classes so none starves:
//!
//! ```
//! use perf_runtime::task::{self, Qos};
//!
//! # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
//! let request = perf_runtime::spawn_with(Qos::Critical, async { "served" });
//! let report = task::Builder::new()
//!     .name("nightly-report")
//!     .qos(Qos::Batch)
//!     .spawn(async { "built" })
//!     .unwrap();
//! assert_eq!(request.await.unwrap(), "served");
//! assert_eq!(report.await.unwrap(), "built");
//! # });
//! ```
//!
//! # Module map
//!
//! - [`runtime`] — `Builder`, `Runtime`, `Handle`.
//! - [`task`] — spawning, `JoinHandle`, `JoinSet`, `AbortHandle`, classes,
//!   `yield_now`, `block_in_place`, the cooperative budget (`task::coop`).
//! - [`sync`] — `Mutex`, `RwLock`, `Semaphore`, `Notify`, `Barrier`, the
//!   `mpsc`, `oneshot`, `watch` and `broadcast` channels, `blocking::Mutex`.
//! - [`time`] — `sleep`, `timeout`, `interval`, `Instant`.
//! - [`io`], [`net`], [`fs`], [`signal`], [`process`] — tokio's I/O traits,
//!   sockets, files, signals, child processes.
//! - `hyper` (feature `hyper`) — hyper 1.x's executor and timer.
//! - [`stream`] — `Stream` wrappers over the channels and intervals, as
//!   `tokio_stream::wrappers`.
//! - [`topology`] — CPUs and NUMA nodes.
//! - [`container`] — cgroup limits, pressure, and the worker-count policy.
//! - [`policy`] — the resource policy (`ResourceLimit`) and its hot-reloaded file.
//! - [`qos`] — what the runtime does at each limit: refused spawns, violations, burst credits.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod container;
pub mod fs;
#[cfg(feature = "hyper")]
pub mod hyper;
pub mod io;
pub(crate) mod loom;
#[doc(hidden)]
pub mod macros;
pub mod metrics;
pub mod net;
pub mod policy;
pub mod process;
pub mod qos;
pub mod runtime;
pub(crate) mod scheduler;
pub mod signal;
pub mod stream;
pub mod sync;
pub mod task;
pub mod time;
pub mod topology;
pub(crate) mod util;
pub mod validation;

pub use task::{spawn, spawn_blocking, spawn_with};

#[cfg(feature = "macros")]
pub use perf_runtime_macros::{main, test};

// The expansions of `select!`, `join!` and `try_join!` (macros/).
#[cfg(feature = "macros")]
#[doc(hidden)]
pub use perf_runtime_macros::{
    join_internal as __join_internal, select_internal as __select_internal,
    try_join_internal as __try_join_internal,
};

// The README's first program is compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
