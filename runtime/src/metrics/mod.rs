//! Metrics: everything the runtime counts, as a Prometheus exposition, and
//! an endpoint to scrape it.
//!
//! ```
//! use perf_runtime::metrics;
//!
//! let rt = perf_runtime::runtime::Builder::new_multi_thread()
//!     .worker_threads(2)
//!     .enable_all()
//!     .build()
//!     .unwrap();
//! rt.block_on(async {
//!     perf_runtime::spawn(async {}).await.unwrap();
//!     let text = metrics::render_prometheus(&metrics::snapshot());
//!     assert!(text.contains("perf_runtime_tasks_spawned_total{qos=\"normal\"}"));
//! });
//! ```
//!
//! - [`snapshot`] / [`Snapshot::of`] copy the numbers out: per-worker and
//!   per-class counters, queue depths, the wake → poll and poll-duration
//!   histograms, the blocking pool, the container's limits and pressure,
//!   validation counts, the I/O backend, and the [foreign](foreign())
//!   metrics a program reports. Gathering reads single-writer counters with
//!   relaxed loads and takes no lock a worker takes to poll, wake or spawn.
//! - [`render_prometheus`] and [`render_openmetrics`] encode a snapshot
//!   through the `prometheus-client` crate. Every name starts with
//!   `perf_runtime_`, carries its unit (`_seconds`, `_bytes`), and counters
//!   end in `_total`. Labels are bounded: `worker`, `node`, `qos`, and a
//!   resource class capped at [`MAX_CLASSES`] names plus [`OTHER_CLASS`].
//!   [`reference_table`] lists every family (the README's table).
//! - [`serve`] (or `Builder::metrics_addr`, or the
//!   `PERF_RUNTIME_METRICS_ADDR` variable) serves `/metrics`, `/healthz`,
//!   `/debug/tasks` and `/debug/locks` from a thread of its own.
//!
//! The runtime's counters are kept whether or not anyone scrapes (they are
//! what `RuntimeMetrics` reads too); a scrape costs the scraper's thread,
//! never a worker.
//!
//! # Turning gathering off
//!
//! Building with `RUSTFLAGS="--cfg perf_runtime_no_metrics"` compiles out
//! what only metrics use on the hot paths: the per-worker poll, steal, park
//! and LIFO counts, the wake → poll stamps and the poll-duration samples,
//! the lock wait and hold samples and contention counts, the channel
//! gauges' registration and the timers-pending gauge. Those series then
//! read zero. What the runtime acts on stays: task counts by class (the
//! policy's task limits), live locks (`max_locks`), queue depths, the
//! container's figures and validation. It exists to measure what gathering
//! costs (`benches/metrics_onoff.py`, on/off in one tree); a service has no
//! reason to use it.

// What lives where:
// - `snapshot.rs` — `Snapshot` and gathering it.
// - `encode.rs` — the families, prometheus-client encoding, 0.0.4 text.
// - `foreign.rs` — `LegacyMetricsAdapter` (foreign counters, histograms).
// - `http.rs` — the endpoint's HTTP/1.1 responder and its thread.
// - `debug.rs` — `/debug/tasks` and `/debug/locks`.

mod debug;
mod encode;
mod foreign;
mod http;
mod snapshot;
#[cfg(test)]
mod tests;

pub use debug::{locks_dot, tasks, TaskInfo};
pub use encode::{reference_table, LATENCY_BUCKETS, PREFIX};
pub use foreign::{
    ForeignHistogram, HistogramSource, LegacyMetricsAdapter, MetricNameError, MAX_FOREIGN_SERIES,
};
pub use http::{MetricsServer, OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE};
pub use snapshot::{Snapshot, MAX_CLASSES, OTHER_CLASS};

/// The environment variable that turns the endpoint on for every runtime
/// built without [`Builder::metrics_addr`](crate::runtime::Builder::metrics_addr):
/// an address such as `127.0.0.1:9464`.
pub const METRICS_ADDR_ENV: &str = "PERF_RUNTIME_METRICS_ADDR";

/// Whether the hot paths gather what only metrics read (see "Turning
/// gathering off" above): a constant, so the `if !GATHER` branches compile
/// away in both builds.
pub(crate) const GATHER: bool = !cfg!(perf_runtime_no_metrics);

/// The numbers of the current runtime.
///
/// # Panics
/// Outside a runtime, as `Handle::current`.
#[track_caller]
pub fn snapshot() -> Snapshot {
    Snapshot::of(&crate::runtime::Handle::current())
}

/// `snapshot` in the Prometheus text format 0.0.4 (what `/metrics` serves
/// when the scraper does not ask for OpenMetrics).
pub fn render_prometheus(snapshot: &Snapshot) -> String {
    encode::openmetrics_to_text(&encode::openmetrics(snapshot))
}

/// `snapshot` in OpenMetrics 1.0 text (ends with `# EOF`).
pub fn render_openmetrics(snapshot: &Snapshot) -> String {
    encode::openmetrics(snapshot)
}

/// Serves the current runtime's metrics on `addr` (see the module docs)
/// until the returned server is dropped.
///
/// # Errors
/// `addr` cannot be bound (the error names it), or the endpoint's thread
/// cannot start.
///
/// # Panics
/// Outside a runtime, as `Handle::current`.
#[track_caller]
pub fn serve(addr: impl std::net::ToSocketAddrs) -> std::io::Result<MetricsServer> {
    serve_handle(crate::runtime::Handle::current(), addr)
}

/// Serves the metrics of the runtime behind `handle` on `addr`.
///
/// # Errors
/// As [`serve`].
pub fn serve_handle(
    handle: crate::runtime::Handle,
    addr: impl std::net::ToSocketAddrs,
) -> std::io::Result<MetricsServer> {
    http::start(handle, addr)
}

/// The process's foreign-metrics registry, included in every exposition.
pub fn foreign() -> &'static LegacyMetricsAdapter {
    foreign::global()
}

/// For programs that take `--metrics ADDR`: serves the current runtime's
/// metrics there when the flag is given (keep the returned server alive).
///
/// ```no_run
/// #[perf_runtime::main]
/// async fn main() {
///     let _metrics = perf_runtime::metrics::serve_from_args().expect("--metrics ADDR");
///     // ...
/// }
/// ```
///
/// # Errors
/// `--metrics` without an address, or an address that cannot be bound.
///
/// # Panics
/// Outside a runtime, as `Handle::current`.
#[track_caller]
pub fn serve_from_args() -> std::io::Result<Option<MetricsServer>> {
    let addr =
        addr_from_args().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    addr.map(|a| serve(a.as_str())).transpose()
}

/// The program's arguments (without its name) less `--metrics ADDR`, for
/// programs that also take positional arguments.
pub fn args_without_metrics() -> Vec<String> {
    strip(std::env::args().skip(1))
}

fn strip(args: impl Iterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_next = false;
    for a in args {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        if a == "--metrics" {
            skip_next = true;
        } else if !a.starts_with("--metrics=") {
            out.push(a);
        }
    }
    out
}

/// The address given as `--metrics ADDR` (or `--metrics=ADDR`) among the
/// program's arguments, for examples and tools that take that flag.
///
/// # Errors
/// `--metrics` is the last argument (no address follows).
pub fn addr_from_args() -> Result<Option<String>, String> {
    addr_in(std::env::args().skip(1))
}

fn addr_in(mut args: impl Iterator<Item = String>) -> Result<Option<String>, String> {
    while let Some(a) = args.next() {
        if a == "--metrics" {
            return match args.next() {
                Some(addr) => Ok(Some(addr)),
                None => Err("--metrics needs an address, e.g. --metrics 127.0.0.1:9464".into()),
            };
        }
        if let Some(addr) = a.strip_prefix("--metrics=") {
            return Ok(Some(addr.to_owned()));
        }
    }
    Ok(None)
}
