//! Tests of the wheel, the driver and the public timers, on a hand-driven
//! driver (no runtime): the tests call `process`/`auto_advance` themselves.

use super::test_harness::{driver, Enter};
use super::*;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

// ----- harness -----

struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn counting_waker() -> (Arc<Count>, Waker) {
    let c = Arc::new(Count(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

/// A paused driver (current_thread flavour) entered on this thread.
fn paused() -> (TimeHandle, Enter) {
    driver(true, true)
}

/// Polls `f` to completion, doing what the scheduler would when the only
/// task is idle: process due timers, else auto-advance a paused clock.
fn block_on<F: Future>(h: &TimeHandle, f: F) -> F::Output {
    let (count, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        let before = count.0.load(SeqCst);
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        if count.0.load(SeqCst) != before {
            continue;
        }
        if h.is_due() || h.auto_advance() {
            h.process();
            continue;
        }
        panic!("block_on: the future waits for nothing");
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ----- the driver -----

#[test]
fn is_due_and_park_timeout() {
    let (h, _g) = paused();
    assert!(!h.is_due());
    assert_eq!(h.park_timeout(), None);
    assert!(!h.auto_advance());

    let (count, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut s = sleep(ms(10));
    assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
    assert_eq!(h.park_timeout(), Some(ms(10)));
    assert!(!h.is_due());

    h.clock().advance(ms(9));
    assert!(!h.is_due());
    assert_eq!(h.park_timeout(), Some(ms(1)));
    h.process();
    assert_eq!(count.0.load(SeqCst), 0);

    h.clock().advance(ms(1));
    assert!(h.is_due());
    assert_eq!(h.park_timeout(), Some(Duration::ZERO));
    h.process();
    assert_eq!(count.0.load(SeqCst), 1);
    assert!(s.is_elapsed());
    assert!(Pin::new(&mut s).poll(&mut cx).is_ready());
    assert!(!h.is_due());
    assert_eq!(h.park_timeout(), None);
}

#[test]
fn unpark_runs_exactly_when_a_new_earliest_deadline_arrives() {
    // A driver of its own: a runtime's has its unpark callback set already.
    let h = sharded(0);
    let sleep = |d: Duration| Sleep::new(h.clone(), Instant::from_std(h.now()) + d);
    let unparks = Arc::new(AtomicUsize::new(0));
    let u = unparks.clone();
    h.set_unpark(Box::new(move || {
        u.fetch_add(1, SeqCst);
    }));
    let (_c, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut poll = |s: &mut Sleep| assert!(Pin::new(s).poll(&mut cx).is_pending());

    // Wheel expirations: 100 ms and 70 ms sit at level 1, slot start 64;
    // 200 ms at level 1, slot start 192; 50 and 60 ms at level 0.
    let mut a = sleep(ms(100));
    poll(&mut a);
    assert_eq!(unparks.load(SeqCst), 1, "first timer");
    let mut b = sleep(ms(200));
    poll(&mut b);
    assert_eq!(unparks.load(SeqCst), 1, "later timer");
    let mut c = sleep(ms(50));
    poll(&mut c);
    assert_eq!(unparks.load(SeqCst), 2, "earlier timer");
    drop(c);
    assert_eq!(unparks.load(SeqCst), 2, "cancel");
    // The bound stays at the cancelled deadline (early, never late) until
    // the next `process`.
    assert_eq!(h.park_timeout(), Some(ms(50)));
    h.process();
    assert_eq!(h.park_timeout(), Some(ms(64)));
    let mut d = sleep(ms(70));
    poll(&mut d);
    assert_eq!(unparks.load(SeqCst), 2, "same wheel expiration");
    let mut e = sleep(ms(60));
    poll(&mut e);
    assert_eq!(unparks.load(SeqCst), 3, "earlier again");
    // Re-polling and unregistered sleeps do not unpark.
    poll(&mut e);
    let _f = sleep(ms(1));
    assert_eq!(unparks.load(SeqCst), 3);
}

#[test]
fn dropped_sleeps_and_timeouts_free_their_entries() {
    let (h, _g) = paused();
    let (_c, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let n = if cfg!(miri) { 100 } else { 10_000 };
    for i in 0..n {
        // Pending once, so the timeout's timer is linked, then ready.
        let mut polled = false;
        let op = std::future::poll_fn(move |_| {
            if std::mem::replace(&mut polled, true) {
                Poll::Ready(i)
            } else {
                Poll::Pending
            }
        });
        let mut t = timeout(Duration::from_secs(30), op);
        assert!(Pin::new(&mut t).poll(&mut cx).is_pending());
        assert_eq!(h.with_wheel(|w| w.len()), 1);
        assert_eq!(Pin::new(&mut t).poll(&mut cx), Poll::Ready(Ok(i)));
    }
    assert_eq!(h.with_wheel(|w| (w.len(), w.slab_len())), (0, 1));
    assert!(!h.has_timers());
    h.process();
    assert_eq!(h.park_timeout(), None);
}

#[test]
fn timeout_fast_future_never_touches_the_wheel() {
    let (h, _g) = paused();
    assert_eq!(block_on(&h, timeout(Duration::ZERO, async { 5 })), Ok(5));
    assert_eq!(h.with_wheel(|w| w.slab_len()), 0);
}

#[test]
fn timeout_elapses() {
    let (h, _g) = paused();
    let start = Instant::now();
    let t = timeout(ms(25), std::future::pending::<()>());
    let _: &std::future::Pending<()> = t.get_ref();
    let err = block_on(&h, t).unwrap_err();
    assert_eq!(err.to_string(), "deadline has elapsed");
    assert_eq!(start.elapsed(), ms(25));
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
}

#[test]
fn sleep_with_paused_clock_auto_advances() {
    let (h, _g) = paused();
    let start = Instant::now();
    block_on(&h, sleep(Duration::from_secs(3600)));
    assert_eq!(start.elapsed(), Duration::from_secs(3600));
    // Beyond the wheel's span (~2.2 years): clamped, cascaded, on time.
    let far = Duration::from_secs(86_400 * 365 * 5);
    let start = Instant::now();
    block_on(&h, sleep(far));
    assert_eq!(start.elapsed(), far);
}

#[test]
fn sleep_reset() {
    let (h, _g) = paused();
    let start = Instant::now();
    let mut s = Box::pin(sleep(Duration::from_secs(60)));
    let (count, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(s.as_mut().poll(&mut cx).is_pending());
    s.as_mut().reset(start + ms(5));
    assert_eq!(s.deadline(), start + ms(5));
    assert_eq!(h.park_timeout(), Some(ms(5)));
    block_on(&h, s.as_mut());
    assert_eq!(start.elapsed(), ms(5));
    assert_eq!(count.0.load(SeqCst), 0);
    // Reset after completion: pending again, then fires.
    s.as_mut().reset(start + ms(20));
    assert!(!s.is_elapsed());
    block_on(&h, s.as_mut());
    assert_eq!(start.elapsed(), ms(20));
    // Reset to the past: ready at once.
    s.as_mut().reset(start);
    assert!(s.as_mut().poll(&mut cx).is_ready());
    assert_eq!(h.with_wheel(|w| w.len()), 0);
}

#[test]
fn never_early_at_sub_millisecond_deadlines() {
    let (h, _g) = paused();
    let start = Instant::now();
    let deadline = start + Duration::from_micros(10_300);
    let mut s = sleep_until(deadline);
    let (_c, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
    h.clock().advance(ms(10)); // 10.0 ms: before the deadline
                               // The start of the deadline's tick: the wheel's slot comes near (the
                               // driver then knows the exact deadline), nothing fires.
    h.process();
    assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
    h.clock().advance(Duration::from_micros(299)); // 1 µs before the deadline
    assert!(!h.is_due());
    assert_eq!(h.park_timeout(), Some(Duration::from_micros(1)));
    h.process();
    assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
    h.clock().advance(Duration::from_micros(1)); // at the deadline
    assert!(h.is_due());
    h.process();
    assert!(Pin::new(&mut s).poll(&mut cx).is_ready());
    assert_eq!(Instant::now(), deadline);
}

#[test]
fn sub_millisecond_deadline_is_not_rounded_to_the_next_ms() {
    // On a paused clock, the driver's next wake and auto-advance land on
    // the exact deadline, not on the next 1 ms tick.
    let (h, _g) = paused();
    let start = Instant::now();
    let mut s = sleep(Duration::from_micros(1_250));
    let (_c, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
    assert_eq!(h.park_timeout(), Some(Duration::from_micros(1_250)));
    assert!(h.auto_advance());
    h.process();
    assert!(Pin::new(&mut s).poll(&mut cx).is_ready());
    assert_eq!(start.elapsed(), Duration::from_micros(1_250));
}

#[test]
fn timers_sharing_a_tick_fire_in_deadline_order() {
    // Three deadlines inside one 1 ms tick, registered out of order: each
    // auto-advance moves the clock to the next exact deadline and fires
    // only that timer.
    let (h, _g) = paused();
    let start = Instant::now();
    let offsets = [2_700u64, 2_100, 2_400];
    let mut sleeps: Vec<_> = offsets
        .iter()
        .map(|&us| Box::pin(sleep_until(start + Duration::from_micros(us))))
        .collect();
    let (_c, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    for s in &mut sleeps {
        assert!(s.as_mut().poll(&mut cx).is_pending());
    }
    // First the start of their tick (2 ms), registered more than a tick
    // ahead: there the wheel learns the exact deadlines; nothing fires.
    assert!(h.auto_advance());
    h.process();
    assert_eq!(start.elapsed(), ms(2));
    for s in &mut sleeps {
        assert!(s.as_mut().poll(&mut cx).is_pending());
    }
    for (expected_us, idx) in [(2_100u64, 1usize), (2_400, 2), (2_700, 0)] {
        assert!(h.auto_advance());
        h.process();
        assert_eq!(start.elapsed(), Duration::from_micros(expected_us));
        assert!(sleeps[idx].as_mut().poll(&mut cx).is_ready());
        for (i, s) in sleeps.iter_mut().enumerate() {
            if offsets[i] > expected_us {
                assert!(
                    s.as_mut().poll(&mut cx).is_pending(),
                    "timer {i} fired early, at {expected_us} µs"
                );
            }
        }
    }
    assert_eq!(h.with_wheel(|w| w.len()), 0);
}

#[test]
fn pause_advance_resume() {
    let (h, _g) = driver(true, false);
    pause();
    let t0 = Instant::now();
    assert_eq!(Instant::now(), t0, "paused clock stands still");
    block_on(&h, advance(Duration::from_secs(5)));
    assert_eq!(Instant::now() - t0, Duration::from_secs(5));
    resume();
    let t1 = Instant::now();
    assert!(t1 >= t0 + Duration::from_secs(5));
    assert!(
        t1 < t0 + Duration::from_secs(6),
        "resumes from the paused time"
    );
    pause();
    assert!(Instant::now() >= t1);
}

#[test]
fn advance_fires_due_timers() {
    let (h, _g) = paused();
    let (count, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut s = sleep(ms(30));
    assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
    block_on(&h, advance(ms(30)));
    assert_eq!(count.0.load(SeqCst), 1);
    assert!(s.is_elapsed());
}

#[test]
#[should_panic(
    expected = "time::pause() requires the current_thread runtime; build it with runtime::Builder::new_current_thread()"
)]
fn pause_requires_current_thread() {
    let (_h, _g) = driver(false, false);
    pause();
}

#[test]
#[should_panic(
    expected = "there is no perf_runtime runtime on this thread; timers must be created inside a runtime"
)]
fn sleep_outside_runtime_panics() {
    drop(sleep(ms(1)));
}

#[test]
#[should_panic(expected = "there is no perf_runtime runtime on this thread")]
fn pause_outside_runtime_panics() {
    pause();
}

#[test]
#[should_panic(expected = "`period` must be non-zero.")]
fn zero_period_interval_panics() {
    let (_h, _g) = paused();
    let _ = interval(Duration::ZERO);
}

#[test]
fn shutdown_drops_wakers_and_later_polls_panic() {
    let (h, _g) = paused();
    let (count, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut s = sleep(ms(10));
    assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
    drop(waker);
    assert_eq!(Arc::strong_count(&count), 2, "waker registered");
    h.shutdown();
    assert_eq!(Arc::strong_count(&count), 1, "waker dropped by shutdown");
    assert_eq!(count.0.load(SeqCst), 0, "and not woken");
    assert!(!h.is_due());
    assert_eq!(h.park_timeout(), None);

    let (_c, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let panics = |f: &mut dyn FnMut()| {
        let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_err();
        let msg = err.downcast_ref::<&str>().map(|s| s.to_string());
        let msg = msg
            .or_else(|| err.downcast_ref::<String>().cloned())
            .unwrap();
        assert!(
            msg.contains("the runtime that owns this timer has shut down"),
            "{msg}"
        );
    };
    panics(&mut || {
        let _ = Pin::new(&mut s).poll(&mut cx);
    });
    let mut fresh = sleep(ms(10));
    panics(&mut || {
        let _ = Pin::new(&mut fresh).poll(&mut cx);
    });
    drop(s); // no panic, no lock on a shut-down entry
}

// ----- interval (tokio's scenarios, on the paused clock) -----

fn poll_tick(i: &mut Interval) -> Poll<Instant> {
    let (_c, waker) = counting_waker();
    i.poll_tick(&mut Context::from_waker(&waker))
}

/// Runs a scenario: `steps` of (advance ms, expected tick offset from start
/// or `None` for pending).
fn interval_scenario(behavior: MissedTickBehavior, steps: &[(u64, Option<u64>)]) {
    let (h, _g) = paused();
    let start = Instant::now();
    block_on(&h, advance(ms(1)));
    let mut i = interval_at(start, ms(300));
    i.set_missed_tick_behavior(behavior);
    assert_eq!(i.missed_tick_behavior(), behavior);
    assert_eq!(i.period(), ms(300));
    for (n, &(adv, expected)) in steps.iter().enumerate() {
        if adv > 0 {
            block_on(&h, advance(ms(adv)));
        }
        let got = poll_tick(&mut i);
        let want = expected.map_or(Poll::Pending, |e| Poll::Ready(start + ms(e)));
        assert_eq!(got, want, "{behavior:?} step {n} (advance {adv} ms)");
    }
}

#[test]
fn interval_burst() {
    interval_scenario(
        MissedTickBehavior::Burst,
        &[
            (0, Some(0)),
            (100, None),
            (200, Some(300)),
            (650, Some(600)), // now 951: 900 also missed
            (0, Some(900)),
            (0, None),
            (200, None),       // now 1151
            (100, Some(1200)), // now 1251
            (250, Some(1500)), // now 1501
            (0, None),
            (300, Some(1800)),
        ],
    );
}

#[test]
fn interval_delay() {
    interval_scenario(
        MissedTickBehavior::Delay,
        &[
            (0, Some(0)),
            (100, None),
            (200, Some(300)),
            (650, Some(600)), // now 951: next at 951 + 300
            (0, None),
            (100, None),
            (201, Some(1251)),
            (300, Some(1551)),
        ],
    );
}

#[test]
fn interval_skip() {
    interval_scenario(
        MissedTickBehavior::Skip,
        &[
            (0, Some(0)),
            (150, None),
            (150, Some(300)),
            (650, Some(600)), // now 951: 900 skipped, next 1200
            (0, None),
            (250, Some(1200)),
            (300, Some(1500)),
            (0, None),
            (50, None),
            (250, Some(1800)),
        ],
    );
}

#[test]
fn interval_tick_and_reset() {
    let (h, _g) = paused();
    let start = Instant::now();
    let mut i = interval(ms(10));
    assert_eq!(block_on(&h, i.tick()), start);
    assert_eq!(block_on(&h, i.tick()), start + ms(10));
    i.reset();
    assert_eq!(block_on(&h, i.tick()), start + ms(20));
    i.reset_immediately();
    assert_eq!(block_on(&h, i.tick()), start + ms(20));
    i.reset_after(ms(3));
    assert_eq!(block_on(&h, i.tick()), start + ms(23));
    assert_eq!(Instant::now(), start + ms(23));
}

// ----- real clock, several threads -----

#[test]
#[cfg_attr(miri, ignore = "real time and threads: slow under Miri")]
fn real_clock_threads() {
    let (h, g) = driver(false, false);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let driver = {
        let (h, stop) = (h.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(SeqCst) {
                if h.is_due() {
                    h.process();
                }
                let t = h.park_timeout().unwrap_or(ms(1)).min(ms(1));
                std::thread::sleep(t);
            }
        })
    };
    let workers: Vec<_> = (0..4u64)
        .map(|t| {
            let g = g.share();
            std::thread::spawn(move || {
                let _g = g.enter();
                for k in 0..5 {
                    let d = ms(1 + (t * 7 + k * 3) % 15);
                    let deadline = Instant::now() + d;
                    let mut s = pin!(sleep_until(deadline));
                    let thread = std::thread::current();
                    struct Unpark(std::thread::Thread);
                    impl Wake for Unpark {
                        fn wake(self: Arc<Self>) {
                            self.0.unpark();
                        }
                    }
                    let waker = Waker::from(Arc::new(Unpark(thread)));
                    let mut cx = Context::from_waker(&waker);
                    while s.as_mut().poll(&mut cx).is_pending() {
                        std::thread::park();
                    }
                    assert!(Instant::now() >= deadline, "fired early");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    stop.store(true, SeqCst);
    driver.join().unwrap();
    assert_eq!(h.with_wheel(|w| w.len()), 0);
}

// ----- shards (one wheel per worker) -----

/// A hand-made driver with `workers` worker shards and a paused clock
/// (pausing is only refused at the public API for multi-thread runtimes).
fn sharded(workers: usize) -> TimeHandle {
    TimeHandle::new(true, true, ms(1), workers)
}

const NO_WAKE: u64 = u64::MAX;

#[test]
fn a_sleep_links_into_the_shard_of_the_worker_polling_it() {
    let h = sharded(2);
    let (_, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut on_worker_1 = Sleep::new(h.clone(), Instant::from_std(h.now()) + ms(3));
    {
        let _w = h.enter_worker(1);
        assert!(Pin::new(&mut on_worker_1).poll(&mut cx).is_pending());
    }
    // Polled on a thread that is no worker: the shared shard (the last).
    let mut elsewhere = Sleep::new(h.clone(), Instant::from_std(h.now()) + ms(2));
    assert!(Pin::new(&mut elsewhere).poll(&mut cx).is_pending());
    let (bound, shards) = h.wake_bounds();
    assert_eq!(shards, vec![NO_WAKE, 3_000_000, 2_000_000]);
    assert_eq!(bound, 2_000_000);
    // Polling again from another worker keeps the entry where it is.
    {
        let _w = h.enter_worker(0);
        assert!(Pin::new(&mut on_worker_1).poll(&mut cx).is_pending());
    }
    assert_eq!(h.wake_bounds().1, vec![NO_WAKE, 3_000_000, 2_000_000]);
    drop(elsewhere);
    drop(on_worker_1);
    assert!(!h.has_timers());
    // The bound is stale (early) until the next `process` recomputes it.
    h.process();
    assert_eq!(h.wake_bounds(), (NO_WAKE, vec![NO_WAKE; 3]));
    assert_eq!(h.park_timeout(), None);
}

#[test]
fn any_thread_fires_the_timers_of_every_shard() {
    let h = sharded(2);
    let (count, waker) = counting_waker();
    let mut sleeps: Vec<Sleep> = (0..2)
        .map(|w| {
            let _w = h.enter_worker(w);
            let mut s = Sleep::new(h.clone(), Instant::from_std(h.now()) + ms(1 + w as u64));
            assert!(Pin::new(&mut s)
                .poll(&mut Context::from_waker(&waker))
                .is_pending());
            s
        })
        .collect();
    assert_eq!(h.park_timeout(), Some(ms(1)));
    h.clock().advance(ms(2));
    // Neither worker's thread: a parked driver owner, say.
    let h2 = h.clone();
    std::thread::spawn(move || {
        assert!(h2.is_due());
        h2.process();
    })
    .join()
    .unwrap();
    assert_eq!(count.0.load(SeqCst), 2);
    for s in &mut sleeps {
        assert!(s.is_elapsed());
        assert!(Pin::new(s)
            .poll(&mut Context::from_waker(&waker))
            .is_ready());
    }
    assert!(!h.has_timers());
}

#[test]
fn a_sleep_dropped_on_another_thread_unlinks_from_its_owners_shard() {
    let h = sharded(1);
    let (count, waker) = counting_waker();
    let mut s = Sleep::new(h.clone(), Instant::from_std(h.now()) + ms(1));
    {
        let _w = h.enter_worker(0);
        assert!(Pin::new(&mut s)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
    }
    std::thread::spawn(move || drop(s)).join().unwrap();
    assert!(!h.has_timers());
    h.clock().advance(ms(5));
    h.process();
    assert_eq!(count.0.load(SeqCst), 0, "a cancelled timer fired");
    assert_eq!(h.park_timeout(), None);
}

#[test]
fn reset_moves_the_entry_within_its_shard_and_keeps_the_waker() {
    let h = sharded(1);
    let (count, waker) = counting_waker();
    let mut s = Box::pin(Sleep::new(h.clone(), Instant::from_std(h.now()) + ms(10)));
    {
        let _w = h.enter_worker(0);
        assert!(s
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
    }
    // Reset from a thread that is no worker: it stays in shard 0.
    s.as_mut().reset(Instant::from_std(h.now()) + ms(1));
    assert_eq!(h.wake_bounds().1, vec![1_000_000, NO_WAKE]);
    assert_eq!(h.park_timeout(), Some(ms(1)));
    h.clock().advance(ms(1));
    h.process();
    assert_eq!(count.0.load(SeqCst), 1);
    assert!(s.is_elapsed());
    // A reset into the past marks it elapsed without a driver turn.
    s.as_mut().reset(Instant::from_std(h.now()) + ms(1));
    assert!(!s.is_elapsed());
    s.as_mut().reset(Instant::from_std(h.now()));
    assert!(s.is_elapsed());
    assert!(!h.has_timers());
}

// ----- the run loop's pacing of clock reads -----

/// Ticks of `step` each until `pace` reports the timer due; the number of
/// ticks, the time it reported, and the clock's time then.
fn ticks_until_due(h: &TimeHandle, pace: &TimerPace, step: Duration) -> (u32, u64, u64) {
    for tick in 1..=1_000 {
        h.clock().advance(step);
        if let Some(at) = pace.due_now(h) {
            return (tick, at, h.clock().now_nanos());
        }
    }
    panic!("the due timer was never reported");
}

#[test]
fn pace_short_ticks_skip_reads_but_report_a_due_timer_within_the_pace() {
    let (h, _g) = paused();
    let pace = TimerPace::new();
    let (_count, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut s = sleep(Duration::from_micros(100));
    assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
    let deadline = h.clock().now_nanos() + 100_000;
    // 200 ns ticks: the deadline passes at the 500th; reads are skipped,
    // but the timer is reported at most MAX_SKIP ticks (3 µs) late.
    let (ticks, at, now) = ticks_until_due(&h, &pace, Duration::from_nanos(200));
    assert!(at >= deadline, "reported before its deadline");
    assert_eq!(at, now, "the time reported is the time read");
    assert!(
        (500..=500 + 15).contains(&ticks),
        "reported at tick {ticks}"
    );
    assert!(ticks > 500, "no read was skipped: the pace did not adapt");
}

#[test]
fn pace_long_ticks_read_the_clock_at_every_tick() {
    let (h, _g) = paused();
    let pace = TimerPace::new();
    let (_count, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut s = sleep(ms(1));
    assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
    // 100 µs ticks (a task burning 100 µs per poll): due at the 10th
    // tick, reported at the 10th.
    let (ticks, at, _) = ticks_until_due(&h, &pace, Duration::from_micros(100));
    assert_eq!(ticks, 10);
    assert_eq!(at, h.clock().now_nanos());
}

#[test]
fn pace_restarts_after_a_reset_and_without_timers() {
    let (h, _g) = paused();
    let pace = TimerPace::new();
    // No timer: nothing is due, and nothing is skipped later on its account.
    assert_eq!(pace.due_now(&h), None);
    let (_count, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut s = sleep(Duration::from_micros(10));
    assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
    // Short ticks build up a skip...
    for _ in 0..3 {
        h.clock().advance(Duration::from_nanos(100));
        assert_eq!(pace.due_now(&h), None);
    }
    // ...which a park drops: the first tick after it reads the clock.
    pace.reset();
    h.clock().advance(ms(1));
    assert!(pace.due_now(&h).is_some());
}

#[test]
fn pace_reads_for_the_ring_without_timers_and_paces_those_reads_too() {
    let (h, _g) = paused();
    let pace = TimerPace::new();
    // No timer and no ring resource: no reading.
    assert_eq!(pace.tick(&h, false), None);
    // A ring with resources: readings, never "due" (no timer).
    h.clock().advance(ms(1));
    assert_eq!(pace.tick(&h, true), Some((h.clock().now_nanos(), false)));
    // Short ticks (200 ns): reads are skipped, but one comes at least
    // every MAX_SKIP + 1 ticks, each the clock's time then.
    let mut readings = 0;
    let mut gap = 0;
    let mut longest_gap = 0;
    for _ in 0..160 {
        h.clock().advance(Duration::from_nanos(200));
        match pace.tick(&h, true) {
            Some((now, due)) => {
                assert_eq!(now, h.clock().now_nanos());
                assert!(!due);
                readings += 1;
                gap = 0;
            }
            None => {
                gap += 1;
                longest_gap = longest_gap.max(gap);
            }
        }
    }
    assert!(readings >= 10, "{readings} readings in 160 ticks");
    assert!(readings < 160, "no read was skipped");
    assert!(longest_gap <= 15, "{longest_gap} ticks without a reading");
}

#[test]
fn pace_skip_for() {
    use super::pace::skip_for;
    assert_eq!(skip_for(0, 4_000, 15), 15);
    assert_eq!(skip_for(100, 4_000, 15), 15);
    assert_eq!(skip_for(1_000, 4_000, 15), 4);
    assert_eq!(skip_for(4_001, 4_000, 15), 0);
    assert_eq!(skip_for(u64::MAX, 4_000, 15), 0);
}

#[test]
fn the_run_loop_leaves_an_awake_workers_due_timers_to_it_for_the_grace() {
    let h = sharded(2);
    let (count, waker) = counting_waker();
    let mut s = Sleep::new(h.clone(), Instant::from_std(h.now()) + ms(1));
    {
        let _w = h.enter_worker(1);
        assert!(Pin::new(&mut s)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
    }
    h.set_attended(1, true);
    h.clock().advance(ms(1));
    let _w = h.enter_worker(0);
    // Due, its worker awake: worker 0's run loop leaves it...
    h.process_at(h.clock().now_nanos());
    assert_eq!(count.0.load(SeqCst), 0);
    assert_eq!(h.park_timeout(), Some(Duration::ZERO), "still due");
    // ...until it is 20 µs overdue.
    h.clock().advance(Duration::from_micros(20));
    h.process_at(h.clock().now_nanos());
    assert_eq!(count.0.load(SeqCst), 1);
    assert!(Pin::new(&mut s)
        .poll(&mut Context::from_waker(&waker))
        .is_ready());
}

#[test]
fn the_run_loop_fires_a_parked_workers_timers_at_once() {
    let h = sharded(2);
    let (count, waker) = counting_waker();
    let mut s = Sleep::new(h.clone(), Instant::from_std(h.now()) + ms(1));
    {
        let _w = h.enter_worker(1);
        assert!(Pin::new(&mut s)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
    }
    h.set_attended(1, true);
    h.set_attended(1, false);
    h.clock().advance(ms(1));
    let _w = h.enter_worker(0);
    h.process_at(h.clock().now_nanos());
    assert_eq!(count.0.load(SeqCst), 1);
    // `process` (a parked driver owner) never waits out the grace.
    let mut t = Sleep::new(h.clone(), Instant::from_std(h.now()) + ms(1));
    {
        let _w = h.enter_worker(1);
        assert!(Pin::new(&mut t)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
    }
    h.set_attended(1, true);
    h.clock().advance(ms(1));
    h.process();
    assert_eq!(count.0.load(SeqCst), 2);
}

#[test]
fn a_completed_sleep_frees_its_entry_at_once_and_relinks_when_reset() {
    let (h, _g) = paused();
    let (count, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut s = Box::pin(sleep(ms(1)));
    assert!(s.as_mut().poll(&mut cx).is_pending());
    h.clock().advance(ms(1));
    h.process();
    assert_eq!(count.0.load(SeqCst), 1);
    assert_eq!(h.with_wheel(|w| w.slab_len() - w.free_len()), 1);
    assert!(s.as_mut().poll(&mut cx).is_ready());
    // Freed by the poll that completed it, not by the drop.
    assert_eq!(h.with_wheel(|w| w.slab_len() - w.free_len()), 0);
    assert!(s.is_elapsed());
    assert!(s.as_mut().poll(&mut cx).is_ready());
    // Reset into the future: pending again, and fires again.
    s.as_mut().reset(Instant::from_std(h.now()) + ms(2));
    assert!(!s.is_elapsed());
    assert!(s.as_mut().poll(&mut cx).is_pending());
    assert_eq!(h.park_timeout(), Some(ms(2)));
    h.clock().advance(ms(2));
    h.process();
    assert_eq!(count.0.load(SeqCst), 2);
    assert!(s.as_mut().poll(&mut cx).is_ready());
    // Reset into the past: ready at once, never linked.
    s.as_mut().reset(Instant::from_std(h.now()) - ms(1));
    assert!(s.as_mut().poll(&mut cx).is_ready());
    drop(s);
    assert_eq!(h.with_wheel(|w| w.slab_len() - w.free_len()), 0);
}

/// A worker keeps its default timer slack while no near timer is pending,
/// lowers it when it waits on a near deadline, and restores the default
/// when it waits with only a far timer pending: one `prctl` per change.
#[test]
fn a_worker_lowers_its_timer_slack_only_while_a_near_timer_is_pending() {
    use super::slack::{current_slack, worker_slack_changes};
    // The worker inherits this thread's slack as its default.
    let Some(default) = current_slack().filter(|&d| d > 1) else {
        // prctl is unavailable, or this thread's slack is already lowered:
        // no default to tell apart.
        return;
    };
    let rt = crate::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let on_worker = || {
        rt.block_on(async {
            crate::spawn(async { (current_slack(), worker_slack_changes()) })
                .await
                .expect("task")
        })
    };
    // No timer has ever been pending: the default, never changed.
    assert_eq!(on_worker(), (Some(default), 0));

    // A 1 ms sleep: the worker, with nothing else to run, parks on its
    // deadline. (Retried only in case the timer fired before the worker
    // parked, e.g. on a loaded machine.)
    let lowered = rt.block_on(async {
        crate::spawn(async {
            for _ in 0..1_000 {
                sleep(ms(1)).await;
                if current_slack() == Some(1) {
                    return Some(worker_slack_changes());
                }
            }
            None
        })
        .await
        .expect("task")
    });
    assert_eq!(lowered, Some(1), "lowered once, for the near deadline");

    // Only a far timer pending: the worker's next wait restores the
    // default. Read until a read comes after such a wait.
    let far = rt.spawn(async { sleep(Duration::from_secs(3_600)).await });
    let mut seen = on_worker();
    for _ in 0..1_000 {
        if seen.0 == Some(default) {
            break;
        }
        std::thread::sleep(ms(1));
        seen = on_worker();
    }
    assert_eq!(seen, (Some(default), 2), "restored once, for the far wait");
    far.abort();
}

/// The direct clock read (`now_nanos` on a real clock) is never ahead of
/// the `Instant` reckoning that deadlines are converted with, so a timer
/// compared against it never fires early.
#[test]
fn direct_clock_read_is_never_ahead_of_instant_reckoning() {
    let clock = super::clock::Clock::new(false, false);
    for _ in 0..10_000 {
        let n = clock.now_nanos();
        let after = clock.deadline_to_nanos(std::time::Instant::now());
        assert!(
            n <= after,
            "now_nanos {n} ahead of the Instant reading {after}"
        );
    }
}
