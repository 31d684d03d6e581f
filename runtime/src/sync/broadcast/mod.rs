//! A multi-producer, multi-consumer channel where every receiver sees every
//! value, as `tokio::sync::broadcast`. Slow receivers lag: they lose the
//! oldest values and are told how many with `Lagged(n)`.
//!
//! Use it to fan one stream of events out to many tasks: a shutdown signal,
//! cache invalidations, a pub/sub topic. The channel keeps the last
//! `capacity` values; each [`Receiver`] reads them in order from where it
//! subscribed. [`Sender::send`] never waits: a receiver that falls more than
//! `capacity` values behind skips the oldest and its next `recv` returns
//! [`RecvError::Lagged`] with the number skipped,
//! then continues. Once every sender is gone, receivers read what is left,
//! then get [`RecvError::Closed`].
//!
//! ```
//! use perf_runtime::sync::broadcast;
//!
//! # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
//! let (tx, _) = broadcast::channel(16);
//! let subscribers: Vec<_> = (0..3)
//!     .map(|i| {
//!         let mut rx = tx.subscribe();
//!         perf_runtime::spawn(async move {
//!             let mut seen = Vec::new();
//!             while let Ok(event) = rx.recv().await {
//!                 seen.push(event);
//!             }
//!             (i, seen) // `recv` failed with `Closed`: every sender is gone
//!         })
//!     })
//!     .collect();
//! tx.send("config changed").unwrap();
//! tx.send("shutting down").unwrap();
//! drop(tx);
//! for s in subscribers {
//!     let (_, seen) = s.await.unwrap();
//!     assert_eq!(seen, ["config changed", "shutting down"]);
//! }
//! # });
//! ```
//!
//! Values must be `Clone`: each receiver gets its own clone.

// # Layout and invariants
//
// - A ring of `capacity` (a power of two) slots, each a mutex around
//   `{pos, rem, val}`, and a `tail` mutex around `{pos, rx_cnt, closed,
//   waiters}`. Positions are `u64` sequence numbers; value `pos` lives in
//   slot `pos & mask`.
// - Lock order: `tail`, then a slot. A receiver's fast path takes only its
//   slot; its slow path drops the slot, takes `tail`, then the slot again.
// 1. A sender writes the slot while holding `tail`, so a receiver that
//    holds `tail` sees either the slot's new value or knows it is not sent.
// 2. A slot not yet written for position `p` holds `p - capacity` (slots
//    start at `i - capacity`), so "`slot.pos + capacity == next`" means
//    "empty" and any other mismatch means "overwritten: lagged".
// 3. `rem` is the number of receivers, alive at the send, that have not
//    yet read the value; the last reader drops the value. A receiver that
//    drops decrements `rem` of every value it has not read.
// 4. Waiters are queued (intrusive list, as `linked_list.rs`) under `tail`
//    and all dequeued by the next send or by the close; the notifier stores
//    `queued = false` with `Release` last, after taking the waker, so a
//    `Recv` future that reads `false` with `Acquire` may drop without the
//    lock.
// 5. Values are cloned under their slot's mutex, never concurrently, so
//    `T: Send` suffices (no `T: Sync` bound, as tokio's).
//
// Where events pass: `Sender::send` (progress), `Receiver::recv_slot` (a
// wait starts when it queues, progress when it reads or lags), the last
// sender's and receivers' drops (closing).
//
// Validation: the channel embeds a [`ChannelMeta`] and each sender a
// [`SenderClaim`], marked used by every `send`. A `recv()` that queues
// registers a receive wait (at the site of the `recv()` call) until it
// completes or is dropped; each value read counts as delivered. Sending
// never waits, so nothing waits for "the receiver", and the receivers do
// not report being polled (with many receivers that would only move the
// owner back and forth). Values a receiver never read (a shutdown message
// after it finished) are dropped with it, unreported: an idiom. A receive wait is kept in the
// waiter node and ended by the send (or close) that dequeues it — the wait
// is over then, not when the receiver next runs.

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use crate::loom::sync::{Arc, Mutex, MutexGuard};
use crate::sync::linked_list::{Link, LinkedList, Pointers};
use crate::sync::notify::Notify;
use crate::sync::wake_list::WakeList;
use crate::task::coop;
use crate::validation::{with_reports_deferred, ChannelKind, ChannelMeta, SenderClaim, Waiting};
use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::panic::Location;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{ready, Context, Poll, Waker};

pub mod error;

use error::{RecvError, SendError, TryRecvError};

/// Creates a broadcast channel keeping the last `capacity` values (rounded
/// up to a power of two).
///
/// # Panics
/// If `capacity` is 0 or more than `usize::MAX / 2`.
///
/// ```
/// use perf_runtime::sync::broadcast;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx1) = broadcast::channel(16);
/// let mut rx2 = tx.subscribe();
/// tx.send(10).unwrap();
/// assert_eq!(rx1.recv().await, Ok(10));
/// assert_eq!(rx2.recv().await, Ok(10));
/// # });
/// ```
#[track_caller]
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity > 0,
        "broadcast::channel: `capacity` must be at least 1, was 0"
    );
    assert!(
        capacity <= usize::MAX >> 1,
        "broadcast::channel: `capacity` may be at most usize::MAX / 2, was {capacity}"
    );
    let capacity = capacity.next_power_of_two();
    let buffer = (0..capacity)
        .map(|i| {
            Mutex::new(Slot {
                // Invariant 2.
                pos: (i as u64).wrapping_sub(capacity as u64),
                rem: 0,
                val: None,
            })
        })
        .collect();
    let meta = ChannelMeta::new(ChannelKind::Broadcast, Some(capacity));
    let claim = meta.new_sender();
    let shared = Arc::new(BroadcastChannel {
        gauge: std::sync::OnceLock::new(),
        buffer,
        meta,
        mask: capacity - 1,
        tail: Mutex::new(Tail {
            pos: 0,
            rx_cnt: 1,
            closed: false,
            waiters: LinkedList::new(),
        }),
        num_tx: AtomicUsize::new(1),
        notify_last_rx_drop: Notify::new_internal(),
    });
    #[cfg(not(perf_runtime_loom))]
    if crate::metrics::GATHER {
        // `held_len::<T>` locks the tail and slots of the `BroadcastChannel<T>`
        // the pointer is to (mutexes: any thread may take them); the channel
        // stays at that address inside its `Arc` and owns the gauge, which
        // unregisters when the channel is dropped, before its ring.
        // SAFETY: so `len` is sound on `ptr` for as long as the gauge is registered.
        let gauge = unsafe {
            crate::sync::class_stats::ChannelGauge::register(
                Arc::as_ptr(&shared).cast(),
                held_len::<T>,
                Some(capacity),
                crate::validation::Site::from_location(Location::caller()),
                "broadcast",
            )
        };
        let _ = shared.gauge.set(gauge);
    }
    (
        Sender {
            claim,
            shared: shared.clone(),
        },
        Receiver { shared, next: 0 },
    )
}

/// The metrics registry's view of a channel's occupancy: values held that
/// some receiver has not read (`Sender::len`).
///
/// # Safety
/// `ptr` points to a live `BroadcastChannel<T>`.
#[cfg(not(perf_runtime_loom))]
// SAFETY: an unsafe fn: the caller upholds `# Safety` above.
unsafe fn held_len<T>(ptr: *const ()) -> usize {
    // SAFETY: the caller promises a live `BroadcastChannel<T>`.
    let shared = unsafe { &*ptr.cast::<BroadcastChannel<T>>() };
    shared.held()
}

/// One broadcast channel, shared by its senders and receivers: the ring of
/// slots, the tail, and the counts (module comment: layout and invariants).
struct BroadcastChannel<T> {
    /// The metrics registration; first, so it is dropped (unregistered)
    /// before the ring it reads. Lock order: the registry, then `tail`
    /// (a lag is reported with `tail` released).
    gauge: std::sync::OnceLock<crate::sync::class_stats::ChannelGauge>,
    buffer: Box<[Mutex<Slot<T>>]>,
    meta: ChannelMeta,
    mask: usize,
    tail: Mutex<Tail>,
    num_tx: AtomicUsize,
    notify_last_rx_drop: Notify,
}

struct Slot<T> {
    pos: u64,
    rem: usize,
    val: Option<T>,
}

struct Tail {
    /// The position the next send writes.
    pos: u64,
    rx_cnt: usize,
    closed: bool,
    waiters: LinkedList<Waiter>,
}

// SAFETY: the waiter pointers are followed only under the `tail` mutex that
// owns this struct; the nodes are `Send`.
unsafe impl Send for Tail {}

struct Waiter {
    links: Pointers<Waiter>,
    /// Guarded by `tail`.
    waker: UnsafeCell<Option<Waker>>,
    /// The receive wait, ended by whoever dequeues the node. Guarded by
    /// `tail`.
    wait: UnsafeCell<Option<Waiting>>,
    /// Linked in `tail.waiters`; written under `tail` (invariant 4).
    queued: AtomicBool,
    _pin: PhantomPinned,
}

// SAFETY: `links`, `waker` and `wait` are accessed only under `tail`;
// `queued` is atomic.
unsafe impl Send for Waiter {}
// SAFETY: as above.
unsafe impl Sync for Waiter {}

// SAFETY: `links` is a field of the node.
unsafe impl Link for Waiter {
    unsafe fn pointers(target: NonNull<Waiter>) -> NonNull<Pointers<Waiter>> {
        // SAFETY: `target` is live (caller); no reference is created.
        unsafe { NonNull::new_unchecked(std::ptr::addr_of_mut!((*target.as_ptr()).links)) }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking `Clone` poisons a slot; the slot is still consistent
    // (the clone happens before any field changes).
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T> BroadcastChannel<T> {
    fn capacity(&self) -> u64 {
        self.buffer.len() as u64
    }

    /// How many values are held that some receiver alive at their send has
    /// not read yet.
    fn held(&self) -> usize {
        let tail = lock(&self.tail);
        let cap = self.capacity();
        let held = tail.pos.min(cap);
        (0..held)
            .filter(|back| {
                let pos = tail.pos.wrapping_sub(back + 1);
                let slot = lock(&self.buffer[pos as usize & self.mask]);
                slot.pos == pos && slot.rem > 0
            })
            .count()
    }

    /// Dequeues every waiter under `tail`; wake the result after unlocking.
    fn take_waiters(tail: &mut Tail) -> WakeList {
        let mut wakers = WakeList::new();
        // SAFETY: we hold `tail`.
        while let Some(node) = unsafe { tail.waiters.pop_front() } {
            // SAFETY: the node was linked, so it is live; we hold `tail`.
            let waiter = unsafe { node.as_ref() };
            // SAFETY: `waker` is guarded by `tail`, which we hold.
            if let Some(w) = waiter.waker.with_mut(|p| unsafe { (*p).take() }) {
                wakers.push(w);
            }
            // SAFETY: as above, for `wait`.
            if let Some(w) = waiter.wait.with_mut(|p| unsafe { (*p).take() }) {
                wakers.end_wait(w);
            }
            // Last touch of the node (invariant 4).
            waiter.queued.store(false, Release);
        }
        wakers
    }
}

/// Sends values to every receiver; cloneable.
pub struct Sender<T> {
    claim: SenderClaim,
    shared: Arc<BroadcastChannel<T>>,
}

/// Receives every value sent after it subscribed.
pub struct Receiver<T> {
    shared: Arc<BroadcastChannel<T>>,
    /// The position of the next value to read.
    next: u64,
}

impl<T: Clone> Sender<T> {
    /// A sender with no receiver yet, as
    /// `tokio::sync::broadcast::Sender::new`: receivers come from
    /// [`subscribe`](Sender::subscribe) and see only values sent after they
    /// subscribed. `capacity` is as for [`channel`].
    ///
    /// # Panics
    /// If `capacity` is 0 or more than `usize::MAX / 2`.
    ///
    /// ```
    /// use perf_runtime::sync::broadcast;
    ///
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// let tx = broadcast::Sender::new(4);
    /// assert!(tx.send("lost").is_err()); // no receiver yet
    /// let mut rx = tx.subscribe();
    /// tx.send("seen").unwrap();
    /// assert_eq!(rx.recv().await.unwrap(), "seen");
    /// # });
    /// ```
    #[track_caller]
    pub fn new(capacity: usize) -> Sender<T> {
        channel(capacity).0
    }
}

impl<T> Sender<T> {
    /// Sends `value` to every current receiver, overwriting the oldest value
    /// if the ring is full (receivers that had not read it will lag).
    /// Returns how many receivers will see it.
    ///
    /// # Errors
    /// [`SendError`] with the value if no receiver exists.
    ///
    /// ```
    /// use perf_runtime::sync::broadcast;
    ///
    /// let (tx, rx1) = broadcast::channel(8);
    /// let rx2 = tx.subscribe();
    /// assert_eq!(tx.send("hello").unwrap(), 2); // both receivers will see it
    /// drop((rx1, rx2));
    /// assert_eq!(tx.send("anyone?").unwrap_err().0, "anyone?");
    /// ```
    #[track_caller]
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        self.claim.used();
        let mut tail = lock(&self.shared.tail);
        if tail.rx_cnt == 0 {
            return Err(SendError(value));
        }
        let pos = tail.pos;
        let rem = tail.rx_cnt;
        tail.pos = pos.wrapping_add(1);
        {
            // Invariant 1: written under `tail`.
            let mut slot = lock(&self.shared.buffer[pos as usize & self.shared.mask]);
            slot.pos = pos;
            slot.rem = rem;
            // The overwritten value (if any) is dropped here, under the
            // locks; its `Drop` must not use this channel.
            slot.val = Some(value);
        }
        let mut wakers = BroadcastChannel::<T>::take_waiters(&mut tail);
        drop(tail);
        wakers.wake_all();
        Ok(rem)
    }

    /// A new receiver that sees values sent from now on.
    ///
    /// ```
    /// use perf_runtime::sync::broadcast;
    ///
    /// let (tx, mut early) = broadcast::channel(8);
    /// tx.send(1).unwrap();
    /// let mut late = tx.subscribe();
    /// tx.send(2).unwrap();
    /// assert_eq!(early.try_recv(), Ok(1));
    /// assert_eq!(early.try_recv(), Ok(2));
    /// assert_eq!(late.try_recv(), Ok(2)); // 1 was sent before it subscribed
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        new_receiver(self.shared.clone())
    }

    /// How many receivers exist.
    pub fn receiver_count(&self) -> usize {
        lock(&self.shared.tail).rx_cnt
    }

    /// How many values are held that some receiver alive at their send has
    /// not read yet.
    pub fn len(&self) -> usize {
        self.shared.held()
    }

    /// True if [`len`](Sender::len) is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if both senders belong to the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Completes once there is no receiver.
    pub async fn closed(&self) {
        loop {
            // Create, then check (`notify.rs` invariant 3).
            let notified = self.shared.notify_last_rx_drop.notified();
            if lock(&self.shared.tail).rx_cnt == 0 {
                return;
            }
            notified.await;
        }
    }

    /// How many senders exist.
    pub fn strong_count(&self) -> usize {
        self.shared.num_tx.load(Acquire)
    }
}

fn new_receiver<T>(shared: Arc<BroadcastChannel<T>>) -> Receiver<T> {
    let next = {
        let mut tail = lock(&shared.tail);
        tail.rx_cnt = tail
            .rx_cnt
            .checked_add(1)
            .expect("broadcast receiver count overflowed");
        tail.pos
    };
    Receiver { shared, next }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.shared.num_tx.fetch_add(1, Relaxed);
        Sender {
            claim: self.claim.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.shared.num_tx.fetch_sub(1, AcqRel) != 1 {
            return;
        }
        let mut tail = lock(&self.shared.tail);
        tail.closed = true;
        let mut wakers = BroadcastChannel::<T>::take_waiters(&mut tail);
        drop(tail);
        wakers.wake_all();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Sender").finish_non_exhaustive()
    }
}

impl<T> Receiver<T> {
    /// Reads the value at `self.next`: `Ok(Some(v))` (a clone if `want`),
    /// or why not. With `waiter`, an empty channel queues it.
    fn recv_slot(
        &mut self,
        waiter: Option<(&Waiter, &Waker)>,
        want: bool,
    ) -> Result<Option<T>, TryRecvError>
    where
        T: Clone,
    {
        let shared = &*self.shared;
        let slot_mutex = &shared.buffer[self.next as usize & shared.mask];
        let mut slot = lock(slot_mutex);
        if slot.pos != self.next {
            drop(slot);
            let mut tail = lock(&shared.tail);
            slot = lock(slot_mutex);
            if slot.pos != self.next {
                if slot.pos.wrapping_add(shared.capacity()) == self.next {
                    // Invariant 2: not sent yet.
                    if tail.closed {
                        return Err(TryRecvError::Closed);
                    }
                    if let Some((waiter, waker)) = waiter {
                        waiter.waker.with_mut(|p| {
                            // SAFETY: guarded by `tail`, which we hold.
                            let p = unsafe { &mut *p };
                            match p {
                                Some(w) if w.will_wake(waker) => {}
                                _ => *p = Some(waker.clone()),
                            }
                        });
                        if !waiter.queued.load(Relaxed) {
                            waiter.queued.store(true, Relaxed);
                            // SAFETY: the node lives in a pinned `Recv` whose `Drop` unlinks it under `tail`; it is not queued; we hold `tail`.
                            unsafe { tail.waiters.push_back(NonNull::from(waiter)) };
                        }
                    }
                    return Err(TryRecvError::Empty);
                }
                // Overwritten: skip to the oldest value still held.
                let oldest = tail.pos.wrapping_sub(shared.capacity());
                let missed = oldest.wrapping_sub(self.next);
                self.next = oldest;
                // Counted with the locks released (lock order above).
                drop(slot);
                drop(tail);
                if let Some(g) = shared.gauge.get() {
                    g.lagged();
                }
                return Err(TryRecvError::Lagged(missed));
            }
            drop(tail);
        }
        self.next = self.next.wrapping_add(1);
        shared.meta.delivered(1);
        let value = if want { slot.val.clone() } else { None };
        slot.rem -= 1;
        if slot.rem == 0 {
            // Invariant 3: the last reader drops the value.
            slot.val = None;
        }
        Ok(value)
    }

    /// Receives the next value, waiting for one.
    ///
    /// # Errors
    /// [`RecvError::Lagged`] if values were overwritten before this receiver
    /// read them (the next call returns the oldest one held);
    /// [`RecvError::Closed`] once every sender is gone and every value was
    /// received.
    ///
    /// # Cancel safety
    /// Cancel-safe: a dropped `recv` consumed nothing.
    ///
    /// A receiver that can fall behind handles `Lagged` by going on (the
    /// values it missed are gone) and stops at `Closed`:
    ///
    /// ```
    /// use perf_runtime::sync::broadcast::{self, error::RecvError};
    ///
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// let (tx, mut rx) = broadcast::channel(4);
    /// for n in 0..10 {
    ///     tx.send(n).unwrap(); // nobody reads yet: the oldest are overwritten
    /// }
    /// drop(tx);
    /// let (mut got, mut missed) = (Vec::new(), 0);
    /// loop {
    ///     match rx.recv().await {
    ///         Ok(n) => got.push(n),
    ///         Err(RecvError::Lagged(n)) => missed += n,
    ///         Err(RecvError::Closed) => break,
    ///     }
    /// }
    /// assert_eq!(missed, 6);
    /// assert_eq!(got, [6, 7, 8, 9]);
    /// # });
    /// ```
    #[track_caller]
    pub fn recv(&mut self) -> impl Future<Output = Result<T, RecvError>> + '_
    where
        T: Clone,
    {
        Recv {
            receiver: self,
            site: Location::caller(),
            registered: false,
            waiter: Waiter {
                links: Pointers::new(),
                waker: UnsafeCell::new(None),
                wait: UnsafeCell::new(None),
                queued: AtomicBool::new(false),
                _pin: PhantomPinned,
            },
        }
    }

    /// A value if one is available now.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError>
    where
        T: Clone,
    {
        match self.recv_slot(None, true) {
            Ok(v) => Ok(v.expect("a read slot holds its value until its last reader")),
            Err(e) => Err(e),
        }
    }

    /// Receives from synchronous code, blocking the thread.
    ///
    /// # Panics
    /// Inside a runtime (a worker or `block_on`).
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Result<T, RecvError>
    where
        T: Clone,
    {
        crate::sync::block_on("broadcast::Receiver::blocking_recv", self.recv())
    }

    /// A new receiver, starting at the current tail (it does not see values
    /// this one has not read yet).
    pub fn resubscribe(&self) -> Receiver<T> {
        new_receiver(self.shared.clone())
    }

    /// How many values were sent that this receiver has not read (counting
    /// ones it will find overwritten).
    pub fn len(&self) -> usize {
        let tail = lock(&self.shared.tail);
        tail.pos.wrapping_sub(self.next) as usize
    }

    /// True if [`len`](Receiver::len) is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True once every sender is gone (values may still be unread).
    pub fn is_closed(&self) -> bool {
        lock(&self.shared.tail).closed
    }

    /// True if both receivers belong to the same channel.
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// How many senders exist.
    pub fn sender_strong_count(&self) -> usize {
        self.shared.num_tx.load(Acquire)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let (until, last) = {
            let mut tail = lock(&self.shared.tail);
            tail.rx_cnt -= 1;
            (tail.pos, tail.rx_cnt == 0)
        };
        if last {
            self.shared.notify_last_rx_drop.notify_waiters();
        }
        // Invariant 3: release every value this receiver was counted for.
        let shared = &*self.shared;
        while self.next != until {
            let mut slot = lock(&shared.buffer[self.next as usize & shared.mask]);
            if slot.pos == self.next {
                slot.rem -= 1;
                if slot.rem == 0 {
                    slot.val = None;
                }
                self.next = self.next.wrapping_add(1);
            } else {
                // Overwritten (lagged): jump to the oldest value held, if
                // it is still one sent before this receiver left.
                drop(slot);
                let oldest = lock(&shared.tail).pos.wrapping_sub(shared.capacity());
                let ahead = |a: u64, b: u64| (a.wrapping_sub(b) as i64) > 0;
                if !ahead(oldest, self.next) || !ahead(until, oldest) {
                    break;
                }
                self.next = oldest;
            }
        }
        // Values nobody will read any more (a shutdown message a finished
        // receiver never read) go with it: an idiom, not a report.
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Receiver")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// The future of [`Receiver::recv`], holding its pinned waiter node (with
/// its receive wait, once registered).
struct Recv<'a, T> {
    receiver: &'a mut Receiver<T>,
    site: &'static Location<'static>,
    /// A receive wait was registered for the current queueing.
    registered: bool,
    waiter: Waiter,
}

impl<T: Clone> Future for Recv<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let coop = ready!(coop::poll_proceed(cx));
        // SAFETY: `waiter` is never moved out of the pinned future; only a shared reference to it is taken.
        let this = unsafe { self.get_unchecked_mut() };
        let out = match this
            .receiver
            .recv_slot(Some((&this.waiter, cx.waker())), true)
        {
            Ok(v) => Ok(v.expect("a read slot holds its value until its last reader")),
            Err(TryRecvError::Empty) => {
                if !this.waiter.queued.load(Acquire) {
                    // Dequeued by a send (which ended any wait) and queued
                    // again below: a new wait.
                    this.registered = false;
                }
                if !this.registered && this.receiver.shared.meta.is_tracked() {
                    this.registered = true;
                    this.register_wait();
                }
                return Poll::Pending;
            }
            Err(TryRecvError::Closed) => Err(RecvError::Closed),
            Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
        };
        coop.made_progress();
        Poll::Ready(out)
    }
}

impl<T> Recv<'_, T> {
    /// Registers the receive wait and hands it to the queued node, both
    /// under `tail` so that no send can dequeue the node in between (and
    /// another context see a wait that is over); nothing is registered if a
    /// send dequeued it already. Reports are submitted after `tail` is
    /// released.
    #[cold]
    #[inline(never)]
    fn register_wait(&self) {
        let shared = &*self.receiver.shared;
        let tail = lock(&shared.tail);
        if !self.waiter.queued.load(Relaxed) {
            return;
        }
        let (wait, reports) = with_reports_deferred(|| shared.meta.recv_wait_at(self.site));
        // SAFETY: `wait` is guarded by `tail`, which we hold.
        self.waiter.wait.with_mut(|p| unsafe { *p = Some(wait) });
        drop(tail);
        reports.submit();
    }
}

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        // Invariant 4: `false` read with Acquire means nobody will touch the
        // node again.
        if !self.waiter.queued.load(Acquire) {
            return;
        }
        let mut tail = lock(&self.receiver.shared.tail);
        // SAFETY: `wait` is guarded by `tail`, which we hold.
        let wait = self.waiter.wait.with_mut(|p| unsafe { (*p).take() });
        if self.waiter.queued.load(Relaxed) {
            // SAFETY: queued, so linked in `tail.waiters`; live (we are its owner's drop); we hold `tail`.
            unsafe { tail.waiters.remove(NonNull::from(&self.waiter)) };
        }
        drop(tail);
        drop(wait);
    }
}
