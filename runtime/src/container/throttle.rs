//! CFS throttling: the counters of `cpu.stat`, and the controller that takes
//! workers out of service while the quota keeps running out.
//!
//! # Why step down
//!
//! With the default `Ceil` rounding a 1.5-CPU quota gets two workers. If
//! both stay busy they burn 150 ms of CPU in 75 ms of each 100 ms period and
//! then every thread of the container — workers, timers, I/O — is frozen
//! for the remaining 25 ms: a latency cliff far worse than one worker
//! queueing. The kernel counts such periods in `nr_throttled`. When it
//! rises sample after sample *while every active worker is busy* (so the
//! runtime's own demand is what exhausts the quota), one worker is parked;
//! once samples come back clean, it is restored.
//!
//! # The state machine
//!
//! Each call to [`ThrottleController::observe`] is one sample (the monitor
//! calls it once per refresh interval). A sample is
//!
//! - *throttled* if `nr_throttled` rose since the previous sample and all
//!   active workers were busy;
//! - *foreign* if `nr_throttled` rose but some worker was idle: something
//!   other than the workers' demand (blocking threads, other processes of
//!   the cgroup) used the quota, so parking a worker would not help;
//! - *clean* if `nr_throttled` did not rise.
//!
//! `down_after` throttled samples in a row step the target down by one
//! (never below the floor: 1 by default, `set_floor` raises it — the
//! runtime sets the quota's whole CPUs, since rounding up risks only the
//! fractional worker). `up_after` clean samples in a row step it up by one,
//! but only to restore a worker that throttling took (never above the
//! ceiling the worker policy chose). A foreign sample breaks both streaks.
//!
//! Hysteresis: when demand stays above the quota the controller would
//! otherwise oscillate (step down, run clean, step up, get throttled). If a
//! step-down follows a step-up within `down_after + up_after` samples, the
//! step-up is judged premature and the clean streak needed for the next one
//! doubles, up to `max_up_after`; it returns to `up_after` once a step-up
//! outlives that window. So a persistent overload costs at
//! most `down_after` throttled samples every `max_up_after` samples.
//!
//! Counters that go backwards (the cgroup was recreated, or the monitor
//! switched files) restart the comparison without counting the sample.

use std::time::Duration;

/// The throttling counters of a cgroup's `cpu.stat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Throttling {
    /// Enforcement periods (`cpu.cfs_period_us` each) that have elapsed
    /// while the cgroup had runnable tasks.
    pub nr_periods: u64,
    /// How many of those periods ended with the quota exhausted.
    pub nr_throttled: u64,
    /// Total time the cgroup's threads were held back (`throttled_usec`
    /// on v2, `throttled_time` in nanoseconds on v1).
    pub throttled_time: Duration,
}

impl Throttling {
    /// Parses `cpu.stat` of either version.
    ///
    /// # Errors
    ///
    /// `nr_periods` or `nr_throttled` missing or not a number, a malformed
    /// throttled time, or a line that is not `key value`. Other keys
    /// (`usage_usec`, `nr_bursts`, ...) are ignored.
    pub fn parse_cpu_stat(text: &str) -> Result<Throttling, String> {
        let (mut periods, mut throttled, mut time) = (None, None, None);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let mut words = line.split_whitespace();
            let (Some(key), Some(value), None) = (words.next(), words.next(), words.next()) else {
                return Err(format!("line {line:?} is not `key value`"));
            };
            let slot = match key {
                "nr_periods" => &mut periods,
                "nr_throttled" => &mut throttled,
                "throttled_usec" | "throttled_time" => &mut time,
                _ => continue,
            };
            let n = value
                .parse::<u64>()
                .map_err(|_| format!("{key} {value:?} is not a non-negative integer"))?;
            *slot = Some(match key {
                "throttled_usec" => n.saturating_mul(1_000),
                _ => n,
            });
        }
        Ok(Throttling {
            nr_periods: periods.ok_or("no nr_periods line")?,
            nr_throttled: throttled.ok_or("no nr_throttled line")?,
            throttled_time: Duration::from_nanos(time.unwrap_or(0)),
        })
    }
}

/// Tuning of a [`ThrottleController`]; [`Default`] gives the documented
/// values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Consecutive throttled samples before a step down (default 3).
    pub down_after: u32,
    /// Consecutive clean samples before a step up (default 5).
    pub up_after: u32,
    /// The longest clean streak a step up can be made to wait for after
    /// repeated premature step-ups (default 80).
    pub max_up_after: u32,
}

impl Default for ThrottleConfig {
    fn default() -> ThrottleConfig {
        ThrottleConfig {
            down_after: 3,
            up_after: 5,
            max_up_after: 80,
        }
    }
}

/// What the controller wants the active worker count to be.
#[must_use = "the step says how many workers should be active"]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// Keep this many active: the caller's count, clamped to
    /// `1..=ceiling`.
    Hold(usize),
    /// Throttling persisted: park workers down to this many.
    Down(usize),
    /// Throttling stopped: unpark workers up to this many.
    Up(usize),
}

impl Step {
    /// The active worker count to apply.
    pub fn target(self) -> usize {
        match self {
            Step::Hold(n) | Step::Down(n) | Step::Up(n) => n,
        }
    }
}

/// The throttling step-down state machine (see the module docs). Pure: it
/// reads nothing and parks nothing; the caller feeds samples and applies
/// the returned [`Step`].
#[derive(Clone, Debug)]
pub struct ThrottleController {
    config: ThrottleConfig,
    ceiling: usize,
    /// Never step below this (clamped to `1..=ceiling`).
    floor: usize,
    previous: Option<Throttling>,
    throttled_streak: u32,
    clean_streak: u32,
    /// Clean samples currently required for a step up.
    up_after_now: u32,
    /// Workers taken by step-downs and not yet restored.
    withheld: usize,
    /// Samples since the last step up, if one happened and was not yet
    /// judged.
    since_step_up: Option<u32>,
    step_downs: u64,
    step_ups: u64,
}

impl ThrottleController {
    /// A controller for a pool whose policy size is `ceiling` workers (at
    /// least 1 is assumed). Zero `down_after`/`up_after` act as 1, and
    /// `max_up_after` below `up_after` as `up_after`.
    pub fn new(ceiling: usize, config: ThrottleConfig) -> ThrottleController {
        let mut config = config;
        config.down_after = config.down_after.max(1);
        config.up_after = config.up_after.max(1);
        config.max_up_after = config.max_up_after.max(config.up_after);
        ThrottleController {
            config,
            ceiling: ceiling.max(1),
            floor: 1,
            previous: None,
            throttled_streak: 0,
            clean_streak: 0,
            up_after_now: config.up_after,
            withheld: 0,
            since_step_up: None,
            step_downs: 0,
            step_ups: 0,
        }
    }

    /// Changes the policy size (the quota or cpuset changed). Streaks, the
    /// back-off and the withheld workers start over: the new ceiling is a
    /// new experiment. The counters of step-downs and step-ups are kept.
    pub fn set_ceiling(&mut self, ceiling: usize) {
        self.ceiling = ceiling.max(1);
        self.throttled_streak = 0;
        self.clean_streak = 0;
        self.up_after_now = self.config.up_after;
        self.withheld = 0;
        self.since_step_up = None;
    }

    /// Sets the lowest count a step-down may reach (at least 1, at most
    /// the ceiling). Throttling at or below it is not answered by parking.
    pub fn set_floor(&mut self, floor: usize) {
        self.floor = floor.max(1);
    }

    /// The policy size given to [`new`](Self::new) or
    /// [`set_ceiling`](Self::set_ceiling).
    pub fn ceiling(&self) -> usize {
        self.ceiling
    }

    /// How many times the controller stepped down.
    pub fn step_downs(&self) -> u64 {
        self.step_downs
    }

    /// How many times the controller stepped back up.
    pub fn step_ups(&self) -> u64 {
        self.step_ups
    }

    /// The clean streak the next step up needs (grows with premature
    /// step-ups; see the module docs).
    pub fn clean_samples_needed(&self) -> u32 {
        self.up_after_now
    }

    /// Feeds one sample: the cgroup's `cpu.stat` counters now, whether all
    /// `active` workers were busy over the interval, and how many are
    /// active now.
    pub fn observe(&mut self, sample: Throttling, all_busy: bool, active: usize) -> Step {
        let active = active.clamp(1, self.ceiling);
        let Some(previous) = self.previous.replace(sample) else {
            return Step::Hold(active);
        };
        if sample.nr_throttled < previous.nr_throttled || sample.nr_periods < previous.nr_periods {
            self.throttled_streak = 0;
            self.clean_streak = 0;
            return Step::Hold(active);
        }
        if let Some(n) = self.since_step_up.as_mut() {
            *n += 1;
        }
        let rose = sample.nr_throttled > previous.nr_throttled;
        match (rose, all_busy) {
            (true, true) => {
                self.throttled_streak += 1;
                self.clean_streak = 0;
            }
            (true, false) => {
                self.throttled_streak = 0;
                self.clean_streak = 0;
            }
            (false, _) => {
                self.clean_streak += 1;
                self.throttled_streak = 0;
            }
        }
        if self.throttled_streak >= self.config.down_after {
            self.throttled_streak = 0;
            if active > self.floor.min(self.ceiling) {
                self.back_off_if_premature();
                self.withheld += 1;
                self.step_downs += 1;
                return Step::Down(active - 1);
            }
        }
        if let Some(n) = self.since_step_up {
            if n > self.premature_window() {
                // The last step up lasted: forget the back-off.
                self.up_after_now = self.config.up_after;
                self.since_step_up = None;
            }
        }
        if self.clean_streak >= self.up_after_now && self.withheld > 0 && active < self.ceiling {
            self.clean_streak = 0;
            self.withheld -= 1;
            self.step_ups += 1;
            self.since_step_up = Some(0);
            return Step::Up(active + 1);
        }
        Step::Hold(active)
    }

    /// A step up undone within this many samples was premature; one that
    /// outlives it has lasted.
    fn premature_window(&self) -> u32 {
        self.config.down_after.saturating_add(self.config.up_after)
    }

    fn back_off_if_premature(&mut self) {
        let window = self.premature_window();
        if self.since_step_up.take().is_some_and(|n| n <= window) {
            self.up_after_now = self
                .up_after_now
                .saturating_mul(2)
                .min(self.config.max_up_after);
        }
    }
}
