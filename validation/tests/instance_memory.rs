//! What the instance-order graph costs: 10^5 live locks of one class (made
//! at one site, as a `Vec<Mutex<_>>` built in a loop is), every one nested
//! with its neighbour hand-over-hand, then every one taken under the first
//! (index order): the graph holds one node per instance and one edge per
//! distinct pair, within a per-instance budget, and gives it all back when
//! the locks die. Prints the figures (`--nocapture`) for benches/README.md.
//!
//! One test in its own process, so no other test's locks are counted.

use perf_validation::{stats, Access, LockKind, LockMeta};

const LOCKS: usize = 100_000;

/// Heap bytes per live instance the graph may take, edges included. A
/// node is its adjacency lists and map entries; an edge 24 bytes of sites
/// and context plus its share of the map and both lists.
const BUDGET_PER_INSTANCE: usize = 320;

fn one_class() -> Vec<LockMeta> {
    (0..LOCKS).map(|_| LockMeta::new(LockKind::Mutex)).collect()
}

#[test]
fn ten_to_the_five_live_locks_of_one_class_fit_the_budget_and_are_given_back() {
    let base = stats();
    let locks = one_class();
    // Hand-over-hand down the list: each lock taken while holding the one
    // before it, which is then released.
    let mut held = locks[0].acquire(Access::Exclusive);
    for next in &locks[1..] {
        let h = next.acquire(Access::Exclusive);
        drop(std::mem::replace(&mut held, h));
    }
    drop(held);
    let chain = stats();
    assert_eq!(chain.ordered_instances - base.ordered_instances, LOCKS);
    assert_eq!(chain.instance_edges - base.instance_edges, LOCKS - 1);
    // Index order under the first: one more edge per instance.
    {
        let _first = locks[0].acquire(Access::Exclusive);
        for l in &locks[2..] {
            drop(l.acquire(Access::Exclusive));
        }
    }
    let both = stats();
    assert_eq!(
        both.instance_edges - base.instance_edges,
        2 * (LOCKS - 1) - 1
    );
    let bytes = both.instance_graph_bytes - base.instance_graph_bytes;
    let per = bytes / LOCKS;
    println!(
        "instance-order graph, {LOCKS} live locks of one class: hand-over-hand {} edges, {} \
         bytes ({} B/lock); plus index order {} edges, {bytes} bytes ({per} B/lock)",
        chain.instance_edges - base.instance_edges,
        chain.instance_graph_bytes - base.instance_graph_bytes,
        (chain.instance_graph_bytes - base.instance_graph_bytes) / LOCKS,
        both.instance_edges - base.instance_edges,
    );
    assert!(
        per <= BUDGET_PER_INSTANCE,
        "{per} B per instance, over the budget of {BUDGET_PER_INSTANCE}"
    );
    drop(locks);
    let after = stats();
    assert_eq!(
        after.ordered_instances, base.ordered_instances,
        "nodes go with their locks"
    );
    assert_eq!(
        after.instance_edges, base.instance_edges,
        "edges go with their locks"
    );
}
