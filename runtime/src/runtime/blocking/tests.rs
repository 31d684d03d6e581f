//! The blocking pool at shutdown: what is cancelled and what still runs.

use crate::runtime::Builder;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn mandatory_jobs_queued_at_shutdown_run_and_others_are_cancelled() {
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let pool = rt.handle().inner.common().blocking.clone();
    let mandatory_ran = Arc::new(AtomicBool::new(false));
    let plain_ran = Arc::new(AtomicBool::new(false));
    {
        let _enter = rt.enter();
        // The pool's only thread is held until shutdown has begun, so the
        // two jobs below are still queued when it drains the queue (the
        // flag is set under the same lock as the drain).
        let p = pool.clone();
        drop(crate::spawn_blocking(move || {
            while !p.lock().shutdown {
                std::thread::park_timeout(Duration::from_millis(1));
            }
        }));
        let m = mandatory_ran.clone();
        drop(crate::task::spawn_mandatory_blocking(move || {
            m.store(true, Ordering::SeqCst)
        }));
        let n = plain_ran.clone();
        drop(crate::spawn_blocking(move || {
            n.store(true, Ordering::SeqCst)
        }));
        // The two jobs wait (the blocker itself may not be taken yet).
        let depth = pool.queue_depth();
        assert!((2..=3).contains(&depth), "queue depth {depth}");
    }
    drop(rt); // waits for the pool's threads
    assert!(
        mandatory_ran.load(Ordering::SeqCst),
        "a mandatory job queued at shutdown was dropped"
    );
    assert!(
        !plain_ran.load(Ordering::SeqCst),
        "a plain job queued at shutdown ran"
    );
}
