//! Loom models of the task state machine: every interleaving (up to
//! `LOOM_MAX_PREEMPTIONS`) of a wake, an abort, or a `JoinHandle` operation
//! against a poll on another thread.
//!
//! Each model checks three things: the outcome a user can see (output,
//! cancellation, wake), that nothing ran twice (polls, drops, schedules are
//! counted), and that the task's memory was freed (`TestSched::all_freed`).

use super::{count_waker, counter, get, poll_join, DropCount, TestSched, YieldOnce};
use crate::loom::sync::atomic::{AtomicBool, Ordering::*};
use crate::loom::sync::{Arc, Mutex};
use loom::thread;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicUsize;
use std::task::{Context, Poll, Waker};

/// A future that parks its waker in `slot` and stays `Pending` until `done`.
/// On its first poll it also wakes itself, so the poller re-queues it and a
/// second poll runs concurrently with the waking thread.
struct WakeSlot {
    polls: std::sync::Arc<AtomicUsize>,
    done: Arc<AtomicBool>,
    slot: Arc<Mutex<Option<Waker>>>,
    out_drops: std::sync::Arc<AtomicUsize>,
    _drop: DropCount,
}

impl Future for WakeSlot {
    type Output = DropCount;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DropCount> {
        let first = self.polls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
        if !first && self.done.load(Acquire) {
            return Poll::Ready(DropCount(self.out_drops.clone()));
        }
        let old = self.slot.lock().unwrap().replace(cx.waker().clone());
        // Dropped outside the lock: it releases a task reference.
        drop(old);
        if first {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

/// (1) A wake from another thread races the second poll: the task is polled
/// again exactly when needed — never a lost wake, never a double schedule —
/// and everything is freed.
fn wake_while_running(by_ref: bool) {
    loom::model(move || {
        let sched = TestSched::new();
        let (polls, fut_drops, out_drops) = (counter(), counter(), counter());
        let done = Arc::new(AtomicBool::new(false));
        let slot = Arc::new(Mutex::new(None::<Waker>));
        let mut join = sched.spawn(WakeSlot {
            polls: polls.clone(),
            done: done.clone(),
            slot: slot.clone(),
            out_drops: out_drops.clone(),
            _drop: DropCount(fut_drops.clone()),
        });
        // First poll: parks the waker, re-queues itself.
        assert!(sched.run_one());
        assert_eq!(sched.queued(), 1);

        let waker_thread = {
            let (done, slot) = (done.clone(), slot.clone());
            thread::spawn(move || {
                done.store(true, Release);
                let w = slot.lock().unwrap().take();
                let w = w.expect("the first poll stored a waker");
                if by_ref {
                    w.wake_by_ref();
                    drop(w);
                } else {
                    w.wake();
                }
            })
        };
        sched.run_all();
        waker_thread.join().unwrap();
        sched.run_all();

        let n = get(&polls);
        assert!(
            join.is_finished(),
            "lost wake: not polled after the wake ({n} polls)"
        );
        assert!(n == 2 || n == 3, "polls: {n}");
        // Every Notified that ran polled the future: no double schedule.
        assert_eq!(sched.runs(), n);
        assert_eq!(sched.scheduled(), n);
        assert_eq!(get(&fut_drops), 1);
        let (w, _) = count_waker();
        match poll_join(&mut join, &w) {
            Poll::Ready(Ok(out)) => drop(out),
            other => panic!("the task must have completed: {:?}", other.is_ready()),
        }
        assert_eq!(get(&out_drops), 1);
        drop(join);
        // A waker the second poll stored holds a reference until cleared.
        drop(slot.lock().unwrap().take());
        assert!(sched.all_freed());
    });
}

#[test]
fn loom_wake_while_running() {
    wake_while_running(false);
}

/// Regression: `State::transition_to_notified_by_ref` once returned without
/// writing the state word when NOTIFIED was already set, so nothing ordered
/// the waking thread's writes before the poll that consumed that NOTIFIED;
/// the poll read `done == false`, returned `Pending`, and the wake was lost
/// (the same bug as tokio#7589). It now writes the unchanged word back.
#[test]
fn loom_wake_by_ref_while_running() {
    wake_while_running(true);
}

/// Completes on its first poll, leaving a clone of its waker behind.
struct LeakWaker {
    slot: Arc<Mutex<Option<Waker>>>,
    out_drops: std::sync::Arc<AtomicUsize>,
    _drop: DropCount,
}

impl Future for LeakWaker {
    type Output = DropCount;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DropCount> {
        *self.slot.lock().unwrap() = Some(cx.waker().clone());
        Poll::Ready(DropCount(self.out_drops.clone()))
    }
}

/// (2) A waker that outlives completion: waking it schedules nothing, and the
/// task is freed by whichever of the waker and the `JoinHandle` goes last.
#[test]
fn loom_wake_after_complete() {
    loom::model(|| {
        let sched = TestSched::new();
        let (fut_drops, out_drops) = (counter(), counter());
        let slot = Arc::new(Mutex::new(None));
        let mut join = sched.spawn(LeakWaker {
            slot: slot.clone(),
            out_drops: out_drops.clone(),
            _drop: DropCount(fut_drops.clone()),
        });
        assert!(sched.run_one());
        let w = slot.lock().unwrap().take().expect("waker stored");

        let waker_thread = thread::spawn(move || {
            w.wake_by_ref();
            let clone = w.clone();
            clone.wake();
            w.wake();
        });
        let (jw, _) = count_waker();
        match poll_join(&mut join, &jw) {
            Poll::Ready(Ok(out)) => drop(out),
            _ => panic!("completed task's output must be ready"),
        }
        drop(join);
        waker_thread.join().unwrap();

        assert_eq!(
            sched.queued(),
            0,
            "a wake after completion must not schedule"
        );
        assert_eq!(sched.scheduled(), 1);
        assert_eq!(get(&fut_drops), 1);
        assert_eq!(get(&out_drops), 1);
        assert!(sched.all_freed());
    });
}

/// (3) An abort races the task's runs: the `JoinHandle` sees the output or a
/// cancellation (never `Pending` once the queue is drained), and the future is
/// dropped exactly once.
#[test]
fn loom_abort_while_scheduled() {
    loom::model(|| {
        let sched = TestSched::new();
        let (polls, fut_drops, out_drops) = (counter(), counter(), counter());
        let mut join = sched.spawn(YieldOnce::new(
            DropCount(out_drops.clone()),
            &polls,
            &fut_drops,
        ));
        let abort = join.abort_handle();
        let aborter = thread::spawn(move || abort.abort());
        sched.run_all();
        aborter.join().unwrap();
        sched.run_all();

        assert_eq!(get(&fut_drops), 1);
        let (w, count) = count_waker();
        match poll_join(&mut join, &w) {
            Poll::Ready(Ok(out)) => {
                assert_eq!(get(&polls), 2);
                drop(out);
            }
            Poll::Ready(Err(e)) => {
                assert!(e.is_cancelled(), "{e}");
                assert!(get(&polls) < 2);
            }
            Poll::Pending => panic!("aborted task never finished"),
        }
        // Returned and dropped, or dropped inside the cancelled future.
        assert_eq!(get(&out_drops), 1);
        assert_eq!(get(&count.0), 0);
        assert!(join.is_finished());
        drop(join);
        assert_eq!(sched.queued(), 0);
        assert!(sched.all_freed());
    });
}

/// (4) The `JoinHandle` is dropped while the task completes: the output is
/// dropped exactly once, by whichever side is last, and the task is freed.
#[test]
fn loom_join_handle_drop_races_completion() {
    loom::model(|| {
        let sched = TestSched::new();
        let (polls, fut_drops, out_drops) = (counter(), counter(), counter());
        let join = sched.spawn(YieldOnce::new(
            DropCount(out_drops.clone()),
            &polls,
            &fut_drops,
        ));
        let dropper = thread::spawn(move || drop(join));
        sched.run_all();
        dropper.join().unwrap();

        assert_eq!(get(&polls), 2);
        assert_eq!(get(&fut_drops), 1);
        assert_eq!(get(&out_drops), 1);
        assert_eq!(sched.queued(), 0);
        assert!(sched.all_freed());
    });
}

/// (5) The `JoinHandle` registers a join waker (then replaces it with a
/// different one) while the task completes: either a poll returns the output,
/// or the waker registered last is woken — and only that one.
#[test]
fn loom_join_waker_races_completion() {
    loom::model(|| {
        let sched = TestSched::new();
        let (polls, fut_drops, out_drops) = (counter(), counter(), counter());
        let mut join = sched.spawn(YieldOnce::new(
            DropCount(out_drops.clone()),
            &polls,
            &fut_drops,
        ));
        let (w1, c1) = count_waker();
        let (w2, c2) = count_waker();
        let joiner = thread::spawn(move || {
            for w in [&w1, &w2] {
                if let Poll::Ready(res) = poll_join(&mut join, w) {
                    drop(res.expect("task completes normally"));
                    return None;
                }
            }
            Some((join, w2))
        });
        sched.run_all();
        let pending = joiner.join().unwrap();

        if let Some((mut join, w2)) = pending {
            // Both polls returned Pending: completion must have woken the
            // second waker (the first was taken back before completion).
            assert_eq!(get(&c1.0), 0, "replaced join waker was woken");
            assert_eq!(get(&c2.0), 1, "lost join wake");
            match poll_join(&mut join, &w2) {
                Poll::Ready(Ok(out)) => drop(out),
                _ => panic!("woken JoinHandle must be ready"),
            }
        }
        assert_eq!(get(&polls), 2);
        assert_eq!(get(&fut_drops), 1);
        assert_eq!(get(&out_drops), 1);
        assert!(sched.all_freed());
    });
}

/// Runtime shutdown (`OwnedTasks::close_and_shutdown_all`) on another thread
/// races the task's runs: the task is cancelled by exactly one side or
/// completes, its future is dropped once, and it is freed.
#[test]
fn loom_shutdown_races_run() {
    loom::model(|| {
        let sched = TestSched::new();
        let (polls, fut_drops, out_drops) = (counter(), counter(), counter());
        let mut join = sched.spawn(YieldOnce::new(
            DropCount(out_drops.clone()),
            &polls,
            &fut_drops,
        ));
        let shutdown = {
            let sched = sched.clone();
            thread::spawn(move || sched.0.owned.close_and_shutdown_all())
        };
        sched.run_all();
        shutdown.join().unwrap();
        sched.run_all();

        assert_eq!(get(&fut_drops), 1);
        let (w, _) = count_waker();
        match poll_join(&mut join, &w) {
            Poll::Ready(Ok(out)) => drop(out),
            Poll::Ready(Err(e)) => assert!(e.is_cancelled(), "{e}"),
            Poll::Pending => panic!("shut-down task never finished"),
        }
        assert_eq!(get(&out_drops), 1);
        assert_eq!(sched.0.owned.len(), 0);
        drop(join);
        assert!(sched.all_freed());
    });
}
