//! Who each worker is: its node, its CPUs, and the order it steals in.
//!
//! A worker's *home cache* is the last-level-cache group holding all the
//! CPUs it is pinned to; an unpinned worker (or one spanning several groups)
//! is given one of its node's groups round-robin, so that workers of a node
//! are spread over its caches in the bookkeeping as `PinToCore` spreads them
//! on the machine. Stealing then goes: same cache group, rest of the node,
//! then (after the hysteresis) other nodes by distance.

use super::core::WorkerSpec;
use crate::topology::{LlcId, NodeId, Topology, WorkerPlacement};
use std::ops::Range;
use std::sync::Arc;

/// One spec per worker, in worker order.
///
/// Linear in the worker count, in time and memory: each node's members are
/// listed once, ordered by home cache group, and shared by the node's workers
/// (a worker keeps only its cache group's range in that list). A list of
/// peers per worker grew with the square of the count (699 MB at 8k workers).
pub(crate) fn worker_specs(
    topology: &Topology,
    placements: Vec<WorkerPlacement>,
    reserved: &[bool],
) -> Vec<WorkerSpec> {
    let num_nodes = topology.num_nodes().max(1);
    let nodes: Vec<usize> = placements
        .iter()
        .map(|p| p.node.index().min(num_nodes - 1))
        .collect();
    let homes = home_caches(topology, &placements, &nodes);
    let remote_order: Vec<Arc<[usize]>> = (0..num_nodes)
        .map(|n| {
            topology
                .nearest_nodes(NodeId::new(n))
                .into_iter()
                .map(NodeId::index)
                .filter(|&m| m != n && m < num_nodes)
                .collect()
        })
        .collect();
    // Each node's workers, grouped by home cache (then by index).
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); num_nodes];
    for (w, &n) in nodes.iter().enumerate() {
        members[n].push(w);
    }
    for list in &mut members {
        list.sort_by_key(|&w| (homes[w], w));
    }
    // Where each worker's cache group sits in its node's list.
    let mut groups: Vec<Range<usize>> = vec![0..0; nodes.len()];
    for list in &members {
        let mut start = 0;
        while start < list.len() {
            let home = homes[list[start]];
            let len = list[start..]
                .iter()
                .take_while(|&&w| homes[w] == home)
                .count();
            for &w in &list[start..start + len] {
                groups[w] = start..start + len;
            }
            start += len;
        }
    }
    let members: Vec<Arc<[usize]>> = members.into_iter().map(Into::into).collect();
    placements
        .into_iter()
        .enumerate()
        .map(|(index, p)| {
            let node = nodes[index];
            WorkerSpec {
                index,
                node,
                reserved: reserved.get(index).copied().unwrap_or(false),
                pin: p.cpus,
                peers: Peers {
                    node: members[node].clone(),
                    llc: groups[index].clone(),
                },
                remote_nodes: remote_order[node].clone(),
            }
        })
        .collect()
}

/// A worker's same-node peers without a list of its own: its node's
/// members (one allocation per node, shared), ordered so that its cache
/// group is the contiguous range `llc`. Both views include the worker
/// itself; the stealer skips it.
#[derive(Clone, Debug)]
pub(crate) struct Peers {
    node: Arc<[usize]>,
    llc: Range<usize>,
}

impl Peers {
    /// The workers of this node sharing the last-level cache.
    pub(crate) fn llc(&self) -> [&[usize]; 2] {
        [&self.node[self.llc.clone()], &[]]
    }

    /// The other workers of this node (outside the cache group), as two runs.
    pub(crate) fn rest_of_node(&self) -> [&[usize]; 2] {
        [&self.node[..self.llc.start], &self.node[self.llc.end..]]
    }
}

/// Each worker's home cache group (see the module docs).
fn home_caches(
    topology: &Topology,
    placements: &[WorkerPlacement],
    nodes: &[usize],
) -> Vec<Option<LlcId>> {
    let mut next_in_node = vec![0usize; topology.num_nodes().max(1)];
    placements
        .iter()
        .zip(nodes)
        .map(|(p, &node)| {
            let pinned = p.cpus.as_ref().and_then(|cpus| {
                let mut groups = cpus.iter().map(|c| topology.llc_of_cpu(c).map(|g| g.id()));
                let first = groups.next()??;
                groups.all(|g| g == Some(first)).then_some(first)
            });
            pinned.or_else(|| {
                let groups = topology.llc_groups_of(NodeId::new(node));
                if groups.is_empty() {
                    return None;
                }
                let k = next_in_node[node];
                next_in_node[node] += 1;
                Some(groups[k % groups.len()].id())
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{CpuSet, Placement};

    /// The peers a spec lists, without the worker itself, sorted.
    fn sorted(parts: [&[usize]; 2], me: usize) -> Vec<usize> {
        let mut v: Vec<usize> = parts.concat().into_iter().filter(|&w| w != me).collect();
        v.sort_unstable();
        v
    }

    fn llc_peers(s: &WorkerSpec) -> Vec<usize> {
        sorted(s.peers.llc(), s.index)
    }

    fn node_peers(s: &WorkerSpec) -> Vec<usize> {
        sorted(s.peers.rest_of_node(), s.index)
    }

    fn cpus(list: &[usize]) -> CpuSet {
        CpuSet::from_iter(list.iter().copied())
    }

    /// 2 nodes × 2 cache groups × 2 CPUs (distances are checked on 3 nodes
    /// below).
    fn two_by_two() -> Topology {
        Topology::builder()
            .node_with_llcs(vec![cpus(&[0, 1]), cpus(&[2, 3])])
            .node_with_llcs(vec![cpus(&[4, 5]), cpus(&[6, 7])])
            .build()
            .unwrap()
    }

    #[test]
    fn peers_split_by_cache_group_then_node() {
        let t = two_by_two();
        let plan = Placement::Unpinned.plan(&t, 8).unwrap();
        let specs = worker_specs(&t, plan, &[]);
        // Workers 0-3 on node 0; round-robin homes: 0→g0, 1→g1, 2→g0, 3→g1.
        assert_eq!(specs[0].node, 0);
        assert_eq!(llc_peers(&specs[0]), [2]);
        assert_eq!(node_peers(&specs[0]), [1, 3]);
        assert_eq!(&*specs[0].remote_nodes, &[1]);
        assert_eq!(specs[5].node, 1);
        assert_eq!(llc_peers(&specs[5]), [7]);
        assert_eq!(node_peers(&specs[5]), [4, 6]);
        assert_eq!(&*specs[5].remote_nodes, &[0]);
    }

    #[test]
    fn pinned_workers_take_the_group_of_their_cpus() {
        let t = two_by_two();
        let plan = Placement::Custom(vec![cpus(&[0]), cpus(&[1]), cpus(&[2]), cpus(&[0, 2])])
            .plan(&t, 4)
            .unwrap();
        let specs = worker_specs(&t, plan, &[false, false, false, true]);
        // CPUs 0 and 1 share a cache; worker 3 spans two groups, so it is
        // given the node's groups round-robin, starting with the first.
        assert_eq!(llc_peers(&specs[0]), [1, 3]);
        assert_eq!(llc_peers(&specs[2]), [] as [usize; 0]);
        assert_eq!(node_peers(&specs[2]), [0, 1, 3]);
        assert!(specs[3].reserved);
        assert_eq!(specs[3].pin, Some(cpus(&[0, 2])));
    }

    #[test]
    fn remote_nodes_are_ordered_by_distance() {
        let t = Topology::builder()
            .node(cpus(&[0]))
            .node(cpus(&[1]))
            .node(cpus(&[2]))
            .distances(vec![vec![10, 30, 20], vec![30, 10, 20], vec![20, 20, 10]])
            .build()
            .unwrap();
        let specs = worker_specs(&t, Placement::Unpinned.plan(&t, 3).unwrap(), &[]);
        assert_eq!(&*specs[0].remote_nodes, &[2, 1]);
        assert_eq!(&*specs[1].remote_nodes, &[2, 0]);
        assert_eq!(&*specs[2].remote_nodes, &[0, 1]);
    }

    /// Issue 15: every worker kept a list of all its same-node peers, so
    /// memory grew with the square of the worker count. The peer storage
    /// (distinct allocations, counted once) must stay linear.
    #[test]
    fn peer_storage_is_linear_in_the_worker_count() {
        let t = two_by_two();
        for workers in [8, 512, 4096] {
            let specs = worker_specs(&t, Placement::Unpinned.plan(&t, workers).unwrap(), &[]);
            let mut seen = std::collections::HashSet::new();
            let stored: usize = specs
                .iter()
                .filter(|s| seen.insert(Arc::as_ptr(&s.peers.node) as *const usize))
                .map(|s| s.peers.node.len())
                .sum();
            assert!(
                stored <= workers,
                "{workers} workers store {stored} peer entries: not linear"
            );
            // Still every same-node worker is a peer, split by cache group.
            let s = &specs[0];
            assert_eq!(
                llc_peers(s).len() + node_peers(s).len(),
                workers / 2 - 1,
                "{workers} workers"
            );
        }
    }
}
