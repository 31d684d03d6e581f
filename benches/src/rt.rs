//! The tiny runtime abstraction the workloads are written against.
//!
//! Both implementations are thin forwarding wrappers, so a workload compiled
//! for [`Perf`] and for [`Tokio`] is the same code apart from the scheduler.

use std::future::Future;
use std::io;
use std::time::Instant;

use perf_runtime::task::Qos;

/// What a workload needs from a runtime.
pub trait Rt: Sized + Send + Sync + 'static {
    /// Short name used in reports (`perf` / `tokio`).
    const NAME: &'static str;

    /// Builds a multi-thread runtime with `workers` worker threads and all
    /// drivers enabled.
    fn build(workers: usize) -> io::Result<Self>;

    /// Runs `fut` to completion on the current thread, inside the runtime's
    /// context.
    fn block_on<F: Future>(&self, fut: F) -> F::Output;

    /// Spawns a detached task from outside the runtime, through its handle.
    fn spawn_remote<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// Spawns a detached task on the current runtime (must be called from
    /// inside a task or `block_on`).
    fn spawn<F>(fut: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// Spawns a detached task of class `qos` on the current runtime (must be
    /// called from inside a task or `block_on`). tokio has no classes: there
    /// it is a plain spawn.
    fn spawn_with<F>(qos: Qos, fut: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// Yields back to the scheduler once.
    fn yield_now() -> impl Future<Output = ()> + Send;

    /// Completes once `deadline` has passed, on the runtime's own timer.
    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send;
}

/// perf_runtime's multi-thread runtime.
pub struct Perf(perf_runtime::runtime::Runtime);

impl Perf {
    /// As [`Rt::build`] (`workers` worker threads, all drivers on), after
    /// `configure` has had its say on the builder: how a benchmark runs
    /// variants of perf_runtime's settings against the same workload.
    pub fn build_with(
        workers: usize,
        configure: fn(&mut perf_runtime::runtime::Builder),
    ) -> io::Result<Self> {
        let mut builder = perf_runtime::runtime::Builder::new_multi_thread();
        builder.worker_threads(workers).enable_all();
        configure(&mut builder);
        builder.build().map(Perf)
    }
}

impl Rt for Perf {
    const NAME: &'static str = "perf";

    fn build(workers: usize) -> io::Result<Self> {
        Perf::build_with(workers, |_| {})
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.0.block_on(fut)
    }

    fn spawn_remote<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.0.handle().spawn(fut));
    }

    fn spawn<F>(fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(perf_runtime::spawn(fut));
    }

    fn spawn_with<F>(qos: Qos, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(perf_runtime::spawn_with(qos, fut));
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        perf_runtime::task::yield_now()
    }

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send {
        perf_runtime::time::sleep_until(perf_runtime::time::Instant::from_std(deadline))
    }
}

/// tokio's multi-thread runtime.
pub struct Tokio(tokio::runtime::Runtime);

impl Rt for Tokio {
    const NAME: &'static str = "tokio";

    fn build(workers: usize) -> io::Result<Self> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .map(Tokio)
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.0.block_on(fut)
    }

    fn spawn_remote<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.0.handle().spawn(fut));
    }

    fn spawn<F>(fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(tokio::spawn(fut));
    }

    fn spawn_with<F>(_qos: Qos, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(tokio::spawn(fut));
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send {
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline))
    }
}
