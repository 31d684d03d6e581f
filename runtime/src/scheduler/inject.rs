//! Injection queues: one per (NUMA node, QoS class).
//!
//! Work that enters from outside a worker (a spawn from a plain thread, a
//! wake from a timer processed elsewhere, an I/O completion) goes to the
//! injector of the node where the task last ran — locality first — and of its
//! class, so a Critical task never queues behind a Batch backlog.

use crate::task::Qos;
use crossbeam_deque::{Injector, Steal, Worker};

pub(crate) struct NodeInjectors<T> {
    nodes: Box<[[Injector<T>; Qos::COUNT]]>,
}

impl<T> NodeInjectors<T> {
    pub(crate) fn new(nodes: usize) -> NodeInjectors<T> {
        NodeInjectors {
            nodes: (0..nodes.max(1))
                .map(|_| [Injector::new(), Injector::new(), Injector::new()])
                .collect(),
        }
    }

    pub(crate) fn num_nodes(&self) -> usize {
        self.nodes.len()
    }

    #[inline]
    pub(crate) fn push(&self, node: usize, qos: Qos, task: T) {
        self.nodes[node][qos.index()].push(task);
    }

    #[inline]
    pub(crate) fn is_empty(&self, node: usize, qos: Qos) -> bool {
        self.nodes[node][qos.index()].is_empty()
    }

    /// Moves a batch into `dest` and returns one task of it.
    #[inline]
    pub(crate) fn steal_into(&self, node: usize, qos: Qos, dest: &Worker<T>) -> Option<T> {
        retry(|| self.nodes[node][qos.index()].steal_batch_and_pop(dest))
    }

    /// Pops one task (used by schedulers without a local deque).
    pub(crate) fn pop(&self, node: usize, qos: Qos) -> Option<T> {
        retry(|| self.nodes[node][qos.index()].steal())
    }

    /// The number of queued tasks of one node and class (racy).
    pub(crate) fn depth(&self, node: usize, qos: Qos) -> usize {
        self.nodes[node][qos.index()].len()
    }

    /// The number of queued tasks of every node and class (racy).
    pub(crate) fn len(&self) -> usize {
        self.nodes
            .iter()
            .flat_map(|n| n.iter())
            .map(Injector::len)
            .sum()
    }
}

/// Resolves crossbeam's `Steal::Retry` (a lost race with another stealer).
#[inline]
pub(crate) fn retry<T>(mut f: impl FnMut() -> Steal<T>) -> Option<T> {
    loop {
        match f() {
            Steal::Success(t) => return Some(t),
            Steal::Empty => return None,
            Steal::Retry => crate::loom::spin_hint(),
        }
    }
}
