//! `sync::Mutex`: mutual exclusion, FIFO hand-off, cancellation (a dropped
//! `lock()` leaves no ghost waiter and passes on a lock it was handed),
//! owned and mapped guards, `blocking_lock`, the cooperative budget, and the
//! auto traits.

mod sync_support;

use perf_runtime::sync::{MappedMutexGuard, Mutex, MutexGuard, OwnedMutexGuard};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use sync_support::*;

#[test]
fn lock_gives_exclusive_access_and_try_lock_fails_while_held() {
    let m = Mutex::new(5);
    let mut t = task(m.lock());
    let mut g = t.ready();
    *g += 1;
    assert!(m.try_lock().is_err());
    drop(g);
    assert_eq!(*m.try_lock().unwrap(), 6);
}

#[test]
fn waiters_get_the_lock_in_fifo_order() {
    let m = Mutex::new(Vec::new());
    let held = m.try_lock().unwrap();
    let mut a = task(async {
        m.lock().await.push('a');
    });
    let mut b = task(async {
        m.lock().await.push('b');
    });
    let mut c = task(async {
        m.lock().await.push('c');
    });
    a.pending();
    b.pending();
    c.pending();
    drop(held);
    // Only the oldest waiter is woken, and the lock is already its own: a
    // newcomer cannot barge in.
    assert!(a.is_woken());
    assert!(!b.is_woken() && !c.is_woken());
    assert!(
        m.try_lock().is_err(),
        "the lock was handed to the queued waiter"
    );
    // Poll the youngest first: it must still wait its turn.
    c.pending();
    b.pending();
    a.ready();
    assert!(b.is_woken());
    b.ready();
    c.ready();
    assert_eq!(*m.try_lock().unwrap(), ['a', 'b', 'c']);
}

#[test]
fn dropping_a_queued_lock_future_leaves_no_ghost_waiter() {
    let m = Mutex::new(0);
    let held = m.try_lock().unwrap();
    let mut a = task(m.lock());
    let mut b = task(m.lock());
    a.pending();
    b.pending();
    drop(a);
    drop(held);
    assert!(
        b.is_woken(),
        "the next waiter is woken, not the cancelled one"
    );
    let g = b.ready();
    drop(g);
    assert!(m.try_lock().is_ok());
}

#[test]
fn a_cancelled_waiter_that_was_handed_the_lock_passes_it_on() {
    let m = Mutex::new(0);
    let held = m.try_lock().unwrap();
    let mut a = task(m.lock());
    let mut b = task(m.lock());
    a.pending();
    b.pending();
    drop(held); // the lock now belongs to `a`, which has not polled yet
    assert!(a.is_woken());
    drop(a);
    assert!(b.is_woken(), "the lock `a` owned was handed to `b`");
    *b.ready() += 1;
    assert_eq!(*m.try_lock().unwrap(), 1);
}

#[test]
fn owned_guards_outlive_the_borrow_and_release_on_drop() {
    let m = Arc::new(Mutex::new(String::from("a")));
    let mut t = task(m.clone().lock_owned());
    let mut g: OwnedMutexGuard<String> = t.ready();
    g.push('b');
    assert!(Arc::ptr_eq(OwnedMutexGuard::mutex(&g), &m));
    assert!(m.clone().try_lock_owned().is_err());
    drop(g);
    let g = m.clone().try_lock_owned().unwrap();
    assert_eq!(*g, "ab");
}

#[test]
fn mapped_guards_hold_the_lock_until_dropped() {
    let m = Mutex::new((1, String::from("x")));
    let g = m.try_lock().unwrap();
    let mut s: MappedMutexGuard<'_, String> = MutexGuard::map(g, |t| &mut t.1);
    s.push('y');
    assert!(m.try_lock().is_err());
    drop(s);
    let g = m.try_lock().unwrap();
    let refused = MutexGuard::try_map(g, |_| None::<&mut u8>);
    let g = refused.expect_err("try_map returned the guard");
    assert_eq!(g.1, "xy");
    drop(g);

    let m = Arc::new(Mutex::new((1, 2)));
    let g = m.clone().try_lock_owned().unwrap();
    let mut second = OwnedMutexGuard::map(g, |t| &mut t.1);
    *second += 40;
    assert!(m.try_lock().is_err());
    drop(second);
    assert_eq!(*m.try_lock().unwrap(), (1, 42));
}

#[test]
fn get_mut_into_inner_default_and_debug() {
    let mut m = Mutex::new(1);
    *m.get_mut() += 1;
    assert_eq!(format!("{m:?}"), "Mutex { data: 2 }");
    let g = m.try_lock().unwrap();
    assert_eq!(format!("{m:?}"), "Mutex { data: <locked> }");
    assert_eq!(format!("{g} {g:?}"), "2 2");
    drop(g);
    assert_eq!(m.into_inner(), 2);
    assert_eq!(Mutex::<u8>::default().into_inner(), 0);
    static GLOBAL: Mutex<u32> = Mutex::const_new(7);
    assert_eq!(*GLOBAL.try_lock().unwrap(), 7);
}

#[test]
fn contended_increments_are_never_lost_across_workers() {
    within(|| {
        let rt = multi_thread();
        rt.block_on(async {
            let m = Arc::new(Mutex::new(0u64));
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let m = m.clone();
                    perf_runtime::spawn(async move {
                        for _ in 0..500 {
                            let mut g = m.lock().await;
                            let v = *g;
                            // Hold the guard across a yield: the lock, not
                            // the scheduler, must keep others out.
                            perf_runtime::task::yield_now().await;
                            *g = v + 1;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(*m.lock().await, 8 * 500);
        });
    });
}

#[test]
fn blocking_lock_works_outside_a_runtime_and_panics_inside_one() {
    within(|| {
        let m = Arc::new(Mutex::new(0));
        let held = m.clone().try_lock_owned().unwrap();
        let m2 = m.clone();
        let t = std::thread::spawn(move || {
            *m2.blocking_lock() += 1;
            *m2.clone().blocking_lock_owned() += 1;
        });
        drop(held);
        t.join().unwrap();
        assert_eq!(*m.try_lock().unwrap(), 2);

        let rt = current_thread();
        let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(async { drop(m.blocking_lock()) })
        }))
        .expect_err("blocking_lock inside block_on must panic");
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            msg.contains("Mutex::blocking_lock"),
            "message names the call: {msg}"
        );
        // From spawn_blocking it is allowed.
        let m3 = m.clone();
        rt.block_on(async move {
            perf_runtime::spawn_blocking(move || *m3.blocking_lock() += 1)
                .await
                .unwrap();
        });
        assert_eq!(*m.try_lock().unwrap(), 3);
    });
}

#[test]
fn an_always_ready_lock_loop_yields_to_other_tasks() {
    assert_yields(|flag| async move {
        let m = Mutex::new(0u64);
        let mut n = 0;
        while !flag.load(SeqCst) {
            *m.lock().await += 1;
            n += 1;
            assert!(n < YIELD_LIMIT, "lock() never yielded");
        }
    });
}

#[test]
fn auto_traits_match_tokio() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Mutex<u8>>();
    send_sync::<MutexGuard<'static, u8>>();
    send_sync::<OwnedMutexGuard<u8>>();
    send_sync::<MappedMutexGuard<'static, u8>>();
    send_sync::<perf_runtime::sync::OwnedMappedMutexGuard<u8, u8>>();
    send_sync::<perf_runtime::sync::TryLockError>();
    // A `Cell` is Send but not Sync: the mutex makes it shareable.
    send_sync::<Mutex<std::cell::Cell<u8>>>();
    send::<MutexGuard<'static, std::cell::Cell<u8>>>();
    let m = Mutex::new(0);
    fn send_future<F: std::future::Future + Send>(_: &F) {}
    send_future(&m.lock());
    send_future(&Arc::new(Mutex::new(0)).lock_owned());
}
