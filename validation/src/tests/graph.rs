//! The incremental cycle detection against a brute-force reachability
//! oracle.

use crate::context::{ContextDesc, ContextId};
use crate::graph::{AddEdge, EdgeInfo, LockGraph};
use crate::site::Site;
use std::collections::HashSet;

fn info() -> EdgeInfo {
    EdgeInfo {
        from_site: Site::new("a.rs", 1, 1),
        to_site: Site::new("b.rs", 2, 2),
        ctx: ContextDesc::new(ContextId::thread(1), None),
    }
}

fn reaches(edges: &HashSet<(u32, u32)>, from: u32, to: u32) -> bool {
    let mut seen = HashSet::from([from]);
    let mut stack = vec![from];
    while let Some(n) = stack.pop() {
        if n == to {
            return true;
        }
        for &(a, b) in edges {
            if a == n && seen.insert(b) {
                stack.push(b);
            }
        }
    }
    false
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % u64::from(n)) as u32
    }
}

#[test]
fn random_insertions_match_the_oracle_and_keep_the_order() {
    for seed in 1..=8u64 {
        let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut g = LockGraph::new();
        let mut oracle: HashSet<(u32, u32)> = HashSet::new();
        let mut cycles = 0;
        for _ in 0..600 {
            let x = rng.next(24) + 1;
            let y = rng.next(24) + 1;
            if x == y {
                continue;
            }
            let expect_cycle = !oracle.contains(&(x, y)) && reaches(&oracle, y, x);
            match g.add_edge(x, y, info) {
                AddEdge::Exists => assert!(oracle.contains(&(x, y))),
                AddEdge::Added => {
                    assert!(!expect_cycle, "missed the cycle {x} -> {y}");
                    assert!(oracle.insert((x, y)));
                }
                AddEdge::Cycle(path) => {
                    assert!(expect_cycle, "false cycle {x} -> {y}: {path:?}");
                    assert_eq!((path[0], *path.last().unwrap()), (y, x));
                    assert!(path.windows(2).all(|w| oracle.contains(&(w[0], w[1]))));
                    cycles += 1;
                }
            }
            assert!(g.is_topologically_ordered(), "seed {seed}");
        }
        assert!(cycles > 0, "the test exercised cycles");
        assert_eq!(g.edge_count(), oracle.len());
    }
}

#[test]
fn an_edge_against_the_order_reorders_instead_of_failing() {
    let mut g = LockGraph::new();
    // Nodes are created in id order, so 3 -> 1 goes against the initial order.
    assert!(matches!(g.add_edge(3, 1, info), AddEdge::Added));
    assert!(matches!(g.add_edge(2, 3, info), AddEdge::Added));
    assert!(g.is_topologically_ordered());
    assert!(matches!(g.add_edge(1, 2, info), AddEdge::Cycle(p) if p == [2, 3, 1]));
    assert!(matches!(g.add_edge(2, 3, info), AddEdge::Exists));
}
