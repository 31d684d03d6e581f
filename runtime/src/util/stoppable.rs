//! A background thread that wakes every period until it is stopped: the
//! container-sizing monitor and the policy-file watcher.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// The stop flag such a thread sleeps on.
#[derive(Default)]
pub(crate) struct StopFlag {
    stopped: Mutex<bool>,
    cv: Condvar,
}

impl StopFlag {
    /// Sleeps for `period` or until stopped; returns whether stopped.
    pub(crate) fn sleep(&self, period: Duration) -> bool {
        let stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        let (stopped, _) = self
            .cv
            .wait_timeout_while(stopped, period, |s| !*s)
            .unwrap_or_else(|e| e.into_inner());
        *stopped
    }

    fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cv.notify_all();
    }
}

/// The thread; stopped (its flag set, so its sleep ends at once) and joined
/// on drop.
pub(crate) struct StoppableThread {
    stop: Arc<StopFlag>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for StoppableThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoppableThread")
            .field("thread", &self.thread.as_ref().map(|t| t.thread().name()))
            .finish()
    }
}

impl StoppableThread {
    /// Starts `body` on a thread named `name`; `what` names the thread in
    /// the error if it cannot be started.
    pub(crate) fn spawn(
        name: String,
        what: &str,
        body: impl FnOnce(&StopFlag) + Send + 'static,
    ) -> std::io::Result<StoppableThread> {
        let stop = Arc::new(StopFlag::default());
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || body(&stop2))
            .map_err(|e| crate::runtime::thread_spawn_error(what, e))?;
        Ok(StoppableThread {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for StoppableThread {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}
