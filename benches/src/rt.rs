//! The tiny runtime abstraction the workloads are written against.
//!
//! Both implementations are thin forwarding wrappers, so a workload compiled
//! for [`Perf`] and for [`Tokio`] is the same code apart from the scheduler.

use std::future::Future;
use std::io;
use std::time::Instant;

use perf_runtime::task::Qos;
use perf_runtime::topology::{pin_current_thread, CpuSet, Topology};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

/// What a workload needs from a runtime.
pub trait Rt: Sized + Send + Sync + 'static {
    /// Short name used in reports (`perf` / `tokio`).
    const NAME: &'static str;

    /// Builds a multi-thread runtime with `workers` worker threads and all
    /// drivers enabled, its threads placed by the OS.
    fn build(workers: usize) -> io::Result<Self> {
        Self::build_placed(workers, Placement::Os)
    }

    /// As [`build`](Self::build), with the threads placed per `placement`.
    fn build_placed(workers: usize, placement: Placement) -> io::Result<Self>;

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
        Perf::build_placed_with(workers, Placement::Os, configure)
    }

    /// As [`build_with`](Self::build_with), with the threads placed per
    /// `placement`.
    pub fn build_placed_with(
        workers: usize,
        placement: Placement,
        configure: fn(&mut perf_runtime::runtime::Builder),
    ) -> io::Result<Self> {
        let mut builder = perf_runtime::runtime::Builder::new_multi_thread();
        builder.worker_threads(workers).enable_all();
        if let Some(pin) = placement.pinner() {
            builder.on_thread_start(move || pin.pin_next());
        }
        configure(&mut builder);
        builder.build().map(Perf)
    }
}

impl Rt for Perf {
    const NAME: &'static str = "perf";

    fn build_placed(workers: usize, placement: Placement) -> io::Result<Self> {
        Perf::build_placed_with(workers, placement, |_| {})
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

    fn build_placed(workers: usize, placement: Placement) -> io::Result<Self> {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(workers).enable_all();
        if let Some(pin) = placement.pinner() {
            builder.on_thread_start(move || pin.pin_next());
        }
        builder.build().map(Tokio)
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

/// Where a runtime's threads run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Wherever the OS schedules them.
    Os,
    /// Each thread the runtime starts pinned to one CPU: the k-th thread
    /// started (workers first) to the k-th CPU this process may run on,
    /// round robin. Consecutive threads get different CPUs, so the workers
    /// of a runtime never share one, and two runtimes built this way put
    /// their workers on the same CPUs.
    ///
    /// Why `compare -- sync` pins: with two runtimes' workers on a 2-CPU
    /// machine, the OS sometimes runs both workers of one runtime on one
    /// CPU for a whole sample. A contended workload then runs serially and
    /// two to five times faster, and which runtime gets that luck decides
    /// the row: tokio against itself (`--tokio-vs-tokio`) is off by up to
    /// a fifth unpinned and by a few percent pinned (benches/README.md).
    Pinned,
}

impl Placement {
    /// The hook state for [`Placement::Pinned`] (`None` for `Os`): the CPUs
    /// this process may use, read now.
    fn pinner(self) -> Option<Arc<Pinner>> {
        match self {
            Placement::Os => None,
            Placement::Pinned => Some(Arc::new(Pinner {
                cpus: Topology::detect().allowed_cpus().iter().collect(),
                next: AtomicUsize::new(0),
            })),
        }
    }
}

/// Pins each calling thread to the next CPU of a fixed list (never empty:
/// `Topology::allowed_cpus`).
struct Pinner {
    cpus: Vec<usize>,
    next: AtomicUsize,
}

impl Pinner {
    /// Runs on each new runtime thread. A thread that cannot be pinned
    /// keeps running where the OS puts it, and says so on stderr.
    fn pin_next(&self) {
        let k = self.next.fetch_add(1, Relaxed);
        let cpu = self.cpus[k % self.cpus.len()];
        if let Err(e) = pin_current_thread(&CpuSet::from_iter([cpu])) {
            eprintln!("benches: a runtime thread runs unpinned: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CPUs the calling thread may run on.
    fn thread_cpus() -> Vec<usize> {
        Topology::detect().allowed_cpus().iter().collect()
    }

    /// Each thread that asks is pinned to the next allowed CPU, round robin:
    /// on a machine with two or more CPUs, two consecutive threads land on
    /// two different single CPUs.
    #[test]
    fn consecutive_threads_are_pinned_to_consecutive_cpus() {
        let pinner = Placement::Pinned.pinner().expect("a pinner");
        let cpus = pinner.cpus.clone();
        let seen: Vec<Vec<usize>> = (0..3)
            .map(|_| {
                let p = pinner.clone();
                std::thread::spawn(move || {
                    p.pin_next();
                    thread_cpus()
                })
                .join()
                .expect("pinning thread")
            })
            .collect();
        for (k, s) in seen.iter().enumerate() {
            assert_eq!(s, &vec![cpus[k % cpus.len()]], "thread {k}");
        }
    }

    /// A pinned runtime's tasks run on threads allowed one CPU each, for
    /// both runtimes.
    #[test]
    fn pinned_runtimes_poll_on_single_cpu_threads() {
        fn check<R: Rt>() {
            let rt = R::build_placed(2, Placement::Pinned).expect("build runtime");
            let (tx, rx) = std::sync::mpsc::channel();
            for _ in 0..8 {
                let tx = tx.clone();
                rt.spawn_remote(async move {
                    let _ = tx.send(thread_cpus());
                });
            }
            drop(tx);
            let sets: Vec<Vec<usize>> = rx.iter().collect();
            assert_eq!(sets.len(), 8, "{}: every task ran", R::NAME);
            for s in sets {
                assert_eq!(s.len(), 1, "{}: a worker allowed {s:?}", R::NAME);
            }
        }
        check::<Perf>();
        check::<Tokio>();
    }
}
