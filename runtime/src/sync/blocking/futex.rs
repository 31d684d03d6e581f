//! Futex-style parking on a 32-bit word: `wait(expected)` sleeps while the
//! word still holds `expected`, `wake_one` wakes one sleeper. Spurious
//! returns are allowed; callers re-check their condition in a loop.
//!
//! This is the one switch point for how a blocking primitive sleeps: Linux
//! futexes (no memory besides the word, no syscall when uncontended), or —
//! on other platforms and under loom, which cannot model a syscall — a
//! mutex and condvar beside the word. The condvar variant is a faithful
//! model: a waiter compares the word under the mutex, and a waker takes the
//! same mutex after changing the word and before signalling, so a change
//! between the comparison and the sleep cannot be missed.

#[cfg(all(target_os = "linux", not(perf_runtime_loom)))]
mod imp {
    use crate::loom::sync::atomic::AtomicU32;

    pub(crate) struct Futex {
        word: AtomicU32,
    }

    impl Futex {
        pub(crate) const fn new(v: u32) -> Futex {
            Futex {
                word: AtomicU32::new(v),
            }
        }

        #[inline(always)]
        pub(crate) fn word(&self) -> &AtomicU32 {
            &self.word
        }

        /// Sleeps while the word equals `expected` (or until a spurious
        /// wake-up or signal).
        pub(crate) fn wait(&self, expected: u32) {
            // SAFETY: FUTEX_WAIT reads the 4-byte aligned word we own for
            // the duration of the call; a null timeout waits indefinitely.
            // EAGAIN (the word changed) and EINTR are returns the caller's
            // loop handles.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.word.as_ptr(),
                    libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                    expected,
                    std::ptr::null::<libc::timespec>(),
                );
            }
        }

        /// Wakes one thread sleeping in `wait` on this word.
        pub(crate) fn wake_one(&self) {
            // SAFETY: FUTEX_WAKE only uses the word's address as a key.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.word.as_ptr(),
                    libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                    1i32,
                );
            }
        }
    }
}

#[cfg(any(not(target_os = "linux"), perf_runtime_loom))]
mod imp {
    use crate::loom::sync::atomic::{AtomicU32, Ordering::SeqCst};
    use crate::loom::sync::{Condvar, Mutex};

    pub(crate) struct Futex {
        word: AtomicU32,
        lock: Mutex<()>,
        cv: Condvar,
    }

    impl Futex {
        #[cfg(not(perf_runtime_loom))]
        pub(crate) const fn new(v: u32) -> Futex {
            Futex {
                word: AtomicU32::new(v),
                lock: Mutex::new(()),
                cv: Condvar::new(),
            }
        }

        #[cfg(perf_runtime_loom)]
        pub(crate) fn new(v: u32) -> Futex {
            Futex {
                word: AtomicU32::new(v),
                lock: Mutex::new(()),
                cv: Condvar::new(),
            }
        }

        #[inline(always)]
        pub(crate) fn word(&self) -> &AtomicU32 {
            &self.word
        }

        pub(crate) fn wait(&self, expected: u32) {
            let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            if self.word.load(SeqCst) != expected {
                return;
            }
            let _guard = self.cv.wait(guard).unwrap_or_else(|e| e.into_inner());
        }

        pub(crate) fn wake_one(&self) {
            drop(self.lock.lock().unwrap_or_else(|e| e.into_inner()));
            self.cv.notify_one();
        }
    }
}

pub(crate) use imp::Futex;
