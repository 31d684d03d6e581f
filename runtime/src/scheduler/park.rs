//! The worker parker: sleep until unparked or a timeout, with no lost wakeup.
//!
//! Protocol: `state` is EMPTY, PARKED or NOTIFIED. `unpark` swaps in NOTIFIED
//! and, only if the parker was PARKED, signals the condvar under the mutex.
//! `park` consumes a NOTIFIED without sleeping; otherwise it moves
//! EMPTY → PARKED under the mutex and waits until it can consume NOTIFIED (or
//! the timeout passes). Because the PARKED transition and the condvar wait
//! happen under the same mutex that `unpark` takes before signalling, an
//! unpark between the two cannot be missed. An unpark that arrives while the
//! worker is awake is remembered: the next park returns at once.
//!
//! A worker that waits in the I/O driver (its io_uring ring, or the epoll
//! instance when it holds the driver) parks with `park_in_driver`: the state
//! goes EMPTY → PARKED_DRIVER before the wait in the kernel, and an `unpark`
//! that finds PARKED_DRIVER calls the driver's wake (an eventfd write), which
//! ends the kernel wait — or makes the next one return at once if the wait
//! has not started yet, because the eventfd stays readable. An unpark that
//! finds the worker awake costs one swap and no syscall.

use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;
const PARKED_DRIVER: usize = 3;

/// Ends a wait in the driver (writes the driver's eventfd).
pub(crate) type DriverWake = Box<dyn Fn() + Send + Sync>;

#[derive(Clone)]
pub(crate) struct Parker {
    inner: Arc<Inner>,
}

/// The other half of a `Parker`: wakes it.
#[derive(Clone)]
pub(crate) struct Unparker {
    inner: Arc<Inner>,
}

struct Inner {
    state: AtomicUsize,
    mutex: Mutex<()>,
    condvar: Condvar,
    /// Set once, when the parker's core gets an I/O driver.
    driver_wake: std::sync::OnceLock<DriverWake>,
}

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker {
            inner: Arc::new(Inner {
                state: AtomicUsize::new(EMPTY),
                mutex: Mutex::new(()),
                condvar: Condvar::new(),
                driver_wake: std::sync::OnceLock::new(),
            }),
        }
    }

    pub(crate) fn unparker(&self) -> Unparker {
        Unparker {
            inner: self.inner.clone(),
        }
    }

    /// Sleeps until unparked, or until `timeout` passes (`None`: no timeout).
    /// May return spuriously; callers re-check their condition.
    pub(crate) fn park(&self, timeout: Option<Duration>) {
        self.inner.park(timeout);
    }

    /// Sets how an unpark ends a wait in the driver (once).
    pub(crate) fn set_driver_wake(&self, wake: DriverWake) {
        let _ = self.inner.driver_wake.set(wake);
    }

    /// Parks by calling `wait` (a wait in the driver that `DriverWake`
    /// ends), unless an unpark is pending. May return spuriously.
    pub(crate) fn park_in_driver(
        &self,
        timeout: Option<Duration>,
        wait: impl FnOnce(Option<Duration>),
    ) {
        let inner = &*self.inner;
        if inner
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            // Still give the driver a non-blocking turn: completions that
            // are ready are dispatched now rather than after the next park.
            wait(Some(Duration::ZERO));
            return;
        }
        match inner
            .state
            .compare_exchange(EMPTY, PARKED_DRIVER, SeqCst, SeqCst)
        {
            Ok(_) => {}
            Err(NOTIFIED) => {
                inner.state.swap(EMPTY, SeqCst);
                wait(Some(Duration::ZERO));
                return;
            }
            Err(actual) => panic!("inconsistent park state: {actual}"),
        }
        wait(timeout);
        // Woken, timed out, or an event arrived: consume any notification.
        inner.state.swap(EMPTY, SeqCst);
    }
}

impl Unparker {
    pub(crate) fn unpark(&self) {
        self.inner.unpark();
    }

    /// True if both wake the same parker.
    pub(crate) fn same_as(&self, other: &Unparker) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Inner {
    fn park(&self, timeout: Option<Duration>) {
        // Fast path: a pending notification.
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return;
        }
        if timeout == Some(Duration::ZERO) {
            return;
        }
        let mut guard = self.mutex.lock().unwrap_or_else(|e| e.into_inner());
        match self.state.compare_exchange(EMPTY, PARKED, SeqCst, SeqCst) {
            Ok(_) => {}
            Err(NOTIFIED) => {
                // Notified between the fast path and the lock.
                self.state.swap(EMPTY, SeqCst);
                return;
            }
            Err(actual) => panic!("inconsistent park state: {actual}"),
        }
        match timeout {
            None => loop {
                guard = self.condvar.wait(guard).unwrap_or_else(|e| e.into_inner());
                if self
                    .state
                    .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
                    .is_ok()
                {
                    return;
                }
                // Spurious wakeup: wait again.
            },
            Some(timeout) => {
                let (_guard, _res) = self
                    .condvar
                    .wait_timeout(guard, timeout)
                    .unwrap_or_else(|e| e.into_inner());
                // Notified or timed out: either way we are no longer parked.
                // A notification that raced with the timeout is consumed here,
                // which is fine: the caller re-checks everything after a park.
                self.state.swap(EMPTY, SeqCst);
            }
        }
    }

    fn unpark(&self) {
        match self.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED => {
                // Taking the lock orders us after the parker's wait began.
                drop(self.mutex.lock().unwrap_or_else(|e| e.into_inner()));
                self.condvar.notify_one();
            }
            PARKED_DRIVER => {
                if let Some(wake) = self.driver_wake.get() {
                    wake();
                }
            }
            actual => panic!("inconsistent park state: {actual}"),
        }
    }
}
