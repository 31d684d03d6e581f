//! The throttling step-down controller, driven by synthetic `cpu.stat`
//! samples.

use std::time::Duration;

use super::*;

/// Feeds samples to a controller, keeping the counters cumulative and the
/// active count as the controller last asked.
struct Drive {
    c: ThrottleController,
    periods: u64,
    throttled: u64,
    active: usize,
}

impl Drive {
    fn new(ceiling: usize, config: ThrottleConfig) -> Drive {
        let mut d = Drive {
            c: ThrottleController::new(ceiling, config),
            periods: 0,
            throttled: 0,
            active: ceiling,
        };
        // The first sample only sets the baseline.
        assert_eq!(d.sample(0, true), Step::Hold(ceiling));
        d
    }

    /// One sample interval of 10 periods, `throttled` of them throttled.
    fn sample(&mut self, throttled: u64, all_busy: bool) -> Step {
        self.periods += 10;
        self.throttled += throttled;
        let t = Throttling {
            nr_periods: self.periods,
            nr_throttled: self.throttled,
            throttled_time: Duration::from_millis(self.throttled * 25),
        };
        let step = self.c.observe(t, all_busy, self.active);
        self.active = step.target();
        step
    }

    fn throttled(&mut self, n: usize) -> Vec<Step> {
        (0..n).map(|_| self.sample(4, true)).collect()
    }

    fn clean(&mut self, n: usize) -> Vec<Step> {
        (0..n).map(|_| self.sample(0, true)).collect()
    }
}

fn config() -> ThrottleConfig {
    ThrottleConfig {
        down_after: 3,
        up_after: 5,
        max_up_after: 40,
    }
}

#[test]
fn steps_down_after_n_throttled_busy_samples() {
    let mut d = Drive::new(4, config());
    assert_eq!(
        d.throttled(3),
        [Step::Hold(4), Step::Hold(4), Step::Down(3)]
    );
    assert_eq!(d.c.step_downs(), 1);
    // The streak restarts after a step.
    assert_eq!(
        d.throttled(3),
        [Step::Hold(3), Step::Hold(3), Step::Down(2)]
    );
    assert_eq!(d.c.step_downs(), 2);
}

#[test]
fn never_below_one_worker() {
    let mut d = Drive::new(2, config());
    d.throttled(3);
    assert_eq!(d.active, 1);
    assert!(d.throttled(30).iter().all(|s| *s == Step::Hold(1)));
    assert_eq!(d.c.step_downs(), 1);
}

#[test]
fn never_below_the_floor() {
    let mut d = Drive::new(3, config());
    d.c.set_floor(2);
    d.throttled(3);
    assert_eq!(d.active, 2);
    assert!(d.throttled(30).iter().all(|s| *s == Step::Hold(2)));
    assert_eq!(d.c.step_downs(), 1);
    // A floor above the ceiling is the ceiling.
    let mut d = Drive::new(2, config());
    d.c.set_floor(5);
    assert!(d.throttled(10).iter().all(|s| *s == Step::Hold(2)));
    assert_eq!(d.c.step_downs(), 0);
}

#[test]
fn throttling_while_workers_idle_is_not_ours() {
    let mut d = Drive::new(4, config());
    for _ in 0..10 {
        assert_eq!(d.sample(4, false), Step::Hold(4));
    }
    // A non-busy sample breaks the streak.
    d.throttled(2);
    assert_eq!(d.sample(4, false), Step::Hold(4));
    assert_eq!(d.throttled(2), [Step::Hold(4), Step::Hold(4)]);
    assert_eq!(d.c.step_downs(), 0);
}

#[test]
fn a_clean_sample_breaks_the_throttled_streak() {
    let mut d = Drive::new(4, config());
    for _ in 0..5 {
        d.throttled(2);
        assert_eq!(d.sample(0, true), Step::Hold(4));
    }
    assert_eq!(d.c.step_downs(), 0);
}

#[test]
fn steps_back_up_once_throttling_stops_but_not_past_the_ceiling() {
    let mut d = Drive::new(3, config());
    d.throttled(6);
    assert_eq!(d.active, 1);
    let steps = d.clean(5);
    assert_eq!(steps[..4], [Step::Hold(1); 4]);
    assert_eq!(steps[4], Step::Up(2));
    assert_eq!(d.clean(5)[4], Step::Up(3));
    // Everything restored: more clean samples change nothing.
    assert!(d.clean(50).iter().all(|s| *s == Step::Hold(3)));
    assert_eq!((d.c.step_downs(), d.c.step_ups()), (2, 2));
}

#[test]
fn never_steps_up_what_it_did_not_take() {
    let mut d = Drive::new(4, config());
    d.active = 2; // the caller runs fewer workers for its own reasons
    assert!(d.clean(50).iter().all(|s| *s == Step::Hold(2)));
    assert_eq!(d.c.step_ups(), 0);
}

#[test]
fn active_above_the_ceiling_is_clamped() {
    let mut d = Drive::new(2, config());
    d.active = 7;
    assert_eq!(d.sample(0, true), Step::Hold(2));
    d.active = 0;
    assert_eq!(d.sample(0, true), Step::Hold(1));
}

#[test]
fn premature_step_ups_double_the_wait_up_to_the_bound() {
    let mut d = Drive::new(2, config());
    d.throttled(3);
    let mut waits = Vec::new();
    for _ in 0..6 {
        // Demand above the quota: at 2 workers every sample is throttled,
        // at 1 every sample is clean.
        let needed = d.c.clean_samples_needed();
        waits.push(needed);
        let steps = d.clean(needed as usize);
        assert_eq!(
            *steps.last().unwrap(),
            Step::Up(2),
            "after {needed} clean samples"
        );
        assert!(steps[..steps.len() - 1].iter().all(|s| *s == Step::Hold(1)));
        assert_eq!(d.throttled(3)[2], Step::Down(1));
    }
    assert_eq!(waits, [5, 10, 20, 40, 40, 40]);
    assert_eq!((d.c.step_downs(), d.c.step_ups()), (7, 6));
}

#[test]
fn a_lasting_step_up_resets_the_back_off() {
    let mut d = Drive::new(2, config());
    d.throttled(3);
    d.clean(5);
    d.throttled(3); // premature: the next step up needs 10
    assert_eq!(d.c.clean_samples_needed(), 10);
    assert_eq!(d.clean(10)[9], Step::Up(2));
    // This time the step up holds past the window (3 + 5 samples).
    d.clean(9);
    assert_eq!(d.c.clean_samples_needed(), 5);
    // A late relapse is not premature: the wait stays at the base.
    d.throttled(3);
    assert_eq!(d.active, 1);
    assert_eq!(d.c.clean_samples_needed(), 5);
}

#[test]
fn counters_going_backwards_restart_the_comparison() {
    let mut d = Drive::new(4, config());
    d.throttled(2);
    let reset = Throttling {
        nr_periods: 1,
        nr_throttled: 0,
        throttled_time: Duration::ZERO,
    };
    assert_eq!(d.c.observe(reset, true, 4), Step::Hold(4));
    d.periods = 1;
    d.throttled = 0;
    // Two more throttled samples are not enough: the streak restarted.
    assert_eq!(d.throttled(2), [Step::Hold(4), Step::Hold(4)]);
    assert_eq!(d.throttled(1), [Step::Down(3)]);
}

#[test]
fn set_ceiling_starts_over() {
    let mut d = Drive::new(4, config());
    d.throttled(3);
    assert_eq!(d.active, 3);
    d.c.set_ceiling(6);
    d.active = 6;
    assert_eq!(d.c.ceiling(), 6);
    // The withheld worker is forgotten: no step up beyond the new ceiling.
    assert!(d.clean(20).iter().all(|s| *s == Step::Hold(6)));
    assert_eq!(d.c.step_downs(), 1, "counters kept");
    d.c.set_ceiling(0);
    assert_eq!(d.c.ceiling(), 1);
}

#[test]
fn idle_cgroup_counts_as_clean() {
    let mut d = Drive::new(2, config());
    d.throttled(3);
    assert_eq!(d.active, 1);
    // nr_periods does not advance while nothing runs.
    let t = Throttling {
        nr_periods: d.periods,
        nr_throttled: d.throttled,
        throttled_time: Duration::ZERO,
    };
    let steps: Vec<Step> = (0..5).map(|_| d.c.observe(t, false, 1)).collect();
    assert_eq!(steps[4], Step::Up(2));
}

#[test]
fn zero_config_values_act_as_one() {
    let mut d = Drive::new(
        2,
        ThrottleConfig {
            down_after: 0,
            up_after: 0,
            max_up_after: 0,
        },
    );
    assert_eq!(d.throttled(1), [Step::Down(1)]);
    assert_eq!(d.clean(1), [Step::Up(2)]);
    assert_eq!(
        ThrottleConfig::default(),
        ThrottleConfig {
            down_after: 3,
            up_after: 5,
            max_up_after: 80
        }
    );
}
