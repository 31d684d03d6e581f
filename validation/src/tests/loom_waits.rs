//! Model of the wait-for graph: two contexts whose waits close a cycle start
//! them concurrently. Each records its wait in its own state and reads the
//! other's hint without a shared lock; at least one of the two starts must
//! find the deadlock, and ending both leaves no record, holder or hint.

use super::loom_state::{state_with, SendPtr};
use crate::class::LockKind;
use crate::context::state::ContextState;
use crate::context::ContextId;
use crate::loom::sync::atomic::AtomicUsize;
use crate::loom::sync::Arc;
use crate::wait::graph::{Hint, ResKind, Target, WaitGraph};
use crate::wait::{record, Start};
use loom::thread;
use std::panic::Location;

/// A thread context's state holding `held` (already acquired).
fn state_holding(n: u64, held: usize) -> SendPtr {
    SendPtr(state_with(n, &[held]).0)
}

#[test]
fn loom_a_cycle_closed_concurrently_is_found() {
    loom::model(|| {
        // Leaked: a graph outlives every state recorded in it.
        let g: &'static WaitGraph = Box::leak(Box::new(WaitGraph::new()));
        let g = Arc::new(g);
        let start = |n: u64, holds: usize, waits: usize| {
            let g = g.clone();
            let st = state_holding(n, holds);
            thread::spawn(move || {
                let st = st;
                let at = Start {
                    kind: ResKind::Lock(LockKind::Mutex),
                    class: 0,
                    created: Location::caller(),
                    target: Target::Holders { resource: waits },
                    site: Location::caller(),
                    pending: None,
                    progress: None,
                };
                // SAFETY: this thread owns `st`, and the graph is leaked.
                let (w, found) = unsafe { record(*g, st.0, at) };
                if let Some(f) = &found {
                    assert_eq!(f.steps.len(), 2);
                }
                // The wait goes on (both contexts are stuck) until both
                // starts are done; the model ends it after the joins.
                (found.is_some(), w, st, holds)
            })
        };
        let t1 = start(1, 10, 20);
        let t2 = start(2, 20, 10);
        let (f1, w1, s1, h1) = t1.join().unwrap();
        let (f2, w2, s2, h2) = t2.join().unwrap();
        assert!(f1 || f2, "one of the two starts closes the cycle");
        // Ended from this thread: the owners left (as when a guard outlives
        // its task), which `Waiting` and the states handle.
        drop(w1);
        drop(w2);
        assert_eq!(g.len(), 0, "both waits ended");
        assert!(crate::loom::lock(&g.reg).holders.is_empty());
        assert!(!g.hinted(Hint::Ctx(ContextId::thread(1))));
        assert!(!g.hinted(Hint::Res(10)));
        for (s, held) in [(s1, h1), (s2, h2)] {
            // SAFETY: the owner's last access, then its one entry is released, which frees the state.
            unsafe {
                ContextState::owner_exit(s.0);
                ContextState::remote_release(s.0, held);
            }
        }
    });
}

#[test]
fn loom_a_wait_ended_elsewhere_while_its_owner_exits_frees_the_state_once() {
    use crate::loom::sync::atomic::Ordering::Relaxed;
    loom::model(|| {
        let (g, p, frees, (w, found)) = first_notify_wait(7);
        assert!(found.is_none());
        assert!(w.is_tracked());
        assert_eq!(g.len(), 1);
        // The wait is ended by another context (as a channel slot handed
        // over by the receiver) while the owner exits.
        let ender = thread::spawn(move || drop(w));
        // SAFETY: the owner's last access.
        unsafe { ContextState::owner_exit(p) };
        ender.join().unwrap();
        assert_eq!(frees.load(Relaxed), 1, "freed exactly once");
        assert!(
            crate::loom::lock(&g.reg).ctxs.is_empty(),
            "left the registry"
        );
    });
}

/// A leaked graph (a graph outlives every state recorded in it), a thread
/// context state `n` holding nothing, the counter of its frees, and the
/// result of recording its first Notify wait (into its slot).
fn first_notify_wait(
    n: u64,
) -> (
    &'static WaitGraph,
    *mut ContextState,
    Arc<AtomicUsize>,
    (crate::Waiting, Option<crate::wait::deadlock::Found>),
) {
    let g: &'static WaitGraph = Box::leak(Box::new(WaitGraph::new()));
    let (p, frees) = state_with(n, &[]);
    // SAFETY: this thread owns the fresh state, and the graph is leaked.
    let recorded = unsafe { record(g, p, notify_wait()) };
    (g, p, frees, recorded)
}

/// A Notify wait, as `record` takes it.
fn notify_wait() -> Start {
    Start {
        kind: ResKind::Other(crate::wait::WaitKind::Notify),
        class: 0,
        created: Location::caller(),
        target: Target::Nobody,
        site: Location::caller(),
        pending: None,
        progress: None,
    }
}

#[test]
fn loom_the_owner_ends_its_slot_wait_while_a_scan_stamps_it() {
    use crate::loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
    loom::model(|| {
        let (g, p, _, (w, _)) = first_notify_wait(8);
        let p = SendPtr(p);
        let p_addr = p.0 as usize;
        let seen = Arc::new(AtomicBool::new(false));
        let seen2 = seen.clone();
        // The scan reaches the state through the registry, as the stall
        // scan does, and writes into the record it finds.
        let scan = thread::spawn(move || {
            g.for_each_record(|_, _, rec| {
                rec.stall_reported = true;
                seen2.store(true, SeqCst);
            });
        });
        // The owner ends the wait (its own context) and starts another.
        // SAFETY: the owner, ending the wait `w` holds; `w` is then forgotten (its end is done).
        unsafe {
            let st = &*(p_addr as *mut ContextState);
            assert!(st.inline_wait.occupied());
            assert_eq!(ContextState::end_slot_wait(p.0, true), 0);
            std::mem::forget(w);
            assert!(
                !st.inline_wait.occupied(),
                "state {:#x}",
                st.inline_wait.raw_state()
            );
        }
        // SAFETY: this thread owns the state and is not exiting; the graph is leaked.
        let (w2, _) = unsafe { record(g, p.0, notify_wait()) };
        scan.join().unwrap();
        let _ = seen.load(SeqCst);
        drop(w2);
        assert_eq!(g.len(), 0);
        // SAFETY: the owner's last access; nothing is left, so this frees the state.
        unsafe { ContextState::owner_exit(p.0) };
        assert!(crate::loom::lock(&g.reg).ctxs.is_empty());
    });
}

#[test]
fn loom_a_slot_wait_ended_after_its_owner_exited_waits_out_a_scan() {
    use crate::loom::sync::atomic::Ordering::Relaxed;
    loom::model(|| {
        let (g, p, frees, (w, _)) = first_notify_wait(9);
        // A second wait at once goes to the list.
        // SAFETY: this thread owns the state, which has not exited; the graph is leaked.
        let (w_list, _) = unsafe { record(g, p, notify_wait()) };
        assert_eq!(g.len(), 2);
        // SAFETY: the owner's last access; the waits keep the state.
        unsafe { ContextState::owner_exit(p) };
        assert_eq!(frees.load(Relaxed), 0);
        let scan = thread::spawn(move || {
            let mut n = 0;
            g.for_each_record(|_, _, _| n += 1);
            assert!(n <= 2);
        });
        let ender = thread::spawn(move || drop(w));
        drop(w_list);
        ender.join().unwrap();
        scan.join().unwrap();
        assert_eq!(frees.load(Relaxed), 1, "freed exactly once");
        assert!(crate::loom::lock(&g.reg).ctxs.is_empty());
    });
}

/// The owner's next wait reuses a slot that another context scanned and
/// then emptied: the protocol stays consistent (the second wait lands in
/// the inline wait or the list, both end, the state is freed once). This is the
/// scenario of a data race Miri found on real threads — the owner checked
/// the slot with a relaxed load, so its write was not ordered after the
/// other context's accesses; that race is guarded by Miri's many-seed run
/// of `tests::concurrency::slot_waits` (`.ci/miri.sh`), as this bounded
/// model does not reach it.
#[test]
fn loom_the_owner_refills_a_slot_emptied_elsewhere_during_a_scan() {
    loom::model(|| {
        let (g, p, _, (w, _)) = first_notify_wait(10);
        let p = SendPtr(p);
        // Another context scans the inline wait, then ends the wait (in one
        // thread, so the scan's access is ordered before the ending).
        let other = thread::spawn(move || {
            g.for_each_record(|_, _, rec| rec.stall_reported = true);
            drop(w);
        });
        // The owner starts its next wait meanwhile: into the inline wait if it
        // sees it emptied, else into its list.
        // SAFETY: the owner, running (it is not exiting).
        let (w2, _) = unsafe { record(g, p.0, notify_wait()) };
        other.join().unwrap();
        drop(w2);
        // SAFETY: the owner's last access; nothing is left, so this frees the state.
        unsafe { ContextState::owner_exit(p.0) };
    });
}
