//! Tests of the scheduler's synchronisation protocols: loom models of the
//! parker (`loom_park`) and of the sleeper accounting (`loom_idle`), run with
//! `--cfg perf_runtime_loom` (`.ci/loom.sh`); and the same races on real
//! threads below, which Miri runs (`.ci/miri.sh`).

#[cfg(perf_runtime_loom)]
mod loom_idle;
#[cfg(perf_runtime_loom)]
mod loom_park;

#[cfg(not(perf_runtime_loom))]
mod threaded {
    use crate::scheduler::idle::Idle;
    use crate::scheduler::park::Parker;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
    use std::thread;
    use std::time::Duration;

    #[test]
    fn unpark_before_park_returns_at_once() {
        let parker = Parker::new();
        parker.unparker().unpark();
        parker.park(None);
        parker.park(Some(Duration::ZERO));
    }

    #[test]
    fn timed_park_returns_without_unpark() {
        let parker = Parker::new();
        parker.park(Some(Duration::from_millis(1)));
    }

    #[test]
    fn unpark_from_another_thread_is_seen() {
        let parker = Parker::new();
        let unparker = parker.unparker();
        let flag = AtomicBool::new(false);
        thread::scope(|s| {
            s.spawn(|| {
                flag.store(true, Relaxed);
                unparker.unpark();
            });
            while !flag.load(Relaxed) {
                parker.park(None);
            }
        });
    }

    #[test]
    fn last_searcher_parks_while_work_arrives() {
        let idle = Idle::new(1);
        let queue = AtomicUsize::new(0);
        assert!(idle.transition_worker_to_searching());
        let (seen, notified) = thread::scope(|s| {
            let producer = s.spawn(|| {
                queue.fetch_add(1, SeqCst);
                idle.worker_to_notify()
            });
            let seen = idle.transition_worker_to_parked(0, true) && queue.load(SeqCst) > 0;
            if seen {
                idle.worker_to_notify();
            }
            (seen, producer.join().unwrap())
        });
        assert!(seen || notified == Some(0));
        assert!(!idle.is_parked(0));
        assert_eq!(idle.num_searching(), 1);
    }

    /// A listed sleeper that queues work (its drivers dispatched completions
    /// as it left its park) wakes another sleeper, never itself; with no
    /// other sleeper it wakes nobody and stays listed until it leaves.
    #[test]
    fn a_worker_never_notifies_itself() {
        let idle = Idle::new(2);
        idle.transition_worker_to_parked(1, false);
        idle.transition_worker_to_parked(0, false);
        assert_eq!(idle.worker_to_notify_near(|_| false, Some(0)), Some(1));
        assert!(idle.is_parked(0), "the caller is still listed");
        assert_eq!(idle.num_searching(), 1, "the woken sleeper searches");
        assert!(idle.transition_worker_from_searching());
        idle.transition_worker_to_parked(1, false);
        assert_eq!(idle.worker_to_notify_near(|w| w == 0, Some(0)), Some(1));
        idle.transition_worker_from_searching();
        assert_eq!(idle.worker_to_notify_near(|_| false, Some(1)), Some(0));
        idle.transition_worker_from_searching();
        // Worker 1 is awake; worker 0 sleeps alone and calls.
        idle.transition_worker_to_parked(0, false);
        assert_eq!(idle.num_searching(), 0);
        assert_eq!(idle.worker_to_notify_near(|_| false, Some(0)), None);
        assert!(idle.is_parked(0));
        assert_eq!(idle.num_searching(), 0, "nobody was counted as woken");
    }
}
