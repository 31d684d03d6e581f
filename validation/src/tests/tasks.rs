//! Task contexts: a guard held across `.await` stays with its task as the
//! task moves between threads, and a guard released elsewhere is unrecorded.

use super::{take, thread, FakeTask};
use crate::{Access::*, Held, LockClass, LockKind, LockMeta, ViolationKind};
use std::sync::Arc;

#[test]
fn a_guard_held_across_await_follows_its_task_to_another_thread() {
    static A: LockClass = LockClass::new("tk_follow_a");
    static B: LockClass = LockClass::new("tk_follow_b");
    let a = Arc::new(LockMeta::with_class(LockKind::Mutex, &A));
    let b = Arc::new(LockMeta::with_class(LockKind::Mutex, &B));
    let mover = Arc::new(FakeTask::new("tk-mover"));

    // First poll on one worker: take `a`, then "await" (return, keeping it).
    let (m, a2) = (mover.clone(), a.clone());
    let ga: Held = thread("tk-worker-1", move || m.enter(|| a2.acquire(Exclusive)))
        .join()
        .unwrap();
    // Second poll on another worker: take `b` while the task still holds `a`.
    let (m, b2) = (mover.clone(), b.clone());
    let gb: Held = thread("tk-worker-2", move || m.enter(|| b2.acquire(Exclusive)))
        .join()
        .unwrap();
    // The task ends its critical section on a third thread.
    let m = mover.clone();
    thread("tk-worker-3", move || m.enter(|| drop((gb, ga))))
        .join()
        .unwrap();

    // Another task takes them the other way round: the edge a -> b was
    // recorded for the mover, so this closes a cycle.
    let other = FakeTask::new("tk-other");
    other.enter(|| {
        let _gb = b.acquire(Exclusive);
        let _ga = a.acquire(Exclusive);
    });
    let v = take("tk_follow_a");
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(v[0].kind(), ViolationKind::LockOrderInversion);
    let ctxs = v[0].contexts();
    assert_eq!(ctxs[0].name(), Some("tk-other"));
    assert_eq!(ctxs[1].name(), Some("tk-mover"));
    assert!(ctxs.iter().all(|c| c.id().is_task()));
    assert_eq!(ctxs[1].id().task_id(), Some(mover.id().get()));
}

#[test]
fn a_task_and_its_thread_are_different_contexts() {
    static M: LockClass = LockClass::new("tk_ctx_split");
    let m = LockMeta::with_class(LockKind::Mutex, &M);
    let t = FakeTask::new("tk-split");
    let g = t.enter(|| m.acquire(Exclusive));
    // The thread (outside the task) does not hold `m`: no double lock.
    let g2 = m.acquire(Exclusive);
    drop(g2);
    t.enter(|| drop(g));
    assert!(take("tk_ctx_split").is_empty());
}

#[test]
fn a_guard_released_in_another_context_is_unrecorded_for_its_owner() {
    static M: LockClass = LockClass::new("tk_remote");
    let m = Arc::new(LockMeta::with_class(LockKind::Mutex, &M));
    let t = FakeTask::new("tk-remote");
    let g = t.enter(|| m.acquire(Exclusive));
    // Released on another thread, outside any task.
    thread("tk-remote-drop", move || drop(g)).join().unwrap();
    // The owner takes it again: it must not look like a double lock.
    t.enter(|| {
        let _again = m.acquire(Exclusive);
    });
    assert!(take("tk_remote").is_empty());
}

#[test]
fn a_guard_outliving_its_task_is_released_after_the_task_ends() {
    static M: LockClass = LockClass::new("tk_outlive");
    static N: LockClass = LockClass::new("tk_outlive_n");
    let m = LockMeta::with_class(LockKind::Mutex, &M);
    let n = LockMeta::with_class(LockKind::Mutex, &N);
    let t = FakeTask::new("tk-outlive");
    let (g1, g2) = t.enter(|| (m.acquire(Exclusive), n.acquire(Exclusive)));
    drop(t); // the task ends while two of its guards are alive
    drop(g1); // remote release into the exited state
    drop(g2); // the last one frees it
    assert!(take("tk_outlive").is_empty());
}

#[test]
fn reports_name_the_task() {
    static M: LockClass = LockClass::new("tk_named_dl");
    let m = LockMeta::with_class(LockKind::Mutex, &M);
    let t = FakeTask::new("tk-named \"quoted\"");
    t.enter(|| {
        let _g1 = m.acquire(Exclusive);
        let _g2 = m.acquire(Exclusive);
    });
    let v = take("tk_named_dl");
    assert_eq!(v.len(), 1);
    let c = v[0].contexts()[0];
    assert_eq!(c.name(), Some("tk-named \"quoted\""));
    assert_eq!(c.id().task_id(), Some(t.id().get()));
    assert!(v[0]
        .to_string()
        .contains("task \"tk-named \\\"quoted\\\"\""));
}

#[test]
fn a_task_announced_by_swap_current_task_is_its_own_context() {
    static M: LockClass = LockClass::new("tk_announced");
    let m = LockMeta::with_class(LockKind::Mutex, &M);
    let t = FakeTask::new("tk-announced");
    // Announced the way perf_runtime does around a poll (no hook involved).
    let g = t.enter_announced(|| m.acquire(Exclusive));
    // Outside the poll the thread is its own context: taking `m` is fine.
    drop(m.acquire(Exclusive));
    assert!(take("tk_announced").is_empty());
    // Back in the task, which still holds `m`: a double lock, named after
    // the task.
    t.enter_announced(|| drop(m.acquire(Exclusive)));
    let v = take("tk_announced");
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(v[0].kind(), ViolationKind::DoubleLock);
    assert_eq!(v[0].contexts()[0].id().task_id(), Some(t.id().get()));
    t.enter_announced(|| drop(g));
    // Released in its own context: nothing left held.
    t.enter_announced(|| drop(m.acquire(Exclusive)));
    assert!(take("tk_announced").is_empty());
}
