use crate::sync::broadcast::error::RecvError;
use crate::sync::broadcast::Receiver;
use futures_core::Stream;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// The future that owns the receiver while it waits: `recv` borrows the
/// receiver, so the receiver travels with the future and comes back with
/// the value.
type RecvFuture<T> = Pin<Box<dyn Future<Output = (Result<T, RecvError>, Receiver<T>)> + Send>>;

async fn recv_owned<T: Clone>(mut rx: Receiver<T>) -> (Result<T, RecvError>, Receiver<T>) {
    let result = rx.recv().await;
    (result, rx)
}

/// A [`Stream`] of the values of a [`broadcast::Receiver`], as
/// `tokio_stream::wrappers::BroadcastStream`.
///
/// A receiver that fell behind gets
/// `Err(BroadcastStreamRecvError::Lagged(n))` — `n` values were overwritten
/// before it read them — and then continues with the oldest value still in
/// the channel. The stream ends when every sender is dropped and the
/// receiver has read everything.
///
/// ```
/// use perf_runtime::stream::wrappers::errors::BroadcastStreamRecvError;
/// use perf_runtime::stream::wrappers::BroadcastStream;
/// use perf_runtime::stream::Stream;
/// use perf_runtime::sync::broadcast;
/// use std::pin::Pin;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let (tx, rx) = broadcast::channel(2);
/// let mut stream = BroadcastStream::new(rx);
/// for i in 0..4 {
///     tx.send(i).unwrap(); // a ring of 2: values 0 and 1 are overwritten
/// }
/// drop(tx);
/// let mut items = Vec::new();
/// while let Some(item) = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
///     items.push(item);
/// }
/// assert_eq!(items, [Err(BroadcastStreamRecvError::Lagged(2)), Ok(2), Ok(3)]);
/// # });
/// ```
///
/// [`broadcast::Receiver`]: crate::sync::broadcast::Receiver
pub struct BroadcastStream<T> {
    inner: RecvFuture<T>,
}

impl<T: 'static + Clone + Send> BroadcastStream<T> {
    /// Wraps `rx`.
    pub fn new(rx: Receiver<T>) -> BroadcastStream<T> {
        BroadcastStream {
            inner: Box::pin(recv_owned(rx)),
        }
    }
}

impl<T: 'static + Clone + Send> Stream for BroadcastStream<T> {
    type Item = Result<T, BroadcastStreamRecvError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let (result, rx) = ready!(self.inner.as_mut().poll(cx));
        self.inner = Box::pin(recv_owned(rx));
        Poll::Ready(match result {
            Ok(item) => Some(Ok(item)),
            Err(RecvError::Closed) => None,
            Err(RecvError::Lagged(n)) => Some(Err(BroadcastStreamRecvError::Lagged(n))),
        })
    }
}

impl<T> fmt::Debug for BroadcastStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BroadcastStream").finish_non_exhaustive()
    }
}

impl<T: 'static + Clone + Send> From<Receiver<T>> for BroadcastStream<T> {
    fn from(rx: Receiver<T>) -> BroadcastStream<T> {
        BroadcastStream::new(rx)
    }
}

/// An item of a [`BroadcastStream`] that is not a value, as
/// `tokio_stream::wrappers::errors::BroadcastStreamRecvError`.
///
/// ```
/// use perf_runtime::stream::wrappers::errors::BroadcastStreamRecvError;
///
/// let err = BroadcastStreamRecvError::Lagged(3);
/// assert!(err.to_string().contains("3"));
/// ```
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum BroadcastStreamRecvError {
    /// The receiver fell behind: this many values were overwritten before
    /// it read them. The stream continues with the oldest value kept.
    Lagged(u64),
}

impl fmt::Display for BroadcastStreamRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BroadcastStreamRecvError::Lagged(n) => write!(
                f,
                "the broadcast stream lagged: {n} values were overwritten before it read them; \
                 read faster or give the channel more capacity"
            ),
        }
    }
}

impl Error for BroadcastStreamRecvError {}
