//! The channels report to the validation engine on real runtimes: deadlocks
//! through channels (receivers waiting on each other's senders, full
//! channels in both directions, a receiver holding its own sender), waits
//! nothing can end once every task is blocked (past
//! `Builder::stall_threshold`), the idioms never reported (a receiver
//! dropped with messages queued, a oneshot sender dropped to cancel, unread
//! broadcast values), busy channels never mistaken for deadlocks, and `Off`
//! tracking nothing.

mod validation_support;

use perf_runtime::sync::{broadcast, mpsc, oneshot, Barrier, Mutex};
use perf_runtime::task;
use perf_runtime::validation::{self, Mode, ViolationKind::*};
use std::future::poll_fn;
use std::sync::Arc;
use validation_support::*;

const FILE: &str = file!();
const SRC: &str = include_str!("validation_channels.rs");

fn at(marker: &str) -> u32 {
    line_of(SRC, marker)
}

#[test]
fn two_tasks_each_awaiting_the_others_channel_deadlock() {
    let _s = serial();
    within(|| {
        let rt = multi(Mode::Report);
        let (to_pong, mut pong_rx) = mpsc::unbounded_channel::<u32>();
        let (to_ping, mut ping_rx) = mpsc::unbounded_channel::<u32>();
        let _ping = rt.spawn(async move {
            task::Builder::new()
                .name("ping")
                .spawn(async move {
                    to_pong.send(1).unwrap(); // @ping-send
                    ping_rx.recv().await;
                    // Waits for a second message while keeping `to_pong`.
                    ping_rx.recv().await // @ping-recv
                })
                .unwrap()
                .await
        });
        let _pong = rt.spawn(async move {
            task::Builder::new()
                .name("pong")
                .spawn(async move {
                    to_ping.send(1).unwrap(); // @pong-send
                    pong_rx.recv().await;
                    pong_rx.recv().await // @pong-recv
                })
                .unwrap()
                .await
        });
        let lines = ["@ping-send", "@ping-recv", "@pong-send", "@pong-recv"].map(at);
        let mut reports = await_report(Deadlock, FILE, lines[1]);
        reports.extend(take_at(FILE, &lines));
        let v = only(Deadlock, &reports);
        for l in lines {
            assert!(v.mentions(FILE, l), "line {l}: {v}");
        }
        let names = names(&v);
        assert!(
            names.contains(&"ping".into()) && names.contains(&"pong".into()),
            "{v}"
        );
        assert!(v.to_string().contains("waits to receive"), "{v}");
        drop(rt);
    });
}

#[test]
fn two_tasks_sending_into_each_others_full_channel_deadlock() {
    let _s = serial();
    within(|| {
        let rt = multi(Mode::Report);
        let (tx_ab, mut rx_ab) = mpsc::channel::<u32>(1);
        let (tx_ba, mut rx_ba) = mpsc::channel::<u32>(1);
        // Each task first takes its receiver (polls it), then fills the
        // other's channel and sends once more.
        let owned = Arc::new(Barrier::new(2));
        let o = owned.clone();
        rt.spawn(async move {
            assert!(rx_ba.try_recv().is_err()); // @a-owns
            o.wait().await;
            tx_ab.send(1).await.unwrap();
            tx_ab.send(2).await.unwrap(); // @a-send
            drop(rx_ba);
        });
        let o = owned.clone();
        rt.spawn(async move {
            assert!(rx_ab.try_recv().is_err()); // @b-owns
            o.wait().await;
            tx_ba.send(1).await.unwrap();
            tx_ba.send(2).await.unwrap(); // @b-send
            drop(rx_ab);
        });
        let lines = ["@a-owns", "@a-send", "@b-owns", "@b-send"].map(at);
        let mut reports = await_report(Deadlock, FILE, lines[1]);
        reports.extend(take_at(FILE, &lines));
        let v = only(Deadlock, &reports);
        for l in lines {
            assert!(v.mentions(FILE, l), "line {l}: {v}");
        }
        assert!(v.to_string().contains("(full)"), "{v}");
        drop(rt);
    });
}

#[test]
fn a_task_receiving_while_it_holds_the_only_sender_panics_in_panic_mode() {
    let _s = serial();
    within(|| {
        let rt = multi(Mode::Panic);
        let res = rt.block_on(rt.spawn(async {
            let (tx, mut rx) = mpsc::channel::<u32>(4);
            tx.send(1).await.unwrap(); // @self-send
            rx.recv().await;
            rx.recv().await // @self-recv
        }));
        let err = res.expect_err("the second recv never completes");
        assert!(err.is_panic(), "{err:?}");
        let msg = panic_message(&*err.into_panic());
        assert!(
            msg.contains("[Deadlock]") && msg.contains("waits for itself"),
            "{msg}"
        );
        for marker in ["@self-send", "@self-recv"] {
            assert!(
                msg.contains(&format!("{FILE}:{}:", at(marker))),
                "{marker}: {msg}"
            );
        }
        take_at(FILE, &[at("@self-recv")]);
    });
}

#[test]
fn a_wait_through_poll_recv_is_registered_at_its_caller() {
    let _s = serial();
    within(|| {
        let rt = multi(Mode::Report);
        rt.spawn(async {
            let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
            tx.send(1).unwrap();
            rx.recv().await;
            poll_fn(|cx| rx.poll_recv(cx)).await // @poll-recv
        });
        let v = only(Deadlock, &await_report(Deadlock, FILE, at("@poll-recv")));
        assert!(v.to_string().contains("waits for itself"), "{v}");
        drop(rt);
    });
}

#[test]
fn a_receive_nothing_in_the_runtime_can_end_is_reported_once_every_task_is_blocked() {
    let _s = serial();
    within(|| {
        let rt = stalling();
        let (tx, mut rx) = mpsc::channel::<u32>(1); // @stall-chan
        let h = rt.spawn(async move {
            rx.recv().await // @stall-recv
        });
        // The sender is alive and never used: no deadlock can be proved,
        // but no task of the runtime can run (the sender is held outside
        // it), so the wait is stuck as far as the runtime can tell.
        let v = only(
            ChannelStall,
            &await_report(ChannelStall, FILE, at("@stall-recv")),
        );
        assert!(v.mentions(FILE, at("@stall-chan")), "{v}");
        assert!(v.to_string().contains("to receive"), "{v}");
        rt.block_on(tx.send(7)).unwrap();
        assert_eq!(rt.block_on(h).unwrap(), Some(7));
    });
}

#[test]
fn a_send_into_a_channel_no_task_drains_is_reported_once_every_task_is_blocked() {
    let _s = serial();
    within(|| {
        let rt = stalling();
        let (tx, rx) = mpsc::channel::<u32>(1);
        tx.try_send(0).unwrap();
        let h = rt.spawn(async move {
            tx.send(1).await // @stall-send
        });
        let v = only(
            ChannelStall,
            &await_report(ChannelStall, FILE, at("@stall-send")),
        );
        assert!(
            v.to_string().contains("to send") && v.to_string().contains("capacity 1"),
            "{v}"
        );
        drop(rx);
        assert!(rt.block_on(h).unwrap().is_err(), "the receiver is gone");
        take_at(FILE, &[at("@stall-send")]);
    });
}

/// Dropping a receiver with messages queued (the reader took what it
/// needed) is an idiom: never a report, whatever is lost.
#[test]
fn an_mpsc_receiver_dropped_with_messages_queued_is_not_reported() {
    let _s = serial();
    within(|| {
        let rt = current(Mode::Panic);
        rt.block_on(rt.spawn(async {
            let (tx, mut rx) = mpsc::channel::<u32>(8); // @queued-bounded
            for i in 0..3 {
                tx.send(i).await.unwrap();
            }
            assert_eq!(rx.recv().await, Some(0));
            drop(rx);
            assert!(tx.send(9).await.is_err(), "the receiver is gone");
            let (tx, rx) = mpsc::unbounded_channel::<u32>(); // @queued-unbounded
            tx.send(1).unwrap();
            drop(rx);
        }))
        .unwrap();
        let lines = [at("@queued-bounded"), at("@queued-unbounded")];
        assert!(take_at(FILE, &lines).is_empty());
    });
}

/// Dropping a oneshot sender unsent is how a oneshot cancels: the waiting
/// receiver gets `RecvError`, and nothing is reported.
#[test]
fn a_oneshot_sender_dropped_unsent_while_its_receiver_waits_is_a_cancellation() {
    let _s = serial();
    within(|| {
        let rt = multi(Mode::Panic);
        let (tx, rx) = oneshot::channel::<u32>(); // @os-chan
        #[allow(clippy::redundant_async_block)] // the `.await` is the site checked
        let h = rt.spawn(async move {
            rx.await // @os-await
        });
        await_waits(1);
        drop(tx);
        assert!(
            rt.block_on(h).unwrap().is_err(),
            "the receiver sees the drop"
        );
        assert!(take_at(FILE, &[at("@os-chan"), at("@os-await")]).is_empty());
    });
}

/// A receiver that gave up (dropped with a value sent and never taken) is
/// not reported either.
#[test]
fn a_oneshot_value_never_received_is_not_reported() {
    let _s = serial();
    within(|| {
        let (tx, rx) = oneshot::channel::<u32>(); // @os-lost
        tx.send(1).unwrap();
        drop(rx);
        let (tx, rx) = oneshot::channel::<u32>(); // @os-kept
        tx.send(1).unwrap();
        assert_eq!(current(Mode::Panic).block_on(rx), Ok(1));
        assert!(take_at(FILE, &[at("@os-lost"), at("@os-kept")]).is_empty());
    });
}

/// Values the last broadcast receiver never read (a shutdown message after
/// it finished) are dropped with it, unreported.
#[test]
fn the_last_broadcast_receiver_dropped_with_unread_values_is_not_reported() {
    let _s = serial();
    within(|| {
        let (tx, rx1) = broadcast::channel::<u32>(4); // @bc-chan
        let mut rx2 = tx.subscribe();
        tx.send(1).unwrap();
        tx.send(2).unwrap(); // @bc-send
        drop(rx1);
        assert_eq!(rx2.try_recv(), Ok(1));
        drop(rx2);
        assert!(take_at(FILE, &[at("@bc-chan"), at("@bc-send")]).is_empty());
    });
}

#[test]
fn a_broadcast_receiver_waiting_on_its_own_sender_deadlocks() {
    let _s = serial();
    within(|| {
        let rt = multi(Mode::Report);
        rt.spawn(async {
            let (tx, mut rx) = broadcast::channel::<u32>(4);
            tx.send(1).unwrap(); // @bc-self-send
            rx.recv().await.unwrap();
            rx.recv().await // @bc-self-recv
        });
        let v = only(Deadlock, &await_report(Deadlock, FILE, at("@bc-self-recv")));
        assert!(v.mentions(FILE, at("@bc-self-send")), "{v}");
        drop(rt);
    });
}

#[test]
fn busy_bounded_channels_are_never_mistaken_for_deadlocks() {
    let _s = serial();
    within(|| {
        // Panic mode: any report fails the test.
        let rt = multi(Mode::Panic);
        for round in 0..3 {
            let total = rt.block_on(async {
                let (tx, mut rx) = mpsc::channel::<usize>(1);
                let producers: Vec<_> = (0..4)
                    .map(|p| {
                        let tx = tx.clone();
                        perf_runtime::spawn(async move {
                            for i in 0..500 {
                                tx.send(p * 1000 + i).await.unwrap();
                            }
                        })
                    })
                    .collect();
                drop(tx);
                let mut n = 0;
                while rx.recv().await.is_some() {
                    n += 1;
                }
                for p in producers {
                    p.await.unwrap();
                }
                n
            });
            assert_eq!(total, 2000, "round {round}");
        }
    });
}

/// Waits (yielding) until the engine has `n` waits registered: on a
/// current_thread runtime, until the spawned tasks have run into theirs.
async fn until_waits(n: usize) {
    for _ in 0..10_000 {
        if validation::stats().active_waits >= n {
            return;
        }
        task::yield_now().await;
    }
    panic!("{n} waits were never registered");
}

// The next three run on a current_thread runtime, so a task woken by the
// test body cannot run before the body's next wait starts: the wait it was
// woken from must already be over, or the engine would see it waiting for
// the body while the body waits for it. Panic mode: any report fails.

#[test]
fn a_sender_handed_a_slot_no_longer_waits_for_the_receiver() {
    let _s = serial();
    within(|| {
        let rt = current(Mode::Panic);
        rt.block_on(async {
            let lock = Arc::new(Mutex::new(()));
            let (tx, mut rx) = mpsc::channel::<u32>(1);
            tx.send(0).await.unwrap();
            let l = lock.clone();
            let producer = perf_runtime::spawn(async move {
                let g = l.lock().await;
                tx.send(1).await.unwrap(); // waits: the channel is full
                drop(g);
            });
            until_waits(1).await;
            assert_eq!(rx.recv().await, Some(0)); // room: the producer's slot
            let _g = lock.lock().await; // waits for the producer, not stuck
            assert_eq!(rx.recv().await, Some(1));
            producer.await.unwrap();
        });
    });
}

#[test]
fn a_receiver_handed_a_message_no_longer_waits_for_its_senders() {
    let _s = serial();
    within(|| {
        let rt = current(Mode::Panic);
        rt.block_on(async {
            let lock = Arc::new(Mutex::new(()));
            let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
            tx.send(0).unwrap(); // the body holds a used sender
            let l = lock.clone();
            let consumer = perf_runtime::spawn(async move {
                let g = l.lock().await;
                assert_eq!(rx.recv().await, Some(0));
                let got = rx.recv().await; // waits, holding the lock
                drop(g);
                got
            });
            until_waits(1).await;
            tx.send(1).unwrap(); // ends the consumer's wait
            let _g = lock.lock().await; // waits for the consumer, not stuck
            assert_eq!(consumer.await.unwrap(), Some(1));
        });
    });
}

#[test]
fn a_broadcast_receiver_handed_a_value_no_longer_waits_for_its_senders() {
    let _s = serial();
    within(|| {
        let rt = current(Mode::Panic);
        rt.block_on(async {
            let lock = Arc::new(Mutex::new(()));
            let (tx, mut rx) = broadcast::channel::<u32>(4);
            tx.send(0).unwrap();
            let l = lock.clone();
            let consumer = perf_runtime::spawn(async move {
                let g = l.lock().await;
                assert_eq!(rx.recv().await, Ok(0));
                let got = rx.recv().await;
                drop(g);
                got
            });
            until_waits(1).await;
            tx.send(1).unwrap();
            let _g = lock.lock().await;
            assert_eq!(consumer.await.unwrap(), Ok(1));
        });
    });
}

#[test]
fn mode_off_channels_report_nothing() {
    let _s = serial();
    within(|| {
        let rt = multi(Mode::Off);
        let lines = rt
            .block_on(rt.spawn(async {
                let (tx, rx) = mpsc::channel::<u32>(8);
                tx.send(1).await.unwrap();
                drop(rx); // @off-leak
                let (tx, rx) = oneshot::channel::<u32>();
                tx.send(1).unwrap();
                drop(rx); // @off-os
                let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
                tx.send(1).unwrap();
                rx.recv().await;
                let timed_out = perf_runtime::time::timeout(
                    std::time::Duration::from_millis(5),
                    rx.recv(), // @off-self
                )
                .await
                .is_err();
                assert!(timed_out);
            }))
            .map(|()| ["@off-leak", "@off-os", "@off-self"].map(at))
            .unwrap();
        assert!(take_at(FILE, &lines).is_empty(), "Off reports nothing");
        assert_eq!(validation::stats().active_waits, 0);
    });
}
