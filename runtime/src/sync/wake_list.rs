//! Wakers collected under a waiter lock and woken after it is released.
//!
//! Waking runs foreign code (a waker may do anything, including touching the
//! primitive again), so no primitive wakes while it holds its waiter lock. A
//! notifier fills a `WakeList`, drops the lock, then calls
//! [`WakeList::wake_all`]. The first 32 wakers sit in an inline array, so
//! the common case never allocates. A notifier that must dequeue many
//! waiters in one step (`Notify::notify_waiters`, a broadcast send) lets the
//! rest spill into a `Vec`; one that can stop part-way (the semaphore's
//! release) checks [`WakeList::can_push`], wakes the batch and continues
//! under a fresh lock instead.
//!
//! It also carries the validation waits the notifier ended (a channel wait
//! is over once its waiter is handed a slot or a message, not when the
//! waiter next runs): ending one takes the engine's lock, so it too happens
//! after the waiter lock is released.

use crate::validation::Waiting;
use std::mem::MaybeUninit;
use std::task::Waker;

/// How many wakers one batch holds.
const CAPACITY: usize = 32;

/// A fixed-capacity batch of wakers.
///
/// The inline slots are uninitialised past `len`, so making and dropping an
/// empty or short list touches only the slots in use (a release that wakes
/// one waiter does not write or scan 32 of them).
pub(crate) struct WakeList {
    /// `wakers[..len]` are initialised; the rest are not.
    wakers: [MaybeUninit<Waker>; CAPACITY],
    len: usize,
    overflow: Vec<Waker>,
    /// Validation waits to end with the wake-ups (empty, hence no
    /// allocation, unless validation is on and someone waited).
    ended: Vec<Waiting>,
}

impl WakeList {
    /// An empty batch.
    #[inline]
    pub(crate) fn new() -> WakeList {
        WakeList {
            wakers: [const { MaybeUninit::uninit() }; CAPACITY],
            len: 0,
            overflow: Vec::new(),
            ended: Vec::new(),
        }
    }

    /// Ends `wait` (a dequeued waiter's) along with the wake-ups.
    #[cold]
    pub(crate) fn end_wait(&mut self, wait: Waiting) {
        self.ended.push(wait);
    }

    /// True while another waker fits without allocating.
    #[inline]
    pub(crate) fn can_push(&self) -> bool {
        self.len < CAPACITY
    }

    /// Adds a waker; past the inline capacity it goes to the heap.
    #[inline]
    pub(crate) fn push(&mut self, waker: Waker) {
        if self.len < CAPACITY {
            self.wakers[self.len].write(waker);
            self.len += 1;
        } else {
            self.overflow.push(waker);
        }
    }

    /// Wakes and empties the batch, oldest first.
    #[inline]
    pub(crate) fn wake_all(&mut self) {
        // `len` is zeroed first: a waker that panics leaves the slots after
        // it unwoken and leaked, never woken or dropped twice.
        let n = std::mem::take(&mut self.len);
        for slot in &self.wakers[..n] {
            // SAFETY: slots below the old `len` were initialised by `push`, and with `len` reset each is read exactly once.
            unsafe { slot.assume_init_read() }.wake();
        }
        if !self.overflow.is_empty() {
            for w in self.overflow.drain(..) {
                w.wake();
            }
        }
        if !self.ended.is_empty() {
            self.ended.clear();
        }
    }
}

impl Drop for WakeList {
    #[inline]
    fn drop(&mut self) {
        // A notifier that unwinds still wakes whom it dequeued, so no waiter
        // is left linked nowhere and asleep.
        self.wake_all();
    }
}
