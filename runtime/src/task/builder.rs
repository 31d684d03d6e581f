use super::raw::TaskMeta;
use super::{JoinHandle, Qos};
use crate::qos::QosViolation;
use crate::runtime::Handle;
use std::fmt;
use std::future::Future;
use std::io;
use std::panic::Location;

/// Configures a task before spawning it, as `tokio::task::Builder`, plus the
/// class.
///
/// ```
/// use perf_runtime::task::{Builder, Qos};
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let handle = Builder::new()
///     .name("checkout")
///     .qos(Qos::Critical)
///     .spawn(async { 7 })
///     .unwrap();
/// assert_eq!(handle.await.unwrap(), 7);
/// # });
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct Builder<'a> {
    name: Option<&'a str>,
    qos: Qos,
    node: Option<usize>,
}

impl<'a> Builder<'a> {
    /// A builder for a `Normal`, unnamed task.
    pub fn new() -> Builder<'a> {
        Builder::default()
    }

    /// The task's name, shown by the watchdog and in reports.
    pub fn name(self, name: &'a str) -> Builder<'a> {
        Builder {
            name: Some(name),
            ..self
        }
    }

    /// The task's class (default `Normal`).
    pub fn qos(self, qos: Qos) -> Builder<'a> {
        Builder { qos, ..self }
    }

    /// The NUMA node whose workers should run the task (an index into
    /// [`Handle::topology`](crate::runtime::Handle::topology)'s nodes): it
    /// is queued on that node's injector, and a wake on another node sends
    /// it back there. Other nodes' workers take it only when they have been
    /// idle for the steal hysteresis (`runtime::Builder::steal_hysteresis`).
    pub fn node(self, node: usize) -> Builder<'a> {
        Builder {
            node: Some(node),
            ..self
        }
    }

    /// Spawns the task on the current runtime.
    ///
    /// # Errors
    /// A [`node`](Builder::node) the runtime does not have.
    ///
    /// # Panics
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handle = Handle::try_current()
            .unwrap_or_else(|_| panic!("{}", super::no_runtime("task::Builder::spawn")));
        self.spawn_on(future, &handle)
    }

    /// Spawns the task on `handle`'s runtime.
    ///
    /// # Errors
    /// A [`node`](Builder::node) the runtime does not have.
    #[track_caller]
    pub fn spawn_on<F>(self, future: F, handle: &Handle) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = self.meta_for(handle)?;
        Ok(handle.spawn_with_meta(future, meta))
    }

    /// Spawns the task on the current runtime if the resource policy
    /// admits it (see [`crate::qos`]): past the class's task limit (and its
    /// burst credits), past the total task limit, or a `Batch` task while
    /// memory pressure is Critical, it answers
    /// [`TrySpawnError::Overloaded`] and the future is dropped unpolled.
    ///
    /// ```
    /// use perf_runtime::policy::ResourceLimit;
    /// use perf_runtime::task::{Builder, Qos, TrySpawnError};
    ///
    /// let mut limit = ResourceLimit::default();
    /// limit.class_mut(Qos::Batch).max_tasks = Some(1);
    /// let rt = perf_runtime::runtime::Builder::new_current_thread()
    ///     .resource_limit(limit)
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(async {
    ///     let batch = Builder::new().qos(Qos::Batch);
    ///     let first = batch.try_spawn(async { 1 }).unwrap();
    ///     match batch.try_spawn(async { 2 }) {
    ///         Err(TrySpawnError::Overloaded(v)) => assert_eq!(v.resource, "tasks.batch"),
    ///         other => panic!("{other:?}"),
    ///     }
    ///     assert_eq!(first.await.unwrap(), 1);
    /// });
    /// ```
    ///
    /// # Errors
    /// `Overloaded`, or `Invalid` for a [`node`](Builder::node) the runtime
    /// does not have.
    ///
    /// # Panics
    /// Outside a runtime.
    #[track_caller]
    pub fn try_spawn<F>(self, future: F) -> Result<JoinHandle<F::Output>, TrySpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handle = Handle::try_current()
            .unwrap_or_else(|_| panic!("{}", super::no_runtime("task::Builder::try_spawn")));
        self.try_spawn_on(future, &handle)
    }

    /// [`try_spawn`](Builder::try_spawn) on `handle`'s runtime.
    ///
    /// # Errors
    /// As `try_spawn`.
    #[track_caller]
    pub fn try_spawn_on<F>(
        self,
        future: F,
        handle: &Handle,
    ) -> Result<JoinHandle<F::Output>, TrySpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = self.meta_for(handle).map_err(TrySpawnError::Invalid)?;
        handle
            .try_spawn_with_meta(future, meta)
            .map_err(TrySpawnError::Overloaded)
    }

    #[track_caller]
    fn meta_for(&self, handle: &Handle) -> io::Result<TaskMeta> {
        let mut meta = self.meta();
        if let Some(node) = self.node {
            let nodes = handle.inner.num_nodes();
            if node >= nodes {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "task::Builder::node({node}): this runtime has {nodes} NUMA node(s), \
                         numbered from 0; pick one of them or drop .node()"
                    ),
                ));
            }
            meta.node = node as u16;
        }
        Ok(meta)
    }

    /// Runs a blocking closure on the current runtime's blocking pool.
    ///
    /// # Errors
    /// Never today; the `io::Result` matches tokio's signature.
    ///
    /// # Panics
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn_blocking<F, R>(self, f: F) -> io::Result<JoinHandle<R>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        Ok(super::spawn_blocking_inner(f, self.meta()))
    }

    #[track_caller]
    fn meta(&self) -> TaskMeta {
        TaskMeta::new(self.qos, self.name, Location::caller())
    }
}

/// Why [`Builder::try_spawn`] did not spawn.
#[derive(Debug)]
#[non_exhaustive]
pub enum TrySpawnError {
    /// The resource policy refused the task: the violation says which limit
    /// (it is also in [`crate::qos::violations`]). Shed the work, answer
    /// "busy", or retry later.
    Overloaded(QosViolation),
    /// The builder asked for something the runtime does not have.
    Invalid(io::Error),
}

impl fmt::Display for TrySpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySpawnError::Overloaded(v) => write!(f, "overloaded: {v}"),
            TrySpawnError::Invalid(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for TrySpawnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TrySpawnError::Overloaded(v) => Some(v),
            TrySpawnError::Invalid(e) => Some(e),
        }
    }
}
