//! The one switch point between `std` and `loom`.
//!
//! Runtime code imports atomics, cells, `Arc`, `Mutex`, `Condvar` and threads
//! from here, never from `std` directly, so that building with
//! `RUSTFLAGS="--cfg perf_runtime_loom"` model-checks every protocol without
//! touching the code that implements it.

#[cfg(not(perf_runtime_loom))]
#[allow(unused_imports)] // a facade exports the whole set, used or not
mod imp {
    pub(crate) mod sync {
        pub(crate) use std::sync::{
            Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
            WaitTimeoutResult,
        };

        pub(crate) mod atomic {
            pub(crate) use std::sync::atomic::{
                fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
            };
        }
    }

    pub(crate) mod cell {
        /// `std::cell::UnsafeCell` with loom's closure-based access API, so the
        /// same code compiles against both.
        #[derive(Debug)]
        pub(crate) struct UnsafeCell<T: ?Sized>(std::cell::UnsafeCell<T>);

        impl<T> UnsafeCell<T> {
            pub(crate) const fn new(data: T) -> UnsafeCell<T> {
                UnsafeCell(std::cell::UnsafeCell::new(data))
            }

            #[inline(always)]
            pub(crate) fn into_inner(self) -> T {
                self.0.into_inner()
            }
        }

        impl<T: ?Sized> UnsafeCell<T> {
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

    pub(crate) mod thread {
        pub(crate) use std::thread::{current, yield_now, Builder, JoinHandle, Thread};
    }

    /// Lets a spin loop tell the model checker (under loom) that it waits.
    #[inline(always)]
    #[allow(dead_code)]
    pub(crate) fn spin_hint() {
        std::hint::spin_loop();
    }
}

#[cfg(perf_runtime_loom)]
#[allow(unused_imports)]
mod imp {
    pub(crate) mod sync {
        pub(crate) use loom::sync::{
            Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
            WaitTimeoutResult,
        };

        pub(crate) mod atomic {
            pub(crate) use loom::sync::atomic::{
                fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
            };
        }
    }

    pub(crate) mod cell {
        pub(crate) use loom::cell::UnsafeCell;
    }

    pub(crate) mod thread {
        pub(crate) use loom::thread::{current, yield_now, Builder, JoinHandle, Thread};
    }

    #[allow(dead_code)]
    pub(crate) fn spin_hint() {
        loom::thread::yield_now();
    }
}

pub(crate) use imp::*;
