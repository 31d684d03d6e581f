//! `sync::Notify`: tokio's permit semantics (one stored permit, consumed by
//! the next `notified`), FIFO `notify_one`, `notify_waiters` (wakes the
//! current waiters and every `Notified` created before it, stores nothing),
//! `enable`, cancellation that passes a received notification on, the
//! cooperative budget, and the auto traits.

mod sync_support;

use perf_runtime::sync::{Notified, Notify};
use std::pin::pin;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use sync_support::*;

#[test]
fn notify_one_without_waiters_stores_a_single_permit() {
    let n = Notify::new();
    n.notify_one();
    n.notify_one(); // still one permit
    task(n.notified()).ready();
    let mut second = task(n.notified());
    second.pending();
    n.notify_one();
    assert!(second.is_woken());
    second.ready();
}

#[test]
fn notify_one_wakes_the_longest_waiting_task() {
    let n = Notify::new();
    let mut waiters: Vec<_> = (0..3).map(|_| task(n.notified())).collect();
    for w in &mut waiters {
        w.pending();
    }
    for i in 0..3 {
        n.notify_one();
        for (j, w) in waiters.iter().enumerate() {
            assert_eq!(w.is_woken(), i == j, "notify #{i} wakes waiter {i} only");
        }
        waiters[i].ready();
    }
    // Nobody left waiting: the next notify_one is stored.
    n.notify_one();
    task(n.notified()).ready();
}

#[test]
fn notify_waiters_wakes_everyone_and_stores_nothing() {
    let n = Notify::new();
    let mut a = task(n.notified());
    let mut b = task(n.notified());
    a.pending();
    b.pending();
    n.notify_waiters();
    assert!(a.is_woken() && b.is_woken());
    a.ready();
    b.ready();
    let mut later = task(n.notified());
    later.pending();
}

#[test]
fn notify_waiters_completes_futures_created_before_it_even_if_unpolled() {
    let n = Notify::new();
    let mut before = task(n.notified());
    n.notify_waiters();
    let mut after = task(n.notified());
    before.ready();
    after.pending();
    // A stored permit survives notify_waiters.
    n.notify_one();
    n.notify_waiters();
    after.ready();
}

#[test]
fn a_dropped_notified_future_leaves_no_ghost_waiter() {
    let n = Notify::new();
    let mut a = task(n.notified());
    let mut b = task(n.notified());
    a.pending();
    b.pending();
    drop(a);
    n.notify_one();
    assert!(b.is_woken(), "the notification went to the live waiter");
    b.ready();
}

#[test]
fn a_notification_received_by_a_dropped_future_is_passed_on() {
    let n = Notify::new();
    let mut a = task(n.notified());
    let mut b = task(n.notified());
    a.pending();
    b.pending();
    n.notify_one(); // chosen: a
    assert!(a.is_woken() && !b.is_woken());
    drop(a); // never saw it
    assert!(b.is_woken(), "the notification moved on to b");
    b.ready();

    // With nobody else waiting, it becomes the stored permit.
    let mut c = task(n.notified());
    c.pending();
    n.notify_one();
    drop(c);
    task(n.notified()).ready();
}

#[test]
fn enable_registers_without_polling() {
    let n = Notify::new();
    let mut fut = pin!(n.notified());
    assert!(!fut.as_mut().enable());
    n.notify_one(); // goes to the enabled future, not to the permit
    let mut other = task(n.notified());
    other.pending();
    assert!(fut.as_mut().enable(), "already notified");
    let mut t = task(fut);
    t.ready();
}

#[test]
fn ping_pong_across_workers_loses_no_wake_up() {
    within(|| {
        let rt = multi_thread();
        rt.block_on(async {
            let ping = Arc::new(Notify::new());
            let pong = Arc::new(Notify::new());
            let (p2, q2) = (ping.clone(), pong.clone());
            let other = perf_runtime::spawn(async move {
                for _ in 0..2000 {
                    p2.notified().await;
                    q2.notify_one();
                }
            });
            for _ in 0..2000 {
                ping.notify_one();
                pong.notified().await;
            }
            other.await.unwrap();
        });
    });
}

#[test]
fn an_always_ready_notified_loop_yields_to_other_tasks() {
    assert_yields(|flag| async move {
        let n = Notify::new();
        let mut i = 0;
        while !flag.load(SeqCst) {
            n.notify_one();
            n.notified().await;
            i += 1;
            assert!(i < YIELD_LIMIT, "notified() never yielded");
        }
    });
}

#[test]
fn auto_traits_match_tokio() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Notify>();
    send_sync::<Notified<'static>>();
    static GLOBAL: Notify = Notify::const_new();
    GLOBAL.notify_one();
    task(GLOBAL.notified()).ready();
    assert!(format!("{:?}", Notify::default()).contains("Notify"));
}
