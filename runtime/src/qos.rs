//! Enforcement of the resource policy ([`crate::policy`]): what happens at
//! each limit, the violations it records, and burst credits.
//!
//! | limit | action |
//! |---|---|
//! | `class.<c>.max_tasks` | [`task::Builder::try_spawn`](crate::task::Builder::try_spawn) answers [`TrySpawnError::Overloaded`](crate::task::TrySpawnError::Overloaded) (after spending a burst credit, if the class has any left); plain `spawn` never fails: it spawns and records a High [`QosViolation`] |
//! | `limits.max_tasks` | the same, over all classes together (no burst credits) |
//! | memory pressure Critical | Batch spawns are shed: `try_spawn` answers `Overloaded`, plain `spawn` records a Critical violation; the other classes are not shed |
//! | memory pressure Moderate | Batch admission tightens: the Batch task limit counts as half its value |
//! | `limits.max_locks` | at each pool check (the policy thread's pass, or [`Handle::check_policy`](crate::runtime::Handle::check_policy)), more live `Mutex` and `RwLock` instances in the process than the limit is a High violation on resource `locks` (recorded when the breach starts, not at every check while it lasts) |
//! | `limits.cpu_millicores` | caps the worker count at `ceil(millicores / 1000)`: the active set of an auto-sized multi-thread runtime, at start-up and at every pass of the sizing monitor (so a reloaded policy resizes it live), as a container CPU quota does; an explicit `worker_threads` is not capped |
//! | `limits.memory_mb` | the process's resident memory is graded against it with the container thresholds; the pressure level is the higher of that and the container's (at build time, then at every pass of the sizing monitor) |
//!
//! A violation is recorded in a bounded history ([`violations`], the last
//! [`HISTORY_CAPACITY`]), counted by kind ([`violation_count`]) and logged
//! as a `tracing` event with structured fields (the first of a kind, then
//! at each power of two, so a flood does not flood the log).
//!
//! # Burst credits
//!
//! A class with `burst_credits` in the policy may exceed its task limit:
//! each spawn past the limit spends a credit, and credits come back at
//! `burst_refill_per_sec` up to the bucket size ([`BurstCredits`], the
//! specification's `ApplyBurstCredit`). A spawn that takes a credit is not
//! a violation; one that finds none is.

use crate::container::PressureLevel;
use crate::policy::{Burst, Policy, ResourceLimit, SystemsProvider};
use crate::runtime::Handle;
use crate::task::Qos;
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How many violations the history keeps (the oldest go first).
pub const HISTORY_CAPACITY: usize = 256;

/// How serious a violation is, as the specification grades them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The service is at risk now (memory exhausted).
    Critical,
    /// A hard limit was crossed (tasks, workers).
    High,
    /// A soft limit was crossed (queue depth).
    Medium,
}

impl Severity {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
        }
    }
}

/// Which limit a violation concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ViolationKind {
    /// A class's live tasks at its `max_tasks`.
    ClassTasks,
    /// All live tasks at `limits.max_tasks`.
    TotalTasks,
    /// A Batch spawn while memory pressure is Critical.
    MemoryPressure,
    /// More active workers than `max_workers`.
    Workers,
    /// More tasks of a class queued in the injectors than its
    /// `max_queue_depth`.
    QueueDepth,
    /// Workers on a NUMA node outside `numa_nodes`.
    Numa,
    /// The pod runs in another QoS class than the policy's `qos`.
    PodQos,
    /// More live `Mutex` and `RwLock` instances than `max_locks`.
    Locks,
}

impl ViolationKind {
    /// Every kind, in [`index`](Self::index) order.
    pub const ALL: [ViolationKind; 8] = [
        ViolationKind::ClassTasks,
        ViolationKind::TotalTasks,
        ViolationKind::MemoryPressure,
        ViolationKind::Workers,
        ViolationKind::QueueDepth,
        ViolationKind::Numa,
        ViolationKind::PodQos,
        ViolationKind::Locks,
    ];

    /// The position in [`ALL`](Self::ALL).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The snake-case name, as in metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ViolationKind::ClassTasks => "class_tasks",
            ViolationKind::TotalTasks => "total_tasks",
            ViolationKind::MemoryPressure => "memory_pressure",
            ViolationKind::Workers => "workers",
            ViolationKind::QueueDepth => "queue_depth",
            ViolationKind::Numa => "numa",
            ViolationKind::PodQos => "pod_qos",
            ViolationKind::Locks => "locks",
        }
    }

    /// As the specification grades them: NUMA placement and memory
    /// Critical, worker, task and lock counts High, queue depth Medium.
    pub fn severity(self) -> Severity {
        match self {
            ViolationKind::MemoryPressure | ViolationKind::Numa => Severity::Critical,
            ViolationKind::ClassTasks
            | ViolationKind::TotalTasks
            | ViolationKind::Workers
            | ViolationKind::PodQos
            | ViolationKind::Locks => Severity::High,
            ViolationKind::QueueDepth => Severity::Medium,
        }
    }
}

/// One breach of the resource policy.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QosViolation {
    /// Which limit.
    pub kind: ViolationKind,
    /// How serious.
    pub severity: Severity,
    /// The class concerned (`None` for the pool-wide checks: workers,
    /// NUMA, pod QoS class).
    pub qos: Option<Qos>,
    /// The resource the limit is on (`tasks.batch`, `tasks`, `memory`,
    /// `workers`, `queue.batch`, `numa`, `pod_qos`, `locks`).
    pub resource: String,
    /// What was found against what is allowed.
    pub message: String,
    /// Whether the work was refused (`try_spawn`) rather than let through.
    pub refused: bool,
    /// When.
    pub at: SystemTime,
}

impl fmt::Display for QosViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} violation on {}: {}",
            self.severity.as_str(),
            self.resource,
            self.message
        )
    }
}

impl std::error::Error for QosViolation {}

/// A class's burst credits: a token bucket of [`Burst::credits`] refilled
/// at [`Burst::refill_per_sec`]. The clock is passed in, so its arithmetic
/// can be checked at chosen instants.
#[derive(Clone, Debug)]
pub struct BurstCredits {
    config: Burst,
    credits: u32,
    last: Instant,
    /// Refill time not yet worth a whole credit, in nanoseconds × rate.
    carry: u128,
}

impl BurstCredits {
    /// A full bucket at `now`.
    pub fn new(config: Burst, now: Instant) -> BurstCredits {
        BurstCredits {
            config,
            credits: config.credits,
            last: now,
            carry: 0,
        }
    }

    /// The bucket's configuration.
    pub fn config(&self) -> Burst {
        self.config
    }

    /// Credits left at `now` (after the refill up to `now`).
    pub fn available(&mut self, now: Instant) -> u32 {
        self.refill(now);
        self.credits
    }

    /// Spends one credit if there is one at `now`.
    pub fn try_spend(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.credits == 0 {
            return false;
        }
        self.credits -= 1;
        true
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = self.last.max(now);
        if self.credits >= self.config.credits {
            self.carry = 0;
            return;
        }
        let total = self.carry + elapsed.as_nanos() * u128::from(self.config.refill_per_sec);
        let per_credit = Duration::from_secs(1).as_nanos();
        let whole = total / per_credit;
        self.carry = total % per_credit;
        let room = self.config.credits - self.credits;
        if whole >= u128::from(room) {
            self.credits = self.config.credits;
            self.carry = 0;
        } else {
            self.credits += whole as u32;
        }
    }
}

/// A runtime's enforcement state.
pub(crate) struct Enforcer {
    history: Mutex<VecDeque<QosViolation>>,
    counts: [AtomicU64; ViolationKind::ALL.len()],
    /// Violations by kind and resource, for metrics: resources come from a
    /// fixed set (a class or pool-wide), so this stays small.
    by_resource: Mutex<Vec<(ViolationKind, String, u64)>>,
    burst: Mutex<[Option<BurstCredits>; Qos::COUNT]>,
    /// The pool checks' breaches still in force (kind, resource): a breach
    /// is recorded when it starts, not at every check while it lasts.
    ongoing: Mutex<Vec<(ViolationKind, String)>>,
    /// Told of every violation (`report_anomaly`).
    provider: Arc<dyn SystemsProvider>,
}

impl Enforcer {
    pub(crate) fn new(provider: Arc<dyn SystemsProvider>) -> Enforcer {
        Enforcer {
            provider,
            history: Mutex::new(VecDeque::with_capacity(HISTORY_CAPACITY)),
            counts: Default::default(),
            by_resource: Mutex::new(Vec::new()),
            burst: Mutex::new([None, None, None]),
            ongoing: Mutex::new(Vec::new()),
        }
    }
}

/// What the pool checks look at, gathered from a runtime.
pub(crate) struct PoolFacts {
    pub(crate) active_workers: usize,
    /// Tasks queued in the injectors, per class.
    pub(crate) queued: [usize; Qos::COUNT],
    /// OS numbers of the NUMA nodes the runtime's CPUs are on.
    pub(crate) nodes: Vec<usize>,
    /// The pod QoS class container detection found.
    pub(crate) pod_qos: Option<crate::container::K8sQos>,
}

/// Live `Mutex` and `RwLock` instances in the process, for the lock check.
fn live_locks() -> usize {
    crate::sync::class_stats::live_locks()
}

/// The live-task counts the admission decision needs, read only when a
/// limit is set.
pub(crate) trait Census {
    fn alive_in(&self, qos: Qos) -> usize;
    fn alive_total(&self) -> usize;
    fn pressure(&self) -> PressureLevel;
}

impl Enforcer {
    /// Decides a spawn of class `qos`: `Err` is a breach (already
    /// recorded). `refuse` says whether the caller will refuse the spawn on
    /// a breach (`try_spawn`) or let it through (`spawn`).
    pub(crate) fn admit(
        &self,
        policy: &Policy,
        census: &dyn Census,
        qos: Qos,
        refuse: bool,
    ) -> Result<(), QosViolation> {
        let pressure = if qos == Qos::Batch {
            census.pressure()
        } else {
            PressureLevel::None
        };
        if pressure == PressureLevel::Critical {
            return Err(self.record(
                ViolationKind::MemoryPressure,
                Some(qos),
                "memory".to_owned(),
                "a Batch spawn while memory pressure is critical".to_owned(),
                refuse,
            ));
        }
        if !policy.limits_tasks() {
            return Ok(());
        }
        let limits = policy.current();
        let class = limits.class(qos);
        if let Some(mut limit) = class.max_tasks {
            let tightened = pressure == PressureLevel::Moderate;
            if tightened {
                limit /= 2;
            }
            let alive = census.alive_in(qos);
            if alive >= limit && !self.spend_burst(qos, class.burst) {
                return Err(self.record(
                    ViolationKind::ClassTasks,
                    Some(qos),
                    format!("tasks.{qos}"),
                    format!(
                        "{alive} live {qos} tasks at the limit of {limit}{}",
                        if tightened {
                            " (half of max_tasks under moderate memory pressure)"
                        } else {
                            ""
                        }
                    ),
                    refuse,
                ));
            }
        }
        if let Some(limit) = limits.max_tasks {
            let alive = census.alive_total();
            if alive >= limit {
                return Err(self.record(
                    ViolationKind::TotalTasks,
                    Some(qos),
                    "tasks".to_owned(),
                    format!("{alive} live tasks at the limit of {limit}"),
                    refuse,
                ));
            }
        }
        Ok(())
    }

    /// The specification's `ValidatePoolCompliance`: worker count, queue
    /// depth per class, NUMA placement and pod QoS class against `limits`.
    /// Returns the breaches found now; records those that were not in
    /// force at the previous check.
    pub(crate) fn check(&self, limits: &ResourceLimit, facts: &PoolFacts) -> Vec<QosViolation> {
        let mut found: Vec<(ViolationKind, Option<Qos>, String, String)> = Vec::new();
        if let Some(max) = limits.max_workers {
            if facts.active_workers > max {
                found.push((
                    ViolationKind::Workers,
                    None,
                    "workers".to_owned(),
                    format!(
                        "{} active workers exceed the limit of {max}",
                        facts.active_workers
                    ),
                ));
            }
        }
        for qos in Qos::ALL {
            if let Some(max) = limits.class(qos).max_queue_depth {
                let depth = facts.queued[qos.index()];
                if depth > max {
                    found.push((
                        ViolationKind::QueueDepth,
                        Some(qos),
                        format!("queue.{qos}"),
                        format!("{depth} queued {qos} tasks exceed the limit of {max}"),
                    ));
                }
            }
        }
        if let Some(allowed) = &limits.numa_nodes {
            let outside: Vec<usize> = facts
                .nodes
                .iter()
                .copied()
                .filter(|n| !allowed.contains(n))
                .collect();
            if !outside.is_empty() {
                found.push((
                    ViolationKind::Numa,
                    None,
                    "numa".to_owned(),
                    format!("workers may run on NUMA node(s) {outside:?}, outside the allowed {allowed:?}"),
                ));
            }
        }
        if let Some(max) = limits.max_locks {
            let live = live_locks();
            if live > max {
                found.push((
                    ViolationKind::Locks,
                    None,
                    "locks".to_owned(),
                    format!("{live} live Mutex and RwLock instances exceed the limit of {max}"),
                ));
            }
        }
        if let (Some(want), Some(found_qos)) = (limits.qos, facts.pod_qos) {
            if want != found_qos {
                found.push((
                    ViolationKind::PodQos,
                    None,
                    "pod_qos".to_owned(),
                    format!(
                        "the pod runs as {}, the policy requires {}",
                        found_qos.as_str(),
                        want.as_str()
                    ),
                ));
            }
        }
        let mut ongoing = self.ongoing.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::with_capacity(found.len());
        let mut now_ongoing = Vec::with_capacity(found.len());
        for (kind, qos, resource, message) in found {
            let key = (kind, resource.clone());
            let v = if ongoing.contains(&key) {
                QosViolation {
                    kind,
                    severity: kind.severity(),
                    qos,
                    resource,
                    message,
                    refused: false,
                    at: SystemTime::now(),
                }
            } else {
                self.record(kind, qos, resource, message, false)
            };
            now_ongoing.push(key);
            out.push(v);
        }
        *ongoing = now_ongoing;
        out
    }

    fn spend_burst(&self, qos: Qos, config: Option<Burst>) -> bool {
        let Some(config) = config else {
            return false;
        };
        let now = Instant::now();
        let mut buckets = self.burst.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = &mut buckets[qos.index()];
        // A new or changed burst configuration starts with a full bucket.
        let b = match bucket {
            Some(b) if b.config() == config => b,
            _ => bucket.insert(BurstCredits::new(config, now)),
        };
        b.try_spend(now)
    }

    pub(crate) fn burst_available(&self, qos: Qos, config: Option<Burst>) -> Option<u32> {
        let config = config?;
        let mut buckets = self.burst.lock().unwrap_or_else(|e| e.into_inner());
        Some(match &mut buckets[qos.index()] {
            Some(b) if b.config() == config => b.available(Instant::now()),
            _ => config.credits,
        })
    }

    fn record(
        &self,
        kind: ViolationKind,
        qos: Option<Qos>,
        resource: String,
        message: String,
        refused: bool,
    ) -> QosViolation {
        let v = QosViolation {
            kind,
            severity: kind.severity(),
            qos,
            resource,
            message,
            refused,
            at: SystemTime::now(),
        };
        let n = self.counts[kind.index()].fetch_add(1, Relaxed) + 1;
        {
            let mut by = self.by_resource.lock().unwrap_or_else(|e| e.into_inner());
            match by
                .iter_mut()
                .find(|(k, r, _)| *k == kind && *r == v.resource)
            {
                Some((_, _, c)) => *c += 1,
                None => by.push((kind, v.resource.clone(), 1)),
            }
        }
        self.provider
            .report_anomaly(&format!("violations.{}", kind.as_str()), n as f64);
        if n.is_power_of_two() {
            tracing::warn!(
                kind = kind.as_str(),
                severity = v.severity.as_str(),
                qos = qos.map(Qos::as_str),
                resource = %v.resource,
                refused,
                count = n,
                "{}",
                v.message
            );
        }
        let mut h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        if h.len() == HISTORY_CAPACITY {
            h.pop_front();
        }
        h.push_back(v.clone());
        v
    }

    pub(crate) fn history(&self) -> Vec<QosViolation> {
        let h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        h.iter().cloned().collect()
    }

    pub(crate) fn count(&self, kind: ViolationKind) -> u64 {
        self.counts[kind.index()].load(Relaxed)
    }

    /// Violations recorded since the start by kind and resource (for
    /// metrics; unlike the history, never forgets).
    pub(crate) fn counts_by_resource(&self) -> Vec<(ViolationKind, String, u64)> {
        self.by_resource
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The current runtime's violation history, oldest first (at most
/// [`HISTORY_CAPACITY`]); the specification's `GetViolationHistory`.
///
/// # Panics
/// Outside a runtime (as `Handle::current`).
pub fn violations() -> Vec<QosViolation> {
    Handle::current().qos_violations()
}

/// Violations of `kind` the current runtime recorded since it started
/// (the history forgets; this count does not).
///
/// # Panics
/// Outside a runtime (as `Handle::current`).
pub fn violation_count(kind: ViolationKind) -> u64 {
    Handle::current().qos_violation_count(kind)
}
