//! The channel core shared by the bounded and unbounded flavours: every
//! send, receive, close and wait of an mpsc channel passes through `Tx` and
//! `Rx` here.
//!
//! # Capacity accounting
//!
//! A flavour's [`Semaphore`] counts claims on the channel: a sender takes one
//! before it pushes (the bounded flavour waits for it; the unbounded one
//! only counts), the claim travels with the message, and the receiver gives
//! it back when it pops the message. A claim given up without sending (a
//! dropped `Permit`) is given back at once. The semaphore also carries the
//! channel's "receiver closed" bit, in the same atomic word as the count.
//! An adaptive bounded channel (`adaptive.rs`) may absorb a claim given
//! back instead of releasing it, while a shrink below the occupancy is
//! being paid off; a claim is still never lost or counted twice.
//!
//! # Invariants
//!
//! 1. A message is in the queue only while its claim is taken, so "the
//!    semaphore is idle" (no claim taken) means: queue empty and no sender
//!    between claiming and pushing.
//! 2. Once the receiver closes, no new claim succeeds (the closed bit and the
//!    count change in one CAS), so after close the receiver drains what is
//!    queued, waits for senders that claimed before the close, and returns
//!    `None` once idle. Nothing sent successfully is lost.
//! 3. `tx_count` counts live senders. The one that drops it to 0 (`AcqRel`)
//!    has seen every other sender's pushes; it then sets `tx_closed`
//!    (`Release`) and wakes the receiver. A receiver that reads `tx_closed`
//!    (`Acquire`) and then finds the queue empty has seen every message.
//! 4. The receiver registers its waker, raises `RxWake::parked`, issues a
//!    `SeqCst` fence, then re-checks the queue and both close conditions. A
//!    sender pushes, issues a `SeqCst` fence, then loads `parked` and wakes
//!    only if it is up (the queue's `pop` finds nothing while the next slot
//!    is claimed but not written, so a receiver behind a preempted sender
//!    parks like one facing an empty queue, and that sender's push, which
//!    ends with the write, is the one its fence orders); a sender that closes (the last one leaving, or a
//!    claim given back after close) wakes unconditionally. The two fences
//!    order the flag against the push: either the re-check sees the push or
//!    the sender sees the flag, and then its wake sees the waker
//!    (`util::atomic_waker`'s contract), so no wake-up is lost. Only the
//!    receiver writes `parked`: it lowers it when a receive completes, so
//!    while the receiver keeps up, a send costs a fence and a load of a
//!    line nobody writes, not the two read-modify-writes of a wake on a
//!    line every sender writes.
//! 5. `Sender::closed` waiters are woken by `notify_waiters` after the closed
//!    bit is set; a waiter checks the bit after creating its `Notified`
//!    (`notify.rs` invariant 3), so it cannot miss the close.
//!
//! # Validation
//!
//! The channel embeds a [`ChannelMeta`] (created at the user's
//! `channel()` call) and every strong sender a [`SenderClaim`] (made at
//! creation, clone and upgrade). The handles report: a send, `try_send` or
//! `reserve` marks its sender used by the calling context; every receive
//! marks the receiver polled; each message popped counts as delivered; a
//! receive that must wait registers a receive wait (`recv_wait_at`), a send
//! waiting for capacity a send wait (through `tracking::Track::Send`); and
//! a receiver dropped with messages still queued reports them lost.
//!
//! The receive wait lives in the channel (`rx_wait`), not in the receiving
//! future: a sender that pushes a message (or the last one leaving) ends
//! it there and then, since the wait is over once a message is available,
//! whenever the receiver next runs. The future that registered it ends it
//! too when it completes or is dropped. The receiver raises `rx_wait_set`,
//! looks at the queue once more and registers the wait, all under the
//! `rx_wait` lock; a sender pushes, then looks at the flag and, if it is up,
//! takes the lock (waiting out a registration in progress) and ends the
//! wait. (Reports the registration raises are submitted after the lock is
//! released.) This bookkeeping uses `std` primitives on purpose: it is not
//! part of the protocol the loom models check, and is never touched while
//! validation is off.

use super::error::TryRecvError;
use super::queue::Queue;
use crate::loom::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering::*};
use crate::loom::sync::Arc;
use crate::sync::batch_semaphore::BatchSemaphore;
use crate::sync::notify::Notify;
use crate::task::coop;
use crate::util::atomic_waker::AtomicWaker;
use crate::validation::{with_reports_deferred, ChannelKind, ChannelMeta, SenderClaim, Waiting};
use crossbeam_utils::CachePadded;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::AtomicBool as StdAtomicBool;
use std::task::{ready, Context, Poll};

/// A flavour's claim counter (see the module docs).
pub(crate) trait Semaphore {
    /// What the receiver keeps for the counter between receives (the
    /// adaptive channel's sizing statistics); only the receiver touches it.
    type RxState: Default + Send + Sync;
    /// No claim is taken: nothing queued, nobody mid-send.
    fn is_idle(&self) -> bool;
    /// Gives back one claim (a message was popped, or a reservation dropped).
    fn add_permit(&self);
    /// Gives back the claim of a message the receiver just popped; a
    /// flavour that resizes calls `resized` with the new bound (under its
    /// sizing lock, so the metric follows resizes in order).
    #[inline]
    fn popped(&self, _rx: &mut Self::RxState, _resized: &dyn Fn(usize)) {
        self.add_permit();
    }
    /// The receiver found the queue empty.
    #[inline]
    fn found_empty(_rx: &mut Self::RxState) {}
    /// Refuses every later claim.
    fn close(&self);
    fn is_closed(&self) -> bool;
}

/// The bounded flavour's counter: `bound` permits, waited for in FIFO order.
/// An adaptive channel (`adaptive.rs`) moves its bound between a minimum
/// and a maximum; a fixed one has `adaptive: None` and costs one
/// predictable branch per receive for it.
pub(crate) struct BoundedSemaphore {
    pub(crate) sem: BatchSemaphore,
    /// The fixed bound (for an adaptive channel: its maximum).
    pub(crate) bound: usize,
    pub(crate) adaptive: Option<Box<super::adaptive::Sizer>>,
}

impl BoundedSemaphore {
    /// The bound in force now.
    pub(crate) fn bound(&self) -> usize {
        match &self.adaptive {
            None => self.bound,
            Some(a) => a.bound(),
        }
    }
}

impl Semaphore for BoundedSemaphore {
    type RxState = super::adaptive::RxStats;

    fn is_idle(&self) -> bool {
        match &self.adaptive {
            None => self.sem.available_permits() == self.bound,
            Some(a) => a.is_idle(&self.sem),
        }
    }
    #[inline]
    fn add_permit(&self) {
        match &self.adaptive {
            None => self.sem.release(1),
            Some(a) => a.give_back(&self.sem),
        }
    }
    #[inline]
    fn popped(&self, rx: &mut Self::RxState, resized: &dyn Fn(usize)) {
        match &self.adaptive {
            None => self.sem.release(1),
            Some(a) => a.popped(&self.sem, rx, resized),
        }
    }
    #[inline]
    fn found_empty(rx: &mut Self::RxState) {
        rx.found_empty();
    }
    fn close(&self) {
        self.sem.close();
    }
    fn is_closed(&self) -> bool {
        self.sem.is_closed()
    }
}

/// The unbounded flavour's counter: `messages << 1 | closed`.
pub(crate) struct UnboundedSemaphore(AtomicUsize);

impl UnboundedSemaphore {
    pub(crate) fn new() -> UnboundedSemaphore {
        UnboundedSemaphore(AtomicUsize::new(0))
    }

    /// Claims a slot for one message; fails once closed.
    pub(crate) fn try_claim(&self) -> Result<(), ()> {
        let mut cur = self.0.load(Acquire);
        loop {
            if cur & 1 == 1 {
                return Err(());
            }
            let next = cur.checked_add(2).unwrap_or_else(|| {
                panic!("an unbounded channel holds more than usize::MAX / 2 messages")
            });
            match self.0.compare_exchange_weak(cur, next, AcqRel, Acquire) {
                Ok(_) => return Ok(()),
                Err(actual) => cur = actual,
            }
        }
    }
}

impl Semaphore for UnboundedSemaphore {
    type RxState = ();

    fn is_idle(&self) -> bool {
        self.0.load(Acquire) >> 1 == 0
    }
    fn add_permit(&self) {
        self.0.fetch_sub(2, AcqRel);
    }
    fn close(&self) {
        self.0.fetch_or(1, AcqRel);
    }
    fn is_closed(&self) -> bool {
        self.0.load(Acquire) & 1 == 1
    }
}

/// The receiver's waker, and whether the receiver may be waiting on it
/// (invariant 4).
struct RxWake {
    /// Raised by the receiver after it registers `waker` for an empty
    /// queue; lowered by the receiver when a receive completes. Written by
    /// the receiver only.
    parked: AtomicBool,
    waker: AtomicWaker,
}

pub(crate) struct Chan<T, S> {
    /// The metrics registration; first, so it is dropped (unregistered)
    /// before the queue it reads.
    gauge: std::sync::OnceLock<crate::sync::class_stats::ChannelGauge>,
    queue: Queue<T>,
    meta: ChannelMeta,
    /// The receiver's registered wait, if any (module docs).
    rx_wait: std::sync::Mutex<Option<Waiting>>,
    /// `rx_wait` is `Some`: lets a send skip the lock.
    rx_wait_set: StdAtomicBool,
    /// Written by every send (acquire) and every receive (release); on its
    /// own cache line, as is `rx_waker` (registered by the receiver, woken by
    /// senders): sharing a line with each other or with the read-mostly
    /// fields made the line ping-pong between producer and consumer cores
    /// (a 4-producer channel measured 65 vs 85 ns per message depending only
    /// on where the compiler happened to place the fields).
    semaphore: CachePadded<S>,
    rx_waker: CachePadded<RxWake>,
    notify_rx_closed: Notify,
    tx_count: AtomicUsize,
    tx_weak_count: AtomicUsize,
    tx_closed: AtomicBool,
}

/// Creates a channel's two core handles; the caller's site is the
/// channel's creation site.
#[track_caller]
pub(crate) fn channel<T, S: Semaphore>(
    semaphore: S,
    kind: ChannelKind,
    capacity: Option<usize>,
) -> (Tx<T, S>, Rx<T, S>) {
    let meta = ChannelMeta::new(kind, capacity);
    let claim = meta.new_sender();
    let chan = Arc::new(Chan {
        gauge: std::sync::OnceLock::new(),
        queue: Queue::new(),
        meta,
        rx_wait: std::sync::Mutex::new(None),
        rx_wait_set: StdAtomicBool::new(false),
        semaphore: CachePadded::new(semaphore),
        rx_waker: CachePadded::new(RxWake {
            parked: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        }),
        notify_rx_closed: Notify::new_internal(),
        tx_count: AtomicUsize::new(1),
        tx_weak_count: AtomicUsize::new(0),
        tx_closed: AtomicBool::new(false),
    });
    // `chan_len::<T, S>` reads the queue indices of the `Chan<T, S>` the
    // pointer is to (atomics: any thread may read them); the `Chan` stays at
    // that address inside its `Arc` and owns the gauge, which unregisters
    // when the `Chan` is dropped, before its queue.
    if crate::metrics::GATHER {
        // SAFETY: so `len` is sound on `ptr` for as long as the gauge is registered.
        let gauge = unsafe {
            crate::sync::class_stats::ChannelGauge::register(
                Arc::as_ptr(&chan).cast(),
                chan_len::<T, S>,
                capacity,
                crate::validation::Site::from_location(std::panic::Location::caller()),
                kind.as_str(),
            )
        };
        let _ = chan.gauge.set(gauge);
    }
    (
        Tx {
            claim,
            inner: chan.clone(),
        },
        Rx {
            inner: chan,
            closed: false,
            state: S::RxState::default(),
        },
    )
}

/// Messages queued in the `Chan<T, S>` at `p`, for metrics.
///
/// # Safety
/// `p` points to a live `Chan<T, S>`.
unsafe fn chan_len<T, S>(p: *const ()) -> usize {
    // SAFETY: the caller's contract; only the queue's atomic indices are read.
    unsafe { (*p.cast::<Chan<T, S>>()).queue.len() }
}

/// A strong sender: keeps the channel open.
pub(crate) struct Tx<T, S> {
    /// Dropped before `inner` (declaration order): the claim belongs to a
    /// live sender.
    claim: SenderClaim,
    inner: Arc<Chan<T, S>>,
}

impl<T, S> Chan<T, S> {
    /// The channel's capacity changed (an adaptive channel resized): the
    /// metric reports the new one.
    pub(crate) fn set_gauge_bound(&self, bound: usize) {
        if let Some(g) = self.gauge.get() {
            g.set_bound(bound);
        }
    }

    /// Ends the receiver's wait: a message arrived, the senders are gone,
    /// or the receive completed or was dropped.
    #[inline]
    fn end_rx_wait(&self) {
        if self.rx_wait_set.load(std::sync::atomic::Ordering::Acquire) {
            self.end_rx_wait_slow();
        }
    }

    /// As `end_rx_wait`, after a send: ends the wait only while a message
    /// is still queued. If the receiver already took it (it ran between the
    /// push and this call), the wait registered now is its next one.
    #[inline]
    fn end_rx_wait_for_message(&self) {
        if self.rx_wait_set.load(std::sync::atomic::Ordering::Acquire) {
            let wait = {
                let mut slot = self.rx_wait.lock().unwrap_or_else(|e| e.into_inner());
                if self.queue.is_empty() {
                    return;
                }
                self.rx_wait_set
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                slot.take()
            };
            drop(wait);
        }
    }

    #[cold]
    #[inline(never)]
    fn end_rx_wait_slow(&self) {
        let wait = {
            let mut slot = self.rx_wait.lock().unwrap_or_else(|e| e.into_inner());
            self.rx_wait_set
                .store(false, std::sync::atomic::Ordering::Relaxed);
            slot.take()
        };
        // Ended outside the lock.
        drop(wait);
    }
}

impl<T, S: Semaphore> Tx<T, S> {
    pub(crate) fn semaphore(&self) -> &S {
        &self.inner.semaphore
    }

    /// As [`Chan::set_gauge_bound`].
    pub(crate) fn set_gauge_bound(&self, bound: usize) {
        self.inner.set_gauge_bound(bound);
    }

    /// The sender is being used by the calling context (for the engine's
    /// wait-for graph: a receiver waits for the holders of its senders).
    #[track_caller]
    #[inline]
    pub(crate) fn used(&self) {
        self.claim.used();
    }

    pub(crate) fn meta(&self) -> &ChannelMeta {
        &self.inner.meta
    }

    /// Pushes a message whose claim the caller took, and wakes the receiver.
    #[inline]
    pub(crate) fn send(&self, value: T) {
        self.inner.queue.push(value);
        self.pushed();
    }

    /// As `send`, running `between` once the queue slot is claimed and
    /// before the message is written: a sender preempted there (the loom
    /// models).
    #[cfg(perf_runtime_loom)]
    pub(crate) fn send_preempted(&self, value: T, between: impl FnOnce()) {
        self.inner.queue.push_preempted(value, between);
        self.pushed();
    }

    /// After a push: ends the receive wait and wakes a parked receiver.
    #[inline]
    fn pushed(&self) {
        // End the wait before waking: once woken, the receiver may take the
        // message and register its next wait, which must stay.
        self.inner.end_rx_wait_for_message();
        // Invariant 4: the push, the fence, then the flag.
        fence(SeqCst);
        if self.inner.rx_waker.parked.load(Relaxed) {
            self.inner.rx_waker.waker.wake();
        }
    }

    /// Gives back a claim that carried no message (a dropped reservation).
    pub(crate) fn release_unsent(&self) {
        self.inner.semaphore.add_permit();
        if self.inner.semaphore.is_closed() {
            // A closed receiver waits for the channel to go idle.
            self.inner.rx_waker.waker.wake();
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.inner.semaphore.is_closed()
    }

    /// Completes once the receiver is closed or dropped.
    pub(crate) async fn closed(&self) {
        loop {
            let notified = self.inner.notify_rx_closed.notified();
            if self.inner.semaphore.is_closed() {
                return;
            }
            notified.await;
        }
    }

    pub(crate) fn same_channel(&self, other: &Tx<T, S>) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub(crate) fn downgrade(&self) -> WeakTx<T, S> {
        self.inner.tx_weak_count.fetch_add(1, Relaxed);
        WeakTx {
            inner: self.inner.clone(),
        }
    }

    pub(crate) fn strong_count(&self) -> usize {
        self.inner.tx_count.load(Acquire)
    }

    pub(crate) fn weak_count(&self) -> usize {
        self.inner.tx_weak_count.load(Relaxed)
    }
}

impl<T, S> Clone for Tx<T, S> {
    fn clone(&self) -> Tx<T, S> {
        // A new sender is made from a live one, so the count is not 0.
        self.inner.tx_count.fetch_add(1, Relaxed);
        Tx {
            claim: self.claim.clone(),
            inner: self.inner.clone(),
        }
    }
}

impl<T, S> Drop for Tx<T, S> {
    fn drop(&mut self) {
        if self.inner.tx_count.fetch_sub(1, AcqRel) != 1 {
            return;
        }
        // Invariant 3.
        self.inner.tx_closed.store(true, Release);
        self.inner.rx_waker.waker.wake();
        self.inner.end_rx_wait();
    }
}

/// A weak sender: does not keep the channel open.
pub(crate) struct WeakTx<T, S> {
    inner: Arc<Chan<T, S>>,
}

impl<T, S> WeakTx<T, S> {
    /// A strong sender, if any strong sender is still alive.
    pub(crate) fn upgrade(&self) -> Option<Tx<T, S>> {
        let mut n = self.inner.tx_count.load(Relaxed);
        loop {
            if n == 0 {
                return None;
            }
            match self
                .inner
                .tx_count
                .compare_exchange_weak(n, n + 1, AcqRel, Relaxed)
            {
                Ok(_) => {
                    return Some(Tx {
                        claim: self.inner.meta.new_sender(),
                        inner: self.inner.clone(),
                    })
                }
                Err(actual) => n = actual,
            }
        }
    }

    pub(crate) fn strong_count(&self) -> usize {
        self.inner.tx_count.load(Acquire)
    }

    pub(crate) fn weak_count(&self) -> usize {
        self.inner.tx_weak_count.load(Relaxed)
    }
}

impl<T, S> Clone for WeakTx<T, S> {
    fn clone(&self) -> WeakTx<T, S> {
        self.inner.tx_weak_count.fetch_add(1, Relaxed);
        WeakTx {
            inner: self.inner.clone(),
        }
    }
}

impl<T, S> Drop for WeakTx<T, S> {
    fn drop(&mut self) {
        self.inner.tx_weak_count.fetch_sub(1, Relaxed);
    }
}

/// The receiving side.
pub(crate) struct Rx<T, S: Semaphore> {
    inner: Arc<Chan<T, S>>,
    /// `close` was called (only the receiver reads or writes this).
    closed: bool,
    /// The flavour's receiver-side state (`Semaphore::RxState`).
    state: S::RxState,
}

impl<T, S: Semaphore> Rx<T, S> {
    /// Closes the channel for senders; queued messages can still be received.
    pub(crate) fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            self.inner.semaphore.close();
            // Invariant 5.
            self.inner.notify_rx_closed.notify_waiters();
        }
    }

    fn pop(&mut self) -> Option<T> {
        // SAFETY: `&mut self`: we are the one receiver, and `Rx` is not
        // `Clone`.
        let v = unsafe { self.inner.queue.pop() }?;
        let chan = &*self.inner;
        chan.semaphore
            .popped(&mut self.state, &|bound| chan.set_gauge_bound(bound));
        chan.meta.delivered(1);
        Some(v)
    }

    /// The receiver is being used by the calling context (it owns it, for
    /// the engine: a full channel's senders wait for it).
    #[track_caller]
    #[inline]
    pub(crate) fn polled(&self) {
        self.inner.meta.receiver_polled();
    }

    /// A message, or why there is none.
    pub(crate) fn try_recv(&mut self) -> Result<T, TryRecvError> {
        if let Some(v) = self.pop() {
            return Ok(v);
        }
        // Invariant 2: closed by the receiver and idle: nothing more comes.
        if self.closed && self.inner.semaphore.is_idle() {
            return Err(TryRecvError::Disconnected);
        }
        // Invariant 3: every sender is gone; what they pushed is visible.
        if self.inner.tx_closed.load(Acquire) {
            return self.pop().ok_or(TryRecvError::Disconnected);
        }
        S::found_empty(&mut self.state);
        Err(TryRecvError::Empty)
    }

    /// The next message; `None` once the channel is closed and drained.
    /// Registers the receive wait when it returns `Pending` for want of a
    /// message (not of budget), and ends it when it returns `Ready`.
    pub(crate) fn recv(
        &mut self,
        cx: &mut Context<'_>,
        site: &'static Location<'static>,
    ) -> Poll<Option<T>> {
        let coop = ready!(coop::poll_proceed(cx));
        match self.recv_inner(cx) {
            Poll::Ready(v) => {
                self.inner.end_rx_wait();
                // Checked first, so a receiver that keeps up never writes
                // the line the senders read.
                let parked = &self.inner.rx_waker.parked;
                if parked.load(Relaxed) {
                    parked.store(false, Relaxed);
                }
                coop.made_progress();
                Poll::Ready(v)
            }
            Poll::Pending => {
                self.start_rx_wait(site);
                Poll::Pending
            }
        }
    }

    fn recv_inner(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let ready = match self.try_recv() {
            Ok(v) => Some(v),
            Err(TryRecvError::Disconnected) => None,
            Err(TryRecvError::Empty) => {
                // Invariant 4: register, raise the flag, fence, then look
                // again.
                let rx = &self.inner.rx_waker;
                rx.waker.register(cx.waker());
                rx.parked.store(true, Relaxed);
                fence(SeqCst);
                match self.try_recv() {
                    Ok(v) => Some(v),
                    Err(TryRecvError::Disconnected) => None,
                    Err(TryRecvError::Empty) => return Poll::Pending,
                }
            }
        };
        Poll::Ready(ready)
    }

    /// Registers the receive wait unless one is registered.
    #[inline]
    fn start_rx_wait(&self, site: &'static Location<'static>) {
        if !self.inner.meta.is_tracked()
            || self
                .inner
                .rx_wait_set
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        self.start_rx_wait_slow(site);
    }

    #[cold]
    #[inline(never)]
    fn start_rx_wait_slow(&self, site: &'static Location<'static>) {
        let chan = &*self.inner;
        let mut slot = chan.rx_wait.lock().unwrap_or_else(|e| e.into_inner());
        chan.rx_wait_set
            .store(true, std::sync::atomic::Ordering::SeqCst);
        // A message pushed (or the last sender gone) before the flag was up
        // would not end the wait: then there is nothing to wait for.
        if !chan.queue.is_empty() || chan.tx_closed.load(SeqCst) {
            chan.rx_wait_set
                .store(false, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        let (wait, reports) = with_reports_deferred(|| chan.meta.recv_wait_at(site));
        if wait.is_tracked() {
            *slot = Some(wait);
        } else {
            chan.rx_wait_set
                .store(false, std::sync::atomic::Ordering::Relaxed);
        }
        drop(slot);
        reports.submit();
    }

    /// Ends the receive wait (the receive that registered it was dropped).
    #[inline]
    pub(crate) fn end_wait(&self) {
        self.inner.end_rx_wait();
    }

    /// Receives at least one message (waiting for it) and then up to
    /// `limit` in total without waiting. 0 only if `limit` is 0 or the
    /// channel is closed and drained.
    pub(crate) fn recv_many(
        &mut self,
        cx: &mut Context<'_>,
        buffer: &mut Vec<T>,
        limit: usize,
        site: &'static Location<'static>,
    ) -> Poll<usize> {
        if limit == 0 {
            return Poll::Ready(0);
        }
        let Some(first) = ready!(self.recv(cx, site)) else {
            return Poll::Ready(0);
        };
        buffer.reserve(limit.min(self.inner.queue.len() + 1));
        buffer.push(first);
        let mut n = 1;
        while n < limit {
            match self.pop() {
                Some(v) => {
                    buffer.push(v);
                    n += 1;
                }
                None => break,
            }
        }
        Poll::Ready(n)
    }

    pub(crate) fn len(&self) -> usize {
        self.inner.queue.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.inner.queue.is_empty()
    }

    /// Closed by the receiver, or every sender is gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed || self.inner.tx_closed.load(Acquire)
    }

    pub(crate) fn semaphore(&self) -> &S {
        &self.inner.semaphore
    }

    pub(crate) fn sender_strong_count(&self) -> usize {
        self.inner.tx_count.load(Acquire)
    }

    pub(crate) fn sender_weak_count(&self) -> usize {
        self.inner.tx_weak_count.load(Relaxed)
    }
}

impl<T, S: Semaphore> Drop for Rx<T, S> {
    fn drop(&mut self) {
        self.inner.end_rx_wait();
        self.close();
        // Drop what is queued now (senders that claimed before the close may
        // still push; the channel's own drop frees those). Dropping a
        // receiver with messages queued is an idiom (the reader took what it
        // needed), never a validation report.
        // SAFETY: `&mut self`: we are the one receiver.
        while let Some(v) = unsafe { self.inner.queue.pop() } {
            self.inner.semaphore.add_permit();
            drop(v);
        }
    }
}

impl<T, S> fmt::Debug for Chan<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chan")
            .field("senders", &self.tx_count.load(Relaxed))
            .field("tx_closed", &self.tx_closed.load(Relaxed))
            .finish_non_exhaustive()
    }
}

impl<T, S> fmt::Debug for Tx<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<T, S: Semaphore> fmt::Debug for Rx<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// The future of `recv()`; ends the receive wait it registered when it
/// completes or is dropped.
pub(crate) struct Recv<'a, T, S: Semaphore> {
    rx: &'a mut Rx<T, S>,
    site: &'static Location<'static>,
}

impl<'a, T, S: Semaphore> Recv<'a, T, S> {
    pub(crate) fn new(rx: &'a mut Rx<T, S>, site: &'static Location<'static>) -> Self {
        Recv { rx, site }
    }
}

impl<T, S: Semaphore> std::future::Future for Recv<'_, T, S> {
    type Output = Option<T>;

    #[inline]
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        this.rx.recv(cx, this.site)
    }
}

impl<T, S: Semaphore> Drop for Recv<'_, T, S> {
    fn drop(&mut self) {
        self.rx.end_wait();
    }
}

/// The future of `recv_many()`, as [`Recv`].
pub(crate) struct RecvMany<'a, T, S: Semaphore> {
    rx: &'a mut Rx<T, S>,
    buffer: &'a mut Vec<T>,
    limit: usize,
    site: &'static Location<'static>,
}

impl<'a, T, S: Semaphore> RecvMany<'a, T, S> {
    pub(crate) fn new(
        rx: &'a mut Rx<T, S>,
        buffer: &'a mut Vec<T>,
        limit: usize,
        site: &'static Location<'static>,
    ) -> Self {
        RecvMany {
            rx,
            buffer,
            limit,
            site,
        }
    }
}

impl<T, S: Semaphore> std::future::Future for RecvMany<'_, T, S> {
    type Output = usize;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let this = self.get_mut();
        this.rx.recv_many(cx, this.buffer, this.limit, this.site)
    }
}

impl<T, S: Semaphore> Drop for RecvMany<'_, T, S> {
    fn drop(&mut self) {
        self.rx.end_wait();
    }
}
