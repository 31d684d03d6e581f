//! The bounded channel's handles: `Sender`, `Receiver`, `Permit`,
//! `OwnedPermit`, `WeakSender`. Capacity is a [`BatchSemaphore`] of `buffer`
//! permits (FIFO among waiting senders); everything else is `chan.rs`.
//!
//! [`BatchSemaphore`]: crate::sync::batch_semaphore::BatchSemaphore

use super::chan::{self, BoundedSemaphore, Rx, Semaphore as _, Tx, WeakTx};
use super::error::{SendError, SendTimeoutError, TryRecvError, TrySendError};
use crate::sync::batch_semaphore::{self, BatchSemaphore, Closed, MAX_PERMITS};
use crate::sync::tracking::{Acquiring, Track, TrackedAcquire};
use crate::validation::{ChannelKind, Held};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::task::{Context, Poll};
use std::time::Duration;

/// Creates a bounded channel holding at most `buffer` messages, as
/// `tokio::sync::mpsc::channel`. Senders wait (in FIFO order) while it is
/// full.
///
/// # Panics
/// If `buffer` is 0 (a rendezvous channel is not supported; use a
/// `oneshot` or a buffer of 1) or more than `usize::MAX >> 3`.
///
/// ```
/// use perf_runtime::sync::mpsc;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = mpsc::channel(8);
/// perf_runtime::spawn(async move {
///     for i in 0..3 {
///         tx.send(i).await.unwrap();
///     }
/// });
/// let mut got = Vec::new();
/// while let Some(i) = rx.recv().await {
///     got.push(i);
/// }
/// assert_eq!(got, [0, 1, 2]);
/// # });
/// ```
#[track_caller]
pub fn channel<T>(buffer: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        buffer > 0,
        "mpsc::channel: `buffer` must be at least 1, was 0 (a bounded channel needs room for \
         one message; use `oneshot` for a hand-off)"
    );
    assert!(
        buffer <= MAX_PERMITS,
        "mpsc::channel: `buffer` may be at most usize::MAX >> 3, was {buffer}"
    );
    from_semaphore(
        BoundedSemaphore {
            sem: BatchSemaphore::new(buffer),
            bound: buffer,
            adaptive: None,
        },
        Some(buffer),
        buffer,
    )
}

/// A bounded channel over `semaphore` (fixed or adaptive), created at the
/// caller's site; `capacity` is what validation reports describe, `bound`
/// the capacity its metric starts at.
#[track_caller]
pub(crate) fn from_semaphore<T>(
    semaphore: BoundedSemaphore,
    capacity: Option<usize>,
    bound: usize,
) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = chan::channel(semaphore, ChannelKind::Mpsc, capacity);
    if capacity != Some(bound) {
        tx.set_gauge_bound(bound);
    }
    (Sender { chan: tx }, Receiver { chan: rx })
}

/// Sends to a bounded channel; cloneable. The channel closes for the
/// receiver when the last `Sender` drops.
pub struct Sender<T> {
    chan: Tx<T, BoundedSemaphore>,
}

/// Receives from a bounded channel.
pub struct Receiver<T> {
    chan: Rx<T, BoundedSemaphore>,
}

/// A sender that does not keep the channel open; [`upgrade`] it to send.
///
/// [`upgrade`]: WeakSender::upgrade
pub struct WeakSender<T> {
    chan: WeakTx<T, BoundedSemaphore>,
}

/// One reserved slot of capacity, from [`Sender::reserve`]. Sending through
/// it never waits and never fails; dropping it gives the slot back.
#[must_use = "the reserved capacity is released at once if the permit is not used"]
pub struct Permit<'a, T> {
    chan: &'a Tx<T, BoundedSemaphore>,
}

/// A reserved slot that owns its [`Sender`], from
/// [`Sender::reserve_owned`].
#[must_use = "the reserved capacity is released at once if the permit is not used"]
pub struct OwnedPermit<T> {
    chan: Option<Tx<T, BoundedSemaphore>>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting for capacity if the channel is full.
    ///
    /// # Errors
    /// [`SendError`] with the value if the receiver is gone.
    ///
    /// # Cancel safety
    /// Cancel-safe: if the future is dropped before it completes, the value
    /// was not sent (it is dropped with the future) and the sender's place in
    /// the capacity queue is given to the next one.
    #[track_caller]
    #[inline]
    pub fn send(&self, value: T) -> impl Future<Output = Result<(), SendError<T>>> + '_ {
        self.chan.used();
        Acquiring::new(self.acquire_slot(), move |res| match res {
            Ok(_) => {
                self.chan.send(value);
                Ok(())
            }
            Err(_) => Err(SendError(value)),
        })
    }

    /// A slot of capacity, as a future that reports a wait for it as a
    /// send wait at the caller's site.
    #[track_caller]
    #[inline]
    fn acquire_slot(&self) -> TrackedAcquire<'_> {
        self.check_pressure();
        TrackedAcquire::new(
            &self.chan.semaphore().sem,
            1,
            Track::Send(self.chan.meta()),
            Location::caller(),
        )
    }

    /// An adaptive channel reacts to a new memory pressure level before a
    /// claim (`adaptive.rs`); a fixed one pays one branch.
    #[inline]
    fn check_pressure(&self) {
        if let Some(a) = &self.chan.semaphore().adaptive {
            a.check_pressure(&self.chan.semaphore().sem, &|b| {
                self.chan.set_gauge_bound(b)
            });
        }
    }

    /// Sends `value` if there is capacity now.
    #[track_caller]
    #[inline]
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.used();
        self.check_pressure();
        match self.chan.semaphore().sem.try_acquire(1) {
            Ok(()) => {
                self.chan.send(value);
                Ok(())
            }
            Err(batch_semaphore::TryAcquireError::Closed) => Err(TrySendError::Closed(value)),
            Err(batch_semaphore::TryAcquireError::NoPermits) => Err(TrySendError::Full(value)),
        }
    }

    /// Sends `value`, waiting at most `timeout` for capacity.
    ///
    /// # Panics
    /// Outside a runtime with timers.
    #[track_caller]
    pub fn send_timeout(
        &self,
        value: T,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), SendTimeoutError<T>>> + '_ {
        self.chan.used();
        let reserve = self.acquire_slot();
        async move {
            match crate::time::timeout(timeout, reserve).await {
                Ok(Ok(_)) => {
                    self.chan.send(value);
                    Ok(())
                }
                Ok(Err(_)) => Err(SendTimeoutError::Closed(value)),
                Err(_) => Err(SendTimeoutError::Timeout(value)),
            }
        }
    }

    /// Sends from synchronous code, blocking the thread while the channel is
    /// full.
    ///
    /// # Panics
    /// Inside a runtime (a worker or `block_on`): call it from
    /// `spawn_blocking` or a plain thread.
    #[track_caller]
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        crate::sync::block_on("Sender::blocking_send", self.send(value))
    }

    /// Waits for one slot of capacity and reserves it.
    ///
    /// # Cancel safety
    /// Cancel-safe: a dropped `reserve` gives up its place in the queue and
    /// passes on a slot already assigned to it.
    #[track_caller]
    #[inline]
    pub fn reserve(&self) -> impl Future<Output = Result<Permit<'_, T>, SendError<()>>> + '_ {
        self.chan.used();
        Acquiring::new(self.acquire_slot(), move |res: Result<Held, Closed>| {
            res.map(|_| Permit { chan: &self.chan })
                .map_err(|_| SendError(()))
        })
    }

    /// As [`reserve`](Sender::reserve), but the permit owns the sender.
    ///
    /// # Cancel safety
    /// As `reserve`; the sender is dropped with the future.
    #[track_caller]
    pub fn reserve_owned(self) -> impl Future<Output = Result<OwnedPermit<T>, SendError<()>>> {
        self.chan.used();
        self.check_pressure();
        let site = Location::caller();
        async move {
            let track = Track::Send(self.chan.meta());
            match TrackedAcquire::new(&self.chan.semaphore().sem, 1, track, site).await {
                Ok(_) => Ok(OwnedPermit {
                    chan: Some(self.chan),
                }),
                Err(_) => Err(SendError(())),
            }
        }
    }

    /// Reserves a slot if one is free now.
    #[track_caller]
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        self.chan.used();
        self.check_pressure();
        match self.chan.semaphore().sem.try_acquire(1) {
            Ok(()) => Ok(Permit { chan: &self.chan }),
            Err(batch_semaphore::TryAcquireError::Closed) => Err(TrySendError::Closed(())),
            Err(batch_semaphore::TryAcquireError::NoPermits) => Err(TrySendError::Full(())),
        }
    }

    /// As [`try_reserve`](Sender::try_reserve), but the permit owns the
    /// sender, which is handed back on failure.
    #[track_caller]
    pub fn try_reserve_owned(self) -> Result<OwnedPermit<T>, TrySendError<Self>> {
        self.chan.used();
        self.check_pressure();
        match self.chan.semaphore().sem.try_acquire(1) {
            Ok(()) => Ok(OwnedPermit {
                chan: Some(self.chan),
            }),
            Err(batch_semaphore::TryAcquireError::Closed) => Err(TrySendError::Closed(self)),
            Err(batch_semaphore::TryAcquireError::NoPermits) => Err(TrySendError::Full(self)),
        }
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
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        self.chan.same_channel(&other.chan)
    }

    /// Free capacity now.
    pub fn capacity(&self) -> usize {
        self.chan.semaphore().sem.available_permits()
    }

    /// The `buffer` the channel was created with; for an
    /// [`adaptive`](fn@super::adaptive) channel, the bound in force now.
    pub fn max_capacity(&self) -> usize {
        self.chan.semaphore().bound()
    }

    /// A [`WeakSender`] for this channel.
    pub fn downgrade(&self) -> WeakSender<T> {
        WeakSender {
            chan: self.chan.downgrade(),
        }
    }

    /// How many `Sender`s are alive.
    pub fn strong_count(&self) -> usize {
        self.chan.strong_count()
    }

    /// How many `WeakSender`s are alive.
    pub fn weak_count(&self) -> usize {
        self.chan.weak_count()
    }
}

/// Test hooks of the adaptive channel (`adaptive/tests.rs`).
#[cfg(test)]
impl<T> Sender<T> {
    fn sizer(&self) -> &super::adaptive::Sizer {
        let s = self.chan.semaphore();
        s.adaptive.as_deref().expect("not an adaptive channel")
    }

    /// Moves the bound to `bound` now, as the policy would.
    pub(crate) fn force_bound(&self, bound: usize) {
        self.sizer()
            .force_bound(&self.chan.semaphore().sem, bound, &|b| {
                self.chan.set_gauge_bound(b)
            });
    }

    /// Asserts the sizing invariants at rest with `held` claims taken.
    pub(crate) fn assert_at_rest(&self, held: usize) {
        self.sizer()
            .assert_at_rest(&self.chan.semaphore().sem, held);
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").field("chan", &self.chan).finish()
    }
}

impl<T> WeakSender<T> {
    /// A `Sender`, if any is still alive (the channel is not closed by the
    /// senders' side).
    pub fn upgrade(&self) -> Option<Sender<T>> {
        self.chan.upgrade().map(|chan| Sender { chan })
    }

    /// How many `Sender`s are alive.
    pub fn strong_count(&self) -> usize {
        self.chan.strong_count()
    }

    /// How many `WeakSender`s are alive.
    pub fn weak_count(&self) -> usize {
        self.chan.weak_count()
    }
}

impl<T> Clone for WeakSender<T> {
    fn clone(&self) -> WeakSender<T> {
        WeakSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> fmt::Debug for WeakSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakSender").finish_non_exhaustive()
    }
}

impl<T> Permit<'_, T> {
    /// Sends `value` into the reserved slot.
    pub fn send(self, value: T) {
        // The slot's permit travels with the message (chan.rs).
        self.chan.send(value);
        std::mem::forget(self);
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        self.chan.release_unsent();
    }
}

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

impl<T> OwnedPermit<T> {
    /// Sends `value` into the reserved slot, handing back the sender.
    pub fn send(mut self, value: T) -> Sender<T> {
        let chan = self.chan.take().expect("OwnedPermit used after send");
        chan.send(value);
        Sender { chan }
    }

    /// Gives the slot back without sending, handing back the sender.
    pub fn release(mut self) -> Sender<T> {
        let chan = self.chan.take().expect("OwnedPermit used after send");
        chan.release_unsent();
        Sender { chan }
    }
}

impl<T> Drop for OwnedPermit<T> {
    fn drop(&mut self) {
        if let Some(chan) = self.chan.take() {
            chan.release_unsent();
        }
    }
}

impl<T> fmt::Debug for OwnedPermit<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit").finish_non_exhaustive()
    }
}

impl<T> Receiver<T> {
    /// The next message, waiting for one; `None` once every sender is gone
    /// (or the channel was closed) and all messages were received.
    ///
    /// # Cancel safety
    /// Cancel-safe: a dropped `recv` future received nothing, so no message
    /// is lost.
    #[track_caller]
    pub fn recv(&mut self) -> impl Future<Output = Option<T>> + '_ {
        self.chan.polled();
        chan::Recv::new(&mut self.chan, Location::caller())
    }

    /// Receives up to `limit` messages into `buffer`, waiting only for the
    /// first; returns how many. 0 means `limit` was 0 or the channel is
    /// closed and drained.
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
        crate::sync::block_on("Receiver::blocking_recv", self.recv())
    }

    /// Polls for the next message (for hand-written futures and streams).
    #[track_caller]
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.chan.polled();
        self.chan.recv(cx, Location::caller())
    }

    /// Closes the channel to senders: waiting and later sends fail, while
    /// messages already sent (or being sent through a reserved permit) can
    /// still be received.
    pub fn close(&mut self) {
        self.chan.close();
    }

    /// True once closed by [`close`](Receiver::close) or by every sender
    /// dropping.
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

    /// Free capacity now.
    pub fn capacity(&self) -> usize {
        self.chan.semaphore().sem.available_permits()
    }

    /// The `buffer` the channel was created with; for an
    /// [`adaptive`](fn@super::adaptive) channel, the bound in force now.
    pub fn max_capacity(&self) -> usize {
        self.chan.semaphore().bound()
    }

    /// How many `Sender`s are alive.
    pub fn sender_strong_count(&self) -> usize {
        self.chan.sender_strong_count()
    }

    /// How many `WeakSender`s are alive.
    pub fn sender_weak_count(&self) -> usize {
        self.chan.sender_weak_count()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("chan", &self.chan)
            .field("closed", &self.chan.semaphore().is_closed())
            .finish()
    }
}

impl<T> futures_core::Stream for Receiver<T> {
    type Item = T;
    #[track_caller]
    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}
