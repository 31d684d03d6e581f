//! A single-value channel whose receivers see the latest value, as
//! `tokio::sync::watch`.
//!
//! Use it for state that changes and that every reader wants the newest of
//! (a configuration, a shutdown flag): a receiver that misses several
//! sends sees one change and the latest value. [`Receiver::changed`] waits
//! for the next one; [`Receiver::borrow`] reads the current value without
//! waiting.
//!
//! ```
//! use perf_runtime::sync::watch;
//!
//! #[perf_runtime::main]
//! async fn main() {
//!     let (tx, mut rx) = watch::channel("v1");
//!     let reader = perf_runtime::spawn(async move {
//!         // Wait until the configuration is reloaded, then read it.
//!         rx.changed().await.unwrap();
//!         *rx.borrow_and_update()
//!     });
//!     tx.send("v2").unwrap();
//!     assert_eq!(reader.await.unwrap(), "v2");
//! }
//! ```
//!
//! Validation: `changed()` and `wait_for()` that wait past the stall
//! threshold are a slow-wait advisory, and a `WaitStall` report only if
//! nothing can end them (every task of the runtime blocked).
//! `Sender::closed` is not reported.

// State protocol (for contributors).
//
// - `value` is a thread `RwLock`: senders write under its write lock,
//   `borrow` reads under its read lock.
// - `state` is `version << 1 | CLOSED`. The version is bumped (by 2) while
//   the write lock is held, so a reader that holds the read lock sees a
//   version that matches the value it reads. `CLOSED` is set when the last
//   sender drops.
// - Each receiver remembers the version it has seen; `changed()` completes
//   when the shared version differs from it.
//
// Invariants:
// 1. A sender publishes (bump under the write lock), then calls
//    `notify_rx.notify_waiters()`. A waiting receiver creates its
//    `Notified` before it compares versions, so by `notify.rs` invariant 3
//    a bump after the comparison completes the `Notified` (no lost wake).
// 2. The last receiver to drop, and every `subscribe`-less moment, are
//    signalled to `Sender::closed` waiters through `notify_tx` in the same
//    create-then-check pattern.
// 3. Versions only grow (mod 2^63): a receiver that missed several sends
//    sees one change and the latest value, never the intermediate ones.
//
// Where events pass: `Sender::send_if_modified` (every send and modify
// goes through it: progress), `Receiver::changed` (a wait), the senders'
// and receivers' drops (closing).
//
//
// Validation wiring: the channel embeds a `WaitMeta` of kind `Watch`;
// `changed()` and `wait_for()` capture their caller's site and register a
// wait the first time they would sleep, which lasts until they complete or
// are dropped.

use super::notify::Notify;
use super::tracking::{WaitOn, WaitSlot};
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use crate::loom::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use crate::validation::{WaitKind, WaitMeta};
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::panic::Location;

const CLOSED: usize = 1;
const VERSION_STEP: usize = 2;

/// Creates a watch channel holding `init`.
///
/// ```
/// use perf_runtime::sync::watch;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = watch::channel("starting");
/// perf_runtime::spawn(async move {
///     tx.send("ready").unwrap();
/// });
/// rx.changed().await.unwrap();
/// assert_eq!(*rx.borrow_and_update(), "ready");
/// # });
/// ```
#[track_caller]
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(WatchChannel {
        value: RwLock::new(init),
        state: AtomicUsize::new(0),
        rx_count: AtomicUsize::new(1),
        tx_count: AtomicUsize::new(1),
        notify_rx: Notify::new_internal(),
        notify_tx: Notify::new_internal(),
        meta: WaitMeta::new(WaitKind::Watch),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, version: 0 },
    )
}

/// One watch channel, shared by its senders and receivers: the value, its
/// version, and the counts (module comment: state protocol).
struct WatchChannel<T> {
    value: RwLock<T>,
    state: AtomicUsize,
    rx_count: AtomicUsize,
    tx_count: AtomicUsize,
    notify_rx: Notify,
    notify_tx: Notify,
    meta: WaitMeta,
}

impl<T> WatchChannel<T> {
    fn read(&self) -> RwLockReadGuard<'_, T> {
        // A panic inside `send_modify`'s closure poisons the lock; the value
        // is still whatever the closure left, as with tokio's.
        self.value.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.value.write().unwrap_or_else(|e| e.into_inner())
    }

    fn version(&self) -> usize {
        self.state.load(Acquire) & !CLOSED
    }
}

/// Publishes values; cloneable. The channel closes when the last sender
/// drops.
pub struct Sender<T> {
    shared: Arc<WatchChannel<T>>,
}

/// Observes the latest value; cloneable (a clone has seen what the original
/// has seen).
pub struct Receiver<T> {
    shared: Arc<WatchChannel<T>>,
    version: usize,
}

/// A read lock on the current value, from `borrow`. Keep it short: senders
/// wait for it.
pub struct Ref<'a, T> {
    guard: RwLockReadGuard<'a, T>,
    has_changed: bool,
}

impl<T> Ref<'_, T> {
    /// True if this value was new to the receiver that borrowed it (for
    /// `borrow`, new at the time of the call; for `borrow_and_update`, new
    /// before it was marked seen).
    pub fn has_changed(&self) -> bool {
        self.has_changed
    }
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// The errors of the watch channel, as `tokio::sync::watch::error`: a send
/// with no receiver left hands the value back ([`SendError`]); waiting for
/// a change fails once every sender is gone ([`RecvError`]).
///
/// ```
/// use perf_runtime::sync::watch;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let (tx, rx) = watch::channel(1);
/// drop(rx);
/// assert_eq!(tx.send(2).unwrap_err().0, 2);
///
/// let (tx, mut rx) = watch::channel(1);
/// drop(tx);
/// assert!(rx.changed().await.is_err()); // no sender can change it again
/// assert_eq!(*rx.borrow(), 1); // the last value is still readable
/// # });
/// ```
pub mod error {
    use std::error::Error;
    use std::fmt;

    /// Every receiver is gone; the value is handed back.
    #[derive(PartialEq, Eq, Clone, Copy)]
    pub struct SendError<T>(pub T);

    impl<T> fmt::Debug for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SendError").finish_non_exhaustive()
        }
    }

    impl<T> fmt::Display for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(
                "channel closed: every watch receiver was dropped; use `send_replace` to store \
                 the value anyway",
            )
        }
    }

    impl<T> Error for SendError<T> {}

    /// Every sender is gone: the value will not change again.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct RecvError(pub(super) ());

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed: every watch sender was dropped")
        }
    }

    impl Error for RecvError {}
}

use error::{RecvError, SendError};

impl<T> Sender<T> {
    /// A sender with no receiver yet, as `tokio::sync::watch::Sender::new`:
    /// receivers come from [`subscribe`](Sender::subscribe). Until one
    /// exists, [`send`](Sender::send) fails and
    /// [`send_replace`](Sender::send_replace) still stores.
    ///
    /// ```
    /// use perf_runtime::sync::watch;
    ///
    /// let tx = watch::Sender::new(0);
    /// assert!(tx.send(1).is_err()); // nobody to see it
    /// let rx = tx.subscribe();
    /// tx.send(2).unwrap();
    /// assert_eq!(*rx.borrow(), 2);
    /// ```
    #[track_caller]
    pub fn new(init: T) -> Sender<T> {
        channel(init).0
    }
}

impl<T> Sender<T> {
    /// Stores `value` and notifies the receivers.
    ///
    /// # Errors
    /// [`SendError`] with the value if no receiver exists (the value is not
    /// stored; [`send_replace`](Sender::send_replace) stores regardless).
    ///
    /// ```
    /// use perf_runtime::sync::watch;
    ///
    /// let (tx, rx) = watch::channel("v1");
    /// tx.send("v2").unwrap();
    /// assert_eq!(*rx.borrow(), "v2");
    /// drop(rx);
    /// assert!(tx.send("v3").is_err()); // no receiver: not stored
    /// assert_eq!(*tx.borrow(), "v2");
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.shared.rx_count.load(Acquire) == 0 {
            return Err(SendError(value));
        }
        self.send_replace(value);
        Ok(())
    }

    /// Stores `value` (even with no receiver), notifies, and returns the
    /// previous value.
    pub fn send_replace(&self, mut value: T) -> T {
        self.send_modify(|old| std::mem::swap(old, &mut value));
        value
    }

    /// Modifies the value in place and notifies the receivers, even with no
    /// receiver. For a value that is costly to clone or rebuild.
    ///
    /// ```
    /// use perf_runtime::sync::watch;
    ///
    /// let (tx, rx) = watch::channel(vec!["a"]);
    /// tx.send_modify(|list| list.push("b"));
    /// assert!(rx.has_changed().unwrap());
    /// assert_eq!(*rx.borrow(), ["a", "b"]);
    /// ```
    pub fn send_modify<F: FnOnce(&mut T)>(&self, modify: F) {
        self.send_if_modified(|v| {
            modify(v);
            true
        });
    }

    /// Modifies the value in place; notifies only if `modify` returns true.
    /// Returns what `modify` returned.
    pub fn send_if_modified<F: FnOnce(&mut T) -> bool>(&self, modify: F) -> bool {
        {
            let mut guard = self.shared.write();
            if !modify(&mut guard) {
                return false;
            }
            // Bumped under the write lock (module docs).
            self.shared.state.fetch_add(VERSION_STEP, AcqRel);
        }
        // Invariant 1.
        self.shared.notify_rx.notify_waiters();
        true
    }

    /// A read lock on the current value.
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref {
            guard: self.shared.read(),
            has_changed: false,
        }
    }

    /// True once every receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.receiver_count() == 0
    }

    /// Completes once every receiver is gone.
    pub async fn closed(&self) {
        loop {
            // Invariant 2: create, then check.
            let notified = self.shared.notify_tx.notified();
            if self.shared.rx_count.load(Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// A new receiver that has seen the current value: its
    /// [`changed`](Receiver::changed) waits for the next send.
    ///
    /// ```
    /// use perf_runtime::sync::watch;
    ///
    /// let tx = watch::Sender::new(0);
    /// let rx = tx.subscribe();
    /// assert!(!rx.has_changed().unwrap());
    /// tx.send(1).unwrap();
    /// assert!(rx.has_changed().unwrap());
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        self.shared.rx_count.fetch_add(1, Relaxed);
        let version = self.shared.version();
        Receiver {
            shared: self.shared.clone(),
            version,
        }
    }

    /// How many receivers exist.
    pub fn receiver_count(&self) -> usize {
        self.shared.rx_count.load(Acquire)
    }

    /// How many senders exist.
    pub fn sender_count(&self) -> usize {
        self.shared.tx_count.load(Acquire)
    }

    /// True if both senders belong to the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T: Default> Default for Sender<T> {
    /// A sender of a channel holding `T::default()`, with no receiver yet.
    fn default() -> Sender<T> {
        let (tx, _) = channel(T::default());
        tx
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.shared.tx_count.fetch_add(1, Relaxed);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.shared.tx_count.fetch_sub(1, AcqRel) == 1 {
            self.shared.state.fetch_or(CLOSED, AcqRel);
            self.shared.notify_rx.notify_waiters();
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("value", &*self.shared.read())
            .field("version", &(self.shared.version() >> 1))
            .finish()
    }
}

impl<T> Receiver<T> {
    /// A read lock on the current value, without marking it seen.
    pub fn borrow(&self) -> Ref<'_, T> {
        let guard = self.shared.read();
        // Read under the read lock: matches the value (module docs).
        let has_changed = self.shared.version() != self.version;
        Ref { guard, has_changed }
    }

    /// A read lock on the current value, marking it seen. Hold the
    /// [`Ref`] briefly: senders wait while it lives.
    ///
    /// ```
    /// use perf_runtime::sync::watch;
    ///
    /// let (tx, mut rx) = watch::channel(1);
    /// tx.send(2).unwrap();
    /// assert!(rx.borrow().has_changed()); // `borrow` leaves it unseen
    /// assert_eq!(*rx.borrow_and_update(), 2);
    /// assert!(!rx.has_changed().unwrap()); // now it is seen
    /// ```
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        let guard = self.shared.read();
        let version = self.shared.version();
        let has_changed = version != self.version;
        self.version = version;
        Ref { guard, has_changed }
    }

    /// True if a value newer than the last seen one was sent.
    ///
    /// # Errors
    /// [`RecvError`] once every sender is gone.
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        let state = self.shared.state.load(Acquire);
        if state & CLOSED != 0 {
            return Err(RecvError(()));
        }
        Ok(state & !CLOSED != self.version)
    }

    /// Marks the current value as seen.
    pub fn mark_unchanged(&mut self) {
        self.version = self.shared.version();
    }

    /// Marks the current value as not yet seen, so `changed()` completes at
    /// once.
    pub fn mark_changed(&mut self) {
        // Any version the channel never had works; the low bit is never set
        // in a real one.
        self.version = self.shared.version() | CLOSED;
    }

    /// Waits until a value newer than the last seen one was sent, and marks
    /// it seen (read it with `borrow`).
    ///
    /// # Errors
    /// [`RecvError`] once every sender is gone and the latest value was
    /// seen.
    ///
    /// # Cancel safety
    /// Cancel-safe: a dropped `changed` marks nothing seen.
    ///
    /// ```
    /// use perf_runtime::sync::watch;
    ///
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// let (tx, mut rx) = watch::channel("starting");
    /// let follower = perf_runtime::spawn(async move {
    ///     let mut states = Vec::new();
    ///     // Ends with `Err` once the sender is dropped.
    ///     while rx.changed().await.is_ok() {
    ///         states.push(*rx.borrow_and_update());
    ///     }
    ///     states
    /// });
    /// tx.send("serving").unwrap();
    /// drop(tx);
    /// // Values sent faster than the follower reads are skipped: it sees
    /// // the latest, here the only one.
    /// assert_eq!(follower.await.unwrap(), ["serving"]);
    /// # });
    /// ```
    #[track_caller]
    pub fn changed(&mut self) -> impl Future<Output = Result<(), RecvError>> + '_ {
        self.changed_at(Location::caller())
    }

    async fn changed_at(&mut self, site: &'static Location<'static>) -> Result<(), RecvError> {
        crate::task::coop::cooperative(async {
            let mut wait = WaitSlot::new();
            loop {
                // Invariant 1: create the Notified, then compare.
                let notified = self.shared.notify_rx.notified();
                let state = self.shared.state.load(Acquire);
                let version = state & !CLOSED;
                if version != self.version {
                    self.version = version;
                    return Ok(());
                }
                if state & CLOSED != 0 {
                    return Err(RecvError(()));
                }
                WaitOn::new(notified, &mut wait, &self.shared.meta, site).await;
            }
        })
        .await
    }

    /// Waits until `f` accepts the current value (checking the current one
    /// first), marks it seen and returns a borrow of it.
    ///
    /// # Errors
    /// [`RecvError`] if every sender is gone before `f` accepted a value.
    ///
    /// # Cancel safety
    /// Cancel-safe: if dropped, the last value seen was one `f` rejected.
    #[track_caller]
    pub fn wait_for<'a>(
        &'a mut self,
        f: impl FnMut(&T) -> bool,
    ) -> impl Future<Output = Result<Ref<'a, T>, RecvError>> {
        self.wait_for_at(f, Location::caller())
    }

    async fn wait_for_at(
        &mut self,
        mut f: impl FnMut(&T) -> bool,
        site: &'static Location<'static>,
    ) -> Result<Ref<'_, T>, RecvError> {
        // Spend budget even when the current value is accepted at once.
        crate::task::coop::consume_budget().await;
        let mut wait = WaitSlot::new();
        loop {
            // Invariant 1: create the Notified, then look.
            let notified = self.shared.notify_rx.notified();
            let closed = {
                let guard = self.shared.read();
                let state = self.shared.state.load(Acquire);
                let version = state & !CLOSED;
                let has_changed = version != self.version;
                self.version = version;
                if f(&guard) {
                    return Ok(Ref { guard, has_changed });
                }
                state & CLOSED != 0
            };
            if closed {
                return Err(RecvError(()));
            }
            WaitOn::new(notified, &mut wait, &self.shared.meta, site).await;
        }
    }

    /// True if both receivers belong to the same channel.
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Receiver<T> {
        self.shared.rx_count.fetch_add(1, Relaxed);
        Receiver {
            shared: self.shared.clone(),
            version: self.version,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if self.shared.rx_count.fetch_sub(1, AcqRel) == 1 {
            self.shared.notify_tx.notify_waiters();
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("value", &*self.shared.read())
            .field("seen_version", &(self.version >> 1))
            .finish()
    }
}
