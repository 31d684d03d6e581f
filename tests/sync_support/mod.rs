//! Shared helpers of the `sync_*` behaviour tests: a hand-polled task whose
//! waker counts wake-ups (so a test decides exactly when each future is
//! polled, with no scheduler and no timing), a watchdog for tests that run
//! on a runtime, and the runtime constructors.

#![allow(dead_code)] // each test file uses a different subset

// `within`, `PATIENCE` and the runtime constructors are the ones every
// behaviour test shares.
#[path = "../support/mod.rs"]
mod support;
pub use support::*;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A future polled by hand, as tokio-test's `task::spawn`.
pub struct Task<F> {
    fut: Pin<Box<F>>,
    wakes: Arc<CountingWaker>,
    waker: Waker,
}

/// Wraps `fut` for hand polling.
pub fn task<F: Future>(fut: F) -> Task<F> {
    let wakes = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(wakes.clone());
    Task {
        fut: Box::pin(fut),
        wakes,
        waker,
    }
}

impl<F: Future> Task<F> {
    /// Polls once, resetting the wake count.
    pub fn poll(&mut self) -> Poll<F::Output> {
        self.wakes.0.store(0, SeqCst);
        let mut cx = Context::from_waker(&self.waker);
        self.fut.as_mut().poll(&mut cx)
    }

    /// True if the waker was woken since the last poll.
    pub fn is_woken(&self) -> bool {
        self.wakes.0.load(SeqCst) > 0
    }

    /// Polls and expects `Pending`.
    #[track_caller]
    pub fn pending(&mut self) {
        assert!(
            self.poll().is_pending(),
            "expected the future to be pending"
        );
    }

    /// Polls and expects `Ready`, returning the output.
    #[track_caller]
    pub fn ready(&mut self) -> F::Output {
        match self.poll() {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("expected the future to be ready"),
        }
    }
}

/// How many always-ready operations a loop may run before it must have
/// yielded (the budget is 128 per poll).
pub const YIELD_LIMIT: u64 = 100_000;

/// Asserts that a loop of always-ready operations yields to the scheduler.
///
/// `body` gets a flag and must loop on an always-ready operation until the
/// flag is set, failing once it passed [`YIELD_LIMIT`] iterations. The flag
/// is set by a task spawned from inside the looping task on a current-thread
/// runtime: it can only run once the loop returns `Pending`, which only the
/// cooperative budget makes it do.
pub fn assert_yields<F, Fut>(body: F)
where
    F: FnOnce(Arc<AtomicBool>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    within(move || {
        let rt = current_thread();
        rt.block_on(async move {
            let flag = Arc::new(AtomicBool::new(false));
            let setter = flag.clone();
            perf_runtime::spawn(async move {
                perf_runtime::spawn(async move { setter.store(true, SeqCst) });
                body(flag).await
            })
            .await
            .unwrap()
        })
    });
}
