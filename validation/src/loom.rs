//! The one switch point between `std` and `loom` for the engine's shared
//! structures.
//!
//! The class table, the lock-order graph, the chain set, the wait-for graph,
//! the report sink, the channel claims and the context states' remote-release
//! mailbox import their `Mutex`, `Arc` and atomics from here, so building with
//! `RUSTFLAGS="--cfg perf_validation_loom"` model-checks them unchanged.
//!
//! Three things deliberately use `std` directly, and say so where they do:
//! values that must be `const`-constructible for users' statics (`LockMeta`'s
//! lazily resolved class word, `LockClass`, the ordering-contract atomics, the
//! task slot) and process-wide settings (the mode, the hook, the thresholds).
//! None of them carries a protocol: each is a single word read or written
//! whole.

#[cfg(not(perf_validation_loom))]
#[allow(unused_imports)] // a facade exports the whole set, used or not
mod imp {
    pub(crate) mod sync {
        pub(crate) use std::sync::{Arc, Mutex, MutexGuard};

        pub(crate) mod atomic {
            pub(crate) use std::sync::atomic::{
                fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
            };
        }
    }

    #[allow(dead_code)]
    pub(crate) mod cell {
        /// `std::cell::UnsafeCell` with loom's closure-based access API, so the
        /// same code compiles against both.
        #[derive(Debug)]
        pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

        impl<T> UnsafeCell<T> {
            pub(crate) const fn new(data: T) -> UnsafeCell<T> {
                UnsafeCell(std::cell::UnsafeCell::new(data))
            }

            #[inline(always)]
            pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
                f(self.0.get())
            }

            #[inline(always)]
            pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
                f(self.0.get())
            }
        }
    }
}

#[cfg(perf_validation_loom)]
#[allow(unused_imports)]
mod imp {
    pub(crate) mod sync {
        pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};

        pub(crate) mod atomic {
            pub(crate) use loom::sync::atomic::{
                fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
            };
        }
    }

    pub(crate) mod cell {
        pub(crate) use loom::cell::UnsafeCell;
    }
}

pub(crate) use imp::*;

/// Locks a facade mutex, ignoring poison: the engine never panics while it
/// holds one of its own locks (reports are raised after the lock is
/// released), so a poisoned lock only means a user panic unwound through an
/// unrelated frame, and the data is still consistent.
pub(crate) fn lock<T>(m: &sync::Mutex<T>) -> sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
