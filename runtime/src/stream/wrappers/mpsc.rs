use crate::sync::mpsc::{Receiver, UnboundedReceiver};
use futures_core::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A [`Stream`] of the values of a bounded [`mpsc::Receiver`], as
/// `tokio_stream::wrappers::ReceiverStream`. It ends when every sender is
/// dropped and the buffer is drained.
///
/// ```
/// use perf_runtime::stream::wrappers::ReceiverStream;
/// use perf_runtime::stream::Stream;
/// use perf_runtime::sync::mpsc;
/// use std::pin::Pin;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let (tx, rx) = mpsc::channel(2);
/// perf_runtime::spawn(async move {
///     for i in 0..3 {
///         tx.send(i).await.unwrap();
///     }
/// });
/// let mut stream = ReceiverStream::new(rx);
/// let mut got = Vec::new();
/// while let Some(v) = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
///     got.push(v);
/// }
/// assert_eq!(got, [0, 1, 2]);
/// # });
/// ```
///
/// [`mpsc::Receiver`]: crate::sync::mpsc::Receiver
#[derive(Debug)]
pub struct ReceiverStream<T> {
    inner: Receiver<T>,
}

impl<T> ReceiverStream<T> {
    /// Wraps `recv`.
    pub fn new(recv: Receiver<T>) -> ReceiverStream<T> {
        ReceiverStream { inner: recv }
    }

    /// The receiver back.
    pub fn into_inner(self) -> Receiver<T> {
        self.inner
    }

    /// Closes the receiving half without dropping it: senders fail from now
    /// on, and the stream still yields what is buffered, then ends.
    pub fn close(&mut self) {
        self.inner.close();
    }
}

impl<T> Stream for ReceiverStream<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.inner.poll_recv(cx)
    }
}

impl<T> AsRef<Receiver<T>> for ReceiverStream<T> {
    fn as_ref(&self) -> &Receiver<T> {
        &self.inner
    }
}

impl<T> AsMut<Receiver<T>> for ReceiverStream<T> {
    fn as_mut(&mut self) -> &mut Receiver<T> {
        &mut self.inner
    }
}

impl<T> From<Receiver<T>> for ReceiverStream<T> {
    fn from(recv: Receiver<T>) -> ReceiverStream<T> {
        ReceiverStream::new(recv)
    }
}

/// A [`Stream`] of the values of an [`mpsc::UnboundedReceiver`], as
/// `tokio_stream::wrappers::UnboundedReceiverStream`.
///
/// ```
/// use perf_runtime::stream::wrappers::UnboundedReceiverStream;
/// use perf_runtime::stream::Stream;
/// use perf_runtime::sync::mpsc;
/// use std::pin::Pin;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let (tx, rx) = mpsc::unbounded_channel();
/// tx.send('x').unwrap();
/// drop(tx);
/// let mut stream = UnboundedReceiverStream::from(rx);
/// let first = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await;
/// assert_eq!(first, Some('x'));
/// let end = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await;
/// assert_eq!(end, None);
/// # });
/// ```
///
/// [`mpsc::UnboundedReceiver`]: crate::sync::mpsc::UnboundedReceiver
#[derive(Debug)]
pub struct UnboundedReceiverStream<T> {
    inner: UnboundedReceiver<T>,
}

impl<T> UnboundedReceiverStream<T> {
    /// Wraps `recv`.
    pub fn new(recv: UnboundedReceiver<T>) -> UnboundedReceiverStream<T> {
        UnboundedReceiverStream { inner: recv }
    }

    /// The receiver back.
    pub fn into_inner(self) -> UnboundedReceiver<T> {
        self.inner
    }

    /// Closes the receiving half without dropping it (see
    /// [`ReceiverStream::close`]).
    pub fn close(&mut self) {
        self.inner.close();
    }
}

impl<T> Stream for UnboundedReceiverStream<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.inner.poll_recv(cx)
    }
}

impl<T> AsRef<UnboundedReceiver<T>> for UnboundedReceiverStream<T> {
    fn as_ref(&self) -> &UnboundedReceiver<T> {
        &self.inner
    }
}

impl<T> AsMut<UnboundedReceiver<T>> for UnboundedReceiverStream<T> {
    fn as_mut(&mut self) -> &mut UnboundedReceiver<T> {
        &mut self.inner
    }
}

impl<T> From<UnboundedReceiver<T>> for UnboundedReceiverStream<T> {
    fn from(recv: UnboundedReceiver<T>) -> UnboundedReceiverStream<T> {
        UnboundedReceiverStream::new(recv)
    }
}
