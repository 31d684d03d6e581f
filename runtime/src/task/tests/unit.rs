//! Single-threaded tests of the raw task lifecycle, small enough for Miri
//! (`.ci/miri.sh`), which checks every pointer cast, reference count and
//! stage access of `raw.rs`, `harness.rs`, `waker.rs` and `list.rs`.

use super::{count_waker, counter, get, poll_join, DropCount, TestSched, YieldOnce};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// A future that stores its waker in `slot` and is `Pending` until `go`.
struct Gate {
    go: Arc<AtomicUsize>,
    slot: Arc<Mutex<Option<Waker>>>,
    polls: Arc<AtomicUsize>,
    _drop: DropCount,
}

impl Future for Gate {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        self.polls.fetch_add(1, SeqCst);
        if get(&self.go) > 0 {
            return Poll::Ready(7);
        }
        let old = self.slot.lock().unwrap().replace(cx.waker().clone());
        drop(old);
        Poll::Pending
    }
}

struct GateCtl {
    go: Arc<AtomicUsize>,
    slot: Arc<Mutex<Option<Waker>>>,
    polls: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
}

fn gate() -> (Gate, GateCtl) {
    let ctl = GateCtl {
        go: counter(),
        slot: Arc::new(Mutex::new(None)),
        polls: counter(),
        drops: counter(),
    };
    let g = Gate {
        go: ctl.go.clone(),
        slot: ctl.slot.clone(),
        polls: ctl.polls.clone(),
        _drop: DropCount(ctl.drops.clone()),
    };
    (g, ctl)
}

impl GateCtl {
    fn open(&self) {
        self.go.store(1, SeqCst);
    }
    fn waker(&self) -> Waker {
        self.slot
            .lock()
            .unwrap()
            .take()
            .expect("the task stored a waker")
    }
}

#[test]
fn spawn_poll_complete_read_output() {
    let sched = TestSched::new();
    let out_drops = counter();
    let out = DropCount(out_drops.clone());
    let mut join = sched.spawn(async move { (41 + 1, out) });
    assert!(!join.is_finished());
    let (w, woken) = count_waker();
    assert!(poll_join(&mut join, &w).is_pending());
    assert_eq!(sched.run_all(), 1);
    assert!(join.is_finished());
    assert_eq!(get(&woken.0), 1, "the join waker is woken on completion");
    match poll_join(&mut join, &w) {
        Poll::Ready(Ok((n, out))) => {
            assert_eq!(n, 42);
            drop(out);
        }
        _ => panic!("output must be ready"),
    }
    assert_eq!(get(&out_drops), 1);
    assert_eq!(sched.0.owned.len(), 0, "completion leaves the owned list");
    drop(join);
    assert!(sched.all_freed());
}

#[test]
fn yield_once_is_requeued() {
    let sched = TestSched::new();
    let (polls, drops) = (counter(), counter());
    let mut join = sched.spawn(YieldOnce::new(5u8, &polls, &drops));
    assert!(sched.run_one());
    assert_eq!(
        sched.queued(),
        1,
        "a wake during the poll re-queues the task"
    );
    assert!(sched.run_one());
    assert_eq!(get(&polls), 2);
    assert_eq!(get(&drops), 1);
    let (w, _) = count_waker();
    assert!(matches!(poll_join(&mut join, &w), Poll::Ready(Ok(5))));
    drop(join);
    assert!(sched.all_freed());
}

#[test]
fn waker_clone_wake_drop_sequences() {
    let sched = TestSched::new();
    let (fut, ctl) = gate();
    let mut join = sched.spawn(fut);
    sched.run_all();
    let w = ctl.waker();

    // Clones and drops without a wake schedule nothing.
    let w2 = w.clone();
    let w3 = w2.clone();
    drop(w2);
    assert_eq!(sched.queued(), 0);

    // One wake_by_ref schedules once; more wakes while queued are absorbed.
    w.wake_by_ref();
    assert_eq!(sched.queued(), 1);
    w3.wake_by_ref();
    let w5 = w.clone();
    w5.wake();
    assert_eq!(sched.queued(), 1);
    sched.run_all();
    assert_eq!(get(&ctl.polls), 2);

    // A wake by value hands its reference to the Notified.
    ctl.open();
    let w4 = ctl.waker();
    w4.wake();
    assert_eq!(sched.queued(), 1);
    sched.run_all();
    assert_eq!(get(&ctl.polls), 3);
    assert_eq!(get(&ctl.drops), 1);
    assert_eq!((sched.scheduled(), sched.runs()), (3, 3));

    // Wakers outlive completion; waking them is a no-op.
    w.wake_by_ref();
    w3.wake();
    assert_eq!(sched.queued(), 0);
    let (jw, _) = count_waker();
    assert!(matches!(poll_join(&mut join, &jw), Poll::Ready(Ok(7))));
    drop(join);
    assert!(!sched.all_freed(), "a waker still holds a reference");
    drop(w);
    assert!(sched.all_freed());
}

#[test]
fn last_reference_is_a_waker_woken_by_value() {
    let sched = TestSched::new();
    let (fut, ctl) = gate();
    let join = sched.spawn(fut);
    sched.run_all();
    drop(join);
    ctl.open();
    let w = ctl.waker();
    w.wake();
    sched.run_all();
    assert_eq!(get(&ctl.drops), 1);
    assert!(sched.all_freed());
}

#[test]
fn abort_before_first_poll() {
    let sched = TestSched::new();
    let (fut, ctl) = gate();
    let mut join = sched.spawn(fut);
    join.abort();
    join.abort();
    assert_eq!(sched.queued(), 1, "the queued Notified will cancel it");
    sched.run_all();
    assert_eq!(get(&ctl.polls), 0);
    assert_eq!(get(&ctl.drops), 1);
    let (w, _) = count_waker();
    match poll_join(&mut join, &w) {
        Poll::Ready(Err(e)) => {
            assert!(e.is_cancelled() && !e.is_panic());
            assert_eq!(e.id(), join.id());
            assert!(e.to_string().contains("cancelled"), "{e}");
        }
        _ => panic!("aborted task must report cancellation"),
    }
    drop(join);
    assert!(sched.all_freed());
}

#[test]
fn abort_idle_task_schedules_its_cancellation() {
    let sched = TestSched::new();
    let (fut, ctl) = gate();
    let mut join = sched.spawn(fut);
    sched.run_all();
    let abort = join.abort_handle();
    let abort2 = abort.clone();
    assert_eq!(abort.id(), join.id());
    abort.abort();
    assert_eq!(sched.queued(), 1);
    abort2.abort();
    assert_eq!(sched.queued(), 1);
    assert!(!abort2.is_finished());
    sched.run_all();
    assert!(abort2.is_finished());
    assert_eq!(get(&ctl.polls), 1);
    assert_eq!(get(&ctl.drops), 1);
    let (w, _) = count_waker();
    assert!(matches!(poll_join(&mut join, &w), Poll::Ready(Err(e)) if e.is_cancelled()));
    drop((join, abort));
    drop(ctl.waker());
    assert!(!sched.all_freed());
    drop(abort2);
    assert!(sched.all_freed());
}

#[test]
fn abort_during_poll_cancels_after_it() {
    let sched = TestSched::new();
    let slot: Arc<Mutex<Option<crate::task::AbortHandle>>> = Arc::new(Mutex::new(None));
    let polls = counter();
    let fut = {
        let (slot, polls) = (slot.clone(), polls.clone());
        poll_fn(move |_| {
            polls.fetch_add(1, SeqCst);
            slot.lock().unwrap().as_ref().unwrap().abort();
            Poll::<()>::Pending
        })
    };
    let mut join = sched.spawn(fut);
    *slot.lock().unwrap() = Some(join.abort_handle());
    sched.run_all();
    assert_eq!(get(&polls), 1);
    assert_eq!(sched.queued(), 0);
    let (w, _) = count_waker();
    assert!(matches!(poll_join(&mut join, &w), Poll::Ready(Err(e)) if e.is_cancelled()));
    drop(join);
    // The future (and with it its clone of `slot`) was dropped by the cancel.
    drop(slot.lock().unwrap().take());
    assert!(sched.all_freed());
}

#[test]
fn join_handle_dropped_before_completion() {
    let sched = TestSched::new();
    let out_drops = counter();
    let out = DropCount(out_drops.clone());
    let join = sched.spawn(async move { out });
    drop(join);
    assert_eq!(sched.run_all(), 1);
    assert_eq!(get(&out_drops), 1, "completion drops an unwanted output");
    assert!(sched.all_freed());
}

#[test]
fn join_handle_dropped_after_completion() {
    let sched = TestSched::new();
    let out_drops = counter();
    let out = DropCount(out_drops.clone());
    let join = sched.spawn(async move { out });
    sched.run_all();
    assert_eq!(get(&out_drops), 0);
    drop(join);
    assert_eq!(get(&out_drops), 1, "the handle drops the unread output");
    assert!(sched.all_freed());
}

#[test]
fn join_handle_with_registered_waker_dropped() {
    let sched = TestSched::new();
    let (fut, ctl) = gate();
    let mut join = sched.spawn(fut);
    let (w, woken) = count_waker();
    assert!(poll_join(&mut join, &w).is_pending());
    sched.run_all();
    drop(join);
    assert_eq!(
        Arc::strong_count(&woken),
        2,
        "dropping the handle drops its waker"
    );
    ctl.open();
    ctl.waker().wake();
    sched.run_all();
    assert_eq!(get(&woken.0), 0);
    assert!(sched.all_freed());
}

#[test]
fn join_waker_replaced() {
    let sched = TestSched::new();
    let (fut, ctl) = gate();
    let mut join = sched.spawn(fut);
    sched.run_all();
    let (w1, c1) = count_waker();
    let (w2, c2) = count_waker();
    assert!(poll_join(&mut join, &w1).is_pending());
    assert!(poll_join(&mut join, &w1).is_pending(), "same waker kept");
    assert!(poll_join(&mut join, &w2).is_pending());
    assert_eq!(Arc::strong_count(&c1), 2, "the replaced waker was dropped");
    ctl.open();
    ctl.waker().wake();
    sched.run_all();
    assert_eq!((get(&c1.0), get(&c2.0)), (0, 1));
    assert!(matches!(poll_join(&mut join, &w2), Poll::Ready(Ok(7))));
    drop(join);
    assert!(sched.all_freed());
}

#[test]
fn panic_in_poll_is_a_join_error() {
    let sched = TestSched::new();
    let drops = counter();
    let guard = DropCount(drops.clone());
    let mut join = sched.spawn(poll_fn(move |_| -> Poll<()> {
        let _guard = &guard;
        panic!("boom in poll")
    }));
    sched.run_all();
    assert_eq!(get(&drops), 1, "the future is dropped after a panic");
    let (w, _) = count_waker();
    match poll_join(&mut join, &w) {
        Poll::Ready(Err(e)) => {
            assert!(e.is_panic() && !e.is_cancelled());
            assert!(e.to_string().contains("boom in poll"), "{e}");
            let payload = e.into_panic();
            assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom in poll"));
        }
        _ => panic!("a panicking task must report the panic"),
    }
    drop(join);
    assert!(sched.all_freed());
}

/// Panics when dropped.
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("boom in drop");
    }
}

/// Ready at once; dropping it (which completion does) panics.
struct ReadyThenPanicOnDrop(#[allow(dead_code)] PanicOnDrop);

impl Future for ReadyThenPanicOnDrop {
    type Output = u8;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u8> {
        Poll::Ready(1)
    }
}

#[test]
fn panic_in_future_drop_is_a_join_error() {
    let sched = TestSched::new();
    let mut join = sched.spawn(ReadyThenPanicOnDrop(PanicOnDrop));
    sched.run_all();
    let (w, _) = count_waker();
    match poll_join(&mut join, &w) {
        Poll::Ready(Err(e)) => assert!(
            e.is_panic() && e.to_string().contains("boom in drop"),
            "{e}"
        ),
        _ => panic!("a panicking destructor must be reported"),
    }
    drop(join);
    assert!(sched.all_freed());
}

#[test]
fn owned_list_bind_remove_close_and_shutdown_all() {
    let sched = TestSched::new();
    let owned = &sched.0.owned;
    let ctls: Vec<_> = (0..5).map(|_| gate()).collect();
    let mut joins = Vec::new();
    let mut ctl_list = Vec::new();
    for (fut, ctl) in ctls {
        joins.push(sched.spawn(fut));
        ctl_list.push(ctl);
    }
    assert_eq!(owned.len(), 5);
    sched.run_all();
    // Complete the first task: `release` unlinks it.
    ctl_list[0].open();
    ctl_list[0].waker().wake();
    sched.run_all();
    assert_eq!(owned.len(), 4);
    // Queue the second one so shutdown finds it both listed and notified.
    ctl_list[1].waker().wake();
    assert_eq!(sched.queued(), 1);

    owned.close_and_shutdown_all();
    assert_eq!(owned.len(), 0);
    // The stale Notified finds the task complete and just lets go.
    sched.run_all();
    for c in &ctl_list {
        assert_eq!(get(&c.drops), 1);
    }
    let (w, _) = count_waker();
    let mut results = joins.iter_mut().map(|j| poll_join(j, &w));
    assert!(matches!(results.next(), Some(Poll::Ready(Ok(7)))));
    for r in results {
        assert!(matches!(r, Poll::Ready(Err(e)) if e.is_cancelled()));
    }

    // A spawn after close is refused by `bind` and shut down at once.
    let (fut, ctl) = gate();
    let mut late = sched.spawn(fut);
    sched.run_all();
    assert_eq!(get(&ctl.polls), 0);
    assert!(matches!(poll_join(&mut late, &w), Poll::Ready(Err(e)) if e.is_cancelled()));

    drop(joins);
    drop(late);
    for c in &ctl_list[2..] {
        drop(c.slot.lock().unwrap().take());
    }
    assert!(sched.all_freed());
}

#[test]
fn shutdown_from_inside_a_running_task() {
    let sched = TestSched::new();
    let polls = counter();
    let fut = {
        let (sched, polls) = (sched.clone(), polls.clone());
        poll_fn(move |_| {
            polls.fetch_add(1, SeqCst);
            sched.0.owned.close_and_shutdown_all();
            Poll::<()>::Pending
        })
    };
    let mut join = sched.spawn(fut);
    sched.run_all();
    assert_eq!(get(&polls), 1);
    let (w, _) = count_waker();
    assert!(matches!(poll_join(&mut join, &w), Poll::Ready(Err(e)) if e.is_cancelled()));
    drop(join);
    assert!(sched.all_freed());
}

// ---- threaded: the same races as the loom models, on real threads, so that
// Miri's data-race detector and weak-memory emulation see the raw accesses.

/// Runs `other` on a second thread while this one drains the run queue.
fn race(sched: &TestSched, other: impl FnOnce() + Send) {
    std::thread::scope(|s| {
        let t = s.spawn(other);
        sched.run_all();
        t.join().unwrap();
    });
    sched.run_all();
}

#[test]
fn threaded_join_handle_drop_races_completion() {
    let sched = TestSched::new();
    let (polls, fut_drops, out_drops) = (counter(), counter(), counter());
    let join = sched.spawn(YieldOnce::new(
        DropCount(out_drops.clone()),
        &polls,
        &fut_drops,
    ));
    race(&sched, move || drop(join));
    assert_eq!((get(&polls), get(&fut_drops), get(&out_drops)), (2, 1, 1));
    assert!(sched.all_freed());
}

#[test]
fn threaded_join_waker_races_completion() {
    let sched = TestSched::new();
    let (polls, drops) = (counter(), counter());
    let mut join = sched.spawn(YieldOnce::new(3u8, &polls, &drops));
    let (w1, c1) = count_waker();
    let (w2, c2) = count_waker();
    let mut got = None;
    race(&sched, || {
        for w in [&w1, &w2] {
            if let Poll::Ready(res) = poll_join(&mut join, w) {
                got = Some(res.unwrap());
                return;
            }
        }
    });
    if got.is_none() {
        assert_eq!((get(&c1.0), get(&c2.0)), (0, 1));
        assert!(matches!(poll_join(&mut join, &w2), Poll::Ready(Ok(3))));
    }
    drop(join);
    assert!(sched.all_freed());
}

#[test]
fn threaded_abort_races_run() {
    let sched = TestSched::new();
    let (polls, fut_drops, out_drops) = (counter(), counter(), counter());
    let mut join = sched.spawn(YieldOnce::new(
        DropCount(out_drops.clone()),
        &polls,
        &fut_drops,
    ));
    let abort = join.abort_handle();
    race(&sched, move || abort.abort());
    let (w, _) = count_waker();
    match poll_join(&mut join, &w) {
        Poll::Ready(Ok(out)) => drop(out),
        Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
        Poll::Pending => panic!("aborted task never finished"),
    }
    assert_eq!((get(&fut_drops), get(&out_drops)), (1, 1));
    drop(join);
    assert!(sched.all_freed());
}

#[test]
fn threaded_wake_races_poll() {
    let sched = TestSched::new();
    let (fut, ctl) = gate();
    let mut join = sched.spawn(fut);
    sched.run_all();
    // Queue a second poll, to run while the other thread wakes the task.
    let w = ctl.waker();
    w.wake_by_ref();
    *ctl.slot.lock().unwrap() = Some(w);
    race(&sched, || {
        ctl.open();
        ctl.waker().wake();
    });
    assert!((2..=3).contains(&get(&ctl.polls)));
    assert_eq!(sched.runs(), get(&ctl.polls));
    let (w, _) = count_waker();
    assert!(matches!(poll_join(&mut join, &w), Poll::Ready(Ok(7))));
    drop(join);
    drop(ctl.slot.lock().unwrap().take());
    assert!(sched.all_freed());
}
