//! Container sizing: the worker count chosen at start-up from the cgroup
//! limits, and the monitor that re-reads them and resizes the active set.
//!
//! # The rule
//!
//! `Builder::worker_threads(n)` or `PERF_RUNTIME_WORKER_THREADS=n` wins and
//! fixes the pool. Otherwise the runtime reads the container's limits
//! ([`Limits::detect`]) and runs `min(allowed CPUs, max(1, round(quota)))`
//! workers, rounding up by default ([`Rounding::Ceil`], as Go 1.25 and the
//! JVM do; `Floor` is what `std::thread::available_parallelism` and uber's
//! automaxprocs do). With no quota (a pod with requests but no limits) it
//! runs one worker per allowed CPU. It starts one thread per allowed CPU
//! (at least the initial count) and parks those beyond the count, so the
//! count can grow live without starting threads.
//!
//! # Live
//!
//! Every `Builder::container_refresh` period (default 1 s) a monitor thread
//! re-reads the limits. A new quota or cpuset moves the active count to the
//! new rule's value. Between changes, the throttling controller
//! ([`ThrottleController`]) steps the active count down by one when the
//! cgroup's `nr_throttled` rose over 3 consecutive periods while every
//! active worker was busy (no worker parked in the period), never below
//! `max(1, floor(quota))`, and back up after 5 clean periods, with back-off
//! when a step up is undone at once. Ceil's one risk — a 1.5-CPU quota run on 2 busy workers spends
//! part of each period throttled — is what the step-down guards against.
//! The memory pressure level is recomputed in the same pass.
//!
//! # The resource policy
//!
//! The policy's `cpu_millicores` caps the rule's count at
//! `ceil(millicores / 1000)` (at least 1). Its `memory_mb` is compared
//! with the process's resident memory (`/proc/self/statm`), with the same
//! thresholds as the container's working set against its limit, and the
//! pressure level is the higher of the two: page cache does not count
//! against `memory_mb`, because the kernel reclaims it against the
//! container's own limit, not against the policy's. Both are the policy's own layers
//! (file, systems provider, builder), not the container layer it was built
//! over — that one is the container's values at start-up, and the monitor
//! reads the live ones. They are read at every pass of the monitor, so a
//! reloaded policy file resizes the pool live; the
//! multi-thread runtime's monitor also applies them once at start-up,
//! before the workers start. An explicit worker count is never capped.

use crate::container::{
    decide_workers, Limits, PressureCell, PressureLevel, PressureWatch, Rounding, ThrottleConfig,
    ThrottleController, WorkerDecision,
};
use crate::policy::{Policy, ResourceLimit};
use crate::scheduler::multi_thread::MultiThreadScheduler;
use crate::util::stoppable::{StopFlag, StoppableThread};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// What the runtime decided about its size, and what the monitor saw last.
pub(crate) struct Sizing {
    /// False when the worker count was set explicitly: the pool is then
    /// fixed, and the monitor reads the limits only for the memory pressure.
    pub(crate) auto: bool,
    pub(crate) rounding: Rounding,
    pub(crate) root: Option<PathBuf>,
    state: Mutex<State>,
    /// The memory pressure level; `Handle::pressure` and
    /// `Handle::pressure_watch` read it.
    pressure: PressureCell,
    step_downs: AtomicU64,
    step_ups: AtomicU64,
    /// The runtime's resource policy, once attached (`attach_policy`).
    policy: std::sync::OnceLock<Policy>,
}

struct State {
    limits: Option<Limits>,
    decision: WorkerDecision,
}

impl Sizing {
    pub(crate) fn new(
        auto: bool,
        rounding: Rounding,
        root: Option<PathBuf>,
        limits: Option<Limits>,
        decision: WorkerDecision,
    ) -> Sizing {
        let pressure = limits
            .as_ref()
            .map_or(PressureLevel::None, Limits::memory_pressure);
        Sizing {
            auto,
            rounding,
            root,
            state: Mutex::new(State { limits, decision }),
            pressure: PressureCell::new(pressure),
            step_downs: AtomicU64::new(0),
            step_ups: AtomicU64::new(0),
            policy: std::sync::OnceLock::new(),
        }
    }

    /// Makes the monitor follow `policy`'s `cpu_millicores` and
    /// `memory_mb` (module docs), and recomputes the pressure level now.
    pub(crate) fn attach_policy(&self, policy: Policy) {
        let _ = self.policy.set(policy);
        if let Some(limits) = self.limits() {
            self.publish_pressure(&limits);
        }
    }

    /// The policy's own layers, if one is attached (module docs).
    fn policy_limits(&self) -> Option<ResourceLimit> {
        self.policy.get().map(Policy::over_container)
    }

    /// The pressure level of `limits`, raised by the policy's `memory_mb`
    /// (module docs).
    fn pressure_of(&self, limits: &Limits) -> PressureLevel {
        let container = limits.memory_pressure();
        match self.policy_limits().and_then(|p| p.memory_mb) {
            Some(mb) => container.max(policy_memory_level(process_rss(), mb)),
            None => container,
        }
    }

    fn publish_pressure(&self, limits: &Limits) {
        let level = self.pressure_of(limits);
        if let Some(old) = self.pressure.publish(level) {
            tracing::info!(
                from = old.as_str(),
                to = level.as_str(),
                "memory pressure changed"
            );
        }
    }

    /// `decision` capped by the policy's `cpu_millicores` (module docs).
    fn capped(&self, decision: WorkerDecision) -> WorkerDecision {
        cap_by_millicores(
            decision,
            self.policy_limits().and_then(|p| p.cpu_millicores),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn detect(&self) -> Limits {
        match &self.root {
            Some(root) => Limits::detect_at(root),
            None => Limits::detect(),
        }
    }

    /// The limits as last read (at start-up or by the monitor).
    pub(crate) fn limits(&self) -> Option<Limits> {
        self.lock().limits.clone()
    }

    /// The worker count decision and its reason, as last made.
    pub(crate) fn decision(&self) -> WorkerDecision {
        self.lock().decision.clone()
    }

    pub(crate) fn pressure(&self) -> PressureLevel {
        self.pressure.level()
    }

    pub(crate) fn pressure_watch(&self) -> PressureWatch {
        self.pressure.subscribe()
    }

    pub(crate) fn step_downs(&self) -> u64 {
        self.step_downs.load(Relaxed)
    }

    pub(crate) fn step_ups(&self) -> u64 {
        self.step_ups.load(Relaxed)
    }

    fn record(&self, limits: Limits, decision: Option<WorkerDecision>) {
        let level = self.pressure_of(&limits);
        {
            let mut state = self.lock();
            if let Some(old) = &state.limits {
                container_changed(old, &limits);
            }
            state.limits = Some(limits);
            if let Some(d) = decision {
                state.decision = d;
            }
        }
        if let Some(old) = self.pressure.publish(level) {
            tracing::info!(
                from = old.as_str(),
                to = level.as_str(),
                "memory pressure changed"
            );
        }
    }
}

/// The pressure level of `rss` bytes of resident memory (`None`: unknown)
/// against the policy's `memory_mb`, with the container thresholds.
pub(crate) fn policy_memory_level(rss: Option<u64>, memory_mb: u64) -> PressureLevel {
    match rss {
        Some(rss) => crate::container::memory_pressure_level(
            rss,
            Some(memory_mb.saturating_mul(1 << 20)),
            None,
            &crate::container::PressureThresholds::DEFAULT,
        ),
        None => PressureLevel::None,
    }
}

/// This process's resident memory in bytes (`/proc/self/statm`'s second
/// field, in pages), or `None` if it cannot be read.
fn process_rss() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf takes a constant and reads no memory of ours.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(page).ok().map(|p| pages.saturating_mul(p))
}

/// `decision` capped at `ceil(millicores / 1000)` workers (at least 1); the
/// reason says so when the cap lowers it.
pub(crate) fn cap_by_millicores(
    mut decision: WorkerDecision,
    millicores: Option<u64>,
) -> WorkerDecision {
    let Some(m) = millicores else {
        return decision;
    };
    let cap = usize::try_from(m.div_ceil(1000))
        .unwrap_or(usize::MAX)
        .max(1);
    if cap < decision.workers {
        decision.workers = cap;
        decision.reason.push_str(&format!(
            "; the resource policy's cpu_millicores = {m} caps it at {cap}"
        ));
    }
    decision
}

/// A `tracing` event when the container's limits changed between two
/// passes of the monitor (a CPU quota or cpuset update, a memory limit
/// resize: what an operator changes on a running pod).
fn container_changed(old: &Limits, new: &Limits) {
    let quota = (old.cpu_quota, new.cpu_quota);
    let cpus = (old.cpuset.len(), new.cpuset.len());
    let mem = (old.memory_limit, new.memory_limit);
    if quota.0 != quota.1 || cpus.0 != cpus.1 || mem.0 != mem.1 {
        tracing::info!(
            target: "perf_runtime::container",
            cpu_quota_from = quota.0,
            cpu_quota_to = quota.1,
            cpuset_from = cpus.0,
            cpuset_to = cpus.1,
            memory_limit_from = mem.0,
            memory_limit_to = mem.1,
            "container limits changed"
        );
    }
}

/// The monitor thread; stopped (and joined) on drop.
pub(crate) struct Monitor {
    _thread: StoppableThread,
}

impl Monitor {
    /// Starts the monitor. `shared` is the multi-thread scheduler to resize
    /// (`None` on current_thread: only the pressure is tracked).
    pub(crate) fn start(
        name: &str,
        period: Duration,
        sizing: Arc<Sizing>,
        shared: Option<Weak<MultiThreadScheduler>>,
    ) -> std::io::Result<Monitor> {
        let thread = StoppableThread::spawn(
            format!("{name}-sizing"),
            "the container-sizing monitor thread",
            move |stop| run(period, &sizing, shared, stop),
        )?;
        Ok(Monitor { _thread: thread })
    }
}

/// The policy's CPU cap on the decision made before the policy existed:
/// applied to the active set before the workers start (with or without the
/// monitor thread).
pub(crate) fn apply_policy_at_start(shared: &MultiThreadScheduler, sizing: &Sizing) {
    if !sizing.auto {
        return;
    }
    let before = sizing.decision();
    let after = sizing.capped(before.clone());
    if after.workers < before.workers {
        tracing::info!(
            from = before.workers,
            to = after.workers,
            reason = %after.reason,
            "container sizing: the resource policy caps the workers"
        );
        shared.set_active(after.workers.saturating_sub(shared.num_reserved).max(1));
        sizing.lock().decision = after;
    }
}

fn run(
    period: Duration,
    sizing: &Sizing,
    shared: Option<Weak<MultiThreadScheduler>>,
    stop: &StopFlag,
) {
    let normal_threads = shared
        .as_ref()
        .and_then(Weak::upgrade)
        .map_or(1, |s| s.num_workers() - s.num_reserved);
    let initial = sizing.decision().workers.min(normal_threads).max(1);
    let mut controller = ThrottleController::new(initial, ThrottleConfig::default());
    let mut last_parks = None;
    loop {
        if stop.sleep(period) {
            return;
        }
        let limits = sizing.detect();
        let shared = match &shared {
            Some(w) => match w.upgrade() {
                Some(s) => Some(s),
                None => return,
            },
            None => None,
        };
        let decision = match (&shared, sizing.auto) {
            (Some(s), true) if !s.is_shutdown() => Some(resize(
                s,
                sizing,
                &limits,
                &mut controller,
                &mut last_parks,
                normal_threads,
            )),
            _ => None,
        };
        sizing.record(limits, decision);
    }
}

/// One monitor pass over a multi-thread runtime: the new rule, then the
/// throttling controller; applies the result to the active set.
fn resize(
    shared: &MultiThreadScheduler,
    sizing: &Sizing,
    limits: &Limits,
    controller: &mut ThrottleController,
    last_parks: &mut Option<u64>,
    normal_threads: usize,
) -> WorkerDecision {
    let mut decision = sizing.capped(decide_workers(
        limits.cpu_quota,
        limits.cpuset.len(),
        sizing.rounding,
        None,
    ));
    let ceiling = decision.workers.clamp(1, normal_threads);
    if ceiling < decision.workers {
        decision.reason.push_str(&format!(
            "; only {normal_threads} worker threads were started, so {ceiling}"
        ));
    }
    let parks = shared.parks.load(Relaxed);
    let all_busy = last_parks.is_some_and(|p| p == parks);
    *last_parks = Some(parks);
    let active = shared.active.load(Relaxed);
    let target = if ceiling != controller.ceiling() {
        controller.set_ceiling(ceiling);
        if let Some(t) = limits.throttling {
            // Prime the controller with this sample.
            let _ = controller.observe(t, false, ceiling);
        }
        ceiling
    } else {
        match limits.throttling {
            Some(t) => {
                // Never below the whole CPUs of the quota: what rounding up
                // risks is only the fractional worker. Throttling at or below
                // floor(quota) workers comes from other threads of the
                // process or from bursts, and parking a worker there would
                // only cut capacity the quota pays for.
                controller.set_floor(
                    limits
                        .cpu_quota
                        .map_or(1, |q| q.floor() as usize)
                        .min(ceiling),
                );
                controller.observe(t, all_busy, active).target()
            }
            None => ceiling,
        }
    };
    sizing.step_downs.store(controller.step_downs(), Relaxed);
    sizing.step_ups.store(controller.step_ups(), Relaxed);
    if target != active {
        tracing::info!(
            from = active,
            to = target,
            ceiling,
            reason = %decision.reason,
            "container sizing: active workers changed"
        );
        shared.set_active(target);
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(workers: usize) -> WorkerDecision {
        WorkerDecision {
            workers,
            reason: "cpuset allows 4".to_owned(),
        }
    }

    #[test]
    fn millicores_cap_the_workers_rounding_up() {
        let d = cap_by_millicores(decision(4), Some(1500));
        assert_eq!(d.workers, 2);
        assert!(
            d.reason.ends_with("cpu_millicores = 1500 caps it at 2"),
            "{}",
            d.reason
        );
        assert_eq!(cap_by_millicores(decision(4), Some(1)).workers, 1);
        assert_eq!(cap_by_millicores(decision(4), Some(0)).workers, 1);
        // A cap above the decision leaves it (and its reason) alone.
        let d = cap_by_millicores(decision(2), Some(8000));
        assert_eq!((d.workers, d.reason.as_str()), (2, "cpuset allows 4"));
        assert_eq!(cap_by_millicores(decision(3), None).workers, 3);
    }

    #[test]
    fn memory_mb_grades_resident_memory_with_the_container_thresholds() {
        const MIB: u64 = 1 << 20;
        assert_eq!(
            policy_memory_level(Some(100 * MIB), 1000),
            PressureLevel::None
        );
        assert_eq!(
            policy_memory_level(Some(990 * MIB), 1000),
            PressureLevel::Critical
        );
        assert!(policy_memory_level(Some(900 * MIB), 1000) >= PressureLevel::Moderate);
        assert_eq!(policy_memory_level(None, 1), PressureLevel::None);
        // This process's own resident memory is readable and above 1 MiB.
        assert!(process_rss().is_some_and(|b| b > MIB));
    }
}
