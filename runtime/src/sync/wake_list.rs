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
use std::task::Waker;

/// How many wakers one batch holds.
const CAPACITY: usize = 32;

/// A fixed-capacity batch of wakers.
pub(crate) struct WakeList {
    wakers: [Option<Waker>; CAPACITY],
    len: usize,
    overflow: Vec<Waker>,
    /// Validation waits to end with the wake-ups (empty, hence no
    /// allocation, unless validation is on and someone waited).
    ended: Vec<Waiting>,
}

impl WakeList {
    /// An empty batch.
    pub(crate) fn new() -> WakeList {
        WakeList {
            wakers: [const { None }; CAPACITY],
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
    pub(crate) fn can_push(&self) -> bool {
        self.len < CAPACITY
    }

    /// Adds a waker; past the inline capacity it goes to the heap.
    pub(crate) fn push(&mut self, waker: Waker) {
        if self.len < CAPACITY {
            self.wakers[self.len] = Some(waker);
            self.len += 1;
        } else {
            self.overflow.push(waker);
        }
    }

    /// Wakes and empties the batch, oldest first.
    pub(crate) fn wake_all(&mut self) {
        let n = std::mem::take(&mut self.len);
        for slot in &mut self.wakers[..n] {
            if let Some(w) = slot.take() {
                w.wake();
            }
        }
        for w in self.overflow.drain(..) {
            w.wake();
        }
        self.ended.clear();
    }
}

impl Drop for WakeList {
    fn drop(&mut self) {
        // A notifier that unwinds still wakes whom it dequeued, so no waiter
        // is left linked nowhere and asleep.
        self.wake_all();
    }
}
