//! The blocking pool: threads for `spawn_blocking`, created on demand up to a
//! cap and retired after a keep-alive.
//!
//! Invariants (all under `state`'s mutex): `idle <= live`; a job is either in
//! `queue` or being run by exactly one thread; after `shutdown` no job is
//! added and no thread is started, and the only jobs queued are mandatory
//! ones (the others are cancelled), which the live threads run before they
//! leave.
//!
//! A mandatory job is work whose caller was already told it is done — a
//! `fs::File` write returns once its bytes are buffered — so cancelling it
//! at shutdown would lose data silently (tokio's `spawn_mandatory_blocking`).
//! Since threads leave only when the queue is empty, a queued mandatory job
//! always has a live thread to run it: `push` starts one, or fails and
//! cancels the job when none is running.

use crate::runtime::config::Config;
use crate::runtime::context;
use crate::scheduler::Handle;
use crate::task::raw::{new_task, Notified, Schedule, Task, TaskMeta};
use crate::task::JoinHandle;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub(crate) struct BlockingPool {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// Signals idle threads (new job or shutdown).
    work: Condvar,
    /// Signals `shutdown` that a thread left.
    exited: Condvar,
    config: Config,
}

struct State {
    queue: VecDeque<Job>,
    live: usize,
    idle: usize,
    /// Idle threads already signalled for a queued job.
    notified: usize,
    shutdown: bool,
    threads: Vec<std::thread::JoinHandle<()>>,
}

enum Job {
    Task(Notified<BlockingSchedule>, Task<BlockingSchedule>),
    /// Runs even if the pool shuts down while it is queued.
    Mandatory(Notified<BlockingSchedule>, Task<BlockingSchedule>),
}

/// Blocking tasks are never re-scheduled (their future completes on its
/// first poll) and are not in any owned list.
pub(crate) struct BlockingSchedule;

impl Schedule for BlockingSchedule {
    fn schedule(&self, _task: Notified<Self>) {
        // Only reachable through `abort` of a task that has not run: the
        // queued job already holds a `Notified`, so this one is dropped and
        // the task is cancelled when the job runs.
    }

    fn release(&self, _task: &Task<Self>) -> Option<Task<Self>> {
        None
    }
}

/// Runs the closure on its first poll.
struct BlockingTask<F>(Option<F>);

impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingTask<F> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self
            .0
            .take()
            .expect("blocking task polled after completion");
        Poll::Ready(f())
    }
}

impl BlockingPool {
    pub(crate) fn new(config: Config) -> BlockingPool {
        BlockingPool {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    live: 0,
                    idle: 0,
                    notified: 0,
                    shutdown: false,
                    threads: Vec::new(),
                }),
                work: Condvar::new(),
                exited: Condvar::new(),
                config,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[track_caller]
    pub(crate) fn spawn_blocking<F, R>(
        &self,
        handle: &Handle,
        f: F,
        meta: TaskMeta,
    ) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (task, notified, join) = new_task(BlockingTask(Some(f)), BlockingSchedule, meta);
        if let Err(e) = self.push(handle, Job::Task(notified, task)) {
            panic!("spawn_blocking: the operating system refused to start a blocking-pool thread and none is running: {e}");
        }
        join
    }

    /// As [`spawn_blocking`](Self::spawn_blocking), for work that must not
    /// be dropped at shutdown once queued (see the module docs). Spawned
    /// after shutdown began, the task is cancelled (its handle says so).
    #[track_caller]
    pub(crate) fn spawn_mandatory_blocking<F, R>(
        &self,
        handle: &Handle,
        f: F,
        meta: TaskMeta,
    ) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (task, notified, join) = new_task(BlockingTask(Some(f)), BlockingSchedule, meta);
        if let Err(e) = self.push(handle, Job::Mandatory(notified, task)) {
            panic!("spawn_blocking: the operating system refused to start a blocking-pool thread and none is running: {e}");
        }
        join
    }

    fn push(&self, handle: &Handle, job: Job) -> std::io::Result<()> {
        let mut state = self.lock();
        if state.shutdown {
            drop(state);
            job.cancel();
            return Ok(());
        }
        state.queue.push_back(job);
        if state.idle > state.notified {
            state.notified += 1;
            self.inner.work.notify_one();
            return Ok(());
        }
        if state.live >= self.inner.config.max_blocking_threads {
            // At the cap: a running thread takes the job when it is free.
            return Ok(());
        }
        let cfg = &self.inner.config;
        let mut builder = std::thread::Builder::new().name((cfg.thread_name)());
        if let Some(size) = cfg.thread_stack_size {
            builder = builder.stack_size(size);
        }
        let pool = self.clone();
        let handle = handle.clone();
        let mode = cfg.validation;
        match builder.spawn(move || {
            crate::validation::set_thread_mode(Some(mode));
            pool.run(handle)
        }) {
            Ok(t) => {
                state.live += 1;
                state.threads.push(t);
                Ok(())
            }
            Err(e) if state.live == 0 => {
                // Nobody would ever run the job: take it back.
                let job = state.queue.pop_back();
                drop(state);
                if let Some(job) = job {
                    job.cancel();
                }
                Err(super::thread_spawn_error(
                    &format!(
                        "a blocking-pool thread (the first of at most {})",
                        cfg.max_blocking_threads
                    ),
                    e,
                ))
            }
            // Other threads will get to it.
            Err(_) => Ok(()),
        }
    }

    fn run(&self, handle: Handle) {
        let cfg = &self.inner.config;
        if let Some(f) = &cfg.on_thread_start {
            f();
        }
        {
            let _enter = context::set_current(handle);
            let mut state = self.lock();
            loop {
                if let Some(job) = state.queue.pop_front() {
                    drop(state);
                    job.run();
                    state = self.lock();
                    continue;
                }
                if state.shutdown {
                    break;
                }
                state.idle += 1;
                let deadline = Instant::now() + cfg.thread_keep_alive;
                let mut timed_out = false;
                loop {
                    let now = Instant::now();
                    if now >= deadline {
                        timed_out = true;
                        break;
                    }
                    state = self
                        .inner
                        .work
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                    if state.notified > 0 {
                        state.notified -= 1;
                        break;
                    }
                    if state.shutdown {
                        break;
                    }
                }
                state.idle -= 1;
                if timed_out && state.queue.is_empty() && !state.shutdown {
                    break;
                }
            }
            state.live -= 1;
            // Our JoinHandle stays in `threads`; a retired thread's handle is
            // reaped here so the vector does not grow without bound.
            let me = std::thread::current().id();
            state.threads.retain(|t| t.thread().id() != me);
            self.inner.exited.notify_all();
        }
        if let Some(f) = &cfg.on_thread_stop {
            f();
        }
    }

    /// Stops the pool: queued tasks are cancelled except mandatory ones,
    /// which run, as do the running ones.
    /// Waits up to `timeout` (`None`: forever) for the threads to leave.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) {
        let mut state = self.lock();
        state.shutdown = true;
        let (mandatory, queued): (VecDeque<Job>, VecDeque<Job>) =
            state.queue.drain(..).partition(|job| job.is_mandatory());
        state.queue = mandatory;
        self.inner.work.notify_all();
        drop(state);
        for job in queued {
            job.cancel();
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut state = self.lock();
        while state.live > 0 {
            match deadline {
                None => {
                    state = self
                        .inner
                        .exited
                        .wait(state)
                        .unwrap_or_else(|e| e.into_inner());
                }
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return;
                    }
                    state = self
                        .inner
                        .exited
                        .wait_timeout(state, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
        let threads: Vec<_> = state.threads.drain(..).collect();
        drop(state);
        let me = std::thread::current().id();
        for t in threads {
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
    }

    pub(crate) fn num_threads(&self) -> usize {
        self.lock().live
    }

    pub(crate) fn num_idle_threads(&self) -> usize {
        self.lock().idle
    }

    pub(crate) fn queue_depth(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether a job is queued or running: a task awaiting it can still be
    /// woken by the pool.
    pub(crate) fn is_busy(&self) -> bool {
        let s = self.lock();
        !s.queue.is_empty() || s.live > s.idle
    }
}

impl Job {
    fn is_mandatory(&self) -> bool {
        matches!(self, Job::Mandatory(..))
    }

    fn run(self) {
        match self {
            Job::Task(notified, task) | Job::Mandatory(notified, task) => {
                notified.run();
                drop(task);
            }
        }
    }

    fn cancel(self) {
        match self {
            Job::Task(notified, task) | Job::Mandatory(notified, task) => {
                drop(notified);
                task.shutdown();
            }
        }
    }
}

// Runs a whole runtime with real threads: not a loom model.
#[cfg(all(test, not(perf_runtime_loom)))]
mod tests;
