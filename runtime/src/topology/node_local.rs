//! `NodeLocal<T>`: one instance per NUMA node.

use super::{NodeId, Topology};
use crossbeam_utils::CachePadded;
use std::fmt;
use std::sync::OnceLock;

/// One value per NUMA node, each on its own cache line, for counters and
/// pools that must not bounce between sockets.
///
/// [`get`](NodeLocal::get) returns the instance of the node the calling
/// worker belongs to (outside a worker: the node of the CPU the thread runs
/// on, or node 0). Each instance is created on first use, by the first
/// thread that asks for it — a worker of that node, in the usual case — so
/// its memory is first touched, and placed by the kernel, on that node.
///
/// ```
/// use perf_runtime::topology::{NodeLocal, Topology};
/// use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
///
/// let hits = NodeLocal::with_topology(&Topology::synthetic(2, 2), |_| AtomicU64::new(0));
/// hits.get().fetch_add(1, Relaxed);
/// let total: u64 = hits.iter().map(|(_, c)| c.load(Relaxed)).sum();
/// assert_eq!(total, 1);
/// ```
pub struct NodeLocal<T> {
    slots: Box<[CachePadded<OnceLock<Box<T>>>]>,
    init: Box<dyn Fn(NodeId) -> T + Send + Sync>,
}

impl<T> NodeLocal<T> {
    /// One instance per node of the current runtime's topology (outside a
    /// runtime: of the machine's, as [`Topology::detect`] finds it); `init`
    /// creates a node's instance on its first use.
    pub fn new(init: impl Fn(NodeId) -> T + Send + Sync + 'static) -> NodeLocal<T> {
        match crate::runtime::Handle::try_current() {
            Ok(h) => NodeLocal::with_topology(h.topology(), init),
            Err(_) => NodeLocal::with_topology(&Topology::detect(), init),
        }
    }

    /// One instance per node of `topology`.
    pub fn with_topology(
        topology: &Topology,
        init: impl Fn(NodeId) -> T + Send + Sync + 'static,
    ) -> NodeLocal<T> {
        let n = topology.num_nodes().max(1);
        NodeLocal {
            slots: (0..n).map(|_| CachePadded::new(OnceLock::new())).collect(),
            init: Box::new(init),
        }
    }

    /// The instance of the calling worker's node.
    #[inline]
    pub fn get(&self) -> &T {
        self.slot(current_node().min(self.slots.len() - 1))
    }

    /// The instance of `node`, or `None` if there is no such node.
    pub fn get_node(&self, node: NodeId) -> Option<&T> {
        (node.index() < self.slots.len()).then(|| self.slot(node.index()))
    }

    /// Every node's instance that has been created, with its node.
    pub fn iter(&self) -> impl Iterator<Item = (NodeId, &T)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.get().map(|v| (NodeId::new(i), &**v)))
    }

    /// The number of nodes (instances created or not).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Always false: there is at least one node.
    pub fn is_empty(&self) -> bool {
        false
    }

    fn slot(&self, i: usize) -> &T {
        self.slots[i].get_or_init(|| Box::new((self.init)(NodeId::new(i))))
    }
}

/// The node of the calling worker; outside a worker, of the CPU the thread
/// is on (in the current runtime's topology, else the machine's); else 0.
fn current_node() -> usize {
    if let Some(n) =
        crate::runtime::context::with_multi_thread_worker(|cx| cx.and_then(|cx| cx.node()))
    {
        return n;
    }
    match crate::runtime::Handle::try_current() {
        Ok(h) => h.topology().current_node().map_or(0, NodeId::index),
        Err(_) => 0,
    }
}

impl<T: fmt::Debug> fmt::Debug for NodeLocal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}
