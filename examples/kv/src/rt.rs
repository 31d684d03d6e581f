//! The runtime the server runs on: the one file that differs between the
//! perf_runtime build and the tokio build (`--features tokio-baseline`).
//! Everything else is the same source. Read side by side, the two halves
//! are the porting guide: the crate name changes, and perf_runtime takes a
//! QoS class where a task is spawned.

#[cfg(not(feature = "tokio-baseline"))]
mod imp {
    use perf_runtime::task::Qos;
    pub use perf_runtime::{io, net, select, signal, sync, task, time};
    use std::future::Future;

    pub const NAME: &str = "perf_runtime";

    /// A request-serving task: scheduled ahead of Batch work.
    pub fn spawn_critical_in<F>(set: &mut task::JoinSet<()>, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        set.spawn_with(Qos::Critical, f);
    }

    /// A task on a connection's behalf (a subscription's forwarder).
    pub fn spawn_critical<F>(f: F) -> task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        perf_runtime::spawn_with(Qos::Critical, f)
    }

    /// Background work (expiry sweeps, `KEYS`): yields to requests.
    pub fn spawn_batch<F>(f: F) -> task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        perf_runtime::spawn_with(Qos::Batch, f)
    }

    /// Runs the server on a multi-thread runtime with default settings
    /// (workers sized from the container's CPU quota; validation in the
    /// mode `PERF_RUNTIME_VALIDATION` says, Report by default).
    pub fn block_on<F: Future>(f: F) -> std::io::Result<F::Output> {
        Ok(perf_runtime::runtime::Runtime::new()?.block_on(f))
    }

    /// `INFO`'s runtime section.
    pub fn info() -> String {
        use perf_runtime::validation::{count, ViolationKind};
        let h = perf_runtime::runtime::Handle::current();
        let m = h.metrics();
        let p99 = |q: Qos| {
            m.qos_wake_delay(q)
                .quantile(0.99)
                .map_or(0, |d| d.as_micros() as u64)
        };
        let violations: u64 = ViolationKind::ALL.iter().map(|&k| count(k)).sum();
        format!(
            "runtime:perf_runtime\r\nio_backend:{}\r\nworkers:{}\r\nactive_workers:{}\r\n\
             alive_tasks:{}\r\ninjector_depth:{}\r\ncritical_tasks_spawned:{}\r\n\
             batch_tasks_spawned:{}\r\ncritical_wake_to_poll_p99_us:{}\r\n\
             batch_wake_to_poll_p99_us:{}\r\nsteals_local:{}\r\nsteals_remote:{}\r\n\
             validation_mode:{:?}\r\nvalidation_violations:{}\r\n",
            h.io_backend().map_or("none".to_owned(), |b| b.to_string()),
            m.num_workers(),
            m.active_workers(),
            m.num_alive_tasks(),
            m.global_queue_depth(),
            m.qos_spawned(Qos::Critical),
            m.qos_spawned(Qos::Batch),
            p99(Qos::Critical),
            p99(Qos::Batch),
            m.local_steals(),
            m.remote_steals(),
            perf_runtime::validation::global_mode(),
            violations,
        )
    }
}

#[cfg(feature = "tokio-baseline")]
mod imp {
    use std::future::Future;
    pub use tokio::{io, net, select, signal, sync, task, time};

    pub const NAME: &str = "tokio";

    pub fn spawn_critical_in<F>(set: &mut task::JoinSet<()>, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        set.spawn(f);
    }

    pub fn spawn_critical<F>(f: F) -> task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        tokio::spawn(f)
    }

    pub fn spawn_batch<F>(f: F) -> task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        tokio::spawn(f)
    }

    pub fn block_on<F: Future>(f: F) -> std::io::Result<F::Output> {
        Ok(tokio::runtime::Runtime::new()?.block_on(f))
    }

    pub fn info() -> String {
        let m = tokio::runtime::Handle::current().metrics();
        format!(
            "runtime:tokio\r\nworkers:{}\r\nalive_tasks:{}\r\ninjector_depth:{}\r\n",
            m.num_workers(),
            m.num_alive_tasks(),
            m.global_queue_depth(),
        )
    }
}

pub use imp::*;
