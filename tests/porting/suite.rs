//! The porting suite, perf_runtime side: programs written once as a tokio
//! user writes them (`tokio::` paths, `#[tokio::main]`, `tokio::select!`),
//! compiled here against perf_runtime by one line — the `extern crate`
//! alias below — and checked against the output they print on tokio 1.54
//! (recorded in `programs/*.out`).
//!
//! To re-record on tokio: build the same `programs/*.rs` in a crate whose
//! only dependency is `tokio = { version = "1", features = ["full"] }` and
//! print each `run()` line by line (see `programs/README.md`).

extern crate perf_runtime as tokio;

#[path = "programs/cache.rs"]
mod cache;
#[path = "programs/pubsub.rs"]
mod pubsub;
#[path = "programs/rate_limiter.rs"]
mod rate_limiter;
#[path = "programs/shutdown.rs"]
mod shutdown;
#[path = "programs/worker_pool.rs"]
mod worker_pool;

fn check(name: &str, got: Vec<String>) {
    let path = format!("{}/porting/programs/{name}.out", env!("CARGO_MANIFEST_DIR"));
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let want: Vec<&str> = want.lines().collect();
    assert_eq!(
        got, want,
        "{name}: perf_runtime's output differs from tokio's"
    );
}

#[test]
fn worker_pool_same_output_as_tokio() {
    check("worker_pool", worker_pool::run());
}

#[test]
fn pubsub_same_output_as_tokio() {
    check("pubsub", pubsub::run());
}

#[test]
fn rate_limiter_same_output_as_tokio() {
    check("rate_limiter", rate_limiter::run());
}

#[test]
fn cache_same_output_as_tokio() {
    check("cache", cache::run());
}

#[test]
fn shutdown_same_output_as_tokio() {
    check("shutdown", shutdown::run());
}
