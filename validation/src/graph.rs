//! The lock-order graph: an edge `A -> B` means some context acquired a lock
//! of class `B` while holding one of class `A`.
//!
//! The graph is kept acyclic: an edge that would close a cycle is reported
//! (that is a lock-order inversion) and not inserted. Cycle detection is
//! incremental (Pearce and Kelly's dynamic topological order): every node has
//! a position `ord` such that each edge points from a lower to a higher
//! position. A new edge `x -> y` with `ord[x] < ord[y]` needs no search at
//! all; otherwise only the nodes between the two positions are visited, and
//! those are reordered. In steady state new edges are rare anyway: the chain
//! cache keeps acquisitions away from here.
//!
//! Only the cold path touches the graph, under one mutex (`Engine::graph`).
//! The same structure, with nodes that come and go, orders the instances
//! of a class (`instance.rs`): its edge payload is a type parameter.

use crate::context::ContextDesc;
use crate::site::Site;
use std::collections::HashMap;

/// Where and by whom an edge was first seen.
#[derive(Clone, Debug)]
pub(crate) struct EdgeInfo {
    /// Where the lock of the source class was acquired.
    pub(crate) from_site: Site,
    /// Where the lock of the target class was acquired while holding it.
    pub(crate) to_site: Site,
    /// The context that took the two in this order.
    pub(crate) ctx: ContextDesc,
}

/// The outcome of [`LockGraph::add_edge`].
#[must_use]
#[derive(Debug)]
pub(crate) enum AddEdge {
    /// The edge was known.
    Exists,
    /// The edge is new and closes no cycle.
    Added,
    /// The edge `x -> y` would close a cycle; this is the existing path
    /// `y -> ... -> x` as its nodes, `y` first and `x` last.
    Cycle(Vec<u32>),
}

pub(crate) struct LockGraph<I = EdgeInfo> {
    /// Indexed by node id (class id; id 0 unused).
    ord: Vec<u32>,
    out: Vec<Vec<u32>>,
    inn: Vec<Vec<u32>>,
    edges: HashMap<(u32, u32), I>,
}

impl<I> Default for LockGraph<I> {
    fn default() -> Self {
        LockGraph {
            ord: Vec::new(),
            out: Vec::new(),
            inn: Vec::new(),
            edges: HashMap::new(),
        }
    }
}

impl<I> LockGraph<I> {
    pub(crate) fn new() -> LockGraph<I> {
        LockGraph::default()
    }

    fn ensure(&mut self, id: u32) {
        while self.ord.len() <= id as usize {
            // A new node goes last in the order: it has no edges yet.
            let pos = self.ord.len() as u32;
            self.ord.push(pos);
            self.out.push(Vec::new());
            self.inn.push(Vec::new());
        }
    }

    pub(crate) fn edge(&self, from: u32, to: u32) -> Option<&I> {
        self.edges.get(&(from, to))
    }

    pub(crate) fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Every edge, in no particular order (for `export.rs`).
    pub(crate) fn edges(&self) -> impl Iterator<Item = (&(u32, u32), &I)> {
        self.edges.iter()
    }

    /// Adds `x -> y` (`x != y`) unless it exists or would close a cycle.
    pub(crate) fn add_edge(&mut self, x: u32, y: u32, info: impl FnOnce() -> I) -> AddEdge {
        debug_assert_ne!(x, y, "self-edges are handled by the caller");
        self.ensure(x.max(y));
        if self.edges.contains_key(&(x, y)) {
            return AddEdge::Exists;
        }
        let (lb, ub) = (self.ord[y as usize], self.ord[x as usize]);
        if lb < ub {
            let forward = match self.forward(y, x, ub) {
                Ok(f) => f,
                Err(path) => return AddEdge::Cycle(path),
            };
            let backward = self.backward(x, lb);
            self.reorder(backward, forward);
        }
        self.out[x as usize].push(y);
        self.inn[y as usize].push(x);
        self.edges.insert((x, y), info());
        AddEdge::Added
    }

    /// Nodes reachable from `y` with positions below `ub`; `Err(path)` if
    /// `x` (at `ub`) is among them.
    fn forward(&self, y: u32, x: u32, ub: u32) -> Result<Vec<u32>, Vec<u32>> {
        let mut parent: HashMap<u32, u32> = HashMap::new();
        let mut seen = vec![y];
        let mut stack = vec![y];
        parent.insert(y, y);
        while let Some(n) = stack.pop() {
            for &m in &self.out[n as usize] {
                if m == x {
                    let mut path = vec![x, n];
                    let mut cur = n;
                    while cur != y {
                        cur = parent[&cur];
                        path.push(cur);
                    }
                    path.reverse();
                    return Err(path);
                }
                if self.ord[m as usize] < ub && !parent.contains_key(&m) {
                    parent.insert(m, n);
                    seen.push(m);
                    stack.push(m);
                }
            }
        }
        Ok(seen)
    }

    /// Nodes that reach `x` with positions above `lb`.
    fn backward(&self, x: u32, lb: u32) -> Vec<u32> {
        let mut seen = vec![x];
        let mut visited: std::collections::HashSet<u32> = std::collections::HashSet::from([x]);
        let mut stack = vec![x];
        while let Some(n) = stack.pop() {
            for &m in &self.inn[n as usize] {
                if self.ord[m as usize] > lb && visited.insert(m) {
                    seen.push(m);
                    stack.push(m);
                }
            }
        }
        seen
    }

    /// Gives the positions held by `backward ∪ forward` to the backward set
    /// first, then the forward set, each keeping its relative order.
    fn reorder(&mut self, mut backward: Vec<u32>, mut forward: Vec<u32>) {
        backward.sort_by_key(|&n| self.ord[n as usize]);
        forward.sort_by_key(|&n| self.ord[n as usize]);
        let mut pool: Vec<u32> = backward
            .iter()
            .chain(forward.iter())
            .map(|&n| self.ord[n as usize])
            .collect();
        pool.sort_unstable();
        for (n, pos) in backward.into_iter().chain(forward).zip(pool) {
            self.ord[n as usize] = pos;
        }
    }

    /// Removes every edge into or out of `n` (a node whose instance died).
    /// Removing edges keeps the order topological; `n` keeps its position,
    /// so a node reusing its id needs no new one.
    pub(crate) fn clear_node(&mut self, n: u32) {
        let i = n as usize;
        if i >= self.ord.len() {
            return;
        }
        for m in std::mem::take(&mut self.out[i]) {
            self.inn[m as usize].retain(|&x| x != n);
            self.edges.remove(&(n, m));
        }
        for m in std::mem::take(&mut self.inn[i]) {
            self.out[m as usize].retain(|&x| x != n);
            self.edges.remove(&(m, n));
        }
    }

    /// Nodes ever created (live or freed).
    #[cfg(all(test, not(perf_validation_loom)))]
    pub(crate) fn node_count(&self) -> usize {
        self.ord.len()
    }

    /// The heap this graph takes, in bytes (its vectors' and map's
    /// capacities; the map's per-entry overhead estimated as one control
    /// byte).
    pub(crate) fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let lists: usize = self
            .out
            .iter()
            .chain(self.inn.iter())
            .map(|l| l.capacity() * size_of::<u32>())
            .sum();
        self.ord.capacity() * size_of::<u32>()
            + (self.out.capacity() + self.inn.capacity()) * size_of::<Vec<u32>>()
            + lists
            + self.edges.capacity() * (size_of::<((u32, u32), I)>() + 1)
    }

    /// Checks the invariant (every edge goes up the order); for tests.
    #[cfg(all(test, not(perf_validation_loom)))]
    pub(crate) fn is_topologically_ordered(&self) -> bool {
        self.edges
            .keys()
            .all(|&(a, b)| self.ord[a as usize] < self.ord[b as usize])
    }
}
