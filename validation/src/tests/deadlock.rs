//! Actual deadlocks: found when the wait that closes the cycle starts, and
//! never while some holder can still make progress.
//!
//! The threads here do not really block: each registers its waits with the
//! engine, then parks on a test channel until the test has looked.

use super::{serial, take_kind, thread};
use crate::Held;
use crate::{
    set_thread_mode, stats, timed_scope, Access::*, LockClass, LockKind, LockMeta, Mode,
    ViolationKind,
};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

/// A test thread run in steps: its body calls [`Pause::pause`] between
/// steps, and the test sees each pause and resumes it.
struct Stepped {
    paused: Receiver<()>,
    resume: Sender<()>,
    handle: std::thread::JoinHandle<()>,
}

/// The thread's side of a [`Stepped`].
struct Pause {
    paused: Sender<()>,
    resume: Receiver<()>,
}

impl Pause {
    /// Tells the test this step is done, and waits until it resumes us.
    fn pause(&self) {
        self.paused.send(()).unwrap();
        self.resume.recv().unwrap();
    }
}

impl Stepped {
    fn spawn(name: &str, body: impl FnOnce(&Pause) + Send + 'static) -> Stepped {
        let (paused_tx, paused) = channel();
        let (resume, resume_rx) = channel();
        let handle = thread(name, move || {
            body(&Pause {
                paused: paused_tx,
                resume: resume_rx,
            })
        });
        Stepped {
            paused,
            resume,
            handle,
        }
    }

    /// Waits until the thread pauses.
    fn paused(&self) {
        self.paused.recv().unwrap();
    }

    /// Lets a paused thread go on to its next step.
    fn resume(&self) {
        self.resume.send(()).unwrap();
    }

    /// Resumes the thread from its last pause and joins it.
    fn finish(self) {
        self.resume();
        self.handle.join().unwrap();
    }
}

/// One side of a cycle: a thread that takes what `hold` takes, pauses,
/// then acquires `next` and waits for it, and pauses again until the test
/// finishes it (then ends its wait and releases both). The wait's site is
/// the caller's, so sides made at different lines wait at different sites
/// (reports are told apart by their wait sites).
#[track_caller]
fn hold_then_wait(
    name: &str,
    hold: impl FnOnce() -> Held + Send + 'static,
    next: Arc<LockMeta>,
) -> Stepped {
    let site = std::panic::Location::caller();
    Stepped::spawn(name, move |p| {
        let held = hold();
        p.pause();
        let hn = next.acquire_at(Exclusive, site);
        let w = next.wait_at(&hn, site);
        p.pause();
        drop((w, hn, held));
    })
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
    let a1 = a.clone();
    let t1 = hold_then_wait("dd-abba-1", move || a1.acquire(Exclusive), b.clone());
    let b2 = b.clone();
    let t2 = hold_then_wait("dd-abba-2", move || b2.acquire(Exclusive), a.clone());
    t1.paused();
    t2.paused();
    t1.resume();
    t1.paused(); // t1 waits for b, held by a running t2
    assert!(take_kind("dd_abba", ViolationKind::Deadlock).is_empty());
    t2.resume();
    t2.paused(); // t2 waits for a: the cycle closes
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
    t1.finish();
    t2.finish();
}

#[test]
fn waiting_for_a_running_holder_is_not_a_deadlock() {
    let _s = serial();
    static A: LockClass = LockClass::new("dd_running_a");
    let a = Arc::new(LockMeta::with_class(LockKind::Mutex, &A));
    let holder = a.acquire(Exclusive); // this thread holds it and runs on
    let waiters: Vec<Stepped> = (0..2)
        .map(|i| {
            let a = a.clone();
            Stepped::spawn(&format!("dd-running-{i}"), move |p| {
                let h = a.acquire(Exclusive);
                let w = a.wait(&h);
                p.pause();
                drop((w, h));
            })
        })
        .collect();
    waiters.iter().for_each(Stepped::paused);
    // Two waiters of one lock must not look like each other's holders.
    assert!(take_kind("dd_running", ViolationKind::Deadlock).is_empty());
    drop(holder);
    waiters.into_iter().for_each(Stepped::finish);
}

#[test]
fn a_wait_under_a_timeout_closes_no_deadlock() {
    let _s = serial();
    static A: LockClass = LockClass::new("dd_timed_a");
    static B: LockClass = LockClass::new("dd_timed_b");
    let (a, b) = class_pair(&A, &B);
    let (a1, b1) = (a.clone(), b.clone());
    let t1 = Stepped::spawn("dd-timed-1", move |p| {
        let ha = a1.acquire(Exclusive);
        let hb = b1.acquire(Exclusive);
        let w = {
            let _bounded = timed_scope();
            b1.wait(&hb)
        };
        p.pause();
        drop((w, hb, ha));
    });
    let hb = b.acquire(Exclusive);
    t1.paused(); // t1 holds a and waits for b, under a timeout
    let ha = a.acquire(Exclusive);
    let w = a.wait(&ha);
    assert!(take_kind("dd_timed", ViolationKind::Deadlock).is_empty());
    drop((w, ha, hb));
    t1.finish();
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
    let sides: Vec<Stepped> = (0..3)
        .map(|i| {
            let mine = locks[i].clone();
            let next = locks[(i + 1) % 3].clone();
            hold_then_wait(
                &format!("dd-tri-{i}"),
                move || mine.acquire(Exclusive),
                next,
            )
        })
        .collect();
    sides.iter().for_each(Stepped::paused);
    for side in &sides {
        side.resume();
        side.paused();
    }
    let v = take_kind("dd_tri", ViolationKind::Deadlock);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(v[0].sides().len(), 3);
    sides.into_iter().for_each(Stepped::finish);
    take_kind("dd_tri", ViolationKind::LockOrderInversion);
}

#[test]
fn in_panic_mode_the_closing_waiter_panics_and_its_wait_ends() {
    let _s = serial();
    static A: LockClass = LockClass::new("dd_panic_a");
    static B: LockClass = LockClass::new("dd_panic_b");
    let (a, b) = class_pair(&A, &B);
    let a1 = a.clone();
    let t1 = hold_then_wait("dd-panic-1", move || a1.acquire(Exclusive), b.clone());
    let hb = b.acquire(Exclusive);
    t1.paused();
    t1.resume();
    t1.paused(); // t1 holds a and waits for b
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
    t1.finish();
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
    // t1 holds the only permit and waits for l.
    let sem1 = sem.clone();
    let t1 = hold_then_wait("dd-sem-1", move || sem1.acquire_permits(1), l.clone());
    let hl = l.acquire(Exclusive);
    t1.paused();
    t1.resume();
    t1.paused(); // t1 holds the permit and waits for l
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
    t1.finish();
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
    let a1 = a.clone();
    let t1 = hold_then_wait(
        "dd-quick-1",
        move || {
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
            ha
        },
        b.clone(),
    );
    t1.paused(); // t1 holds a
    let hb = b.acquire(Exclusive);
    t1.resume();
    t1.paused(); // t1 waits for b, held by this thread
    let ha = a.acquire(Exclusive);
    let w = a.wait(&ha); // closes the cycle
    let v = take_kind("dd_quick", ViolationKind::Deadlock);
    assert_eq!(v.len(), 1, "{v:#?}");
    drop((w, ha, hb));
    t1.finish();
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
    let (token_tx, token_rx) = channel();
    let (a1, b1) = (a.clone(), b.clone());
    let t1 = Stepped::spawn("dd-abandon-1", move |p| {
        list_this_context();
        // A counted wait for `a`, abandoned.
        let ha = a1.acquire(Exclusive);
        drop(a1.wait(&ha));
        if dropped_elsewhere {
            token_tx.send(ha).unwrap();
            p.pause(); // the token is dropped on the test thread
        } else {
            drop(ha);
        }
        let hb = b1.acquire(Exclusive);
        p.pause();
        let ha = a1.acquire(Exclusive);
        let w = a1.wait_at(&ha, site);
        p.pause();
        drop((w, ha, hb));
    });
    if dropped_elsewhere {
        t1.paused();
        drop(token_rx.recv().unwrap());
        t1.resume();
    }
    t1.paused(); // t1 holds b
    let ha = a.acquire(Exclusive);
    t1.resume();
    t1.paused(); // t1 waits for a, held here
    let hb = b.acquire(Exclusive);
    let w = b.wait_at(&hb, site); // closes the cycle
    let v = take_kind(tag, ViolationKind::Deadlock);
    assert_eq!(v.len(), 1, "dropped elsewhere: {dropped_elsewhere}: {v:#?}");
    drop((w, hb, ha));
    t1.finish();
    super::take(tag);
}
