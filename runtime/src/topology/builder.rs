//! Made-up topologies of any shape, for tests and experiments:
//! [`TopologyBuilder`] and [`Topology::synthetic`].

use super::cache::{CacheGroup, LlcId};
use super::{default_distances, CpuSet, Node, NodeId, Parts, Topology, TopologyError};

/// Describes a made-up topology node by node: which CPUs each node has, how
/// they group under last-level caches, the distances between nodes, and
/// which CPUs the process may use. [`build`](TopologyBuilder::build) checks
/// the description and names what does not fit.
///
/// The CPU ids need not exist on this machine: such a topology drives the
/// scheduler's node and cache bookkeeping, not the OS (run its workers
/// [`Unpinned`](super::Placement::Unpinned)).
///
/// ```
/// use perf_runtime::topology::{CpuSet, NodeId, Topology};
///
/// let cpus = |list: &str| list.parse::<CpuSet>().unwrap();
/// // Two nodes; node 0 has two L3 groups, node 1 one.
/// let topology = Topology::builder()
///     .node_with_llcs(vec![cpus("0-1"), cpus("2-3")])
///     .node(cpus("4-7"))
///     .distances(vec![vec![10, 32], vec![32, 10]])
///     .build()?;
/// assert_eq!(topology.distance(NodeId::new(0), NodeId::new(1)), Some(32));
/// assert_eq!(topology.llc_groups_of(NodeId::new(0)).len(), 2);
/// # Ok::<(), perf_runtime::topology::TopologyError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct TopologyBuilder {
    /// The LLC groups of each node; a node given by `node(cpus)` has its
    /// CPUs as one group (none if it has no CPUs).
    nodes: Vec<Vec<CpuSet>>,
    distances: Option<Vec<Vec<u32>>>,
    allowed: Option<CpuSet>,
}

impl TopologyBuilder {
    /// An empty description; add at least one node.
    pub fn new() -> TopologyBuilder {
        TopologyBuilder::default()
    }

    /// Adds the next node (`node0` first) with `cpus`, all under one
    /// last-level cache. An empty set is a node with memory but no CPUs.
    pub fn node(&mut self, cpus: CpuSet) -> &mut Self {
        let groups = if cpus.is_empty() { vec![] } else { vec![cpus] };
        self.nodes.push(groups);
        self
    }

    /// Adds the next node with one CPU set per last-level-cache group; the
    /// node's CPUs are their union.
    pub fn node_with_llcs(&mut self, llc_groups: Vec<CpuSet>) -> &mut Self {
        self.nodes.push(llc_groups);
        self
    }

    /// The NUMA distance matrix: `matrix[from][to]`, one row and column per
    /// node, every entry positive. Default: 10 from a node to itself, 20 to
    /// any other (what Linux assumes without a firmware table).
    pub fn distances(&mut self, matrix: Vec<Vec<u32>>) -> &mut Self {
        self.distances = Some(matrix);
        self
    }

    /// The CPUs the process may use; default: every CPU of every node.
    pub fn allowed(&mut self, cpus: CpuSet) -> &mut Self {
        self.allowed = Some(cpus);
        self
    }

    /// Checks the description and makes the topology.
    ///
    /// # Errors
    ///
    /// Names the node, group, CPUs or matrix entry that is wrong: no node;
    /// an empty LLC group; a CPU id above [`CpuSet::MAX_PARSED_CPU`]; a CPU
    /// in two groups or two nodes; no CPU in any node; a distance matrix
    /// that is not one row and column per node, or has a zero entry; an
    /// empty allowed set, or allowed CPUs that belong to no node.
    pub fn build(&self) -> Result<Topology, TopologyError> {
        let err = |what: String| Err(TopologyError::invalid_input(what));
        let n = self.nodes.len();
        if n == 0 {
            return err("the topology has no node; add one with .node(..)".to_owned());
        }
        let mut nodes = Vec::with_capacity(n);
        let mut llcs = Vec::new();
        let mut seen = CpuSet::new();
        for (i, groups) in self.nodes.iter().enumerate() {
            let id = NodeId::new(i);
            let mut node_cpus = CpuSet::new();
            let mut node_groups = Vec::with_capacity(groups.len());
            for (g, cpus) in groups.iter().enumerate() {
                if cpus.is_empty() {
                    return err(format!(
                        "LLC group {g} of {id} is empty; give every cache group at least one CPU"
                    ));
                }
                if let Some(max) = cpus.iter().last().filter(|&c| c > CpuSet::MAX_PARSED_CPU) {
                    return err(format!(
                        "CPU {max} of {id} is above the largest supported CPU id {}",
                        CpuSet::MAX_PARSED_CPU
                    ));
                }
                let twice = cpus.intersection(&node_cpus);
                if !twice.is_empty() {
                    return err(format!(
                        "CPUs {twice} are in two LLC groups of {id}; put each CPU in one group"
                    ));
                }
                node_cpus = node_cpus.union(cpus);
                node_groups.push(cpus.clone());
            }
            let shared = node_cpus.intersection(&seen);
            if let Some(other) = shared.iter().next().and_then(|c| owner(&nodes, c)) {
                return err(format!(
                    "CPUs {shared} are in {other} and in {id}; give each CPU to one node"
                ));
            }
            seen = seen.union(&node_cpus);
            node_groups.sort_by_key(|g| g.iter().next());
            // Numbered below, once all groups are in.
            llcs.extend(node_groups.into_iter().map(|cpus| CacheGroup {
                id: LlcId::new(0),
                node: id,
                level: None,
                cpus,
            }));
            nodes.push(Node {
                id,
                os_id: i,
                cpus: node_cpus,
            });
        }
        for (i, group) in llcs.iter_mut().enumerate() {
            group.id = LlcId::new(i);
        }
        if seen.is_empty() {
            return err("no node has a CPU; give at least one node a CPU".to_owned());
        }

        let distances = match &self.distances {
            None => default_distances(n),
            Some(matrix) => flatten_distances(matrix, n)?,
        };

        let allowed = self.allowed.clone().unwrap_or_else(|| seen.clone());
        if allowed.is_empty() {
            return err("the allowed CPU set is empty; allow at least one CPU".to_owned());
        }
        let homeless: CpuSet = allowed.iter().filter(|&c| !seen.contains(c)).collect();
        if !homeless.is_empty() {
            return err(format!(
                "allowed CPUs {homeless} belong to no node (the nodes have CPUs {seen})"
            ));
        }

        let parts = Parts {
            nodes,
            distances,
            llcs,
            allowed,
        };
        Ok(Topology::from_parts(parts, true))
    }
}

/// The node among `nodes` that holds `cpu`.
fn owner(nodes: &[Node], cpu: usize) -> Option<NodeId> {
    nodes.iter().find(|n| n.cpus.contains(cpu)).map(|n| n.id)
}

/// Checks that `matrix` is `n` square with positive entries; row-major.
fn flatten_distances(matrix: &[Vec<u32>], n: usize) -> Result<Vec<u32>, TopologyError> {
    let err = |what: String| Err(TopologyError::invalid_input(what));
    if matrix.len() != n {
        return err(format!(
            "the distance matrix has {} rows but there are {n} nodes; give one row per node",
            matrix.len()
        ));
    }
    let mut flat = Vec::with_capacity(n * n);
    for (from, row) in matrix.iter().enumerate() {
        if row.len() != n {
            return err(format!(
                "row {from} of the distance matrix has {} entries but there are {n} nodes; \
                 give one entry per node",
                row.len()
            ));
        }
        if let Some(to) = row.iter().position(|&d| d == 0) {
            return err(format!(
                "the distance from node{from} to node{to} is 0; distances are positive \
                 (Linux reports 10 from a node to itself)"
            ));
        }
        flat.extend_from_slice(row);
    }
    Ok(flat)
}

impl Topology {
    /// Starts describing a made-up topology of any shape; see
    /// [`TopologyBuilder`].
    pub fn builder() -> TopologyBuilder {
        TopologyBuilder::new()
    }

    /// A made-up topology for tests and experiments: `nodes` nodes of
    /// `cpus_per_node` CPUs each, numbered from 0 (node 0 holds CPUs
    /// `0..cpus_per_node`), all allowed, each node under one last-level
    /// cache, distances 10 local and 20 remote. The CPU ids need not exist.
    /// For other shapes use [`builder`](Topology::builder).
    ///
    /// # Panics
    ///
    /// If `nodes` or `cpus_per_node` is 0, or the CPU count exceeds
    /// [`CpuSet::MAX_PARSED_CPU`] + 1.
    pub fn synthetic(nodes: usize, cpus_per_node: usize) -> Topology {
        assert!(
            nodes > 0,
            "Topology::synthetic: a topology needs at least one node (nodes = 0)"
        );
        assert!(
            cpus_per_node > 0,
            "Topology::synthetic: a node needs at least one CPU (cpus_per_node = 0)"
        );
        let total = nodes.checked_mul(cpus_per_node);
        assert!(
            total.is_some_and(|t| t <= CpuSet::MAX_PARSED_CPU + 1),
            "Topology::synthetic: {nodes} nodes x {cpus_per_node} CPUs is more than {} CPUs",
            CpuSet::MAX_PARSED_CPU + 1
        );
        let mut builder = Topology::builder();
        for i in 0..nodes {
            builder.node((i * cpus_per_node..(i + 1) * cpus_per_node).collect());
        }
        builder
            .build()
            .unwrap_or_else(|e| panic!("Topology::synthetic({nodes}, {cpus_per_node}): {e}"))
    }
}
