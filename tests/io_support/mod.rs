//! Helpers shared by the I/O behaviour tests (`io_*.rs`). The whole suite
//! runs once per backend: `.ci/run` sets `PERF_RUNTIME_IO=uring`, then
//! `PERF_RUNTIME_IO=epoll`; without the variable the runtime picks.
#![allow(dead_code)]

use perf_runtime::runtime::{Builder, IoBackend, Runtime};

/// How many descriptors this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The backend `PERF_RUNTIME_IO` forces, if it forces one.
pub fn forced_backend() -> Option<IoBackend> {
    match std::env::var("PERF_RUNTIME_IO").ok()?.as_str() {
        "uring" => Some(IoBackend::Uring),
        "epoll" => Some(IoBackend::Epoll),
        _ => None,
    }
}

/// A multi-thread runtime with `workers` workers and I/O on.
pub fn multi(workers: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap()
}

/// A current-thread runtime with I/O on.
pub fn current() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}
