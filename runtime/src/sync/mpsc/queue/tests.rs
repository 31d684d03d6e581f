//! The queue's own tests, small enough for Miri (`cargo +nightly miri test
//! -p perf-runtime --lib sync::mpsc::queue`), which checks the `unsafe`
//! code: slot reads after writes, block reclamation, and that dropping the
//! queue drops every message and frees every block (Miri reports leaks).

use super::super::block::BLOCK_CAP;
use super::Queue;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// Counts its drops.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn pop<T>(q: &Queue<T>) -> Option<T> {
    // SAFETY: each test pops from one thread only.
    unsafe { q.pop() }
}

#[test]
fn fifo_across_blocks() {
    let q = Queue::new();
    let n = 3 * BLOCK_CAP + 5;
    for round in 0..2 {
        for i in 0..n {
            q.push(round * n + i);
        }
        assert_eq!(q.len(), n);
        for i in 0..n {
            assert_eq!(pop(&q), Some(round * n + i));
        }
        assert_eq!(pop(&q), None);
        assert!(q.is_empty());
    }
}

/// A sender between claim and write: `pop` reports nothing (without
/// waiting), even when a later slot is written, then takes both in order.
#[test]
fn claimed_slot_not_written_is_not_ready() {
    let q = Queue::new();
    q.push_preempted(0, || {
        assert_eq!(pop(&q), None);
        q.push(1);
        assert_eq!(pop(&q), None, "index 1 must not overtake index 0");
        assert_eq!(q.len(), 2);
    });
    assert_eq!(pop(&q), Some(0));
    assert_eq!(pop(&q), Some(1));
    assert_eq!(pop(&q), None);
}

/// The same at a block boundary: the preempted sender holds the last slot
/// of a block while later senders link and fill the next blocks (moving
/// the hint past the preempted sender's block).
#[test]
fn preempted_sender_at_a_block_boundary() {
    let q = Queue::new();
    for i in 0..BLOCK_CAP - 1 {
        q.push(i);
    }
    q.push_preempted(BLOCK_CAP - 1, || {
        for i in BLOCK_CAP..3 * BLOCK_CAP {
            q.push(i);
        }
        for i in 0..BLOCK_CAP - 1 {
            assert_eq!(pop(&q), Some(i));
        }
        assert_eq!(pop(&q), None);
    });
    for i in BLOCK_CAP - 1..3 * BLOCK_CAP {
        assert_eq!(pop(&q), Some(i));
    }
    assert_eq!(pop(&q), None);
}

/// Dropping the queue drops what was sent and not received: in the head
/// block (partly read), in later blocks, and with the hint ahead.
#[test]
fn drop_drops_unreceived_messages_and_frees_blocks() {
    let drops = Arc::new(AtomicUsize::new(0));
    let q = Queue::new();
    let n = 2 * BLOCK_CAP + 3;
    for _ in 0..n {
        q.push(Counted(drops.clone()));
    }
    for _ in 0..BLOCK_CAP + 1 {
        drop(pop(&q).unwrap());
    }
    assert_eq!(drops.load(SeqCst), BLOCK_CAP + 1);
    drop(q);
    assert_eq!(drops.load(SeqCst), n);

    // Every block read, none reclaimed yet, nothing left.
    let q = Queue::new();
    for _ in 0..BLOCK_CAP {
        q.push(Counted(drops.clone()));
    }
    while pop(&q).is_some() {}
    drop(q);
    assert_eq!(drops.load(SeqCst), n + BLOCK_CAP);
}

/// Senders on their own threads, the receiver polling without waiting:
/// nothing lost or duplicated, FIFO per sender.
#[test]
fn senders_on_threads() {
    const SENDERS: usize = 3;
    let per = if cfg!(miri) {
        2 * BLOCK_CAP
    } else {
        20 * BLOCK_CAP
    };
    let q = Arc::new(Queue::new());
    let threads: Vec<_> = (0..SENDERS)
        .map(|s| {
            let q = q.clone();
            std::thread::spawn(move || {
                for i in 0..per {
                    q.push((s, i));
                }
            })
        })
        .collect();
    let mut next = [0; SENDERS];
    let mut got = 0;
    while got < SENDERS * per {
        match pop(&q) {
            Some((s, i)) => {
                assert_eq!(i, next[s], "sender {s} out of order");
                next[s] += 1;
                got += 1;
            }
            None => std::thread::yield_now(),
        }
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(pop(&q), None);
    assert_eq!(next, [per; SENDERS]);
}

/// Senders still pushing when the queue is dropped by the last handle:
/// whatever the receiver did not take is dropped with the queue.
#[test]
fn queue_dropped_on_a_sender_thread() {
    let drops = Arc::new(AtomicUsize::new(0));
    let q = Arc::new(Queue::new());
    let n = BLOCK_CAP + 2;
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (q, drops) = (q.clone(), drops.clone());
            std::thread::spawn(move || {
                for _ in 0..n {
                    q.push(Counted(drops.clone()));
                }
            })
        })
        .collect();
    for _ in 0..3 {
        drop(pop(&q));
    }
    drop(q);
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(drops.load(SeqCst), 2 * n);
}
