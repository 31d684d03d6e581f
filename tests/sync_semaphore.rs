//! `sync::Semaphore`: counting, batch acquires served in FIFO order (a big
//! request is not starved by small ones), cancellation that passes on
//! partially assigned permits, close, forget/merge/split, the argument
//! checks, the cooperative budget, and the auto traits.

mod sync_support;

use perf_runtime::sync::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use sync_support::*;

#[test]
fn permits_are_counted_and_returned_on_drop() {
    let s = Semaphore::new(3);
    let a = s.try_acquire().unwrap();
    let b = s.try_acquire_many(2).unwrap();
    assert_eq!(b.num_permits(), 2);
    assert_eq!(s.available_permits(), 0);
    assert_eq!(s.try_acquire().err(), Some(TryAcquireError::NoPermits));
    drop(a);
    assert_eq!(s.available_permits(), 1);
    drop(b);
    assert_eq!(s.available_permits(), 3);
    s.add_permits(2);
    assert_eq!(s.available_permits(), 5);
}

#[test]
fn a_large_request_is_not_overtaken_by_later_small_ones() {
    let s = Semaphore::new(2);
    let held = s.try_acquire_many(2).unwrap();
    let mut big = task(s.acquire_many(2));
    big.pending();
    let mut small = task(s.acquire());
    small.pending();
    // One permit back: it goes to the head of the queue (the big request,
    // still one short), not to the small request behind it.
    let mut held = held;
    let one = held.split(1).unwrap();
    drop(one);
    assert!(!big.is_woken() && !small.is_woken());
    assert_eq!(s.available_permits(), 0);
    assert!(
        s.try_acquire().is_err(),
        "a newcomer cannot take a permit owed to the queue"
    );
    drop(held);
    assert!(big.is_woken());
    assert!(!small.is_woken());
    let big_permit = big.ready().unwrap();
    assert_eq!(big_permit.num_permits(), 2);
    small.pending();
    drop(big_permit);
    assert!(small.is_woken());
    drop(small.ready().unwrap());
}

#[test]
fn waiters_are_served_in_fifo_order() {
    let s = Semaphore::new(0);
    let mut waiters: Vec<_> = (0..4).map(|_| task(s.acquire())).collect();
    for w in &mut waiters {
        w.pending();
    }
    for i in 0..4 {
        s.add_permits(1);
        for (j, w) in waiters.iter().enumerate() {
            assert_eq!(w.is_woken(), j == i, "add #{i} wakes waiter {i} only");
        }
        waiters[i].ready().unwrap().forget();
    }
}

#[test]
fn a_cancelled_acquire_passes_on_the_permits_it_was_assigned() {
    let s = Semaphore::new(3);
    let held = s.try_acquire_many(3).unwrap();
    let mut big = task(s.acquire_many(3));
    let mut small = task(s.acquire());
    big.pending();
    small.pending();
    let mut held = held;
    drop(held.split(2).unwrap()); // 2 of big's 3 are now assigned to it
    assert_eq!(s.available_permits(), 0);
    drop(big);
    // The 2 permits come back: `small` gets one, one is left over.
    assert!(small.is_woken());
    let p = small.ready().unwrap();
    assert_eq!(s.available_permits(), 1);
    drop((p, held));
    assert_eq!(s.available_permits(), 3, "no permit was lost");

    // Granted in full but dropped before it was polled again.
    let s = Semaphore::new(1);
    let held = s.try_acquire().unwrap();
    let mut a = task(s.acquire());
    let mut b = task(s.acquire());
    a.pending();
    b.pending();
    drop(held);
    assert!(a.is_woken());
    drop(a);
    assert!(b.is_woken());
    drop(b.ready().unwrap());
    assert_eq!(s.available_permits(), 1);
}

#[test]
fn close_fails_waiters_and_later_acquires_but_not_held_permits() {
    let s = Semaphore::new(2);
    let held = s.try_acquire().unwrap();
    let mut waiter = task(s.acquire_many(2));
    waiter.pending();
    assert!(!s.is_closed());
    s.close();
    assert!(s.is_closed());
    assert!(waiter.is_woken());
    let err: AcquireError = waiter.ready().unwrap_err();
    assert!(err.to_string().contains("closed"), "{err}");
    assert_eq!(s.try_acquire().err(), Some(TryAcquireError::Closed));
    let mut late = task(s.acquire());
    assert!(late.ready().is_err());
    // The permit partly assigned to the closed waiter was returned, and the
    // held one still counts when it comes back.
    drop(held);
    assert_eq!(s.available_permits(), 2);
    assert!(TryAcquireError::Closed.is_closed());
    assert!(TryAcquireError::NoPermits.is_no_permits());
}

#[test]
fn forget_merge_split_and_forget_permits() {
    let s = Semaphore::new(5);
    let p = s.try_acquire_many(2).unwrap();
    p.forget();
    assert_eq!(s.available_permits(), 3);
    let mut a = s.try_acquire().unwrap();
    let b = s.try_acquire().unwrap();
    a.merge(b);
    assert_eq!(a.num_permits(), 2);
    assert!(a.split(3).is_none());
    let c = a.split(1).unwrap();
    assert_eq!((a.num_permits(), c.num_permits()), (1, 1));
    drop((a, c));
    assert_eq!(s.available_permits(), 3);
    assert_eq!(s.forget_permits(2), 2);
    assert_eq!(s.forget_permits(5), 1);
    assert_eq!(s.available_permits(), 0);

    let s = Arc::new(Semaphore::new(3));
    let mut p = s.clone().try_acquire_many_owned(2).unwrap();
    let q = s.clone().try_acquire_owned().unwrap();
    p.merge(q);
    assert_eq!(p.num_permits(), 3);
    assert!(Arc::ptr_eq(p.semaphore(), &s));
    let r = p.split(2).unwrap();
    r.forget();
    drop(p);
    assert_eq!(s.available_permits(), 1);
}

#[test]
#[should_panic(expected = "different semaphore")]
fn merging_permits_of_different_semaphores_panics() {
    let (s1, s2) = (Semaphore::new(1), Semaphore::new(1));
    let mut a = s1.try_acquire().unwrap();
    a.merge(s2.try_acquire().unwrap());
}

#[test]
fn impossible_permit_counts_panic_naming_the_argument() {
    let err = std::panic::catch_unwind(|| Semaphore::new(Semaphore::MAX_PERMITS + 1))
        .expect_err("too many permits must panic");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("`permits`"), "{msg}");
    let s = Semaphore::new(Semaphore::MAX_PERMITS);
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.add_permits(1)))
        .expect_err("overflowing MAX_PERMITS must panic");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("MAX_PERMITS"), "{msg}");
}

/// An `add_permits` that would overflow panics before it changes anything:
/// a queued waiter is not served by the call that panics, and the count is
/// what it was.
#[test]
fn overflowing_add_permits_with_a_waiter_queued_grants_nothing() {
    let s = Semaphore::new(0);
    let mut waiter = task(s.acquire());
    waiter.pending();
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // The waiter would take 1; the rest still overflows.
        s.add_permits(Semaphore::MAX_PERMITS + 2)
    }))
    .expect_err("overflowing MAX_PERMITS must panic");
    assert!(!waiter.is_woken(), "the panicking call served the waiter");
    assert_eq!(s.available_permits(), 0);
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("would overflow MAX_PERMITS"), "{msg}");
    waiter.pending();
    // The semaphore still works: the waiter is served by the next release.
    s.add_permits(1);
    assert!(waiter.is_woken());
    drop(waiter.ready().unwrap());
    assert_eq!(s.available_permits(), 1);
}

#[test]
fn owned_permits_limit_concurrency_across_workers() {
    within(|| {
        let rt = multi_thread();
        rt.block_on(async {
            let s = Arc::new(Semaphore::new(3));
            let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let tasks: Vec<_> = (0..12)
                .map(|_| {
                    let (s, inside, peak) = (s.clone(), inside.clone(), peak.clone());
                    perf_runtime::spawn(async move {
                        for _ in 0..50 {
                            let _p: OwnedSemaphorePermit = s.clone().acquire_owned().await.unwrap();
                            let now = inside.fetch_add(1, SeqCst) + 1;
                            peak.fetch_max(now, SeqCst);
                            perf_runtime::task::yield_now().await;
                            inside.fetch_sub(1, SeqCst);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            assert!(peak.load(SeqCst) <= 3, "at most 3 holders at once");
            assert_eq!(s.available_permits(), 3);
        });
    });
}

#[test]
fn an_always_ready_acquire_loop_yields_to_other_tasks() {
    assert_yields(|flag| async move {
        let s = Semaphore::new(1);
        let mut n = 0;
        while !flag.load(SeqCst) {
            drop(s.acquire().await.unwrap());
            n += 1;
            assert!(n < YIELD_LIMIT, "acquire() never yielded");
        }
    });
}

#[test]
fn auto_traits_match_tokio() {
    fn send_sync<T: Send + Sync>() {}
    fn error<E: std::error::Error + Send + Sync + 'static>() {}
    send_sync::<Semaphore>();
    send_sync::<SemaphorePermit<'static>>();
    send_sync::<OwnedSemaphorePermit>();
    error::<AcquireError>();
    error::<TryAcquireError>();
    fn send_future<F: std::future::Future + Send>(_: &F) {}
    let s = Semaphore::new(1);
    send_future(&s.acquire());
    send_future(&Arc::new(Semaphore::new(1)).acquire_many_owned(1));
    static GLOBAL: Semaphore = Semaphore::const_new(2);
    assert_eq!(GLOBAL.available_permits(), 2);
}
