//! The message store of an mpsc channel: an unbounded lock-free FIFO.
//!
//! Outside loom it is crossbeam's `Injector`, a linked list of 63-slot blocks
//! (one allocation per 63 messages, a CAS per push and per pop). It is used
//! as a single-consumer queue: only the receiver pops. Capacity, closing and
//! waking are the channel core's business (`chan.rs`), not the queue's.
//!
//! Under loom it is a mutex-guarded `VecDeque`: loom cannot model
//! crossbeam's atomics, and the models check the channel protocol around the
//! queue (permits, close, the receiver's waker), for which a linearisable
//! FIFO is all that matters.
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
    use crate::loom::sync::Mutex;
    use std::collections::VecDeque;

    pub(crate) struct Queue<T> {
        inner: Mutex<VecDeque<T>>,
    }

    impl<T> Queue<T> {
        pub(crate) fn new() -> Queue<T> {
            Queue {
                inner: Mutex::new(VecDeque::new()),
            }
        }

        pub(crate) fn push(&self, value: T) {
            self.inner.lock().unwrap().push_back(value);
        }

        pub(crate) fn pop(&self) -> Option<T> {
            self.inner.lock().unwrap().pop_front()
        }

        pub(crate) fn len(&self) -> usize {
            self.inner.lock().unwrap().len()
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.inner.lock().unwrap().is_empty()
        }
    }
}

pub(crate) use imp::Queue;
