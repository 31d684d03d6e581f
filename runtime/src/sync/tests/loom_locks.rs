//! Loom models of the batch semaphore under `Mutex`, `RwLock` and
//! `Semaphore` (FIFO hand-off, cancellation, close), and of the thread
//! mutex's park/wake protocol.

use super::poll_once;
use crate::loom::sync::Arc;
use crate::sync::{blocking, Mutex, RwLock, Semaphore};
use loom::future::block_on;
use loom::thread;
use std::pin::pin;

/// Two lockers: exclusion (loom checks the cell accesses) and no lost
/// hand-off (a lost wake-up is a loom deadlock).
#[test]
fn loom_mutex_two_lockers() {
    super::model(|| {
        let m = Arc::new(Mutex::new(0));
        let m2 = m.clone();
        let t = thread::spawn(move || {
            block_on(async { *m2.lock().await += 1 });
        });
        block_on(async { *m.lock().await += 1 });
        t.join().unwrap();
        assert_eq!(*m.try_lock().unwrap(), 2);
    });
}

/// A release racing a waiter's enqueue is never missed.
#[test]
fn loom_semaphore_release_races_enqueue() {
    super::model(|| {
        let s = Arc::new(Semaphore::new(0));
        let s2 = s.clone();
        let t = thread::spawn(move || s2.add_permits(1));
        block_on(s.acquire()).unwrap().forget();
        t.join().unwrap();
        assert_eq!(s.available_permits(), 0);
    });
}

/// A waiter cancelled while the permit is released to it passes the permit
/// on: nothing is lost or duplicated, and the other waiter finishes.
#[test]
fn loom_semaphore_cancelled_waiter_passes_permit_on() {
    super::model(|| {
        let s = Arc::new(Semaphore::new(1));
        let held = s.try_acquire().unwrap();
        let s1 = s.clone();
        let canceller = thread::spawn(move || {
            let mut acq = pin!(s1.acquire());
            if let std::task::Poll::Ready(p) = poll_once(acq.as_mut()) {
                drop(p.unwrap());
            }
            // Dropped here, queued or granted.
        });
        let s2 = s.clone();
        let waiter = thread::spawn(move || {
            drop(block_on(s2.acquire()).unwrap());
        });
        drop(held);
        canceller.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(s.available_permits(), 1);
    });
}

/// `close` racing a partly served batch acquire: the waiter fails, and the
/// permit that was assigned to it goes back to the count.
#[test]
fn loom_semaphore_close_races_partial_grant() {
    super::model(|| {
        let s = Arc::new(Semaphore::new(1));
        let s1 = s.clone();
        let waiter = thread::spawn(move || block_on(s1.acquire_many(3)).is_err());
        let s2 = s.clone();
        let adder = thread::spawn(move || s2.add_permits(1));
        s.close();
        assert!(waiter.join().unwrap(), "a closed semaphore grants nothing");
        adder.join().unwrap();
        assert_eq!(s.available_permits(), 2);
    });
}

/// A writer and a reader: the reader sees the value before or after the
/// write, never during (loom checks the cell), and both finish.
#[test]
fn loom_rwlock_writer_and_reader() {
    super::model(|| {
        let l = Arc::new(RwLock::with_max_readers(0, 2));
        let l2 = l.clone();
        let writer = thread::spawn(move || block_on(async { *l2.write().await += 1 }));
        let seen = block_on(async { *l.read().await });
        assert!(seen == 0 || seen == 1);
        writer.join().unwrap();
        assert_eq!(*l.try_read().unwrap(), 1);
    });
}

/// Two threads contending for the thread mutex: exclusion, and a parked
/// thread is always woken.
#[test]
fn loom_blocking_mutex_contention() {
    super::model(|| {
        let m = Arc::new(blocking::Mutex::new(0));
        let m2 = m.clone();
        let t = thread::spawn(move || *m2.lock() += 1);
        *m.lock() += 1;
        t.join().unwrap();
        assert_eq!(*m.lock(), 2);
    });
}
