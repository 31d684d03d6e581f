//! Hand-polled cancellation sequences and small real-thread races over the
//! intrusive waiter lists. Sized so Miri runs them in seconds: they are the
//! `unsafe` code's Miri coverage (`.ci/miri.sh`).

use super::poll_once;
use crate::sync::{blocking, Barrier, Mutex, Notify, RwLock, Semaphore};
use crate::sync::{broadcast, mpsc, oneshot, watch};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::thread;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    crate::sync::block_on("test", f)
}

#[test]
fn semaphore_queue_cancellation_in_every_position() {
    let s = Semaphore::new(0);
    // Boxed, so `drop` really drops (cancels) them.
    let mut a = Box::pin(s.acquire_many(2));
    let mut b = Box::pin(s.acquire());
    let mut c = Box::pin(s.acquire());
    let mut d = Box::pin(s.acquire_many(3));
    assert!(poll_once(a.as_mut()).is_pending());
    assert!(poll_once(b.as_mut()).is_pending());
    assert!(poll_once(c.as_mut()).is_pending());
    assert!(poll_once(d.as_mut()).is_pending());
    // Cancel the middle, then the tail, then let the head be partly served
    // and cancel it too.
    drop(b);
    drop(d);
    s.add_permits(1);
    assert_eq!(s.available_permits(), 0, "the head owns the permit");
    drop(a);
    // The head's permit goes on to `c`.
    let p = match poll_once(c.as_mut()) {
        Poll::Ready(p) => p.unwrap(),
        Poll::Pending => panic!("c was not handed the permit"),
    };
    drop(p);
    assert_eq!(s.available_permits(), 1);
}

#[test]
fn semaphore_release_wakes_more_waiters_than_one_wake_batch() {
    let s = Semaphore::new(0);
    let mut futs: Vec<_> = (0..40).map(|_| Box::pin(s.acquire())).collect();
    for f in &mut futs {
        assert!(poll_once(f.as_mut()).is_pending());
    }
    s.add_permits(40);
    for f in &mut futs {
        match poll_once(f.as_mut()) {
            Poll::Ready(p) => p.unwrap().forget(),
            Poll::Pending => panic!("a waiter was not served"),
        }
    }
    assert_eq!(s.available_permits(), 0);
}

#[test]
fn semaphore_close_dequeues_everyone() {
    let s = Semaphore::new(1);
    let mut a = Box::pin(s.acquire_many(3));
    let mut b = Box::pin(s.acquire());
    assert!(poll_once(a.as_mut()).is_pending());
    assert!(poll_once(b.as_mut()).is_pending());
    s.close();
    assert!(matches!(poll_once(a.as_mut()), Poll::Ready(Err(_))));
    drop(b); // dequeued by close, never polled again
    assert_eq!(s.available_permits(), 1);
}

#[test]
fn rwlock_writer_cancelled_after_partial_grant() {
    let l = RwLock::with_max_readers(0, 3);
    let r1 = l.try_read().unwrap();
    let r2 = l.try_read().unwrap();
    let mut w = Box::pin(l.write());
    assert!(poll_once(w.as_mut()).is_pending());
    drop(r1); // the writer now owns 2 of 3
    let mut r3 = pin!(l.read());
    assert!(poll_once(r3.as_mut()).is_pending());
    drop(w);
    assert!(poll_once(r3.as_mut()).is_ready());
    drop(r2);
}

#[test]
fn notify_waiters_with_many_waiters_and_dropped_ones() {
    let n = Notify::new();
    let mut futs: Vec<_> = (0..40).map(|_| Box::pin(n.notified())).collect();
    for f in &mut futs {
        assert!(poll_once(f.as_mut()).is_pending());
    }
    // Drop some queued ones first (unlinked from the middle).
    futs.drain(10..15);
    n.notify_waiters();
    for f in &mut futs {
        assert!(poll_once(f.as_mut()).is_ready());
    }
}

#[test]
fn notify_one_forwarded_by_drop_and_enable() {
    let n = Notify::new();
    let mut a = Box::pin(n.notified());
    let mut b = Box::pin(n.notified());
    assert!(!a.as_mut().enable());
    assert!(poll_once(b.as_mut()).is_pending());
    n.notify_one(); // to `a`
    drop(a); // forwards to `b`
    assert!(poll_once(b.as_mut()).is_ready());
    let mut c = Box::pin(n.notified());
    assert!(poll_once(c.as_mut()).is_pending());
}

#[test]
fn broadcast_waiters_unlink_on_drop_and_wake_on_send() {
    let (tx, mut rx1) = broadcast::channel(2);
    let mut rx2 = tx.subscribe();
    {
        let mut r = pin!(rx1.recv());
        assert!(poll_once(r.as_mut()).is_pending());
    }
    let mut r2 = Box::pin(rx2.recv());
    assert!(poll_once(r2.as_mut()).is_pending());
    tx.send(1).unwrap();
    assert_eq!(poll_once(r2.as_mut()), Poll::Ready(Ok(1)));
    drop(r2);
    assert_eq!(rx1.try_recv(), Ok(1));
    drop(tx);
    assert_eq!(
        block_on(rx2.recv()),
        Err(broadcast::error::RecvError::Closed)
    );
}

#[test]
fn threaded_mutex_and_semaphore() {
    let m = Arc::new(Mutex::new(0));
    let s = Arc::new(Semaphore::new(1));
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let (m, s) = (m.clone(), s.clone());
            thread::spawn(move || {
                for _ in 0..20 {
                    *block_on(m.lock()) += 1;
                    drop(block_on(s.acquire()).unwrap());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*m.try_lock().unwrap(), 60);
    assert_eq!(s.available_permits(), 1);
}

#[test]
fn threaded_rwlock_notify_barrier() {
    let l = Arc::new(RwLock::new(0));
    let n = Arc::new(Notify::new());
    let b = Arc::new(Barrier::new(3));
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let (l, n, b) = (l.clone(), n.clone(), b.clone());
            thread::spawn(move || {
                for _ in 0..10 {
                    if i == 0 {
                        *block_on(l.write()) += 1;
                    } else {
                        let _ = *block_on(l.read());
                    }
                }
                block_on(b.wait());
                if i == 0 {
                    n.notify_one();
                } else if i == 1 {
                    block_on(n.notified());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*l.try_read().unwrap(), 10);
}

#[test]
fn threaded_channels() {
    let (tx, mut rx) = mpsc::channel(2);
    let (utx, mut urx) = mpsc::unbounded_channel();
    let (otx, orx) = oneshot::channel();
    let (wtx, mut wrx) = watch::channel(0);
    let producer = thread::spawn(move || {
        for i in 0..30 {
            block_on(tx.send(i)).unwrap();
            utx.send(i).unwrap();
        }
        wtx.send(1).unwrap();
        otx.send("done").unwrap();
        wtx
    });
    for i in 0..30 {
        assert_eq!(block_on(rx.recv()), Some(i));
        assert_eq!(block_on(urx.recv()), Some(i));
    }
    assert_eq!(block_on(orx), Ok("done"));
    block_on(wrx.changed()).unwrap();
    assert_eq!(*wrx.borrow(), 1);
    drop(producer.join().unwrap());
    assert_eq!(block_on(rx.recv()), None);
    assert!(block_on(wrx.changed()).is_err());
}

#[test]
fn threaded_blocking_mutex() {
    let m = Arc::new(blocking::Mutex::new(0));
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let m = m.clone();
            thread::spawn(move || {
                for _ in 0..50 {
                    *m.lock() += 1;
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*m.lock(), 150);
}

/// A thread behind a long-held thread lock stops spinning and parks: it
/// marks the lock contended before sleeping, so the holder's unlock wakes
/// it. (`Backoff::spin` alone never completes, which once made such a
/// waiter spin until the holder let go.)
#[test]
#[cfg_attr(miri, ignore)] // thousands of spin and yield rounds
fn a_waiter_behind_a_long_held_blocking_mutex_parks() {
    let m = Arc::new(blocking::Mutex::new(0));
    let guard = m.lock();
    let m2 = m.clone();
    let waiter = thread::spawn(move || *m2.lock() += 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !m.is_contended() {
        assert!(
            std::time::Instant::now() < deadline,
            "the waiter never announced itself as a sleeper"
        );
        thread::yield_now();
    }
    drop(guard);
    waiter.join().unwrap();
    assert_eq!(*m.lock(), 1);
}

/// A oneshot receiver parked with one waker and then awaited with another
/// (it moved to another task) while the value is sent from another thread:
/// the waker slot changes hands without a race, and the value arrives.
#[test]
fn threaded_oneshot_receiver_changes_waker() {
    for _ in 0..20 {
        let (tx, rx) = oneshot::channel();
        let mut rx = Box::pin(rx);
        assert!(poll_once(rx.as_mut()).is_pending());
        let sender = thread::spawn(move || tx.send(String::from("v")).unwrap());
        assert_eq!(block_on(rx), Ok(String::from("v")));
        sender.join().unwrap();
    }
}

/// A oneshot's handles are one pointer each: the engine's per-handle state
/// lives in the shared allocation, so moving a handle (into a request, an
/// async state machine) stays a register copy.
#[test]
fn oneshot_handles_are_one_pointer() {
    assert_eq!(
        std::mem::size_of::<oneshot::Sender<[u8; 64]>>(),
        std::mem::size_of::<usize>()
    );
    assert_eq!(
        std::mem::size_of::<oneshot::Receiver<[u8; 64]>>(),
        std::mem::size_of::<usize>()
    );
}

#[test]
fn a_lock_future_stays_within_128_bytes() {
    // Past 128 bytes, moving the future into its caller's state machine is
    // a `memcpy` call on every `lock().await` (see `tracking.rs`).
    let m = crate::sync::Mutex::new(0u64);
    assert!(std::mem::size_of_val(&m.lock()) <= 128);
    let l = crate::sync::RwLock::new(0u64);
    assert!(std::mem::size_of_val(&l.read()) <= 128);
    assert!(std::mem::size_of_val(&l.write()) <= 128);
}

/// A contended lock future dropped while queued leaves nothing behind (its
/// token is parked in one word between polls, not boxed, and its counted
/// wait ends with the token): a leaked wait would make this thread look
/// able to progress forever, and hide the deadlock it later takes part in.
#[test]
fn a_lock_future_dropped_while_queued_leaves_no_wait_behind() {
    use crate::validation::{take_reports_matching, LockClass, ViolationKind};
    use std::sync::mpsc::channel;
    static A: LockClass = LockClass::new("unit_parked_drop_a");
    static B: LockClass = LockClass::new("unit_parked_drop_b");
    let a = Arc::new(Mutex::with_class(0u32, &A));
    let b = Arc::new(Mutex::with_class(0u32, &B));
    let ga = block_on(a.lock());
    let (a2, b2) = (a.clone(), b.clone());
    let (waiting_tx, waiting_rx) = channel();
    let (done_tx, done_rx) = channel::<()>();
    let t = thread::spawn(move || {
        for _ in 0..2 {
            // Twice: the first wait of a thread lists it, the second takes
            // the short path.
            let mut f = pin!(a2.lock());
            assert!(poll_once(f.as_mut()).is_pending());
        }
        let gb = block_on(b2.lock());
        let mut f = pin!(a2.lock());
        assert!(poll_once(f.as_mut()).is_pending()); // waits for A, holding B
        waiting_tx.send(()).unwrap();
        done_rx.recv().unwrap();
        drop(gb);
    });
    waiting_rx.recv().unwrap();
    {
        let mut f = pin!(b.lock());
        assert!(poll_once(f.as_mut()).is_pending()); // closes the cycle
    }
    let v = take_reports_matching(|v| {
        v.kind() == ViolationKind::Deadlock && v.to_json().contains("unit_parked_drop")
    });
    drop(ga);
    done_tx.send(()).unwrap();
    t.join().unwrap();
    assert_eq!(v.len(), 1, "{v:#?}");
    take_reports_matching(|v| v.to_json().contains("unit_parked_drop"));
}
