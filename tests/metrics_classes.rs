//! The per-class metrics added for locks and channels: hold-time
//! histograms of Mutex and RwLock, the live-lock gauge, broadcast channels
//! in the channel gauges with their receivers' lags, and the resource
//! policy's violations by kind, resource and severity; the pending-timer
//! gauge.

#[path = "metrics_support/mod.rs"]
mod support;

use perf_runtime::metrics::{self, Snapshot};
use perf_runtime::policy::ResourceLimit;
use perf_runtime::runtime::{Builder, Runtime};
use perf_runtime::sync::{broadcast, Mutex, RwLock};
use perf_runtime::validation::LockClass;
use std::time::Duration;
use support::sample;

fn runtime() -> Runtime {
    Builder::new_current_thread()
        .container_refresh(None)
        .build()
        .unwrap()
}

fn text(rt: &Runtime) -> String {
    metrics::render_prometheus(&Snapshot::of(rt.handle()))
}

#[test]
fn a_held_mutex_and_rwlock_are_in_their_class_hold_histograms() {
    static HELD_MUTEX: LockClass = LockClass::new("metrics_classes_mutex");
    static HELD_RWLOCK: LockClass = LockClass::new("metrics_classes_rwlock");
    // One acquisition in 1024 is timed: per thread for RwLock, per lock for
    // Mutex (whose phase steps per lock made on the thread); either way a
    // fresh thread's first lock times its first acquisition, so a fresh
    // thread makes the sequence known.
    let t = std::thread::spawn(|| {
        let rt = runtime();
        let m = Mutex::with_class(0u32, &HELD_MUTEX);
        let l = RwLock::with_class(0u32, &HELD_RWLOCK);
        rt.block_on(async {
            // The thread's 1st acquisition: timed.
            let g = m.lock().await;
            std::thread::sleep(Duration::from_millis(3));
            drop(g);
            // 2nd to 1024th: not timed.
            for _ in 1..1024 {
                drop(m.lock().await);
            }
            // 1025th: timed.
            let w = l.write().await;
            std::thread::sleep(Duration::from_millis(3));
            drop(w);
            // 1026th: not timed.
            drop(l.read().await);
        });
        text(&rt)
    })
    .join()
    .unwrap();
    for class in ["metrics_classes_mutex", "metrics_classes_rwlock"] {
        let count = format!("perf_runtime_lock_hold_seconds_count{{class=\"{class}\"}}");
        assert_eq!(sample(&t, &count), Some(1.0), "{count} in\n{t}");
        let sum = format!("perf_runtime_lock_hold_seconds_sum{{class=\"{class}\"}}");
        let s = sample(&t, &sum).unwrap();
        assert!(s >= 0.003, "{sum} = {s}: a 3 ms hold");
        // Not in a bucket below the hold.
        let le = [
            format!("perf_runtime_lock_hold_seconds_bucket{{class=\"{class}\",le=\"0.001\"}}"),
            format!("perf_runtime_lock_hold_seconds_bucket{{le=\"0.001\",class=\"{class}\"}}"),
        ];
        let below = le.iter().find_map(|s| sample(&t, s));
        assert_eq!(below, Some(0.0), "{le:?} in\n{t}");
    }
}

#[test]
fn live_locks_are_counted_while_they_exist() {
    let rt = runtime();
    let live = |rt: &Runtime| sample(&text(rt), "perf_runtime_locks_live").unwrap();
    // Other tests of this binary create locks at the same time: compare
    // with a margin well under the 1000 created here.
    let before = live(&rt);
    let locks: Vec<Mutex<()>> = (0..1000).map(|_| Mutex::new(())).collect();
    let during = live(&rt);
    assert!(during >= before + 900.0, "{before} -> {during}");
    drop(locks);
    let after = live(&rt);
    assert!(after <= during - 900.0, "{during} -> {after}");
}

#[test]
fn broadcast_channels_report_occupancy_capacity_and_lags() {
    let rt = runtime();
    let (line, (tx, mut rx)) = (line!(), broadcast::channel::<u32>(4));
    let class = format!("broadcast@metrics_classes.rs:{line}");
    let series = |name: &str| format!("perf_runtime_{name}{{class=\"{class}\"}}");
    for i in 0..3 {
        tx.send(i).unwrap();
    }
    let t = text(&rt);
    assert_eq!(sample(&t, &series("channels")), Some(1.0), "{t}");
    assert_eq!(sample(&t, &series("channel_occupancy")), Some(3.0));
    assert_eq!(sample(&t, &series("channel_capacity")), Some(4.0));
    assert_eq!(sample(&t, &series("channel_receiver_lags_total")), None);
    // Five more into a ring of 4: the receiver lost the oldest four.
    for i in 3..8 {
        tx.send(i).unwrap();
    }
    assert_eq!(
        rx.try_recv(),
        Err(broadcast::error::TryRecvError::Lagged(4))
    );
    let t = text(&rt);
    assert_eq!(
        sample(&t, &series("channel_receiver_lags_total")),
        Some(1.0)
    );
    assert_eq!(sample(&t, &series("channel_occupancy")), Some(4.0));
    while rx.try_recv().is_ok() {}
    assert_eq!(sample(&text(&rt), &series("channel_occupancy")), Some(0.0));
    drop((tx, rx));
    let t = text(&rt);
    assert_eq!(
        sample(&t, &series("channels")),
        None,
        "gone with the channel"
    );
    // A counter outlives its channels.
    assert_eq!(
        sample(&t, &series("channel_receiver_lags_total")),
        Some(1.0)
    );
}

#[test]
fn policy_violations_are_counted_by_kind_resource_and_severity() {
    let mut limit = ResourceLimit::default();
    limit.class_mut(perf_runtime::task::Qos::Batch).max_tasks = Some(0);
    let rt = Builder::new_current_thread()
        .container_refresh(None)
        .resource_limit(limit)
        .build()
        .unwrap();
    rt.block_on(async {
        for _ in 0..3 {
            perf_runtime::spawn_with(perf_runtime::task::Qos::Batch, async {})
                .await
                .unwrap();
        }
    });
    let t = text(&rt);
    assert_eq!(
        sample(
            &t,
            "perf_runtime_policy_violations_total{kind=\"class_tasks\",resource=\"tasks.batch\",severity=\"high\"}"
        ),
        Some(3.0),
        "{t}"
    );
}

/// Polls `f` once (registering it, for a timer) with a waker that does
/// nothing; true if it is pending.
fn pending_after_one_poll<F: std::future::Future + Unpin>(f: &mut F) -> bool {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    std::pin::Pin::new(f).poll(&mut cx).is_pending()
}

#[test]
fn pending_timers_are_counted_until_they_fire_or_are_cancelled() {
    let rt = runtime();
    let pending = |rt: &Runtime| sample(&text(rt), "perf_runtime_timers_pending");
    assert_eq!(pending(&rt), Some(0.0), "a new runtime has no timer");
    rt.block_on(async {
        // Five far timers registered (polled once), one near one.
        let mut far: Vec<_> = (0..5)
            .map(|_| Box::pin(perf_runtime::time::sleep(Duration::from_secs(3600))))
            .collect();
        for s in &mut far {
            assert!(pending_after_one_poll(s));
        }
        let mut near = Box::pin(perf_runtime::time::sleep(Duration::from_millis(1)));
        assert!(pending_after_one_poll(&mut near));
        assert_eq!(pending(&rt), Some(6.0), "five far timers and a near one");
        near.await;
        assert_eq!(pending(&rt), Some(5.0), "the near timer fired");
        far.truncate(2);
        assert_eq!(pending(&rt), Some(2.0), "three timers dropped: cancelled");
    });
}
