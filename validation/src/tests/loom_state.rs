//! Model of a context state's remote-release protocol: the owner works on
//! its held stack while a guard is released from another thread, and the
//! owner may exit first; the stack is never touched by two threads at once,
//! and the state is freed exactly once.

use crate::context::state::{ContextState, HeldEntry};
use crate::context::ContextId;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use crate::loom::sync::Arc;
use loom::thread;
use std::panic::Location;

pub(super) fn entry(instance: usize) -> HeldEntry {
    HeldEntry {
        instance,
        key: 0,
        chain: 0,
        word: 1,
        site: Location::caller(),
        permits: 1,
        flags: 0,
    }
}

pub(super) struct SendPtr(pub(super) *mut ContextState);
// SAFETY: the models hand the pointer to one remote releaser or ender
// (exactly what a `Held` or `Waiting` does), or to the thread that owns it.
unsafe impl Send for SendPtr {}

/// A thread context's state holding `entries`, with a counter of its frees.
pub(super) fn state_with(n: u64, entries: &[usize]) -> (*mut ContextState, Arc<AtomicUsize>) {
    let frees = Arc::new(AtomicUsize::new(0));
    let mut st = ContextState::new(ContextId::thread(n));
    st.frees = Some(frees.clone());
    let p = Box::into_raw(Box::new(st));
    // SAFETY: not shared yet; this thread is the owner.
    unsafe { (*p).with_owned(|o| o.held.extend(entries.iter().map(|&i| entry(i)))) };
    (p, frees)
}

#[test]
fn loom_remote_release_while_the_owner_works() {
    loom::model(|| {
        let (p, frees) = state_with(1, &[1, 2]);
        let ptr = SendPtr(p);
        let remote = thread::spawn(move || {
            let ptr = ptr;
            // SAFETY: this thread owns the token of entry 1.
            unsafe { ContextState::remote_release(ptr.0, 1) };
        });
        // SAFETY: this thread is the owner.
        unsafe {
            (*p).drain();
            (*p).with_owned(|o| assert!(o.remove(2).is_some()));
        }
        remote.join().unwrap();
        // SAFETY: as above; the join orders the remote release first.
        unsafe {
            (*p).drain();
            assert!((*p).with_owned(|o| o.held.is_empty()));
            ContextState::owner_exit(p);
        }
        assert_eq!(frees.load(Relaxed), 1);
    });
}

#[test]
fn loom_owner_exits_while_a_guard_is_released_remotely() {
    loom::model(|| {
        let (p, frees) = state_with(1, &[7]);
        let ptr = SendPtr(p);
        let remote = thread::spawn(move || {
            let ptr = ptr;
            // SAFETY: this thread owns the token of entry 7.
            unsafe { ContextState::remote_release(ptr.0, 7) };
        });
        // SAFETY: the owner's last access.
        unsafe { ContextState::owner_exit(p) };
        remote.join().unwrap();
        assert_eq!(
            frees.load(Relaxed),
            1,
            "freed exactly once, by whoever was last"
        );
    });
}

#[test]
fn loom_two_remote_releases_after_the_owner_exits() {
    loom::model(|| {
        let (p, frees) = state_with(1, &[1, 2]);
        // SAFETY: the owner's last access; two entries keep the state alive.
        unsafe { ContextState::owner_exit(p) };
        assert_eq!(frees.load(Relaxed), 0);
        let handles: Vec<_> = [1usize, 2]
            .into_iter()
            .map(|i| {
                let ptr = SendPtr(p);
                thread::spawn(move || {
                    let ptr = ptr;
                    // SAFETY: this thread owns the token of entry `i`.
                    unsafe { ContextState::remote_release(ptr.0, i) };
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(frees.load(Relaxed), 1);
    });
}
