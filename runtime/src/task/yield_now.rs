use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields execution back to the scheduler, as `tokio::task::yield_now`.
///
/// The task is queued behind the work already waiting in its class (not in
/// the LIFO slot), so other tasks of the worker run first.
pub async fn yield_now() {
    YieldNow { yielded: false }.await
}

struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // Waking during our own poll makes the harness re-queue the task with
        // `Schedule::yield_now` once this poll returns.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
