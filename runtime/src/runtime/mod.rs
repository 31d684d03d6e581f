//! The runtime: [`Builder`] to configure one, [`Runtime`] to own it,
//! [`Handle`] to reach it from anywhere (spawn, `block_on`, enter).
//!
//! `#[perf_runtime::main]` builds a default multi-thread runtime; build one
//! by hand when a program needs several, or settings the attribute does not
//! take:
//!
//! ```
//! use perf_runtime::runtime::Builder;
//!
//! let rt = Builder::new_multi_thread()
//!     .worker_threads(2)
//!     .thread_name("my-service")
//!     .enable_all()
//!     .build()
//!     .unwrap();
//! let handle = rt.handle().clone();
//! // From any thread: spawn onto the runtime, wait for the result.
//! let answer = std::thread::spawn(move || handle.block_on(async { 6 * 7 }))
//!     .join()
//!     .unwrap();
//! assert_eq!(answer, 42);
//! assert_eq!(rt.block_on(rt.spawn(async { 1 + 1 })).unwrap(), 2);
//! ```

// What lives where (for contributors):
//
// The runtime: `Builder`, `Runtime`, `Handle`, and their plumbing.
//
// - `builder.rs` — `Builder` and how settings become a scheduler.
// - `handle.rs` — `Handle`, `EnterGuard`, `TryCurrentError`.
// - `id.rs` — `Id`, which runtime a handle belongs to.
// - `metrics.rs` — `RuntimeMetrics`.
// - `blocking.rs` — the blocking pool behind `spawn_blocking`.
// - `context.rs` — the thread-local context (current runtime, task, budget).
// - `park_thread.rs` — `block_on` for threads that are not workers.

pub(crate) mod blocking;
mod builder;
pub(crate) mod config;
pub(crate) mod context;
mod handle;
mod id;
mod metrics;
pub(crate) mod park_thread;
pub(crate) mod sizing;

pub use crate::io::driver::probe::IO_ENV;
pub use crate::io::driver::{IoBackend, IoDriver};
pub use crate::scheduler::pick::{InvalidWeights, QosWeights};
pub use builder::{Builder, MAX_WORKER_THREADS, WORKER_THREADS_ENV};
pub use handle::{EnterGuard, Handle, RuntimeFlavor, TryCurrentError};
pub use id::Id;
pub use metrics::{DelayHistogram, RuntimeMetrics};

use crate::scheduler::watchdog::Watchdog;
use crate::task::JoinHandle;
use std::fmt;
use std::future::Future;
use std::time::Duration;

/// The perf_runtime runtime: a scheduler, a timer wheel and a blocking pool,
/// as `tokio::runtime::Runtime`.
///
/// Dropping it shuts it down: every task is cancelled (its future dropped),
/// then the drop waits for the workers to finish their current poll and for
/// running `spawn_blocking` closures to return. Use
/// [`shutdown_timeout`](Runtime::shutdown_timeout) or
/// [`shutdown_background`](Runtime::shutdown_background) to bound that wait.
///
/// ```
/// use perf_runtime::runtime::Runtime;
///
/// let rt = Runtime::new().unwrap();
/// let sum = rt.block_on(async {
///     let a = perf_runtime::spawn(async { 20 });
///     let b = perf_runtime::spawn(async { 22 });
///     a.await.unwrap() + b.await.unwrap()
/// });
/// assert_eq!(sum, 42);
/// ```
pub struct Runtime {
    handle: Handle,
    watchdog: Option<Watchdog>,
    monitor: Option<sizing::Monitor>,
    /// The metrics endpoint (`Builder::metrics_addr`); stopped first.
    metrics: Option<crate::metrics::MetricsServer>,
    done: bool,
}

impl Runtime {
    /// A multi-thread runtime with default settings.
    ///
    /// # Errors
    /// See [`Builder::build`].
    pub fn new() -> std::io::Result<Runtime> {
        Builder::new_multi_thread().enable_all().build()
    }

    pub(crate) fn from_parts(
        handle: crate::scheduler::Handle,
        watchdog: Option<Watchdog>,
        monitor: Option<sizing::Monitor>,
    ) -> Runtime {
        Runtime {
            handle: Handle { inner: handle },
            watchdog,
            monitor,
            metrics: None,
            done: false,
        }
    }

    pub(crate) fn set_metrics_server(&mut self, server: crate::metrics::MetricsServer) {
        self.metrics = Some(server);
    }

    /// Where the metrics endpoint listens, if `Builder::metrics_addr` or
    /// `PERF_RUNTIME_METRICS_ADDR` turned it on.
    pub fn metrics_local_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics.as_ref().map(|m| m.local_addr())
    }

    /// Runs `future` to completion on the current thread, with this runtime
    /// as the thread's context. On a current_thread runtime, the runtime's
    /// tasks run on this thread meanwhile.
    ///
    /// # Panics
    /// If called from inside a runtime (a task, or another `block_on`): that
    /// would block a thread that drives tasks.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Spawns a `Normal`-class task on this runtime.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs `f` on the blocking pool.
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// A handle to this runtime.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Makes this runtime the current one for the calling thread until the
    /// guard drops, so `spawn` and timers work outside `block_on`.
    pub fn enter(&self) -> EnterGuard<'_> {
        self.handle.enter()
    }

    /// Counters of this runtime.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }

    /// Shuts down, waiting at most `timeout` for workers and blocking threads.
    /// Threads still busy after that are left to finish on their own.
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(Some(timeout));
    }

    /// Shuts down without waiting for any thread.
    pub fn shutdown_background(mut self) {
        self.shutdown(Some(Duration::ZERO));
    }

    fn shutdown(&mut self, timeout: Option<Duration>) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        drop(self.metrics.take());
        let inner = &self.handle.inner;
        let timeout = if crate::runtime::context::is_entered() && timeout != Some(Duration::ZERO) {
            // Waiting here could wait for this very thread.
            tracing::warn!(
                "a perf_runtime Runtime was dropped from inside a runtime; shutting it down \
                 without waiting for its threads"
            );
            Some(Duration::ZERO)
        } else {
            timeout
        };
        {
            // Task futures dropped here may call the context-free `spawn` from
            // their destructors (as tokio allows): keep this runtime current.
            // Such late tasks are cancelled at once by the closed task list.
            let _current = crate::runtime::context::set_current(inner.clone());
            inner.shutdown();
        }
        // One deadline for the whole shutdown: the blocking pool gets what
        // the workers left of it, so `shutdown_timeout(d)` takes at most d.
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let remaining = || deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
        if let crate::scheduler::Handle::MultiThread(s) = inner {
            if timeout == Some(Duration::ZERO) {
                // Never block: the last worker to leave cleans up.
            } else {
                s.wait_workers(remaining());
            }
        }
        inner.common().blocking.shutdown(remaining());
        if let Some(mut w) = self.watchdog.take() {
            w.stop();
        }
        drop(self.monitor.take());
    }
}

/// `e`, from starting `what` (a sentence part such as "worker thread 3 of 8"),
/// with the context a user needs: which thread, and what to change.
pub(crate) fn thread_spawn_error(what: &str, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(
        e.kind(),
        format!(
            "perf_runtime could not start {what}: {e}. The system refused a new thread: \
             ask for fewer workers (Builder::worker_threads or {WORKER_THREADS_ENV}) or \
             blocking threads (Builder::max_blocking_threads), use a smaller \
             Builder::thread_stack_size, or raise the thread limits (ulimit -u, the \
             cgroup's pids.max, vm.max_map_count)"
        ),
    )
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown(None);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("flavor", &self.handle.runtime_flavor())
            .finish_non_exhaustive()
    }
}
