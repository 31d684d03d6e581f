//! Schedulers: how a worker finds its next task.
//!
//! - `multi_thread/` — N workers with per-class local deques, a LIFO slot,
//!   per-(node, class) injectors and node-first stealing.
//! - `current_thread` — everything on the thread that calls `block_on`.
//! - `inject` — the per-(node, class) injection queues.
//! - `idle` — which workers sleep and how many search.
//! - `park` — the worker parker (no lost wakeups).
//! - `watchdog` — notices polls that run too long.
//!
//! # The pick rule
//!
//! Every scheduling tick a worker chooses the class to serve first from its
//! tick counter `t` (incremented once per pick):
//!
//! - `t % 16 == 0`: Batch first, then Critical, then Normal;
//! - else `t % 8 == 0`: Normal first, then Critical, then Batch;
//! - otherwise Critical, then Normal, then Batch.
//!
//! Within a class the order is: the LIFO slot (if it holds a task of that
//! class and fewer than 3 LIFO polls ran in a row), the local deque, then the
//! node injector of that class. So while it has work, Batch gets at least one
//! pick in 16 and Normal at least one in 16 (the `t % 8` ticks that are not
//! `t % 16`), and Critical gets every other pick: a Critical wake waits for
//! the poll in progress and at most one lower-class poll. Every
//! `global_queue_interval` ticks the injector of the chosen class is tried
//! before the local deque, so remote work is never starved by a busy local
//! queue. Before every pick the worker checks whether a timer is due (one
//! atomic load when no timer is pending, plus a clock read otherwise).

pub(crate) mod current_thread;
pub(crate) mod idle;
pub(crate) mod inject;
pub(crate) mod multi_thread;
pub(crate) mod park;
pub(crate) mod watchdog;

#[cfg(test)]
mod tests;

use crate::runtime::blocking::BlockingPool;
use crate::runtime::config::Config;
use crate::task::raw::TaskMeta;
use crate::task::{JoinHandle, Qos};
use crate::time::TimeHandle;
use crate::topology::Topology;
use std::future::Future;
use std::sync::Arc;

/// State shared by every scheduler flavour.
pub(crate) struct Common {
    pub(crate) config: Config,
    pub(crate) time: TimeHandle,
    pub(crate) blocking: BlockingPool,
    pub(crate) watchdog: Arc<watchdog::Stats>,
    pub(crate) topology: Topology,
}

/// A handle to one runtime's scheduler.
#[derive(Clone)]
pub(crate) enum Handle {
    MultiThread(Arc<multi_thread::Shared>),
    CurrentThread(Arc<current_thread::Shared>),
}

impl Handle {
    pub(crate) fn common(&self) -> &Common {
        match self {
            Handle::MultiThread(s) => &s.common,
            Handle::CurrentThread(s) => &s.common,
        }
    }

    #[inline]
    pub(crate) fn spawn<F>(&self, future: F, meta: TaskMeta) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            Handle::MultiThread(s) => multi_thread::Shared::spawn(s, future, meta),
            Handle::CurrentThread(s) => current_thread::Shared::spawn(s, future, meta),
        }
    }

    pub(crate) fn num_workers(&self) -> usize {
        match self {
            Handle::MultiThread(s) => s.num_workers(),
            Handle::CurrentThread(_) => 1,
        }
    }

    pub(crate) fn num_alive_tasks(&self) -> usize {
        match self {
            Handle::MultiThread(s) => s.owned.len(),
            Handle::CurrentThread(s) => s.owned.len(),
        }
    }

    pub(crate) fn injection_queue_depth(&self) -> usize {
        match self {
            Handle::MultiThread(s) => s.inject.len(),
            Handle::CurrentThread(s) => s.inject.len(),
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

/// Class order for tick `t` (see the module docs).
#[inline]
pub(crate) fn class_order(tick: u32) -> [Qos; 3] {
    if tick % 16 == 0 {
        [Qos::Batch, Qos::Critical, Qos::Normal]
    } else if tick % 8 == 0 {
        [Qos::Normal, Qos::Critical, Qos::Batch]
    } else {
        [Qos::Critical, Qos::Normal, Qos::Batch]
    }
}
