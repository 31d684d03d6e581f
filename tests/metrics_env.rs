//! `PERF_RUNTIME_METRICS_ADDR`: the first runtime built without
//! `Builder::metrics_addr` serves there, later ones do not (one address, one
//! listener), an explicit `Builder::metrics_addr` still wins, and dropping
//! the runtime closes the endpoint. Its
//! own test binary: the variable is process-wide.

#[path = "metrics_support/mod.rs"]
mod support;

use perf_runtime::metrics::METRICS_ADDR_ENV;
use perf_runtime::runtime::Builder;
use support::get;

#[test]
fn the_variable_turns_the_endpoint_on_for_the_first_runtime() {
    // No other thread reads the environment in this binary (one test).
    std::env::set_var(METRICS_ADDR_ENV, "127.0.0.1:0");
    let first = Builder::new_current_thread().enable_all().build().unwrap();
    let addr = first
        .metrics_local_addr()
        .expect("PERF_RUNTIME_METRICS_ADDR turned the endpoint on");
    let r = get(addr, "/healthz");
    assert_eq!(r.status, 200);
    let m = get(addr, "/metrics");
    assert!(m.body.contains("perf_runtime_workers 1"), "{}", m.body);
    // The address is taken once: a second runtime does not try to bind it.
    let second = Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(second.metrics_local_addr(), None);
    // An explicit address still wins over the variable.
    let third = Builder::new_current_thread()
        .enable_all()
        .metrics_addr("127.0.0.1:0")
        .build()
        .unwrap();
    assert_ne!(third.metrics_local_addr(), Some(addr));
    assert!(third.metrics_local_addr().is_some());
    drop(first);
    // Dropping the runtime stops its endpoint.
    assert!(std::net::TcpStream::connect(addr).is_err());
}
