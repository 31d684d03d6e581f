//! Measures what the instance-order graph takes for many live locks of one
//! class. Run with
//! `cargo run --release -p perf-validation --example instance_memory`.
//!
//! 100,000 locks are made at one site (one class, as a `Vec<Mutex<_>>`
//! built in a loop is) and kept alive; each is then taken while holding its
//! predecessor (hand-over-hand down the list), so every instance is a node
//! of the graph and each neighbouring pair an edge — the most a pattern
//! with one edge per lock takes. Printed: the graph's own heap (from its
//! capacities, `stats().instance_graph_bytes`), the process's resident set
//! growth over the same steps (which includes allocator slack), per lock;
//! then the same after every lock is dropped (their nodes and edges go).

use perf_validation::{stats, Access, LockKind, LockMeta};

const LOCKS: usize = 100_000;

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    pages * page
}

fn main() {
    let locks: Vec<LockMeta> = (0..LOCKS).map(|_| LockMeta::new(LockKind::Mutex)).collect();
    // Resolve every lock's class (and id) before measuring.
    for l in &locks {
        drop(l.acquire(Access::Exclusive));
    }
    let before = stats();
    let rss0 = rss_bytes();
    let mut held = locks[0].acquire(Access::Exclusive);
    for next in &locks[1..] {
        let n = next.acquire(Access::Exclusive);
        held = n;
    }
    drop(held);
    let during = stats();
    let rss1 = rss_bytes();
    let graph = during.instance_graph_bytes - before.instance_graph_bytes;
    let rss = rss1.saturating_sub(rss0);
    println!(
        "{} live locks of one class, {} instance edges",
        during.ordered_instances - before.ordered_instances,
        during.instance_edges - before.instance_edges
    );
    println!(
        "instance-order graph heap: {graph} bytes ({:.1} MiB, {:.1} bytes per lock)",
        graph as f64 / (1 << 20) as f64,
        graph as f64 / LOCKS as f64
    );
    println!(
        "resident set growth:       {rss} bytes ({:.1} MiB, {:.1} bytes per lock)",
        rss as f64 / (1 << 20) as f64,
        rss as f64 / LOCKS as f64
    );
    drop(locks);
    let after = stats();
    println!(
        "after dropping the locks: {} instances, {} edges in the graph",
        after.ordered_instances, after.instance_edges
    );
}
