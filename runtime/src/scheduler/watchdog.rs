//! The watchdog: notices task polls that run too long.
//!
//! A poll that does not return keeps its worker from every other task on it,
//! so it is the first thing to find when tail latency goes wrong. Measuring
//! each poll with a clock would cost two clock reads per poll; instead each
//! worker publishes a sequence number (odd while inside a poll), the polled
//! task's id and spawn site (three relaxed stores per poll), and a watchdog
//! thread samples those every `threshold / 8`. A poll seen in progress at two
//! samples at least `threshold` apart is flagged; when it returns, the worker
//! reports it — task id, name, spawn site and the lower bound on its
//! duration — as a `tracing` warning, once per task, and counts it. A poll
//! still running after ten thresholds is also reported by the watchdog
//! thread itself (id and site), since it may never return.

use crate::loom::sync::atomic::{AtomicPtr, AtomicU64, Ordering::*};
use crate::task::core::Header;
use crossbeam_utils::CachePadded;
use std::panic::Location;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Counters kept for the metrics issue and for tests.
#[derive(Default)]
pub(crate) struct Stats {
    /// Distinct tasks reported for a long poll.
    pub(crate) long_polls: AtomicU64,
    /// Polls reported while still running after ten thresholds.
    pub(crate) stuck_polls: AtomicU64,
}

/// What one worker publishes about its current poll.
pub(crate) struct WorkerWatch {
    seq: AtomicU64,
    task_id: AtomicU64,
    site: AtomicPtr<Location<'static>>,
    /// The odd `seq` the watchdog flagged, and when it first saw it.
    overdue_seq: AtomicU64,
    overdue_since: AtomicU64,
    epoch: Instant,
}

impl WorkerWatch {
    pub(crate) fn new(epoch: Instant) -> WorkerWatch {
        WorkerWatch {
            seq: AtomicU64::new(0),
            task_id: AtomicU64::new(0),
            site: AtomicPtr::new(std::ptr::null_mut()),
            overdue_seq: AtomicU64::new(0),
            overdue_since: AtomicU64::new(0),
            epoch,
        }
    }

    #[inline]
    pub(crate) fn poll_start(&self, header: &Header) {
        let seq = self.seq.load(Relaxed) + 1;
        self.task_id.store(header.id.as_u64(), Relaxed);
        self.site
            .store(header.spawned_at as *const _ as *mut _, Relaxed);
        self.seq.store(seq, Release);
    }

    /// Ends the poll; reports it if the watchdog flagged it.
    #[inline]
    pub(crate) fn poll_end(&self, header: &Header, stats: &Stats) {
        let seq = self.seq.load(Relaxed);
        self.seq.store(seq + 1, Release);
        if self.overdue_seq.load(Acquire) == seq {
            self.report(header, stats);
        }
    }

    #[cold]
    #[inline(never)]
    fn report(&self, header: &Header, stats: &Stats) {
        if !header.state.set_long_poll_reported() {
            return;
        }
        stats.long_polls.fetch_add(1, Relaxed);
        let since = Duration::from_nanos(self.overdue_since.load(Relaxed));
        let at_least = self.epoch.elapsed().saturating_sub(since);
        tracing::warn!(
            task.id = header.id.as_u64(),
            task.name = header.name().unwrap_or("<unnamed>"),
            spawned_at = %header.spawned_at,
            poll_ms = at_least.as_millis() as u64,
            "a task poll ran for at least {} ms without yielding; it blocked its worker \
             (move blocking work to spawn_blocking or block_in_place, or add yield points)",
            at_least.as_millis(),
        );
        // Also a validation report (LongPoll), so `validation::take_reports`
        // and the JSON output carry it with the other findings.
        if let Some(id) = std::num::NonZeroU64::new(header.id.as_u64()) {
            let _ = crate::validation::report_long_poll(
                id,
                header.name(),
                header.spawned_at.into(),
                at_least,
            );
        }
    }
}

/// How often the watchdog asks the validation engine for stalled waits.
const SCAN_INTERVAL: Duration = Duration::from_millis(250);

/// Every live task of the runtime if nothing can run now (see
/// `multi_thread::MultiThreadScheduler::blocked_tasks_if_idle`).
pub(crate) type IdleProbe = Box<dyn Fn() -> Option<Vec<crate::validation::BlockedTask>> + Send>;

/// Tracks one "nothing can run" episode for the `AllTasksBlocked` report:
/// it must last the stall threshold with no poll anywhere, and is reported
/// once.
struct IdleEpisode {
    since: Option<(Duration, u64)>,
    reported: bool,
}

impl IdleEpisode {
    fn check(&mut self, name: &str, probe: &IdleProbe, progress: u64, now: Duration) {
        let Some(blocked) = probe() else {
            self.since = None;
            self.reported = false;
            return;
        };
        match self.since {
            Some((_, p)) if p != progress => {
                self.since = Some((now, progress));
                self.reported = false;
            }
            None => self.since = Some((now, progress)),
            Some((start, _)) => {
                if !self.reported
                    && now.saturating_sub(start) >= crate::validation::stall_threshold()
                {
                    self.reported = true;
                    let _ = crate::validation::report_all_tasks_blocked(name, &blocked);
                }
            }
        }
    }
}

/// One watchdog thread per runtime.
pub(crate) struct Watchdog {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Sample {
    seq: u64,
    first_seen: Duration,
    stuck_reported: bool,
}

impl Watchdog {
    /// Starts the thread watching `workers`; `None` if disabled.
    pub(crate) fn start(
        name: &str,
        threshold: Duration,
        workers: Vec<Arc<CachePadded<WorkerWatch>>>,
        stats: Arc<Stats>,
        epoch: Instant,
        probe: Option<IdleProbe>,
    ) -> std::io::Result<Watchdog> {
        let runtime_name = name.to_owned();
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop2 = stop.clone();
        let interval = (threshold / 8).max(Duration::from_millis(1));
        let thread = std::thread::Builder::new()
            .name(format!("{name}-watchdog"))
            .spawn(move || {
                let mut samples: Vec<Sample> = workers
                    .iter()
                    .map(|_| Sample {
                        seq: 0,
                        first_seen: Duration::ZERO,
                        stuck_reported: false,
                    })
                    .collect();
                let mut next_scan = Duration::ZERO;
                let mut episode = IdleEpisode {
                    since: None,
                    reported: false,
                };
                let (lock, cvar) = &*stop2;
                let mut stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
                while !*stopped {
                    stopped = cvar
                        .wait_timeout(stopped, interval)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                    let now = epoch.elapsed();
                    for (w, s) in workers.iter().zip(samples.iter_mut()) {
                        check(w, s, now, threshold, &stats);
                    }
                    if now >= next_scan {
                        // Channel and wait stalls (the engine reports each
                        // once; its threshold is `Builder::stall_threshold`).
                        next_scan = now + SCAN_INTERVAL;
                        let _ = crate::validation::scan(Instant::now());
                        if let Some(probe) = &probe {
                            let progress = workers.iter().map(|w| w.seq.load(Acquire)).sum();
                            episode.check(&runtime_name, probe, progress, now);
                        }
                    }
                }
            })
            .map_err(|e| crate::runtime::thread_spawn_error("the watchdog thread", e))?;
        Ok(Watchdog {
            stop,
            thread: Some(thread),
        })
    }

    pub(crate) fn stop(&mut self) {
        let (lock, cvar) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cvar.notify_all();
        if let Some(t) = self.thread.take() {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop();
    }
}

fn check(w: &WorkerWatch, s: &mut Sample, now: Duration, threshold: Duration, stats: &Stats) {
    let seq = w.seq.load(Acquire);
    if seq % 2 == 0 || seq != s.seq {
        // Idle, or a different poll than last time.
        s.seq = seq;
        s.first_seen = now;
        s.stuck_reported = false;
        return;
    }
    let running = now.saturating_sub(s.first_seen);
    if running >= threshold && w.overdue_seq.load(Relaxed) != seq {
        w.overdue_since
            .store(s.first_seen.as_nanos() as u64, Relaxed);
        w.overdue_seq.store(seq, Release);
    }
    if running >= threshold * 10 && !s.stuck_reported {
        s.stuck_reported = true;
        stats.stuck_polls.fetch_add(1, Relaxed);
        let site = w.site.load(Relaxed);
        // SAFETY: `site` is null or a `&'static Location` stored by `poll_start`; statics are never freed.
        let site = unsafe { site.as_ref() };
        tracing::warn!(
            task.id = w.task_id.load(Relaxed),
            spawned_at = %site.map(|s| s.to_string()).unwrap_or_default(),
            "a task poll has been running for {} ms and has not returned; its worker serves no other task",
            running.as_millis(),
        );
    }
}
