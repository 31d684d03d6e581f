//! `sync::mpsc::adaptive` (included by `sync_mpsc.rs`): the adaptive
//! channel on a runtime whose memory pressure the test forces through a
//! fake cgroup (`Builder::container_root`, as `policy_enforce.rs` does),
//! its capacity gauge, and the bounded channel's API on it. The sizing
//! policy's exact steps are tested beside it (`runtime/src/sync/mpsc/
//! adaptive/tests.rs`, with loom models of the resize protocol).

use super::policy_support::Scratch;
use super::sync_support::*;
use perf_runtime::container::PressureLevel;
use perf_runtime::metrics;
use perf_runtime::runtime::{Builder, Runtime};
use perf_runtime::sync::mpsc::error::{SendError, TryRecvError, TrySendError};
use perf_runtime::sync::mpsc::{self, Receiver, Sender};
use std::path::PathBuf;
use std::time::Duration;

const LIMIT: u64 = 1000 << 20;

/// A runtime in a fake container with a 1000 MB limit whose usage the test
/// sets; the sizing monitor re-reads it every millisecond.
fn pressed_runtime(s: &Scratch, multi: bool) -> (Runtime, PathBuf) {
    let root = s.container("max 100000", 100 << 20, LIMIT);
    let mut b = if multi {
        let mut b = Builder::new_multi_thread();
        b.worker_threads(2);
        b
    } else {
        Builder::new_current_thread()
    };
    let rt = b
        .enable_all()
        .container_root(&root)
        .container_refresh(Some(Duration::from_millis(1)))
        .build()
        .unwrap();
    (rt, root.join("sys/fs/cgroup/svc/memory.current"))
}

/// Sets the container's memory usage to `mb` (written then renamed, so
/// the monitor never reads half a number).
fn set_usage(file: &std::path::Path, mb: u64) {
    let tmp = file.with_extension("partial");
    std::fs::write(&tmp, format!("{}\n", mb << 20)).unwrap();
    std::fs::rename(&tmp, file).unwrap();
}

/// Sets the usage and waits until the runtime's monitor has published
/// `level`.
async fn force(file: &std::path::Path, mb: u64, level: PressureLevel) {
    let mut watch = perf_runtime::runtime::Handle::current().pressure_watch();
    set_usage(file, mb);
    let wait = async {
        while watch.level() != level {
            watch.changed().await.unwrap();
        }
    };
    perf_runtime::time::timeout(PATIENCE, wait)
        .await
        .unwrap_or_else(|_| panic!("the pressure level never became {level}"));
}

/// Bursts (fill until `Full`, then drain) until the bound reaches `want`;
/// checks each message comes out once, in order.
fn grow_to(tx: &Sender<u64>, rx: &mut Receiver<u64>, next: &mut u64, want: usize) {
    for _ in 0..200 {
        if tx.max_capacity() == want {
            return;
        }
        let first = *next;
        while tx.try_send(*next).is_ok() {
            *next += 1;
        }
        for v in first..*next {
            assert_eq!(rx.try_recv(), Ok(v));
        }
        // The consumer caught up: it finds the queue empty.
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    }
    panic!("the bound stayed at {}, not {want}", tx.max_capacity());
}

/// The `perf_runtime_channel_capacity` sample of a channel class.
fn capacity_gauge(line: u32) -> Option<f64> {
    let t = metrics::render_prometheus(&metrics::snapshot());
    let key =
        format!("perf_runtime_channel_capacity{{class=\"mpsc@sync_mpsc_adaptive.rs:{line}\"}} ");
    t.lines()
        .find_map(|l| l.strip_prefix(&key))
        .map(|v| v.trim().parse().unwrap())
}

#[test]
fn forced_critical_pressure_shrinks_below_the_occupancy_and_none_lets_it_grow() {
    let s = Scratch::new("adaptive_critical");
    let (rt, usage) = pressed_runtime(&s, false);
    assert_eq!(rt.handle().pressure(), PressureLevel::None);
    rt.block_on(async {
        let line = line!() + 1;
        let (tx, mut rx) = mpsc::adaptive::<u64>(2, 32);
        assert_eq!(capacity_gauge(line), Some(2.0));
        let mut next = 0;
        grow_to(&tx, &mut rx, &mut next, 32);
        assert_eq!(capacity_gauge(line), Some(32.0));
        // Full: 31 messages and a reserved slot.
        let first = next;
        for _ in 0..31 {
            tx.send(next).await.unwrap();
            next += 1;
        }
        let permit = tx.reserve().await.unwrap();

        force(&usage, 990, PressureLevel::Critical).await;
        assert!(matches!(tx.try_send(7), Err(TrySendError::Full(7))));
        assert_eq!((tx.max_capacity(), tx.capacity()), (2, 0));
        assert_eq!(capacity_gauge(line), Some(2.0));
        // The permit granted before the shrink still sends.
        permit.send(next);
        next += 1;
        assert_eq!(rx.len(), 32);
        // A sender waits until the queue is below the new bound: 30
        // receives pay the debt, the 31st frees a slot and hands it over.
        let mut waiting = task(tx.send(u64::MAX));
        waiting.pending();
        for v in first..first + 30 {
            assert_eq!(rx.recv().await, Some(v));
            assert!(!waiting.is_woken(), "woken after {v}");
        }
        assert_eq!(rx.recv().await, Some(first + 30));
        assert!(waiting.is_woken());
        waiting.ready().unwrap();
        assert_eq!(rx.recv().await, Some(first + 31));
        assert_eq!(rx.recv().await, Some(u64::MAX));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));

        force(&usage, 100, PressureLevel::None).await;
        grow_to(&tx, &mut rx, &mut next, 32);
        assert_eq!(capacity_gauge(line), Some(32.0));

        // Moderate halves it at the next send.
        force(&usage, 850, PressureLevel::Moderate).await;
        tx.send(next).await.unwrap();
        assert_eq!(tx.max_capacity(), 16);
        assert_eq!(capacity_gauge(line), Some(16.0));
        assert_eq!(rx.recv().await, Some(next));
    });
}

/// Four producers, one consumer, on two workers, while the test flips the
/// container between no pressure and Critical: every message arrives once,
/// each producer's in order, whatever the bound did meanwhile.
#[test]
fn nothing_lost_or_duplicated_while_pressure_moves_the_bound() {
    const PER: u64 = 20_000;
    let s = Scratch::new("adaptive_flip");
    let (rt, usage) = pressed_runtime(&s, true);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flipper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut mb = 100;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                mb = if mb == 100 { 990 } else { 100 };
                set_usage(&usage, mb);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let (count, bounds) = rt.block_on(async {
        let (tx, mut rx) = mpsc::adaptive::<(u64, u64)>(1, 256);
        for id in 0..4 {
            let tx = tx.clone();
            perf_runtime::spawn(async move {
                for n in 0..PER {
                    tx.send((id, n)).await.unwrap();
                }
            });
        }
        let probe = tx.clone();
        drop(tx);
        let mut last = [None::<u64>; 4];
        let mut count = 0;
        let mut bounds = std::collections::BTreeSet::new();
        while let Some((id, n)) = rx.recv().await {
            let id = id as usize;
            assert_eq!(last[id].map_or(0, |l| l + 1), n, "producer {id}");
            last[id] = Some(n);
            count += 1;
            bounds.insert(probe.max_capacity());
            if count == 4 * PER {
                break;
            }
        }
        (count, bounds)
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flipper.join().unwrap();
    assert_eq!(count, 4 * PER);
    assert!(bounds.iter().all(|b| (1..=256).contains(b)), "{bounds:?}");
}

#[test]
fn the_bounded_api_works_on_an_adaptive_channel() {
    current_thread().block_on(async {
        let (tx, mut rx) = mpsc::adaptive::<u32>(1, 4);
        assert_eq!((tx.capacity(), tx.max_capacity()), (1, 1));
        let permit = tx.reserve().await.unwrap();
        assert_eq!(tx.capacity(), 0);
        assert!(matches!(tx.try_send(1), Err(TrySendError::Full(1))));
        permit.send(0);
        assert_eq!(rx.recv().await, Some(0));
        let owned = tx.clone().reserve_owned().await.unwrap();
        drop(owned.send(1));
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.capacity(), 1);
        rx.close();
        assert!(tx.is_closed());
        assert_eq!(tx.send(2).await, Err(SendError(2)));
        assert_eq!(rx.recv().await, None);
    });
}

#[test]
#[should_panic(expected = "`min` (5) may not exceed `max` (4)")]
fn min_above_max_panics() {
    let _ = mpsc::adaptive::<u8>(5, 4);
}

#[test]
#[should_panic(expected = "`min` must be at least 1, was 0")]
fn min_of_zero_panics() {
    let _ = mpsc::adaptive::<u8>(0, 4);
}
