//! CPUs and NUMA nodes: which CPUs this process may run on, which node each
//! belongs to, and how many workers each node gets.
//!
//! What lives where:
//! - `mod.rs` — [`Topology`], [`Node`], [`NodeId`], and the worker-to-node
//!   assignment ([`Topology::assign_workers`]).
//! - `cpuset.rs` — [`CpuSet`] and the Linux CPU list format (`"0-3,8"`).
//! - `sysfs.rs` — reading a sysfs tree, and the one platform switch: the
//!   affinity mask and the current CPU on Linux, a stub elsewhere.
//! - `error.rs` — [`TopologyError`].
//! - `tests.rs` — `CpuSet` and worker assignment; `tests/sysfs_trees.rs` —
//!   fixture sysfs trees and `detect`.
//!
//! Invariants of a [`Topology`], whichever constructor made it:
//! - it has at least one node, and `nodes()[i].id().index() == i`;
//! - the nodes' CPU sets are disjoint and hold online CPUs only;
//! - `allowed_cpus()` is not empty and every allowed CPU belongs to a node.

mod cpuset;
mod error;
mod sysfs;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::num::NonZero;
use std::path::Path;

pub use cpuset::{CpuSet, CpuSetIter};
pub use error::TopologyError;

/// A NUMA node, by its position in [`Topology::nodes`].
///
/// Positions are dense (`0..num_nodes()`), so a `NodeId` can index per-node
/// arrays. On the usual machine with nodes `node0..nodeN` in sysfs it equals
/// the kernel's node number; where the kernel's numbering has gaps, the
/// kernel's number is [`Node::os_id`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(usize);

impl NodeId {
    /// The node at position `index` of [`Topology::nodes`].
    pub const fn new(index: usize) -> NodeId {
        NodeId(index)
    }

    /// The position of the node in [`Topology::nodes`].
    pub const fn index(self) -> usize {
        self.0
    }
}

/// Prints `node<index>`, e.g. `node0`.
impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node{}", self.0)
    }
}

/// A NUMA node and its online CPUs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    id: NodeId,
    os_id: usize,
    cpus: CpuSet,
}

impl Node {
    /// The node's position in [`Topology::nodes`].
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The kernel's number for the node (`N` in `/sys/devices/system/node/nodeN`),
    /// as memory-binding calls such as `mbind(2)` expect it.
    pub fn os_id(&self) -> usize {
        self.os_id
    }

    /// The node's online CPUs, allowed to this process or not (see
    /// [`Topology::allowed_cpus_of`]). Empty for a node that has memory but no
    /// CPUs.
    pub fn cpus(&self) -> &CpuSet {
        &self.cpus
    }
}

/// The NUMA nodes of the machine and the CPUs this process may use.
#[derive(Clone, Debug)]
pub struct Topology {
    nodes: Vec<Node>,
    allowed: CpuSet,
    fallback_reason: Option<String>,
}

impl Topology {
    /// Reads the topology of this machine: NUMA nodes from
    /// `/sys/devices/system/node`, allowed CPUs from `sched_getaffinity(2)`
    /// (which already reflects a cgroup cpuset) intersected with
    /// `/sys/devices/system/cpu/online`.
    ///
    /// Never fails: when sysfs is missing or garbled, or on an OS other than
    /// Linux, the result is one node holding all allowed CPUs, and
    /// [`fallback_reason`](Topology::fallback_reason) says why.
    pub fn detect() -> Topology {
        Topology::detect_from(sysfs::SYSFS_ROOT.map(Path::new), sysfs::affinity())
    }

    /// [`detect`](Topology::detect) with its inputs given, for tests.
    fn detect_from(root: Option<&Path>, affinity: io::Result<CpuSet>) -> Topology {
        let (allowed, affinity_note) = match affinity {
            Ok(set) if !set.is_empty() => (set, None),
            result => {
                let n = std::thread::available_parallelism().map_or(1, NonZero::get);
                let why = match result {
                    Err(e) => format!("cannot read the CPU affinity mask ({e})"),
                    Ok(_) => "the CPU affinity mask is empty".to_owned(),
                };
                let note = format!("{why}; assuming CPUs 0-{} are allowed", n - 1);
                ((0..n).collect(), Some(note))
            }
        };
        let explain = |why: String| match &affinity_note {
            Some(note) => format!("{note}; {why}"),
            None => why,
        };
        let Some(root) = root else {
            let why = "NUMA topology detection is implemented for Linux only";
            return Topology::single_node(allowed, explain(why.to_owned()));
        };
        match Topology::from_sysfs_root(root, allowed.clone()) {
            Ok(mut topology) => {
                topology.fallback_reason = affinity_note;
                topology
            }
            Err(e) => {
                let why = format!("{e}; treating all allowed CPUs as one NUMA node");
                Topology::single_node(allowed, explain(why))
            }
        }
    }

    /// Reads the topology from a sysfs tree under `root`: the files
    /// `root/sys/devices/system/cpu/online` and
    /// `root/sys/devices/system/node/node*/cpulist`. The allowed CPUs are
    /// `allowed` intersected with the online CPUs.
    ///
    /// # Errors
    ///
    /// Fails, naming the file, when a file is missing or holds a malformed
    /// CPU list, when no node directory exists, when two nodes claim the same
    /// CPU, when an allowed online CPU belongs to no node, or when no allowed
    /// CPU is online.
    pub fn from_sysfs_root(root: &Path, allowed: CpuSet) -> Result<Topology, TopologyError> {
        let (nodes, allowed) = sysfs::read(root, &allowed)?;
        Ok(Topology {
            nodes,
            allowed,
            fallback_reason: None,
        })
    }

    /// A made-up topology for tests and experiments: `nodes` nodes of
    /// `cpus_per_node` CPUs each, numbered from 0 (node 0 holds CPUs
    /// `0..cpus_per_node`), all allowed. The CPU ids need not exist.
    ///
    /// # Panics
    ///
    /// If `nodes` or `cpus_per_node` is 0, or their product overflows.
    pub fn synthetic(nodes: usize, cpus_per_node: usize) -> Topology {
        assert!(
            nodes > 0,
            "Topology::synthetic: a topology needs at least one node (nodes = 0)"
        );
        assert!(
            cpus_per_node > 0,
            "Topology::synthetic: a node needs at least one CPU (cpus_per_node = 0)"
        );
        let total = nodes.checked_mul(cpus_per_node).unwrap_or_else(|| {
            panic!("Topology::synthetic: {nodes} nodes x {cpus_per_node} CPUs overflows usize")
        });
        let nodes = (0..nodes)
            .map(|i| Node {
                id: NodeId(i),
                os_id: i,
                cpus: (i * cpus_per_node..(i + 1) * cpus_per_node).collect(),
            })
            .collect();
        Topology {
            nodes,
            allowed: (0..total).collect(),
            fallback_reason: None,
        }
    }

    /// One node holding every allowed CPU; `why` says why no better was found.
    fn single_node(allowed: CpuSet, why: String) -> Topology {
        let node = Node {
            id: NodeId(0),
            os_id: 0,
            cpus: allowed.clone(),
        };
        Topology {
            nodes: vec![node],
            allowed,
            fallback_reason: Some(why),
        }
    }

    /// The nodes, indexed by [`NodeId::index`].
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The number of nodes; at least 1.
    pub fn num_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// The CPUs this process may run on: its affinity mask intersected with
    /// the online CPUs. Never empty.
    pub fn allowed_cpus(&self) -> &CpuSet {
        &self.allowed
    }

    /// Why [`detect`](Topology::detect) fell back to a single node or guessed
    /// the allowed CPUs, or `None` if it read everything it needed.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback_reason.as_deref()
    }

    /// The node `cpu` belongs to, or `None` if it is offline or unknown.
    pub fn node_of_cpu(&self, cpu: usize) -> Option<NodeId> {
        self.nodes
            .iter()
            .find(|n| n.cpus.contains(cpu))
            .map(|n| n.id)
    }

    /// The CPUs of `node` this process may run on; empty if `node` is not a
    /// node of this topology.
    pub fn allowed_cpus_of(&self, node: NodeId) -> CpuSet {
        self.nodes
            .get(node.0)
            .map_or_else(CpuSet::new, |n| n.cpus.intersection(&self.allowed))
    }

    /// The node of each of `workers` workers: node `i` gets a share in
    /// proportion to its allowed CPUs, rounded by largest remainder (ties go
    /// to the node with more allowed CPUs, then to the lower id), so a node
    /// never gets more workers than it has allowed CPUs unless `workers`
    /// exceeds all allowed CPUs. Larger nodes are served first, so with fewer
    /// workers than nodes the smallest nodes go without. Nodes without allowed
    /// CPUs get none.
    ///
    /// The result is deterministic and grouped: all workers of node 0 come
    /// first, then those of node 1, and so on.
    pub fn assign_workers(&self, workers: usize) -> Vec<NodeId> {
        let mut weights: Vec<u128> = (0..self.nodes.len())
            .map(|i| self.allowed_cpus_of(NodeId(i)).len() as u128)
            .collect();
        if weights.iter().all(|&w| w == 0) {
            // Cannot happen through the constructors; share evenly rather
            // than divide by zero.
            weights.fill(1);
        }
        let total: u128 = weights.iter().sum();
        let wanted = workers as u128;
        // Floors of each quota `wanted * w / total`, then one more for the
        // largest remainders until the count is reached.
        let mut counts: Vec<u128> = weights.iter().map(|w| wanted * w / total).collect();
        let assigned: u128 = counts.iter().sum();
        let mut order: Vec<usize> = (0..weights.len()).collect();
        order.sort_by_key(|&i| {
            let remainder = wanted * weights[i] % total;
            (
                std::cmp::Reverse(remainder),
                std::cmp::Reverse(weights[i]),
                i,
            )
        });
        // `wanted - assigned < nodes`, since each floor loses less than one.
        for &i in order.iter().take((wanted - assigned) as usize) {
            counts[i] += 1;
        }
        let mut out = Vec::with_capacity(workers);
        for (i, &count) in counts.iter().enumerate() {
            out.extend(std::iter::repeat_n(NodeId(i), count as usize));
        }
        out
    }
}

/// The CPU the calling thread is running on right now, or `None` if the OS
/// cannot say. Only a hint: the thread may migrate as soon as this returns.
#[allow(dead_code, reason = "used by the scheduler to find a worker's node")]
pub(crate) fn current_cpu() -> Option<usize> {
    sysfs::current_cpu()
}

/// The CPUs the calling thread may run on, from `sched_getaffinity(2)` on
/// Linux (an `Unsupported` error elsewhere). Shared with `container`, which
/// intersects it with the cgroup cpuset.
pub(crate) fn affinity() -> io::Result<CpuSet> {
    sysfs::affinity()
}
