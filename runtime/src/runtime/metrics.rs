//! `RuntimeMetrics`: counters read from a live runtime.

use std::sync::atomic::Ordering::Relaxed;

/// A view of one runtime's counters, as `tokio::runtime::RuntimeMetrics`.
/// Every value is read when the method is called.
#[derive(Clone)]
pub struct RuntimeMetrics {
    pub(crate) handle: crate::scheduler::Handle,
}

impl RuntimeMetrics {
    /// Worker threads (1 on current_thread).
    pub fn num_workers(&self) -> usize {
        self.handle.num_workers()
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
