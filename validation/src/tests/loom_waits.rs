//! Model of the wait-for graph: two contexts whose waits close a cycle start
//! them concurrently; exactly one of the two starts finds the deadlock, and
//! ending both leaves the graph empty.

use crate::class::LockKind;
use crate::context::{ContextDesc, ContextId};
use crate::loom::sync::Arc;
use crate::site::Site;
use crate::wait::graph::{HoldSnap, ResKind, Resource, Target, WaitGraph, WaitRecord};
use loom::thread;
use std::time::Instant;

fn record(ctx: ContextId, waits_for: usize) -> WaitRecord {
    let now = Instant::now();
    WaitRecord {
        ctx,
        resource: Resource {
            kind: ResKind::Lock(LockKind::Mutex),
            class: 0,
            created: Site::new("l.rs", 1, 1),
        },
        site: Site::new("w.rs", waits_for as u32, 1),
        target: Target::Holders {
            resource: waits_for,
        },
        bounded: false,
        baseline: 0,
        since: now,
        stall_reported: false,
    }
}

fn hold(resource: usize) -> HoldSnap {
    HoldSnap {
        resource,
        site: Site::new("h.rs", resource as u32, 1),
        permits: 1,
        shared: false,
    }
}

#[test]
fn loom_a_cycle_closed_concurrently_is_found_exactly_once() {
    loom::model(|| {
        let g = Arc::new(WaitGraph::new());
        let start = |n: u64, holds: usize, waits: usize| {
            let g = g.clone();
            thread::spawn(move || {
                let ctx = ContextId::thread(n);
                let (id, found) = g.start(
                    ContextDesc::new(ctx, None),
                    vec![hold(holds)],
                    record(ctx, waits),
                );
                if let Some(f) = &found {
                    assert_eq!(f.steps.len(), 2);
                }
                (id, found.is_some())
            })
        };
        let t1 = start(1, 10, 20);
        let t2 = start(2, 20, 10);
        let (id1, f1) = t1.join().unwrap();
        let (id2, f2) = t2.join().unwrap();
        assert!(f1 ^ f2, "exactly one start closes the cycle");
        g.end(id1);
        g.end(id2);
        assert_eq!(g.len(), 0);
        assert!(crate::loom::lock(&g.inner).holders.is_empty());
    });
}
