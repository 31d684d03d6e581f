//! Actual deadlocks: found when the wait that closes the cycle starts, and
//! never while some holder can still make progress.
//!
//! The threads here do not really block: each registers its waits with the
//! engine, then parks on a test channel until the test has looked.

use super::{serial, take_kind, thread};
use crate::{
    set_thread_mode, stats, timed_scope, Access::*, LockClass, LockKind, LockMeta, Mode,
    ViolationKind,
};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

/// A one-way signal between a test and its threads.
fn signal() -> (Sender<()>, Receiver<()>) {
    channel()
}

fn class_pair(a: &'static LockClass, b: &'static LockClass) -> (Arc<LockMeta>, Arc<LockMeta>) {
    (
        Arc::new(LockMeta::with_class(LockKind::Mutex, a)),
        Arc::new(LockMeta::with_class(LockKind::Mutex, b)),
    )
}

#[test]
fn abba_deadlock_is_reported_when_the_second_wait_starts() {
    let _s = serial();
    static A: LockClass = LockClass::new("dd_abba_a");
    static B: LockClass = LockClass::new("dd_abba_b");
    let (a, b) = class_pair(&A, &B);
    let (ready1, ready1_rx) = signal();
    let (go1, go1_rx) = signal();
    let (end1, end1_rx) = signal();
    let (ready2, ready2_rx) = signal();
    let (go2, go2_rx) = signal();
    let (end2, end2_rx) = signal();
    let (a1, b1) = (a.clone(), b.clone());
    let t1 = thread("dd-abba-1", move || {
        let ha = a1.acquire(Exclusive);
        ready1.send(()).unwrap();
        go1_rx.recv().unwrap();
        let hb = b1.acquire(Exclusive);
        let w = b1.wait(&hb);
        ready1.send(()).unwrap();
        end1_rx.recv().unwrap();
        drop((w, hb, ha));
    });
    let (a2, b2) = (a.clone(), b.clone());
    let t2 = thread("dd-abba-2", move || {
        let hb = b2.acquire(Exclusive);
        ready2.send(()).unwrap();
        go2_rx.recv().unwrap();
        let ha = a2.acquire(Exclusive);
        let w = a2.wait(&ha);
        ready2.send(()).unwrap();
        end2_rx.recv().unwrap();
        drop((w, ha, hb));
    });
    ready1_rx.recv().unwrap();
    ready2_rx.recv().unwrap();
    go1.send(()).unwrap();
    ready1_rx.recv().unwrap(); // t1 waits for b, held by a running t2
    assert!(take_kind("dd_abba", ViolationKind::Deadlock).is_empty());
    go2.send(()).unwrap();
    ready2_rx.recv().unwrap(); // t2 waits for a: the cycle closes
    let v = take_kind("dd_abba", ViolationKind::Deadlock);
    assert_eq!(v.len(), 1, "{v:#?}");
    let names: Vec<_> = v[0].contexts().iter().filter_map(|c| c.name()).collect();
    assert_eq!(names, ["dd-abba-2", "dd-abba-1"]);
    assert_eq!(
        v[0].sites().len(),
        4,
        "each side: what it holds and where it waits"
    );
    assert!(v[0].unsafe_scenario().is_some());
    assert_eq!(
        take_kind("dd_abba", ViolationKind::LockOrderInversion).len(),
        1,
        "the potential was reported too, before t2 waited"
    );
    end1.send(()).unwrap();
    end2.send(()).unwrap();
    t1.join().unwrap();
    t2.join().unwrap();
}

#[test]
fn waiting_for_a_running_holder_is_not_a_deadlock() {
    let _s = serial();
    static A: LockClass = LockClass::new("dd_running_a");
    let a = Arc::new(LockMeta::with_class(LockKind::Mutex, &A));
    let holder = a.acquire(Exclusive); // this thread holds it and runs on
    let mut waiters = Vec::new();
    let mut ends = Vec::new();
    let (ready, ready_rx) = signal();
    for i in 0..2 {
        let (a, ready) = (a.clone(), ready.clone());
        let (end, end_rx) = signal();
        ends.push(end);
        waiters.push(thread(&format!("dd-running-{i}"), move || {
            let h = a.acquire(Exclusive);
            let w = a.wait(&h);
            ready.send(()).unwrap();
            end_rx.recv().unwrap();
            drop((w, h));
        }));
    }
    ready_rx.recv().unwrap();
    ready_rx.recv().unwrap();
    // Two waiters of one lock must not look like each other's holders.
    assert!(take_kind("dd_running", ViolationKind::Deadlock).is_empty());
    drop(holder);
    for e in ends {
        e.send(()).unwrap();
    }
    for w in waiters {
        w.join().unwrap();
    }
}

#[test]
fn a_wait_under_a_timeout_closes_no_deadlock() {
    let _s = serial();
    static A: LockClass = LockClass::new("dd_timed_a");
    static B: LockClass = LockClass::new("dd_timed_b");
    let (a, b) = class_pair(&A, &B);
    let (ready, ready_rx) = signal();
    let (end, end_rx) = signal();
    let (a1, b1) = (a.clone(), b.clone());
    let t1 = thread("dd-timed-1", move || {
        let ha = a1.acquire(Exclusive);
        ready.send(()).unwrap();
        let hb = b1.acquire(Exclusive);
        let w = {
            let _bounded = timed_scope();
            b1.wait(&hb)
        };
        ready.send(()).unwrap();
        end_rx.recv().unwrap();
        drop((w, hb, ha));
    });
    let hb = b.acquire(Exclusive);
    ready_rx.recv().unwrap();
    ready_rx.recv().unwrap();
    let ha = a.acquire(Exclusive);
    let w = a.wait(&ha);
    assert!(take_kind("dd_timed", ViolationKind::Deadlock).is_empty());
    drop((w, ha, hb));
    end.send(()).unwrap();
    t1.join().unwrap();
    take_kind("dd_timed", ViolationKind::LockOrderInversion);
}

#[test]
fn a_three_context_cycle_is_reported_with_every_side() {
    let _s = serial();
    static X: LockClass = LockClass::new("dd_tri_x");
    static Y: LockClass = LockClass::new("dd_tri_y");
    static Z: LockClass = LockClass::new("dd_tri_z");
    let locks = [
        Arc::new(LockMeta::with_class(LockKind::Mutex, &X)),
        Arc::new(LockMeta::with_class(LockKind::Mutex, &Y)),
        Arc::new(LockMeta::with_class(LockKind::Mutex, &Z)),
    ];
    let (ready, ready_rx) = signal();
    let mut gos = Vec::new();
    let mut ends = Vec::new();
    let mut threads = Vec::new();
    for i in 0..3 {
        let mine = locks[i].clone();
        let next = locks[(i + 1) % 3].clone();
        let ready = ready.clone();
        let (go, go_rx) = signal();
        let (end, end_rx) = signal();
        gos.push(go);
        ends.push(end);
        threads.push(thread(&format!("dd-tri-{i}"), move || {
            let h = mine.acquire(Exclusive);
            ready.send(()).unwrap();
            go_rx.recv().unwrap();
            let hn = next.acquire(Exclusive);
            let w = next.wait(&hn);
            ready.send(()).unwrap();
            end_rx.recv().unwrap();
            drop((w, hn, h));
        }));
    }
    for _ in 0..3 {
        ready_rx.recv().unwrap();
    }
    for go in &gos {
        go.send(()).unwrap();
        ready_rx.recv().unwrap();
    }
    let v = take_kind("dd_tri", ViolationKind::Deadlock);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(v[0].sides().len(), 3);
    for e in ends {
        e.send(()).unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    take_kind("dd_tri", ViolationKind::LockOrderInversion);
}

#[test]
fn in_panic_mode_the_closing_waiter_panics_and_its_wait_ends() {
    let _s = serial();
    static A: LockClass = LockClass::new("dd_panic_a");
    static B: LockClass = LockClass::new("dd_panic_b");
    let (a, b) = class_pair(&A, &B);
    let (ready, ready_rx) = signal();
    let (end, end_rx) = signal();
    let (a1, b1) = (a.clone(), b.clone());
    let t1 = thread("dd-panic-1", move || {
        let ha = a1.acquire(Exclusive);
        ready.send(()).unwrap();
        let hb = b1.acquire(Exclusive);
        let w = b1.wait(&hb);
        ready.send(()).unwrap();
        end_rx.recv().unwrap();
        drop((w, hb, ha));
    });
    let hb = b.acquire(Exclusive);
    ready_rx.recv().unwrap();
    ready_rx.recv().unwrap();
    let before = stats().active_waits;
    // Report mode for the inversion check, Panic for the wait.
    let ha = a.acquire(Exclusive);
    let prev = set_thread_mode(Some(Mode::Panic));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| a.wait(&ha)));
    set_thread_mode(prev);
    let msg = r.expect_err("the deadlock panics");
    assert!(msg.downcast_ref::<String>().unwrap().contains("[Deadlock]"));
    assert_eq!(
        stats().active_waits,
        before,
        "the panicking wait was removed"
    );
    drop((ha, hb));
    end.send(()).unwrap();
    t1.join().unwrap();
    assert_eq!(take_kind("dd_panic", ViolationKind::Deadlock).len(), 1);
    take_kind("dd_panic", ViolationKind::LockOrderInversion);
}

#[test]
fn a_semaphore_exhausted_by_a_stuck_holder_deadlocks() {
    let _s = serial();
    static S: LockClass = LockClass::new("dd_sem_s");
    static L: LockClass = LockClass::new("dd_sem_l");
    let sem = Arc::new(LockMeta::with_class(LockKind::Semaphore, &S));
    let l = Arc::new(LockMeta::with_class(LockKind::Mutex, &L));
    let (ready, ready_rx) = signal();
    let (end, end_rx) = signal();
    let (sem1, l1) = (sem.clone(), l.clone());
    // t1 holds the only permit and waits for l.
    let t1 = thread("dd-sem-1", move || {
        let p = sem1.acquire_permits(1);
        ready.send(()).unwrap();
        let hl = l1.acquire(Exclusive);
        let w = l1.wait(&hl);
        ready.send(()).unwrap();
        end_rx.recv().unwrap();
        drop((w, hl, p));
    });
    let hl = l.acquire(Exclusive);
    ready_rx.recv().unwrap();
    ready_rx.recv().unwrap();
    // With a second permit out to someone unknown, no conclusion.
    let p = sem.acquire_permits(1);
    let w = sem.wait_permits(&p, 2);
    assert!(take_kind("dd_sem", ViolationKind::Deadlock).is_empty());
    drop(w);
    // With only t1's permit out, this thread (holding l) is stuck.
    let w = sem.wait_permits(&p, 1);
    let v = take_kind("dd_sem", ViolationKind::Deadlock);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].to_string().contains("permit"));
    drop((w, p, hl));
    end.send(()).unwrap();
    t1.join().unwrap();
}

/// Waits once on a lock of its own, so that the current context is listed
/// in the wait registry (its first recorded wait lists it; later lock waits
/// by it can take the short path).
fn list_this_context() {
    let warm = LockMeta::new(LockKind::Mutex);
    let hw = warm.acquire(Exclusive);
    drop(warm.wait(&hw));
}

/// A lock wait by a context that holds nothing else takes the short path
/// (a counter and its held entry's flags, no record). Once the lock is
/// obtained (`Held::acquired`), it must count as held again: a later cycle
/// through it is still a deadlock.
#[test]
fn a_lock_obtained_after_a_short_path_wait_closes_a_later_cycle() {
    let _s = serial();
    static A: LockClass = LockClass::new("dd_quick_a");
    static B: LockClass = LockClass::new("dd_quick_b");
    let (a, b) = class_pair(&A, &B);
    let (ready1, ready1_rx) = signal();
    let (go1, go1_rx) = signal();
    let (end1, end1_rx) = signal();
    let (a1, b1) = (a.clone(), b.clone());
    let t1 = thread("dd-quick-1", move || {
        // Listed, so the wait on `a` with nothing else held is a
        // short-path wait.
        list_this_context();
        let ha = a1.acquire(Exclusive);
        let short = a1.wait(&ha);
        assert!(
            !short.is_tracked(),
            "counted by the held entry: the guard is empty"
        );
        drop(short);
        ha.acquired();
        ready1.send(()).unwrap();
        go1_rx.recv().unwrap();
        let hb = b1.acquire(Exclusive);
        let w = b1.wait(&hb);
        ready1.send(()).unwrap();
        end1_rx.recv().unwrap();
        drop((w, hb, ha));
    });
    ready1_rx.recv().unwrap(); // t1 holds a
    let hb = b.acquire(Exclusive);
    go1.send(()).unwrap();
    ready1_rx.recv().unwrap(); // t1 waits for b, held by this thread
    let ha = a.acquire(Exclusive);
    let w = a.wait(&ha); // closes the cycle
    let v = take_kind("dd_quick", ViolationKind::Deadlock);
    assert_eq!(v.len(), 1, "{v:#?}");
    drop((w, ha, hb));
    end1.send(()).unwrap();
    t1.join().unwrap();
    super::take("dd_quick");
}

/// A counted lock wait whose acquisition is abandoned (its token dropped,
/// here or by another context) ends with the entry: the context must not
/// stay "able to progress" and hide a later deadlock through it.
#[test]
fn an_abandoned_counted_wait_does_not_hide_a_later_cycle() {
    let _s = serial();
    static A1: LockClass = LockClass::new("dd_abandon_here_a");
    static B1: LockClass = LockClass::new("dd_abandon_here_b");
    static A2: LockClass = LockClass::new("dd_abandon_there_a");
    static B2: LockClass = LockClass::new("dd_abandon_there_b");
    // Distinct classes and wait sites per case: a repeated violation (same
    // wait sites) is reported once.
    abandoned_then_cycle(&A2, &B2, true, "dd_abandon_there");
    abandoned_then_cycle(&A1, &B1, false, "dd_abandon_here");
}

#[track_caller]
fn abandoned_then_cycle(
    a: &'static LockClass,
    b: &'static LockClass,
    dropped_elsewhere: bool,
    tag: &str,
) {
    let site = std::panic::Location::caller();
    let (a, b) = class_pair(a, b);
    let (ready1, ready1_rx) = signal();
    let (go1, go1_rx) = signal();
    let (end1, end1_rx) = signal();
    let (token_tx, token_rx) = channel();
    let (a1, b1) = (a.clone(), b.clone());
    let t1 = thread("dd-abandon-1", move || {
        list_this_context();
        // A counted wait for `a`, abandoned.
        let ha = a1.acquire(Exclusive);
        drop(a1.wait(&ha));
        if dropped_elsewhere {
            token_tx.send(ha).unwrap();
            ready1.send(()).unwrap();
            go1_rx.recv().unwrap(); // the token was dropped on the test thread
        } else {
            drop(ha);
        }
        let hb = b1.acquire(Exclusive);
        ready1.send(()).unwrap();
        go1_rx.recv().unwrap();
        let ha = a1.acquire(Exclusive);
        let w = a1.wait_at(&ha, site);
        ready1.send(()).unwrap();
        end1_rx.recv().unwrap();
        drop((w, ha, hb));
    });
    if dropped_elsewhere {
        ready1_rx.recv().unwrap();
        drop(token_rx.recv().unwrap());
        go1.send(()).unwrap();
    }
    ready1_rx.recv().unwrap(); // t1 holds b
    let ha = a.acquire(Exclusive);
    go1.send(()).unwrap();
    ready1_rx.recv().unwrap(); // t1 waits for a, held here
    let hb = b.acquire(Exclusive);
    let w = b.wait_at(&hb, site); // closes the cycle
    let v = take_kind(tag, ViolationKind::Deadlock);
    assert_eq!(v.len(), 1, "dropped elsewhere: {dropped_elsewhere}: {v:#?}");
    drop((w, hb, ha));
    end1.send(()).unwrap();
    t1.join().unwrap();
    super::take(tag);
}
