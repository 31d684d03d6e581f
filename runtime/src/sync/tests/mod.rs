//! Tests of the sync internals.
//!
//! - `loom_*`: loom models of every primitive's protocol (waiter queues,
//!   permits, close, the channels' claims and slots, the thread mutex's
//!   parking), run with `--cfg perf_runtime_loom` (`.ci/loom.sh`).
//! - `unit`: the same races on real threads plus hand-polled cancellation
//!   sequences, for the intrusive lists' `unsafe` code under Miri
//!   (`.ci/miri.sh`).

#[cfg(perf_runtime_loom)]
mod loom_channels;
#[cfg(perf_runtime_loom)]
mod loom_locks;
#[cfg(perf_runtime_loom)]
mod loom_notify;
#[cfg(perf_runtime_loom)]
mod loom_watch_broadcast;

#[cfg(not(perf_runtime_loom))]
mod unit;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Runs a loom model with validation off. The models check the primitives'
/// protocols, not the engine (which has its own models); and the engine
/// keeps per-thread state in `std` thread-locals, which loom's threads
/// share, so it would see every model thread as one context.
#[cfg(perf_runtime_loom)]
pub(super) fn model(f: impl Fn() + Sync + Send + 'static) {
    crate::validation::set_mode(crate::validation::Mode::Off);
    loom::model(f);
}

/// Polls `fut` once with a waker that does nothing.
#[allow(dead_code)] // unused by some cfgs
pub(super) fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}
