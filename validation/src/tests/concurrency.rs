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

/// Slot waits under real threads: each thread starts waits in its slot and
/// ends half of them itself and half on another thread, while a scanner
/// reads every slot. Nothing is reported (the scan's "now" is the present,
/// under the threshold), nothing is left in the registry's counts at the
/// end, and (under Miri) no access races.
#[test]
fn slot_waits_ended_here_and_elsewhere_while_a_scan_reads_them() {
    use crate::{scan, WaitKind, WaitMeta};
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    use std::time::Instant;
    let _s = super::serial();
    const THREADS: u64 = 3;
    const WAITS: usize = if cfg!(miri) { 8 } else { 400 };
    let notify = Arc::new(WaitMeta::new(WaitKind::Notify));
    let stop = Arc::new(AtomicBool::new(false));
    let scanner = {
        let stop = stop.clone();
        thread("cc-slot-scan", move || {
            let mut scans = 0u32;
            while !stop.load(Relaxed) || scans == 0 {
                assert!(scan(Instant::now()).is_empty());
                scans += 1;
            }
        })
    };
    let (ender_tx, ender_rx) = channel::<crate::Waiting>();
    let ender = thread("cc-slot-ender", move || {
        for w in ender_rx {
            drop(w);
        }
    });
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (notify, ender_tx) = (notify.clone(), ender_tx.clone());
            thread(&format!("cc-slot-{t}"), move || {
                for i in 0..WAITS {
                    let w = notify.wait();
                    if i % 2 == 0 {
                        drop(w);
                    } else {
                        ender_tx.send(w).unwrap();
                    }
                }
            })
        })
        .collect();
    drop(ender_tx);
    for w in workers {
        w.join().unwrap();
    }
    ender.join().unwrap();
    stop.store(true, Relaxed);
    scanner.join().unwrap();
    assert_eq!(
        crate::engine::get().waits.len(),
        0,
        "every wait ended, here or elsewhere"
    );
    assert!(take("cc-slot").is_empty());
}
