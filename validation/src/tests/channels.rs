//! Channels in the wait-for graph, sender claims, and leaks.

use super::{serial, take, take_kind, thread, FakeTask};
use crate::{
    Access::*, ChannelKind, ChannelMeta, LockClass, LockKind, LockMeta, SenderClaim, ViolationKind,
};
use std::sync::mpsc::channel;
use std::sync::Arc;

#[test]
fn a_receiver_waiting_on_its_own_used_sender_deadlocks() {
    let _s = serial();
    let t = FakeTask::new("ch-self-recv");
    let chan = ChannelMeta::new(ChannelKind::Mpsc, Some(4));
    let tx = chan.new_sender();
    let v = t.enter(|| {
        tx.used(); // the task sent once, and keeps the sender
        chan.receiver_polled();
        let w = chan.recv_wait();
        let v = take_kind("ch-self-recv", ViolationKind::Deadlock);
        drop(w);
        v
    });
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].advice().contains("sender"));
}

#[test]
fn an_unused_sender_is_not_assumed_to_be_held_by_its_creator() {
    let _s = serial();
    // The common fixed pattern: clones are made here and moved into tasks
    // that have not run yet when the receiver starts waiting.
    let t = FakeTask::new("ch-fresh-clones");
    let chan = ChannelMeta::new(ChannelKind::Mpsc, Some(4));
    let tx = chan.new_sender();
    let clones: Vec<_> = (0..3).map(|_| tx.clone()).collect();
    drop(tx);
    t.enter(|| {
        let w = chan.recv_wait();
        drop(w);
    });
    assert!(take("ch-fresh-clones").is_empty());
    drop(clones);
}

#[test]
fn a_sender_and_receiver_waiting_across_a_lock_deadlock() {
    let _s = serial();
    static L: LockClass = LockClass::new("ch_lock_l");
    let l = Arc::new(LockMeta::with_class(LockKind::Mutex, &L));
    let chan = Arc::new(ChannelMeta::new(ChannelKind::Mpsc, Some(1)));
    let (ready, ready_rx) = channel();
    let (end, end_rx) = channel::<()>();
    let consumer = Arc::new(FakeTask::new("ch-consumer"));
    let (c, l1, ch1) = (consumer.clone(), l.clone(), chan.clone());
    // The consumer polls the receiver, then waits for the lock.
    let t1 = thread("ch-consumer-worker", move || {
        c.enter(|| {
            ch1.receiver_polled();
            let h = l1.acquire(Exclusive);
            let w = l1.wait(&h);
            ready.send(()).unwrap();
            end_rx.recv().unwrap();
            drop((w, h));
        })
    });
    ready_rx.recv().unwrap();
    // The producer holds the lock and sends into the full channel.
    let producer = FakeTask::new("ch-producer");
    let tx = chan.new_sender();
    let v = producer.enter(|| {
        let h = l.acquire(Exclusive);
        tx.used();
        let w = chan.send_wait();
        let v = take_kind("ch-producer", ViolationKind::Deadlock);
        drop((w, h));
        v
    });
    end.send(()).unwrap();
    t1.join().unwrap();
    assert_eq!(v.len(), 1, "{v:#?}");
    let text = v[0].to_string();
    assert!(
        text.contains("full") && text.contains("ch-consumer"),
        "{text}"
    );
}

#[test]
fn two_receivers_holding_each_others_senders_deadlock() {
    let _s = serial();
    let ch1 = Arc::new(ChannelMeta::new(ChannelKind::Mpsc, Some(1)));
    let ch2 = Arc::new(ChannelMeta::new(ChannelKind::UnboundedMpsc, None));
    let tx1 = ch1.new_sender();
    let tx2 = ch2.new_sender();
    let (ready, ready_rx) = channel();
    let (end, end_rx) = channel::<()>();
    let t1 = FakeTask::new("ch-pair-1");
    let (c1, c2) = (ch1.clone(), ch2.clone());
    // Task 1 keeps tx2 (used it) and waits on ch1.
    let th = thread("ch-pair-worker", move || {
        t1.enter(|| {
            tx2.used();
            let w = c1.recv_wait();
            ready.send(()).unwrap();
            end_rx.recv().unwrap();
            drop(w);
        });
        drop(tx2);
    });
    ready_rx.recv().unwrap();
    let t2 = FakeTask::new("ch-pair-2");
    let v = t2.enter(|| {
        tx1.used();
        let w = c2.recv_wait();
        let v = take_kind("ch-pair", ViolationKind::Deadlock);
        drop(w);
        v
    });
    end.send(()).unwrap();
    th.join().unwrap();
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(v[0].sides().len(), 2);
    drop(tx1);
}

#[test]
fn a_sender_moved_twice_becomes_unknown() {
    let _s = serial();
    let chan = ChannelMeta::new(ChannelKind::Mpsc, Some(1));
    let tx = chan.new_sender();
    let a = FakeTask::new("ch-move-a");
    let b = FakeTask::new("ch-move-b");
    a.enter(|| tx.used());
    assert_eq!(tx.holder().and_then(|c| c.task_id()), Some(a.id().get()));
    b.enter(|| tx.used()); // moved once: b holds it
    assert_eq!(tx.holder().and_then(|c| c.task_id()), Some(b.id().get()));
    a.enter(|| tx.used()); // used by both: shared, holder unknown
    assert_eq!(tx.holder(), None);
    // b now waits on its own channel: with an unknown sender, no verdict.
    b.enter(|| drop(chan.recv_wait()));
    assert!(take("ch-move").is_empty());
}

#[test]
fn claims_count_every_live_sender() {
    let chan = ChannelMeta::new(ChannelKind::Broadcast, Some(16));
    let inner = chan_inner(&chan);
    let t = FakeTask::new("ch-count");
    let a = chan.new_sender();
    let b = a.clone();
    assert_eq!(inner.senders(), (2, 2));
    t.enter(|| a.used());
    assert_eq!(inner.senders(), (2, 1));
    let (claimants, complete) = inner.claims_snapshot();
    assert_eq!(claimants.len(), 1);
    assert_eq!(Some(claimants[0].0), a.holder());
    assert!(
        claimants[0].1.file().ends_with("channels.rs"),
        "the site of the use"
    );
    assert!(!complete);
    drop(b);
    assert!(inner.claims_snapshot().1, "the only live sender is claimed");
    drop(a);
    assert_eq!(inner.senders(), (0, 0));
}

fn chan_inner(m: &ChannelMeta) -> Arc<crate::channel::ChannelInner> {
    m.inner_for_tests().expect("tracked")
}

#[test]
fn an_untracked_channel_costs_nothing_and_reports_nothing() {
    let prev = crate::set_thread_mode(Some(crate::Mode::Off));
    let chan = ChannelMeta::new(ChannelKind::Mpsc, Some(1));
    crate::set_thread_mode(prev);
    assert!(!chan.is_tracked());
    let tx = chan.new_sender();
    tx.used();
    assert!(!chan.recv_wait().is_tracked());
}

/// A channel cannot be full and empty at once: a registered send wait and a
/// registered receive wait on one channel mean one of them is over (its
/// waiter was handed a slot or a message and has not run yet), so the pair
/// closes no cycle — whichever of the two starts last.
#[test]
fn a_send_wait_and_a_receive_wait_on_one_channel_are_no_deadlock() {
    let _s = serial();
    for receiver_first in [true, false] {
        let chan = Arc::new(ChannelMeta::new(ChannelKind::Mpsc, Some(1)));
        let tx = Arc::new(chan.new_sender());
        let (ready, ready_rx) = channel();
        let (end, end_rx) = channel::<()>();
        let receiver = Arc::new(FakeTask::new("ch-pair-receiver"));
        let (r, ch1) = (receiver.clone(), chan.clone());
        let recv_side = move || {
            r.enter(|| {
                ch1.receiver_polled();
                let w = ch1.recv_wait();
                ready.send(()).unwrap();
                end_rx.recv().unwrap();
                drop(w);
            })
        };
        let sender = FakeTask::new("ch-pair-sender");
        let send_side = |tx: &SenderClaim| {
            sender.enter(|| {
                tx.used();
                chan.send_wait()
            })
        };
        let (t, w) = if receiver_first {
            let t = thread("ch-pair-recv-worker", recv_side);
            ready_rx.recv().unwrap();
            (t, send_side(&tx))
        } else {
            let w = send_side(&tx);
            let t = thread("ch-pair-recv-worker", recv_side);
            ready_rx.recv().unwrap();
            (t, w)
        };
        let v = take_kind("ch-pair", ViolationKind::Deadlock);
        end.send(()).unwrap();
        t.join().unwrap();
        drop(w);
        assert!(v.is_empty(), "receiver first: {receiver_first}: {v:#?}");
    }
}
