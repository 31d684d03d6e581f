//! `sync::oneshot`: delivery in both orders, the sender or receiver going
//! away, `close` (a value sent before it is still delivered), `closed()`,
//! `try_recv`, cancellation of an await (the value is not lost), drops of
//! undelivered values, the blocking call, the cooperative budget, and the
//! auto traits.

mod sync_support;

use perf_runtime::sync::oneshot::{self, error::RecvError, error::TryRecvError, Receiver, Sender};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use sync_support::*;

#[test]
fn send_before_or_after_the_receiver_waits() {
    let (tx, rx) = oneshot::channel();
    tx.send(1).unwrap();
    assert_eq!(task(rx).ready(), Ok(1));

    let (tx, rx) = oneshot::channel();
    let mut r = task(rx);
    r.pending();
    tx.send(2).unwrap();
    assert!(r.is_woken());
    assert_eq!(r.ready(), Ok(2));
}

#[test]
fn a_dropped_sender_ends_the_wait_with_an_error() {
    let (tx, mut rx) = oneshot::channel::<u8>();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    let mut r = task(rx);
    r.pending();
    drop(tx);
    assert!(r.is_woken());
    let e: RecvError = r.ready().unwrap_err();
    assert!(e.to_string().contains("dropped without sending"), "{e}");
}

#[test]
fn a_dropped_receiver_hands_the_value_back_and_wakes_closed() {
    let (mut tx, rx) = oneshot::channel();
    let mut closed = task(async move {
        tx.closed().await;
        tx
    });
    closed.pending();
    drop(rx);
    assert!(closed.is_woken());
    let tx: Sender<String> = closed.ready();
    assert!(tx.is_closed());
    assert_eq!(tx.send("v".to_string()), Err("v".to_string()));
}

#[test]
fn close_refuses_later_sends_but_keeps_an_earlier_value() {
    let (tx, mut rx) = oneshot::channel();
    rx.close();
    assert!(tx.is_closed());
    assert_eq!(tx.send(1), Err(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));

    let (tx, mut rx) = oneshot::channel();
    tx.send(2).unwrap();
    rx.close();
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed), "already received");

    let (tx, mut rx) = oneshot::channel::<u8>();
    rx.close();
    assert!(task(rx).ready().is_err(), "closed and never sent");
    drop(tx);
}

#[test]
fn a_cancelled_await_does_not_lose_the_value() {
    let (tx, mut rx) = oneshot::channel();
    {
        let mut r = task(&mut rx);
        r.pending();
    } // the awaiting future (a borrow) is dropped
    tx.send(5).unwrap();
    assert_eq!(task(rx).ready(), Ok(5));
}

struct CountDrops(Arc<AtomicUsize>);

impl Drop for CountDrops {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn values_are_dropped_exactly_once_on_every_path() {
    let drops = Arc::new(AtomicUsize::new(0));
    // Sent, never received: dropped with the receiver.
    let (tx, rx) = oneshot::channel();
    tx.send(CountDrops(drops.clone())).ok().unwrap();
    assert_eq!(drops.load(SeqCst), 0);
    drop(rx);
    assert_eq!(drops.load(SeqCst), 1);
    // Refused: handed back, not dropped by the channel.
    let (tx, rx) = oneshot::channel();
    drop(rx);
    let back = tx.send(CountDrops(drops.clone())).err().unwrap();
    assert_eq!(drops.load(SeqCst), 1);
    drop(back);
    assert_eq!(drops.load(SeqCst), 2);
    // Received: owned by the caller.
    let (tx, rx) = oneshot::channel();
    tx.send(CountDrops(drops.clone())).ok().unwrap();
    let v = task(rx).ready().ok().unwrap();
    assert_eq!(drops.load(SeqCst), 2);
    drop(v);
    assert_eq!(drops.load(SeqCst), 3);
}

#[test]
fn round_trips_across_workers_and_blocking_recv() {
    within(|| {
        let rt = multi_thread();
        rt.block_on(async {
            for i in 0..1000 {
                let (tx, rx) = oneshot::channel();
                perf_runtime::spawn(async move { tx.send(i).unwrap() });
                assert_eq!(rx.await, Ok(i));
            }
        });
        let (tx, rx) = oneshot::channel();
        let t = std::thread::spawn(move || rx.blocking_recv());
        tx.send(3).unwrap();
        assert_eq!(t.join().unwrap(), Ok(3));
        let (_tx, rx) = oneshot::channel::<u8>();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(async { rx.blocking_recv() })
        }));
        assert!(r.is_err(), "blocking_recv inside a runtime panics");
    });
}

#[test]
fn an_always_ready_receive_loop_yields_to_other_tasks() {
    assert_yields(|flag| async move {
        let mut n = 0;
        while !flag.load(SeqCst) {
            let (tx, rx) = oneshot::channel();
            tx.send(n).unwrap();
            assert_eq!(rx.await, Ok(n));
            n += 1;
            assert!(n < YIELD_LIMIT, "awaiting a ready oneshot never yielded");
        }
    });
}

#[test]
fn auto_traits_match_tokio() {
    fn send_sync<T: Send + Sync>() {}
    fn error<E: std::error::Error + Send + Sync + 'static>() {}
    send_sync::<Sender<Vec<u8>>>();
    send_sync::<Receiver<Vec<u8>>>();
    send_sync::<Sender<std::cell::Cell<u8>>>();
    error::<RecvError>();
    error::<TryRecvError>();
    fn unpin<T: Unpin>() {}
    unpin::<Receiver<u8>>();
}
