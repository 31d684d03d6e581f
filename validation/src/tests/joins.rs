//! Joins in the wait-for graph: a task awaiting another's `JoinHandle`
//! waits for it, and the periodic scan finds the cycles the check at wait
//! start cannot see (a lock wait by a task that holds nothing), once two
//! scans agree.

use super::{serial, take_kind, FakeTask};
use crate::{
    join_wait_at, scan, Access::*, ChannelKind, ChannelMeta, LockKind, LockMeta, ViolationKind,
};
use std::panic::Location;
use std::time::Instant;

#[test]
fn a_parent_holding_a_lock_and_joining_the_child_that_needs_it_is_a_deadlock() {
    let _s = serial();
    let lock = LockMeta::new(LockKind::Mutex);
    let parent = FakeTask::new("jn-parent");
    let child = FakeTask::new("jn-child");
    let held = parent.enter(|| lock.acquire(Exclusive));
    // The child asks for the lock first: it holds nothing, so its wait is
    // only counted...
    let (child_held, child_wait) = child.enter(|| {
        let h = lock.acquire(Exclusive);
        let w = lock.wait(&h);
        (h, w)
    });
    // ...then the parent awaits the child's handle.
    let join = parent.enter(|| join_wait_at(child.id(), Location::caller(), Location::caller()));
    scan(Instant::now());
    assert!(
        take_kind("jn-parent", ViolationKind::Deadlock).is_empty(),
        "one scan is not enough: the cycle must be seen twice"
    );
    scan(Instant::now());
    let v = take_kind("jn-parent", ViolationKind::Deadlock);
    assert_eq!(v.len(), 1, "{v:#?}");
    let text = v[0].to_string();
    assert!(text.contains("JoinHandle"), "{text}");
    assert!(text.contains("jn-child"), "{text}");
    parent.enter(|| drop(join));
    child.enter(|| drop((child_wait, child_held)));
    parent.enter(|| drop(held));
}

#[test]
fn joining_a_task_that_waits_for_a_lock_someone_running_holds_is_no_deadlock() {
    let _s = serial();
    let lock = LockMeta::new(LockKind::Mutex);
    let other = LockMeta::new(LockKind::Mutex);
    let parent = FakeTask::new("jn-free-parent");
    let child = FakeTask::new("jn-free-child");
    let holder = FakeTask::new("jn-free-holder");
    // A running task (no wait) holds the lock the child waits for.
    let held = holder.enter(|| lock.acquire(Exclusive));
    let (child_held, child_wait) = child.enter(|| {
        let h = lock.acquire(Exclusive);
        let w = lock.wait(&h);
        (h, w)
    });
    // The parent holds another lock while it joins.
    let parent_held = parent.enter(|| other.acquire(Exclusive));
    let join = parent.enter(|| join_wait_at(child.id(), Location::caller(), Location::caller()));
    scan(Instant::now());
    scan(Instant::now());
    assert!(take_kind("jn-free-", ViolationKind::Deadlock).is_empty());
    parent.enter(|| drop((join, parent_held)));
    child.enter(|| drop((child_wait, child_held)));
    holder.enter(|| drop(held));
}

#[test]
fn a_cycle_that_dissolves_between_scans_is_not_reported() {
    let _s = serial();
    let lock = LockMeta::new(LockKind::Mutex);
    let parent = FakeTask::new("jn-brief-parent");
    let child = FakeTask::new("jn-brief-child");
    let held = parent.enter(|| lock.acquire(Exclusive));
    let (child_held, child_wait) = child.enter(|| {
        let h = lock.acquire(Exclusive);
        let w = lock.wait(&h);
        (h, w)
    });
    let join = parent.enter(|| join_wait_at(child.id(), Location::caller(), Location::caller()));
    scan(Instant::now());
    // The parent stops waiting (say, a timeout fired) before the next scan.
    parent.enter(|| drop(join));
    scan(Instant::now());
    scan(Instant::now());
    assert!(take_kind("jn-brief-", ViolationKind::Deadlock).is_empty());
    child.enter(|| drop((child_wait, child_held)));
    parent.enter(|| drop(held));
}

/// Owned guards (`lock_owned`) may be handed to another task, so a cycle
/// through one is not reported when the closing wait starts; the periodic
/// scan reports it once two scans agree.
#[test]
fn a_cycle_through_owned_guards_waits_for_the_confirming_scan() {
    let _s = serial();
    let (m1, m2) = (
        LockMeta::new(LockKind::Mutex),
        LockMeta::new(LockKind::Mutex),
    );
    let a = FakeTask::new("jn-owned-a");
    let b = FakeTask::new("jn-owned-b");
    let here = Location::caller();
    let ga = a.enter(|| m1.acquire_owned_at(Exclusive, here));
    let gb = b.enter(|| m2.acquire_owned_at(Exclusive, here));
    let (ha, wa) = a.enter(|| {
        let h = m2.acquire(Exclusive);
        let w = m2.wait(&h);
        (h, w)
    });
    let (hb, wb) = b.enter(|| {
        let h = m1.acquire(Exclusive);
        let w = m1.wait(&h);
        (h, w)
    });
    assert!(
        take_kind("jn-owned-", ViolationKind::Deadlock).is_empty(),
        "not at wait start: the guards may have moved"
    );
    scan(Instant::now());
    scan(Instant::now());
    let v = take_kind("jn-owned-", ViolationKind::Deadlock);
    assert_eq!(v.len(), 1, "{v:#?}");
    a.enter(|| drop((wa, ha)));
    b.enter(|| drop((wb, hb)));
    a.enter(|| drop(ga));
    b.enter(|| drop(gb));
}

/// A worker in a `select!` over a broadcast stop and a job channel, whose
/// coordinator holds both (used) senders; returns the worker's two waits.
fn worker_in_select(
    worker: &FakeTask,
    stop: &ChannelMeta,
    jobs: &ChannelMeta,
) -> (crate::Waiting, crate::Waiting) {
    worker.enter(|| {
        jobs.receiver_polled();
        (stop.recv_wait(), jobs.recv_wait())
    })
}

#[test]
fn a_task_woken_out_of_a_select_is_not_deadlocked_with_its_joiner() {
    let _s = serial();
    let stop = ChannelMeta::new(ChannelKind::Broadcast, Some(1));
    let jobs = ChannelMeta::new(ChannelKind::Mpsc, Some(4));
    let (stop_tx, jobs_tx) = (stop.new_sender(), jobs.new_sender());
    let coord = FakeTask::new("wk-coord");
    let worker = FakeTask::new("wk-worker");
    coord.enter(|| jobs_tx.used());
    let (stop_wait, jobs_wait) = worker_in_select(&worker, &stop, &jobs);
    // The stop is sent: the send ends the worker's stop wait (and wakes
    // it); its job wait stays recorded until it runs. The coordinator,
    // still holding the job sender, joins the worker.
    let join = coord.enter(|| {
        stop_tx.used();
        drop(stop_wait);
        join_wait_at(worker.id(), Location::caller(), Location::caller())
    });
    scan(Instant::now());
    scan(Instant::now());
    let v = take_kind("wk-", ViolationKind::Deadlock);
    assert!(v.is_empty(), "the worker was woken: {v:#?}");
    // It runs: the `select!` drops the job receive, and the worker ends.
    worker.enter(|| drop(jobs_wait));
    coord.enter(|| drop(join));
}

#[test]
fn a_woken_task_that_waits_again_can_be_found_deadlocked() {
    let _s = serial();
    let stop = ChannelMeta::new(ChannelKind::Broadcast, Some(1));
    let jobs = ChannelMeta::new(ChannelKind::Mpsc, Some(4));
    let (stop_tx, jobs_tx) = (stop.new_sender(), jobs.new_sender());
    let coord = FakeTask::new("wk2-coord");
    let worker = FakeTask::new("wk2-worker");
    coord.enter(|| jobs_tx.used());
    let (stop_wait, jobs_wait) = worker_in_select(&worker, &stop, &jobs);
    coord.enter(|| {
        stop_tx.used();
        drop(stop_wait);
    });
    // The worker runs, keeps its job receive (a pinned future) and waits
    // for the next stop: its records are current again, and both senders
    // are held by the coordinator, which joins it.
    let again = worker.enter(|| stop.recv_wait());
    let join = coord.enter(|| join_wait_at(worker.id(), Location::caller(), Location::caller()));
    let v = take_kind("wk2-", ViolationKind::Deadlock);
    assert_eq!(v.len(), 1, "{v:#?}");
    worker.enter(|| drop((again, jobs_wait)));
    coord.enter(|| drop(join));
}
