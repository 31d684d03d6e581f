//! Resource policy: the limits a runtime holds its work to, from four
//! sources, the file one re-read while the runtime runs.
//!
//! A [`ResourceLimit`] is the specification's: CPU millicores, memory MB,
//! max locks, max live tasks (per class and in total), the pod QoS class,
//! NUMA affinity, plus max workers and max queue depth per class. Each
//! source sets some fields; a later source overrides an earlier one field
//! by field ([`ResourceLimit::overlay`]):
//!
//! ```text
//! defaults (nothing limited)
//!   < what container detection found (CPU quota, memory limit, pod QoS class)
//!   < the policy file (TOML; path from runtime::Builder::policy_file, else PERF_RUNTIME_POLICY)
//!   < the orchestration layer's SystemsProvider (runtime::Builder::systems_provider)
//!   < runtime::Builder::resource_limit
//! ```
//!
//! # The policy file
//!
//! Every key is optional; an unknown key or a value of the wrong kind is
//! an error naming the file, the line and the key.
//!
//! ```toml
//! [limits]
//! cpu_millicores = 2000
//! memory_mb = 1024
//! max_workers = 2
//! max_locks = 100000
//! max_tasks = 50000          # live tasks, all classes
//! qos = "guaranteed"         # or "burstable", "besteffort"
//! numa_nodes = [0]
//!
//! [class.critical]           # also [class.normal], [class.batch]
//! max_tasks = 20000
//! max_queue_depth = 1024
//!
//! [class.batch]
//! max_tasks = 256
//! burst_credits = 64         # spawns past max_tasks a burst may take...
//! burst_refill_per_sec = 8   # ...given back at this rate
//! ```
//!
//! # Hot reload
//!
//! [`Policy::reload`] re-reads the file when it changed, and the runtime
//! calls it every `Builder::policy_reload_interval` (1 s by default). A
//! change is seen through the path's resolved target (device, inode, size,
//! modification time), so a Kubernetes ConfigMap update — the kubelet
//! writes a new directory and swaps the `..data` symlink atomically — is a
//! change even when the new file has the old size and time. A new file that
//! does not parse is rejected with a [`PolicyError`] (logged, and kept in
//! [`Policy::last_error`]); the policy in force stays until a good file
//! replaces it.

mod file;
mod provider;

pub(crate) use provider::layer as provider_layer;
pub use provider::{DefaultProvider, SystemsProvider};

use crate::container::{K8sQos, Limits};
use crate::task::Qos;
use crate::util::stoppable::StoppableThread;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// The environment variable naming the policy file, when the builder names
/// none.
pub const POLICY_ENV: &str = "PERF_RUNTIME_POLICY";

/// How often the runtime checks the policy file for a change, unless
/// `Builder::policy_reload_interval` says otherwise.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// The limits of one task class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClassLimit {
    /// Live tasks of the class at most (`task::Builder::try_spawn` answers
    /// `Overloaded` past it, plain `spawn` records a violation).
    pub max_tasks: Option<usize>,
    /// Tasks of the class waiting in the run queues at most (a breach is a
    /// Medium violation).
    pub max_queue_depth: Option<usize>,
    /// Spawns a burst may take past `max_tasks`.
    pub burst: Option<Burst>,
}

/// Burst credits of a class: a token bucket of `credits` spawns past the
/// class's task limit, refilled at `refill_per_sec`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Burst {
    /// The bucket's size (and its content when the policy is loaded).
    pub credits: u32,
    /// Credits given back per second.
    pub refill_per_sec: u32,
}

/// The specification's `ResourceLimit`; `None` is "not limited".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResourceLimit {
    /// CPU the service may use, in thousandths of a CPU. Caps an
    /// auto-sized multi-thread pool at `ceil(millicores / 1000)` workers
    /// when below the container's quota (see [`crate::qos`]).
    pub cpu_millicores: Option<u64>,
    /// Memory the service may use, in MiB: the process's resident memory
    /// is graded against it (as the container's working set is against its
    /// limit), and the higher level is the pressure level.
    pub memory_mb: Option<u64>,
    /// Worker threads at most.
    pub max_workers: Option<usize>,
    /// Locks alive at once at most: live `Mutex` and `RwLock` instances in
    /// the process (a `const_new` static is not counted); a breach is a
    /// High violation on resource `locks` at a pool check.
    pub max_locks: Option<usize>,
    /// Live tasks of all classes together at most.
    pub max_tasks: Option<usize>,
    /// The pod QoS class the service must run in.
    pub qos: Option<K8sQos>,
    /// The NUMA nodes the service may run on (sorted, no duplicates).
    pub numa_nodes: Option<Vec<usize>>,
    /// Per class, indexed by [`Qos::index`].
    pub classes: [ClassLimit; Qos::COUNT],
}

impl ResourceLimit {
    /// The limits of class `qos`.
    pub fn class(&self, qos: Qos) -> &ClassLimit {
        &self.classes[qos.index()]
    }

    /// The limits of class `qos`, to set.
    pub fn class_mut(&mut self, qos: Qos) -> &mut ClassLimit {
        &mut self.classes[qos.index()]
    }

    /// `self` with every field `over` sets replaced by `over`'s.
    pub fn overlay(&self, over: &ResourceLimit) -> ResourceLimit {
        fn pick<T: Clone>(base: &Option<T>, over: &Option<T>) -> Option<T> {
            over.clone().or_else(|| base.clone())
        }
        let mut classes = self.classes;
        for (c, o) in classes.iter_mut().zip(&over.classes) {
            *c = ClassLimit {
                max_tasks: pick(&c.max_tasks, &o.max_tasks),
                max_queue_depth: pick(&c.max_queue_depth, &o.max_queue_depth),
                burst: pick(&c.burst, &o.burst),
            };
        }
        ResourceLimit {
            cpu_millicores: pick(&self.cpu_millicores, &over.cpu_millicores),
            memory_mb: pick(&self.memory_mb, &over.memory_mb),
            max_workers: pick(&self.max_workers, &over.max_workers),
            max_locks: pick(&self.max_locks, &over.max_locks),
            max_tasks: pick(&self.max_tasks, &over.max_tasks),
            qos: pick(&self.qos, &over.qos),
            numa_nodes: pick(&self.numa_nodes, &over.numa_nodes),
            classes,
        }
    }

    /// Whether a pool check has something to check (`max_workers`, a
    /// queue depth, `numa_nodes`, `qos`, `max_locks`).
    pub(crate) fn has_pool_limits(&self) -> bool {
        self.max_workers.is_some()
            || self.max_locks.is_some()
            || self.numa_nodes.is_some()
            || self.qos.is_some()
            || self.classes.iter().any(|c| c.max_queue_depth.is_some())
    }

    /// What container detection found, as a layer: the CPU quota in
    /// millicores, the memory limit in MiB (rounded down), the pod QoS
    /// class.
    pub fn from_container(limits: &Limits) -> ResourceLimit {
        ResourceLimit {
            cpu_millicores: limits.cpu_quota.map(|q| (q * 1000.0).round() as u64),
            memory_mb: limits.memory_limit.map(|b| b >> 20),
            qos: limits.k8s_qos,
            ..ResourceLimit::default()
        }
    }

    /// Parses a policy file's text; `path` names it in errors.
    ///
    /// # Errors
    /// Invalid TOML, an unknown key, or a value of the wrong kind: the
    /// error names `path`, the line and the key.
    pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<ResourceLimit, PolicyError> {
        file::parse(text, path.as_ref())
    }

    /// Reads and parses the policy file at `path`.
    ///
    /// # Errors
    /// As [`parse`](Self::parse), or the file cannot be read.
    pub fn from_file(path: impl AsRef<Path>) -> Result<ResourceLimit, PolicyError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError::io(path, &e))?;
        file::parse(&text, path)
    }
}

/// A policy file that could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicyError {
    /// The file.
    pub path: PathBuf,
    /// The 1-based line of the fault (`None`: the file could not be read).
    pub line: Option<usize>,
    /// The key, dotted (`class.batch.max_tasks`), when one is at fault.
    pub field: Option<String>,
    /// What is wrong and what is expected.
    pub message: String,
}

impl PolicyError {
    fn io(path: &Path, e: &std::io::Error) -> PolicyError {
        PolicyError {
            path: path.to_owned(),
            line: None,
            field: None,
            message: format!("cannot read it: {e}"),
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "policy file {}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ", key `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for PolicyError {}

impl From<PolicyError> for std::io::Error {
    fn from(e: PolicyError) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}

/// What identifies one version of the file behind a path.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fingerprint {
    target: PathBuf,
    dev: u64,
    ino: u64,
    len: u64,
    mtime: Option<SystemTime>,
}

impl Fingerprint {
    /// `None` when the path does not resolve (a dangling symlink during a
    /// swap, a file not yet written).
    fn of(path: &Path) -> Option<Fingerprint> {
        use std::os::unix::fs::MetadataExt;
        let target = std::fs::canonicalize(path).ok()?;
        let m = std::fs::metadata(&target).ok()?;
        Some(Fingerprint {
            target,
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: m.modified().ok(),
        })
    }
}

struct State {
    /// The file's layer as last accepted.
    file: ResourceLimit,
    /// The systems provider's layer as last asked.
    provider: ResourceLimit,
    /// The version of the file last read (accepted or not).
    seen: Option<Fingerprint>,
    current: Arc<ResourceLimit>,
    last_error: Option<PolicyError>,
    /// Changed files read, accepted or rejected.
    generation: u64,
}

struct Inner {
    /// Defaults overlaid with the container layer.
    base: ResourceLimit,
    builder: ResourceLimit,
    path: Option<PathBuf>,
    state: Mutex<State>,
    changed: Condvar,
    /// Whether the policy in force limits live tasks at all (the spawn
    /// path's test before it takes the lock).
    limits_tasks: AtomicBool,
}

/// The policy in force for a runtime, and its sources. Cheap to clone (all
/// clones share it).
#[derive(Clone)]
pub struct Policy {
    inner: Arc<Inner>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("path", &self.inner.path)
            .field("current", &self.current())
            .finish()
    }
}

impl Policy {
    /// The policy from its sources: `container` is what detection found,
    /// `path` the policy file, `builder` the builder's layer.
    ///
    /// # Errors
    /// The file cannot be read or parsed.
    pub fn new(
        container: Option<&Limits>,
        path: Option<PathBuf>,
        builder: ResourceLimit,
    ) -> Result<Policy, PolicyError> {
        let base = container
            .map(ResourceLimit::from_container)
            .unwrap_or_default();
        let (file, seen) = match &path {
            Some(p) => {
                let seen = Fingerprint::of(p);
                (ResourceLimit::from_file(p)?, seen)
            }
            None => (ResourceLimit::default(), None),
        };
        let current = Arc::new(base.overlay(&file).overlay(&builder));
        let inner = Inner {
            base,
            builder,
            path,
            state: Mutex::new(State {
                file,
                provider: ResourceLimit::default(),
                seen,
                current: current.clone(),
                last_error: None,
                generation: 0,
            }),
            changed: Condvar::new(),
            limits_tasks: AtomicBool::new(limits_tasks(&current)),
        };
        Ok(Policy {
            inner: Arc::new(inner),
        })
    }

    /// The policy in force.
    pub fn current(&self) -> Arc<ResourceLimit> {
        self.inner.lock().current.clone()
    }

    /// The policy file, if there is one.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// Why the last changed file was rejected (`None` after it was
    /// accepted).
    pub fn last_error(&self) -> Option<PolicyError> {
        self.inner.lock().last_error.clone()
    }

    /// How many changed versions of the file were read since the start,
    /// accepted or rejected.
    pub fn generation(&self) -> u64 {
        self.inner.lock().generation
    }

    /// Waits until [`generation`](Self::generation) exceeds `after` or
    /// `timeout` passes; returns the generation.
    pub fn wait_for_generation(&self, after: u64, timeout: Duration) -> u64 {
        let state = self.inner.lock();
        let (state, _) = self
            .inner
            .changed
            .wait_timeout_while(state, timeout, |s| s.generation <= after)
            .unwrap_or_else(|e| e.into_inner());
        state.generation
    }

    /// Re-reads the policy file if it changed since it was last read.
    /// Returns whether the policy in force changed.
    ///
    /// # Errors
    /// The new file cannot be read or parsed: the policy in force stays, and
    /// the error is also kept in [`last_error`](Self::last_error).
    pub fn reload(&self) -> Result<bool, PolicyError> {
        let Some(path) = &self.inner.path else {
            return Ok(false);
        };
        let now = Fingerprint::of(path);
        let mut state = self.inner.lock();
        if now == state.seen {
            // Unchanged since the last read: a rejected file stays rejected.
            return match &state.last_error {
                Some(e) => Err(e.clone()),
                None => Ok(false),
            };
        }
        state.seen = now;
        state.generation += 1;
        let result = ResourceLimit::from_file(path).map(|file| {
            state.file = file;
            self.inner.recompose(&mut state)
        });
        match &result {
            Ok(changed) => {
                state.last_error = None;
                tracing::info!(
                    path = %path.display(),
                    changed = *changed,
                    "policy file re-read"
                );
            }
            Err(e) => {
                state.last_error = Some(e.clone());
                tracing::warn!(
                    path = %path.display(),
                    line = e.line,
                    field = e.field.as_deref(),
                    error = %e.message,
                    "policy file rejected; the policy in force stays"
                );
            }
        }
        drop(state);
        self.inner.changed.notify_all();
        result
    }

    /// The layers over the container's (the file, the systems provider,
    /// the builder) composed without it: what the policy itself sets, for
    /// the limits that are combined with the container's live values
    /// (`cpu_millicores`, `memory_mb`) rather than overriding a value
    /// detected once at start-up.
    pub(crate) fn over_container(&self) -> ResourceLimit {
        let state = self.inner.lock();
        state
            .file
            .overlay(&state.provider)
            .overlay(&self.inner.builder)
    }

    /// Replaces the systems provider's layer; returns whether the policy in
    /// force changed.
    pub(crate) fn set_provider_layer(&self, layer: ResourceLimit) -> bool {
        let mut state = self.inner.lock();
        if state.provider == layer {
            return false;
        }
        state.provider = layer;
        self.inner.recompose(&mut state)
    }

    /// Whether the policy in force limits live tasks (lock-free).
    pub(crate) fn limits_tasks(&self) -> bool {
        self.inner.limits_tasks.load(Relaxed)
    }

    /// Starts a thread that calls [`reload`](Self::reload) every `period`;
    /// it stops when the returned [`Watcher`] is dropped.
    ///
    /// # Errors
    /// The thread cannot be started.
    pub fn watch(&self, period: Duration) -> std::io::Result<Watcher> {
        self.watch_with(period, Box::new(|| {}))
    }

    /// [`watch`](Self::watch), running `after` after each check of the file
    /// (the runtime's pool checks).
    pub(crate) fn watch_with(
        &self,
        period: Duration,
        mut after: Box<dyn FnMut() + Send>,
    ) -> std::io::Result<Watcher> {
        let policy = self.clone();
        let thread = StoppableThread::spawn(
            "perf-runtime-policy".to_owned(),
            "the policy-file watcher thread",
            move |stop| {
                while !stop.sleep(period) {
                    // A rejection is logged and kept by `reload`.
                    let _ = policy.reload();
                    after();
                }
            },
        )?;
        Ok(Watcher { _thread: thread })
    }
}

fn limits_tasks(l: &ResourceLimit) -> bool {
    l.max_tasks.is_some() || l.classes.iter().any(|c| c.max_tasks.is_some())
}

impl Inner {
    /// Recomputes the policy in force from the layers; returns whether it
    /// changed.
    fn recompose(&self, state: &mut State) -> bool {
        let current = self
            .base
            .overlay(&state.file)
            .overlay(&state.provider)
            .overlay(&self.builder);
        let changed = current != *state.current;
        if changed {
            self.limits_tasks.store(limits_tasks(&current), Relaxed);
            state.current = Arc::new(current);
        }
        changed
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The thread started by [`Policy::watch`]; stopped and joined on drop.
#[derive(Debug)]
pub struct Watcher {
    _thread: StoppableThread,
}
