//! CPUs, caches and NUMA nodes: which CPUs this process may run on, which
//! node and last-level cache each belongs to, how far nodes are from each
//! other, how many workers each node gets, and pinning workers to CPUs.
//!
//! The runtime detects the topology at build (`Builder::topology` replaces
//! it, e.g. with a [`Topology::synthetic`] one in tests) and gives each node
//! its own queues and workers:
//!
//! ```
//! use perf_runtime::topology::Topology;
//!
//! let t = Topology::detect();
//! for node in t.nodes() {
//!     println!("node {:?}: CPUs {}", node.id(), node.cpus());
//! }
//! // A made-up two-node machine, for testing NUMA-aware code anywhere.
//! let two = Topology::synthetic(2, 4);
//! assert_eq!(two.num_nodes(), 2);
//! ```

// What lives where, and the invariants (for contributors):
//
// What lives where:
// - `mod.rs` — [`Topology`], [`Node`], [`NodeId`], and the worker-to-node
//   assignment ([`Topology::assign_workers`]).
// - `cpuset.rs` — [`CpuSet`] and the Linux CPU list format (`"0-3,8"`).
// - `cache.rs` — [`CacheGroup`], [`LlcId`], and grouping CPUs by their
//   last-level cache (shared by both readers).
// - `builder.rs` — [`TopologyBuilder`] and [`Topology::synthetic`]: made-up
//   topologies of any shape, validated.
// - `sysfs.rs` — reading a sysfs tree (nodes, distances, caches).
// - `hwloc.rs` — reading the topology through hwloc (cargo feature `hwloc`).
// - `placement.rs` — [`Placement`]: each worker's node and CPUs, and
//   [`pin_current_thread`].
// - `os.rs` — the one platform switch: the affinity mask (read and set) and
//   the current CPU on Linux, a stub elsewhere.
// - `error.rs` — [`TopologyError`].
// - `tests.rs` — `CpuSet`, worker assignment, the builder; `tests/` —
//   fixture sysfs trees and `detect`, placement and pinning, hwloc.
//
// Invariants of a [`Topology`], whichever constructor made it:
// - it has at least one node, and `nodes()[i].id().index() == i`;
// - the nodes' CPU sets are disjoint and hold online CPUs only;
// - `allowed_cpus()` is not empty and every allowed CPU belongs to a node;
// - the distance matrix is `num_nodes()` square with positive entries;
// - the LLC groups partition the nodes' CPUs: each is non-empty, lies in one
//   node, and every node CPU is in exactly one; they are ordered by node,
//   then by lowest CPU, and `llc_groups()[i].id().index() == i`.

mod builder;
mod cache;
mod cpuset;
mod error;
#[cfg(feature = "hwloc")]
mod hwloc;
mod node_local;
mod os;
mod placement;
mod sysfs;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::num::NonZero;
use std::path::Path;

pub use builder::TopologyBuilder;
pub use cache::{CacheGroup, LlcId};
pub use cpuset::{CpuSet, CpuSetIter};
pub use error::TopologyError;
pub use node_local::NodeLocal;
pub use placement::{pin_current_thread, Placement, WorkerPlacement};

/// The distance the kernel reports from a node to itself, and assumes when
/// firmware gives no distance table.
pub const LOCAL_DISTANCE: u32 = 10;

/// The distance the kernel assumes between two different nodes when
/// firmware gives no distance table.
pub const REMOTE_DISTANCE: u32 = 20;

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

/// The NUMA nodes of the machine, their distances and last-level-cache
/// groups, and the CPUs this process may use.
///
/// Made by [`detect`](Topology::detect) (Linux sysfs),
/// [`from_sysfs_root`](Topology::from_sysfs_root) (a sysfs tree elsewhere),
/// `from_hwloc` (cargo feature `hwloc`), or made up with
/// [`synthetic`](Topology::synthetic) and [`builder`](Topology::builder).
/// `Display` prints a summary of a few lines, one per node.
#[derive(Clone)]
pub struct Topology {
    nodes: Vec<Node>,
    allowed: CpuSet,
    /// Row-major, `nodes.len()` square: `distances[from * n + to]`.
    distances: Vec<u32>,
    llcs: Vec<CacheGroup>,
    /// Indexed by CPU id, up to the highest node CPU.
    by_cpu: Vec<CpuSlot>,
    /// Made with the builder: its CPU ids need not be the machine's.
    made_up: bool,
    fallback_reason: Option<String>,
}

/// What a reader or the builder found, before the lookup tables are built.
/// Must satisfy the invariants in the module docs.
struct Parts {
    nodes: Vec<Node>,
    distances: Vec<u32>,
    llcs: Vec<CacheGroup>,
    allowed: CpuSet,
}

/// The node and LLC group of one CPU, as indexes; `NONE` where the CPU
/// belongs to no node.
#[derive(Clone, Copy)]
struct CpuSlot {
    node: u32,
    llc: u32,
}

impl CpuSlot {
    const NONE: CpuSlot = CpuSlot {
        node: u32::MAX,
        llc: u32::MAX,
    };
}

/// The kernel's distance matrix when firmware gives none.
fn default_distances(n: usize) -> Vec<u32> {
    (0..n * n)
        .map(|i| {
            if i / n == i % n {
                LOCAL_DISTANCE
            } else {
                REMOTE_DISTANCE
            }
        })
        .collect()
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
        Topology::detect_from(os::SYSFS_ROOT.map(Path::new), os::affinity())
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

    /// Reads the topology from a sysfs tree under `root`, in
    /// `root/sys/devices/system`: `cpu/online`; `node/node*/cpulist` and
    /// `node/node*/distance`; and for each node CPU the
    /// `cpu/cpu*/cache/index*/{level,type,shared_cpu_list}` of its
    /// highest-level data or unified cache. The allowed CPUs are `allowed`
    /// intersected with the online CPUs.
    ///
    /// Missing distance files (on every node) mean the kernel's defaults, 10
    /// local and 20 remote; a missing or empty cache directory means the
    /// CPU's cache is unknown, and such CPUs form one group per node.
    ///
    /// # Errors
    ///
    /// Fails, naming the file, when a file is missing or holds a malformed
    /// CPU list, when no node directory exists, when two nodes claim the same
    /// CPU, when an allowed online CPU belongs to no node, when no allowed
    /// CPU is online, when a distance row is not one positive number per
    /// node (or only some nodes have one), or when cache files are garbled
    /// or contradict each other.
    pub fn from_sysfs_root(root: &Path, allowed: CpuSet) -> Result<Topology, TopologyError> {
        Ok(Topology::from_parts(sysfs::read(root, &allowed)?, false))
    }

    /// Builds the lookup tables of `parts`, which must satisfy the
    /// invariants in the module docs.
    fn from_parts(parts: Parts, made_up: bool) -> Topology {
        let Parts {
            nodes,
            distances,
            llcs,
            allowed,
        } = parts;
        debug_assert_eq!(distances.len(), nodes.len() * nodes.len());
        let len = nodes
            .iter()
            .filter_map(|n| n.cpus.iter().last())
            .max()
            .map_or(0, |max| max + 1);
        let mut by_cpu = vec![CpuSlot::NONE; len];
        for group in &llcs {
            for cpu in &group.cpus {
                debug_assert_eq!(by_cpu[cpu].node, u32::MAX, "CPU {cpu} in two groups");
                by_cpu[cpu] = CpuSlot {
                    node: group.node.0 as u32,
                    llc: group.id.index() as u32,
                };
            }
        }
        Topology {
            nodes,
            allowed,
            distances,
            llcs,
            by_cpu,
            made_up,
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
        let group = CacheGroup {
            id: LlcId::new(0),
            node: NodeId(0),
            level: None,
            cpus: allowed.clone(),
        };
        let parts = Parts {
            nodes: vec![node],
            distances: default_distances(1),
            llcs: vec![group],
            allowed,
        };
        let mut topology = Topology::from_parts(parts, false);
        topology.fallback_reason = Some(why);
        topology
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
        match self.by_cpu.get(cpu) {
            Some(slot) if slot.node != u32::MAX => Some(NodeId(slot.node as usize)),
            _ => None,
        }
    }

    /// The NUMA distance from node `from` to node `to`, as the firmware
    /// reports it (relative memory latency: 10 from a node to itself, larger
    /// for remote nodes; 20 between any two nodes when the firmware gives
    /// no table). `None` if either is not a node of this topology.
    pub fn distance(&self, from: NodeId, to: NodeId) -> Option<u32> {
        let n = self.nodes.len();
        if from.0 < n && to.0 < n {
            Some(self.distances[from.0 * n + to.0])
        } else {
            None
        }
    }

    /// `from`, then every other node, nearest first (ties go to the lower
    /// id): the order in which to look for work away from `from`. Empty if
    /// `from` is not a node of this topology.
    pub fn nearest_nodes(&self, from: NodeId) -> Vec<NodeId> {
        let n = self.nodes.len();
        if from.0 >= n {
            return Vec::new();
        }
        let row = &self.distances[from.0 * n..(from.0 + 1) * n];
        let mut others: Vec<NodeId> = (0..n).filter(|&i| i != from.0).map(NodeId).collect();
        others.sort_by_key(|id| (row[id.0], id.0));
        others.insert(0, from);
        others
    }

    /// The last-level-cache groups of all nodes, ordered by node, then by
    /// lowest CPU; indexed by [`LlcId::index`]. A node without CPUs has none.
    pub fn llc_groups(&self) -> &[CacheGroup] {
        &self.llcs
    }

    /// The last-level-cache groups of `node`; empty if `node` has no CPUs
    /// or is not a node of this topology.
    pub fn llc_groups_of(&self, node: NodeId) -> &[CacheGroup] {
        let start = self.llcs.partition_point(|g| g.node < node);
        let end = self.llcs.partition_point(|g| g.node <= node);
        &self.llcs[start..end]
    }

    /// The last-level-cache group `cpu` belongs to, or `None` if it is
    /// offline or unknown.
    pub fn llc_of_cpu(&self, cpu: usize) -> Option<&CacheGroup> {
        match self.by_cpu.get(cpu) {
            Some(slot) if slot.llc != u32::MAX => self.llcs.get(slot.llc as usize),
            _ => None,
        }
    }

    /// The node of the CPU the calling thread runs on right now (from
    /// `sched_getcpu(3)`, which glibc answers from the vDSO without a
    /// syscall), for placing work spawned from outside the runtime. Only a
    /// hint: the thread may migrate as soon as this returns.
    ///
    /// `None` if the OS cannot say, if the CPU belongs to no node, or if the
    /// topology was made up with [`builder`](Topology::builder) or
    /// [`synthetic`](Topology::synthetic) (its CPU ids need not be the
    /// machine's, so callers fall back to their round-robin rule).
    pub fn current_node(&self) -> Option<NodeId> {
        if self.made_up {
            return None;
        }
        self.node_of_cpu(os::current_cpu()?)
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

/// Prints the nodes' CPUs, LLC groups and distances, one line per node:
///
/// ```text
/// 2 NUMA nodes, 8 CPUs, 6 allowed (0-5)
///   node0: CPUs 0-3, LLC groups 0-1 | 2-3 (L3), distances 10 21
///   node1: CPUs 4-7 (4-5 allowed), LLC groups 4-7 (L3), distances 21 10
/// ```
impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.nodes.len();
        let cpus: usize = self.nodes.iter().map(|node| node.cpus.len()).sum();
        let plural = if n == 1 { "" } else { "s" };
        write!(
            f,
            "{n} NUMA node{plural}, {cpus} CPUs, {} allowed ({})",
            self.allowed.len(),
            self.allowed
        )?;
        if let Some(why) = &self.fallback_reason {
            write!(f, " [fallback: {why}]")?;
        }
        for node in &self.nodes {
            if node.cpus.is_empty() {
                write!(f, "\n  {}: no CPUs", node.id)?;
            } else {
                write!(f, "\n  {}: CPUs {}", node.id, node.cpus)?;
            }
            let allowed = self.allowed_cpus_of(node.id);
            if allowed != node.cpus {
                write!(f, " ({allowed} allowed)")?;
            }
            let groups = self.llc_groups_of(node.id);
            if !groups.is_empty() {
                f.write_str(", LLC groups ")?;
                for (i, group) in groups.iter().enumerate() {
                    let sep = if i == 0 { "" } else { " | " };
                    write!(f, "{sep}{}", group.cpus)?;
                }
                if let Some(level) = groups[0].level {
                    write!(f, " (L{level})")?;
                }
            }
            f.write_str(", distances")?;
            for d in &self.distances[node.id.0 * n..(node.id.0 + 1) * n] {
                write!(f, " {d}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Topology")
            .field("nodes", &self.nodes)
            .field("allowed", &self.allowed)
            .field("distances", &self.distances)
            .field("llcs", &self.llcs)
            .field("made_up", &self.made_up)
            .field("fallback_reason", &self.fallback_reason)
            .finish()
    }
}

/// The CPU the calling thread is running on right now, or `None` if the OS
/// cannot say. Only a hint: the thread may migrate as soon as this returns.
#[allow(dead_code, reason = "used by the scheduler to find a worker's node")]
pub(crate) fn current_cpu() -> Option<usize> {
    os::current_cpu()
}

/// The CPUs the calling thread may run on, from `sched_getaffinity(2)` on
/// Linux (an `Unsupported` error elsewhere). Shared with `container`, which
/// intersects it with the cgroup cpuset.
pub(crate) fn affinity() -> io::Result<CpuSet> {
    os::affinity()
}
