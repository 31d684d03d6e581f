//! `runtime::Builder`: tokio's builder, plus what is new (classes, nodes).

use super::blocking::BlockingPool;
use super::config::{Callback, Config, ThreadNameFn};
use super::sizing::{Monitor, Sizing};
use super::Runtime;
use crate::container::{decide_workers, Limits, Rounding, WorkerDecision, WorkerOverride};
use crate::policy::Policy;
use crate::scheduler::multi_thread::{self, Core, Remote};
use crate::scheduler::pick::QosWeights;
use crate::scheduler::watchdog::{IdleProbe, Stats, Watchdog, WorkerWatch};
use crate::scheduler::{current_thread, Common, Handle};
use crate::task::Qos;
use crate::time::TimeHandle;
use crate::topology::{Placement, Topology};
use crossbeam_utils::CachePadded;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The environment variable that sets the worker count when
/// [`Builder::worker_threads`] is not called.
pub const WORKER_THREADS_ENV: &str = "PERF_RUNTIME_WORKER_THREADS";

/// The most worker threads a runtime accepts from [`Builder::worker_threads`]
/// or [`WORKER_THREADS_ENV`]; a larger count is a build error. Workers beyond
/// the CPUs only add switching, and each costs a stack and its queues.
pub const MAX_WORKER_THREADS: usize = 4096;

/// Builds a [`Runtime`] with custom settings, as `tokio::runtime::Builder`.
///
/// ```
/// use perf_runtime::runtime::Builder;
///
/// let rt = Builder::new_multi_thread()
///     .worker_threads(2)
///     .thread_name("my-service")
///     .enable_all()
///     .build()
///     .unwrap();
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// ```
pub struct Builder {
    kind: Kind,
    worker_threads: Option<usize>,
    thread_name: ThreadNameFn,
    thread_stack_size: Option<usize>,
    on_thread_start: Option<Callback>,
    on_thread_stop: Option<Callback>,
    on_thread_park: Option<Callback>,
    on_thread_unpark: Option<Callback>,
    max_blocking_threads: usize,
    thread_keep_alive: Duration,
    global_queue_interval: u32,
    qos_weights: (u32, u32, u32),
    reserve_critical_workers: usize,
    steal_hysteresis: u32,
    placement: Placement,
    rounding: Rounding,
    container_refresh: Option<Duration>,
    container_root: Option<std::path::PathBuf>,
    validation: crate::validation::Mode,
    on_deadlock: Option<crate::validation::DeadlockAction>,
    stall_threshold: Duration,
    event_interval: u32,
    long_poll_threshold: Option<Duration>,
    topology: Option<Topology>,
    start_paused: bool,
    timer_resolution: Duration,
    enable_io: bool,
    io_driver: crate::io::driver::IoDriver,
    policy_file: Option<std::path::PathBuf>,
    resource_limit: crate::policy::ResourceLimit,
    policy_reload_interval: Option<Duration>,
    systems_provider: Option<Arc<dyn crate::policy::SystemsProvider>>,
    /// The runtime's own helper runtimes (the metrics endpoint's): no
    /// resource policy, whatever the environment says.
    policy_exempt: bool,
    metrics_addr: MetricsAddr,
}

/// Where the metrics endpoint listens (`Builder::metrics_addr`).
#[derive(Clone, Debug)]
enum MetricsAddr {
    /// `PERF_RUNTIME_METRICS_ADDR`, if set and not yet taken by another
    /// runtime of the process.
    FromEnv,
    Addr(String),
    /// The endpoint's own runtime.
    Off,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    MultiThread,
    CurrentThread,
}

impl Builder {
    /// A builder for the work-stealing multi-thread runtime.
    pub fn new_multi_thread() -> Builder {
        Builder::new(Kind::MultiThread)
    }

    /// A builder for a runtime that runs every task on the thread calling
    /// `block_on`.
    pub fn new_current_thread() -> Builder {
        Builder::new(Kind::CurrentThread)
    }

    fn new(kind: Kind) -> Builder {
        Builder {
            kind,
            worker_threads: None,
            thread_name: Arc::new(|| "perf-runtime-worker".to_owned()),
            thread_stack_size: None,
            on_thread_start: None,
            on_thread_stop: None,
            on_thread_park: None,
            on_thread_unpark: None,
            max_blocking_threads: 512,
            thread_keep_alive: Duration::from_secs(10),
            global_queue_interval: 31,
            reserve_critical_workers: 0,
            steal_hysteresis: 2,
            placement: Placement::Unpinned,
            rounding: Rounding::Ceil,
            container_refresh: Some(Duration::from_secs(1)),
            container_root: None,
            validation: crate::validation::Mode::Report,
            on_deadlock: None,
            stall_threshold: crate::validation::DEFAULT_STALL_THRESHOLD,
            qos_weights: {
                let w = QosWeights::default();
                (w.get(Qos::Critical), w.get(Qos::Normal), w.get(Qos::Batch))
            },
            event_interval: 61,
            long_poll_threshold: Some(Duration::from_millis(100)),
            topology: None,
            start_paused: false,
            timer_resolution: DEFAULT_TIMER_RESOLUTION,
            enable_io: false,
            io_driver: crate::io::driver::IoDriver::Auto,
            policy_file: None,
            resource_limit: crate::policy::ResourceLimit::default(),
            policy_reload_interval: Some(crate::policy::DEFAULT_RELOAD_INTERVAL),
            systems_provider: None,
            policy_exempt: false,
            metrics_addr: MetricsAddr::FromEnv,
        }
    }

    /// The number of worker threads (multi-thread only; ignored by
    /// current_thread). Default: the `PERF_RUNTIME_WORKER_THREADS`
    /// environment variable if set, else the number of CPUs this process may
    /// use.
    ///
    /// # Panics
    /// If `n` is 0.
    #[track_caller]
    pub fn worker_threads(&mut self, n: usize) -> &mut Self {
        assert!(
            n > 0,
            "Builder::worker_threads: the worker count must be at least 1, got 0"
        );
        self.worker_threads = Some(n);
        self
    }

    /// The name of the runtime's threads (default `perf-runtime-worker`).
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        let name: String = name.into();
        self.thread_name = Arc::new(move || name.clone());
        self
    }

    /// A function that names each new thread.
    pub fn thread_name_fn<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() -> String + Send + Sync + 'static,
    {
        self.thread_name = Arc::new(f);
        self
    }

    /// The stack size of the runtime's threads, in bytes.
    ///
    /// # Panics
    /// If `size` is 0.
    #[track_caller]
    pub fn thread_stack_size(&mut self, size: usize) -> &mut Self {
        assert!(
            size > 0,
            "Builder::thread_stack_size: the stack size must be greater than 0 bytes"
        );
        self.thread_stack_size = Some(size);
        self
    }

    /// Runs `f` on each runtime thread (worker or blocking) when it starts.
    pub fn on_thread_start<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.on_thread_start = Some(Arc::new(f));
        self
    }

    /// Runs `f` on each runtime thread just before it stops.
    pub fn on_thread_stop<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.on_thread_stop = Some(Arc::new(f));
        self
    }

    /// Runs `f` on a worker thread just before it parks for lack of work
    /// (as tokio's `on_thread_park`); the thread may be woken again at once.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let parks = Arc::new(AtomicUsize::new(0));
    /// let p = parks.clone();
    /// let rt = perf_runtime::runtime::Builder::new_current_thread()
    ///     .on_thread_park(move || { p.fetch_add(1, Ordering::Relaxed); })
    ///     .build()
    ///     .unwrap();
    /// // The sleep is created inside the runtime: a timer needs one.
    /// rt.block_on(async { perf_runtime::time::sleep(std::time::Duration::from_millis(1)).await });
    /// assert!(parks.load(Ordering::Relaxed) >= 1);
    /// ```
    pub fn on_thread_park<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.on_thread_park = Some(Arc::new(f));
        self
    }

    /// Runs `f` on a worker thread just after it wakes from a park (as
    /// tokio's `on_thread_unpark`).
    pub fn on_thread_unpark<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.on_thread_unpark = Some(Arc::new(f));
        self
    }

    /// The most threads the blocking pool may run at once (default 512).
    ///
    /// # Panics
    /// If `n` is 0.
    #[track_caller]
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Self {
        assert!(
            n > 0,
            "Builder::max_blocking_threads: the blocking pool needs at least 1 thread, got 0"
        );
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking thread waits for work before it exits
    /// (default 10 s).
    pub fn thread_keep_alive(&mut self, d: Duration) -> &mut Self {
        self.thread_keep_alive = d;
        self
    }

    /// Every `n` ticks a worker checks the injection queue before its local
    /// queue, so remote work is not starved by a busy worker (default 31).
    ///
    /// # Panics
    /// If `n` is 0.
    #[track_caller]
    pub fn global_queue_interval(&mut self, n: u32) -> &mut Self {
        assert!(
            n > 0,
            "Builder::global_queue_interval: the interval must be at least 1 tick, got 0"
        );
        self.global_queue_interval = n;
        self
    }

    /// The minimum share of picks each class gets while it has work:
    /// Critical goes first unless it has used up its share, and a lower class
    /// passed over for `ceil(total / weight)` picks in a row is served next.
    /// The default is `(12, 3, 1)`: Batch at least once in 16 picks, Normal
    /// once in 6 (see [`QosWeights`] and the `scheduler` module docs).
    ///
    /// Checked by [`build`](Builder::build): a zero weight (that class could
    /// starve) or a total above 1024 is an error naming the weights.
    pub fn qos_weights(&mut self, critical: u32, normal: u32, batch: u32) -> &mut Self {
        self.qos_weights = (critical, normal, batch);
        self
    }

    /// Reserves `n` workers that only ever run Critical tasks, so a Critical
    /// request is served even while every other worker is inside a long
    /// Batch or Normal poll. A reserved worker steals Critical work from the
    /// workers of its node first, then from other nodes, and sleeps in the
    /// timer driver when it has none, so timers fire on time under load.
    /// Reserved workers are spread over the NUMA nodes, taken from the
    /// nodes with the most workers first. Default 0.
    ///
    /// Checked by [`build`](Builder::build): `n` must leave at least one
    /// worker for the other classes, and a current_thread runtime cannot
    /// reserve its only thread.
    pub fn reserve_critical_workers(&mut self, n: usize) -> &mut Self {
        self.reserve_critical_workers = n;
        self
    }

    /// Where the workers run (default [`Placement::Unpinned`]): pinned one
    /// per CPU (`PinToCore`), each to its node (`PinToNode`), or to given
    /// CPU sets (`Custom`). Each worker's node decides its injector and the
    /// order it steals in.
    ///
    /// Checked by [`build`](Builder::build): a CPU this process may not use,
    /// more `PinToCore` workers than allowed CPUs, or a `Custom` list whose
    /// length is not the worker count is an error naming the problem.
    pub fn placement(&mut self, placement: Placement) -> &mut Self {
        self.placement = placement;
        self
    }

    /// How many searches in a row a worker must find nothing on its own
    /// NUMA node before it steals from another node (default 2; 0 steals
    /// remotely at once). Remote stealing moves a task away from the memory
    /// it touched, so it should happen when a node is truly idle, not on
    /// every brief gap. Reserved Critical workers do not wait.
    pub fn steal_hysteresis(&mut self, rounds: u32) -> &mut Self {
        self.steal_hysteresis = rounds;
        self
    }

    /// How a fractional CPU quota becomes a worker count when the count is
    /// not set explicitly (default [`Rounding::Ceil`]: a 1.5-CPU quota runs
    /// 2 workers; `Floor` runs 1, as `available_parallelism` would).
    /// See the `container` module for the whole rule.
    pub fn worker_rounding(&mut self, rounding: Rounding) -> &mut Self {
        self.rounding = rounding;
        self
    }

    /// How often the container's limits are re-read (default 1 s; `None`
    /// reads them once, at build). Each pass moves the active worker count
    /// to what the current quota and cpuset allow, steps it down while the
    /// cgroup is throttled with every worker busy (and back up when the
    /// throttling stops), and updates the memory pressure level. A count
    /// set with [`worker_threads`](Builder::worker_threads) or
    /// `PERF_RUNTIME_WORKER_THREADS` is fixed: only the pressure is tracked.
    pub fn container_refresh(&mut self, period: Option<Duration>) -> &mut Self {
        self.container_refresh = period;
        self
    }

    /// The resource policy file (TOML, see [`crate::policy`]). Without this,
    /// the `PERF_RUNTIME_POLICY` environment variable names it, if set. A
    /// file that cannot be read or parsed is a build error naming its line
    /// and key; while the runtime runs, the file is re-read when it changes.
    pub fn policy_file(&mut self, path: impl Into<std::path::PathBuf>) -> &mut Self {
        self.policy_file = Some(path.into());
        self
    }

    /// The builder's layer of the resource policy: every limit it sets
    /// overrides the container detection and the policy file.
    pub fn resource_limit(&mut self, limit: crate::policy::ResourceLimit) -> &mut Self {
        self.resource_limit = limit;
        self
    }

    /// How often the policy file is checked for a change and the pool
    /// checks run (default 1 s; see [`crate::qos`]); `None` reads the file
    /// only at build and runs the checks only on
    /// [`Handle::check_policy`](crate::runtime::Handle::check_policy).
    pub fn policy_reload_interval(&mut self, period: Option<Duration>) -> &mut Self {
        self.policy_reload_interval = period;
        self
    }

    /// The orchestration layer's [`SystemsProvider`](crate::policy::SystemsProvider):
    /// a layer of the resource policy, the container context, the deadlock
    /// strategy, the pressure handler, and where anomalies are reported
    /// (see the trait). Without one, [`DefaultProvider`](crate::policy::DefaultProvider).
    pub fn systems_provider(&mut self, provider: impl crate::policy::SystemsProvider) -> &mut Self {
        self.systems_provider = Some(Arc::new(provider));
        self
    }

    fn provider(&self) -> Arc<dyn crate::policy::SystemsProvider> {
        self.systems_provider
            .clone()
            .unwrap_or_else(|| Arc::new(crate::policy::DefaultProvider))
    }

    fn policy(
        &self,
        sizing: &Sizing,
        provider: &dyn crate::policy::SystemsProvider,
    ) -> io::Result<Policy> {
        if self.policy_exempt {
            return Ok(Policy::new(
                None,
                None,
                crate::policy::ResourceLimit::default(),
            )?);
        }
        let path = match &self.policy_file {
            Some(p) => Some(p.clone()),
            None => match std::env::var_os(crate::policy::POLICY_ENV) {
                Some(v) if !v.is_empty() => Some(v.into()),
                _ => None,
            },
        };
        let container = provider.container_context().or_else(|| sizing.limits());
        let policy = Policy::new(container.as_ref(), path, self.resource_limit.clone())?;
        policy.set_provider_layer(crate::policy::provider_layer(provider));
        Ok(policy)
    }

    /// Reads `/proc` and the cgroup files under `root` instead of `/`: for
    /// tests and tools that replay a container's files. Paths inside
    /// `/proc/self/mountinfo` are taken relative to `root`.
    pub fn container_root(&mut self, root: impl Into<std::path::PathBuf>) -> &mut Self {
        self.container_root = Some(root.into());
        self
    }

    /// What the sync primitives do when the validation engine finds a bug
    /// (a lock-order inversion, a deadlock, a stalled channel...) on this
    /// runtime's threads: `Off`, `Report` (the default: record, count, log
    /// once per distinct violation) or `Panic` (the default of
    /// `#[perf_runtime::test]`). `PERF_RUNTIME_VALIDATION=off|report|panic`
    /// overrides it, and once a runtime is built sets the mode of every
    /// thread of the process (threads outside any runtime included); a bad
    /// value of the variable is a build error naming it.
    /// See [`crate::validation`].
    pub fn validation(&mut self, mode: crate::validation::Mode) -> &mut Self {
        self.validation = mode;
        self
    }

    /// What this runtime does when the validation engine finds an actual
    /// deadlock among its tasks (a cycle of the wait-for graph: locks,
    /// permits, channels, joins):
    ///
    /// - [`DeadlockAction::Report`](crate::validation::DeadlockAction::Report)
    ///   (the default): record and log the report; under `Mode::Panic` (as
    ///   in `#[perf_runtime::test]`) the task whose wait closed the cycle
    ///   panics, as for any report;
    /// - `Panic`: that task panics whatever the mode;
    /// - `AbortVictim`: cancel the youngest task of the cycle (never a task
    ///   outside it, never a blocking thread or `spawn_blocking` job), so
    ///   its guards and permits are released and the others go on. Its
    ///   `JoinHandle` resolves to a cancelled [`JoinError`](crate::task::JoinError)
    ///   whose message says it was chosen as a deadlock victim and names the
    ///   cycle; the report is still recorded and logged.
    ///
    /// Cycles are found when the closing wait starts, or by the watchdog's
    /// periodic scan (confirmed across two scans) when no wait start can see
    /// them; validation `Off` finds none.
    ///
    /// ```
    /// use perf_runtime::validation::DeadlockAction;
    ///
    /// let rt = perf_runtime::runtime::Builder::new_multi_thread()
    ///     .on_deadlock(DeadlockAction::AbortVictim)
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn on_deadlock(&mut self, action: crate::validation::DeadlockAction) -> &mut Self {
        self.on_deadlock = Some(action);
        self
    }

    /// How long a channel, `Notify`, `Barrier`, `Semaphore` or `watch` wait
    /// may go without progress before it is reported as a stall (default
    /// 5 s). A channel that is full but moving is never a stall. The
    /// threshold is process-wide: the last runtime built sets it.
    ///
    /// # Panics
    /// If `threshold` is zero.
    #[track_caller]
    pub fn stall_threshold(&mut self, threshold: Duration) -> &mut Self {
        assert!(
            !threshold.is_zero(),
            "Builder::stall_threshold: the threshold must be above zero, got 0 (every wait would \
             be a stall)"
        );
        self.stall_threshold = threshold;
        self
    }

    /// On current_thread, the `block_on` future is polled (if woken) at least
    /// every `n` task polls (default 61). Timers are checked at every tick on
    /// both flavours, so this no longer delays them as in tokio.
    ///
    /// # Panics
    /// If `n` is 0.
    #[track_caller]
    pub fn event_interval(&mut self, n: u32) -> &mut Self {
        assert!(
            n > 0,
            "Builder::event_interval: the interval must be at least 1 tick, got 0"
        );
        self.event_interval = n;
        self
    }

    /// The watchdog reports a task poll that runs longer than this (default
    /// 100 ms); `None` turns the watchdog off.
    pub fn long_poll_threshold(&mut self, threshold: Option<Duration>) -> &mut Self {
        self.long_poll_threshold = threshold;
        self
    }

    /// The CPU and NUMA topology to place workers on (default: detected from
    /// Linux sysfs). Tests use `Topology::synthetic`.
    pub fn topology(&mut self, topology: Topology) -> &mut Self {
        self.topology = Some(topology);
        self
    }

    /// Starts the clock paused (current_thread only), for tests that use
    /// `time::advance`.
    pub fn start_paused(&mut self, paused: bool) -> &mut Self {
        self.start_paused = paused;
        self
    }

    /// The width of a slot of the timer wheel (default 1 ms; between 1 µs
    /// and 1 s).
    ///
    /// Timers fire at their exact requested deadline (plus the time a worker
    /// needs to notice) whatever this is: it only decides how coarsely the
    /// wheel groups timers until their slot comes up. What it costs: the
    /// timers of the next occupied slot wait in a heap ordered by exact
    /// deadline, so a coarser resolution puts more timers in that heap at
    /// once (O(log n) per registration and fire, n the timers sharing a
    /// slot); a finer one makes far timers cascade between the wheel's
    /// levels more often, and a parked worker with no timer due within 64
    /// slots wakes once per cascade point (every 64 slots at most).
    ///
    /// # Errors
    /// [`build`](Builder::build) fails if `resolution` is zero or longer
    /// than one second.
    pub fn timer_resolution(&mut self, resolution: Duration) -> &mut Self {
        self.timer_resolution = resolution;
        self
    }

    fn checked_timer_resolution(&self) -> io::Result<Duration> {
        let r = self.timer_resolution;
        if r < MIN_TIMER_RESOLUTION || r > MAX_TIMER_RESOLUTION {
            return Err(invalid(format!(
                "Builder::timer_resolution({r:?}) is out of range: use a slot width between \
                 {MIN_TIMER_RESOLUTION:?} and {MAX_TIMER_RESOLUTION:?} (default \
                 {DEFAULT_TIMER_RESOLUTION:?}); timers fire at their exact deadline whatever it is"
            )));
        }
        Ok(r)
    }

    /// Kept for tokio compatibility: timers are always enabled.
    pub fn enable_time(&mut self) -> &mut Self {
        self
    }

    /// Enables every driver: I/O ([`enable_io`](Builder::enable_io)) and
    /// time (always on).
    pub fn enable_all(&mut self) -> &mut Self {
        self.enable_io()
    }

    /// Enables the I/O driver, as in tokio: without it, creating a socket,
    /// pipe or signal stream on this runtime fails with an error that says
    /// to call this. [`Runtime::new`] and `#[perf_runtime::main]` enable it.
    pub fn enable_io(&mut self) -> &mut Self {
        self.enable_io = true;
        self
    }

    /// Which I/O backend to build (default [`IoDriver::Auto`]: io_uring
    /// where the kernel allows it, else epoll, with the reason logged once).
    /// The `PERF_RUNTIME_IO` environment variable (`auto`, `uring`,
    /// `epoll`) overrides it. Forcing [`IoDriver::Uring`] where io_uring
    /// cannot work makes [`build`](Builder::build) fail with the reason.
    /// Implies [`enable_io`](Builder::enable_io).
    ///
    /// ```
    /// use perf_runtime::runtime::{Builder, IoBackend, IoDriver};
    ///
    /// let rt = Builder::new_current_thread().io_driver(IoDriver::Epoll).build().unwrap();
    /// assert_eq!(rt.handle().io_backend(), Some(IoBackend::Epoll));
    /// ```
    ///
    /// [`IoDriver::Auto`]: crate::runtime::IoDriver::Auto
    /// [`IoDriver::Uring`]: crate::runtime::IoDriver::Uring
    pub fn io_driver(&mut self, driver: crate::io::driver::IoDriver) -> &mut Self {
        self.io_driver = driver;
        self.enable_io = true;
        self
    }

    /// Serves this runtime's metrics on `addr` (`host:port`; port 0 picks
    /// one, see [`Runtime::metrics_local_addr`]): `/metrics` in the
    /// Prometheus text format or OpenMetrics, `/healthz`, `/debug/tasks` and
    /// `/debug/locks` (see [`crate::metrics`]). The endpoint runs on a
    /// thread of its own and stops with the runtime.
    ///
    /// Without this, the `PERF_RUNTIME_METRICS_ADDR` environment variable
    /// turns the endpoint on for the first runtime the process builds (a
    /// second one would find the address taken).
    ///
    /// ```
    /// let rt = perf_runtime::runtime::Builder::new_multi_thread()
    ///     .worker_threads(1)
    ///     .metrics_addr("127.0.0.1:0")
    ///     .build()
    ///     .unwrap();
    /// assert!(rt.metrics_local_addr().is_some());
    /// ```
    pub fn metrics_addr(&mut self, addr: impl Into<String>) -> &mut Self {
        self.metrics_addr = MetricsAddr::Addr(addr.into());
        self
    }

    /// The metrics endpoint's own runtime: no endpoint, whatever the
    /// environment says.
    pub(crate) fn without_metrics_endpoint(&mut self) -> &mut Self {
        self.metrics_addr = MetricsAddr::Off;
        // Nor the service's resource policy: the endpoint's few tasks are
        // not the service's, and must answer while it is overloaded.
        self.policy_exempt = true;
        self.policy_reload_interval = None;
        self
    }

    /// The address to serve metrics on, from the builder or the environment.
    fn metrics_addr_to_serve(&self) -> Option<(String, &'static str)> {
        static ENV_TAKEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        match &self.metrics_addr {
            MetricsAddr::Off => None,
            MetricsAddr::Addr(a) => Some((a.clone(), "Builder::metrics_addr")),
            MetricsAddr::FromEnv => {
                let v = std::env::var(crate::metrics::METRICS_ADDR_ENV).ok()?;
                if v.trim().is_empty() || ENV_TAKEN.swap(true, std::sync::atomic::Ordering::Relaxed)
                {
                    return None;
                }
                Some((v, crate::metrics::METRICS_ADDR_ENV))
            }
        }
    }

    /// The I/O driver for `cores` cores, if I/O is enabled.
    fn build_io(
        &self,
        cores: usize,
    ) -> io::Result<(
        Option<Arc<crate::io::driver::Driver>>,
        Vec<crate::io::driver::LocalIo>,
    )> {
        if !self.enable_io {
            return Ok((
                None,
                (0..cores)
                    .map(|_| crate::io::driver::LocalIo::none())
                    .collect(),
            ));
        }
        let (d, locals) = crate::io::driver::Driver::new(self.io_driver, cores)?;
        Ok((Some(d), locals))
    }

    /// The builder's validation mode, unless `PERF_RUNTIME_VALIDATION`
    /// overrides it.
    fn validation_mode(&self) -> io::Result<crate::validation::Mode> {
        Ok(self
            .env_validation_mode()?
            .or_else(|| self.systems_provider.as_ref()?.deadlock_strategy())
            .unwrap_or(self.validation))
    }

    /// The mode `PERF_RUNTIME_VALIDATION` names, if it is set.
    fn env_validation_mode(&self) -> io::Result<Option<crate::validation::Mode>> {
        crate::validation::Mode::from_env().map_err(|e| invalid(e.to_string()))
    }

    fn weights(&self) -> io::Result<QosWeights> {
        let (c, n, b) = self.qos_weights;
        QosWeights::new(c, n, b).map_err(|e| invalid(e.to_string()))
    }

    fn config(&self) -> io::Result<Config> {
        Ok(Config {
            global_queue_interval: self.global_queue_interval,
            qos_weights: self.weights()?,
            steal_hysteresis: self.steal_hysteresis,
            validation: self.validation_mode()?,
            event_interval: self.event_interval,
            thread_name: self.thread_name.clone(),
            thread_stack_size: self.thread_stack_size,
            on_thread_start: self.on_thread_start.clone(),
            on_thread_stop: self.on_thread_stop.clone(),
            on_thread_park: self.on_thread_park.clone(),
            on_thread_unpark: self.on_thread_unpark.clone(),
            max_blocking_threads: self.max_blocking_threads,
            thread_keep_alive: self.thread_keep_alive,
            timer_resolution: self.checked_timer_resolution()?,
        })
    }

    /// The explicit worker count, if the builder or the environment sets one.
    fn explicit_workers(&self) -> io::Result<Option<WorkerOverride>> {
        if let Some(n) = self.worker_threads {
            if n > MAX_WORKER_THREADS {
                return Err(invalid(format!(
                    "Builder::worker_threads({n}) is above the cap of {MAX_WORKER_THREADS} \
                     worker threads (MAX_WORKER_THREADS); ask for at most {MAX_WORKER_THREADS}, \
                     or leave it unset to run one worker per available CPU"
                )));
            }
            return Ok(Some(WorkerOverride::Builder(n)));
        }
        match std::env::var(WORKER_THREADS_ENV) {
            Ok(v) => parse_worker_env(&v).map(|n| Some(WorkerOverride::Env(n))),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(v)) => Err(invalid(format!(
                "{WORKER_THREADS_ENV}={v:?} is not valid UTF-8; set it to a positive integer such as 4, or unset it"
            ))),
        }
    }

    /// Reads the container limits and decides the worker count (see
    /// `runtime/sizing.rs` for the rule).
    fn sizing(&self, current_thread: bool) -> io::Result<Arc<Sizing>> {
        let explicit = if current_thread {
            None
        } else {
            self.explicit_workers()?
        };
        let limits = match &self.container_root {
            Some(root) => Limits::detect_at(root),
            None => Limits::detect(),
        };
        let decision = if current_thread {
            WorkerDecision {
                workers: 1,
                reason: "current_thread runs every task on the thread that calls block_on"
                    .to_owned(),
            }
        } else {
            decide_workers(
                limits.cpu_quota,
                limits.cpuset.len(),
                self.rounding,
                explicit,
            )
        };
        tracing::debug!(limits = %limits.log_line(), workers = %decision, "container limits");
        Ok(Arc::new(Sizing::new(
            explicit.is_none() && !current_thread,
            self.rounding,
            self.container_root.clone(),
            Some(limits),
            decision,
        )))
    }

    fn start_monitor(
        &self,
        sizing: &Arc<Sizing>,
        shared: Option<std::sync::Weak<multi_thread::MultiThreadScheduler>>,
    ) -> io::Result<Option<Monitor>> {
        match self.container_refresh {
            None => Ok(None),
            Some(period) => {
                let name = (self.thread_name)();
                Monitor::start(&name, period, sizing.clone(), shared).map(Some)
            }
        }
    }

    /// Creates the runtime.
    ///
    /// # Errors
    /// An invalid `PERF_RUNTIME_WORKER_THREADS` or
    /// `PERF_RUNTIME_VALIDATION`, a `start_paused` multi-thread runtime, a
    /// metrics address that cannot be bound, or the operating system
    /// refusing to start a thread.
    pub fn build(&mut self) -> io::Result<Runtime> {
        crate::validation::install_hook();
        crate::validation::set_stall_threshold(self.stall_threshold);
        // The variable sets the mode of the whole process, not only of this
        // runtime's threads: a thread outside any runtime (one taking a
        // `sync::blocking::Mutex`) follows it as well.
        if let Some(mode) = self.env_validation_mode()? {
            crate::validation::set_mode(mode);
        }
        let mut rt = match self.kind {
            Kind::MultiThread => self.build_multi_thread(),
            Kind::CurrentThread => self.build_current_thread(),
        }?;
        if let Some((addr, from)) = self.metrics_addr_to_serve() {
            let server = crate::metrics::serve_handle(rt.handle().clone(), addr.as_str())
                .map_err(|e| io::Error::new(e.kind(), format!("{from} = {addr:?}: {e}")))?;
            rt.set_metrics_server(server);
        }
        Ok(rt)
    }

    fn common(
        &self,
        pausable: bool,
        sizing: Arc<Sizing>,
        topology: Topology,
        io: Option<Arc<crate::io::driver::Driver>>,
        workers: usize,
    ) -> io::Result<(Common, Arc<Stats>)> {
        let config = self.config()?;
        let provider = self.provider();
        let policy = self.policy(&sizing, &*provider)?;
        // The policy's memory_mb sets the pressure level from now on, on
        // either flavour, with or without the monitor thread.
        sizing.attach_policy(policy.clone());
        let stats = Arc::new(Stats::default());
        let common = Common {
            policy,
            policy_watcher: std::sync::OnceLock::new(),
            enforcer: crate::qos::Enforcer::new(provider.clone()),
            provider,
            time: TimeHandle::new(
                pausable,
                self.start_paused && pausable,
                config.timer_resolution,
                workers,
            ),
            blocking: BlockingPool::new(config.clone()),
            watchdog: stats.clone(),
            topology,
            sizing,
            config,
            io,
        };
        Ok((common, stats))
    }

    fn build_current_thread(&mut self) -> io::Result<Runtime> {
        if self.reserve_critical_workers > 0 {
            return Err(invalid(format!(
                "Builder::reserve_critical_workers({}) on a current_thread runtime: it has one \
                 thread, which cannot be reserved; use Builder::new_multi_thread()",
                self.reserve_critical_workers
            )));
        }
        let epoch = Instant::now();
        let topology = self.topology.clone().unwrap_or_else(Topology::detect);
        let sizing = self.sizing(true)?;
        let (io, mut locals) = self.build_io(1)?;
        let local = locals
            .pop()
            .unwrap_or_else(crate::io::driver::LocalIo::none);
        let (common, stats) = self.common(true, sizing.clone(), topology, io, 0)?;
        let watch = Arc::new(CachePadded::new(WorkerWatch::new(epoch)));
        let shared = Arc::new(current_thread::CurrentThreadScheduler::new(
            common,
            watch.clone(),
            local,
        ));
        let shared2 = Arc::downgrade(&shared);
        shared.common.time.set_unpark(Box::new(move || {
            if let Some(s) = shared2.upgrade() {
                s.unpark();
            }
        }));
        let probe_target = Arc::downgrade(&shared);
        let probe: IdleProbe = Box::new(move || {
            probe_target
                .upgrade()
                .and_then(|s| s.blocked_tasks_if_idle())
        });
        let watchdog = self.start_watchdog(vec![watch], stats, epoch, Some(probe))?;
        let weak = Arc::downgrade(&shared);
        self.register_on_deadlock(Box::new(move |id| {
            weak.upgrade().map(|s| s.owned.abort_handle(id))
        }));
        let monitor = self.start_monitor(&sizing, None)?;
        let handle = Handle::CurrentThread(shared);
        handle.start_policy_watch(self.policy_reload_interval, self.systems_provider.is_some())?;
        Ok(Runtime::from_parts(handle, watchdog, monitor))
    }

    fn build_multi_thread(&mut self) -> io::Result<Runtime> {
        if self.start_paused {
            return Err(invalid(
                "Builder::start_paused(true) requires the current_thread runtime: a paused clock \
                 cannot be advanced deterministically while several workers run; use \
                 Builder::new_current_thread()"
                    .to_owned(),
            ));
        }
        let sizing = self.sizing(false)?;
        let decided = sizing.decision().workers;
        // Auto-sized: one thread per allowed CPU, so the active count can
        // grow live; the decided count is active at start.
        let workers = if sizing.auto {
            decided.max(sizing.limits().map_or(1, |l| l.cpuset.len()))
        } else {
            decided
        };
        let reserved_n = self.reserve_critical_workers;
        if reserved_n >= decided {
            return Err(invalid(format!(
                "Builder::reserve_critical_workers({reserved_n}) with {decided} worker(s): at least \
                 one worker must remain for Normal and Batch tasks; reserve fewer workers or raise \
                 worker_threads"
            )));
        }
        let epoch = Instant::now();
        let topology = self.topology.clone().unwrap_or_else(Topology::detect);
        let placements = self.placement.plan(&topology, workers).map_err(|e| {
            invalid(format!(
                "Builder::placement({:?}) with {workers} worker(s): {e}",
                self.placement
            ))
        })?;
        let num_nodes = topology.num_nodes().max(1);
        let reserved = choose_reserved(
            &placements
                .iter()
                .map(|p| p.node.index().min(num_nodes - 1))
                .collect::<Vec<_>>(),
            reserved_n,
        );
        let specs = multi_thread::worker_specs(&topology, placements, &reserved);
        let config = self.config()?;
        let mut node_workers: Vec<Vec<usize>> = vec![Vec::new(); num_nodes];
        let mut cores = Vec::with_capacity(workers);
        let mut remotes = Vec::with_capacity(workers);
        let mut watches = Vec::with_capacity(workers);
        let ranks = sizing_ranks(&specs.iter().map(|s| s.node).collect::<Vec<_>>(), &reserved);
        let (io, locals) = self.build_io(specs.len())?;
        for (spec, local) in specs.into_iter().zip(locals) {
            let (index, node) = (spec.index, spec.node);
            node_workers[node].push(index);
            let (seed, stealers, unparker) = Core::seed(spec, &config, local, io.as_ref());
            let watch = Arc::new(CachePadded::new(WorkerWatch::new(epoch)));
            watches.push(watch.clone());
            remotes.push(Remote {
                stealers,
                unparker,
                node,
                rank: ranks[index],
                watch,
                stats: std::sync::OnceLock::new(),
            });
            cores.push(multi_thread::CoreSource::Seed(Box::new(seed)));
        }
        let (common, stats) = self.common(false, sizing.clone(), topology, io, workers)?;
        let shared = Arc::new(multi_thread::MultiThreadScheduler::new(
            remotes.into_boxed_slice(),
            node_workers
                .into_iter()
                .map(Vec::into_boxed_slice)
                .collect(),
            reserved_n,
            decided - reserved_n,
            common,
        ));
        let weak = Arc::downgrade(&shared);
        shared.common.time.set_unpark(Box::new(move || {
            if let Some(s) = weak.upgrade() {
                s.unpark_driver();
            }
        }));
        let probe_target = Arc::downgrade(&shared);
        let probe: IdleProbe = Box::new(move || {
            probe_target
                .upgrade()
                .and_then(|s| s.blocked_tasks_if_idle())
        });
        let watchdog = self.start_watchdog(watches, stats, epoch, Some(probe))?;
        let weak = Arc::downgrade(&shared);
        self.register_on_deadlock(Box::new(move |id| {
            weak.upgrade().map(|s| s.owned.abort_handle(id))
        }));
        // The policy's cpu_millicores caps the pool before any worker runs.
        super::sizing::apply_policy_at_start(&shared, &sizing);
        let monitor = self.start_monitor(&sizing, Some(Arc::downgrade(&shared)))?;
        let rt = Runtime::from_parts(Handle::MultiThread(shared.clone()), watchdog, monitor);
        // On failure `rt` drops here and shuts down.
        rt.handle
            .inner
            .start_policy_watch(self.policy_reload_interval, self.systems_provider.is_some())?;
        for core in cores {
            // On failure `rt` drops here and shuts down the workers started so far.
            multi_thread::spawn_worker_thread(&shared, core)?;
        }
        Ok(rt)
    }

    /// Registers `lookup` (this runtime's tasks by id) for deadlock
    /// resolution, if `on_deadlock` was set.
    fn register_on_deadlock(&self, lookup: crate::validation::TaskLookup) {
        if let Some(action) = self.on_deadlock {
            crate::validation::register_deadlock_action(action, lookup);
        }
    }

    fn start_watchdog(
        &self,
        watches: Vec<Arc<CachePadded<WorkerWatch>>>,
        stats: Arc<Stats>,
        epoch: Instant,
        probe: Option<IdleProbe>,
    ) -> io::Result<Option<Watchdog>> {
        match self.long_poll_threshold {
            None => Ok(None),
            Some(t) => {
                let name = (self.thread_name)();
                Watchdog::start(&name, t, watches, stats, epoch, probe).map(Some)
            }
        }
    }
}

/// Which workers to reserve for Critical tasks, given each worker's node:
/// one at a time from the node with the most normal workers left (ties: the
/// lower node), taking that node's highest-index normal worker.
fn choose_reserved(nodes: &[usize], n: usize) -> Vec<bool> {
    let mut reserved = vec![false; nodes.len()];
    let num_nodes = nodes.iter().max().map_or(1, |&m| m + 1);
    for _ in 0..n {
        let normal_on = |node: usize| {
            (0..nodes.len())
                .filter(|&w| nodes[w] == node && !reserved[w])
                .count()
        };
        let Some(node) = (0..num_nodes).max_by_key(|&node| (normal_on(node), usize::MAX - node))
        else {
            break;
        };
        if let Some(w) = (0..nodes.len())
            .rev()
            .find(|&w| nodes[w] == node && !reserved[w])
        {
            reserved[w] = true;
        }
    }
    reserved
}

/// Each normal worker's sizing rank, round-robin over the nodes (so a
/// shrinking active set leaves every node some workers for as long as it
/// can); `usize::MAX` for reserved workers.
fn sizing_ranks(nodes: &[usize], reserved: &[bool]) -> Vec<usize> {
    let num_nodes = nodes.iter().max().map_or(1, |&m| m + 1);
    let mut per_node: Vec<std::collections::VecDeque<usize>> = vec![Default::default(); num_nodes];
    for (w, &n) in nodes.iter().enumerate() {
        if !reserved[w] {
            per_node[n].push_back(w);
        }
    }
    let mut ranks = vec![usize::MAX; nodes.len()];
    let mut next = 0;
    while per_node.iter().any(|q| !q.is_empty()) {
        for q in per_node.iter_mut() {
            if let Some(w) = q.pop_front() {
                ranks[w] = next;
                next += 1;
            }
        }
    }
    ranks
}

/// `Builder::timer_resolution`'s default and bounds.
const DEFAULT_TIMER_RESOLUTION: Duration = Duration::from_millis(1);
const MIN_TIMER_RESOLUTION: Duration = Duration::from_micros(1);
const MAX_TIMER_RESOLUTION: Duration = Duration::from_secs(1);

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

pub(crate) fn parse_worker_env(v: &str) -> io::Result<usize> {
    match v.trim().parse::<usize>() {
        Ok(0) => Err(invalid(format!(
            "{WORKER_THREADS_ENV}=\"{v}\": the worker count must be at least 1; set it to a positive integer such as 4, or unset it"
        ))),
        Ok(n) if n > MAX_WORKER_THREADS => Err(invalid(format!(
            "{WORKER_THREADS_ENV}=\"{v}\" is above the cap of {MAX_WORKER_THREADS} worker threads (MAX_WORKER_THREADS); set it to at most {MAX_WORKER_THREADS}, or unset it to run one worker per available CPU"
        ))),
        Ok(n) => Ok(n),
        Err(e) => Err(invalid(format!(
            "{WORKER_THREADS_ENV}=\"{v}\" is not a worker count ({e}); set it to a positive integer such as 4, or unset it"
        ))),
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("kind", &self.kind)
            .field("worker_threads", &self.worker_threads)
            .field("thread_stack_size", &self.thread_stack_size)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .field("global_queue_interval", &self.global_queue_interval)
            .field("qos_weights", &self.qos_weights)
            .field("reserve_critical_workers", &self.reserve_critical_workers)
            .field("placement", &self.placement)
            .field("steal_hysteresis", &self.steal_hysteresis)
            .field("event_interval", &self.event_interval)
            .field("enable_io", &self.enable_io)
            .field("io_driver", &self.io_driver)
            .field("long_poll_threshold", &self.long_poll_threshold)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::choose_reserved;

    fn picked(nodes: &[usize], n: usize) -> Vec<usize> {
        let r = choose_reserved(nodes, n);
        (0..nodes.len()).filter(|&w| r[w]).collect()
    }

    #[test]
    fn reserved_workers_come_from_the_fullest_nodes_highest_index_first() {
        assert_eq!(picked(&[0, 0, 0], 1), vec![2]);
        assert_eq!(picked(&[0, 0, 0], 2), vec![1, 2]);
        // Two nodes of two: one from each.
        assert_eq!(picked(&[0, 0, 1, 1], 2), vec![1, 3]);
        // Uneven: the 3-worker node gives first.
        assert_eq!(picked(&[0, 1, 1, 1], 1), vec![3]);
        assert_eq!(picked(&[0, 1, 1, 1], 2), vec![2, 3]);
        assert_eq!(picked(&[0, 1, 1, 1], 3), vec![0, 2, 3]);
        assert!(picked(&[0, 0], 0).is_empty());
    }
}
