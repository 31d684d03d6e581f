use super::context;
use super::RuntimeMetrics;
use crate::task::raw::TaskMeta;
use crate::task::{JoinHandle, Qos};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;

/// A cheap, cloneable handle to a runtime, as `tokio::runtime::Handle`.
#[derive(Clone)]
pub struct Handle {
    pub(crate) inner: crate::scheduler::Handle,
}

/// The kind of scheduler a runtime uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuntimeFlavor {
    /// `Builder::new_current_thread`.
    CurrentThread,
    /// `Builder::new_multi_thread`.
    MultiThread,
}

/// Returned by [`Handle::enter`]; the previous context comes back when it drops.
#[must_use = "the runtime is current only while the guard is alive"]
pub struct EnterGuard<'a> {
    _guard: context::SetCurrentGuard,
    _p: PhantomData<(&'a Handle, *const ())>,
}

impl fmt::Debug for EnterGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnterGuard")
    }
}

/// [`Handle::try_current`] found no runtime on this thread.
///
/// ```
/// use perf_runtime::runtime::Handle;
///
/// // A library that works with or without a runtime around it.
/// match Handle::try_current() {
///     Ok(handle) => drop(handle.spawn(async { /* in the background */ })),
///     Err(e) => {
///         assert!(e.is_missing_context());
///         // ... do the work inline instead
///     }
/// }
/// ```
#[derive(Debug)]
pub struct TryCurrentError(());

impl TryCurrentError {
    /// True: the thread is not inside any runtime (the only cause today).
    pub fn is_missing_context(&self) -> bool {
        true
    }
}

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "there is no perf_runtime runtime on this thread: call this from a task, from \
             Runtime::block_on, or while a Handle::enter guard is alive",
        )
    }
}

impl std::error::Error for TryCurrentError {}

impl Handle {
    /// This runtime's [`Id`](super::Id), as `tokio::runtime::Handle::id`.
    ///
    /// ```
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// use perf_runtime::runtime::Handle;
    /// let here = Handle::current().id();
    /// let in_task = perf_runtime::spawn(async { Handle::current().id() }).await.unwrap();
    /// assert_eq!(here, in_task);
    /// # });
    /// ```
    pub fn id(&self) -> super::Id {
        // The scheduler's shared state lives (at one address) as long as
        // any handle does.
        super::Id::from_addr(self.inner.common() as *const _ as usize)
    }

    /// The runtime of the current thread: inside a task or a `block_on`.
    /// Keep it to reach the runtime from threads that are not its own.
    ///
    /// # Panics
    /// Outside a runtime; see [`try_current`](Handle::try_current).
    ///
    /// ```
    /// use perf_runtime::runtime::Handle;
    ///
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// let handle = Handle::current();
    /// // A plain thread (a C callback, a library's own pool) spawns onto
    /// // the runtime through the handle.
    /// let task = std::thread::spawn(move || handle.spawn(async { 6 * 7 }))
    ///     .join()
    ///     .unwrap();
    /// assert_eq!(task.await.unwrap(), 42);
    /// # });
    /// ```
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(h) => h,
            Err(e) => panic!("Handle::current(): {e}"),
        }
    }

    /// The runtime of the current thread, or an error outside one.
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        context::current_handle()
            .map(|inner| Handle { inner })
            .ok_or(TryCurrentError(()))
    }

    /// Makes this runtime current on this thread until the guard drops.
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard {
            _guard: context::set_current(self.inner.clone()),
            _p: PhantomData,
        }
    }

    /// Spawns a `Normal`-class task on this runtime. Unlike
    /// [`crate::spawn`], it works from any thread, inside a runtime or not.
    ///
    /// ```
    /// let rt = perf_runtime::runtime::Runtime::new().unwrap();
    /// let task = rt.handle().spawn(async { "ran on a worker" });
    /// assert_eq!(rt.block_on(task).unwrap(), "ran on a worker");
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with_meta(future, TaskMeta::new(Qos::Normal, None, Location::caller()))
    }

    pub(crate) fn spawn_with_meta<F>(&self, future: F, meta: TaskMeta) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.inner.spawn(future, meta)
    }

    /// Spawns only if the resource policy admits it.
    pub(crate) fn try_spawn_with_meta<F>(
        &self,
        future: F,
        meta: TaskMeta,
    ) -> Result<JoinHandle<F::Output>, crate::qos::QosViolation>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.inner.admit(meta.qos, true)?;
        Ok(self.inner.spawn_admitted(future, meta))
    }

    /// The violations of the resource policy this runtime recorded, oldest
    /// first (the last [`crate::qos::HISTORY_CAPACITY`]).
    pub fn qos_violations(&self) -> Vec<crate::qos::QosViolation> {
        self.inner.common().enforcer.history()
    }

    /// Runs the resource policy's pool checks now — active workers against
    /// `max_workers`, each class's injection-queue depth against its
    /// `max_queue_depth`, the NUMA nodes of the runtime's CPUs against
    /// `numa_nodes`, the pod QoS class (the systems provider's container
    /// context, else detection's) against `qos` — and returns
    /// the breaches in force. A breach that was not in force at the previous
    /// check is recorded in the history. The runtime also runs them every
    /// `Builder::policy_reload_interval` when the policy has a file or such
    /// a limit.
    pub fn check_policy(&self) -> Vec<crate::qos::QosViolation> {
        self.inner.check_policy()
    }

    /// Violations of `kind` recorded since the runtime started.
    pub fn qos_violation_count(&self, kind: crate::qos::ViolationKind) -> u64 {
        self.inner.common().enforcer.count(kind)
    }

    /// Burst credits class `qos` has left (`None`: the policy gives it
    /// none).
    pub fn burst_credits(&self, qos: Qos) -> Option<u32> {
        let c = self.inner.common();
        c.enforcer
            .burst_available(qos, c.policy.current().class(qos).burst)
    }

    /// Runs `f` on this runtime's blocking pool: for blocking calls (a
    /// synchronous library, a heavy computation) that must not hold up a
    /// worker.
    ///
    /// ```
    /// use perf_runtime::runtime::Handle;
    ///
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// let len = Handle::current()
    ///     .spawn_blocking(|| std::fs::read("/proc/self/status").map(|b| b.len()))
    ///     .await
    ///     .unwrap();
    /// assert!(len.unwrap() > 0);
    /// # });
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.spawn_blocking_with_meta(f, TaskMeta::new(Qos::Normal, None, Location::caller()))
    }

    pub(crate) fn spawn_blocking_with_meta<F, R>(&self, f: F, meta: TaskMeta) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.inner
            .common()
            .blocking
            .spawn_blocking(&self.inner, f, meta)
    }

    /// Runs `future` to completion on the current thread with this runtime
    /// as its context (on current_thread, also driving the runtime's tasks
    /// when no other thread does).
    ///
    /// # Panics
    /// If called from inside a runtime.
    ///
    /// ```
    /// let rt = perf_runtime::runtime::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// // Synchronous code on its own thread waits for async work.
    /// let n = std::thread::spawn(move || {
    ///     handle.block_on(async {
    ///         perf_runtime::spawn(async { 1 + 1 }).await.unwrap()
    ///     })
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(n, 2);
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = context::enter_runtime(self.inner.clone());
        // The calling thread runs the block_on future (and, on
        // current_thread, every task): it takes the runtime's validation mode
        // meanwhile.
        let _mode = ThreadMode::set(self.inner.common().config.validation);
        match &self.inner {
            crate::scheduler::Handle::MultiThread(_) => super::park_thread::block_on(future),
            crate::scheduler::Handle::CurrentThread(s) => {
                crate::scheduler::current_thread::CurrentThreadScheduler::block_on(s, future)
            }
        }
    }

    /// Which I/O backend this runtime uses (`None`: I/O is not enabled).
    ///
    /// ```
    /// let rt = perf_runtime::runtime::Runtime::new().unwrap();
    /// assert!(rt.handle().io_backend().is_some());
    /// ```
    pub fn io_backend(&self) -> Option<crate::runtime::IoBackend> {
        self.inner.common().io.as_ref().map(|d| d.backend())
    }

    /// Which scheduler this runtime uses.
    pub fn runtime_flavor(&self) -> RuntimeFlavor {
        if self.inner.is_current_thread() {
            RuntimeFlavor::CurrentThread
        } else {
            RuntimeFlavor::MultiThread
        }
    }

    /// Counters of this runtime.
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics {
            handle: self.inner.clone(),
        }
    }

    /// The topology the workers were placed on.
    pub fn topology(&self) -> &crate::topology::Topology {
        &self.inner.common().topology
    }

    /// The container's limits as last read: at build, then by the sizing
    /// monitor every `Builder::container_refresh` period.
    pub fn container_limits(&self) -> Option<crate::container::Limits> {
        self.inner.common().sizing.limits()
    }

    /// The runtime's resource policy: the limits in force and their sources
    /// (see [`crate::policy`]).
    pub fn policy(&self) -> &crate::policy::Policy {
        &self.inner.common().policy
    }

    /// The worker count the sizing rule chose, and why, as last decided.
    pub fn worker_decision(&self) -> crate::container::WorkerDecision {
        self.inner.common().sizing.decision()
    }

    /// The container's memory pressure level, as of the sizing monitor's
    /// last pass (usage against the limit, and memory PSI; see
    /// [`PressureLevel`](crate::container::PressureLevel)).
    pub fn pressure(&self) -> crate::container::PressureLevel {
        self.inner.common().sizing.pressure()
    }

    /// A [`PressureWatch`](crate::container::PressureWatch) of the memory
    /// pressure level: `changed().await` returns the new level when the
    /// sizing monitor sees it move (for admission control, adaptive
    /// buffers, shedding).
    ///
    /// ```
    /// use perf_runtime::container::PressureLevel;
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// let pressure = perf_runtime::runtime::Handle::current().pressure_watch();
    /// let level = pressure.level();
    /// assert!(matches!(level, PressureLevel::None | PressureLevel::Moderate | PressureLevel::Critical));
    /// # });
    /// ```
    pub fn pressure_watch(&self) -> crate::container::PressureWatch {
        self.inner.common().sizing.pressure_watch()
    }
}

/// Restores a thread's validation mode when dropped.
struct ThreadMode(Option<crate::validation::Mode>);

impl ThreadMode {
    fn set(mode: crate::validation::Mode) -> ThreadMode {
        ThreadMode(crate::validation::set_thread_mode(Some(mode)))
    }
}

impl Drop for ThreadMode {
    fn drop(&mut self) {
        crate::validation::set_thread_mode(self.0);
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("flavor", &self.runtime_flavor())
            .finish_non_exhaustive()
    }
}
