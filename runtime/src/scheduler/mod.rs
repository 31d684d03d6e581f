//! Schedulers: how a worker finds its next task.
//!
//! - `multi_thread/` — N workers with per-class local deques, a LIFO slot,
//!   per-(node, class) injectors and node-first stealing.
//! - `current_thread` — everything on the thread that calls `block_on`.
//! - `inject` — the per-(node, class) injection queues.
//! - `idle` — which workers sleep and how many search.
//! - `park` — the worker parker (no lost wakeups).
//! - `pick` — which class is served first at each tick (`QosWeights`).
//! - `stats` — per-class poll counts and wake → first-poll delay histograms.
//! - `watchdog` — notices polls that run too long.
//!
//! # The pick rule
//!
//! Each pick, a worker tries the classes in the order given by `pick.rs`:
//! Critical, then Normal, then Batch — unless a lower class has been passed
//! over for its period (`ceil(total weight / its weight)` picks; defaults
//! Critical 12, Normal 3, Batch 1: Batch once in 16 picks, Normal once in 6),
//! in which case that class goes first for one pick. On multi_thread a
//! poll counts as one pick per microsecond it ran, so a long lower-class
//! poll is followed by `period - 1` times its length of other work before
//! its class is owed again. A Critical task
//! therefore waits for the poll in progress, and for one lower-class poll
//! only when Critical work has used up its share (see `pick.rs` for the
//! exact rule and its bounds).
//!
//! Within a class the order is: the LIFO slot (if it holds a task of that
//! class and fewer than 3 LIFO polls ran in a row), the local deque, then the
//! node injector of that class. Every `global_queue_interval` ticks the
//! injector of the class is tried before the local deque, so remote work is
//! never starved by a busy local queue. Before every pick the worker checks
//! whether a timer is due (one atomic load when no timer is pending, plus a
//! clock read otherwise), so timers do not wait for a worker to park.

pub(crate) mod current_thread;
pub(crate) mod idle;
pub(crate) mod inject;
pub(crate) mod multi_thread;
pub(crate) mod park;
pub(crate) mod pick;
pub(crate) mod stats;
pub(crate) mod watchdog;

#[cfg(test)]
mod tests;

use crate::runtime::blocking::BlockingPool;
use crate::runtime::config::Config;
use crate::task::raw::TaskMeta;
use crate::task::JoinHandle;
use crate::time::TimeHandle;
use crate::topology::Topology;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// State shared by every scheduler flavour.
pub(crate) struct Common {
    pub(crate) config: Config,
    pub(crate) time: TimeHandle,
    pub(crate) blocking: BlockingPool,
    pub(crate) watchdog: Arc<watchdog::Stats>,
    pub(crate) topology: Topology,
    pub(crate) sizing: Arc<crate::runtime::sizing::Sizing>,
    /// The I/O driver (`None`: I/O not enabled).
    pub(crate) io: Option<Arc<crate::io::driver::Driver>>,
    /// The resource policy, and the thread re-reading its file.
    pub(crate) policy: crate::policy::Policy,
    /// Set once the scheduler exists (its checks need a weak handle to it).
    pub(crate) policy_watcher: std::sync::OnceLock<crate::policy::Watcher>,
    /// What the policy's limits do: violations, burst credits.
    pub(crate) enforcer: crate::qos::Enforcer,
    /// The orchestration layer (`DefaultProvider` without one).
    pub(crate) provider: Arc<dyn crate::policy::SystemsProvider>,
}

/// A [`Handle`] that does not keep the scheduler alive.
#[derive(Clone)]
pub(crate) enum WeakHandle {
    MultiThread(std::sync::Weak<multi_thread::MultiThreadScheduler>),
    CurrentThread(std::sync::Weak<current_thread::CurrentThreadScheduler>),
}

impl WeakHandle {
    pub(crate) fn upgrade(&self) -> Option<Handle> {
        match self {
            WeakHandle::MultiThread(w) => w.upgrade().map(Handle::MultiThread),
            WeakHandle::CurrentThread(w) => w.upgrade().map(Handle::CurrentThread),
        }
    }
}

impl crate::qos::Census for Handle {
    fn alive_in(&self, qos: crate::task::Qos) -> usize {
        self.qos_spawned(qos)
            .saturating_sub(self.qos_completed(qos)) as usize
    }

    fn alive_total(&self) -> usize {
        self.num_alive_tasks()
    }

    fn pressure(&self) -> crate::container::PressureLevel {
        self.common().sizing.pressure()
    }
}

/// A handle to one runtime's scheduler.
#[derive(Clone)]
pub(crate) enum Handle {
    MultiThread(Arc<multi_thread::MultiThreadScheduler>),
    CurrentThread(Arc<current_thread::CurrentThreadScheduler>),
}

impl Handle {
    pub(crate) fn downgrade(&self) -> WeakHandle {
        match self {
            Handle::MultiThread(s) => WeakHandle::MultiThread(Arc::downgrade(s)),
            Handle::CurrentThread(s) => WeakHandle::CurrentThread(Arc::downgrade(s)),
        }
    }

    /// Runs the resource policy's pool checks now (see [`crate::qos`]).
    pub(crate) fn check_policy(&self) -> Vec<crate::qos::QosViolation> {
        use crate::task::Qos;
        let c = self.common();
        fn queued<T>(inject: &inject::NodeInjectors<T>) -> [usize; Qos::COUNT] {
            Qos::ALL.map(|qos| (0..inject.num_nodes()).map(|n| inject.depth(n, qos)).sum())
        }
        let (active_workers, queued) = match self {
            Handle::MultiThread(s) => (s.num_active(), queued(&s.inject)),
            Handle::CurrentThread(s) => (1, queued(&s.inject)),
        };
        let nodes = c
            .topology
            .nodes()
            .iter()
            .filter(|n| !c.topology.allowed_cpus_of(n.id()).is_empty())
            .map(|n| n.os_id())
            .collect();
        let facts = crate::qos::PoolFacts {
            active_workers,
            queued,
            nodes,
            pod_qos: c
                .provider
                .container_context()
                .or_else(|| c.sizing.limits())
                .and_then(|l| l.k8s_qos),
        };
        c.enforcer.check(&c.policy.current(), &facts)
    }

    /// Starts the thread that re-reads the policy file, asks the systems
    /// provider again, tells it of pressure changes and runs the pool
    /// checks, if there is a period and a file, a pool limit or a provider.
    pub(crate) fn start_policy_watch(
        &self,
        period: Option<Duration>,
        has_provider: bool,
    ) -> std::io::Result<()> {
        let c = self.common();
        let Some(period) = period else {
            return Ok(());
        };
        if c.policy.path().is_none() && !c.policy.current().has_pool_limits() && !has_provider {
            return Ok(());
        }
        let weak = self.downgrade();
        let mut pressure = crate::container::PressureLevel::None;
        let watcher = c.policy.watch_with(
            period,
            Box::new(move || {
                if let Some(h) = weak.upgrade() {
                    h.policy_tick(&mut pressure);
                }
            }),
        )?;
        let _ = c.policy_watcher.set(watcher);
        Ok(())
    }

    /// One pass of the policy thread after the file check: the provider's
    /// layer, a pressure change (`last` is the level last reported), the
    /// pool checks.
    pub(crate) fn policy_tick(&self, last: &mut crate::container::PressureLevel) {
        let c = self.common();
        c.policy
            .set_provider_layer(crate::policy::provider_layer(&*c.provider));
        let level = c.sizing.pressure();
        if level != *last {
            *last = level;
            c.provider.on_pressure(level);
        }
        self.check_policy();
    }

    pub(crate) fn common(&self) -> &Common {
        match self {
            Handle::MultiThread(s) => &s.common,
            Handle::CurrentThread(s) => &s.common,
        }
    }

    /// Spawns, recording a violation if the spawn breaches the resource
    /// policy (a plain spawn never fails; see [`crate::qos`]).
    #[inline]
    pub(crate) fn spawn<F>(&self, future: F, meta: TaskMeta) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let _ = self.admit(meta.qos, false);
        self.spawn_admitted(future, meta)
    }

    /// Whether the resource policy admits a spawn of class `qos`; a breach
    /// is recorded either way, `refuse` says what the caller will do.
    pub(crate) fn admit(
        &self,
        qos: crate::task::Qos,
        refuse: bool,
    ) -> Result<(), crate::qos::QosViolation> {
        let c = self.common();
        c.enforcer.admit(&c.policy, self, qos, refuse)
    }

    /// Spawns without asking the resource policy.
    pub(crate) fn spawn_admitted<F>(&self, future: F, meta: TaskMeta) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            Handle::MultiThread(s) => multi_thread::MultiThreadScheduler::spawn(s, future, meta),
            Handle::CurrentThread(s) => {
                current_thread::CurrentThreadScheduler::spawn(s, future, meta)
            }
        }
    }

    /// The NUMA nodes this runtime has injectors for.
    pub(crate) fn num_nodes(&self) -> usize {
        match self {
            Handle::MultiThread(s) => s.node_workers.len(),
            Handle::CurrentThread(_) => 1,
        }
    }

    pub(crate) fn num_workers(&self) -> usize {
        match self {
            Handle::MultiThread(s) => s.num_workers(),
            Handle::CurrentThread(_) => 1,
        }
    }

    /// Every live task, if nothing can run (see each scheduler's).
    pub(crate) fn blocked_tasks_if_idle(&self) -> Option<Vec<crate::validation::BlockedTask>> {
        match self {
            Handle::MultiThread(s) => s.blocked_tasks_if_idle(),
            Handle::CurrentThread(s) => s.blocked_tasks_if_idle(),
        }
    }

    pub(crate) fn num_alive_tasks(&self) -> usize {
        match self {
            Handle::MultiThread(s) => s.owned.len(),
            Handle::CurrentThread(s) => s.owned.len(),
        }
    }

    /// Every worker's counters (the one core's on current_thread).
    pub(crate) fn worker_stats(&self) -> Vec<&stats::WorkerStats> {
        match self {
            Handle::MultiThread(s) => s
                .remotes
                .iter()
                .filter_map(|r| r.stats.get().map(|s| &**s))
                .collect(),
            Handle::CurrentThread(s) => vec![&*s.stats],
        }
    }

    pub(crate) fn qos_spawned(&self, qos: crate::task::Qos) -> u64 {
        match self {
            Handle::MultiThread(s) => s.owned.spawned(qos),
            Handle::CurrentThread(s) => s.owned.spawned(qos),
        }
    }

    pub(crate) fn qos_completed(&self, qos: crate::task::Qos) -> u64 {
        match self {
            Handle::MultiThread(s) => s.owned.completed(qos),
            Handle::CurrentThread(s) => s.owned.completed(qos),
        }
    }

    pub(crate) fn injection_queue_depth(&self) -> usize {
        match self {
            Handle::MultiThread(s) => s.inject.len(),
            Handle::CurrentThread(s) => s.inject.len(),
        }
    }

    /// Runs `f` with the calling thread's core's part of the I/O driver, if
    /// the thread runs one of this runtime's cores.
    pub(crate) fn with_local_io<R>(
        &self,
        f: impl FnOnce(Option<&crate::io::driver::LocalIo>) -> R,
    ) -> R {
        match self {
            Handle::MultiThread(s) => {
                crate::runtime::context::with_multi_thread_worker(|cx| match cx {
                    Some(cx) if std::ptr::eq(cx.shared_ptr(), Arc::as_ptr(s)) => {
                        cx.with_local_io(f)
                    }
                    _ => f(None),
                })
            }
            Handle::CurrentThread(s) => {
                crate::runtime::context::with_current_thread_core(|cx| match cx {
                    // SAFETY: the context is installed only while its `block_on` holds the core, on this thread.
                    Some(cx) if cx.is_for(s) => f(Some(unsafe { cx.local_io() })),
                    _ => f(None),
                })
            }
        }
    }

    pub(crate) fn is_current_thread(&self) -> bool {
        matches!(self, Handle::CurrentThread(_))
    }

    /// Stops accepting tasks, cancels every live task and wakes the workers
    /// so they exit.
    pub(crate) fn shutdown(&self) {
        match self {
            Handle::MultiThread(s) => s.shutdown(),
            Handle::CurrentThread(s) => s.shutdown(),
        }
    }
}
