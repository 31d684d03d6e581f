//! Loom models of the parker (`park.rs`): an unpark is never lost, whether it
//! comes before the park, races it, or coalesces with another.
//!
//! Loom's `Condvar::wait_timeout` never times out, so a timed park is only
//! modelled where an unpark is certain to come.

use crate::loom::sync::atomic::{AtomicBool, Ordering::Relaxed};
use crate::loom::sync::Arc;
use crate::scheduler::park::Parker;
use loom::thread;
use std::time::Duration;

#[test]
fn loom_unpark_before_park() {
    loom::model(|| {
        let parker = Parker::new();
        let unparker = parker.unparker();
        unparker.unpark();
        unparker.unpark();
        // Remembered (once): returns without sleeping.
        parker.park(None);
        // Nothing pending: a zero timeout returns at once.
        parker.park(Some(Duration::ZERO));
        unparker.unpark();
        parker.park(Some(Duration::from_secs(60)));
    });
}

/// The flag is stored `Relaxed` before `unpark`: seeing it after `park`
/// returns relies only on the parker's own synchronisation.
fn unpark_races_park(timeout: Option<Duration>) {
    loom::model(move || {
        let parker = Parker::new();
        let unparker = parker.unparker();
        let flag = Arc::new(AtomicBool::new(false));
        let t = {
            let flag = flag.clone();
            thread::spawn(move || {
                flag.store(true, Relaxed);
                unparker.unpark();
            })
        };
        parker.park(timeout);
        assert!(
            flag.load(Relaxed),
            "park returned without the unpark's write"
        );
        t.join().unwrap();
    });
}

#[test]
fn loom_unpark_races_park() {
    unpark_races_park(None);
}

#[test]
fn loom_unpark_races_timed_park() {
    unpark_races_park(Some(Duration::from_secs(60)));
}

/// Two unparkers, one parker looping until it has seen both flags: unparks
/// may coalesce, but the parker is never left asleep with a flag unseen
/// (loom reports a deadlock if it is).
#[test]
fn loom_two_unparkers() {
    loom::model(|| {
        let parker = Parker::new();
        let flags = [
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        ];
        let threads: Vec<_> = flags
            .iter()
            .map(|flag| {
                let (flag, unparker) = (flag.clone(), parker.unparker());
                thread::spawn(move || {
                    flag.store(true, Relaxed);
                    unparker.unpark();
                })
            })
            .collect();
        while !flags.iter().all(|f| f.load(Relaxed)) {
            parker.park(None);
        }
        for t in threads {
            t.join().unwrap();
        }
    });
}
