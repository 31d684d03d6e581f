//! `JoinSet`: a collection of tasks, awaited in completion order.
//!
//! Each entry's `JoinHandle` is polled with its own waker, which pushes the
//! entry's index onto a shared ready list and wakes the set's waker, so
//! `join_next` only polls tasks that made progress: O(1) per completion, not
//! O(n) per call.

use super::{AbortHandle, Id, JoinError, JoinHandle, Qos};
use crate::runtime::Handle;
use crate::task::raw::TaskMeta;
use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// A collection of tasks spawned on a runtime, as `tokio::task::JoinSet`.
/// Dropping the set aborts every task still in it.
///
/// ```
/// use perf_runtime::task::JoinSet;
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let mut set = JoinSet::new();
/// for i in 0..10u32 {
///     set.spawn(async move { i * 2 });
/// }
/// let mut sum = 0;
/// while let Some(res) = set.join_next().await {
///     sum += res.unwrap();
/// }
/// assert_eq!(sum, 90);
/// # });
/// ```
pub struct JoinSet<T> {
    entries: Vec<Option<Entry<T>>>,
    free: Vec<usize>,
    len: usize,
    ready: Arc<Ready>,
}

struct Entry<T> {
    handle: JoinHandle<T>,
    waker: Waker,
    inner: Arc<EntryWaker>,
}

struct Ready {
    state: Mutex<ReadyState>,
}

struct ReadyState {
    queue: VecDeque<usize>,
    waker: Option<Waker>,
}

struct EntryWaker {
    ready: Arc<Ready>,
    index: usize,
    queued: AtomicBool,
}

impl Wake for EntryWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, AcqRel) {
            return;
        }
        let waker = {
            let mut st = self.ready.state.lock().unwrap_or_else(|e| e.into_inner());
            st.queue.push_back(self.index);
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> JoinSet<T> {
    /// An empty set.
    pub fn new() -> JoinSet<T> {
        JoinSet {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
            ready: Arc::new(Ready {
                state: Mutex::new(ReadyState {
                    queue: VecDeque::new(),
                    waker: None,
                }),
            }),
        }
    }

    /// The number of tasks in the set.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(super) fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        let index = self.free.pop().unwrap_or_else(|| {
            self.entries.push(None);
            self.entries.len() - 1
        });
        let entry_waker = Arc::new(EntryWaker {
            ready: self.ready.clone(),
            index,
            queued: AtomicBool::new(false),
        });
        let waker = Waker::from(entry_waker.clone());
        // A new entry is polled once so its join waker gets registered.
        waker.wake_by_ref();
        self.entries[index] = Some(Entry {
            handle,
            waker,
            inner: entry_waker,
        });
        self.len += 1;
        abort
    }

    /// Aborts every task; they are still joined by `join_next` (with
    /// cancelled errors, unless they completed first).
    pub fn abort_all(&mut self) {
        for e in self.entries.iter().flatten() {
            e.handle.abort();
        }
    }

    /// Removes every task from the set without aborting them.
    pub fn detach_all(&mut self) {
        self.entries.clear();
        self.free.clear();
        self.len = 0;
        let mut st = self.ready.state.lock().unwrap_or_else(|e| e.into_inner());
        st.queue.clear();
    }

    /// Waits for one task to finish; `None` when the set is empty.
    ///
    /// # Cancel safety
    /// Cancel safe: if the future is dropped before it completes, no task's
    /// result is lost; it stays in the set.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// As [`join_next`](JoinSet::join_next), with the finished task's
    /// [`Id`] next to its output (a failed task's id is in its
    /// [`JoinError::id`]).
    ///
    /// ```
    /// use perf_runtime::task::JoinSet;
    ///
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut set = JoinSet::new();
    /// let id = set.spawn(async { "done" }).id();
    /// let (finished, out) = set.join_next_with_id().await.unwrap().unwrap();
    /// assert_eq!((finished, out), (id, "done"));
    /// # });
    /// ```
    pub async fn join_next_with_id(&mut self) -> Option<Result<(Id, T), JoinError>> {
        poll_fn(|cx| self.poll_join_next_with_id(cx)).await
    }

    /// Returns a finished task's result without waiting, if one is ready.
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        self.try_join_next_with_id().map(|r| r.map(|(_, v)| v))
    }

    /// As [`try_join_next`](JoinSet::try_join_next), with the task's [`Id`].
    ///
    /// ```
    /// use perf_runtime::task::JoinSet;
    ///
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut set: JoinSet<u8> = JoinSet::new();
    /// assert!(set.try_join_next_with_id().is_none());
    /// set.spawn(async { 1 });
    /// // Wait for it through the async path, then the set is empty again.
    /// let (_, v) = set.join_next_with_id().await.unwrap().unwrap();
    /// assert_eq!(v, 1);
    /// assert!(set.try_join_next_with_id().is_none());
    /// # });
    /// ```
    pub fn try_join_next_with_id(&mut self) -> Option<Result<(Id, T), JoinError>> {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        // Not async, so it cannot yield when the budget runs out: check the
        // handles without a budget, as tokio does.
        match super::coop::with_unconstrained(|| self.poll_join_next_inner(&mut cx, false)) {
            Poll::Ready(r) => r,
            Poll::Pending => None,
        }
    }

    /// Polls for the next finished task.
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        self.poll_join_next_with_id(cx)
            .map(|o| o.map(|r| r.map(|(_, v)| v)))
    }

    /// Polls for the next finished task, with its [`Id`].
    pub fn poll_join_next_with_id(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<(Id, T), JoinError>>> {
        self.poll_join_next_inner(cx, true)
    }

    fn poll_join_next_inner(
        &mut self,
        cx: &mut Context<'_>,
        register: bool,
    ) -> Poll<Option<Result<(Id, T), JoinError>>> {
        if self.len == 0 {
            return Poll::Ready(None);
        }
        if register {
            let mut st = self.ready.state.lock().unwrap_or_else(|e| e.into_inner());
            if !st.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                st.waker = Some(cx.waker().clone());
            }
        }
        loop {
            let next = {
                let mut st = self.ready.state.lock().unwrap_or_else(|e| e.into_inner());
                st.queue.pop_front()
            };
            let Some(index) = next else {
                return Poll::Pending;
            };
            let Some(entry) = self.entries.get_mut(index).and_then(Option::as_mut) else {
                continue;
            };
            // Clear the mark before polling so a wake during the poll queues again.
            entry.inner.queued.store(false, Release);
            let mut ecx = Context::from_waker(&entry.waker);
            if let Poll::Ready(res) = Pin::new(&mut entry.handle).poll(&mut ecx) {
                let id = entry.handle.id();
                self.entries[index] = None;
                self.free.push(index);
                self.len -= 1;
                return Poll::Ready(Some(res.map(|v| (id, v))));
            }
            // Pending with the entry queued again means the handle woke its
            // own waker during the poll: the cooperative budget is spent (or
            // the task finished just now). Popping again would spin on the
            // same entry, so yield to the scheduler; the wake above already
            // queued it and, when registered, woke this task.
            if entry.inner.queued.load(Acquire) {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }

    /// Aborts every task and waits for all of them to finish.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// Waits for every task and returns their outputs in completion order.
    ///
    /// # Panics
    /// If a task panicked (the panic is resumed) or was cancelled.
    pub async fn join_all(mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len);
        while let Some(res) = self.join_next().await {
            match res {
                Ok(v) => out.push(v),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => panic!("JoinSet::join_all: {e}"),
            }
        }
        out
    }
}

impl<T: Send + 'static> JoinSet<T> {
    /// Spawns a `Normal` task on the current runtime into the set.
    ///
    /// # Panics
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        let h = super::spawn_inner(future, TaskMeta::new(Qos::Normal, None, Location::caller()));
        self.insert(h)
    }

    /// Spawns a task of class `qos` on the current runtime into the set.
    #[track_caller]
    pub fn spawn_with<F>(&mut self, qos: Qos, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        let h = super::spawn_inner(future, TaskMeta::new(qos, None, Location::caller()));
        self.insert(h)
    }

    /// Spawns a task on `handle`'s runtime into the set.
    #[track_caller]
    pub fn spawn_on<F>(&mut self, future: F, handle: &Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        let h =
            handle.spawn_with_meta(future, TaskMeta::new(Qos::Normal, None, Location::caller()));
        self.insert(h)
    }

    /// Runs a blocking closure on the current runtime's blocking pool, into
    /// the set.
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let h =
            super::spawn_blocking_inner(f, TaskMeta::new(Qos::Normal, None, Location::caller()));
        self.insert(h)
    }
}

/// Spawns every future of the iterator on the current runtime, as tokio's
/// `impl FromIterator for JoinSet`.
///
/// # Panics
/// Outside a runtime.
///
/// ```
/// use perf_runtime::task::JoinSet;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let set: JoinSet<u32> = (1..=3).map(|i| async move { i * 10 }).collect();
/// let mut out = set.join_all().await;
/// out.sort();
/// assert_eq!(out, [10, 20, 30]);
/// # });
/// ```
impl<T, F> FromIterator<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    #[track_caller]
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> JoinSet<T> {
        let mut set = JoinSet::new();
        set.extend(iter);
        set
    }
}

/// Spawns every future of the iterator on the current runtime into the set,
/// as tokio's `impl Extend for JoinSet`.
///
/// # Panics
/// Outside a runtime.
///
/// ```
/// use perf_runtime::task::JoinSet;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let mut set = JoinSet::new();
/// set.extend((1..=2).map(|i| async move { i }));
/// assert_eq!(set.len(), 2);
/// # });
/// ```
impl<T, F> Extend<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    #[track_caller]
    fn extend<I: IntoIterator<Item = F>>(&mut self, iter: I) {
        let site = Location::caller();
        for future in iter {
            let h = super::spawn_inner(future, TaskMeta::new(Qos::Normal, None, site));
            self.insert(h);
        }
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> JoinSet<T> {
        JoinSet::new()
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        self.abort_all();
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len).finish()
    }
}
