//! Loom models of the mpsc core (claims, close from either end, the
//! receiver's waker) and of the oneshot state word.

use super::poll_once;
use crate::sync::{mpsc, oneshot};
use loom::future::block_on;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use loom::sync::Arc;
use loom::thread;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};

/// Two sends through a one-slot channel, then the sender drops: the
/// receiver gets both in order, then `None` (no lost wake on either side).
#[test]
fn loom_mpsc_bounded_send_recv_then_sender_drop() {
    super::model(|| {
        let (tx, mut rx) = mpsc::channel(1);
        let t = thread::spawn(move || {
            block_on(async {
                tx.send(1).await.unwrap();
                tx.send(2).await.unwrap();
            })
        });
        let got = block_on(async {
            let mut got = Vec::new();
            while let Some(v) = rx.recv().await {
                got.push(v);
            }
            got
        });
        assert_eq!(got, [1, 2]);
        t.join().unwrap();
    });
}

/// A send racing the receiver's registration, with the sender alive until
/// the message is received: only the send's own wake can reach a receiver
/// that found the queue empty (no close wakes it), so a lost wake-up hangs
/// the model (invariant 4: the `parked` flag, the two fences).
#[test]
fn loom_mpsc_send_wakes_parked_receiver() {
    super::model(|| {
        let (tx, mut rx) = mpsc::channel(2);
        let received = Arc::new(AtomicUsize::new(0));
        let seen = received.clone();
        let t = thread::spawn(move || {
            for v in 1..=2 {
                block_on(tx.send(v)).unwrap();
                while seen.load(Acquire) < v {
                    thread::yield_now();
                }
            }
            drop(tx);
        });
        for v in 1..=2 {
            assert_eq!(block_on(rx.recv()), Some(v));
            received.store(v, Release);
        }
        t.join().unwrap();
    });
}

/// A sender preempted between claiming its queue slot and writing it,
/// while the receiver polls. The receiver must not wait for the write: the
/// sender goes on only once that poll returned, so a receiver that spun
/// would never return. It must return `Pending` with its waker registered,
/// and the write must wake that very waker: the receiver then parks until
/// its waker runs, without polling again, and the sender's handle outlives
/// the receive, so no close can wake the receiver instead. (A lost wake
/// leaves the receiver parked with the sender done: loom's deadlock.)
#[test]
fn loom_mpsc_receiver_does_not_wait_for_preempted_sender() {
    struct Flag {
        woken: AtomicBool,
        receiver: thread::Thread,
    }
    impl Wake for Flag {
        fn wake(self: std::sync::Arc<Self>) {
            self.woken.store(true, Release);
            self.receiver.unpark();
        }
    }
    super::model(|| {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let claimed = Arc::new(AtomicBool::new(false));
        let polled = Arc::new(AtomicBool::new(false));
        let receiver = thread::current();
        let t = {
            let (claimed, polled) = (claimed.clone(), polled.clone());
            thread::spawn(move || {
                tx.send_preempted(1, || {
                    claimed.store(true, Release);
                    receiver.unpark();
                    while !polled.load(Acquire) {
                        thread::park();
                    }
                })
                .unwrap();
                // Kept alive: dropping the last sender would wake the
                // receiver on its own.
                tx
            })
        };
        while !claimed.load(Acquire) {
            thread::park();
        }
        let flag = std::sync::Arc::new(Flag {
            woken: AtomicBool::new(false),
            receiver: thread::current(),
        });
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut recv = pin!(rx.recv());
        assert_eq!(recv.as_mut().poll(&mut cx), Poll::Pending);
        polled.store(true, Release);
        t.thread().unpark();
        while !flag.woken.load(Acquire) {
            thread::park();
        }
        assert_eq!(recv.as_mut().poll(&mut cx), Poll::Ready(Some(1)));
        drop(t.join().unwrap());
    });
}

/// Two senders filling, linking and passing blocks (two slots each under
/// loom: three messages span two) while the receiver takes messages and
/// frees the block behind it: every message arrives once, in order per
/// sender.
#[test]
fn loom_mpsc_senders_cross_blocks_while_receiving() {
    super::model(|| {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let tx2 = tx.clone();
        let a = thread::spawn(move || {
            tx.send(10).unwrap();
            tx.send(11).unwrap();
        });
        let b = thread::spawn(move || tx2.send(20).unwrap());
        let got = block_on(async {
            let mut got = Vec::new();
            while let Some(v) = rx.recv().await {
                got.push(v);
            }
            got
        });
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(got.len(), 3, "{got:?}");
        let pos = |v| got.iter().position(|&x| x == v).unwrap();
        assert!(pos(10) < pos(11), "{got:?}");
        assert!(got.contains(&20), "{got:?}");
    });
}

/// `close` racing a send: a send that succeeded is received; one that
/// failed is not; either way the receiver ends.
#[test]
fn loom_mpsc_close_races_send_loses_nothing() {
    super::model(|| {
        let (tx, mut rx) = mpsc::channel(1);
        let t = thread::spawn(move || block_on(tx.send(7)).is_ok());
        rx.close();
        let got = block_on(async {
            let mut got = Vec::new();
            while let Some(v) = rx.recv().await {
                got.push(v);
            }
            got
        });
        let sent = t.join().unwrap();
        assert_eq!(got, if sent { vec![7] } else { vec![] });
    });
}

/// Dropping the receiver wakes a sender waiting for capacity, which fails.
#[test]
fn loom_mpsc_receiver_drop_wakes_waiting_sender() {
    super::model(|| {
        let (tx, rx) = mpsc::channel(1);
        tx.try_send(0).unwrap();
        let t = thread::spawn(move || block_on(tx.send(1)).is_err());
        drop(rx);
        assert!(t.join().unwrap());
    });
}

/// A reservation dropped after the receiver closed: the receiver waits
/// for it, then ends.
#[test]
fn loom_mpsc_unsent_permit_after_close() {
    super::model(|| {
        let (tx, mut rx) = mpsc::channel::<u8>(1);
        let t = thread::spawn(move || {
            if let Ok(p) = tx.try_reserve() {
                drop(p);
            }
        });
        rx.close();
        assert_eq!(block_on(rx.recv()), None);
        t.join().unwrap();
    });
}

/// Unbounded: a send racing the receiver's close and drain.
#[test]
fn loom_mpsc_unbounded_send_races_close() {
    super::model(|| {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let t = thread::spawn(move || tx.send(1).is_ok());
        rx.close();
        let first = block_on(rx.recv());
        let sent = t.join().unwrap();
        assert_eq!(first, sent.then_some(1));
        assert_eq!(block_on(rx.recv()), None);
    });
}

/// A cancelled `recv` (polled, then dropped) followed by a real one: the
/// message is not lost.
#[test]
fn loom_mpsc_cancelled_recv_loses_nothing() {
    super::model(|| {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let t = thread::spawn(move || tx.send(3).unwrap());
        let first = {
            let mut fut = pin!(rx.recv());
            match poll_once(fut.as_mut()) {
                Poll::Ready(v) => v,
                Poll::Pending => None,
            }
        };
        let v = match first {
            Some(v) => v,
            None => block_on(rx.recv()).unwrap(),
        };
        assert_eq!(v, 3);
        t.join().unwrap();
    });
}

/// Send racing the receive.
#[test]
fn loom_oneshot_send_races_recv() {
    super::model(|| {
        let (tx, rx) = oneshot::channel();
        let t = thread::spawn(move || tx.send(5).unwrap());
        assert_eq!(block_on(rx), Ok(5));
        t.join().unwrap();
    });
}

/// The receiver, pending with one waker, is polled again from another task
/// (a different waker) while the send races: the replacement never loses
/// the wake-up, whichever side gets to the waker slot first.
#[test]
fn loom_oneshot_recv_changes_waker_while_send_races() {
    super::model(|| {
        let (tx, rx) = oneshot::channel();
        let mut rx = pin!(rx);
        let first = poll_once(rx.as_mut());
        let t = thread::spawn(move || tx.send(7).unwrap());
        match first {
            Poll::Ready(v) => assert_eq!(v, Ok(7)),
            // `block_on`'s waker is not the no-op one `poll_once` stored.
            Poll::Pending => assert_eq!(block_on(rx), Ok(7)),
        }
        t.join().unwrap();
    });
}

/// `close` racing `send`: a successful send is still received after the
/// close; a refused one hands the value back. Never both, never neither.
#[test]
fn loom_oneshot_close_races_send() {
    super::model(|| {
        let (tx, mut rx) = oneshot::channel();
        let t = thread::spawn(move || tx.send(String::from("v")).is_ok());
        rx.close();
        let sent = t.join().unwrap();
        match rx.try_recv() {
            Ok(v) => assert!(sent && v == "v"),
            Err(oneshot::error::TryRecvError::Closed) => assert!(!sent),
            Err(e) => panic!("after the sender finished: {e}"),
        }
    });
}

/// The receiver dropping wakes the sender's `closed()`; the sender dropping
/// ends the receiver's wait.
#[test]
fn loom_oneshot_drops_wake_the_other_side() {
    super::model(|| {
        let (mut tx, rx) = oneshot::channel::<u8>();
        let t = thread::spawn(move || block_on(tx.closed()));
        drop(rx);
        t.join().unwrap();

        let (tx, rx) = oneshot::channel::<u8>();
        let t = thread::spawn(move || drop(tx));
        assert!(block_on(rx).is_err());
        t.join().unwrap();
    });
}

/// Two senders contending for one slot while the receiver drains: both
/// messages arrive, each sender's waker is served.
#[test]
fn loom_mpsc_two_senders_one_slot() {
    super::model(|| {
        let (tx, mut rx) = mpsc::channel(1);
        let tx2 = tx.clone();
        let a = thread::spawn(move || block_on(tx.send(1)).unwrap());
        let b = thread::spawn(move || block_on(tx2.send(2)).unwrap());
        let mut got = block_on(async {
            let mut got = Vec::new();
            while let Some(v) = rx.recv().await {
                got.push(v);
            }
            got
        });
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        a.join().unwrap();
        b.join().unwrap();
    });
}
