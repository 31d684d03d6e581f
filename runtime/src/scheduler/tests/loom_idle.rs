//! Loom models of the sleeper accounting (`idle.rs`): a producer that makes
//! work visible and then calls `worker_to_notify` races the last searcher
//! going to sleep. Either the sleeping worker's final look at the queue sees
//! the work, or the producer picks it to wake — never neither.
//!
//! The queue is modelled by its back index as crossbeam's deque does it:
//! `push` publishes the index, `is_empty` (`Stealer::is_empty`, what
//! `notify_if_work_pending` calls for the workers' deques) issues a SeqCst
//! fence and then loads it. The injectors' `is_empty` instead loads with
//! SeqCst and no fence; in the C++ model a SeqCst load after the parker's
//! SeqCst RMW gives the same guarantee, but loom treats SeqCst accesses as
//! AcqRel (only its fences are sequentially consistent), so it is modelled
//! here in the deque's form.

use crate::loom::sync::atomic::{fence, AtomicUsize, Ordering::*};
use crate::loom::sync::Arc;
use crate::scheduler::idle::Idle;
use loom::thread;

struct Queue(AtomicUsize);

impl Queue {
    fn push(&self) {
        self.0.fetch_add(1, Release);
    }
    fn is_empty(&self) -> bool {
        fence(SeqCst);
        self.0.load(Acquire) == 0
    }
}

/// A worker with nothing to do goes to sleep as `multi_thread::worker` does:
/// register as parked, then (if it was the last searcher) look at the queue
/// once more and wake a worker for what it finds. Returns true if it saw work.
fn park_worker(idle: &Idle, queue: &Queue, index: usize, searching: bool) -> (bool, Option<usize>) {
    if idle.transition_worker_to_parked(index, searching) && !queue.is_empty() {
        return (true, idle.worker_to_notify());
    }
    (false, None)
}

#[test]
fn loom_idle_last_searcher_parks_while_work_arrives() {
    loom::model(|| {
        let idle = Arc::new(Idle::new(1));
        let queue = Arc::new(Queue(AtomicUsize::new(0)));
        assert!(idle.transition_worker_to_searching());

        let producer = {
            let (idle, queue) = (idle.clone(), queue.clone());
            thread::spawn(move || {
                queue.push();
                idle.worker_to_notify()
            })
        };
        let (seen, self_notified) = park_worker(&idle, &queue, 0, true);
        let notified = producer.join().unwrap();

        assert!(seen || notified == Some(0), "work pushed but worker asleep");
        // Exactly one side took the worker off the sleeper list.
        assert!(!(notified.is_some() && self_notified.is_some()));
        assert!(!idle.is_parked(0));
        assert_eq!(idle.num_searching(), 1);
    });
}

/// Two workers park at once (one searching, one coming off a task) while the
/// producer pushes: at least one ends up awake and searching.
#[test]
fn loom_idle_two_workers_park_while_work_arrives() {
    loom::model(|| {
        let idle = Arc::new(Idle::new(2));
        let queue = Arc::new(Queue(AtomicUsize::new(0)));
        assert!(idle.transition_worker_to_searching());
        // Half the workers already search: a second searcher is refused.
        assert!(!idle.transition_worker_to_searching());

        let producer = {
            let (idle, queue) = (idle.clone(), queue.clone());
            thread::spawn(move || {
                queue.push();
                idle.worker_to_notify()
            })
        };
        let other = {
            let (idle, queue) = (idle.clone(), queue.clone());
            thread::spawn(move || park_worker(&idle, &queue, 1, false))
        };
        let (seen, _) = park_worker(&idle, &queue, 0, true);
        let notified = producer.join().unwrap();
        let (other_seen, _) = other.join().unwrap();

        assert!(!other_seen, "a non-searcher does not re-check");
        assert!(
            seen || notified.is_some(),
            "work pushed but both workers asleep"
        );
        assert!(!(idle.is_parked(0) && idle.is_parked(1)));
        assert_eq!(idle.num_searching(), 1);
    });
}

/// The last searcher found a task and stops searching while a producer
/// pushes another (it saw the searcher and woke nobody, or saw nobody
/// searching and woke the sleeper). The searcher wakes a sleeper only if
/// work is queued after its decrement (`notify_if_work_pending` in
/// `worker::run_task`): with nothing queued it wakes nobody, and the other
/// worker must still end up awake when the producer's task is there.
#[test]
fn loom_idle_last_searcher_finds_work_while_more_arrives() {
    loom::model(|| {
        let idle = Arc::new(Idle::new(2));
        let queue = Arc::new(Queue(AtomicUsize::new(0)));
        // Worker 1 sleeps; worker 0 searches and has just taken a task.
        assert!(!idle.transition_worker_to_parked(1, false));
        assert!(idle.transition_worker_to_searching());

        let producer = {
            let (idle, queue) = (idle.clone(), queue.clone());
            thread::spawn(move || {
                queue.push();
                idle.worker_to_notify()
            })
        };
        let woke = if idle.transition_worker_from_searching() && !queue.is_empty() {
            idle.worker_to_notify()
        } else {
            None
        };
        let notified = producer.join().unwrap();

        assert!(
            notified == Some(1) || woke == Some(1),
            "work pushed but the sleeper left asleep"
        );
        assert!(!(notified.is_some() && woke.is_some()), "woken twice");
        assert!(!idle.is_parked(1));
    });
}

/// A reserved worker goes to sleep (register, then a last look at the
/// Critical queues) while a producer pushes a Critical task and looks for a
/// reserved sleeper to wake: either the last look sees the task or the
/// producer wakes the worker.
#[test]
fn loom_reserved_worker_parks_while_critical_work_arrives() {
    use crate::scheduler::idle::ReservedIdle;
    loom::model(|| {
        let idle = Arc::new(ReservedIdle::new(1));
        let queue = Arc::new(Queue(AtomicUsize::new(0)));

        let producer = {
            let (idle, queue) = (idle.clone(), queue.clone());
            thread::spawn(move || {
                queue.push();
                idle.worker_to_notify()
            })
        };
        idle.register(7);
        let seen = !queue.is_empty();
        let self_removed = seen && idle.unregister(7);
        let notified = producer.join().unwrap();

        assert!(
            seen || notified == Some(7),
            "Critical work pushed but worker asleep"
        );
        // Exactly one side took the worker off the list.
        assert!(!(notified.is_some() && self_removed));
        assert!(!idle.is_registered(7));
    });
}
