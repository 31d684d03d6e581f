//! `sync::mpsc`: ordering, capacity and reservations, FIFO among waiting
//! senders, cancellation (a dropped `send` leaves no ghost waiter, passes on
//! capacity it was handed, and a dropped `recv` loses no message), close
//! semantics from both ends, weak senders, the blocking calls, the
//! unbounded flavour, the argument checks, the cooperative budget, and the
//! auto traits. The adaptive flavour's tests are in `sync_mpsc_adaptive.rs`.

#[path = "sync_mpsc_adaptive.rs"]
mod adaptive;
mod policy_support;
mod sync_support;

use perf_runtime::sync::mpsc::error::{SendError, SendTimeoutError, TryRecvError, TrySendError};
use perf_runtime::sync::mpsc::{self, OwnedPermit, Permit, Receiver, Sender};
use perf_runtime::sync::mpsc::{UnboundedReceiver, UnboundedSender, WeakSender};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;
use sync_support::*;

#[test]
fn messages_arrive_in_order_and_capacity_is_tracked() {
    let (tx, mut rx) = mpsc::channel(3);
    assert_eq!((tx.capacity(), tx.max_capacity()), (3, 3));
    for i in 0..3 {
        tx.try_send(i).unwrap();
    }
    assert_eq!(tx.capacity(), 0);
    assert_eq!(rx.len(), 3);
    assert!(matches!(tx.try_send(9), Err(TrySendError::Full(9))));
    assert_eq!(task(rx.recv()).ready(), Some(0));
    assert_eq!(rx.capacity(), 1);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(rx.is_empty());
    assert_eq!(tx.capacity(), 3);
}

#[test]
fn a_permit_reserves_capacity_until_used_or_dropped() {
    let (tx, mut rx) = mpsc::channel(1);
    let permit: Permit<'_, u8> = tx.try_reserve().unwrap();
    assert!(tx.try_send(1).is_err());
    assert!(tx.try_reserve().is_err());
    drop(permit);
    let permit = task(tx.reserve()).ready().unwrap();
    permit.send(7);
    assert_eq!(rx.try_recv(), Ok(7));

    let owned: OwnedPermit<u8> = task(tx.clone().reserve_owned()).ready().unwrap();
    let tx2 = owned.send(8);
    assert_eq!(rx.try_recv(), Ok(8));
    let owned = tx2.try_reserve_owned().unwrap();
    let tx3 = owned.release();
    assert_eq!(tx3.capacity(), 1);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn waiting_senders_get_capacity_in_fifo_order() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let mut sends: Vec<_> = (1..=3).map(|i| task(tx.send(i))).collect();
    for s in &mut sends {
        s.pending();
    }
    for i in 0..3 {
        assert_eq!(rx.try_recv().ok(), Some(i));
        for (j, s) in sends.iter().enumerate() {
            assert_eq!(s.is_woken(), i == j, "receive #{i} wakes sender {j}? ");
        }
        sends[i].ready().unwrap();
    }
    assert_eq!(rx.try_recv(), Ok(3));
}

#[test]
fn a_cancelled_send_leaves_no_ghost_waiter_and_sends_nothing() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let mut a = task(tx.send(1));
    let mut b = task(tx.send(2));
    a.pending();
    b.pending();
    drop(a);
    assert_eq!(rx.try_recv(), Ok(0));
    assert!(b.is_woken(), "capacity goes to the live sender");
    b.ready().unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(
        rx.try_recv(),
        Err(TryRecvError::Empty),
        "the cancelled value was not sent"
    );
}

#[test]
fn a_cancelled_send_that_was_handed_capacity_passes_it_on() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let mut a = task(tx.send(1));
    let mut b = task(tx.send(2));
    a.pending();
    b.pending();
    assert_eq!(rx.try_recv(), Ok(0)); // the slot now belongs to `a`
    assert!(a.is_woken());
    drop(a);
    assert!(b.is_woken());
    b.ready().unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn a_cancelled_recv_loses_no_message() {
    let (tx, mut rx) = mpsc::channel(4);
    {
        let mut r = task(rx.recv());
        r.pending();
        tx.try_send(1).unwrap();
        assert!(r.is_woken());
        // Dropped after the wake, before it polled: the message stays.
    }
    assert_eq!(task(rx.recv()).ready(), Some(1));
}

#[test]
fn dropping_every_sender_drains_then_ends() {
    let (tx, mut rx) = mpsc::channel(4);
    let tx2 = tx.clone();
    assert_eq!(tx.strong_count(), 2);
    tx.try_send(1).unwrap();
    tx2.try_send(2).unwrap();
    let mut r = task(async {
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await {
            got.push(v);
        }
        got
    });
    r.pending();
    drop(tx);
    r.pending();
    drop(tx2);
    assert!(r.is_woken());
    assert_eq!(r.ready(), [1, 2]);
    drop(r);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    assert!(rx.is_closed());
}

#[test]
fn closing_the_receiver_fails_senders_but_delivers_what_was_sent() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(1).unwrap();
    let mut waiting = task(tx.send(2));
    waiting.pending();
    let mut closed = task(tx.closed());
    closed.pending();
    assert!(!tx.is_closed());
    rx.close();
    assert!(tx.is_closed() && rx.is_closed());
    assert!(closed.is_woken());
    closed.ready();
    assert!(waiting.is_woken());
    assert_eq!(waiting.ready(), Err(SendError(2)), "the value comes back");
    assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));
    assert_eq!(
        task(rx.recv()).ready(),
        Some(1),
        "what was sent before close arrives"
    );
    assert_eq!(task(rx.recv()).ready(), None);
}

#[test]
fn after_close_a_reserved_permit_still_delivers_and_recv_waits_for_it() {
    let (tx, mut rx) = mpsc::channel(2);
    let permit = tx.try_reserve().unwrap();
    rx.close();
    let mut r = task(rx.recv());
    r.pending(); // a claim is outstanding: more may come
    permit.send(5);
    assert!(r.is_woken());
    assert_eq!(r.ready(), Some(5));
    drop(r);

    let (tx, mut rx) = mpsc::channel::<u8>(2);
    let permit = tx.try_reserve().unwrap();
    rx.close();
    let mut r = task(rx.recv());
    r.pending();
    drop(permit); // released unsent: now nothing more can come
    assert!(r.is_woken());
    assert_eq!(r.ready(), None);
}

#[test]
fn dropping_the_receiver_fails_sends_and_wakes_closed() {
    let (tx, rx) = mpsc::channel::<String>(1);
    let mut closed = task(tx.closed());
    closed.pending();
    drop(rx);
    assert!(closed.is_woken());
    closed.ready();
    assert_eq!(
        task(tx.send("x".to_string())).ready(),
        Err(SendError("x".to_string()))
    );
    assert!(tx.is_closed());
    let e = tx.try_send("y".into()).unwrap_err();
    assert!(e.is_closed() && !e.is_full());
    assert_eq!(e.into_inner(), "y");
}

#[test]
fn weak_senders_do_not_keep_the_channel_open() {
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    let weak: WeakSender<u8> = tx.downgrade();
    assert_eq!((tx.strong_count(), tx.weak_count()), (1, 1));
    let strong = weak.upgrade().expect("a sender is alive");
    strong.try_send(1).unwrap();
    drop(strong);
    drop(tx);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    assert!(weak.upgrade().is_none(), "no strong sender left");
    assert_eq!(rx.sender_weak_count(), 1);
    assert_eq!(rx.sender_strong_count(), 0);
}

#[test]
fn recv_many_takes_what_is_queued_up_to_the_limit() {
    let (tx, mut rx) = mpsc::channel(8);
    for i in 0..5 {
        tx.try_send(i).unwrap();
    }
    let mut buf = Vec::new();
    assert_eq!(task(rx.recv_many(&mut buf, 3)).ready(), 3);
    assert_eq!(task(rx.recv_many(&mut buf, 10)).ready(), 2);
    assert_eq!(buf, [0, 1, 2, 3, 4]);
    assert_eq!(task(rx.recv_many(&mut buf, 0)).ready(), 0);
    drop(tx);
    assert_eq!(task(rx.recv_many(&mut buf, 4)).ready(), 0);
}

#[test]
fn blocking_send_and_recv_work_on_threads_and_panic_in_a_runtime() {
    within(|| {
        let (tx, mut rx) = mpsc::channel(1);
        let producer = std::thread::spawn(move || {
            for i in 0..100 {
                tx.blocking_send(i).unwrap();
            }
        });
        for i in 0..100 {
            assert_eq!(rx.blocking_recv(), Some(i));
        }
        producer.join().unwrap();
        assert_eq!(rx.blocking_recv(), None);

        let rt = current_thread();
        let (tx, mut rx) = mpsc::channel::<u8>(1);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(async { tx.blocking_send(1) })
        }));
        let msg = r
            .unwrap_err()
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(msg.contains("Sender::blocking_send"), "{msg}");
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(async { rx.blocking_recv() })
        }));
        assert!(r.is_err());
    });
}

#[test]
fn send_timeout_reports_timeout_and_closed() {
    within(|| {
        let rt = perf_runtime::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let (tx, rx) = mpsc::channel(1);
            tx.send_timeout(1, Duration::from_millis(5)).await.unwrap();
            let e = tx
                .send_timeout(2, Duration::from_millis(5))
                .await
                .unwrap_err();
            assert!(e.is_timeout());
            assert_eq!(e.into_inner(), 2);
            drop(rx);
            let e = tx
                .send_timeout(3, Duration::from_millis(5))
                .await
                .unwrap_err();
            assert!(matches!(e, SendTimeoutError::Closed(3)));
        });
    });
}

#[test]
fn unbounded_sends_never_wait_and_close_like_bounded() {
    let (tx, mut rx): (UnboundedSender<u32>, UnboundedReceiver<u32>) = mpsc::unbounded_channel();
    for i in 0..1000 {
        tx.send(i).unwrap();
    }
    assert_eq!(rx.len(), 1000);
    for i in 0..1000 {
        assert_eq!(rx.try_recv(), Ok(i));
    }
    let mut r = task(rx.recv());
    r.pending();
    tx.send(5).unwrap();
    assert!(r.is_woken());
    assert_eq!(r.ready(), Some(5));
    drop(r);

    tx.send(6).unwrap();
    rx.close();
    assert!(tx.is_closed());
    assert_eq!(tx.send(7), Err(SendError(7)));
    assert_eq!(rx.try_recv(), Ok(6));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));

    let (tx, mut rx) = mpsc::unbounded_channel::<u8>();
    let weak = tx.downgrade();
    let tx2 = tx.clone();
    assert!(tx.same_channel(&tx2));
    drop((tx, tx2));
    assert!(weak.upgrade().is_none());
    assert_eq!(task(rx.recv()).ready(), None);
}

#[test]
fn many_producers_lose_and_reorder_nothing() {
    within(|| {
        let rt = multi_thread();
        rt.block_on(async {
            const PRODUCERS: usize = 4;
            const EACH: usize = 2000;
            let (tx, mut rx) = mpsc::channel(8);
            for p in 0..PRODUCERS {
                let tx = tx.clone();
                perf_runtime::spawn(async move {
                    for i in 0..EACH {
                        tx.send((p, i)).await.unwrap();
                    }
                });
            }
            drop(tx);
            let mut next = [0; PRODUCERS];
            while let Some((p, i)) = rx.recv().await {
                assert_eq!(i, next[p], "producer {p}'s messages arrive in order");
                next[p] += 1;
            }
            assert_eq!(next, [EACH; PRODUCERS]);
        });
    });
}

#[test]
fn an_always_ready_recv_loop_yields_to_other_tasks() {
    assert_yields(|flag| async move {
        let (tx, mut rx) = mpsc::channel(1);
        let mut n = 0;
        while !flag.load(SeqCst) {
            tx.try_send(n).unwrap();
            assert_eq!(rx.recv().await, Some(n));
            n += 1;
            assert!(n < YIELD_LIMIT, "recv() never yielded");
        }
    });
    assert_yields(|flag| async move {
        let (tx, mut rx) = mpsc::channel(1);
        let mut n = 0;
        while !flag.load(SeqCst) {
            tx.send(n).await.unwrap();
            rx.try_recv().unwrap();
            n += 1;
            assert!(n < YIELD_LIMIT, "send() never yielded");
        }
    });
}

#[test]
#[should_panic(expected = "`buffer` must be at least 1")]
fn a_zero_buffer_panics_naming_the_argument() {
    let _ = mpsc::channel::<u8>(0);
}

#[test]
fn auto_traits_match_tokio() {
    fn send_sync<T: Send + Sync>() {}
    fn error<E: std::error::Error + Send + Sync + 'static>() {}
    type M = Vec<u8>;
    send_sync::<Sender<M>>();
    send_sync::<Receiver<M>>();
    send_sync::<WeakSender<M>>();
    send_sync::<Permit<'static, M>>();
    send_sync::<OwnedPermit<M>>();
    send_sync::<UnboundedSender<M>>();
    send_sync::<UnboundedReceiver<M>>();
    // A `Cell` is Send but not Sync: the channel still is both.
    send_sync::<Sender<std::cell::Cell<u8>>>();
    error::<SendError<M>>();
    error::<TrySendError<M>>();
    error::<TryRecvError>();
    error::<SendTimeoutError<M>>();
    fn send_future<F: std::future::Future + Send>(_: &F) {}
    let (tx, mut rx) = mpsc::channel::<M>(1);
    send_future(&tx.send(Vec::new()));
    send_future(&tx.reserve());
    send_future(&rx.recv());
    let _ = Arc::new(tx);
}
