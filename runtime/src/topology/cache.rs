//! Last-level-cache groups: the CPUs of a node that share their highest
//! level of cache, and how both readers (sysfs, hwloc) build them from what
//! each CPU reports.
//!
//! A group never spans two nodes: where one cache serves several nodes
//! (Intel's sub-NUMA clustering splits a socket's L3 over two nodes), each
//! node gets its own group of that cache's CPUs, so groups nest in nodes and
//! "same cache group, then same node, then other nodes" is a strict order.

use std::fmt;

use super::{CpuSet, Node, NodeId, TopologyError};

/// A last-level-cache group, by its position in
/// [`Topology::llc_groups`](super::Topology::llc_groups).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LlcId(usize);

impl LlcId {
    /// The group at position `index` of
    /// [`Topology::llc_groups`](super::Topology::llc_groups).
    pub const fn new(index: usize) -> LlcId {
        LlcId(index)
    }

    /// The group's position in
    /// [`Topology::llc_groups`](super::Topology::llc_groups).
    pub const fn index(self) -> usize {
        self.0
    }
}

/// Prints `llc<index>`, e.g. `llc0`.
impl fmt::Display for LlcId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "llc{}", self.0)
    }
}

/// CPUs of one node that share their last-level (highest-level data or
/// unified) cache.
///
/// CPUs for which the machine reports no cache form one group per node,
/// with [`level`](CacheGroup::level) `None`; so does every node of a
/// topology made with [`TopologyBuilder::node`](super::TopologyBuilder::node).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheGroup {
    pub(super) id: LlcId,
    pub(super) node: NodeId,
    pub(super) level: Option<u8>,
    pub(super) cpus: CpuSet,
}

impl CacheGroup {
    /// The group's position in
    /// [`Topology::llc_groups`](super::Topology::llc_groups).
    pub fn id(&self) -> LlcId {
        self.id
    }

    /// The node all CPUs of the group belong to.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// The cache level (3 for an L3), or `None` if the machine did not say
    /// (or the topology was made up).
    pub fn level(&self) -> Option<u8> {
        self.level
    }

    /// The group's online CPUs, allowed to this process or not. Never empty.
    pub fn cpus(&self) -> &CpuSet {
        &self.cpus
    }
}

/// The highest-level data or unified cache of one CPU, as a reader found it.
#[derive(Clone, Debug)]
pub(super) struct CpuCache {
    pub(super) level: u8,
    /// The CPUs sharing the cache, as reported (possibly beyond the node).
    pub(super) shared: CpuSet,
}

/// Groups the CPUs of every node by their last-level cache.
///
/// `cache_of(cpu)` reports a CPU's highest cache (`None` when the machine
/// says nothing); it is asked only about CPUs not yet covered by an earlier
/// CPU's answer. `conflict(cpu, what)` turns a contradiction found while
/// looking at `cpu`'s answer into an error (the reader knows which file or
/// library said it). The groups come out ordered by node, then by lowest CPU.
pub(super) fn group_by_llc(
    nodes: &[Node],
    mut cache_of: impl FnMut(usize) -> Result<Option<CpuCache>, TopologyError>,
    conflict: impl Fn(usize, String) -> TopologyError,
) -> Result<Vec<CacheGroup>, TopologyError> {
    let mut groups = Vec::new();
    for node in nodes {
        let mut grouped = CpuSet::new();
        let mut unknown = CpuSet::new();
        let first_of_node = groups.len();
        for cpu in node.cpus() {
            if grouped.contains(cpu) {
                continue;
            }
            let Some(cache) = cache_of(cpu)? else {
                unknown.insert(cpu);
                grouped.insert(cpu);
                continue;
            };
            let level = cache.level;
            if !cache.shared.contains(cpu) {
                let what = format!(
                    "cpu{cpu}'s level-{level} cache is shared by CPUs {}, which do not \
                     include cpu{cpu}",
                    cache.shared
                );
                return Err(conflict(cpu, what));
            }
            let cpus = cache.shared.intersection(node.cpus());
            let overlap = cpus.intersection(&grouped);
            if !overlap.is_empty() {
                let what = format!(
                    "cpu{cpu}'s level-{level} cache is shared by CPUs {cpus} of {}, but CPUs \
                     {overlap} already share another cache",
                    node.id()
                );
                return Err(conflict(cpu, what));
            }
            grouped = grouped.union(&cpus);
            groups.push(CacheGroup {
                id: LlcId(0),
                node: node.id(),
                level: Some(level),
                cpus,
            });
        }
        if !unknown.is_empty() {
            groups.push(CacheGroup {
                id: LlcId(0),
                node: node.id(),
                level: None,
                cpus: unknown,
            });
        }
        groups[first_of_node..].sort_by_key(|g| g.cpus.iter().next());
    }
    for (i, group) in groups.iter_mut().enumerate() {
        group.id = LlcId(i);
    }
    Ok(groups)
}
