use super::raw::TaskMeta;
use super::{JoinHandle, Qos};
use crate::runtime::Handle;
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

    /// Spawns the task on the current runtime.
    ///
    /// # Errors
    /// Never today; the `io::Result` matches tokio's signature.
    ///
    /// # Panics
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Ok(super::spawn_inner(future, self.meta()))
    }

    /// Spawns the task on `handle`'s runtime.
    ///
    /// # Errors
    /// Never today; the `io::Result` matches tokio's signature.
    #[track_caller]
    pub fn spawn_on<F>(self, future: F, handle: &Handle) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Ok(handle.spawn_with_meta(future, self.meta()))
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
