use crate::time::{Instant, Interval};
use futures_core::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A [`Stream`] of an [`Interval`]'s ticks, as
/// `tokio_stream::wrappers::IntervalStream`. It never ends.
///
/// ```
/// use perf_runtime::stream::wrappers::IntervalStream;
/// use perf_runtime::stream::Stream;
/// use perf_runtime::time::{interval, Duration};
/// use std::pin::Pin;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let mut ticks = IntervalStream::new(interval(Duration::from_millis(1)));
/// let first = std::future::poll_fn(|cx| Pin::new(&mut ticks).poll_next(cx)).await.unwrap();
/// let second = std::future::poll_fn(|cx| Pin::new(&mut ticks).poll_next(cx)).await.unwrap();
/// assert!(second >= first + Duration::from_millis(1));
/// # });
/// ```
#[derive(Debug)]
pub struct IntervalStream {
    inner: Interval,
}

impl IntervalStream {
    /// Wraps `interval`.
    pub fn new(interval: Interval) -> IntervalStream {
        IntervalStream { inner: interval }
    }

    /// The interval back.
    pub fn into_inner(self) -> Interval {
        self.inner
    }
}

impl Stream for IntervalStream {
    type Item = Instant;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.inner.poll_tick(cx).map(Some)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

impl AsRef<Interval> for IntervalStream {
    fn as_ref(&self) -> &Interval {
        &self.inner
    }
}

impl AsMut<Interval> for IntervalStream {
    fn as_mut(&mut self) -> &mut Interval {
        &mut self.inner
    }
}
