//! Loom models of `watch` (version bump vs. `changed`, close) and
//! `broadcast` (slots, waiters, lag, close).

use super::poll_once;
use crate::sync::{broadcast, watch};
use loom::future::block_on;
use loom::thread;
use std::pin::pin;

/// A send racing `changed`: the change is seen, with its value.
#[test]
fn loom_watch_send_races_changed() {
    super::model(|| {
        let (tx, mut rx) = watch::channel(0);
        let t = thread::spawn(move || {
            tx.send(1).unwrap();
            tx
        });
        block_on(rx.changed()).unwrap();
        assert_eq!(*rx.borrow_and_update(), 1);
        let tx = t.join().unwrap();
        drop(tx);
        assert!(block_on(rx.changed()).is_err());
    });
}

/// The last sender dropping wakes a waiting `changed` with an error.
#[test]
fn loom_watch_sender_drop_ends_changed() {
    super::model(|| {
        let (tx, mut rx) = watch::channel(0);
        let t = thread::spawn(move || drop(tx));
        assert!(block_on(rx.changed()).is_err());
        t.join().unwrap();
    });
}

/// Two sends racing a receiver: values in order, then `Closed`.
#[test]
fn loom_broadcast_send_races_recv() {
    super::model(|| {
        let (tx, mut rx) = broadcast::channel(2);
        let t = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        });
        assert_eq!(block_on(rx.recv()), Ok(1));
        assert_eq!(block_on(rx.recv()), Ok(2));
        assert_eq!(
            block_on(rx.recv()),
            Err(broadcast::error::RecvError::Closed)
        );
        t.join().unwrap();
    });
}

/// Three sends into one slot: whatever interleaving, the receiver accounts
/// for every value exactly once, as received or as lagged, in order.
#[test]
fn loom_broadcast_lag_accounts_for_every_value() {
    super::model(|| {
        let (tx, mut rx) = broadcast::channel(1);
        let t = thread::spawn(move || {
            for i in 0..3u64 {
                tx.send(i).unwrap();
            }
        });
        let mut accounted = 0u64;
        loop {
            match block_on(rx.recv()) {
                Ok(v) => {
                    assert_eq!(v, accounted, "values arrive in order");
                    accounted += 1;
                }
                Err(broadcast::error::RecvError::Lagged(n)) => accounted += n,
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
        assert_eq!(accounted, 3);
        t.join().unwrap();
    });
}

/// A `recv` queued and then dropped while a send dequeues it: the node is
/// unlinked exactly once and the value stays for the next `recv`.
#[test]
fn loom_broadcast_dropped_recv_races_send() {
    super::model(|| {
        let (tx, mut rx) = broadcast::channel(1);
        let t = thread::spawn(move || {
            tx.send(9).unwrap();
            tx
        });
        let early = {
            let mut fut = pin!(rx.recv());
            match poll_once(fut.as_mut()) {
                std::task::Poll::Ready(v) => Some(v.unwrap()),
                std::task::Poll::Pending => None,
            }
        };
        let v = match early {
            Some(v) => v,
            None => block_on(rx.recv()).unwrap(),
        };
        assert_eq!(v, 9);
        drop(t.join().unwrap());
    });
}

/// The last receiver dropping wakes `Sender::closed`.
#[test]
fn loom_watch_receiver_drop_wakes_closed() {
    super::model(|| {
        let (tx, rx) = watch::channel(0);
        let rx2 = rx.clone();
        let t = thread::spawn(move || drop(rx2));
        drop(rx);
        block_on(tx.closed());
        t.join().unwrap();
    });
}
