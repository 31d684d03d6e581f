//! The message store of an mpsc channel: an unbounded lock-free FIFO.
//!
//! Outside loom it is crossbeam's `Injector`, a linked list of 63-slot blocks
//! (one allocation per 63 messages, a CAS per push and per pop). It is used
//! as a single-consumer queue: only the receiver pops. Capacity, closing and
//! waking are the channel core's business (`chan.rs`), not the queue's.
//!
//! Under loom it is a stand-in with the same publication pattern: a sender
//! claims a slot with a read-modify-write on the tail and publishes it with
//! a `Release` store of the slot's ready flag; the receiver reads the flag
//! with `Acquire` (loom cannot model crossbeam's own atomics). A
//! mutex-guarded queue would not do: its lock would order every push
//! before or after every look at the queue, and hide the store-buffering
//! race between a send and the receiver's registration that the channel
//! core's fences exist for (`chan.rs` invariant 4). The slots' contents sit
//! behind per-slot mutexes, taken by the receiver only after it saw the
//! flag, so they add no ordering the real queue lacks.
//!
//! Contract used by `chan.rs`: a `push` that returned happens-before any
//! `pop` that observes a later synchronisation with the pusher, and `pop`
//! returns `None` only if every push that happened-before it was popped.

#[cfg(not(perf_runtime_loom))]
mod imp {
    use crossbeam_deque::{Injector, Steal};

    pub(crate) struct Queue<T> {
        inner: Injector<T>,
    }

    impl<T> Queue<T> {
        pub(crate) fn new() -> Queue<T> {
            Queue {
                inner: Injector::new(),
            }
        }

        #[inline]
        pub(crate) fn push(&self, value: T) {
            self.inner.push(value);
        }

        /// Only the receiver calls this.
        #[inline]
        pub(crate) fn pop(&self) -> Option<T> {
            loop {
                match self.inner.steal() {
                    Steal::Success(v) => return Some(v),
                    Steal::Empty => return None,
                    // A spurious CAS failure (we are the only consumer).
                    Steal::Retry => crate::loom::spin_hint(),
                }
            }
        }

        pub(crate) fn len(&self) -> usize {
            self.inner.len()
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.inner.is_empty()
        }
    }
}

#[cfg(perf_runtime_loom)]
mod imp {
    use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
    use crate::loom::sync::Mutex;

    /// Messages a model may push in all (the stand-in does not reuse slots).
    const SLOTS: usize = 8;

    struct Slot<T> {
        ready: AtomicBool,
        value: Mutex<Option<T>>,
    }

    pub(crate) struct Queue<T> {
        slots: Vec<Slot<T>>,
        /// Slots claimed by senders.
        tail: AtomicUsize,
        /// The next slot the receiver takes (written by the receiver only).
        head: AtomicUsize,
    }

    impl<T> Queue<T> {
        pub(crate) fn new() -> Queue<T> {
            Queue {
                slots: (0..SLOTS)
                    .map(|_| Slot {
                        ready: AtomicBool::new(false),
                        value: Mutex::new(None),
                    })
                    .collect(),
                tail: AtomicUsize::new(0),
                head: AtomicUsize::new(0),
            }
        }

        pub(crate) fn push(&self, value: T) {
            let i = self.tail.fetch_add(1, AcqRel);
            let slot = self.slots.get(i).unwrap_or_else(|| {
                panic!("the loom mpsc queue holds {SLOTS} messages per model; this one sent more")
            });
            *slot.value.lock().unwrap() = Some(value);
            slot.ready.store(true, Release);
        }

        /// Only the receiver calls this. `None` while the next slot is
        /// claimed but not yet published (that push has not happened-before
        /// this call).
        pub(crate) fn pop(&self) -> Option<T> {
            let h = self.head.load(Relaxed);
            let slot = self.slots.get(h)?;
            if !slot.ready.load(Acquire) {
                return None;
            }
            self.head.store(h + 1, Relaxed);
            slot.value.lock().unwrap().take()
        }

        pub(crate) fn len(&self) -> usize {
            self.tail.load(Acquire) - self.head.load(Relaxed)
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.len() == 0
        }
    }
}

pub(crate) use imp::Queue;
