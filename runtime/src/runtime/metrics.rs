//! `RuntimeMetrics`: counters read from a live runtime.

use crate::scheduler::stats;
use crate::task::Qos;
use std::sync::atomic::Ordering::Relaxed;

pub use crate::scheduler::stats::DelayHistogram;

/// A view of one runtime's counters, as `tokio::runtime::RuntimeMetrics`.
/// Every value is read when the method is called.
///
/// Get one from [`Runtime::metrics`](super::Runtime::metrics) or
/// [`Handle::metrics`](super::Handle::metrics); it stays valid (and cheap to
/// clone) as long as the runtime lives, so a reporter task can keep one.
///
/// ```
/// use perf_runtime::runtime::Builder;
/// use perf_runtime::task::Qos;
///
/// let rt = Builder::new_multi_thread().worker_threads(2).build().unwrap();
/// let metrics = rt.metrics();
/// assert_eq!(metrics.num_workers(), 2);
/// rt.block_on(async {
///     perf_runtime::spawn_with(Qos::Batch, async {}).await.unwrap();
/// });
/// assert_eq!(metrics.qos_spawned(Qos::Batch), 1);
/// println!(
///     "alive tasks: {}, queued: {}, long polls: {}, blocking threads: {}",
///     metrics.num_alive_tasks(),
///     metrics.global_queue_depth(),
///     metrics.long_polls(),
///     metrics.num_blocking_threads(),
/// );
/// ```
#[derive(Clone)]
pub struct RuntimeMetrics {
    pub(crate) handle: crate::scheduler::Handle,
}

impl RuntimeMetrics {
    /// Worker threads (1 on current_thread).
    pub fn num_workers(&self) -> usize {
        self.handle.num_workers()
    }

    /// Workers in the active set: all of them, unless container sizing
    /// parked some (a smaller quota, or throttling while all were busy).
    pub fn active_workers(&self) -> usize {
        match &self.handle {
            crate::scheduler::Handle::MultiThread(s) => s.num_active(),
            crate::scheduler::Handle::CurrentThread(_) => 1,
        }
    }

    /// Times container sizing took a worker out of the active set because
    /// the cgroup was throttled while every active worker was busy.
    pub fn throttle_step_downs(&self) -> u64 {
        self.handle.common().sizing.step_downs()
    }

    /// Times it gave one back after the throttling stopped.
    pub fn throttle_step_ups(&self) -> u64 {
        self.handle.common().sizing.step_ups()
    }

    /// Tasks spawned and not yet completed.
    pub fn num_alive_tasks(&self) -> usize {
        self.handle.num_alive_tasks()
    }

    /// Tasks waiting in the injection queues (all nodes and classes).
    pub fn global_queue_depth(&self) -> usize {
        self.handle.injection_queue_depth()
    }

    /// Distinct tasks the watchdog reported for a poll longer than the
    /// threshold.
    pub fn long_polls(&self) -> u64 {
        self.handle.common().watchdog.long_polls.load(Relaxed)
    }

    /// Polls the watchdog reported while still running after ten thresholds.
    pub fn stuck_polls(&self) -> u64 {
        self.handle.common().watchdog.stuck_polls.load(Relaxed)
    }

    /// Tasks of class `qos` spawned since the runtime started.
    pub fn qos_spawned(&self, qos: Qos) -> u64 {
        self.handle.qos_spawned(qos)
    }

    /// Tasks of class `qos` that completed (with an output, a panic or an
    /// abort); tasks cancelled by shutdown are not counted.
    pub fn qos_completed(&self, qos: Qos) -> u64 {
        self.handle.qos_completed(qos)
    }

    /// Polls of tasks of class `qos`.
    pub fn qos_polled(&self, qos: Qos) -> u64 {
        stats::polled(&self.handle.worker_stats(), qos)
    }

    /// How long tasks of class `qos` waited between being queued (spawned
    /// or woken) and being polled, sampled: one wake in 1024 is timed (a
    /// local wake by the worker's tick, a wake from outside a worker by the
    /// waking thread's count, its first wake included), to keep the clock,
    /// which costs 100-500 ns on some VMs, off the hot path. A distribution,
    /// not a count.
    pub fn qos_wake_delay(&self, qos: Qos) -> DelayHistogram {
        stats::delay(&self.handle.worker_stats(), qos)
    }

    /// Tasks stolen by a worker from another worker of its own NUMA node.
    pub fn local_steals(&self) -> u64 {
        stats::steals(&self.handle.worker_stats()).0
    }

    /// Tasks stolen by a worker from another node's workers or injector
    /// (only after `Builder::steal_hysteresis` fruitless local searches).
    pub fn remote_steals(&self) -> u64 {
        stats::steals(&self.handle.worker_stats()).1
    }

    /// Threads in the blocking pool.
    pub fn num_blocking_threads(&self) -> usize {
        self.handle.common().blocking.num_threads()
    }

    /// Idle threads in the blocking pool.
    pub fn num_idle_blocking_threads(&self) -> usize {
        self.handle.common().blocking.num_idle_threads()
    }

    /// Blocking jobs waiting for a thread.
    pub fn blocking_queue_depth(&self) -> usize {
        self.handle.common().blocking.queue_depth()
    }
}

impl std::fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeMetrics")
            .field("num_workers", &self.num_workers())
            .field("num_alive_tasks", &self.num_alive_tasks())
            .finish_non_exhaustive()
    }
}
