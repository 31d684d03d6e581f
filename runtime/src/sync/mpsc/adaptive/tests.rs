//! The adaptive channel's protocol: loom models (`loom_*`, run by
//! `.ci/loom.sh`) of a shrink below the occupancy racing sends, receives,
//! a grow and a close; and deterministic tests of the policy on one thread
//! (pressure from a cell of the test's own).

#[cfg(perf_runtime_loom)]
mod loom_models {
    use crate::container::{PressureCell, PressureLevel};
    use crate::sync::mpsc::error::TrySendError;
    use crate::sync::tests::model;
    use loom::future::block_on;
    use loom::thread;

    /// A receive racing a shrink that leaves a debt (the channel is full):
    /// whichever of the receive's release and the shrink's forget comes
    /// first, at rest nothing is both free and owed (invariant 3), and the
    /// one slot left under the new bound is the one message still queued.
    #[test]
    fn loom_adaptive_shrink_races_receive() {
        model(|| {
            let (tx, mut rx) = super::super::adaptive_with::<u32>(1, 4, None);
            tx.force_bound(2);
            tx.try_send(1).unwrap();
            tx.try_send(2).unwrap();
            let shrink = {
                let tx = tx.clone();
                thread::spawn(move || tx.force_bound(1))
            };
            assert_eq!(rx.try_recv(), Ok(1));
            shrink.join().unwrap();
            tx.assert_at_rest(1);
            assert!(matches!(tx.try_send(3), Err(TrySendError::Full(3))));
            assert_eq!(rx.try_recv(), Ok(2));
            tx.assert_at_rest(0);
            tx.try_send(3).unwrap();
        });
    }

    /// A sender sends three messages, shrinking the channel below its
    /// occupancy and growing it back between them, while the receiver
    /// receives: the receiver gets each once, in order, and the accounting
    /// is exact at the end.
    #[test]
    fn loom_adaptive_no_message_lost_while_resizing() {
        model(|| {
            let (tx, mut rx) = super::super::adaptive_with::<u32>(1, 4, None);
            tx.force_bound(2);
            let sender = {
                let tx = tx.clone();
                thread::spawn(move || {
                    block_on(async {
                        tx.send(1).await.unwrap();
                        tx.send(2).await.unwrap();
                        tx.force_bound(1);
                        tx.send(3).await.unwrap();
                        tx.force_bound(2);
                    })
                })
            };
            let mut got = Vec::new();
            for _ in 0..3 {
                got.push(block_on(rx.recv()).unwrap());
            }
            assert_eq!(got, [1, 2, 3]);
            sender.join().unwrap();
            tx.assert_at_rest(0);
            assert_eq!(tx.capacity(), 2);
        });
    }

    /// A permit granted before a shrink below the occupancy stays valid,
    /// and a receiver that closes meanwhile waits for it: it gets every
    /// message, then `None` (`is_idle` with a debt outstanding).
    #[test]
    fn loom_adaptive_permit_survives_shrink_and_close() {
        model(|| {
            let cell = PressureCell::new(PressureLevel::None);
            let (tx, mut rx) = super::super::adaptive_with::<u32>(1, 4, Some(cell.subscribe()));
            tx.force_bound(2);
            tx.try_send(1).unwrap();
            let permit_holder = {
                let tx = tx.clone();
                let permit = tx.clone().try_reserve_owned().unwrap();
                drop(tx);
                thread::spawn(move || {
                    drop(permit.send(2));
                })
            };
            // Critical: the next receive shrinks to 1 with both slots held.
            cell.publish(PressureLevel::Critical);
            drop(tx);
            rx.close();
            let mut got = Vec::new();
            while let Some(v) = block_on(rx.recv()) {
                got.push(v);
            }
            assert_eq!(got, [1, 2]);
            permit_holder.join().unwrap();
        });
    }
}

#[cfg(not(perf_runtime_loom))]
mod policy {
    use super::super::{LAG_WINDOWS, MIN_WINDOW};
    use crate::container::{PressureCell, PressureLevel};
    use crate::sync::mpsc::error::{TryRecvError, TrySendError};
    use crate::sync::mpsc::{self, Receiver, Sender};

    /// One burst: fill the channel until `try_send` reports it full, then
    /// drain it; checks every message comes out once, in order.
    fn burst(tx: &Sender<u64>, rx: &mut Receiver<u64>, next: &mut u64) {
        let first = *next;
        loop {
            match tx.try_send(*next) {
                Ok(()) => *next += 1,
                Err(TrySendError::Full(_)) => break,
                Err(e) => panic!("{e}"),
            }
        }
        for want in first..*next {
            assert_eq!(rx.try_recv(), Ok(want));
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    }

    /// Bursts until the bound stops moving; returns the bounds seen.
    fn grow(tx: &Sender<u64>, rx: &mut Receiver<u64>, next: &mut u64) -> Vec<usize> {
        let mut seen = vec![tx.max_capacity()];
        for _ in 0..200 {
            burst(tx, rx, next);
            if *seen.last().unwrap() != tx.max_capacity() {
                seen.push(tx.max_capacity());
            }
        }
        seen
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "one thread through code the queue tests cover; 13-95 s each under Miri"
    )]
    fn grows_by_doubling_while_the_consumer_keeps_up() {
        let (tx, mut rx) = mpsc::adaptive::<u64>(3, 40);
        assert_eq!((tx.capacity(), tx.max_capacity()), (3, 3));
        let mut next = 0;
        assert_eq!(grow(&tx, &mut rx, &mut next), [3, 6, 12, 24, 40]);
        assert_eq!(tx.capacity(), 40);
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "one thread through code the queue tests cover; 13-95 s each under Miri"
    )]
    fn a_consumer_that_never_fills_it_does_not_grow_it() {
        let (tx, mut rx) = mpsc::adaptive::<u64>(4, 64);
        for i in 0..1000 {
            tx.try_send(i).unwrap();
            tx.try_send(i).unwrap();
            assert_eq!(rx.try_recv(), Ok(i));
            assert_eq!(rx.try_recv(), Ok(i));
        }
        assert_eq!(tx.max_capacity(), 4);
    }

    /// Keeps the channel full: before each receive the producer refills
    /// it. Returns the bound after `pops` receives, checking order.
    fn lag(tx: &Sender<u64>, rx: &mut Receiver<u64>, next: &mut u64, pops: usize) -> usize {
        let first = *next - rx.len() as u64;
        for want in first..first + pops as u64 {
            while tx.try_send(*next).is_ok() {
                *next += 1;
            }
            assert_eq!(rx.try_recv(), Ok(want));
        }
        tx.max_capacity()
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "one thread through code the queue tests cover; 13-95 s each under Miri"
    )]
    fn shrinks_by_halving_after_sustained_lag() {
        let (tx, mut rx) = mpsc::adaptive::<u64>(2, 32);
        // Grown as `grows_by_doubling...` shows, with a fresh window.
        tx.force_bound(32);
        let mut next = 0;
        // Three lagging windows are not enough...
        let window = 32usize.max(MIN_WINDOW);
        let lagging = (LAG_WINDOWS as usize - 1) * window;
        assert_eq!(lag(&tx, &mut rx, &mut next, lagging), 32);
        // ...the fourth halves the bound, below the 32 queued: nothing
        // is dropped, senders are refused until it drains below 16.
        assert_eq!(lag(&tx, &mut rx, &mut next, window), 16);
        assert_eq!(rx.len(), 31);
        assert_eq!(tx.capacity(), 0);
        // It keeps halving while the consumer lags, down to `min`.
        assert_eq!(lag(&tx, &mut rx, &mut next, 2000), 2);
        // Drained, every message came out once and in order (`lag`).
        let mut want = next - rx.len() as u64;
        while let Ok(v) = rx.try_recv() {
            assert_eq!(v, want);
            want += 1;
        }
        assert_eq!(want, next);
        assert_eq!(tx.capacity(), 2);
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "one thread through code the queue tests cover; 13-95 s each under Miri"
    )]
    fn critical_pressure_shrinks_to_min_below_the_occupancy() {
        let cell = PressureCell::new(PressureLevel::None);
        let (tx, mut rx) = super::super::adaptive_with::<u64>(2, 32, Some(cell.subscribe()));
        let mut next = 0;
        grow(&tx, &mut rx, &mut next);
        assert_eq!(tx.max_capacity(), 32);
        // Full, plus a permit held.
        for i in 0..31 {
            tx.try_send(i).unwrap();
        }
        let permit = tx.try_reserve().unwrap();
        cell.publish(PressureLevel::Critical);
        // The next send sees it: the bound drops to 2 at once.
        assert!(matches!(tx.try_send(99), Err(TrySendError::Full(99))));
        assert_eq!((tx.max_capacity(), tx.capacity()), (2, 0));
        // The permit granted before the shrink is still good.
        permit.send(31);
        // 32 held over a bound of 2: 30 receives pay the debt, and only
        // the 31st frees a slot.
        for i in 0..30 {
            assert_eq!(rx.try_recv(), Ok(i));
            assert!(tx.try_send(99).is_err(), "a slot freed after {i}");
        }
        assert_eq!(rx.try_recv(), Ok(30));
        tx.assert_at_rest(1);
        tx.try_send(32).unwrap();
        assert_eq!(rx.try_recv(), Ok(31));
        assert_eq!(rx.try_recv(), Ok(32));
        // No growth while pressed, however the consumer keeps up.
        let mut next = 100;
        assert_eq!(grow(&tx, &mut rx, &mut next), [2]);
        // Moderate after Critical keeps the minimum.
        cell.publish(PressureLevel::Moderate);
        assert_eq!(grow(&tx, &mut rx, &mut next), [2]);
        // None again: it grows back.
        cell.publish(PressureLevel::None);
        assert_eq!(grow(&tx, &mut rx, &mut next), [2, 4, 8, 16, 32]);
        tx.assert_at_rest(0);
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "one thread through code the queue tests cover; 13-95 s each under Miri"
    )]
    fn moderate_pressure_halves_at_once_then_per_window() {
        let cell = PressureCell::new(PressureLevel::None);
        let (tx, mut rx) = super::super::adaptive_with::<u64>(2, 64, Some(cell.subscribe()));
        let mut next = 0;
        grow(&tx, &mut rx, &mut next);
        assert_eq!(tx.max_capacity(), 64);
        cell.publish(PressureLevel::Moderate);
        // The receiver sees it too (nothing sent since).
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        tx.try_send(0).unwrap();
        assert_eq!(tx.max_capacity(), 32);
        assert_eq!(rx.try_recv(), Ok(0));
        // Each window under Moderate halves it again, down to `min`.
        assert_eq!(grow(&tx, &mut rx, &mut next), [32, 16, 8, 4, 2]);
        tx.assert_at_rest(0);
    }

    #[test]
    fn a_closed_receiver_drains_through_a_debt_then_ends() {
        let (tx, mut rx) = mpsc::adaptive::<u64>(1, 8);
        tx.force_bound(8);
        for i in 0..8 {
            tx.try_send(i).unwrap();
        }
        tx.force_bound(1);
        rx.close();
        assert!(tx.try_send(9).is_err());
        for i in 0..8 {
            assert_eq!(rx.try_recv(), Ok(i));
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }

    #[test]
    fn bad_bounds_panic_naming_them() {
        let message = |min, max| {
            let e = std::panic::catch_unwind(|| mpsc::adaptive::<u8>(min, max)).unwrap_err();
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        };
        let msg = message(0, 4);
        assert!(msg.contains("`min` must be at least 1, was 0"), "{msg}");
        let msg = message(5, 4);
        assert!(msg.contains("`min` (5) may not exceed `max` (4)"), "{msg}");
    }

    /// Real threads: four senders, a receiver, and a thread moving the
    /// bound up and down (below the occupancy too): every message arrives
    /// once, each sender's in order.
    #[test]
    fn threads_lose_and_duplicate_nothing_while_the_bound_moves() {
        // Under Miri (which runs the sync tests) a few rounds of the same
        // protocol: thousands would take it tens of minutes.
        const PER: u64 = if cfg!(miri) { 40 } else { 5_000 };
        let (tx, mut rx) = mpsc::adaptive::<(u64, u64)>(1, 64);
        std::thread::scope(|s| {
            for id in 0..4 {
                let tx = tx.clone();
                s.spawn(move || {
                    for n in 0..PER {
                        tx.blocking_send((id, n)).unwrap();
                    }
                });
            }
            // Weak, so the channel closes once the senders are done.
            let resizer = tx.downgrade();
            s.spawn(move || {
                let mut b = 1;
                while let Some(tx) = resizer.upgrade() {
                    b = b * 7 % 64 + 1;
                    tx.force_bound(b);
                    drop(tx);
                    std::thread::yield_now();
                }
            });
            drop(tx);
            let mut last = [None::<u64>; 4];
            let mut count = 0;
            while let Some((id, n)) = rx.blocking_recv() {
                let id = id as usize;
                assert_eq!(last[id].map_or(0, |l| l + 1), n, "sender {id}");
                last[id] = Some(n);
                count += 1;
            }
            assert_eq!(count, 4 * PER);
        });
    }
}
