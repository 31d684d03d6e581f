//! Tests of the raw task: a tiny scheduler shared by the loom models
//! (`loom_state`, run with `--cfg perf_runtime_loom`) and the plain unit tests
//! (`unit`, the ones Miri runs).
//!
//! `TestSched` queues `Notified`s in a `crate::loom` mutex (loom's under the
//! model, std's otherwise) and owns its tasks through the real `OwnedTasks`,
//! so completion exercises `release` exactly as a runtime does. Every task
//! holds a clone of the scheduler's `Arc`, which makes "the task was freed"
//! checkable: the count returns to one.
//!
//! Counters (polls, drops, wakes) use `std` atomics even under loom: they are
//! observations of the model, not part of the protocol, and keeping them out
//! of loom keeps the explored state space small.

#[cfg(all(test, perf_runtime_loom))]
mod loom_state;
#[cfg(not(perf_runtime_loom))]
mod unit;

use super::list::OwnedTasks;
use super::raw::{new_task, Notified, Schedule, Task, TaskMeta};
use super::{JoinError, JoinHandle, Qos};
use crate::loom::sync::Mutex;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// The run queue of the tests' scheduler (`TestSched`), with counters of
/// what it scheduled and ran.
pub(super) struct TestRunQueue {
    queue: Mutex<VecDeque<Notified<TestSched>>>,
    pub(super) owned: OwnedTasks<TestSched>,
    /// `schedule` calls (the spawn's included).
    pub(super) scheduled: AtomicUsize,
    /// `Notified`s taken off the queue and run.
    pub(super) runs: AtomicUsize,
}

#[derive(Clone)]
pub(super) struct TestSched(pub(super) Arc<TestRunQueue>);

impl Schedule for TestSched {
    fn schedule(&self, task: Notified<Self>) {
        self.0.scheduled.fetch_add(1, SeqCst);
        lock(&self.0.queue).push_back(task);
    }

    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.0.owned.remove(task)
    }
}

fn lock<T>(m: &Mutex<T>) -> crate::loom::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TestSched {
    pub(super) fn new() -> TestSched {
        TestSched(Arc::new(TestRunQueue {
            queue: Mutex::new(VecDeque::new()),
            owned: OwnedTasks::new(1),
            scheduled: AtomicUsize::new(0),
            runs: AtomicUsize::new(0),
        }))
    }

    /// Creates a task, links it in the owned list and queues its first
    /// `Notified`, as a runtime's `spawn` does.
    #[track_caller]
    pub(super) fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = TaskMeta::new(Qos::Normal, None, Location::caller());
        let (task, notified, join) = new_task(future, self.clone(), meta);
        if let Err(task) = self.0.owned.bind(task) {
            task.shutdown();
        }
        self.schedule(notified);
        join
    }

    /// Runs the next queued `Notified`; false if the queue was empty.
    pub(super) fn run_one(&self) -> bool {
        // Popped under the lock, run outside it: a poll may schedule.
        let next = lock(&self.0.queue).pop_front();
        match next {
            Some(task) => {
                self.0.runs.fetch_add(1, SeqCst);
                task.run();
                true
            }
            None => false,
        }
    }

    /// Runs queued tasks until the queue is empty; returns how many ran.
    pub(super) fn run_all(&self) -> usize {
        let mut n = 0;
        while self.run_one() {
            n += 1;
        }
        n
    }

    pub(super) fn queued(&self) -> usize {
        lock(&self.0.queue).len()
    }

    pub(super) fn scheduled(&self) -> usize {
        self.0.scheduled.load(SeqCst)
    }

    pub(super) fn runs(&self) -> usize {
        self.0.runs.load(SeqCst)
    }

    /// True once every task (each holds a clone of the scheduler) was freed.
    pub(super) fn all_freed(&self) -> bool {
        Arc::strong_count(&self.0) == 1
    }
}

/// Counts its own drops; used as a future's field and as a task's output.
pub(super) struct DropCount(pub(super) Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A shared counter.
pub(super) fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

pub(super) fn get(c: &AtomicUsize) -> usize {
    c.load(SeqCst)
}

/// A waker that counts how often it was woken.
pub(super) struct CountWaker(pub(super) AtomicUsize);

impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A fresh counting waker and the handle to read its count.
pub(super) fn count_waker() -> (Waker, Arc<CountWaker>) {
    let w = Arc::new(CountWaker(AtomicUsize::new(0)));
    (Waker::from(w.clone()), w)
}

/// Polls a `JoinHandle` once with `waker`.
pub(super) fn poll_join<T>(join: &mut JoinHandle<T>, waker: &Waker) -> Poll<Result<T, JoinError>> {
    Pin::new(join).poll(&mut Context::from_waker(waker))
}

/// Returns `Pending` once after waking itself (so the poller re-queues it),
/// then `Ready(out)`. Counts polls; its `DropCount` counts its drop.
pub(super) struct YieldOnce<T> {
    pub(super) out: Option<T>,
    pub(super) polls: Arc<AtomicUsize>,
    pub(super) _drop: DropCount,
}

impl<T> YieldOnce<T> {
    pub(super) fn new(out: T, polls: &Arc<AtomicUsize>, drops: &Arc<AtomicUsize>) -> Self {
        YieldOnce {
            out: Some(out),
            polls: polls.clone(),
            _drop: DropCount(drops.clone()),
        }
    }
}

impl<T> Unpin for YieldOnce<T> {}

impl<T> Future for YieldOnce<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        if self.polls.fetch_add(1, SeqCst) == 0 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(self.out.take().expect("YieldOnce polled after Ready"))
    }
}
