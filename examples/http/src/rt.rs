//! The runtime the service runs on: the one file that differs between the
//! perf_runtime build and the tokio build (`--features tokio-baseline`).
//! Side by side, the two halves are the porting guide: the crate name
//! changes, hyper's timer comes from the runtime, and perf_runtime takes a
//! QoS class where a task is spawned.

#[cfg(not(feature = "tokio-baseline"))]
mod imp {
    use perf_runtime::task::Qos;
    pub use perf_runtime::{net, spawn, task, time};
    use std::future::Future;

    pub const NAME: &str = "perf_runtime";

    /// hyper's timer (header-read timeouts) on this runtime.
    pub fn timer() -> perf_runtime::hyper::Timer {
        perf_runtime::hyper::Timer::new()
    }

    /// A request-serving task: scheduled ahead of Batch work.
    pub fn spawn_critical<F>(f: F) -> task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        perf_runtime::spawn_with(Qos::Critical, f)
    }

    /// CPU-heavy work (it yields to requests), if the resource policy admits it; the error says
    /// which limit refused it.
    pub fn try_spawn_batch<F>(f: F) -> Result<task::JoinHandle<F::Output>, String>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        task::Builder::new()
            .qos(Qos::Batch)
            .try_spawn(f)
            .map_err(|e| e.to_string())
    }

    /// Runs the service on a multi-thread runtime with default settings.
    pub fn block_on<F: Future>(f: F) -> std::io::Result<F::Output> {
        Ok(perf_runtime::runtime::Runtime::new()?.block_on(f))
    }

    /// `/metrics`: everything the runtime keeps (workers, classes, queues,
    /// locks, channels, container, I/O), in the Prometheus text format.
    pub fn metrics_text() -> String {
        use perf_runtime::metrics;
        metrics::render_prometheus(&metrics::snapshot())
    }
}

#[cfg(feature = "tokio-baseline")]
mod imp {
    use std::future::Future;
    pub use tokio::{net, spawn, task, time};

    pub const NAME: &str = "tokio";

    pub fn timer() -> hyper_util::rt::TokioTimer {
        hyper_util::rt::TokioTimer::new()
    }

    pub fn spawn_critical<F>(f: F) -> task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        tokio::spawn(f)
    }

    /// tokio has no resource policy: every batch job is admitted.
    pub fn try_spawn_batch<F>(f: F) -> Result<task::JoinHandle<F::Output>, String>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Ok(tokio::spawn(f))
    }

    pub fn block_on<F: Future>(f: F) -> std::io::Result<F::Output> {
        Ok(tokio::runtime::Runtime::new()?.block_on(f))
    }

    /// tokio's stable runtime metrics, in the Prometheus text format.
    pub fn metrics_text() -> String {
        let m = tokio::runtime::Handle::current().metrics();
        let gauges = [
            ("tokio_workers", "Worker threads.", m.num_workers()),
            ("tokio_alive_tasks", "Tasks alive.", m.num_alive_tasks()),
            (
                "tokio_global_queue_depth",
                "Tasks in the injection queue.",
                m.global_queue_depth(),
            ),
        ];
        let mut out = String::new();
        for (name, help, value) in gauges {
            out += &format!("# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n");
        }
        out
    }
}

pub use imp::*;
