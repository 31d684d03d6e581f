//! A channel for a single value, as `tokio::sync::oneshot`.
//!
//! The sender is consumed by [`Sender::send`]; the receiver is a future
//! that resolves to the value, or to [`RecvError`] if the sender was
//! dropped without sending — the usual way to say "cancelled". A typical
//! use is a reply to a request sent over an [`mpsc`](super::mpsc) channel.
//!
//! ```
//! use perf_runtime::sync::oneshot;
//!
//! #[perf_runtime::main]
//! async fn main() {
//!     let (tx, rx) = oneshot::channel();
//!     perf_runtime::spawn(async move {
//!         let _ = tx.send(6 * 7);
//!     });
//!     assert_eq!(rx.await, Ok(42));
//!
//!     // A sender dropped unsent: the receiver learns it was cancelled.
//!     let (tx, rx) = oneshot::channel::<u32>();
//!     drop(tx);
//!     assert!(rx.await.is_err());
//! }
//! ```
//!
//! Validation: a receive that nothing can end (every task of the runtime
//! blocked) is reported; a oneshot receive alone never proves a deadlock,
//! since its sender is consumed by its one use. A sender dropped unsent
//! (cancellation: the receiver gets `RecvError`) and a receiver dropped
//! with a value it never took (it gave up, e.g. under a timeout) are
//! idioms: neither is reported.

// Validation wiring (for contributors): the channel embeds a `ChannelMeta`
// (for a oneshot, its creation site inline: no allocation) and the
// receiver's wait (in `Inner`, so the handles stay one pointer each). The
// sender needs no claim. The receiver is a future itself, so its wait is
// registered in `poll` at the site of the `.await` that polls it (`poll` is
// `#[track_caller]`; through a combinator the site is the combinator's).
//
// State protocol (for contributors).
//
// `state` holds five bits, each set once:
// - `VALUE_SENT`: the value is in `value` (set by `send`, together with
//   `COMPLETE`);
// - `COMPLETE`: the sender is finished — it sent, or it was dropped;
// - `CLOSED`: the receiver closed the channel or was dropped;
// - `RX_WAITING`: `rx_waker` holds the receiver's waker and the sender
//   may read it (the one bit here that is also cleared, see invariant 3);
// - `TX_WAITING`: the sender has registered `tx_waker` (in `closed()`).
//
// Invariants:
// 1. `value` is written (and, if the send fails, taken back) only by the
//    sender, before `VALUE_SENT` is set; it is read only by the receiver,
//    after it loaded `VALUE_SENT` with `Acquire`. The CAS that sets
//    `VALUE_SENT` refuses to if `CLOSED` is set, so a value is never
//    delivered into a closed channel and the two sides never touch `value`
//    at the same time.
// 2. The receiver stores its waker in `rx_waker`, then sets `RX_WAITING`
//    with an RMW that also returns the other bits; the sender sets
//    `COMPLETE` with an RMW and takes and wakes the waker in `rx_waker`
//    only if that RMW saw `RX_WAITING`. The two RMWs are
//    ordered: either the receiver sees `COMPLETE` or the sender sees
//    `RX_WAITING` (and the waker stored before it). The sender's `closed()`
//    does the same with `tx_waker` (an `AtomicWaker`), `TX_WAITING` and
//    `CLOSED`. No wake-up is lost, and a side nobody waits on costs no
//    waker RMW.
// 3. `rx_waker` needs no lock of its own, because it always has one owner:
//    the receiver while `RX_WAITING` is clear, nobody while it is set and
//    `COMPLETE` is not, and the sender from the RMW that set `COMPLETE` and
//    saw `RX_WAITING`. To replace its waker (polled from another task) the
//    receiver first clears `RX_WAITING` with an RMW; if that RMW shows
//    `COMPLETE` the slot is the sender's, so the receiver leaves it alone
//    and completes instead. Whether a re-poll needs a new waker is decided
//    from `rx_waker_id` (the stored waker's data and vtable pointers, what
//    `Waker::will_wake` compares), which only the receiver touches, so it
//    never reads a slot the sender may be taking. One RMW per wait and none
//    per wake, where an `AtomicWaker` costs two of each; and the sender
//    wakes by value, so no waker is left behind to drop.
//
// Where events pass: `Sender::send`/`Drop` (progress or abandonment),
// `Receiver::poll` (a wait starts when it returns `Pending`) and
// `Receiver::close`/`Drop`.
//

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use crate::loom::sync::Arc;
use crate::task::coop;
use crate::util::atomic_waker::AtomicWaker;
use crate::validation::{ChannelKind, ChannelMeta, Waiting};
use std::error::Error;
use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::Location;
use std::pin::Pin;
use std::task::{ready, Context, Poll, RawWakerVTable, Waker};

const VALUE_SENT: usize = 0b0_0001;
const COMPLETE: usize = 0b0_0010;
const CLOSED: usize = 0b0_0100;
const RX_WAITING: usize = 0b0_1000;
const TX_WAITING: usize = 0b1_0000;

/// Creates a oneshot channel.
///
/// ```
/// use perf_runtime::sync::oneshot;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let (tx, rx) = oneshot::channel();
/// perf_runtime::spawn(async move {
///     tx.send(42).unwrap();
/// });
/// assert_eq!(rx.await, Ok(42));
/// # });
/// ```
#[track_caller]
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let meta = ChannelMeta::new(ChannelKind::Oneshot, Some(1));
    let inner = Arc::new(Inner {
        state: AtomicUsize::new(0),
        value: UnsafeCell::new(None),
        rx_waker: UnsafeCell::new(None),
        rx_waker_id: UnsafeCell::new((std::ptr::null(), std::ptr::null())),
        tx_waker: AtomicWaker::new(),
        meta,
        rx_wait: UnsafeCell::new(Waiting::untracked()),
    });
    (
        Sender {
            inner: Some(inner.clone()),
        },
        Receiver { inner: Some(inner) },
    )
}

/// What `Waker::will_wake` compares: the data and vtable pointers.
type WakerId = (*const (), *const RawWakerVTable);

fn waker_id(w: &Waker) -> WakerId {
    (w.data(), w.vtable())
}

struct Inner<T> {
    state: AtomicUsize,
    value: UnsafeCell<Option<T>>,
    /// The receiver's waker; owned per invariant 3.
    rx_waker: UnsafeCell<Option<Waker>>,
    /// The data and vtable pointers of the waker last stored in
    /// `rx_waker`; only the receiver touches it.
    rx_waker_id: UnsafeCell<WakerId>,
    tx_waker: AtomicWaker,
    meta: ChannelMeta,
    /// The receive wait while the receiver is pending (untracked
    /// otherwise). It lives here rather than in the `Receiver` so that the
    /// handles are one pointer each, cheap to move (a request often carries
    /// the handles of its reply). Only the `Receiver` touches it.
    rx_wait: UnsafeCell<Waiting>,
}

impl<T> Inner<T> {
    /// Registers the receive wait, at the caller's site, unless it is
    /// registered already.
    ///
    /// # Safety
    /// Called by the `Receiver` only (there is one).
    #[track_caller]
    unsafe fn start_rx_wait(&self) {
        if self.meta.is_tracked() {
            // Read here: `#[track_caller]` does not reach into the closure.
            let site = Location::caller();
            // SAFETY: `rx_wait` is only touched by the one `Receiver`, which is the caller (this fn's contract), so this is its only access.
            self.rx_wait.with_mut(|w| unsafe {
                if !(*w).is_tracked() {
                    *w = self.meta.recv_wait_at(site);
                }
            });
        }
    }

    /// Ends the receive wait, if any.
    ///
    /// # Safety
    /// Called by the `Receiver` only (there is one).
    unsafe fn end_rx_wait(&self) {
        let w = self.rx_wait.with_mut(|w| {
            // SAFETY: `rx_wait` is only touched by the one `Receiver`, which is the caller (this fn's contract), so this is its only access.
            unsafe { std::mem::replace(&mut *w, Waiting::untracked()) }
        });
        drop(w);
    }
}

// SAFETY: `value` is handed from the sender's thread to the receiver's
// (invariant 1), which needs `T: Send`; the two never access it together.
// `rx_waker` has one owner at a time (invariant 3), and `Waker` is
// `Send + Sync`. `rx_wait` and `rx_waker_id` (plain pointers, only
// compared) are only touched by the one receiver, through `&mut` of its
// handle.
unsafe impl<T: Send> Send for Inner<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Inner<T> {}

/// Sends the value; consumed by [`send`](Sender::send).
pub struct Sender<T> {
    inner: Option<Arc<Inner<T>>>,
}

/// Receives the value: `.await` it, or poll it with
/// [`try_recv`](Receiver::try_recv).
///
/// Awaiting it gives `Ok(value)`, or [`RecvError`] if the sender was dropped
/// without sending. It is cancel-safe: a `Receiver` polled in a `select!`
/// branch that lost can be awaited again (by `&mut`), and the value is not
/// lost.
///
/// ```
/// use perf_runtime::sync::oneshot;
/// use perf_runtime::time::{sleep, Duration};
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = oneshot::channel();
/// let worker = perf_runtime::spawn(async move { tx.send("done").unwrap() });
/// loop {
///     perf_runtime::select! {
///         answer = &mut rx => {
///             assert_eq!(answer, Ok("done"));
///             break;
///         }
///         _ = sleep(Duration::from_secs(1)) => println!("still waiting"),
///     }
/// }
/// worker.await.unwrap();
/// # });
/// ```
pub struct Receiver<T> {
    inner: Option<Arc<Inner<T>>>,
}

/// The sender was dropped without sending (or the receiver closed first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError(());

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("channel closed: the oneshot sender was dropped without sending a value")
    }
}

impl Error for RecvError {}

/// Why [`Receiver::try_recv`] returned no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Not sent yet.
    Empty,
    /// The sender is gone without sending, the channel was closed, or the
    /// value was already received.
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("channel empty: no value was sent yet"),
            TryRecvError::Closed => f.write_str(
                "channel closed: the sender is gone without sending, or the value was received",
            ),
        }
    }
}

impl Error for TryRecvError {}

/// The errors of the oneshot channel, as `tokio::sync::oneshot::error`:
/// awaiting the [`Receiver`] fails with [`RecvError`] when the sender is
/// dropped without sending; [`Receiver::try_recv`] tells "not yet" from
/// "never".
///
/// ```
/// use perf_runtime::sync::oneshot::{self, error::{RecvError, TryRecvError}};
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = oneshot::channel::<u32>();
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx); // e.g. the task that was to answer panicked
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
///
/// let (tx, rx) = oneshot::channel::<u32>();
/// drop(tx);
/// let err: RecvError = rx.await.unwrap_err();
/// println!("{err}"); // says the sender was dropped without sending
/// # });
/// ```
pub mod error {
    pub use super::{RecvError, TryRecvError};
}

impl<T> Sender<T> {
    /// Sends `value`, consuming the sender.
    ///
    /// # Errors
    /// The value, back, if the receiver was dropped or closed.
    ///
    /// ```
    /// use perf_runtime::sync::oneshot;
    ///
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// let (tx, rx) = oneshot::channel();
    /// assert_eq!(tx.send(1), Ok(()));
    /// assert_eq!(rx.await, Ok(1));
    ///
    /// let (tx, rx) = oneshot::channel();
    /// drop(rx); // the requester gave up
    /// assert_eq!(tx.send(2), Err(2));
    /// # });
    /// ```
    pub fn send(mut self, value: T) -> Result<(), T> {
        let inner = self
            .inner
            .take()
            .expect("a Sender holds its channel until send");
        deliver(&inner, value)
    }

    /// True once the receiver was dropped or closed.
    pub fn is_closed(&self) -> bool {
        match &self.inner {
            Some(inner) => inner.state.load(Acquire) & CLOSED != 0,
            None => true,
        }
    }

    /// Completes once the receiver is dropped or closed (for example to stop
    /// computing a value nobody wants).
    ///
    /// ```
    /// use perf_runtime::sync::oneshot;
    ///
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// let (mut tx, rx) = oneshot::channel::<u64>();
    /// let job = perf_runtime::spawn(async move {
    ///     perf_runtime::select! {
    ///         _ = tx.closed() => "abandoned: nobody wants the answer",
    ///         answer = std::future::pending::<u64>() => {
    ///             let _ = tx.send(answer);
    ///             "answered"
    ///         }
    ///     }
    /// });
    /// drop(rx);
    /// assert_eq!(job.await.unwrap(), "abandoned: nobody wants the answer");
    /// # });
    /// ```
    pub async fn closed(&mut self) {
        poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// Polls for the receiver being dropped or closed.
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let coop = ready!(coop::poll_proceed(cx));
        let Some(inner) = &self.inner else {
            coop.made_progress();
            return Poll::Ready(());
        };
        if inner.state.load(Acquire) & CLOSED == 0 {
            // Invariant 2.
            inner.tx_waker.register(cx.waker());
            if inner.state.fetch_or(TX_WAITING, AcqRel) & CLOSED == 0 {
                return Poll::Pending;
            }
        }
        coop.made_progress();
        Poll::Ready(())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            // Dropping a sender unsent is how a oneshot cancels: the
            // receiver gets `RecvError`. An idiom, never a validation
            // report. Invariant 2.
            if inner.state.fetch_or(COMPLETE, AcqRel) & RX_WAITING != 0 {
                wake_rx(&inner);
            }
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> Receiver<T> {
    /// Takes the value if it was sent. After the value was taken, returns
    /// [`TryRecvError::Closed`].
    ///
    /// ```
    /// use perf_runtime::sync::oneshot::{self, error::TryRecvError};
    ///
    /// let (tx, mut rx) = oneshot::channel();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send("ready").unwrap();
    /// assert_eq!(rx.try_recv(), Ok("ready"));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    /// ```
    #[track_caller]
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let Some(inner) = &self.inner else {
            return Err(TryRecvError::Closed);
        };
        inner.meta.receiver_polled();
        let state = inner.state.load(Acquire);
        if state & VALUE_SENT != 0 {
            let value = take_value(inner);
            // SAFETY: we are the receiver.
            unsafe { inner.end_rx_wait() };
            self.inner = None;
            return Ok(value);
        }
        if state & (COMPLETE | CLOSED) != 0 {
            // SAFETY: we are the receiver.
            unsafe { inner.end_rx_wait() };
            self.inner = None;
            return Err(TryRecvError::Closed);
        }
        Err(TryRecvError::Empty)
    }

    /// Closes the channel: a later `send` fails and hands its value back. A
    /// value sent before the close can still be received.
    pub fn close(&mut self) {
        if let Some(inner) = &self.inner {
            close(inner);
        }
    }

    /// Waits for the value from synchronous code, blocking the thread.
    ///
    /// # Panics
    /// Inside a runtime (a worker or `block_on`).
    #[track_caller]
    pub fn blocking_recv(self) -> Result<T, RecvError> {
        crate::sync::block_on("oneshot::Receiver::blocking_recv", self)
    }
}

/// Sets `CLOSED`, waking the sender's `closed()` if it waits (invariant 2).
fn close<T>(inner: &Inner<T>) {
    let prev = inner.state.fetch_or(CLOSED, AcqRel);
    if prev & (TX_WAITING | COMPLETE) == TX_WAITING {
        inner.tx_waker.wake();
    }
}

/// The body of [`Sender::send`].
fn deliver<T>(inner: &Inner<T>, value: T) -> Result<(), T> {
    if inner.state.load(Acquire) & CLOSED != 0 {
        return Err(value);
    }
    // SAFETY: invariant 1: before VALUE_SENT only the sender touches it.
    inner.value.with_mut(|p| unsafe { *p = Some(value) });
    let mut cur = inner.state.load(Acquire);
    loop {
        if cur & CLOSED != 0 {
            // SAFETY: VALUE_SENT was not set, so the slot is still ours.
            let value = inner.value.with_mut(|p| unsafe { (*p).take() });
            return Err(value.expect("the value written above"));
        }
        match inner
            .state
            .compare_exchange_weak(cur, cur | VALUE_SENT | COMPLETE, AcqRel, Acquire)
        {
            Ok(_) => break,
            Err(actual) => cur = actual,
        }
    }
    // Invariant 2.
    if cur & RX_WAITING != 0 {
        wake_rx(inner);
    }
    Ok(())
}

/// Wakes the receiver's stored waker: called by the sender after its
/// `COMPLETE` RMW saw `RX_WAITING` (invariants 2 and 3).
fn wake_rx<T>(inner: &Inner<T>) {
    // SAFETY: invariant 3: `RX_WAITING` was set when `COMPLETE` was, so the receiver wrote the slot before (our RMW acquired that write) and the slot is ours from now on.
    let waker = inner.rx_waker.with_mut(|w| unsafe { (*w).take() });
    if let Some(w) = waker {
        w.wake();
    }
}

/// Stores the receiver's waker: `RX_WAITING` is clear (invariant 3), so the
/// sender does not read the slot.
///
/// # Safety
/// The caller is the receiver and saw `RX_WAITING` clear in its last RMW or
/// load of `state` (it is the only one that sets it).
unsafe fn store_rx_waker<T>(inner: &Inner<T>, waker: &Waker) {
    inner.rx_waker.with_mut(|w| {
        // SAFETY: by the caller's contract the sender does not touch the slot until `RX_WAITING` is set again, by the caller, after this write.
        unsafe { *w = Some(waker.clone()) }
    });
    inner.rx_waker_id.with_mut(|id| {
        // SAFETY: only the receiver (the caller) touches `rx_waker_id`.
        unsafe { *id = waker_id(waker) }
    });
}

/// Takes the sent value.
fn take_value<T>(inner: &Inner<T>) -> T {
    inner.meta.delivered(1);
    inner
        .value
        .with_mut(|p| {
            // SAFETY: invariant 1: VALUE_SENT was loaded with Acquire, so the sender is done with the slot and only the receiver (us) reads it.
            unsafe { (*p).take() }
        })
        .expect("VALUE_SENT with an empty slot")
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let coop = ready!(coop::poll_proceed(cx));
        let this = self.get_mut();
        let inner = this
            .inner
            .as_ref()
            .expect("oneshot::Receiver polled after it completed");
        inner.meta.receiver_polled();
        let mut state = inner.state.load(Acquire);
        if state & (VALUE_SENT | COMPLETE | CLOSED) == 0 {
            match poll_register(inner, state, cx) {
                Some(done) => state = done,
                None => {
                    // SAFETY: we are the receiver.
                    unsafe { inner.start_rx_wait() };
                    return Poll::Pending;
                }
            }
        }
        let out = if state & VALUE_SENT != 0 {
            Ok(take_value(inner))
        } else {
            Err(RecvError(()))
        };
        // SAFETY: we are the receiver.
        unsafe { inner.end_rx_wait() };
        this.inner = None;
        coop.made_progress();
        Poll::Ready(out)
    }
}

/// Makes sure the sender will wake `cx`'s waker (invariants 2 and 3), given
/// `state`, just loaded, with neither `COMPLETE` nor `CLOSED`. Returns
/// `None` to wait, or the state to complete with if the sender finished
/// meanwhile.
fn poll_register<T>(inner: &Inner<T>, state: usize, cx: &Context<'_>) -> Option<usize> {
    if state & RX_WAITING != 0 {
        // SAFETY: only the receiver (us) touches `rx_waker_id`.
        let stored = inner.rx_waker_id.with(|id| unsafe { *id });
        if stored == waker_id(cx.waker()) {
            return None;
        }
        // Take the slot back before replacing the waker.
        let prev = inner.state.fetch_and(!RX_WAITING, AcqRel);
        if prev & COMPLETE != 0 {
            // The sender saw `RX_WAITING`: the slot is its now.
            return Some(prev);
        }
    }
    // SAFETY: `RX_WAITING` is clear: never set, or cleared just above by an RMW that saw the sender unfinished.
    unsafe { store_rx_waker(inner, cx.waker()) };
    let prev = inner.state.fetch_or(RX_WAITING, AcqRel);
    if prev & (VALUE_SENT | COMPLETE | CLOSED) == 0 {
        None
    } else {
        Some(prev)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            // SAFETY: we are the receiver.
            unsafe { inner.end_rx_wait() };
            // A value sent and never taken (a receiver that gave up, e.g.
            // under a timeout) goes with the channel: an idiom, not a
            // report.
            close(&inner);
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}
