//! What a registered `Sleep` and the timer wheel share: the entry's state and
//! the waker of the task waiting on it.
//!
//! State (`Shared::state`, one `AtomicU64`):
//! - `t <= MAX_NANOS`: pending, linked in the wheel with deadline `t`
//!   (nanoseconds since the clock's origin);
//! - `FIRED`: the deadline passed and the entry is no longer in the wheel;
//! - `SHUTDOWN`: the runtime shut down and dropped the entry.
//!
//! Every transition happens with the driver lock held, so whoever holds the
//! lock and reads "pending" knows the entry's slab key is still its own. Only
//! `FIRED`/`SHUTDOWN` are read without the lock (by `Sleep::poll`), with
//! Acquire, after registering the waker: the driver stores the state (Release)
//! before taking the waker, so a fire is never missed (see `AtomicWaker`).

use crate::loom::sync::atomic::{AtomicU64, Ordering::*};
use crate::util::atomic_waker::AtomicWaker;
use std::task::Waker;

/// The deadline passed; the entry left the wheel.
const FIRED: u64 = u64::MAX;
/// The runtime shut down; the entry left the wheel and will never fire.
const SHUTDOWN: u64 = u64::MAX - 1;

/// A snapshot of an entry's state.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum EntryState {
    /// Linked in the wheel, due at this many nanoseconds since the clock's
    /// origin.
    Pending(u64),
    /// Fired: the `Sleep` is complete.
    Fired,
    /// Dropped by a runtime shutdown: polling must panic.
    Shutdown,
}

#[derive(Debug)]
pub(super) struct Shared {
    state: AtomicU64,
    waker: AtomicWaker,
}

impl Shared {
    /// A new, unlinked entry (reading as `Fired` until `set_pending`).
    pub(super) fn new() -> Shared {
        Shared {
            state: AtomicU64::new(FIRED),
            waker: AtomicWaker::new(),
        }
    }

    #[inline]
    pub(super) fn state(&self) -> EntryState {
        match self.state.load(Acquire) {
            FIRED => EntryState::Fired,
            SHUTDOWN => EntryState::Shutdown,
            deadline => EntryState::Pending(deadline),
        }
    }

    /// Driver lock held: the entry is (re)linked to fire at `deadline`.
    pub(super) fn set_pending(&self, deadline: u64) {
        debug_assert!(deadline <= super::clock::MAX_NANOS);
        self.state.store(deadline, Release);
    }

    /// Driver lock held: the entry fired and left the wheel. Returns the
    /// waker to wake once the lock is released.
    pub(super) fn fire(&self) -> Option<Waker> {
        self.state.store(FIRED, Release);
        self.waker.take()
    }

    /// Driver lock held, called by the entry's owner: the deadline has
    /// passed before the entry was linked. The owner is polling, so there is
    /// nobody to wake.
    pub(super) fn mark_fired(&self) {
        self.state.store(FIRED, Release);
    }

    /// Driver lock held: the entry left the wheel because the runtime shut
    /// down. Returns the waker, to be dropped once the lock is released.
    pub(super) fn shut_down(&self) -> Option<Waker> {
        self.state.store(SHUTDOWN, Release);
        self.waker.take()
    }

    /// Owner (`Sleep`) only: the waker to wake when the entry fires.
    pub(super) fn register(&self, waker: &Waker) {
        self.waker.register(waker);
    }
}
