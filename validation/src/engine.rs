//! The engine's shared state, one per process.
//!
//! Each part is a type of its own so the loom models can build a fresh one
//! per execution; the process uses the single instance behind [`get`].

use crate::chain::ChainSet;
use crate::class::ClassTable;
use crate::graph::LockGraph;
use crate::instance::InstanceGraph;
use crate::loom::sync::Mutex;
use crate::sink::Sink;
use crate::wait::graph::WaitGraph;
use std::sync::OnceLock;

pub(crate) struct Engine {
    pub(crate) classes: ClassTable,
    pub(crate) graph: Mutex<LockGraph>,
    pub(crate) instances: Mutex<InstanceGraph>,
    pub(crate) chains: ChainSet,
    pub(crate) waits: WaitGraph,
    /// The cycles the periodic scan found last (`wait/stuck.rs`).
    pub(crate) stuck: crate::wait::Confirm,
    pub(crate) sink: Sink,
}

impl Engine {
    pub(crate) fn new() -> Engine {
        Engine {
            classes: ClassTable::new(),
            graph: Mutex::new(LockGraph::new()),
            instances: Mutex::new(InstanceGraph::new()),
            chains: ChainSet::new(),
            waits: WaitGraph::new(),
            stuck: crate::wait::Confirm::new(),
            sink: Sink::new(),
        }
    }
}

static ENGINE: OnceLock<Engine> = OnceLock::new();

/// The process's engine.
pub(crate) fn get() -> &'static Engine {
    ENGINE.get_or_init(Engine::new)
}

/// Sizes of the engine's structures, for tests and diagnostics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineStats {
    /// Order edges in the lock-order graph.
    pub order_edges: usize,
    /// Validated chains in the chain cache.
    pub validated_chains: usize,
    /// Waits in progress the engine knows of (recorded in the wait-for
    /// graph, or counted as lock waits of contexts that hold nothing).
    pub active_waits: usize,
    /// Live lock instances in the instance-order graph (instances that
    /// nested with another of their class).
    pub ordered_instances: usize,
    /// Order edges between live instances of one class.
    pub instance_edges: usize,
    /// Heap bytes the instance-order graph takes (from its capacities).
    pub instance_graph_bytes: usize,
    /// Context states allocated and not yet freed: one per live task or
    /// thread that took a lock or waited, plus any kept alive by a held
    /// entry or a recorded wait after its owner ended.
    pub live_contexts: usize,
    /// Contexts listed in the wait-for graph's registry.
    pub registered_contexts: usize,
    /// Resources some waiting context has published as held.
    pub published_holds: usize,
}

/// Sizes of the engine's structures right now.
pub fn stats() -> EngineStats {
    let e = get();
    let (ordered_instances, instance_edges, instance_graph_bytes) = {
        let g = crate::loom::lock(&e.instances);
        (g.len(), g.edge_count(), g.heap_bytes())
    };
    EngineStats {
        ordered_instances,
        instance_edges,
        instance_graph_bytes,
        order_edges: crate::loom::lock(&e.graph).edge_count(),
        validated_chains: e.chains.len(),
        active_waits: e.waits.len(),
        live_contexts: crate::context::state::live_states(),
        registered_contexts: e.waits.registered(),
        published_holds: e.waits.published(),
    }
}
