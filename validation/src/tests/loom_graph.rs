//! Models of the lock-order validation and the sink under concurrency: two
//! contexts racing to establish opposite orders produce exactly one
//! inversion — of two classes, or of two instances of one class — two
//! contexts nesting instances in one order produce none, and one violation
//! submitted twice is recorded once.

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

/// Two contexts nest instances 1 and 2 of one class concurrently, each in
/// the order given; returns the findings and the instance graph's edges.
fn race_instances(first: (u32, u32), second: (u32, u32)) -> (usize, usize) {
    let e = Arc::new(Engine::new());
    let class = e
        .classes
        .intern_site(Site::new("accounts.rs", 1, 1), LockKind::Mutex);
    let word = move |id: u32| class | (u64::from(id) << crate::instance::WORD_ID_SHIFT);
    let run = |(outer, inner): (u32, u32), n: u64| {
        let e = e.clone();
        thread::spawn(move || {
            let desc = ContextDesc::new(ContextId::thread(n), None);
            let mut out = Vec::new();
            let held = entry(word(outer), outer as usize);
            check(
                &e,
                &[held],
                &entry(word(inner), inner as usize),
                &desc,
                &mut out,
            );
            assert!(out
                .iter()
                .all(|v| v.kind() == ViolationKind::LockOrderInversion));
            out.len()
        })
    };
    let t1 = run(first, 1);
    let t2 = run(second, 2);
    let found = t1.join().unwrap() + t2.join().unwrap();
    let edges = crate::loom::lock(&e.instances).edge_count();
    (found, edges)
}

#[test]
fn loom_opposite_instance_orders_race_to_one_inversion() {
    loom::model(|| {
        let (found, edges) = race_instances((1, 2), (2, 1));
        assert_eq!(found, 1);
        assert_eq!(edges, 1, "the edge that would close the cycle is not kept");
    });
}

#[test]
fn loom_one_instance_order_from_two_contexts_is_silent() {
    loom::model(|| {
        let (found, edges) = race_instances((1, 2), (1, 2));
        assert_eq!(found, 0);
        assert_eq!(edges, 1);
    });
}
