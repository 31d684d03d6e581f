//! The one waiter queue that `Mutex`, `RwLock`, `Semaphore` and the bounded
//! `mpsc` channel's capacity are built on: a counting semaphore whose
//! waiters ask for any number of permits and are served strictly in FIFO
//! order.
//!
//! # State
//!
//! `state` is one word: `permits << 2 | WAITERS | CLOSED`.
//! - `permits`: permits nobody holds or is owed; at most [`MAX_PERMITS`].
//! - `WAITERS`: the queue is not empty. Set and cleared only under the
//!   `waiters` lock, in the same CAS that moves permits in or out.
//! - `CLOSED`: set once, under the lock, by [`BatchSemaphore::close`].
//!
//! # Invariants
//!
//! 1. `WAITERS` is set if and only if the queue is non-empty (both change
//!    together under the lock).
//! 2. While `WAITERS` is set, `permits == 0`: a waiter takes every free
//!    permit when it enqueues, and a release hands its permits to the queue
//!    head before anything reaches the counter. This is what makes the queue
//!    fair: an acquirer that arrives later never takes permits a queued waiter
//!    is owed, even on the lock-free fast path, because that path needs
//!    `permits >= n`. For `RwLock` it also means a queued writer blocks every
//!    reader that comes after it (writer preference).
//! 3. A queued waiter's `remaining` is the number of permits it still lacks;
//!    `needed - remaining` permits were already assigned to it and are given
//!    back if it is dropped or the semaphore closes.
//! 4. A waiter leaves the queue in exactly one of three ways, each under the
//!    lock: granted (`remaining` becomes 0), closed (`remaining` becomes
//!    [`REMAINING_CLOSED`]), or cancelled (its future is dropped and unlinks
//!    itself). The notifier stores the final `remaining` last, after
//!    unlinking the node and taking its waker, with `Release`: a future that
//!    loads 0 or `REMAINING_CLOSED` with `Acquire` knows nobody will touch its
//!    node again and may complete without the lock.
//! 5. Wakers are woken only after the lock is released ([`WakeList`]).
//!
//! # Why an intrusive list
//!
//! The queue is an intrusive linked list of nodes pinned inside the
//! `Acquire` futures (as tokio does) rather than a slab: waiting never
//! allocates, a cancelled waiter unlinks itself in O(1) without leaving a
//! tombstone, and the release path walks only live waiters. The cost is
//! `unsafe` pointer code, which `linked_list.rs` confines and Miri checks.
//!
//! # Where events pass
//!
//! Every acquire, wait and release of a `Mutex`, `RwLock` or `Semaphore`
//! goes through four functions here, which are where a validation engine
//! observes them: [`BatchSemaphore::try_acquire`] and
//! [`BatchSemaphore::poll_acquire`] (a grant; `poll_acquire` enqueuing is
//! the start of a wait), [`BatchSemaphore::release`] (a release) and
//! [`BatchSemaphore::close`].

use super::linked_list::{Link, LinkedList, Pointers};
use super::tracking::WaitBox;
use super::wake_list::WakeList;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use crate::loom::sync::{Mutex, MutexGuard};
use crate::task::coop;
use crate::validation::{with_reports_deferred, DeferredReports, Waiting};
use std::future::Future;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{ready, Context, Poll, Waker};

const CLOSED: usize = 0b01;
const WAITERS: usize = 0b10;
const SHIFT: u32 = 2;

/// The most permits a semaphore can hold (tokio's limit as well).
pub(crate) const MAX_PERMITS: usize = usize::MAX >> 3;

/// `Waiter::remaining` once `close` dequeued the waiter.
const REMAINING_CLOSED: usize = usize::MAX;

/// Why an acquire failed: the semaphore is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

/// Why a `try_acquire` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TryAcquireError {
    Closed,
    NoPermits,
}

/// A FIFO counting semaphore with batch acquires; see the module docs.
pub(crate) struct BatchSemaphore {
    state: AtomicUsize,
    waiters: Mutex<Waitlist>,
}

struct Waitlist {
    queue: LinkedList<Waiter>,
}

// SAFETY: the list holds pointers to waiter nodes that are only followed
// under the mutex that owns this `Waitlist`; the nodes are `Send`.
unsafe impl Send for Waitlist {}

/// A queued acquire, pinned inside its [`Acquire`] future.
struct Waiter {
    links: Pointers<Waiter>,
    /// Permits still lacking; 0 once granted, [`REMAINING_CLOSED`] once the
    /// semaphore closed. Written only under the lock (invariant 4).
    remaining: AtomicUsize,
    /// Permits asked for; fixed at creation. (`u32`, as every public
    /// acquire takes one, so the node — inside every acquire future — stays
    /// small.)
    needed: u32,
    /// Read and written only under the lock.
    waker: UnsafeCell<Option<Waker>>,
    /// A validation wait that ends when the waiter leaves the queue
    /// ([`Acquire::register_wait`]); boxed, as it is rare and the node lives
    /// in every acquire future. Read and written only under the lock.
    wait: UnsafeCell<WaitBox>,
    _pin: PhantomPinned,
}

// SAFETY: `links`, `waker` and `wait` are accessed only under the waiter
// lock, `remaining` is atomic, `needed` is immutable.
unsafe impl Send for Waiter {}
// SAFETY: as above.
unsafe impl Sync for Waiter {}

// SAFETY: `links` is a field of the node and lives as long as it does.
unsafe impl Link for Waiter {
    unsafe fn pointers(target: NonNull<Waiter>) -> NonNull<Pointers<Waiter>> {
        // SAFETY: `target` is live (caller); no reference is created.
        unsafe { NonNull::new_unchecked(std::ptr::addr_of_mut!((*target.as_ptr()).links)) }
    }
}

fn lock(m: &Mutex<Waitlist>) -> MutexGuard<'_, Waitlist> {
    // No user code runs under the lock (wakers are woken after it), so a
    // poisoned lock still holds a consistent queue.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl BatchSemaphore {
    /// A semaphore with `permits` free permits.
    ///
    /// # Panics
    /// If `permits > MAX_PERMITS`.
    #[track_caller]
    pub(crate) fn new(permits: usize) -> BatchSemaphore {
        assert_permits(permits);
        BatchSemaphore {
            state: AtomicUsize::new(permits << SHIFT),
            waiters: Mutex::new(Waitlist {
                queue: LinkedList::new(),
            }),
        }
    }

    /// As [`new`](Self::new), usable in a `static`.
    #[cfg(not(perf_runtime_loom))]
    #[track_caller]
    pub(crate) const fn const_new(permits: usize) -> BatchSemaphore {
        assert!(
            permits <= MAX_PERMITS,
            "a semaphore may not have more than MAX_PERMITS (usize::MAX >> 3) permits"
        );
        BatchSemaphore {
            state: AtomicUsize::new(permits << SHIFT),
            waiters: Mutex::new(Waitlist {
                queue: LinkedList::new(),
            }),
        }
    }

    /// Free permits right now.
    pub(crate) fn available_permits(&self) -> usize {
        self.state.load(Acquire) >> SHIFT
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Acquire) & CLOSED != 0
    }

    /// Takes `n` permits if they are free now. Never queues, and fails while
    /// anyone is queued (their claim comes first).
    #[inline]
    pub(crate) fn try_acquire(&self, n: usize) -> Result<(), TryAcquireError> {
        let mut cur = self.state.load(Acquire);
        loop {
            if cur & CLOSED != 0 {
                return Err(TryAcquireError::Closed);
            }
            if cur >> SHIFT < n {
                return Err(TryAcquireError::NoPermits);
            }
            match self
                .state
                .compare_exchange_weak(cur, cur - (n << SHIFT), AcqRel, Acquire)
            {
                Ok(_) => return Ok(()),
                Err(actual) => cur = actual,
            }
        }
    }

    /// A future that resolves once `n` permits are assigned to it.
    #[inline]
    pub(crate) fn acquire(&self, n: u32) -> Acquire<'_> {
        Acquire {
            semaphore: self,
            node: Waiter {
                links: Pointers::new(),
                remaining: AtomicUsize::new(n as usize),
                needed: n,
                waker: UnsafeCell::new(None),
                wait: UnsafeCell::new(WaitBox::none()),
                _pin: PhantomPinned,
            },
            queued: false,
        }
    }

    /// Gives back `n` permits: to the queue head first, in FIFO order, and
    /// only what nobody waits for to the counter.
    ///
    /// # Panics
    /// If `n` exceeds `MAX_PERMITS` minus the free permits (0 while anyone
    /// is queued), before anything changes: no waiter is served by a
    /// release that panics.
    #[inline]
    #[track_caller]
    pub(crate) fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut cur = self.state.load(Relaxed);
        while cur & WAITERS == 0 {
            let next = add_permits(cur, n);
            match self
                .state
                .compare_exchange_weak(cur, next, Release, Relaxed)
            {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
        self.release_slow(n);
    }

    #[cold]
    #[track_caller]
    fn release_slow(&self, n: usize) {
        let list = lock(&self.waiters);
        // Checked before any waiter is served, so a release that panics
        // changes nothing. Under the lock the check is exact: while anyone
        // is queued the counter is 0 (invariant 2) and stays 0 until the
        // queue empties, so what reaches it is at most `n`.
        let free = self.state.load(Relaxed) >> SHIFT;
        if n > MAX_PERMITS - free {
            drop(list);
            overflow(n);
        }
        self.release_locked(n, list);
    }

    /// Hands `rem` permits to the queue under `list`'s lock, waking whom it
    /// completes (after unlocking). With `rem == 0` it still restores
    /// invariant 1 after a removal.
    #[track_caller]
    fn release_locked<'a>(&'a self, mut rem: usize, mut list: MutexGuard<'a, Waitlist>) {
        let mut wakers = WakeList::new();
        loop {
            while rem > 0 && wakers.can_push() {
                let Some(node) = list.queue.front() else {
                    break;
                };
                // SAFETY: linked nodes are live and we hold the lock.
                let waiter = unsafe { node.as_ref() };
                let lacking = waiter.remaining.load(Relaxed);
                if lacking > rem {
                    waiter.remaining.store(lacking - rem, Relaxed);
                    rem = 0;
                    break;
                }
                rem -= lacking;
                // SAFETY: we hold the lock; `node` is the head.
                unsafe { list.queue.pop_front() };
                if let Some(w) = waiter.take_waker() {
                    wakers.push(w);
                }
                if let Some(w) = waiter.take_wait() {
                    wakers.end_wait(*w);
                }
                // Last touch of the node (invariant 4).
                waiter.remaining.store(0, Release);
            }
            let more = rem > 0 && !list.queue.is_empty();
            if list.queue.is_empty() {
                let mut cur = self.state.load(Relaxed);
                loop {
                    let next = add_permits(cur & !WAITERS, rem);
                    match self.state.compare_exchange_weak(cur, next, AcqRel, Relaxed) {
                        Ok(_) => break,
                        Err(actual) => cur = actual,
                    }
                }
                rem = 0;
            }
            drop(list);
            wakers.wake_all();
            if !more {
                return;
            }
            list = lock(&self.waiters);
        }
    }

    /// Removes up to `n` free permits for good; returns how many.
    pub(crate) fn forget_permits(&self, n: usize) -> usize {
        let mut cur = self.state.load(Acquire);
        loop {
            let take = n.min(cur >> SHIFT);
            if take == 0 {
                return 0;
            }
            match self
                .state
                .compare_exchange_weak(cur, cur - (take << SHIFT), AcqRel, Acquire)
            {
                Ok(_) => return take,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Closes the semaphore: every queued and future acquire fails. Permits
    /// already held stay valid and may still be released.
    pub(crate) fn close(&self) {
        let mut list = lock(&self.waiters);
        self.state.fetch_or(CLOSED, Release);
        // Permits partly assigned to the dequeued waiters go back to the
        // counter, so `available_permits` still adds up after close.
        let mut returned = 0;
        loop {
            let mut wakers = WakeList::new();
            while wakers.can_push() {
                // SAFETY: we hold the lock.
                let Some(node) = (unsafe { list.queue.pop_front() }) else {
                    break;
                };
                // SAFETY: the node was linked, so it is live; we hold the lock.
                let waiter = unsafe { node.as_ref() };
                returned += waiter.needed as usize - waiter.remaining.load(Relaxed);
                if let Some(w) = waiter.take_waker() {
                    wakers.push(w);
                }
                if let Some(w) = waiter.take_wait() {
                    wakers.end_wait(*w);
                }
                // Last touch of the node (invariant 4).
                waiter.remaining.store(REMAINING_CLOSED, Release);
            }
            let done = list.queue.is_empty();
            if done {
                let mut cur = self.state.load(Relaxed);
                loop {
                    let next = add_permits(cur & !WAITERS, returned);
                    match self.state.compare_exchange_weak(cur, next, AcqRel, Relaxed) {
                        Ok(_) => break,
                        Err(actual) => cur = actual,
                    }
                }
            }
            drop(list);
            wakers.wake_all();
            if done {
                return;
            }
            // Nobody can enqueue once CLOSED is set, so this drains.
            list = lock(&self.waiters);
        }
    }

    /// The poll behind [`Acquire`]: grants at once if the permits are free,
    /// else takes what is free, enqueues `node` and waits for the rest.
    #[inline]
    fn poll_acquire(
        &self,
        cx: &mut Context<'_>,
        node: &Waiter,
        queued: &mut bool,
    ) -> Poll<Result<(), Closed>> {
        if *queued {
            return self.poll_queued(cx, node, queued);
        }
        let needed = node.needed as usize;
        // Fast path: enough free permits, and (invariant 2) nobody queued.
        let mut cur = self.state.load(Acquire);
        loop {
            if cur & CLOSED != 0 {
                return Poll::Ready(Err(Closed));
            }
            if cur >> SHIFT < needed {
                break;
            }
            match self
                .state
                .compare_exchange_weak(cur, cur - (needed << SHIFT), AcqRel, Acquire)
            {
                Ok(_) => return Poll::Ready(Ok(())),
                Err(actual) => cur = actual,
            }
        }
        self.enqueue(cx, node, queued)
    }

    #[cold]
    fn enqueue(
        &self,
        cx: &mut Context<'_>,
        node: &Waiter,
        queued: &mut bool,
    ) -> Poll<Result<(), Closed>> {
        let needed = node.needed as usize;
        let mut list = lock(&self.waiters);
        // Under the lock no release can slip between taking the free permits
        // and linking the node, so none is missed.
        let mut cur = self.state.load(Acquire);
        let taken = loop {
            if cur & CLOSED != 0 {
                return Poll::Ready(Err(Closed));
            }
            let free = cur >> SHIFT;
            let (next, taken) = if free >= needed {
                (cur - (needed << SHIFT), needed)
            } else {
                ((cur & CLOSED) | WAITERS, free)
            };
            match self.state.compare_exchange(cur, next, AcqRel, Acquire) {
                Ok(_) => break taken,
                Err(actual) => cur = actual,
            }
        };
        if taken == needed {
            return Poll::Ready(Ok(()));
        }
        node.remaining.store(needed - taken, Relaxed);
        node.set_waker(cx.waker());
        // SAFETY: `node` lives in a pinned `Acquire` whose `Drop` unlinks it under this lock; it is in no list (`queued` was false); we hold the lock.
        unsafe { list.queue.push_back(NonNull::from(node)) };
        *queued = true;
        Poll::Pending
    }

    fn poll_queued(
        &self,
        cx: &mut Context<'_>,
        node: &Waiter,
        queued: &mut bool,
    ) -> Poll<Result<(), Closed>> {
        // Invariant 4: a final value read with Acquire means the node is
        // unlinked and nobody touches it any more.
        match node.remaining.load(Acquire) {
            0 => {
                *queued = false;
                return Poll::Ready(Ok(()));
            }
            REMAINING_CLOSED => {
                *queued = false;
                return Poll::Ready(Err(Closed));
            }
            _ => {}
        }
        let _list = lock(&self.waiters);
        match node.remaining.load(Acquire) {
            0 => {
                *queued = false;
                Poll::Ready(Ok(()))
            }
            REMAINING_CLOSED => {
                *queued = false;
                Poll::Ready(Err(Closed))
            }
            _ => {
                node.set_waker(cx.waker());
                Poll::Pending
            }
        }
    }

    /// Permits assigned to queued waiters that still lack some: neither
    /// free nor held by a guard. For the validation engine, which needs the
    /// permits held by guards when a wait starts (cold: takes the lock).
    #[cold]
    pub(crate) fn assigned_to_waiters(&self) -> usize {
        let list = lock(&self.waiters);
        let mut assigned = 0;
        let mut node = list.queue.front();
        while let Some(n) = node {
            // SAFETY: linked nodes are live and we hold the lock.
            let waiter = unsafe { n.as_ref() };
            assigned += waiter.needed as usize - waiter.remaining.load(Relaxed);
            // SAFETY: as above; `links` is only read under the lock.
            node = unsafe { list.queue.next(n) };
        }
        assigned
    }

    /// Called when a queued `Acquire` is dropped: unlinks it and passes on
    /// whatever was assigned to it, so the next waiter does not stall.
    fn cancel(&self, node: &Waiter) {
        let mut list = lock(&self.waiters);
        // Ended once the lock is released.
        let wait = node.take_wait();
        let give_back = match node.remaining.load(Acquire) {
            REMAINING_CLOSED => {
                drop(list);
                drop(wait);
                return;
            }
            // Granted, but the future never saw it: hand the permits on.
            0 => node.needed as usize,
            lacking => {
                // SAFETY: the node is live (we are in its owner's drop) and linked in this list (not granted, not closed); we hold the lock.
                let was_linked = unsafe { list.queue.remove(NonNull::from(node)) };
                debug_assert!(was_linked);
                node.needed as usize - lacking
            }
        };
        self.release_locked(give_back, list);
        drop(wait);
    }
}

impl Waiter {
    /// Stores `waker` unless the stored one already wakes the same task.
    /// Caller holds the lock.
    fn set_waker(&self, waker: &Waker) {
        self.waker.with_mut(|slot| {
            // SAFETY: the lock is held (caller), which guards `waker`.
            let slot = unsafe { &mut *slot };
            match slot {
                Some(w) if w.will_wake(waker) => {}
                _ => *slot = Some(waker.clone()),
            }
        });
    }

    /// Caller holds the lock.
    fn take_waker(&self) -> Option<Waker> {
        // SAFETY: the lock is held (caller), which guards `waker`.
        self.waker.with_mut(|slot| unsafe { (*slot).take() })
    }

    /// Caller holds the lock.
    fn take_wait(&self) -> Option<Box<Waiting>> {
        // SAFETY: the lock is held (caller), which guards `wait`.
        self.wait.with_mut(|slot| unsafe { (*slot).take() })
    }
}

#[track_caller]
fn assert_permits(permits: usize) {
    assert!(
        permits <= MAX_PERMITS,
        "a semaphore may not have more than MAX_PERMITS (usize::MAX >> 3) permits; `permits` \
         was {permits}"
    );
}

/// `state` with `n` more free permits.
#[track_caller]
fn add_permits(state: usize, n: usize) -> usize {
    if n > MAX_PERMITS - (state >> SHIFT) {
        overflow(n);
    }
    state + (n << SHIFT)
}

/// tokio's message for an `add_permits` past the limit.
#[cold]
#[track_caller]
fn overflow(n: usize) -> ! {
    panic!("number of added permits ({n}) would overflow MAX_PERMITS ({MAX_PERMITS})")
}

/// Future of [`BatchSemaphore::acquire`]. Cancel-safe: dropped while
/// queued, it unlinks itself and passes on any permits assigned to it.
pub(crate) struct Acquire<'a> {
    semaphore: &'a BatchSemaphore,
    node: Waiter,
    queued: bool,
}

impl Future for Acquire<'_> {
    type Output = Result<(), Closed>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let coop = ready!(coop::poll_proceed(cx));
        // SAFETY: `node` is never moved out of the pinned future; only shared references to it are taken below.
        let this = unsafe { self.get_unchecked_mut() };
        let out = ready!(this
            .semaphore
            .poll_acquire(cx, &this.node, &mut this.queued));
        coop.made_progress();
        Poll::Ready(out)
    }
}

impl<'a> Acquire<'a> {
    /// Whether the future is in the queue: its last `Pending` was a wait
    /// for permits (not the cooperative budget).
    pub(crate) fn is_queued(&self) -> bool {
        self.queued
    }

    /// Starts the wait `start` registers and hands it to the queued node,
    /// so whoever dequeues the node (a release granting it, `close`, or its
    /// own cancellation) ends the wait then, rather than when this future
    /// next runs. Both happen under the queue's lock, so no release can
    /// grant the node between the two (another context would see a wait
    /// that is over). Nothing is started if the node already left the
    /// queue. The reports the start raised are returned, to be submitted
    /// once the lock is released.
    #[cold]
    pub(crate) fn register_wait(&self, start: impl FnOnce() -> Waiting) -> DeferredReports {
        let list = lock(&self.semaphore.waiters);
        match self.node.remaining.load(Acquire) {
            0 | REMAINING_CLOSED => DeferredReports::default(),
            _ => {
                let (wait, reports) = with_reports_deferred(start);
                // The node is queued, so it is live.
                // SAFETY: the held lock guards `wait`; no other reference into it.
                self.node.wait.with_mut(|slot| unsafe { (*slot).set(wait) });
                drop(list);
                reports
            }
        }
    }
}

impl Drop for Acquire<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.queued {
            self.semaphore.cancel(&self.node);
        }
    }
}

impl std::fmt::Debug for BatchSemaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.state.load(Relaxed);
        f.debug_struct("BatchSemaphore")
            .field("permits", &(s >> SHIFT))
            .field("waiters", &(s & WAITERS != 0))
            .field("closed", &(s & CLOSED != 0))
            .finish()
    }
}
