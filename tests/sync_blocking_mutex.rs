//! `sync::blocking::Mutex`: exclusion under heavy thread contention (which
//! drives the spin-then-park path), no poisoning, use from async tasks for
//! short sections, `const` construction, and the auto traits (the guard is
//! `!Send`: that half is a `compile_fail` doctest on the type).

mod sync_support;

use perf_runtime::sync::blocking::{Mutex, MutexGuard};
use std::sync::Arc;
use std::thread;
use sync_support::*;

#[test]
fn lock_try_lock_and_accessors() {
    let mut m = Mutex::new(1);
    *m.get_mut() += 1;
    {
        let mut g = m.lock();
        *g += 1;
        assert!(m.is_locked());
        assert!(m.try_lock().is_none());
        assert_eq!(format!("{m:?}"), "blocking::Mutex { data: <locked> }");
        assert_eq!(format!("{g} {g:?}"), "3 3");
    }
    assert!(!m.is_locked());
    assert_eq!(format!("{m:?}"), "blocking::Mutex { data: 3 }");
    assert_eq!(*m.try_lock().unwrap(), 3);
    assert_eq!(m.into_inner(), 3);
    static GLOBAL: Mutex<Vec<u8>> = Mutex::new(Vec::new());
    GLOBAL.lock().push(1);
    assert_eq!(*GLOBAL.lock(), [1]);
    assert_eq!(Mutex::<u8>::default().into_inner(), 0);
}

#[test]
fn contended_increments_from_many_threads_are_never_lost() {
    within(|| {
        const THREADS: usize = 4;
        const EACH: usize = 50_000;
        let m = Arc::new(Mutex::new(0usize));
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let m = m.clone();
                thread::spawn(move || {
                    for i in 0..EACH {
                        let mut g = m.lock();
                        let v = *g;
                        if (i + t) % 512 == 0 {
                            // A long section now and then: waiters exhaust
                            // their spins and park.
                            thread::yield_now();
                        }
                        *g = v + 1;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(*m.lock(), THREADS * EACH);
    });
}

#[test]
fn a_parked_waiter_is_woken_by_the_unlock() {
    within(|| {
        let m = Arc::new(Mutex::new(0));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let g = m.lock();
        let m2 = m.clone();
        let waiter = thread::spawn(move || {
            ready_tx.send(()).unwrap();
            *m2.lock() += 1; // blocks (spins, then parks) until `g` drops
        });
        ready_rx.recv().unwrap();
        // However long the waiter has been blocked, the unlock must wake it.
        for _ in 0..1000 {
            thread::yield_now();
        }
        drop(g);
        waiter.join().unwrap();
        assert_eq!(*m.lock(), 1);
    });
}

#[test]
fn a_panic_while_locked_unlocks_without_poisoning() {
    let m = Arc::new(Mutex::new(1));
    let m2 = m.clone();
    let r = thread::spawn(move || {
        let _g = m2.lock();
        panic!("boom");
    })
    .join();
    assert!(r.is_err());
    assert!(!m.is_locked());
    assert_eq!(*m.lock(), 1);
}

#[test]
fn short_sections_inside_async_tasks() {
    within(|| {
        let rt = multi_thread();
        rt.block_on(async {
            let m = Arc::new(Mutex::new(0u64));
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let m = m.clone();
                    perf_runtime::spawn(async move {
                        for _ in 0..1000 {
                            *m.lock() += 1;
                            perf_runtime::task::yield_now().await;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(*m.lock(), 8000);
        });
    });
}

#[test]
fn auto_traits() {
    fn send_sync<T: Send + Sync>() {}
    fn sync<T: Sync>() {}
    send_sync::<Mutex<u8>>();
    send_sync::<Mutex<std::cell::Cell<u8>>>();
    sync::<MutexGuard<'static, u8>>();
}
