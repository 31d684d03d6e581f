//! Models of the lock-order validation and the sink under concurrency: two
//! contexts racing to establish opposite orders produce exactly one
//! inversion, and one violation submitted twice is recorded once.

use crate::class::LockKind;
use crate::context::state::HeldEntry;
use crate::context::{ContextDesc, ContextId};
use crate::engine::Engine;
use crate::lock::validate::check;
use crate::loom::sync::Arc;
use crate::report::{Violation, ViolationKind};
use crate::site::Site;
use loom::thread;
use std::panic::Location;

fn entry(word: u64, instance: usize) -> HeldEntry {
    HeldEntry {
        instance,
        key: 0,
        chain: 0,
        word,
        site: Location::caller(),
        permits: 1,
        flags: 0,
    }
}

#[test]
fn loom_opposite_orders_race_to_one_inversion() {
    loom::model(|| {
        let e = Arc::new(Engine::new());
        let a = e
            .classes
            .intern_site(Site::new("a.rs", 1, 1), LockKind::Mutex);
        let b = e
            .classes
            .intern_site(Site::new("b.rs", 1, 1), LockKind::Mutex);
        let run = |first: u64, second: u64, n: u64| {
            let e = e.clone();
            thread::spawn(move || {
                let desc = ContextDesc::new(ContextId::thread(n), None);
                let mut out = Vec::new();
                let cacheable = check(&e, &[entry(first, 1)], &entry(second, 2), &desc, &mut out);
                assert!(cacheable, "class-level findings do not block caching");
                out.len()
            })
        };
        let t1 = run(a, b, 1);
        let t2 = run(b, a, 2);
        let found = t1.join().unwrap() + t2.join().unwrap();
        assert_eq!(found, 1);
        assert_eq!(crate::loom::lock(&e.graph).edge_count(), 1);
    });
}

#[test]
fn loom_a_violation_is_recorded_once() {
    loom::model(|| {
        let e = Arc::new(Engine::new());
        let submit = || {
            let e = e.clone();
            thread::spawn(move || {
                let v = Violation::new(ViolationKind::DoubleLock, "x").with_key(42u32);
                e.sink.record(&v)
            })
        };
        let (t1, t2) = (submit(), submit());
        let recorded = [t1.join().unwrap(), t2.join().unwrap()];
        assert_eq!(recorded.iter().filter(|r| **r).count(), 1);
        assert_eq!(e.sink.count(ViolationKind::DoubleLock), 1);
        assert_eq!(e.sink.take_matching(|_| true).len(), 1);
    });
}
