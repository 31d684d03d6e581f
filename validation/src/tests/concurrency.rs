//! The engine under real threads: consistent orders stay silent, a race to
//! establish opposite orders is reported exactly once, and guards released
//! on other threads are unrecorded reliably.

use super::{take, thread};
use crate::{Access::*, LockClass, LockKind, LockMeta, ViolationKind};
use std::sync::mpsc::channel;
use std::sync::{Arc, Barrier};

#[test]
fn threads_taking_subsets_in_one_order_raise_nothing() {
    static CLASSES: [LockClass; 6] = [
        LockClass::new("cc_order_0"),
        LockClass::new("cc_order_1"),
        LockClass::new("cc_order_2"),
        LockClass::new("cc_order_3"),
        LockClass::new("cc_order_4"),
        LockClass::new("cc_order_5"),
    ];
    let locks: Arc<Vec<LockMeta>> = Arc::new(
        CLASSES
            .iter()
            .map(|c| LockMeta::with_class(LockKind::Mutex, c))
            .collect(),
    );
    let start = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let (locks, start) = (locks.clone(), start.clone());
            thread(&format!("cc-order-{t}"), move || {
                start.wait();
                let mut x = t * 7 + 1;
                for _ in 0..300 {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let mask = (x >> 33) as usize;
                    let held: Vec<_> = (0..locks.len())
                        .filter(|i| mask & (1 << i) != 0)
                        .map(|i| locks[i].acquire(Exclusive))
                        .collect();
                    drop(held);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(take("cc_order").is_empty());
}

#[test]
fn a_race_to_opposite_orders_is_reported_exactly_once() {
    for round in 0..10 {
        // Fresh classes each round (a class's inversion is reported once).
        let ca: &'static LockClass = Box::leak(Box::new(LockClass::new("cc_race_a")));
        let cb: &'static LockClass = Box::leak(Box::new(LockClass::new("cc_race_b")));
        let a = Arc::new(LockMeta::with_class(LockKind::Mutex, ca));
        let b = Arc::new(LockMeta::with_class(LockKind::Mutex, cb));
        let start = Arc::new(Barrier::new(2));
        let name = format!("cc-race-{round}-");
        let spawn = |first: Arc<LockMeta>, second: Arc<LockMeta>, who: &str| {
            let start = start.clone();
            thread(&format!("{name}{who}"), move || {
                start.wait();
                let _g1 = first.acquire(Exclusive);
                let _g2 = second.acquire(Exclusive);
            })
        };
        let t1 = spawn(a.clone(), b.clone(), "x");
        let t2 = spawn(b.clone(), a.clone(), "y");
        t1.join().unwrap();
        t2.join().unwrap();
        let v = take(&name);
        assert_eq!(v.len(), 1, "round {round}: {v:#?}");
        assert_eq!(v[0].kind(), ViolationKind::LockOrderInversion);
    }
}

#[test]
fn guards_released_on_another_thread_are_unrecorded_before_the_next_acquire() {
    static M: LockClass = LockClass::new("cc_remote");
    let m = Arc::new(LockMeta::with_class(LockKind::Mutex, &M));
    let (to_dropper, tokens) = channel::<crate::Held>();
    let (dropped, dropped_rx) = channel::<()>();
    let dropper = thread("cc-remote-dropper", move || {
        for t in tokens {
            drop(t);
            dropped.send(()).unwrap();
        }
    });
    for _ in 0..500 {
        let g = m.acquire(Exclusive);
        to_dropper.send(g).unwrap();
        dropped_rx.recv().unwrap();
    }
    drop(to_dropper);
    dropper.join().unwrap();
    assert!(take("cc_remote").is_empty());
    let s = crate::context::current().unwrap();
    let _g = m.acquire(Exclusive);
    // SAFETY: this thread's own state, read-only.
    let depth = unsafe { (*s).with_owned(|o| o.held.len()) };
    assert_eq!(depth, 1, "every remote release applied");
}
