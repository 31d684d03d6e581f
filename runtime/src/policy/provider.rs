//! The seam through which an orchestration layer steers a runtime: the
//! specification's `SystemsProvider`.

use super::ResourceLimit;
use crate::container::{Limits, PressureLevel};
use crate::validation::Mode;

/// What an orchestration layer supplies to a runtime, and what it hears
/// back. Every method has a default that leaves the runtime to its own
/// sources (see [`crate::policy`]); [`DefaultProvider`] is that provider.
/// Set one with `runtime::Builder::systems_provider`.
///
/// | method | specification | how the runtime uses it |
/// |---|---|---|
/// | [`qos_policy`](Self::qos_policy) | `GetQoSPolicy` | a layer of the resource policy, over the file and under `Builder::resource_limit`; asked again at every policy check |
/// | [`numa_policy`](Self::numa_policy) | `GetNUMAPolicy` | `numa_nodes` in the provider's layer |
/// | [`lock_policy`](Self::lock_policy) | `GetLockPolicy` | `max_locks` in the provider's layer |
/// | [`container_context`](Self::container_context) | `GetContainerContext` | the policy's container layer and the pod QoS class the pool check compares, instead of what detection found (worker sizing still reads the cgroup) |
/// | [`deadlock_strategy`](Self::deadlock_strategy) | `GetDeadlockStrategy` | the validation mode of the runtime's threads, over `Builder::validation` (`PERF_RUNTIME_VALIDATION` still wins) |
/// | [`on_pressure`](Self::on_pressure) | `GetPressureHandler` | called when the memory pressure level changes (and at start if it is not `None`): drop caches on `Moderate`/`Critical`, restore them on `None` |
/// | [`report_anomaly`](Self::report_anomaly) | `ReportAnomaly` | called for every violation the runtime records, with `violations.<kind>` and the count so far |
pub trait SystemsProvider: Send + Sync + 'static {
    /// Resource limits to enforce (default: none).
    fn qos_policy(&self) -> ResourceLimit {
        ResourceLimit::default()
    }

    /// The NUMA nodes the service may run on (default: no opinion).
    fn numa_policy(&self) -> Option<Vec<usize>> {
        None
    }

    /// Locks alive at once at most (default: no opinion).
    fn lock_policy(&self) -> Option<usize> {
        None
    }

    /// The container's resources as the orchestrator knows them (default:
    /// what detection reads).
    fn container_context(&self) -> Option<Limits> {
        None
    }

    /// What the runtime does on a lock-order inversion or deadlock
    /// (default: the builder's mode).
    fn deadlock_strategy(&self) -> Option<Mode> {
        None
    }

    /// The memory pressure level changed to `level` (default: nothing).
    /// Called on the runtime's policy thread.
    fn on_pressure(&self, level: PressureLevel) {
        let _ = level;
    }

    /// An anomaly the runtime observed (default: nothing; the violation is
    /// logged and kept by the runtime anyway). Called on the thread that
    /// breached the limit — a spawning task's worker among them — so it must
    /// not block: queue the report, do not send it from here.
    fn report_anomaly(&self, metric: &str, value: f64) {
        let _ = (metric, value);
    }
}

/// The provider of a runtime without an orchestration layer: every answer
/// is the default, so the policy comes from detection, the file and the
/// builder alone.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultProvider;

impl SystemsProvider for DefaultProvider {}

/// The provider's layer of the resource policy.
pub(crate) fn layer(p: &dyn SystemsProvider) -> ResourceLimit {
    let mut l = p.qos_policy();
    if let Some(nodes) = p.numa_policy() {
        l.numa_nodes = Some(nodes);
    }
    if let Some(max) = p.lock_policy() {
        l.max_locks = Some(max);
    }
    l
}
