//! Atomic placement checks and ordering contracts.

use super::take;
use crate::{
    check_atomic_placement, checked_atomic_ref, ContractAtomicBool, ContractAtomicU64,
    ContractAtomicUsize, Protocol, ViolationKind,
};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};

/// A 64-byte aligned buffer, so offsets within it are offsets within a line.
#[repr(C, align(64))]
struct Line([u8; 128]);

fn mine(line: u32) -> String {
    format!("atomics.rs\",\"line\":{line}")
}

#[test]
fn an_aligned_atomic_in_raw_memory_is_accepted_and_works() {
    let buf = Line([0; 128]);
    let base = buf.0.as_ptr();
    // SAFETY: 8 initialised bytes of `buf`, used only through this atomic.
    let a: &AtomicU64 = unsafe { checked_atomic_ref(base.wrapping_add(8)) }.expect("aligned");
    a.store(7, Relaxed);
    assert_eq!(a.fetch_add(1, Relaxed), 7);
    assert!(check_atomic_placement::<AtomicU32>(base.wrapping_add(60).addr()).is_ok());
}

#[test]
fn a_misaligned_atomic_is_refused_and_reported() {
    let buf = Line([0; 128]);
    let base = buf.0.as_ptr();
    let line = line!() + 2;
    // SAFETY: in bounds and initialised; refused before any access.
    let r = unsafe { checked_atomic_ref::<AtomicU64>(base.wrapping_add(4)) };
    let err = r.expect_err("misaligned");
    assert!(err.is_misaligned() && !err.is_split_lock());
    assert!(err.to_string().contains("multiple of 8"));
    let v = take(&mine(line));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].kind(), ViolationKind::MisalignedAtomic);
}

#[test]
fn an_atomic_straddling_a_cache_line_is_a_split_lock() {
    let buf = Line([0; 128]);
    let addr = buf.0.as_ptr().wrapping_add(60).addr();
    let line = line!() + 1;
    let err = check_atomic_placement::<AtomicU64>(addr).expect_err("straddles");
    assert!(err.is_split_lock() && err.is_misaligned());
    assert!(err.to_string().contains("cache line"));
    let v = take(&mine(line));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].kind(), ViolationKind::SplitLockAtomic);
}

#[test]
fn publish_reports_weaker_operations_at_their_site() {
    let flag = ContractAtomicBool::new(false, Protocol::Publish);
    let decl = flag.declared_at().line();
    flag.store(true, Release);
    assert!(flag.load(Acquire));
    assert!(take(&mine(decl)).is_empty(), "correct orderings are silent");
    let bad_store = line!() + 1;
    flag.store(false, Relaxed);
    let v = take(&mine(bad_store));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].kind(), ViolationKind::OrderingContract);
    assert!(
        v[0].mentions("atomics.rs", decl),
        "names the declaration too"
    );
    assert!(v[0].advice().contains("Release"));
    let bad_load = line!() + 1;
    let _ = flag.load(Relaxed);
    assert_eq!(take(&mine(bad_load)).len(), 1);
}

#[test]
fn publish_compare_exchange_checks_both_orderings() {
    let a = ContractAtomicU64::new(0, Protocol::Publish);
    assert_eq!(a.compare_exchange(0, 1, AcqRel, Acquire), Ok(0));
    let line = line!() + 1;
    let _ = a.compare_exchange(5, 6, AcqRel, Relaxed);
    let v = take(&mine(line));
    assert_eq!(v.len(), 1);
    assert!(v[0].summary().contains("failure ordering"));
    let line = line!() + 1;
    a.fetch_add(1, Release);
    assert_eq!(
        take(&mine(line)).len(),
        1,
        "a read-modify-write needs AcqRel"
    );
}

#[test]
fn counters_accept_relaxed_and_seqcst_accepts_only_seqcst() {
    let c = ContractAtomicUsize::new(0, Protocol::Counter);
    let line = line!() + 1;
    c.fetch_add(1, Relaxed);
    assert_eq!(c.load(Relaxed), 1);
    assert!(take(&mine(line)).is_empty());
    let s = ContractAtomicU64::new(0, Protocol::SeqCst);
    s.store(1, SeqCst);
    let line = line!() + 1;
    let _ = s.load(Acquire);
    assert_eq!(take(&mine(line)).len(), 1);
}
