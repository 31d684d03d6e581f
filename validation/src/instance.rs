//! The instance-order graph: the order in which locks of one class nest.
//!
//! Lock order is kept per class (`graph.rs`), as lockdep does, so all the
//! locks made at one site — a `Vec<Mutex<Account>>` built in a loop — are
//! one class, and holding one while taking another would be a cycle of the
//! class with itself. Linux needs nesting annotations there; a tokio user
//! porting code has none, and taking the accounts lowest index first, or
//! hand-over-hand down a list, is correct. So when two instances of one
//! class nest, the engine records the edge between the *instances*, and
//! reports only an edge that closes a cycle of instances: A before B here,
//! B before A there (or a longer ring). A class declared with a
//! [`Nesting`](crate::Nesting) rule is checked against that rule instead,
//! which is stricter (`lock/validate.rs`).
//!
//! # Identity
//!
//! Every lock instance gets an id on its first acquisition, when its class
//! word is resolved (`LockMeta::resolve`), kept in the word's upper bits
//! ([`WORD_ID_SHIFT`]): moving the lock keeps its id. Ids come in
//! per-thread blocks from one counter, and are unique until 2^30 locks have
//! been made (then the counter wraps; an instance old enough to meet its
//! namesake costs at most a missed or a spurious edge).
//!
//! # Memory
//!
//! One node per instance that ever nested with another of its class, and
//! one edge per distinct (outer, inner) pair, each edge 24 bytes of sites
//! and context plus the map's and the adjacency lists' share. An instance's
//! node and edges go when it dies: `LockMeta`'s drop reads one counter of a
//! small counting filter ([`maybe_in_graph`]) and takes the graph lock only
//! if the id may be in the graph. Freed nodes are reused. So the graph
//! tracks live instances only; [`stats`](crate::stats) reports its size.
//!
//! The graph is kept acyclic with the same dynamic topological order as the
//! class graph: an instance first seen is placed last, so index order and
//! hand-over-hand traversals — each new edge from an older to a newer
//! node — need no search at all.

use crate::context::ContextId;
use crate::fast_hash::FastMap as HashMap;
use crate::graph::{AddEdge, LockGraph};
use std::cell::Cell;
use std::panic::Location;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Where a lock's instance id sits in its class word (above the class id
/// and the nesting bits).
pub(crate) const WORD_ID_SHIFT: u32 = 34;
const ID_MASK: u32 = (1 << 30) - 1;

/// The instance id in a class word (0: none).
#[inline(always)]
pub(crate) fn id_of(word: u64) -> u32 {
    (word >> WORD_ID_SHIFT) as u32
}

static NEXT_BLOCK: AtomicU32 = AtomicU32::new(0);
const BLOCK: u32 = 256;

thread_local! {
    /// This thread's ids left: (next, end of block).
    static IDS: Cell<(u32, u32)> = const { Cell::new((0, 0)) };
}

/// A fresh instance id, shifted into place for a class word.
pub(crate) fn next_id_bits() -> u64 {
    let take = |ids: &Cell<(u32, u32)>| {
        let (mut next, mut end) = ids.get();
        if next == end {
            next = NEXT_BLOCK.fetch_add(BLOCK, Relaxed) & ID_MASK;
            end = next + BLOCK;
            if next == 0 {
                next = 1; // 0 means "none"
            }
        }
        ids.set((next + 1, end));
        next
    };
    let id = IDS.try_with(take).unwrap_or_else(|_| {
        // Thread teardown: one id from a block of its own.
        (NEXT_BLOCK.fetch_add(BLOCK, Relaxed) & ID_MASK) | 1
    });
    u64::from(id) << WORD_ID_SHIFT
}

const FILTER_SLOTS: usize = 4096;

/// A counting filter over the ids in the graph: lets a dying lock skip the
/// graph lock when it was never in it (false positives only).
static MAYBE: [AtomicU32; FILTER_SLOTS] = [const { AtomicU32::new(0) }; FILTER_SLOTS];

fn slot(id: u32) -> usize {
    (id.wrapping_mul(0x9E37_79B9) >> 20) as usize % FILTER_SLOTS
}

/// Whether `id` may have a node in the graph. A lock's drop happens after
/// its last acquisition (which inserted the node, before the lock was
/// taken) through the lock's own release and acquire, so a relaxed load
/// sees that insertion.
#[inline]
pub(crate) fn maybe_in_graph(id: u32) -> bool {
    MAYBE[slot(id)].load(Relaxed) != 0
}

/// An instance-order edge: where the outer lock was taken, where the inner
/// one, and by whom (first seen).
#[derive(Clone, Copy, Debug)]
pub(crate) struct InstEdge {
    pub(crate) outer_site: &'static Location<'static>,
    pub(crate) inner_site: &'static Location<'static>,
    pub(crate) ctx: ContextId,
}

/// The graph, behind `Engine::instances`.
#[derive(Default)]
pub(crate) struct InstanceGraph {
    graph: LockGraph<InstEdge>,
    /// Instance id -> node.
    nodes: HashMap<u32, u32>,
    /// Node -> instance id (0: free).
    ids: Vec<u32>,
    free: Vec<u32>,
}

/// The outcome of [`InstanceGraph::add`].
#[must_use]
pub(crate) enum AddInstanceEdge {
    /// Known or new, and no cycle.
    Ordered,
    /// `outer -> inner` closes a cycle: the existing edges from `inner`
    /// back to `outer`, in order.
    Cycle(Vec<InstEdge>),
}

impl InstanceGraph {
    pub(crate) fn new() -> InstanceGraph {
        InstanceGraph::default()
    }

    fn node(&mut self, id: u32) -> u32 {
        if let Some(&n) = self.nodes.get(&id) {
            return n;
        }
        let n = match self.free.pop() {
            Some(n) => n,
            None => {
                if self.ids.is_empty() {
                    self.ids.push(0); // node 0 unused
                }
                self.ids.push(0);
                (self.ids.len() - 1) as u32
            }
        };
        self.ids[n as usize] = id;
        self.nodes.insert(id, n);
        MAYBE[slot(id)].fetch_add(1, Relaxed);
        n
    }

    /// Records that instance `outer` was held while instance `inner` (of the
    /// same class) was taken.
    pub(crate) fn add(&mut self, outer: u32, inner: u32, edge: InstEdge) -> AddInstanceEdge {
        debug_assert_ne!(outer, inner);
        let (x, y) = (self.node(outer), self.node(inner));
        match self.graph.add_edge(x, y, || edge) {
            AddEdge::Exists | AddEdge::Added => AddInstanceEdge::Ordered,
            AddEdge::Cycle(path) => AddInstanceEdge::Cycle(
                path.windows(2)
                    .filter_map(|w| self.graph.edge(w[0], w[1]).copied())
                    .collect(),
            ),
        }
    }

    /// Instance `id` died: its node and edges go.
    pub(crate) fn forget(&mut self, id: u32) {
        let Some(n) = self.nodes.remove(&id) else {
            return;
        };
        self.graph.clear_node(n);
        self.ids[n as usize] = 0;
        self.free.push(n);
        MAYBE[slot(id)].fetch_sub(1, Relaxed);
    }

    /// Live instances in the graph.
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Edges between live instances.
    pub(crate) fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// The heap the graph takes, in bytes (capacities; see
    /// `LockGraph::heap_bytes`).
    pub(crate) fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.graph.heap_bytes()
            + self.nodes.capacity() * (size_of::<(u32, u32)>() + 1)
            + (self.ids.capacity() + self.free.capacity()) * size_of::<u32>()
    }

    #[cfg(all(test, not(perf_validation_loom)))]
    pub(crate) fn contains(&self, id: u32) -> bool {
        self.nodes.contains_key(&id)
    }

    #[cfg(all(test, not(perf_validation_loom)))]
    pub(crate) fn node_slots(&self) -> usize {
        self.graph.node_count()
    }
}

/// Instance `id` died (`LockMeta`'s drop, after [`maybe_in_graph`]).
#[cold]
#[inline(never)]
pub(crate) fn forget(id: u32) {
    let e = crate::engine::get();
    crate::loom::lock(&e.instances).forget(id);
}
