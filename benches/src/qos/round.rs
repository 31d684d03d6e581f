//! One round of the `qos` workload on one runtime: start the Batch backlog,
//! let the critical task take its wakes, stop the backlog.
//!
//! Everything the round waits for has a deadline, so a lost wake-up or a
//! starved critical task ends the round with an error instead of a hang.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use futures_channel::mpsc as chan;
use futures_util::StreamExt;
use perf_runtime::task::Qos;

use super::{Mode, BATCH_TASKS, PERIOD};
use crate::rt::Rt;
use crate::spin::Spin;

/// Upper bound for starting or stopping the Batch backlog.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Slack on top of the round's expected length before it counts as stuck.
const ROUND_SLACK: Duration = Duration::from_secs(2);

/// A round may take this many times its expected length (late wakes make a
/// timer round longer) before it is abandoned.
const ROUND_STRETCH: u32 = 4;

/// What one round runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RoundPlan {
    /// Measured wakes.
    pub wakes: usize,
    /// Wakes taken and dropped before measuring.
    pub warmup: usize,
    /// The Batch tasks' per-poll work.
    pub spin: Spin,
    /// Timer mode: index of the round's first sleep in
    /// [`super::timer_sleep`]'s sequence (the same on every runtime).
    pub first_sleep: u64,
}

impl RoundPlan {
    /// How long the round may take before it is abandoned.
    fn time_cap(&self) -> Duration {
        let total = u32::try_from(self.warmup + self.wakes).unwrap_or(u32::MAX);
        PERIOD
            .saturating_mul(total)
            .saturating_mul(ROUND_STRETCH)
            .saturating_add(ROUND_SLACK)
    }
}

/// What one round measured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoundResult {
    /// Delay of each measured wake, in ns. For [`Mode::Timer`] this is the
    /// lateness past the deadline the task asked for.
    pub delays_ns: Vec<u64>,
    /// Batch polls completed between the end of the warm-up and the last
    /// measured wake.
    pub batch_polls: u64,
    /// Length of that window.
    pub window: Duration,
}

/// Collects the critical task's wakes: drops the warm-up, keeps the delays,
/// and brackets the measured window with the Batch poll counter.
#[derive(Debug)]
pub(crate) struct Recorder {
    warmup: usize,
    wakes: usize,
    warm_seen: usize,
    delays_ns: Vec<u64>,
    start: Option<(Instant, u64)>,
    last: Option<(Instant, u64)>,
}

impl Recorder {
    pub(crate) fn new(warmup: usize, wakes: usize) -> Recorder {
        Recorder {
            warmup,
            wakes,
            warm_seen: 0,
            delays_ns: Vec::with_capacity(wakes),
            start: None,
            last: None,
        }
    }

    /// Records a wake seen at `now` with the given delay, while the Batch
    /// poll counter read `polls`. Returns true once every measured wake is in.
    pub(crate) fn record(&mut self, delay: Duration, now: Instant, polls: u64) -> bool {
        if self.warm_seen < self.warmup {
            self.warm_seen += 1;
            if self.warm_seen == self.warmup {
                self.start = Some((now, polls));
            }
            return false;
        }
        if self.delays_ns.len() < self.wakes {
            self.delays_ns
                .push(u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX));
            self.start.get_or_insert((now, polls));
            self.last = Some((now, polls));
        }
        self.is_complete()
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.delays_ns.len() >= self.wakes
    }

    pub(crate) fn measured(&self) -> usize {
        self.delays_ns.len()
    }

    pub(crate) fn finish(self) -> RoundResult {
        let (batch_polls, window) = match (self.start, self.last) {
            (Some((t0, p0)), Some((t1, p1))) => {
                (p1.saturating_sub(p0), t1.saturating_duration_since(t0))
            }
            _ => (0, Duration::ZERO),
        };
        RoundResult {
            delays_ns: self.delays_ns,
            batch_polls,
            window,
        }
    }
}

/// The next instant on the grid `origin + k * period` to wait for, after a
/// wait for `prev` (if any) ended at `now`: one period after `prev`, or, if
/// that has already passed, the first grid point after `now` (missed slots
/// are skipped, not burst through).
pub(crate) fn next_deadline(
    origin: Instant,
    period: Duration,
    prev: Option<Instant>,
    now: Instant,
) -> Instant {
    if let Some(next) = prev.and_then(|p| p.checked_add(period)) {
        if next > now {
            return next;
        }
    }
    let period_ns = period.as_nanos().max(1);
    let k = now.saturating_duration_since(origin).as_nanos() / period_ns + 1;
    let offset = u64::try_from(k * period_ns).unwrap_or(u64::MAX);
    origin + Duration::from_nanos(offset)
}

/// The Batch backlog: tasks that spin and yield until stopped. Dropping it
/// tells them to stop without waiting.
struct Backlog {
    stop: Arc<AtomicBool>,
    polls: Arc<AtomicU64>,
    finished: mpsc::Receiver<()>,
    tasks: usize,
}

impl Backlog {
    /// Spawns `tasks` tasks of class `qos` and returns once every one has
    /// been polled.
    fn start<R: Rt>(rt: &R, spin: Spin, tasks: usize, qos: Qos) -> Result<Backlog, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let polls = Arc::new(AtomicU64::new(0));
        let (started_tx, started) = mpsc::channel();
        let (finished_tx, finished) = mpsc::channel();
        let backlog = Backlog {
            stop: stop.clone(),
            polls: polls.clone(),
            finished,
            tasks,
        };
        rt.block_on(async {
            for _ in 0..tasks {
                R::spawn_with(
                    qos,
                    batch_task::<R>(
                        spin,
                        stop.clone(),
                        polls.clone(),
                        started_tx.clone(),
                        finished_tx.clone(),
                    ),
                );
            }
        });
        let deadline = Instant::now() + STEP_TIMEOUT;
        for started_so_far in 0..tasks {
            let left = deadline.saturating_duration_since(Instant::now());
            if started.recv_timeout(left).is_err() {
                return Err(format!(
                    "only {started_so_far} of {tasks} {qos} background tasks started within {}s",
                    STEP_TIMEOUT.as_secs()
                ));
            }
        }
        Ok(backlog)
    }

    /// Stops the backlog and waits until every task has returned.
    fn stop(self) -> Result<(), String> {
        self.stop.store(true, Relaxed);
        let deadline = Instant::now() + STEP_TIMEOUT;
        for stopped in 0..self.tasks {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.finished.recv_timeout(left).is_err() {
                return Err(format!(
                    "only {stopped} of {} background tasks stopped within {}s",
                    self.tasks,
                    STEP_TIMEOUT.as_secs()
                ));
            }
        }
        Ok(())
    }
}

impl Drop for Backlog {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
    }
}

/// One background task: every poll burns `spin` and yields, until `stop`.
async fn batch_task<R: Rt>(
    spin: Spin,
    stop: Arc<AtomicBool>,
    polls: Arc<AtomicU64>,
    started: mpsc::Sender<()>,
    finished: mpsc::Sender<()>,
) {
    let _ = started.send(());
    drop(started);
    while !stop.load(Relaxed) {
        black_box(spin.run());
        polls.fetch_add(1, Relaxed);
        R::yield_now().await;
    }
    let _ = finished.send(());
}

/// The critical task of `outside` and `inside`: each message is the instant
/// it was sent by the outside thread; the delay is that to the moment the
/// receive returns in this task.
async fn receive_task(
    mut rx: chan::UnboundedReceiver<Instant>,
    mut rec: Recorder,
    polls: Arc<AtomicU64>,
    done: mpsc::Sender<Recorder>,
) {
    while let Some(sent) = rx.next().await {
        let now = Instant::now();
        if rec.record(
            now.saturating_duration_since(sent),
            now,
            polls.load(Relaxed),
        ) {
            break;
        }
    }
    let _ = done.send(rec);
}

/// The Normal relay of `inside`: forwards each send instant unchanged.
async fn relay(mut rx: chan::UnboundedReceiver<Instant>, tx: chan::UnboundedSender<Instant>) {
    while let Some(sent) = rx.next().await {
        if tx.unbounded_send(sent).is_err() {
            break;
        }
    }
}

/// The critical task of `timer`: asks the runtime's own timer for sleep
/// after sleep of [`super::timer_sleep`] (from index `first_sleep` on), as
/// a user would: the deadline is `Instant::now() + d`, taken just before
/// the sleep, and the delay is how late the task runs past that deadline.
/// Each sleep starts when the previous one ends, so a late wake is never
/// followed by a burst.
async fn timer_task<R: Rt>(
    first_sleep: u64,
    mut rec: Recorder,
    polls: Arc<AtomicU64>,
    cap: Instant,
    done: mpsc::Sender<Recorder>,
) {
    for k in first_sleep.. {
        let deadline = Instant::now() + super::timer_sleep(k);
        R::sleep_until(deadline).await;
        let now = Instant::now();
        let complete = rec.record(
            now.saturating_duration_since(deadline),
            now,
            polls.load(Relaxed),
        );
        if complete || now >= cap {
            break;
        }
    }
    let _ = done.send(rec);
}

/// The outside thread: a plain std thread that sends its current instant
/// `count` times, one per slot of a 1 ms grid laid from its start, until
/// `cap`.
fn spawn_sender(
    tx: chan::UnboundedSender<Instant>,
    count: usize,
    cap: Instant,
) -> Result<thread::JoinHandle<()>, String> {
    thread::Builder::new()
        .name("qos-outside".to_owned())
        .spawn(move || {
            let origin = Instant::now();
            let mut slot = None;
            for _ in 0..count {
                let now = Instant::now();
                if now >= cap {
                    break;
                }
                let at = next_deadline(origin, PERIOD, slot, now);
                thread::sleep(at.saturating_duration_since(now));
                slot = Some(at);
                if tx.unbounded_send(Instant::now()).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| format!("spawning the outside thread: {e}"))
}

/// Runs one round of `mode` on `rt`.
pub(crate) fn run_round<R: Rt>(
    rt: &R,
    mode: Mode,
    plan: &RoundPlan,
) -> Result<RoundResult, String> {
    let cap_len = plan.time_cap();
    let backlog = Backlog::start(rt, plan.spin, BATCH_TASKS, Qos::Batch)?;
    let cap = Instant::now() + cap_len;
    let (done_tx, done_rx) = mpsc::channel();
    let rec = Recorder::new(plan.warmup, plan.wakes);
    let polls = backlog.polls.clone();
    let sends = plan.warmup + plan.wakes;
    let sender = match mode {
        Mode::Timer => {
            let first_sleep = plan.first_sleep;
            rt.block_on(async move {
                R::spawn_with(
                    Qos::Critical,
                    timer_task::<R>(first_sleep, rec, polls, cap, done_tx),
                );
            });
            None
        }
        Mode::Outside => {
            let (tx, rx) = chan::unbounded();
            rt.block_on(async move {
                R::spawn_with(Qos::Critical, receive_task(rx, rec, polls, done_tx));
            });
            Some(spawn_sender(tx, sends, cap)?)
        }
        Mode::Inside => {
            let (tx, rx) = chan::unbounded();
            let (relay_tx, relay_rx) = chan::unbounded();
            rt.block_on(async move {
                R::spawn_with(Qos::Critical, receive_task(relay_rx, rec, polls, done_tx));
                R::spawn_with(Qos::Normal, relay(rx, relay_tx));
            });
            Some(spawn_sender(tx, sends, cap)?)
        }
    };
    let rec = done_rx.recv_timeout(cap_len + ROUND_SLACK).map_err(|_| {
        format!(
            "the critical task did not finish within {:.1}s (lost wake-up or starvation?)",
            (cap_len + ROUND_SLACK).as_secs_f64()
        )
    })?;
    if let Some(sender) = sender {
        sender
            .join()
            .map_err(|_| "the outside thread panicked".to_owned())?;
    }
    backlog.stop()?;
    if !rec.is_complete() {
        return Err(format!(
            "the critical task got only {} of {} measured wakes within {:.1}s",
            rec.measured(),
            plan.wakes,
            cap_len.as_secs_f64()
        ));
    }
    Ok(rec.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn recorder_drops_warmup_and_brackets_the_window() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut rec = Recorder::new(2, 3);
        assert!(!rec.record(MS * 9, at(1), 10));
        assert!(!rec.record(MS * 9, at(2), 20)); // warm-up ends: window opens
        assert!(!rec.record(MS, at(3), 30));
        assert!(!rec.record(MS * 2, at(4), 45));
        assert!(rec.record(MS * 3, at(5), 60));
        // Extra wakes after completion are ignored.
        assert!(rec.record(MS * 7, at(6), 70));
        assert_eq!(rec.measured(), 3);
        let r = rec.finish();
        assert_eq!(r.delays_ns, vec![1_000_000, 2_000_000, 3_000_000]);
        assert_eq!(r.batch_polls, 40);
        assert_eq!(r.window, MS * 3);
    }

    #[test]
    fn recorder_without_warmup_opens_at_the_first_wake() {
        let t0 = Instant::now();
        let mut rec = Recorder::new(0, 2);
        assert!(!rec.record(MS, t0, 5));
        assert!(rec.record(MS, t0 + MS * 4, 9));
        let r = rec.finish();
        assert_eq!((r.batch_polls, r.window), (4, MS * 4));
    }

    #[test]
    fn incomplete_recorder_reports_what_it_has() {
        let rec = Recorder::new(1, 5);
        assert!(!rec.is_complete());
        assert_eq!(rec.finish(), RoundResult::default());
        let mut rec = Recorder::new(1, 5);
        rec.record(MS, Instant::now(), 0);
        rec.record(MS, Instant::now(), 0);
        assert_eq!(rec.measured(), 1);
        assert!(!rec.is_complete());
    }

    #[test]
    fn deadlines_follow_the_grid_and_skip_missed_slots() {
        let o = Instant::now();
        let us = |n: u64| o + Duration::from_micros(n);
        // First deadline: the first grid point strictly after now.
        assert_eq!(next_deadline(o, MS, None, us(0)), us(1_000));
        assert_eq!(next_deadline(o, MS, None, us(2_300)), us(3_000));
        assert_eq!(next_deadline(o, MS, None, us(3_000)), us(4_000));
        // On time: one period after the previous deadline.
        assert_eq!(next_deadline(o, MS, Some(us(3_000)), us(3_200)), us(4_000));
        // Late by more than a period: skip to the grid point after now.
        assert_eq!(next_deadline(o, MS, Some(us(3_000)), us(4_000)), us(5_000));
        assert_eq!(next_deadline(o, MS, Some(us(3_000)), us(6_700)), us(7_000));
        // `now` before the origin (cannot happen, but must not underflow).
        assert_eq!(next_deadline(us(5_000), MS, None, us(0)), us(6_000));
    }

    /// tokio's timer has a documented millisecond granularity (a deadline
    /// is rounded up to its next 1 ms tick), so over deadlines spread within
    /// the millisecond the lateness from the *requested* deadline averages
    /// about half a tick even on an idle runtime. Lateness measured from the
    /// tick, or from deadlines laid just before the ticks, would be tens of
    /// µs.
    #[test]
    fn timer_lateness_is_measured_from_the_requested_deadline() {
        use crate::rt::Tokio;
        const SLEEPS: usize = 200;
        let rt = Tokio::build(2).expect("tokio builds");
        let (done_tx, done_rx) = mpsc::channel();
        let cap = Instant::now() + Duration::from_secs(10);
        rt.block_on(async move {
            Tokio::spawn_with(
                Qos::Critical,
                timer_task::<Tokio>(
                    0,
                    Recorder::new(0, SLEEPS),
                    Arc::new(AtomicU64::new(0)),
                    cap,
                    done_tx,
                ),
            );
        });
        let rec = done_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the timer task finishes");
        assert!(rec.is_complete());
        let late = rec.finish().delays_ns;
        let mean = late.iter().sum::<u64>() as f64 / late.len() as f64;
        assert!(mean > 250_000.0, "mean lateness {mean} ns");
    }

    #[test]
    fn time_cap_grows_with_the_wakes() {
        let plan = |wakes| RoundPlan {
            wakes,
            warmup: 20,
            spin: Spin::with_iterations(1),
            first_sleep: 0,
        };
        assert_eq!(plan(980).time_cap(), Duration::from_secs(4 + 2));
        assert!(plan(usize::MAX - 20).time_cap() > Duration::from_secs(3600));
    }
}
