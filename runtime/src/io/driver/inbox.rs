//! A ring's inbox: commands other threads send to the ring's owner.
//!
//! Protocol: a sender pushes under the mutex, then raises `pending`
//! (Release), then unparks the owner. The owner, at every tick and before it
//! waits, checks `pending` (Acquire); if raised it lowers it first and then
//! swaps the whole list out under the mutex. A command pushed before that
//! swap is taken by it; one pushed after raises `pending` again after the
//! owner lowered it (the owner's store is ordered before its unlock, which
//! the sender's lock acquires), so the next check sees it. Together with
//! the parker's PARKED_DRIVER protocol, a command is never left in the inbox
//! while its owner sleeps (loom: `loom_inbox_command_reaches_a_parked_owner`).

use crate::loom::sync::atomic::{AtomicBool, Ordering::*};
use crate::loom::sync::Mutex;

pub(crate) struct Inbox<T> {
    items: Mutex<Vec<T>>,
    pending: AtomicBool,
}

impl<T> Inbox<T> {
    pub(crate) fn new() -> Inbox<T> {
        Inbox {
            items: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
        }
    }

    /// Queues `item`; the caller then wakes the owner.
    pub(crate) fn push(&self, item: T) {
        self.items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(item);
        self.pending.store(true, Release);
    }

    /// Whether commands may be waiting (a load; may be stale-true).
    #[inline]
    pub(crate) fn is_pending(&self) -> bool {
        self.pending.load(Relaxed)
    }

    /// The owner's side: moves every queued command into `buf` (which must
    /// be empty). False if nothing was pending.
    pub(crate) fn take(&self, buf: &mut Vec<T>) -> bool {
        if !self.pending.load(Acquire) {
            return false;
        }
        self.pending.store(false, Relaxed);
        let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::swap(buf, &mut *items);
        true
    }
}
