use crate::sync::watch::error::RecvError;
use crate::sync::watch::Receiver;
use futures_core::Stream;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// The future that owns the receiver while it waits for a change (see
/// `broadcast.rs`).
type ChangedFuture<T> = Pin<Box<dyn Future<Output = (Result<(), RecvError>, Receiver<T>)> + Send>>;

async fn changed_owned<T: Send + Sync>(
    mut rx: Receiver<T>,
) -> (Result<(), RecvError>, Receiver<T>) {
    let result = rx.changed().await;
    (result, rx)
}

/// A [`Stream`] of the values of a [`watch::Receiver`], as
/// `tokio_stream::wrappers::WatchStream`.
///
/// [`new`](WatchStream::new) yields the current value first, then the
/// value after each change; [`from_changes`](WatchStream::from_changes)
/// yields only changes. Changes that happen between two reads are seen
/// once, as the latest value (watch keeps only the latest). The stream ends
/// when the sender is dropped.
///
/// ```
/// use perf_runtime::stream::wrappers::WatchStream;
/// use perf_runtime::stream::Stream;
/// use perf_runtime::sync::watch;
/// use std::pin::Pin;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// async fn next(s: &mut WatchStream<&'static str>) -> Option<&'static str> {
///     std::future::poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
/// }
///
/// let (tx, rx) = watch::channel("v1");
/// let mut stream = WatchStream::new(rx);
/// assert_eq!(next(&mut stream).await, Some("v1"));
/// tx.send("v2").unwrap();
/// assert_eq!(next(&mut stream).await, Some("v2"));
/// drop(tx);
/// assert_eq!(next(&mut stream).await, None);
/// # });
/// ```
///
/// [`watch::Receiver`]: crate::sync::watch::Receiver
pub struct WatchStream<T> {
    inner: ChangedFuture<T>,
}

impl<T: 'static + Clone + Send + Sync> WatchStream<T> {
    /// A stream that yields the current value first, then every change.
    pub fn new(rx: Receiver<T>) -> WatchStream<T> {
        WatchStream {
            inner: Box::pin(async move { (Ok(()), rx) }),
        }
    }

    /// A stream that yields only values sent after this call (the current
    /// one is skipped unless it is still unseen by `rx`).
    ///
    /// ```
    /// use perf_runtime::stream::wrappers::WatchStream;
    /// use perf_runtime::stream::Stream;
    /// use perf_runtime::sync::watch;
    /// use std::pin::Pin;
    ///
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// let (tx, rx) = watch::channel(0);
    /// let mut changes = WatchStream::from_changes(rx);
    /// tx.send(1).unwrap();
    /// let first = std::future::poll_fn(|cx| Pin::new(&mut changes).poll_next(cx)).await;
    /// assert_eq!(first, Some(1));
    /// # });
    /// ```
    pub fn from_changes(rx: Receiver<T>) -> WatchStream<T> {
        WatchStream {
            inner: Box::pin(changed_owned(rx)),
        }
    }
}

impl<T: 'static + Clone + Send + Sync> Stream for WatchStream<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let (result, mut rx) = ready!(self.inner.as_mut().poll(cx));
        let item = match result {
            Ok(()) => Some(rx.borrow_and_update().clone()),
            Err(_closed) => None,
        };
        self.inner = Box::pin(changed_owned(rx));
        Poll::Ready(item)
    }
}

impl<T> fmt::Debug for WatchStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchStream").finish_non_exhaustive()
    }
}
