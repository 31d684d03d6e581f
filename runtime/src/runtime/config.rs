//! The settings a `Builder` hands to the scheduler.

use std::sync::Arc;
use std::time::Duration;

pub(crate) type Callback = Arc<dyn Fn() + Send + Sync>;
pub(crate) type ThreadNameFn = Arc<dyn Fn() -> String + Send + Sync>;

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) global_queue_interval: u32,
    pub(crate) qos_weights: crate::scheduler::pick::QosWeights,
    pub(crate) steal_hysteresis: u32,
    /// The validation mode of the runtime's threads.
    pub(crate) validation: crate::validation::Mode,
    pub(crate) event_interval: u32,
    pub(crate) thread_name: ThreadNameFn,
    pub(crate) thread_stack_size: Option<usize>,
    pub(crate) on_thread_start: Option<Callback>,
    pub(crate) on_thread_stop: Option<Callback>,
    pub(crate) on_thread_park: Option<Callback>,
    pub(crate) on_thread_unpark: Option<Callback>,
    pub(crate) max_blocking_threads: usize,
    pub(crate) thread_keep_alive: Duration,
    /// The timer wheel's slot width (`Builder::timer_resolution`).
    pub(crate) timer_resolution: Duration,
}

impl Config {
    /// Runs the `on_thread_park` callback, if any.
    #[inline]
    pub(crate) fn on_park(&self) {
        if let Some(f) = &self.on_thread_park {
            f();
        }
    }

    /// Runs the `on_thread_unpark` callback, if any.
    #[inline]
    pub(crate) fn on_unpark(&self) {
        if let Some(f) = &self.on_thread_unpark {
            f();
        }
    }
}
