//! Levels: a chain of held locks must go up the hierarchy.

use super::take;
use crate::{Access::*, Level, LockClass, LockKind, LockMeta, ViolationKind};

static LOW: LockClass = LockClass::new("hi_low").with_level(Level::new(10));
static MID: LockClass = LockClass::new("hi_mid").with_level(Level::new(20));
static HIGH: LockClass = LockClass::new("hi_high").with_level(Level::new(30));
static SAME: LockClass = LockClass::new("hi_same").with_level(Level::new(20));

#[test]
fn increasing_levels_are_fine() {
    let (l, m, h) = (
        LockMeta::with_class(LockKind::Mutex, &LOW),
        LockMeta::with_class(LockKind::Mutex, &MID),
        LockMeta::with_class(LockKind::RwLock, &HIGH),
    );
    let _g1 = l.acquire(Exclusive);
    let _g2 = m.acquire(Exclusive);
    let _g3 = h.acquire(Shared);
    drop((_g1, _g2, _g3));
    assert!(take("hi_low").is_empty() && take("hi_high").is_empty());
}

#[test]
fn a_lower_level_under_a_higher_one_is_reported_with_both_levels() {
    static TOP: LockClass = LockClass::new("hi_top").with_level(Level::new(90));
    static BOTTOM: LockClass = LockClass::new("hi_bottom").with_level(Level::new(5));
    let top = LockMeta::with_class(LockKind::Mutex, &TOP);
    let bottom = LockMeta::with_class(LockKind::Mutex, &BOTTOM);
    let line = line!() + 2;
    {
        let _g1 = top.acquire(Exclusive);
        let _g2 = bottom.acquire(Exclusive);
    }
    let v = take("hi_top");
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(v[0].kind(), ViolationKind::HierarchyViolation);
    assert!(v[0].summary().contains("level 5") && v[0].summary().contains("level 90"));
    assert!(v[0].mentions("hierarchy.rs", line) && v[0].mentions("hierarchy.rs", line + 1));
    assert!(v[0].advice().contains("before"));
}

#[test]
fn an_equal_level_is_a_violation() {
    let m = LockMeta::with_class(LockKind::Mutex, &MID);
    let s = LockMeta::with_class(LockKind::Mutex, &SAME);
    {
        let _g1 = m.acquire(Exclusive);
        let _g2 = s.acquire(Exclusive);
    }
    let v = take("hi_same");
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].kind(), ViolationKind::HierarchyViolation);
}

#[test]
fn classes_without_a_level_are_not_ranked() {
    static HIGH: LockClass = LockClass::new("hi_free_high").with_level(Level::new(30));
    static FREE: LockClass = LockClass::new("hi_free");
    static LOW: LockClass = LockClass::new("hi_free_low").with_level(Level::new(10));
    let h = LockMeta::with_class(LockKind::Mutex, &HIGH);
    let f = LockMeta::with_class(LockKind::Mutex, &FREE);
    let l = LockMeta::with_class(LockKind::Mutex, &LOW);
    {
        let _g1 = h.acquire(Exclusive);
        let _g2 = f.acquire(Exclusive);
    }
    {
        let _g1 = f.acquire(Exclusive);
        let _g2 = l.acquire(Exclusive);
    }
    assert!(take("hi_free").is_empty());
}
