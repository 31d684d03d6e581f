//! Lock-order inversions: found the first time the closing order is seen,
//! for cycles of any length, and never for a consistent order.

use super::{take, take_kind, thread};
use crate::{
    set_thread_mode, stats, Access::*, LockClass, LockKind, LockMeta, Mode, ViolationKind,
};

#[test]
fn abba_between_threads_is_reported_once_without_deadlocking() {
    static A: LockClass = LockClass::new("lo_abba_a");
    static B: LockClass = LockClass::new("lo_abba_b");
    let a = std::sync::Arc::new(LockMeta::with_class(LockKind::Mutex, &A));
    let b = std::sync::Arc::new(LockMeta::with_class(LockKind::Mutex, &B));
    let (a2, b2) = (a.clone(), b.clone());
    thread("lo-abba-first", move || {
        let _ga = a2.acquire(Exclusive);
        let _gb = b2.acquire(Exclusive);
    })
    .join()
    .unwrap();
    let (a3, b3) = (a.clone(), b.clone());
    thread("lo-abba-second", move || {
        for _ in 0..3 {
            let _gb = b3.acquire(Exclusive);
            let _ga = a3.acquire(Exclusive);
        }
    })
    .join()
    .unwrap();
    let r = take("lo_abba_a");
    assert_eq!(r.len(), 1, "one distinct inversion: {r:#?}");
    let v = &r[0];
    assert_eq!(v.kind(), ViolationKind::LockOrderInversion);
    // Both sides, with their contexts and sites.
    let names: Vec<_> = v.contexts().iter().filter_map(|c| c.name()).collect();
    assert_eq!(names, ["lo-abba-second", "lo-abba-first"]);
    assert!(v
        .sites()
        .iter()
        .all(|s| s.file().ends_with("lock_order.rs")));
    assert_eq!(v.sites().len(), 4, "two acquisitions per side");
    assert_eq!(v.dependency_chain().len(), 1);
    assert!(v.advice().contains("`lo_abba_a`") && v.advice().contains("`lo_abba_b`"));
}

#[test]
fn consistent_order_is_never_reported() {
    static A: LockClass = LockClass::new("lo_consistent_a");
    static B: LockClass = LockClass::new("lo_consistent_b");
    static C: LockClass = LockClass::new("lo_consistent_c");
    let a = LockMeta::with_class(LockKind::Mutex, &A);
    let b = LockMeta::with_class(LockKind::Mutex, &B);
    let c = LockMeta::with_class(LockKind::RwLock, &C);
    for _ in 0..10 {
        let _ga = a.acquire(Exclusive);
        let _gb = b.acquire(Exclusive);
        let _gc = c.acquire(Shared);
    }
    // Releasing out of order, then taking a later lock: still consistent.
    let ga = a.acquire(Exclusive);
    let gb = b.acquire(Exclusive);
    drop(ga);
    let gc = c.acquire(Exclusive);
    drop(gb);
    drop(gc);
    {
        let _gb = b.acquire(Exclusive);
        let _gc = c.acquire(Exclusive);
    }
    assert!(take("lo_consistent").is_empty());
}

#[test]
fn three_lock_cycle_is_reported_with_the_whole_chain() {
    static X: LockClass = LockClass::new("lo_cyc_x");
    static Y: LockClass = LockClass::new("lo_cyc_y");
    static Z: LockClass = LockClass::new("lo_cyc_z");
    let x = LockMeta::with_class(LockKind::Mutex, &X);
    let y = LockMeta::with_class(LockKind::Mutex, &Y);
    let z = LockMeta::with_class(LockKind::Mutex, &Z);
    {
        let _g1 = x.acquire(Exclusive);
        let _g2 = y.acquire(Exclusive);
    }
    {
        let _g1 = y.acquire(Exclusive);
        let _g2 = z.acquire(Exclusive);
    }
    assert!(take("lo_cyc_x").is_empty(), "no cycle yet");
    {
        let _g1 = z.acquire(Exclusive);
        let _g2 = x.acquire(Exclusive); // closes x -> y -> z -> x
    }
    let r = take_kind("lo_cyc_x", ViolationKind::LockOrderInversion);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].dependency_chain().len(), 2, "x -> y -> z");
    assert_eq!(
        r[0].sides().len(),
        3,
        "the new order and both existing edges"
    );
}

#[test]
fn a_trylock_adds_no_edge_into_itself() {
    static P: LockClass = LockClass::new("lo_try_p");
    static Q: LockClass = LockClass::new("lo_try_q");
    let p = LockMeta::with_class(LockKind::Mutex, &P);
    let q = LockMeta::with_class(LockKind::Mutex, &Q);
    {
        let _g1 = p.acquire(Exclusive);
        let _g2 = q.acquire(Exclusive);
    }
    {
        // q then try p: a try cannot block, so no inversion.
        let _g1 = q.acquire(Exclusive);
        let _g2 = p.try_acquired(Exclusive);
    }
    assert!(take("lo_try_p").is_empty());
}

#[test]
fn locks_taken_under_a_trylock_are_ordered_after_it() {
    static P: LockClass = LockClass::new("lo_under_try_p");
    static Q: LockClass = LockClass::new("lo_under_try_q");
    let p = LockMeta::with_class(LockKind::Mutex, &P);
    let q = LockMeta::with_class(LockKind::Mutex, &Q);
    {
        let _g1 = p.try_acquired(Exclusive);
        let _g2 = q.acquire(Exclusive); // edge p -> q
    }
    {
        let _g1 = q.acquire(Exclusive);
        let _g2 = p.acquire(Exclusive); // q -> p closes it
    }
    assert_eq!(
        take_kind("lo_under_try_p", ViolationKind::LockOrderInversion).len(),
        1
    );
}

#[test]
fn owned_acquisitions_are_checked_but_not_recorded() {
    static P: LockClass = LockClass::new("lo_owned_p");
    static Q: LockClass = LockClass::new("lo_owned_q");
    let p = LockMeta::with_class(LockKind::Mutex, &P);
    let q = LockMeta::with_class(LockKind::Mutex, &Q);
    {
        let _g1 = p.acquire(Exclusive);
        q.check_owned(Exclusive); // edge p -> q, q not recorded
        let s = crate::context::current().unwrap();
        // SAFETY: this thread's own state, read-only.
        assert_eq!(unsafe { (*s).with_owned(|o| o.held.len()) }, 1);
    }
    {
        let _g1 = q.acquire(Exclusive);
        p.check_owned(Exclusive); // q -> p: inversion
    }
    let r = take("lo_owned_p");
    assert_eq!(r.len(), 1, "{r:#?}");
    assert_eq!(r[0].kind(), ViolationKind::LockOrderInversion);
}

#[test]
fn a_validated_chain_is_cached_and_a_new_one_is_not() {
    let a = LockMeta::new(LockKind::Mutex);
    let b = LockMeta::new(LockKind::Mutex);
    let c = LockMeta::new(LockKind::Mutex);
    {
        let _g1 = a.acquire(Exclusive);
        let _g2 = b.acquire(Exclusive);
    }
    let _g1 = a.acquire(Exclusive);
    let s = crate::context::current().unwrap();
    // SAFETY: this thread's own state, read-only.
    let top = unsafe { (*s).with_owned(|o| o.top_chain()) };
    let key =
        |m: &LockMeta| crate::chain::mix(top, crate::context::state::chain_input(m.word(), 0));
    assert!(crate::chain::cached(key(&b)), "a then b was validated");
    assert!(crate::engine::get().chains.contains(key(&b)));
    assert!(!crate::chain::cached(key(&c)), "a then c never happened");
    assert!(!crate::engine::get().chains.contains(key(&c)));
    let edges = stats().order_edges;
    let _g2 = c.acquire(Exclusive);
    assert!(crate::chain::cached(key(&c)));
    assert!(stats().order_edges > edges, "the new edge a -> c");
}

#[test]
fn panic_mode_panics_with_the_report_and_leaves_no_stale_entry() {
    static A: LockClass = LockClass::new("lo_panic_a");
    static B: LockClass = LockClass::new("lo_panic_b");
    let a = LockMeta::with_class(LockKind::Mutex, &A);
    let b = LockMeta::with_class(LockKind::Mutex, &B);
    {
        let _g1 = a.acquire(Exclusive);
        let _g2 = b.acquire(Exclusive);
    }
    let prev = set_thread_mode(Some(Mode::Panic));
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _g1 = b.acquire(Exclusive);
        let _g2 = a.acquire(Exclusive);
    }))
    .expect_err("the inversion panics");
    set_thread_mode(prev);
    let msg = err.downcast_ref::<String>().expect("a String payload");
    assert!(
        msg.contains("LockOrderInversion") && msg.contains("lo_panic_a"),
        "{msg}"
    );
    // The panicking acquisition was never recorded: `a` is free to take.
    let _g1 = a.acquire(Exclusive);
    let s = crate::context::current().unwrap();
    // SAFETY: this thread's own state, read-only.
    assert_eq!(unsafe { (*s).with_owned(|o| o.held.len()) }, 1);
    drop(_g1);
    assert_eq!(take("lo_panic_a").len(), 1, "recorded as well as raised");
}

#[test]
fn off_mode_tracks_nothing() {
    static A: LockClass = LockClass::new("lo_off_a");
    static B: LockClass = LockClass::new("lo_off_b");
    let a = LockMeta::with_class(LockKind::Mutex, &A);
    let b = LockMeta::with_class(LockKind::Mutex, &B);
    let prev = set_thread_mode(Some(Mode::Off));
    {
        let g = a.acquire(Exclusive);
        assert!(!g.is_tracked());
        let _g2 = b.acquire(Exclusive);
    }
    {
        let _g1 = b.acquire(Exclusive);
        let _g2 = a.acquire(Exclusive);
    }
    set_thread_mode(prev);
    assert!(take("lo_off_a").is_empty());
}

#[test]
fn a_lock_still_waited_for_orders_nothing_and_is_not_cached_as_held() {
    let _s = super::serial();
    static P: LockClass = LockClass::new("lo_pending_p");
    static Q: LockClass = LockClass::new("lo_pending_q");
    let p = LockMeta::with_class(LockKind::Mutex, &P);
    let q = LockMeta::with_class(LockKind::Mutex, &Q);
    {
        // As in a `join!`: one branch waits for p, the other takes q.
        let hp = p.acquire(Exclusive);
        let wait = p.wait(&hp);
        let _gq = q.acquire(Exclusive);
        drop(wait);
    }
    {
        // Now q, then p for real: no edge p -> q exists, so no inversion.
        let _gq = q.acquire(Exclusive);
        let _gp = p.acquire(Exclusive);
    }
    assert!(take("lo_pending").is_empty());
    {
        // p held, then q: the chain was not cached while p was pending, so
        // this order is checked now and closes q -> p.
        let _gp = p.acquire(Exclusive);
        let _gq = q.acquire(Exclusive);
    }
    assert_eq!(
        take_kind("lo_pending", ViolationKind::LockOrderInversion).len(),
        1
    );
}
