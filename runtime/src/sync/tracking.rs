//! How the primitives report to the validation engine
//! ([`crate::validation`]): the acquisition future under every `Mutex`,
//! `RwLock` and `Semaphore` acquire and every bounded `mpsc` reservation,
//! and the wait registration of `Notify`, `Barrier` and `watch`.
//!
//! # Sites
//!
//! `lock()`, `read()`, `acquire()`, `send()`, `recv()`, `notified()`,
//! `changed()` and `wait()` are `#[track_caller]` functions that return a
//! future: they capture the user's call site when called, and the future
//! hands it to the engine's `*_at` entry points when it acquires (its first
//! poll) and when it starts waiting (the poll that queues it), where
//! `#[track_caller]` no longer reaches the user's code.
//!
//! # One acquisition
//!
//! 1. First poll: [`Track::start`] validates the acquisition and records it
//!    as held ([`Held`]); in `Panic` mode a bad order panics here, in the
//!    task that made it, before anything is taken.
//! 2. A poll that leaves the future queued (not one that only ran out of
//!    cooperative budget) registers the wait ([`Waiting`]); the engine
//!    checks the wait-for graph then, so a deadlock is reported by the wait
//!    that closes it. The common lock wait — by a task that holds nothing
//!    else — is counted by the held entry itself and returns an empty
//!    guard; the future then keeps only its token, parked in one word
//!    ([`Parked`]). Anything else (a recorded wait, permits) is boxed, the
//!    box taken from a per-thread spare.
//! 3. Ready: the wait ends ([`Held::acquired`] for a counted one) and the
//!    [`Held`] moves into the guard, which un-records it when dropped. A
//!    future dropped before that ends its wait, then drops its `Held` (which
//!    ends a counted wait with the entry), then leaves the queue: no record
//!    of a wait or a hold outlives it.
//!
//! A wait for a channel slot is different: whom it waits for (the
//! receiver's owner) says nothing about whether the slot came, so it must
//! end the moment the slot is granted, not when the sender next runs — or a
//! receiver that made room and then waits for something the sender holds
//! would look deadlocked with it. That wait is started under the queue's
//! lock and handed to the queued node ([`Acquire::register_wait`]), and
//! ended by whoever dequeues it. A lock wait stays with its future: it
//! flags the pending [`Held`] entry, which only its own context may clear,
//! and whom it waits for (the lock's holders) is re-read from live state
//! anyway.
//!
//! With validation `Off` every step is one mode load and the tokens are
//! empty.

use super::batch_semaphore::{Acquire, BatchSemaphore, Closed};
use super::class_stats::{LockClassStats, LockStats};
use super::semaphore::Semaphore;
use crate::validation::{Access, ChannelMeta, Held, Mode, WaitMeta, Waiting};
use std::cell::Cell;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll};

/// A [`Held`] token as guards and futures keep it: dropping an empty one
/// (validation off, owned guards) is an inline compare, not a call into the
/// engine's drop.
pub(crate) struct HeldToken(ManuallyDrop<Held>);

impl HeldToken {
    #[inline]
    pub(crate) fn new(held: Held) -> HeldToken {
        HeldToken(ManuallyDrop::new(held))
    }

    #[inline]
    pub(crate) fn empty() -> HeldToken {
        HeldToken::new(Held::untracked())
    }

    /// Moves the token out, leaving the slot empty.
    #[inline]
    pub(crate) fn take(&mut self) -> Held {
        std::mem::replace(&mut *self.0, Held::untracked())
    }
}

impl Drop for HeldToken {
    #[inline]
    fn drop(&mut self) {
        if self.0.is_tracked() {
            // SAFETY: dropped once, here; the slot is never used again.
            unsafe { ManuallyDrop::drop(&mut self.0) }
        }
    }
}

/// A [`Waiting`] kept where waits are rare (every acquire future's
/// node): boxed, and dropped with an inline check when there is none.
pub(crate) struct WaitBox(Rare<Waiting>);

impl WaitBox {
    #[inline]
    pub(crate) const fn none() -> WaitBox {
        WaitBox(Rare::none())
    }

    /// Keeps `wait` if the engine registered it.
    pub(crate) fn set(&mut self, wait: Waiting) {
        self.0.clear();
        if wait.is_tracked() {
            *self.0 .0 = Some(Box::new(wait));
        }
    }

    /// Takes the wait out, leaving none.
    #[inline]
    pub(crate) fn take(&mut self) -> Option<Box<Waiting>> {
        self.0 .0.take()
    }
}

/// What an acquisition is, for the engine.
pub(crate) enum Track<'a> {
    /// A lock whose guard stays with its context (borrowed guards): checked
    /// and recorded as held.
    Lock { meta: &'a LockStats, access: Access },
    /// A lock whose guard may move to another task (owned guards): checked,
    /// and recorded as held by the acquiring task for the wait-for graph
    /// only (`LockMeta::acquire_owned_at`); a guard that does not keep the
    /// token (`RwLock`'s owned guards) drops it at once.
    Owned { meta: &'a LockStats, access: Access },
    /// Semaphore permits, recorded as held; an owned permit (which may be
    /// handed to a spawned task) for the wait-for graph only, as an owned
    /// guard (`LockMeta::acquire_owned_permits_at`).
    Permits {
        sem: &'a Semaphore,
        permits: u32,
        owned: bool,
    },
    /// A slot of a bounded channel: a wait for it is a send wait.
    Send(&'a ChannelMeta),
}

impl Track<'_> {
    /// The class whose contention a wait counts (none for a channel slot):
    /// a Mutex's or RwLock's cached in the lock, a semaphore's looked up.
    #[inline]
    fn lock_class(&self) -> Option<&'static LockClassStats> {
        match *self {
            Track::Lock { meta, .. } | Track::Owned { meta, .. } => Some(meta.metrics_class()),
            Track::Permits { sem, .. } => Some(super::class_stats::class_of(&sem.meta)),
            Track::Send(_) => None,
        }
    }

    #[inline(always)]
    fn start(&self, site: &'static Location<'static>) -> Held {
        match *self {
            Track::Lock { meta, access } => meta.acquire_at(access, site),
            Track::Owned { meta, access } => meta.acquire_owned_at(access, site),
            Track::Permits {
                sem,
                permits,
                owned,
            } if permits > 0 => {
                if owned {
                    sem.meta.acquire_owned_permits_at(permits, site)
                } else {
                    sem.meta.acquire_permits_at(permits, site)
                }
            }
            Track::Permits { .. } | Track::Send(_) => Held::untracked(),
        }
    }

    #[inline]
    fn wait(&self, held: &Held, site: &'static Location<'static>) -> Waiting {
        match *self {
            Track::Lock { meta, .. } | Track::Owned { meta, .. } => meta.wait_at(held, site),
            Track::Permits { sem, .. } => {
                if crate::validation::mode() == Mode::Off {
                    return Waiting::untracked();
                }
                // Handed out = in existence - free - owed to queued waiters
                // (ours included): only permits some guard holds.
                let outstanding = sem
                    .capacity
                    .load(Relaxed)
                    .saturating_sub(sem.ll.available_permits())
                    .saturating_sub(sem.ll.assigned_to_waiters());
                sem.meta.wait_permits_at(held, outstanding as u64, site)
            }
            Track::Send(chan) => chan.send_wait_at(site),
        }
    }
}

thread_local! {
    /// One spare [`Pending`] box per thread: in a contended lock nearly
    /// every acquisition waits, and would otherwise allocate and free its
    /// box each time (about a third of the engine's cost on a contended
    /// `Mutex`).
    static SPARE_PENDING: Cell<Option<Box<Pending>>> = const { Cell::new(None) };
}

/// What a pending acquisition keeps between polls when it has a wait the
/// engine recorded; boxed, since only such a future has one.
struct Pending {
    // Drop order: the wait ends, then the hold is un-recorded.
    waiting: Option<Waiting>,
    held: Held,
}

/// What a pending acquisition keeps between polls, in one word:
///
/// - `0`: nothing;
/// - a context state's address tagged [`PARKED_HELD`]: the [`Held`] of a
///   lock (`Track::Lock`), rebuilt from it and the lock's meta — the common
///   contended case, whose wait the held entry counts itself
///   (`Held::acquired`), so nothing else is kept and nothing is boxed;
/// - otherwise a `Box<Pending>` (a recorded wait, or permits).
struct Parked(*mut ());

/// Tags a parked state address (states are 64-aligned, boxes 8-aligned and
/// untagged).
const PARKED_HELD: usize = 1;

// SAFETY: `Parked` owns what it points to — a `Box<Pending>` (whose `Held`
// and `Waiting` are `Send`) or a `Held` taken apart (`Send`).
unsafe impl Send for Parked {}
// SAFETY: `&Parked` gives access to nothing.
unsafe impl Sync for Parked {}

impl Parked {
    const NONE: Parked = Parked(std::ptr::null_mut());

    fn is_none(&self) -> bool {
        self.0.is_null()
    }

    fn holds_token(&self) -> bool {
        self.0.addr() & PARKED_HELD != 0
    }

    fn boxed(&mut self) -> Option<&mut Pending> {
        if self.is_none() || self.holds_token() {
            return None;
        }
        // SAFETY: an untagged non-null pointer is a `Box<Pending>` this `Parked` owns (`Parked::set_box`).
        Some(unsafe { &mut *self.0.cast::<Pending>() })
    }

    fn take_box(&mut self) -> Option<Box<Pending>> {
        self.boxed()?;
        let raw = std::mem::replace(&mut self.0, std::ptr::null_mut());
        // SAFETY: `boxed` saw an untagged non-null pointer, a `Box<Pending>` this `Parked` owns (`set_box`); the pointer is cleared, so the box is taken once.
        Some(unsafe { Box::from_raw(raw.cast::<Pending>()) })
    }

    fn set_box(&mut self, b: Box<Pending>) {
        debug_assert!(self.is_none());
        self.0 = Box::into_raw(b).cast::<()>();
    }
}

/// A [`BatchSemaphore`] acquire that reports to the engine (module docs);
/// completes with the [`Held`] token for the guard.
///
/// Kept small — it is moved into every future awaiting a lock, and a
/// future past 128 bytes is moved by a `memcpy` call — so what only a
/// waiting future needs is boxed.
pub(crate) struct TrackedAcquire<'a> {
    // Drop order matters: the wait ends and the hold is un-recorded (the
    // `Drop` impl, for `parked`), then the node leaves the queue.
    parked: Parked,
    track: Track<'a>,
    site: &'static Location<'static>,
    started: bool,
    wait_started: bool,
    /// When the acquisition queued, for one in `class_stats::TIME_EVERY`
    /// (0: not timed): the wait a lock class's contention metrics record.
    queued_at: u64,
    acquire: Acquire<'a>,
}

impl<'a> TrackedAcquire<'a> {
    #[inline]
    pub(crate) fn new(
        sem: &'a BatchSemaphore,
        permits: u32,
        track: Track<'a>,
        site: &'static Location<'static>,
    ) -> TrackedAcquire<'a> {
        TrackedAcquire {
            parked: Parked::NONE,
            track,
            site,
            started: false,
            wait_started: false,
            queued_at: 0,
            acquire: sem.acquire(permits),
        }
    }

    /// The box, taken from this thread's spare if there is none yet. Only
    /// called while nothing is parked unboxed (the token is out, in `poll`).
    #[inline(never)]
    fn pending(&mut self) -> &mut Pending {
        if self.parked.is_none() {
            let spare = SPARE_PENDING.try_with(Cell::take).ok().flatten();
            self.parked.set_box(spare.unwrap_or_else(|| {
                Box::new(Pending {
                    waiting: None,
                    held: Held::untracked(),
                })
            }));
        }
        self.parked.boxed().expect("a box is parked")
    }

    /// Keeps the token between polls: in the word for a lock with no
    /// recorded wait, else in the box.
    #[inline]
    fn park(&mut self, held: Held) {
        if let Some(p) = self.parked.boxed() {
            p.held = held;
            return;
        }
        match self.track {
            Track::Lock { .. } | Track::Owned { .. } => {
                self.parked.0 = held.into_state().map_addr(|a| a | PARKED_HELD);
            }
            _ => self.pending().held = held,
        }
    }

    /// Takes the token kept by [`park`](Self::park) (untracked if none).
    #[inline]
    fn unpark(&mut self) -> Held {
        if self.parked.holds_token() {
            let state = std::mem::replace(&mut self.parked, Parked::NONE).0;
            let (Track::Lock { meta, .. } | Track::Owned { meta, .. }) = self.track else {
                unreachable!("only a lock's token is parked in the word")
            };
            let state = state.map_addr(|a| a & !PARKED_HELD);
            // SAFETY: parked by `park` from a token of `meta` (`Track::Lock` and `Track::Owned` acquire through it), untagged above, and cleared, so rebuilt once.
            return unsafe { Held::from_state(state, meta) };
        }
        match self.parked.boxed() {
            Some(p) => std::mem::replace(&mut p.held, Held::untracked()),
            None => Held::untracked(),
        }
    }

    /// The acquisition is over: ends the wait (the hold was taken out) and
    /// keeps the box as this thread's spare.
    #[inline(never)]
    fn finish_pending(&mut self) {
        if let Some(mut b) = self.parked.take_box() {
            b.waiting = None;
            b.held = Held::untracked();
            let _ = SPARE_PENDING.try_with(|s| {
                if let Some(old) = s.replace(Some(b)) {
                    drop(old);
                }
            });
        }
    }

    /// The future is queued: registers its wait (module docs).
    #[inline(never)]
    fn start_wait(&mut self, held: &Held) {
        let (track, acquire, site) = (&self.track, &self.acquire, self.site);
        match track {
            // Ended by whoever dequeues the node.
            Track::Send(chan) => {
                if chan.is_tracked() && crate::validation::mode() != Mode::Off {
                    acquire.register_wait(|| track.wait(held, site)).submit();
                }
            }
            _ => {
                let wait = track.wait(held, site);
                if wait.is_tracked() {
                    self.pending().waiting = Some(wait);
                }
            }
        }
    }
}

impl Future for TrackedAcquire<'_> {
    type Output = Result<Held, Closed>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // `acquire` is structurally pinned (only re-pinned below, never
        // moved; `start_wait` takes `&mut Self` but moves nothing); the other
        // fields are not pinned, and `Drop` moves nothing either.
        // SAFETY: by the above, nothing pinned is moved out of `self`.
        let this = unsafe { self.get_unchecked_mut() };
        let held = if !this.started {
            this.started = true;
            this.track.start(this.site)
        } else {
            this.unpark()
        };
        // SAFETY: see above.
        let acquire = unsafe { Pin::new_unchecked(&mut this.acquire) };
        match acquire.poll(cx) {
            Poll::Ready(res) => {
                if !this.parked.is_none() {
                    this.finish_pending();
                }
                if this.wait_started {
                    // Ends a wait counted by the held entry (module docs).
                    held.acquired();
                    if crate::metrics::GATHER {
                        if let Some(class) = this.track.lock_class() {
                            super::class_stats::contended(class, this.queued_at);
                        }
                    }
                }
                Poll::Ready(res.map(|()| held))
            }
            Poll::Pending => {
                if !this.wait_started && this.acquire.is_queued() {
                    this.wait_started = true;
                    this.queued_at = super::class_stats::queued_stamp();
                    this.start_wait(&held);
                }
                if held.is_tracked() {
                    this.park(held);
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for TrackedAcquire<'_> {
    #[inline]
    fn drop(&mut self) {
        // A future dropped while pending: its wait ends and its hold is
        // un-recorded (a counted wait ends with the entry) before the node
        // leaves the queue (the `acquire` field, dropped after this).
        if let Some(b) = self.parked.take_box() {
            drop(b); // the wait, then the hold
        } else if self.parked.holds_token() {
            drop(self.unpark());
        }
    }
}

/// An `Option<Box<T>>` for state that is rare where it is kept: dropping
/// it when empty is an inline compare, not a call.
pub(crate) struct Rare<T>(ManuallyDrop<Option<Box<T>>>);

impl<T> Rare<T> {
    #[inline]
    pub(crate) const fn none() -> Rare<T> {
        Rare(ManuallyDrop::new(None))
    }

    /// Drops the contents, if any.
    #[inline]
    pub(crate) fn clear(&mut self) {
        if self.0.is_some() {
            drop(self.0.take());
        }
    }
}

impl<T> Drop for Rare<T> {
    #[inline]
    fn drop(&mut self) {
        self.clear();
    }
}

/// A [`TrackedAcquire`] whose result `finish` turns into the guard: the
/// future behind `lock()`, `read()`, `acquire()`, `reserve()` and `send()`,
/// written out rather than as an `async` block so the fast path stays one
/// flat poll.
pub(crate) struct Acquiring<'a, F> {
    inner: TrackedAcquire<'a>,
    finish: Option<F>,
}

impl<'a, F> Acquiring<'a, F> {
    #[inline]
    pub(crate) fn new(inner: TrackedAcquire<'a>, finish: F) -> Acquiring<'a, F> {
        Acquiring {
            inner,
            finish: Some(finish),
        }
    }
}

impl<O, F: FnOnce(Result<Held, Closed>) -> O> Future for Acquiring<'_, F> {
    type Output = O;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<O> {
        // SAFETY: `inner` is structurally pinned; `finish` is not pinned (it is moved out by value once).
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above.
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        match inner.poll(cx) {
            Poll::Ready(res) => {
                let finish = this
                    .finish
                    .take()
                    .expect("an acquisition future was polled after it completed");
                Poll::Ready(finish(res))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The wait a future registers on a `Notify`, `Barrier` or `watch` the
/// first time it returns `Pending`; ends when dropped or [`end`](Self::end)ed.
#[derive(Default)]
pub(crate) struct WaitSlot(Option<Waiting>);

impl WaitSlot {
    pub(crate) const fn new() -> WaitSlot {
        WaitSlot(None)
    }

    /// The future is pending: registers its wait unless already done.
    #[inline]
    pub(crate) fn pending(&mut self, meta: &WaitMeta, site: &'static Location<'static>) {
        if self.0.is_none() {
            self.start(meta, site);
        }
    }

    #[cold]
    #[inline(never)]
    fn start(&mut self, meta: &WaitMeta, site: &'static Location<'static>) {
        self.0 = Some(meta.wait_at(site));
    }

    /// The wait is over.
    #[inline]
    pub(crate) fn end(&mut self) {
        self.0 = None;
    }
}

/// Polls `fut`, registering a wait in `slot` when it is pending: for the
/// `async` bodies of `Barrier::wait` and `watch::Receiver::changed`, whose
/// wait spans several inner futures. The body owns `slot`, so the wait ends
/// when the body completes or is dropped.
pub(crate) struct WaitOn<'s, F> {
    fut: F,
    slot: &'s mut WaitSlot,
    meta: &'s WaitMeta,
    site: &'static Location<'static>,
}

impl<'s, F> WaitOn<'s, F> {
    pub(crate) fn new(
        fut: F,
        slot: &'s mut WaitSlot,
        meta: &'s WaitMeta,
        site: &'static Location<'static>,
    ) -> WaitOn<'s, F> {
        WaitOn {
            fut,
            slot,
            meta,
            site,
        }
    }
}

impl<F: Future> Future for WaitOn<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `fut` is structurally pinned; the other fields are plain references and a `Copy` site, never pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above.
        let fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        let out = fut.poll(cx);
        if out.is_pending() {
            this.slot.pending(this.meta, this.site);
        }
        out
    }
}
