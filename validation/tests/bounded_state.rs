//! The engine's state is bounded by what is alive, not by what ever lived:
//! after many task lifetimes that take locks (nested instances of one
//! class, owned guards released by another task after their owner ended),
//! wait while holding locks, await other tasks' `JoinHandle`s, use channel
//! senders and receivers, and end waits from another context, every live
//! count in [`stats`] is back at its baseline.
//!
//! One test in its own process (an integration test), so no other test's
//! contexts or waits move the counts; fake tasks are announced through
//! [`swap_current_task`] as perf_runtime does.

use perf_validation::{
    join_wait_at, stats, swap_current_task, Access, ChannelKind, ChannelMeta, EngineStats,
    LockKind, LockMeta, TaskRef, TaskStateCell, WaitKind, WaitMeta,
};
use std::num::NonZeroU64;
use std::panic::Location;

/// A stand-in for a runtime task: an id and the state cell its header keeps.
struct Task {
    id: NonZeroU64,
    cell: TaskStateCell,
}

impl Task {
    fn new(id: u64) -> Task {
        Task {
            id: NonZeroU64::new(id).unwrap(),
            cell: TaskStateCell::new(),
        }
    }

    /// Runs `f` as one poll of this task on the calling thread.
    fn poll<R>(&self, f: impl FnOnce() -> R) -> R {
        // SAFETY: set while `self` (and its cell) is borrowed by this call and restored before it returns; one thread polls it.
        let prev = unsafe { swap_current_task(Some(TaskRef::new(self.id, &self.cell))) };
        let r = f();
        // SAFETY: restores what was set before.
        unsafe { swap_current_task(prev) };
        r
    }
}

/// The counts that must return to their baseline once every task, lock,
/// channel and wait of a batch is gone.
fn live(s: EngineStats) -> [(&'static str, usize); 6] {
    [
        ("live_contexts", s.live_contexts),
        ("registered_contexts", s.registered_contexts),
        ("published_holds", s.published_holds),
        ("active_waits", s.active_waits),
        ("ordered_instances", s.ordered_instances),
        ("instance_edges", s.instance_edges),
    ]
}

/// One batch of lifetimes; task ids start at `base`.
fn batch(base: u64, n: u64) {
    let notify = WaitMeta::new(WaitKind::Notify);
    for i in 0..n {
        let id = base + i * 8;
        let (a, b, c) = (Task::new(id + 1), Task::new(id + 2), Task::new(id + 3));

        // Nested instances of one class, in index order (instance graph),
        // dropped with the batch iteration.
        let locks: Vec<LockMeta> = (0..3).map(|_| LockMeta::new(LockKind::Mutex)).collect();
        a.poll(|| {
            let g0 = locks[0].acquire(Access::Exclusive);
            let g1 = locks[1].acquire(Access::Exclusive);
            let g2 = locks[2].acquire(Access::Exclusive);
            drop((g2, g1, g0));
        });

        // A wait while holding a lock: a graph wait, which registers the
        // context and publishes what it holds; ended in the task.
        let x = LockMeta::new(LockKind::Mutex);
        a.poll(|| {
            let held = x.acquire(Access::Exclusive);
            let w = notify.wait_at(Location::caller());
            drop(w);
            drop(held);
        });

        // An owned guard (`lock_owned`): taken by `a`, which then ends; the
        // guard moves to `b` and is released there.
        let owned = LockMeta::new(LockKind::Mutex);
        let token = a.poll(|| owned.acquire_owned_at(Access::Exclusive, Location::caller()));

        // A channel: `a` sends, `b` waits to receive while holding a lock.
        let chan = ChannelMeta::new(ChannelKind::Mpsc, Some(4));
        let sender = chan.new_sender();
        a.poll(|| sender.used());
        let y = LockMeta::new(LockKind::Mutex);
        let (y_held, recv_wait) = b.poll(|| {
            chan.receiver_polled();
            let h = y.acquire(Access::Exclusive);
            (h, chan.recv_wait_at(Location::caller()))
        });

        // `c` holds a lock and awaits `a`'s JoinHandle.
        let z = LockMeta::new(LockKind::Mutex);
        let (z_held, join_wait) = c.poll(|| {
            let h = z.acquire(Access::Exclusive);
            (
                h,
                join_wait_at(a.id, Location::caller(), Location::caller()),
            )
        });

        // `a` ends (its slot drops) with its owned guard still out and its
        // sender still claimed by it.
        drop(a);
        drop(sender);
        b.poll(|| drop(token));
        c.poll(|| {
            drop(join_wait);
            drop(z_held);
        });
        drop(c);

        // `b` is dropped (aborted) mid-wait: its slot goes first, then the
        // future holding the wait and the guard is dropped on a thread
        // outside any task.
        drop(b);
        drop(recv_wait);
        drop(y_held);
        drop(chan);
    }
}

#[test]
fn engine_state_returns_to_baseline_after_many_lifetimes() {
    // A warm-up batch creates what the process keeps for good (this
    // thread's context, the lock classes and their order edges).
    batch(1, 16);
    let base = stats();
    batch(1_000_000, 2_000);
    let after = stats();
    assert_eq!(
        live(after),
        live(base),
        "engine state grew with the number of lifetimes:\nbefore {base:?}\nafter  {after:?}"
    );
    // Class-level state is per creation site, not per lifetime.
    assert_eq!(after.order_edges, base.order_edges);
    assert_eq!(after.validated_chains, base.validated_chains);
}
