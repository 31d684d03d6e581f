//! Double locks, recursive reads, and two instances of one class: reported
//! unless the class declares how its instances nest.

use super::{serial, take, take_kind};
use crate::{Access::*, LockClass, LockKind, LockMeta, Nesting, ViolationKind};

#[test]
fn locking_a_held_mutex_again_is_a_double_lock_every_time() {
    static M: LockClass = LockClass::new("dl_mutex");
    let m = LockMeta::with_class(LockKind::Mutex, &M);
    let first = line!() + 2;
    {
        let _g1 = m.acquire(Exclusive);
        let _g2 = m.acquire(Exclusive);
    }
    let r = take("dl_mutex");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].kind(), ViolationKind::DoubleLock);
    assert!(r[0].mentions("double_lock.rs", first));
    assert!(r[0].mentions("double_lock.rs", first + 1));
    // Not cached: the same chain is checked again (the report is a
    // duplicate, so it is not recorded twice, but it is counted in Panic).
    let prev = crate::set_thread_mode(Some(crate::Mode::Panic));
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _g1 = m.acquire(Exclusive);
        let _g2 = m.acquire(Exclusive);
    }));
    crate::set_thread_mode(prev);
    assert!(again.is_err(), "a double lock is found every time");
}

#[test]
fn write_after_read_on_one_rwlock_is_a_double_lock() {
    static R: LockClass = LockClass::new("dl_rw_upgrade");
    let r = LockMeta::with_class(LockKind::RwLock, &R);
    {
        let _g1 = r.acquire(Shared);
        let _g2 = r.acquire(Exclusive);
    }
    let v = take("dl_rw_upgrade");
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].kind(), ViolationKind::DoubleLock);
}

#[test]
fn reading_twice_is_a_recursive_read_even_with_no_writer() {
    static R: LockClass = LockClass::new("dl_rr");
    let r = LockMeta::with_class(LockKind::RwLock, &R);
    {
        let _g1 = r.acquire(Shared);
        let _g2 = r.acquire(Shared);
    }
    let v = take("dl_rr");
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].kind(), ViolationKind::RecursiveRead);
    let sc = v[0].unsafe_scenario().expect("a scenario with the writer");
    assert_eq!(sc.steps().len(), 3);
}

#[test]
fn a_blocking_mutex_double_lock_is_reported() {
    static M: LockClass = LockClass::new("dl_blocking");
    let m = LockMeta::with_class(LockKind::BlockingMutex, &M);
    {
        let _g1 = m.acquire(Exclusive);
        let _g2 = m.acquire(Exclusive);
    }
    assert_eq!(take("dl_blocking")[0].kind(), ViolationKind::DoubleLock);
}

#[test]
fn two_instances_of_a_class_nesting_in_one_order_are_silent_and_inverted_are_reported() {
    static ACC: LockClass = LockClass::new("dl_accounts_plain");
    let a = LockMeta::with_class(LockKind::Mutex, &ACC);
    let b = LockMeta::with_class(LockKind::Mutex, &ACC);
    for _ in 0..3 {
        let _g1 = a.acquire(Exclusive);
        let _g2 = b.acquire(Exclusive);
    }
    assert!(take("dl_accounts_plain").is_empty(), "one order: no report");
    {
        let _g2 = b.acquire(Exclusive);
        let _g1 = a.acquire(Exclusive); // the other order
    }
    let v = take("dl_accounts_plain");
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(v[0].kind(), ViolationKind::LockOrderInversion);
    assert!(
        v[0].summary().contains("instance orders form a cycle"),
        "{}",
        v[0]
    );
    assert!(v[0].advice().contains("Nesting::ByAddress"));
}

#[test]
fn instances_nesting_in_address_order_are_fine_and_reverse_is_reported() {
    static STRIPE: LockClass = LockClass::new("dl_stripe").nested(Nesting::ByAddress);
    let stripes: Vec<LockMeta> = (0..4)
        .map(|_| LockMeta::with_class(LockKind::Mutex, &STRIPE))
        .collect();
    // Ascending addresses: no report, any number of times.
    for _ in 0..3 {
        let _g: Vec<_> = stripes.iter().map(|s| s.acquire(Exclusive)).collect();
    }
    assert!(take("dl_stripe").is_empty());
    {
        let _g1 = stripes[2].acquire(Exclusive);
        let _g2 = stripes[1].acquire(Exclusive);
    }
    let v = take("dl_stripe");
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(v[0].kind(), ViolationKind::HierarchyViolation);
    // The same stripe twice is still a double lock.
    {
        let _g1 = stripes[0].acquire(Exclusive);
        let _g2 = stripes[0].acquire(Exclusive);
    }
    assert_eq!(take("dl_stripe")[0].kind(), ViolationKind::DoubleLock);
}

#[test]
fn instances_nesting_by_key() {
    static ACC: LockClass = LockClass::new("dl_by_key").nested(Nesting::ByKey);
    let low = LockMeta::with_class_and_key(LockKind::Mutex, &ACC, 10);
    let high = LockMeta::with_class_and_key(LockKind::Mutex, &ACC, 20);
    {
        let _g1 = low.acquire(Exclusive);
        let _g2 = high.acquire(Exclusive);
    }
    assert!(take("dl_by_key").is_empty());
    {
        let _g1 = high.acquire(Exclusive);
        let _g2 = low.acquire(Exclusive);
    }
    let v = take("dl_by_key");
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].kind(), ViolationKind::HierarchyViolation);
    assert!(v[0].summary().contains("key 10") && v[0].summary().contains("key 20"));
}

#[test]
fn semaphore_permits_taken_twice_are_not_a_double_lock() {
    static S: LockClass = LockClass::new("dl_sem");
    let s = LockMeta::with_class(LockKind::Semaphore, &S);
    {
        let _g1 = s.acquire_permits(1);
        let _g2 = s.acquire_permits(2);
    }
    assert!(take("dl_sem").is_empty());
}

#[test]
fn released_locks_can_be_taken_again() {
    static M: LockClass = LockClass::new("dl_release");
    let m = LockMeta::with_class(LockKind::Mutex, &M);
    for _ in 0..5 {
        let g = m.acquire(Exclusive);
        drop(g);
        let _again = m.acquire(Exclusive);
    }
    assert!(take("dl_release").is_empty());
}

/// Reports raised inside `with_reports_deferred` wait for `submit`: a
/// primitive registering a wait under its own lock panics (in `Panic` mode)
/// only once it let go.
#[test]
fn deferred_reports_are_raised_only_when_submitted() {
    use crate::{set_thread_mode, with_reports_deferred, Mode};
    let _s = serial();
    static D: LockClass = LockClass::new("dl_deferred");
    let t = std::thread::spawn(|| {
        set_thread_mode(Some(Mode::Panic));
        let m = LockMeta::with_class(LockKind::Mutex, &D);
        let _h = m.acquire(Exclusive);
        let (second, reports) = with_reports_deferred(|| m.acquire(Exclusive));
        assert!(!reports.is_empty(), "the double lock was found");
        drop(second);
        let submitted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reports.submit()));
        let payload = submitted.expect_err("submit raises it in Panic mode");
        match payload.downcast::<String>() {
            Ok(s) => *s,
            Err(_) => String::from("<not a string>"),
        }
    });
    let msg = t.join().unwrap();
    assert!(msg.contains("[DoubleLock]"), "{msg}");
    take_kind("dl_deferred", ViolationKind::DoubleLock);
}
