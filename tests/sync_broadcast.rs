//! `sync::broadcast`: every receiver sees every value, lagging receivers
//! get `Lagged(n)` and then the oldest value held, subscription points,
//! close from both ends, cancellation of `recv` (no ghost waiter, no lost
//! value), values released once every receiver read them, the argument
//! checks, the cooperative budget, and the auto traits.

mod sync_support;

use perf_runtime::sync::broadcast::{
    self,
    error::{RecvError, SendError, TryRecvError},
    Receiver, Sender,
};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use sync_support::*;

#[test]
fn every_receiver_sees_every_value() {
    let (tx, mut a) = broadcast::channel(4);
    let mut b = tx.subscribe();
    assert_eq!(tx.send(1), Ok(2));
    assert_eq!(tx.send(2), Ok(2));
    assert_eq!(a.try_recv(), Ok(1));
    assert_eq!(a.try_recv(), Ok(2));
    assert_eq!(a.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(task(b.recv()).ready(), Ok(1));
    assert_eq!(task(b.recv()).ready(), Ok(2));
    assert_eq!(tx.receiver_count(), 2);
}

#[test]
fn a_lagging_receiver_is_told_how_much_it_missed() {
    let (tx, mut rx) = broadcast::channel(2);
    for i in 0..5 {
        tx.send(i).unwrap();
    }
    assert_eq!(rx.len(), 5);
    assert_eq!(task(rx.recv()).ready(), Err(RecvError::Lagged(3)));
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Ok(4));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    for i in 5..8 {
        tx.send(i).unwrap();
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(1)));
    assert_eq!(rx.try_recv(), Ok(6));
}

#[test]
fn subscribers_start_at_the_tail() {
    let (tx, mut rx) = broadcast::channel(8);
    tx.send(1).unwrap();
    let mut late = tx.subscribe();
    let mut re = rx.resubscribe();
    tx.send(2).unwrap();
    assert_eq!(late.try_recv(), Ok(2));
    assert_eq!(re.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Ok(1));
    assert!(rx.same_channel(&late));
}

#[test]
fn dropping_every_sender_drains_then_closes() {
    let (tx, mut rx) = broadcast::channel(4);
    let tx2 = tx.clone();
    tx.send(1).unwrap();
    let mut r = task(async {
        let mut got = Vec::new();
        loop {
            match rx.recv().await {
                Ok(v) => got.push(v),
                Err(RecvError::Closed) => return got,
                Err(e) => panic!("{e}"),
            }
        }
    });
    r.pending();
    drop(tx);
    r.pending();
    tx2.send(2).unwrap();
    r.pending();
    drop(tx2);
    assert!(r.is_woken());
    assert_eq!(r.ready(), [1, 2]);
    drop(r);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert!(rx.is_closed());
}

#[test]
fn sending_without_receivers_hands_the_value_back() {
    let (tx, rx) = broadcast::channel::<u8>(1);
    let mut closed = task(tx.closed());
    closed.pending();
    drop(rx);
    assert!(closed.is_woken());
    closed.ready();
    assert_eq!(tx.send(3), Err(SendError(3)));
    let mut rx = tx.subscribe();
    tx.send(4).unwrap();
    assert_eq!(rx.try_recv(), Ok(4));
}

#[test]
fn a_send_wakes_every_waiting_receiver() {
    let (tx, mut a) = broadcast::channel(2);
    let mut b = tx.subscribe();
    let mut ra = task(a.recv());
    let mut rb = task(b.recv());
    ra.pending();
    rb.pending();
    tx.send(9).unwrap();
    assert!(ra.is_woken() && rb.is_woken());
    assert_eq!(ra.ready(), Ok(9));
    assert_eq!(rb.ready(), Ok(9));
}

#[test]
fn a_cancelled_recv_leaves_no_ghost_and_loses_no_value() {
    let (tx, mut rx) = broadcast::channel(2);
    let mut other = tx.subscribe();
    {
        // Queued, then dropped: the next send must not find it.
        let mut r = task(rx.recv());
        r.pending();
    }
    let mut o = task(other.recv());
    o.pending();
    {
        // Woken by the send, then dropped before it polled again.
        let mut r = task(rx.recv());
        r.pending();
        tx.send(1).unwrap();
        assert!(r.is_woken());
    }
    assert!(o.is_woken());
    assert_eq!(o.ready(), Ok(1));
    assert_eq!(
        task(rx.recv()).ready(),
        Ok(1),
        "the value waits for the next recv"
    );
}

#[test]
fn values_are_released_once_every_receiver_read_them() {
    let (tx, mut a) = broadcast::channel(4);
    let mut b = tx.subscribe();
    let value = Arc::new(());
    tx.send(value.clone()).unwrap();
    assert_eq!(Arc::strong_count(&value), 2, "the channel holds one copy");
    drop(a.try_recv().unwrap());
    assert_eq!(Arc::strong_count(&value), 2, "b has not read it");
    drop(b.try_recv().unwrap());
    assert_eq!(Arc::strong_count(&value), 1, "read by all: released");

    tx.send(value.clone()).unwrap();
    drop(a.try_recv().unwrap());
    drop(b); // leaves without reading
    assert_eq!(
        Arc::strong_count(&value),
        1,
        "a dropped receiver releases its share"
    );
}

#[test]
fn len_and_is_empty() {
    let (tx, mut rx) = broadcast::channel(4);
    assert!(tx.is_empty() && rx.is_empty());
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    assert_eq!((tx.len(), rx.len()), (2, 2));
    rx.try_recv().unwrap();
    assert_eq!((tx.len(), rx.len()), (1, 1));
    rx.try_recv().unwrap();
    assert!(tx.is_empty() && rx.is_empty());
}

#[test]
fn impossible_capacities_panic_naming_the_argument() {
    let err = std::panic::catch_unwind(|| broadcast::channel::<u8>(0)).unwrap_err();
    let msg = err
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .unwrap_or_else(|| err.downcast_ref::<String>().cloned().unwrap_or_default());
    assert!(msg.contains("`capacity`"), "{msg}");
    let err = std::panic::catch_unwind(|| broadcast::channel::<u8>(usize::MAX)).unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("`capacity`"), "{msg}");
}

#[test]
fn receivers_on_other_workers_see_everything_in_order() {
    within(|| {
        let rt = multi_thread();
        rt.block_on(async {
            const N: u32 = 1000;
            let (tx, rx) = broadcast::channel(1024);
            let receivers: Vec<_> = (0..3)
                .map(|_| {
                    let mut rx = rx.resubscribe();
                    perf_runtime::spawn(async move {
                        let mut expect = 0;
                        while let Ok(v) = rx.recv().await {
                            assert_eq!(v, expect);
                            expect += 1;
                        }
                        expect
                    })
                })
                .collect();
            drop(rx);
            for i in 0..N {
                tx.send(i).unwrap();
                if i % 100 == 0 {
                    perf_runtime::task::yield_now().await;
                }
            }
            drop(tx);
            for r in receivers {
                assert_eq!(r.await.unwrap(), N);
            }
        });
        let (tx, mut rx) = broadcast::channel(1);
        let t = std::thread::spawn(move || rx.blocking_recv());
        tx.send(5).unwrap();
        assert_eq!(t.join().unwrap(), Ok(5));
    });
}

#[test]
fn an_always_ready_recv_loop_yields_to_other_tasks() {
    assert_yields(|flag| async move {
        let (tx, mut rx) = broadcast::channel(1);
        let mut n = 0u64;
        while !flag.load(SeqCst) {
            tx.send(n).unwrap();
            assert_eq!(rx.recv().await, Ok(n));
            n += 1;
            assert!(n < YIELD_LIMIT, "recv() never yielded");
        }
    });
}

#[test]
fn auto_traits_match_tokio() {
    fn send_sync<T: Send + Sync>() {}
    fn error<E: std::error::Error + Send + Sync + 'static>() {}
    send_sync::<Sender<Vec<u8>>>();
    send_sync::<Receiver<Vec<u8>>>();
    // Values are cloned under a lock, so `T: Send` suffices (no `Sync`).
    send_sync::<Sender<std::cell::Cell<u8>>>();
    send_sync::<Receiver<std::cell::Cell<u8>>>();
    error::<SendError<u8>>();
    error::<RecvError>();
    error::<TryRecvError>();
    fn send_future<F: std::future::Future + Send>(_: &F) {}
    let (tx, mut rx) = broadcast::channel::<u8>(1);
    send_future(&rx.recv());
    send_future(&tx.closed());
}
