//! `Notify`: wake one task or all of them, with tokio's permit semantics.
//!
//! # State
//!
//! `state` is `calls << 2 | S`, where `S` is
//! - `EMPTY`: no stored permit, nobody queued;
//! - `WAITING`: the queue is non-empty;
//! - `NOTIFIED`: a `notify_one` found nobody waiting and left one permit.
//!
//! and `calls` counts `notify_waiters` calls.
//!
//! # Invariants
//!
//! 1. `S == WAITING` if and only if the queue is non-empty. Transitions into
//!    and out of `WAITING`, and every change of `calls`, happen under the
//!    `waiters` lock; only `EMPTY <-> NOTIFIED` happen lock-free (CAS), so a
//!    plain store is safe whenever the lock is held and `S == WAITING`.
//! 2. At most one permit is stored: `notify_one` with nobody waiting sets
//!    `NOTIFIED` (idempotent); the next `Notified` to poll consumes it.
//! 3. A `Notified` remembers `calls` when it is created. If `calls` has
//!    moved by the time it first polls, a `notify_waiters` happened after its
//!    creation and it completes: futures created before a `notify_waiters`
//!    are woken by it even if they never polled (tokio's rule).
//! 4. A waiter leaves the queue either by being notified (under the lock:
//!    unlinked, waker taken, then `notification` stored with `Release` as the
//!    last touch) or by its future's `Drop` (unlinks itself under the lock).
//!    A future that reads a non-`NONE` notification with `Acquire` may finish
//!    without the lock.
//! 5. A waiter chosen by `notify_one` whose future is dropped before it
//!    returned `Ready` passes the notification on (to the next waiter, or as
//!    the stored permit), so dropping a future never loses a `notify_one`.
//!
//! The queue is FIFO: `notify_one` wakes the waiter that has waited longest.
//! It is the same intrusive list as the semaphore's (`linked_list.rs`).
//!
//! # Where events pass
//!
//! Waits start in `Notified::poll_notified` (enqueue) and end there;
//! notifications are issued by `notify_one`/`notify_locked` and
//! `notify_waiters`.
//!
//! # Validation
//!
//! A user's `Notify` embeds a [`WaitMeta`]; `notified()` captures its
//! caller's site, and a `Notified` that returns `Pending` registers a wait
//! (a slow-wait advisory past the stall threshold; a `WaitStall` only if
//! nothing can end it, every task of the runtime being blocked), ended when it completes or is dropped. The `Notify`s inside
//! `Barrier`, `watch` and the channels' `closed()` carry none: those report
//! as themselves, or not at all.

use super::linked_list::{Link, LinkedList, Pointers};
use super::tracking::WaitSlot;
use super::wake_list::WakeList;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use crate::loom::sync::{Mutex, MutexGuard};
use crate::task::coop;
use crate::validation::{WaitKind, WaitMeta};
use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::panic::Location;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{ready, Context, Poll, Waker};

const EMPTY: usize = 0;
const WAITING: usize = 1;
const NOTIFIED: usize = 2;
const STATE_MASK: usize = 0b11;
const CALLS_SHIFT: u32 = 2;
const CALL: usize = 1 << CALLS_SHIFT;

/// A waiter's notification, stored last by the notifier (invariant 4).
const NONE: usize = 0;
/// Chosen by `notify_one`: must be passed on if the future is dropped.
const ONE: usize = 1;
/// Woken by `notify_waiters`.
const ALL: usize = 2;

fn s(state: usize) -> usize {
    state & STATE_MASK
}

fn with_s(state: usize, new: usize) -> usize {
    (state & !STATE_MASK) | new
}

fn calls(state: usize) -> usize {
    state >> CALLS_SHIFT
}

/// Wakes tasks waiting for an event, as `tokio::sync::Notify`.
///
/// [`notify_one`](Notify::notify_one) wakes the longest-waiting task, or —
/// if none waits — stores a single permit that the next
/// [`notified`](Notify::notified) consumes at once.
/// [`notify_waiters`](Notify::notify_waiters) wakes every task waiting now
/// (and every `Notified` created before the call), storing no permit.
///
/// ```
/// use perf_runtime::sync::Notify;
/// use std::sync::Arc;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let notify = Arc::new(Notify::new());
/// let waiter = {
///     let notify = notify.clone();
///     perf_runtime::spawn(async move {
///         notify.notified().await;
///         "woken"
///     })
/// };
/// notify.notify_one();
/// assert_eq!(waiter.await.unwrap(), "woken");
/// # });
/// ```
pub struct Notify {
    state: AtomicUsize,
    waiters: Mutex<Waitlist>,
    /// `None` inside other primitives (module docs).
    meta: Option<WaitMeta>,
}

struct Waitlist {
    queue: LinkedList<Waiter>,
}

// SAFETY: the pointers are followed only under the mutex that owns the
// list; the nodes are `Send`.
unsafe impl Send for Waitlist {}

struct Waiter {
    links: Pointers<Waiter>,
    /// Guarded by the waiters lock.
    waker: UnsafeCell<Option<Waker>>,
    /// `NONE`, `ONE` or `ALL`; written under the lock (invariant 4).
    notification: AtomicUsize,
    _pin: PhantomPinned,
}

// SAFETY: `links` and `waker` are accessed only under the waiters lock;
// `notification` is atomic.
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

impl Waiter {
    fn new() -> Waiter {
        Waiter {
            links: Pointers::new(),
            waker: UnsafeCell::new(None),
            notification: AtomicUsize::new(NONE),
            _pin: PhantomPinned,
        }
    }

    /// Caller holds the lock.
    fn set_waker(&self, waker: &Waker) {
        self.waker.with_mut(|slot| {
            // SAFETY: guarded by the lock the caller holds.
            let slot = unsafe { &mut *slot };
            match slot {
                Some(w) if w.will_wake(waker) => {}
                _ => *slot = Some(waker.clone()),
            }
        });
    }

    /// Caller holds the lock.
    fn take_waker(&self) -> Option<Waker> {
        // SAFETY: guarded by the lock the caller holds.
        self.waker.with_mut(|slot| unsafe { (*slot).take() })
    }
}

fn lock(m: &Mutex<Waitlist>) -> MutexGuard<'_, Waitlist> {
    // No user code runs under the lock, so a poisoned one is consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Notify {
    /// A `Notify` with no permit and no waiter.
    #[track_caller]
    pub fn new() -> Notify {
        Notify {
            state: AtomicUsize::new(EMPTY),
            waiters: Mutex::new(Waitlist {
                queue: LinkedList::new(),
            }),
            meta: Some(WaitMeta::new(WaitKind::Notify)),
        }
    }

    /// A `Notify` inside another primitive: its waits are not reported as
    /// `Notify` waits.
    pub(crate) fn new_internal() -> Notify {
        Notify {
            state: AtomicUsize::new(EMPTY),
            waiters: Mutex::new(Waitlist {
                queue: LinkedList::new(),
            }),
            meta: None,
        }
    }

    /// As [`new`](Notify::new), usable in a `static`.
    #[cfg(not(perf_runtime_loom))]
    #[track_caller]
    pub const fn const_new() -> Notify {
        Notify {
            state: AtomicUsize::new(EMPTY),
            waiters: Mutex::new(Waitlist {
                queue: LinkedList::new(),
            }),
            meta: Some(WaitMeta::new(WaitKind::Notify)),
        }
    }

    /// A future that completes once this `Notify` is notified. It counts as
    /// waiting for `notify_waiters` from the moment it is created, and for
    /// `notify_one` once it is polled or [`enable`](Notified::enable)d.
    ///
    /// # Cancel safety
    /// Dropping it gives up its place in the queue. A `notify_one` it had
    /// already received is passed on, so no notification is lost.
    #[track_caller]
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            state: NotifiedState::Init,
            notify_waiters_calls: calls(self.state.load(SeqCst)),
            site: Location::caller(),
            wait: WaitSlot::new(),
            waiter: Waiter::new(),
        }
    }

    /// Wakes the longest-waiting task; with nobody waiting, stores a permit
    /// (at most one) for the next `notified()`.
    pub fn notify_one(&self) {
        let mut cur = self.state.load(SeqCst);
        while s(cur) != WAITING {
            match self
                .state
                .compare_exchange(cur, with_s(cur, NOTIFIED), SeqCst, SeqCst)
            {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
        self.notify_one_slow();
    }

    #[cold]
    fn notify_one_slow(&self) {
        let mut list = lock(&self.waiters);
        let waker = self.notify_locked(&mut list);
        drop(list);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Gives one notification, under the lock: to the queue head, or as the
    /// stored permit. Returns the waker to wake after unlocking.
    fn notify_locked(&self, list: &mut Waitlist) -> Option<Waker> {
        let mut cur = self.state.load(SeqCst);
        loop {
            if s(cur) != WAITING {
                match self
                    .state
                    .compare_exchange(cur, with_s(cur, NOTIFIED), SeqCst, SeqCst)
                {
                    Ok(_) => return None,
                    Err(actual) => {
                        cur = actual;
                        continue;
                    }
                }
            }
            // SAFETY: we hold the lock.
            let node = unsafe { list.queue.pop_front() }.expect("WAITING with an empty queue");
            // SAFETY: the node was linked, so it is live; we hold the lock.
            let waiter = unsafe { node.as_ref() };
            let waker = waiter.take_waker();
            // Last touch of the node (invariant 4).
            waiter.notification.store(ONE, Release);
            if list.queue.is_empty() {
                // Invariant 1: nobody else changes a WAITING state.
                self.state.store(with_s(cur, EMPTY), SeqCst);
            }
            return waker;
        }
    }

    /// Wakes the most recently queued task (LIFO), as
    /// `tokio::sync::Notify::notify_last`; with nobody waiting, stores a
    /// permit exactly as [`notify_one`](Notify::notify_one) does.
    ///
    /// A woken waiter whose future is dropped before completing passes the
    /// notification on through the FIFO path (invariant 5), so it is never
    /// lost; tokio passes it to the newest waiter instead.
    ///
    /// ```
    /// use perf_runtime::sync::Notify;
    /// use std::future::Future;
    /// use std::pin::pin;
    ///
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// let notify = Notify::new();
    /// let mut first = pin!(notify.notified());
    /// let mut second = pin!(notify.notified());
    /// // Queue both, oldest first.
    /// assert!(!first.as_mut().enable());
    /// assert!(!second.as_mut().enable());
    /// notify.notify_last();
    /// second.await; // the newest waiter got it
    /// notify.notify_last();
    /// first.await;
    /// # });
    /// ```
    pub fn notify_last(&self) {
        let mut cur = self.state.load(SeqCst);
        while s(cur) != WAITING {
            match self
                .state
                .compare_exchange(cur, with_s(cur, NOTIFIED), SeqCst, SeqCst)
            {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
        let mut list = lock(&self.waiters);
        let cur = self.state.load(SeqCst);
        // Under the lock nothing enters WAITING (invariant 1), so if the
        // queue emptied meanwhile, the FIFO path's permit logic is the same.
        let waker = if s(cur) != WAITING {
            self.notify_locked(&mut list)
        } else {
            // The list keeps no public tail: walk to it. The queue holds the
            // tasks waiting on this Notify, usually few.
            let mut last = list.queue.front().expect("WAITING with an empty queue");
            // SAFETY: `last` is linked in this list and we hold its lock.
            while let Some(next) = unsafe { list.queue.next(last) } {
                last = next;
            }
            // SAFETY: `last` is linked in this list and we hold its lock.
            let removed = unsafe { list.queue.remove(last) };
            debug_assert!(removed);
            // SAFETY: the node was linked, so it is live; we hold the lock.
            let waiter = unsafe { last.as_ref() };
            let waker = waiter.take_waker();
            // Last touch of the node (invariant 4).
            waiter.notification.store(ONE, Release);
            if list.queue.is_empty() {
                // Invariant 1: nobody else changes a WAITING state.
                self.state.store(with_s(cur, EMPTY), SeqCst);
            }
            waker
        };
        drop(list);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Wakes every task waiting now, and completes every `Notified` created
    /// before this call. Stores no permit.
    pub fn notify_waiters(&self) {
        let mut list = lock(&self.waiters);
        let cur = self.state.load(SeqCst);
        if s(cur) != WAITING {
            self.state.fetch_add(CALL, SeqCst);
            return;
        }
        // Invariant 1: a WAITING state changes only under the lock.
        self.state.store(with_s(cur + CALL, EMPTY), SeqCst);
        let mut wakers = WakeList::new();
        // SAFETY: we hold the lock.
        while let Some(node) = unsafe { list.queue.pop_front() } {
            // SAFETY: the node was linked, so it is live; we hold the lock.
            let waiter = unsafe { node.as_ref() };
            if let Some(w) = waiter.take_waker() {
                wakers.push(w);
            }
            // Last touch of the node (invariant 4).
            waiter.notification.store(ALL, Release);
        }
        drop(list);
        wakers.wake_all();
    }
}

impl Default for Notify {
    #[track_caller]
    fn default() -> Notify {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.load(Relaxed);
        f.debug_struct("Notify")
            .field("permit", &(s(st) == NOTIFIED))
            .field("waiting", &(s(st) == WAITING))
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NotifiedState {
    Init,
    Waiting,
    Done,
}

/// Future of [`Notify::notified`].
#[must_use = "futures do nothing unless polled"]
pub struct Notified<'a> {
    notify: &'a Notify,
    state: NotifiedState,
    notify_waiters_calls: usize,
    /// Where `notified()` was called: the site of the wait.
    site: &'static Location<'static>,
    wait: WaitSlot,
    waiter: Waiter,
}

impl Notified<'_> {
    /// Registers the future as a waiter without polling it, so a
    /// `notify_one` from now on reaches it. Returns true if it is already
    /// notified (then awaiting it completes at once).
    pub fn enable(self: Pin<&mut Self>) -> bool {
        self.poll_notified(None).is_ready()
    }

    fn poll_notified(self: Pin<&mut Self>, waker: Option<&Waker>) -> Poll<()> {
        // SAFETY: `waiter` is never moved out of the pinned future; only shared references to it are taken.
        let this = unsafe { self.get_unchecked_mut() };
        let notify = this.notify;
        match this.state {
            NotifiedState::Done => Poll::Ready(()),
            NotifiedState::Init => {
                // A stored permit is taken without the lock.
                let cur = notify.state.load(SeqCst);
                if s(cur) == NOTIFIED
                    && notify
                        .state
                        .compare_exchange(cur, with_s(cur, EMPTY), SeqCst, SeqCst)
                        .is_ok()
                {
                    this.state = NotifiedState::Done;
                    return Poll::Ready(());
                }
                let mut list = lock(&notify.waiters);
                let mut cur = notify.state.load(SeqCst);
                // Invariant 3 (`calls` only moves under the lock we hold).
                if calls(cur) != this.notify_waiters_calls {
                    this.state = NotifiedState::Done;
                    return Poll::Ready(());
                }
                loop {
                    let next = match s(cur) {
                        NOTIFIED => with_s(cur, EMPTY),
                        EMPTY => with_s(cur, WAITING),
                        _ => break, // WAITING: join the queue.
                    };
                    match notify.state.compare_exchange(cur, next, SeqCst, SeqCst) {
                        Ok(_) if s(cur) == NOTIFIED => {
                            this.state = NotifiedState::Done;
                            return Poll::Ready(());
                        }
                        Ok(_) => break,
                        Err(actual) => cur = actual,
                    }
                }
                if let Some(w) = waker {
                    this.waiter.set_waker(w);
                }
                // SAFETY: the node lives in this pinned future, whose `Drop` unlinks it under this lock; it is in no list (state Init); we hold the lock.
                unsafe { list.queue.push_back(NonNull::from(&this.waiter)) };
                this.state = NotifiedState::Waiting;
                Poll::Pending
            }
            NotifiedState::Waiting => {
                if this.waiter.notification.load(Acquire) != NONE {
                    this.state = NotifiedState::Done;
                    return Poll::Ready(());
                }
                let _list = lock(&notify.waiters);
                if this.waiter.notification.load(Acquire) != NONE {
                    this.state = NotifiedState::Done;
                    return Poll::Ready(());
                }
                if let Some(w) = waker {
                    this.waiter.set_waker(w);
                }
                Poll::Pending
            }
        }
    }
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let coop = ready!(coop::poll_proceed(cx));
        if self.as_mut().poll_notified(Some(cx.waker())).is_pending() {
            // SAFETY: `wait` is not structurally pinned; only it is touched.
            let this = unsafe { self.get_unchecked_mut() };
            if let Some(meta) = &this.notify.meta {
                this.wait.pending(meta, this.site);
            }
            return Poll::Pending;
        }
        // SAFETY: as above.
        unsafe { self.get_unchecked_mut() }.wait.end();
        coop.made_progress();
        Poll::Ready(())
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        if self.state != NotifiedState::Waiting {
            return;
        }
        let notify = self.notify;
        let mut list = lock(&notify.waiters);
        match self.waiter.notification.load(Acquire) {
            NONE => {
                // SAFETY: not notified, so the node is still linked in this list (invariant 4); it is live (we are its owner's drop); we hold the lock.
                let was_linked = unsafe { list.queue.remove(NonNull::from(&self.waiter)) };
                debug_assert!(was_linked);
                if list.queue.is_empty() {
                    let cur = notify.state.load(SeqCst);
                    if s(cur) == WAITING {
                        // Invariant 1: nobody else changes a WAITING state.
                        notify.state.store(with_s(cur, EMPTY), SeqCst);
                    }
                }
            }
            ONE => {
                // Invariant 5: hand the notification on.
                let waker = notify.notify_locked(&mut list);
                drop(list);
                if let Some(w) = waker {
                    w.wake();
                }
            }
            _ => {}
        }
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("state", &self.state)
            .finish()
    }
}
