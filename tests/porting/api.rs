//! The smaller tokio APIs a port needs, at tokio's paths with tokio's
//! semantics: `Notify::notify_last`, `watch::Sender::new`,
//! `broadcast::Sender::new`, `task::{unconstrained, consume_budget}`,
//! `JoinSet::{join_next_with_id, try_join_next_with_id}`, `FromIterator` and
//! `Extend` for `JoinSet`, `runtime::{Handle::id, Id}`.

use perf_runtime::runtime::{Builder, Handle, Runtime};
use perf_runtime::sync::{broadcast, oneshot, watch, Notify};
use perf_runtime::task::{self, JoinSet};
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;

/// Polls `f` once; true if it completed.
async fn ready<F: Future>(mut f: Pin<&mut F>) -> bool {
    poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx).is_ready())).await
}

fn rt() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn notify_last_wakes_the_newest_waiter_and_notify_one_the_oldest() {
    rt().block_on(async {
        let notify = Notify::new();
        let mut a = pin!(notify.notified());
        let mut b = pin!(notify.notified());
        let mut c = pin!(notify.notified());
        assert!(!a.as_mut().enable());
        assert!(!b.as_mut().enable());
        assert!(!c.as_mut().enable());
        notify.notify_last();
        assert!(!ready(a.as_mut()).await);
        assert!(!ready(b.as_mut()).await);
        assert!(ready(c.as_mut()).await, "the newest waiter is woken");
        notify.notify_one();
        assert!(ready(a.as_mut()).await, "notify_one still takes the oldest");
        assert!(!ready(b.as_mut()).await);
        notify.notify_last();
        assert!(ready(b.as_mut()).await);
    });
}

#[test]
fn notify_last_without_waiters_stores_one_permit() {
    rt().block_on(async {
        let notify = Notify::new();
        notify.notify_last();
        notify.notify_last();
        notify.notified().await; // the permit
        let mut second = pin!(notify.notified());
        assert!(!second.as_mut().enable(), "at most one permit is stored");
    });
}

#[test]
fn notify_last_on_another_task() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let notify = Arc::new(Notify::new());
        let (ready_tx, ready_rx) = oneshot::channel();
        let waiter = {
            let notify = notify.clone();
            perf_runtime::spawn(async move {
                let mut n = pin!(notify.notified());
                n.as_mut().enable();
                ready_tx.send(()).unwrap();
                n.await;
            })
        };
        ready_rx.await.unwrap();
        notify.notify_last();
        waiter.await.unwrap();
    });
}

#[test]
fn watch_sender_new_has_no_receiver_until_subscribe() {
    rt().block_on(async {
        let tx = watch::Sender::new("a");
        assert_eq!(tx.receiver_count(), 0);
        assert!(tx.is_closed());
        assert!(tx.send("b").is_err());
        assert_eq!(tx.send_replace("c"), "a");
        let mut rx = tx.subscribe();
        assert_eq!(*rx.borrow(), "c");
        tx.send("d").unwrap();
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow_and_update(), "d");
    });
}

#[test]
fn broadcast_sender_new_has_no_receiver_until_subscribe() {
    rt().block_on(async {
        let tx = broadcast::Sender::<u32>::new(2);
        assert_eq!(tx.receiver_count(), 0);
        assert!(tx.send(1).is_err());
        let mut rx = tx.subscribe();
        assert_eq!(tx.send(2).unwrap(), 1);
        assert_eq!(rx.recv().await.unwrap(), 2);
    });
}

#[test]
fn task_unconstrained_and_consume_budget_at_tokios_paths() {
    rt().block_on(async {
        perf_runtime::spawn(async {
            // Within a task, consume_budget yields once the budget is spent…
            let budget = task::coop::INITIAL_BUDGET as usize;
            let mut yielded = false;
            for _ in 0..=budget {
                let mut f = Box::pin(task::consume_budget());
                if poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx).is_pending())).await {
                    yielded = true;
                    break;
                }
            }
            assert!(yielded, "consume_budget never yielded");
            // …and unconstrained lifts the budget.
            let never_pending = task::unconstrained(async {
                for _ in 0..(3 * budget) {
                    let mut f = Box::pin(task::consume_budget());
                    let pending = poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx).is_pending())).await;
                    assert!(!pending);
                }
            });
            never_pending.await;
        })
        .await
        .unwrap();
    });
}

#[test]
fn join_set_with_id_names_the_task() {
    rt().block_on(async {
        let mut set = JoinSet::new();
        let ok_id = set.spawn(async { 1 }).id();
        let (done_id, v) = set.join_next_with_id().await.unwrap().unwrap();
        assert_eq!((done_id, v), (ok_id, 1));

        let fail_id = set.spawn(async { panic!("task failed") }).id();
        let err = set.join_next_with_id().await.unwrap().unwrap_err();
        assert!(err.is_panic());
        assert_eq!(err.id(), fail_id);
        assert!(set.join_next_with_id().await.is_none());
    });
}

#[test]
fn try_join_next_with_id_never_waits() {
    rt().block_on(async {
        let mut set = JoinSet::new();
        assert!(set.try_join_next_with_id().is_none());
        let (tx, rx) = oneshot::channel::<u8>();
        let id = set.spawn(async move { rx.await.unwrap() }).id();
        task::yield_now().await;
        assert!(
            set.try_join_next_with_id().is_none(),
            "the task is not done"
        );
        tx.send(3).unwrap();
        // Deterministic: loop until the task has run; each yield lets it.
        let got = loop {
            if let Some(r) = set.try_join_next_with_id() {
                break r.unwrap();
            }
            task::yield_now().await;
        };
        assert_eq!(got, (id, 3));
        assert!(set.is_empty());
    });
}

#[test]
fn join_set_from_iterator_and_extend() {
    rt().block_on(async {
        let mut set: JoinSet<u32> = (0..4).map(|i| async move { i }).collect();
        assert_eq!(set.len(), 4);
        set.extend((4..6).map(|i| async move { i }));
        assert_eq!(set.len(), 6);
        let mut all = set.join_all().await;
        all.sort();
        assert_eq!(all, [0, 1, 2, 3, 4, 5]);
    });
}

#[test]
fn handle_id_is_stable_per_runtime_and_distinct_between_live_ones() {
    let a = rt();
    let b = Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let a_id: perf_runtime::runtime::Id = a.handle().id();
    assert_eq!(a_id, a.handle().clone().id());
    assert_ne!(a_id, b.handle().id());
    let inside = a.block_on(async { Handle::current().id() });
    assert_eq!(inside, a_id);
    let in_task = b.block_on(async {
        perf_runtime::spawn(async { Handle::current().id() })
            .await
            .unwrap()
    });
    assert_eq!(in_task, b.handle().id());
    assert!(!a_id.to_string().is_empty());
    assert_eq!(u64::from(a_id).to_string(), a_id.to_string());
}
