//! The unbounded channel's handles. Sending never waits; the claim counter
//! (`chan::UnboundedSemaphore`) only tracks messages in flight so a closed
//! receiver knows when it has drained everything.

use super::chan::{self, Rx, Tx, UnboundedSemaphore, WeakTx};
use super::error::{SendError, TryRecvError};
use crate::validation::ChannelKind;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::task::{Context, Poll};

/// Creates an unbounded channel, as `tokio::sync::mpsc::unbounded_channel`.
/// Sends never wait: memory is the only limit, so prefer
/// [`channel`](super::channel) when a slow receiver is possible.
///
/// ```
/// use perf_runtime::sync::mpsc;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = mpsc::unbounded_channel();
/// tx.send("a").unwrap();
/// tx.send("b").unwrap();
/// drop(tx);
/// assert_eq!(rx.recv().await, Some("a"));
/// assert_eq!(rx.recv().await, Some("b"));
/// assert_eq!(rx.recv().await, None);
/// # });
/// ```
#[track_caller]
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let (tx, rx) = chan::channel(UnboundedSemaphore::new(), ChannelKind::UnboundedMpsc, None);
    (UnboundedSender { chan: tx }, UnboundedReceiver { chan: rx })
}

/// Sends to an unbounded channel; cloneable.
pub struct UnboundedSender<T> {
    chan: Tx<T, UnboundedSemaphore>,
}

/// Receives from an unbounded channel.
pub struct UnboundedReceiver<T> {
    chan: Rx<T, UnboundedSemaphore>,
}

/// An unbounded sender that does not keep the channel open.
pub struct WeakUnboundedSender<T> {
    chan: WeakTx<T, UnboundedSemaphore>,
}

impl<T> UnboundedSender<T> {
    /// Sends `value` without waiting.
    ///
    /// # Errors
    /// [`SendError`] with the value if the receiver is gone.
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan.used();
        if self.chan.semaphore().try_claim().is_err() {
            return Err(SendError(value));
        }
        self.chan.send(value);
        Ok(())
    }

    /// As `send`, running `between` once the message's queue slot is
    /// claimed and before the message is written: the loom models' sender
    /// preempted there.
    #[cfg(perf_runtime_loom)]
    pub(crate) fn send_preempted(
        &self,
        value: T,
        between: impl FnOnce(),
    ) -> Result<(), SendError<T>> {
        if self.chan.semaphore().try_claim().is_err() {
            return Err(SendError(value));
        }
        self.chan.send_preempted(value, between);
        Ok(())
    }

    /// Completes once the receiver is dropped or closed.
    pub async fn closed(&self) {
        self.chan.closed().await;
    }

    /// True once the receiver is dropped or closed.
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// True if both senders feed the same channel.
    pub fn same_channel(&self, other: &UnboundedSender<T>) -> bool {
        self.chan.same_channel(&other.chan)
    }

    /// A [`WeakUnboundedSender`] for this channel.
    pub fn downgrade(&self) -> WeakUnboundedSender<T> {
        WeakUnboundedSender {
            chan: self.chan.downgrade(),
        }
    }

    /// How many `UnboundedSender`s are alive.
    pub fn strong_count(&self) -> usize {
        self.chan.strong_count()
    }

    /// How many `WeakUnboundedSender`s are alive.
    pub fn weak_count(&self) -> usize {
        self.chan.weak_count()
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> UnboundedSender<T> {
        UnboundedSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedSender")
            .field("chan", &self.chan)
            .finish()
    }
}

impl<T> WeakUnboundedSender<T> {
    /// An `UnboundedSender`, if any is still alive.
    pub fn upgrade(&self) -> Option<UnboundedSender<T>> {
        self.chan.upgrade().map(|chan| UnboundedSender { chan })
    }

    /// How many `UnboundedSender`s are alive.
    pub fn strong_count(&self) -> usize {
        self.chan.strong_count()
    }

    /// How many `WeakUnboundedSender`s are alive.
    pub fn weak_count(&self) -> usize {
        self.chan.weak_count()
    }
}

impl<T> Clone for WeakUnboundedSender<T> {
    fn clone(&self) -> WeakUnboundedSender<T> {
        WeakUnboundedSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> fmt::Debug for WeakUnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakUnboundedSender")
            .finish_non_exhaustive()
    }
}

impl<T> UnboundedReceiver<T> {
    /// The next message, waiting for one; `None` once every sender is gone
    /// (or the channel was closed) and all messages were received.
    ///
    /// # Cancel safety
    /// Cancel-safe: a dropped `recv` future received nothing.
    #[track_caller]
    pub fn recv(&mut self) -> impl Future<Output = Option<T>> + '_ {
        self.chan.polled();
        chan::Recv::new(&mut self.chan, Location::caller())
    }

    /// Receives up to `limit` messages into `buffer`, waiting only for the
    /// first; returns how many (0: `limit` was 0, or closed and drained).
    ///
    /// # Cancel safety
    /// Cancel-safe, as `recv`.
    #[track_caller]
    pub fn recv_many<'a>(
        &'a mut self,
        buffer: &'a mut Vec<T>,
        limit: usize,
    ) -> impl Future<Output = usize> + 'a {
        self.chan.polled();
        chan::RecvMany::new(&mut self.chan, buffer, limit, Location::caller())
    }

    /// A message if one is queued now.
    #[track_caller]
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.chan.polled();
        self.chan.try_recv()
    }

    /// Receives from synchronous code, blocking the thread.
    ///
    /// # Panics
    /// Inside a runtime (a worker or `block_on`).
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Option<T> {
        crate::sync::block_on("UnboundedReceiver::blocking_recv", self.recv())
    }

    /// Polls for the next message.
    #[track_caller]
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.chan.polled();
        self.chan.recv(cx, Location::caller())
    }

    /// Closes the channel to senders; queued messages can still be received.
    pub fn close(&mut self) {
        self.chan.close();
    }

    /// True once closed by [`close`](UnboundedReceiver::close) or by every
    /// sender dropping.
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// True if no message is queued.
    pub fn is_empty(&self) -> bool {
        self.chan.is_empty()
    }

    /// How many messages are queued.
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// How many `UnboundedSender`s are alive.
    pub fn sender_strong_count(&self) -> usize {
        self.chan.sender_strong_count()
    }

    /// How many `WeakUnboundedSender`s are alive.
    pub fn sender_weak_count(&self) -> usize {
        self.chan.sender_weak_count()
    }
}

impl<T> fmt::Debug for UnboundedReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedReceiver")
            .field("chan", &self.chan)
            .finish()
    }
}

impl<T> futures_core::Stream for UnboundedReceiver<T> {
    type Item = T;
    #[track_caller]
    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}
