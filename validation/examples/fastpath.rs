//! Measures the engine's inline acquire/release cost (no criterion: a plain
//! loop, best of several runs). Run with
//! `cargo run --release -p perf-validation --example fastpath`.
//!
//! Each figure is one `acquire` plus the drop of its `Held` token, in ns:
//!
//! - `off`: validation off on this thread (the floor: one mode load);
//! - `thread, nothing held`: a thread context taking one lock;
//! - `thread, chain cached`: taking a second lock under a first, after the
//!   chain was validated once (one chain-cache probe);
//! - `task, nothing held` / `task, chain cached`: the same inside a task
//!   the runtime announced with `swap_current_task` (as perf_runtime does
//!   around each poll): one thread-local load and the task's slot;
//! - `task via the hook, cached`: a task known only through the context
//!   hook (a runtime that does not call `swap_current_task`);
//! - `new lock, first acquire`: a lock created and taken once (its class
//!   is resolved on that first acquisition);
//! - `std::sync::Mutex`: an uncontended lock/unlock, for scale;
//! - `sharded map lookup`: the alternative to the task slot — finding a
//!   task's state by id in a 64-way sharded `Mutex<HashMap>` — once per
//!   operation (the slot costs one load instead).
//!
//! Then waits, in a task, each including what it takes to set it up:
//!
//! - `lock wait, nothing held`: acquire, a lock wait by a task that holds
//!   nothing else (a counter and a pending flag), release;
//! - `lock wait, holding a lock`: the same under another lock — a wait in
//!   the wait-for graph (recorded, holdings published, hints raised);
//! - `oneshot + one receive wait`: a oneshot's meta created, one receive
//!   wait (the context's slot) started and ended, the meta dropped;
//! - `oneshot, no wait`: the meta alone.

use perf_validation::{
    set_context_hook, set_thread_mode, swap_current_task, Access, ChannelKind, ChannelMeta,
    ContextHook, LockKind, LockMeta, Mode, TaskRef, TaskStateCell,
};
use std::cell::Cell;
use std::collections::HashMap;
use std::hint::black_box;
use std::num::NonZeroU64;
use std::sync::Mutex;
use std::time::Instant;

const ITERS: u32 = 5_000_000;
const RUNS: usize = 7;

thread_local! {
    static TASK: Cell<Option<TaskRef>> = const { Cell::new(None) };
}

fn current_task() -> Option<TaskRef> {
    TASK.with(Cell::get)
}

fn no_name() -> Option<String> {
    None
}

/// Best ns/iteration of `RUNS` runs of `f` called `ITERS` times.
fn measure(mut f: impl FnMut()) -> f64 {
    (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..ITERS {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(ITERS)
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    // SAFETY: the hook returns the slot below only while `TASK` is set, and the slot outlives that (it lives to the end of `main`).
    let installed = unsafe {
        set_context_hook(ContextHook {
            current_task,
            current_task_name: no_name,
        })
    };
    assert!(installed);

    let outer = LockMeta::new(LockKind::Mutex);
    let inner = LockMeta::new(LockKind::Mutex);

    set_thread_mode(Some(Mode::Off));
    let off = measure(|| drop(black_box(inner.acquire(Access::Exclusive))));
    set_thread_mode(None);

    let flat = measure(|| drop(black_box(inner.acquire(Access::Exclusive))));

    let held = outer.acquire(Access::Exclusive);
    let cached = measure(|| drop(black_box(inner.acquire(Access::Exclusive))));
    drop(held);

    let slot = TaskStateCell::new();
    // As perf_runtime does around each poll: the engine's own thread-local.
    let task = TaskRef::new(NonZeroU64::new(1).unwrap(), &slot);
    // SAFETY: `slot` outlives the setting, cleared below; one thread.
    unsafe { swap_current_task(Some(task)) };
    let task_flat = measure(|| drop(black_box(inner.acquire(Access::Exclusive))));
    let held = outer.acquire(Access::Exclusive);
    let task_cached = measure(|| drop(black_box(inner.acquire(Access::Exclusive))));
    drop(held);
    // SAFETY: clears it.
    unsafe { swap_current_task(None) };

    // Through the hook only (a runtime that does not call
    // `swap_current_task`).
    TASK.with(|t| t.set(Some(task)));
    let held = outer.acquire(Access::Exclusive);
    let hook_cached = measure(|| drop(black_box(inner.acquire(Access::Exclusive))));
    drop(held);
    TASK.with(|t| t.set(None));

    let fresh = measure(|| {
        let lock = LockMeta::new(LockKind::Mutex);
        drop(black_box(black_box(&lock).acquire(Access::Exclusive)));
    });

    let m = std::sync::Mutex::new(0u64);
    let std_mutex = measure(|| *black_box(&m).lock().unwrap() += 1);

    let shards: Vec<Mutex<HashMap<u64, usize>>> = (0..64)
        .map(|s| Mutex::new((0..16).map(|i| (i * 64 + s, i as usize)).collect()))
        .collect();
    let mut id = 0u64;
    let sharded = measure(|| {
        id = (id + 1) % 1024;
        let shard = &shards[(id % 64) as usize];
        black_box(shard.lock().unwrap().get(&black_box(id)).copied());
    });

    // Waits, inside the task context: a lock wait by a task holding
    // nothing (a counter), a lock wait while holding another lock (a
    // recorded graph wait), and a oneshot's life with one receive wait (a
    // recorded stall-only wait).
    // SAFETY: `slot` outlives this setting, which is cleared below; one thread.
    unsafe { swap_current_task(Some(task)) };
    let lock_wait_free = measure(|| {
        let h = inner.acquire(Access::Exclusive);
        drop(black_box(inner.wait(&h)));
        drop(h);
    });
    let held = outer.acquire(Access::Exclusive);
    let lock_wait_holding = measure(|| {
        let h = inner.acquire(Access::Exclusive);
        drop(black_box(inner.wait(&h)));
        drop(h);
    });
    drop(held);
    let oneshot_wait = measure(|| {
        let chan = ChannelMeta::new(ChannelKind::Oneshot, Some(1));
        drop(black_box(chan.recv_wait()));
        drop(chan);
    });
    let oneshot_bare = measure(|| {
        drop(black_box(ChannelMeta::new(ChannelKind::Oneshot, Some(1))));
    });
    // SAFETY: clears it.
    unsafe { swap_current_task(None) };

    let reports = perf_validation::take_reports();
    assert!(reports.is_empty(), "the loops raise nothing: {reports:#?}");

    println!("inline acquire + release, ns/op (best of {RUNS} x {ITERS}):");
    println!("  off                          {off:6.2}");
    println!("  thread, nothing held         {flat:6.2}");
    println!("  thread, chain cached         {cached:6.2}");
    println!("  task, nothing held           {task_flat:6.2}");
    println!("  task, chain cached           {task_cached:6.2}");
    println!("  task via the hook, cached    {hook_cached:6.2}");
    println!("  new lock, first acquire      {fresh:6.2}");
    println!("waits in a task, ns/op:");
    println!("  lock wait, nothing held      {lock_wait_free:6.2}  (incl. acquire+release)");
    println!("  lock wait, holding a lock    {lock_wait_holding:6.2}  (incl. acquire+release)");
    println!("  oneshot + one receive wait   {oneshot_wait:6.2}");
    println!("  oneshot, no wait             {oneshot_bare:6.2}");
    println!("  std::sync::Mutex (scale)     {std_mutex:6.2}");
    println!("  sharded map lookup (alt.)    {sharded:6.2}");
}
