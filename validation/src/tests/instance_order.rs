//! Lock order per instance: locks of one class nesting in a consistent
//! instance order are silent, inverted instance orders are reported, and
//! the bookkeeping follows the instances (moves keep their identity, deaths
//! take their edges).

use super::take;
use crate::context::ContextId;
use crate::instance::{AddInstanceEdge, InstEdge, InstanceGraph};
use crate::{Access::*, LockClass, LockKind, LockMeta, ViolationKind};
use std::panic::Location;

fn edge() -> InstEdge {
    InstEdge {
        outer_site: Location::caller(),
        inner_site: Location::caller(),
        ctx: ContextId::thread(1),
    }
}

fn cycle(r: AddInstanceEdge) -> Option<usize> {
    match r {
        AddInstanceEdge::Ordered => None,
        AddInstanceEdge::Cycle(edges) => Some(edges.len()),
    }
}

#[test]
fn locks_of_one_class_taken_lowest_index_first_are_silent() {
    static ACC: LockClass = LockClass::new("io_by_index");
    let accounts: Vec<LockMeta> = (0..16)
        .map(|_| LockMeta::with_class(LockKind::Mutex, &ACC))
        .collect();
    // Transfers between every pair, each taking the lower index first.
    for i in 0..accounts.len() {
        for j in 0..accounts.len() {
            if i == j {
                continue;
            }
            let (lo, hi) = (i.min(j), i.max(j));
            let _a = accounts[lo].acquire(Exclusive);
            let _b = accounts[hi].acquire(Exclusive);
        }
    }
    assert!(take("io_by_index").is_empty());
}

#[test]
fn hand_over_hand_in_one_direction_is_silent_and_a_step_back_is_reported() {
    static NODE: LockClass = LockClass::new("io_hand_over_hand");
    let list: Vec<LockMeta> = (0..64)
        .map(|_| LockMeta::with_class(LockKind::Mutex, &NODE))
        .collect();
    for _ in 0..2 {
        let mut held = list[0].acquire(Exclusive);
        for next in &list[1..] {
            let n = next.acquire(Exclusive);
            held = n; // releases the previous node after taking the next
        }
        drop(held);
    }
    assert!(take("io_hand_over_hand").is_empty());
    {
        // One step back: node 10 held while node 9 is taken.
        let _g10 = list[10].acquire(Exclusive);
        let _g9 = list[9].acquire(Exclusive);
    }
    let v = take("io_hand_over_hand");
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(v[0].kind(), ViolationKind::LockOrderInversion);
}

#[test]
fn a_ring_of_three_instances_is_reported_when_it_closes() {
    static RING: LockClass = LockClass::new("io_ring");
    let [a, b, c] = [(); 3].map(|_| LockMeta::with_class(LockKind::Mutex, &RING));
    for (x, y) in [(&a, &b), (&b, &c)] {
        let _x = x.acquire(Exclusive);
        let _y = y.acquire(Exclusive);
    }
    assert!(take("io_ring").is_empty());
    {
        let _c = c.acquire(Exclusive);
        let _a = a.acquire(Exclusive);
    }
    let v = take("io_ring");
    assert_eq!(v.len(), 1, "{v:#?}");
    // The new order plus the two earlier edges it closes.
    assert_eq!(v[0].sides().len(), 3, "{}", v[0]);
}

#[test]
fn a_moved_lock_keeps_its_identity() {
    static MOVED: LockClass = LockClass::new("io_moved");
    let mut locks = vec![
        LockMeta::with_class(LockKind::Mutex, &MOVED),
        LockMeta::with_class(LockKind::Mutex, &MOVED),
    ];
    {
        let _a = locks[0].acquire(Exclusive);
        let _b = locks[1].acquire(Exclusive);
    }
    // Reallocate: both move to new addresses.
    locks.reserve(1024);
    let moved: Vec<LockMeta> = locks.into_iter().collect();
    {
        let _b = moved[1].acquire(Exclusive);
        let _a = moved[0].acquire(Exclusive);
    }
    let v = take("io_moved");
    assert_eq!(v.len(), 1, "the inversion is seen across the move: {v:#?}");
}

#[test]
fn dead_instances_take_their_edges_with_them() {
    static SHORT: LockClass = LockClass::new("io_short_lived");
    for _ in 0..50 {
        // Fresh locks each round, likely at the addresses of the last
        // round's: the previous round's order must not be held against
        // them.
        let a = Box::new(LockMeta::with_class(LockKind::Mutex, &SHORT));
        let b = Box::new(LockMeta::with_class(LockKind::Mutex, &SHORT));
        let (first, second) = if rand_bit() { (&a, &b) } else { (&b, &a) };
        let _x = first.acquire(Exclusive);
        let _y = second.acquire(Exclusive);
    }
    assert!(take("io_short_lived").is_empty());
}

/// Alternates, so consecutive rounds take their pair in opposite orders.
fn rand_bit() -> bool {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    static FLIP: AtomicBool = AtomicBool::new(false);
    FLIP.fetch_xor(true, Relaxed)
}

#[test]
fn the_graph_forgets_dead_instances_and_reuses_their_nodes() {
    let mut g = InstanceGraph::new();
    assert!(cycle(g.add(1, 2, edge())).is_none());
    assert!(cycle(g.add(2, 3, edge())).is_none());
    assert_eq!((g.len(), g.edge_count()), (3, 2));
    assert_eq!(
        cycle(g.add(3, 1, edge())),
        Some(2),
        "3 -> 1 closes 1 -> 2 -> 3"
    );
    assert_eq!(g.edge_count(), 2, "a cycle-closing edge is not kept");
    g.forget(2);
    assert_eq!((g.len(), g.edge_count()), (2, 0), "2's edges went with it");
    assert!(
        cycle(g.add(3, 1, edge())).is_none(),
        "no path 1 -> 3 any more"
    );
    let slots = g.node_slots();
    assert!(cycle(g.add(4, 3, edge())).is_none());
    assert_eq!(g.node_slots(), slots, "4 reuses 2's node");
    g.forget(1);
    g.forget(3);
    g.forget(4);
    g.forget(4); // twice: nothing
    assert_eq!((g.len(), g.edge_count()), (0, 0));
}

#[test]
fn dropping_locks_that_nested_takes_them_out_of_the_graph() {
    static DROPPED: LockClass = LockClass::new("io_dropped");
    let in_graph = |id: u32| crate::loom::lock(&crate::engine::get().instances).contains(id);
    let ids: Vec<u32> = {
        let locks: Vec<LockMeta> = (0..32)
            .map(|_| LockMeta::with_class(LockKind::Mutex, &DROPPED))
            .collect();
        for w in locks.windows(2) {
            let _a = w[0].acquire(Exclusive);
            let _b = w[1].acquire(Exclusive);
        }
        let ids: Vec<u32> = locks
            .iter()
            .map(|l| crate::instance::id_of(l.word()))
            .collect();
        assert!(ids.iter().all(|&id| id != 0 && in_graph(id)));
        let stats = crate::stats();
        assert!(stats.ordered_instances >= 32 && stats.instance_edges >= 31);
        ids
    };
    assert!(ids.iter().all(|&id| !in_graph(id)), "dead instances leave");
}
