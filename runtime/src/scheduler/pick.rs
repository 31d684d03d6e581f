//! Which class a worker serves first at each scheduling tick.
//!
//! Classes are strictly ordered — Critical, then Normal, then Batch — except
//! that each lower class is owed a turn once the other classes have been
//! served for a number of picks set by its weight. With weights `wc`, `wn`,
//! `wb` and `total = wc + wn + wb`, the period of a lower class `c` is
//! `ceil(total / wc)`.
//!
//! Picks are counted by what they cost, not one by one: on the multi-thread
//! scheduler a poll that ran for `d` counts as `max(1, d / PICK_NS)` picks
//! ([`PICK_NS`] is 1 µs), so a 300 µs Batch poll counts as 300 picks, a
//! 3 µs Critical poll as 3, and a 200 ns one as one. For each lower class
//! `c`:
//!
//! - a pick that serves `c` resets `c`'s count to zero, and sets the count
//!   at which `c` is owed again to `(period - 1) × cost` of that poll (in
//!   picks); a turn of `c` that finds it empty resets the count and sets it
//!   back to `period - 1`;
//! - a pick that serves another class adds its cost to `c`'s count;
//! - when Batch's count has reached its owed mark, the order is Batch,
//!   Critical, Normal; otherwise when Normal's has, Normal, Critical, Batch;
//!   otherwise Critical, Normal, Batch;
//! - a pick that finds every class empty resets both counts (the owed marks
//!   stay: an idle moment does not forgive a class the cost of its last
//!   poll, which is all the debt it can carry).
//!
//! So while a lower class has work, whatever the higher classes do, it is
//! owed again as soon as the other classes' polls since its last one have
//! cost `(period - 1) × cost`, `cost` being what its last poll cost, and
//! served at the next pick (Batch's turn wins a tie, which can push
//! Normal's back by one pick): it cannot starve, and it gets about one
//! `period`-th of the poll time (less by the overshoot of the poll that
//! crosses the mark; counted in `PICK_NS` steps). And a
//! Critical task waits for a lower-class poll only when Critical work has
//! itself used up its share — for each lower class at most once in its
//! `period` picks, and for about `1 / period` of the time: a long Batch
//! poll is followed by `period - 1`
//! times its length of other work before Batch is owed again, not by
//! `period - 1` polls of a few microseconds each. Nothing is reserved: a
//! class runs at full speed when the classes ahead of it are empty, and an
//! owed turn that finds its class empty costs one queue check and falls
//! through to Critical at once.
//!
//! The cost of a pick is charged after its poll ([`Picker::charge`]; a
//! stolen task's poll is charged too); until then, and where polls are not
//! timed (the current-thread scheduler, which keeps the exact
//! one-poll-one-pick order its tests check), every pick costs one.
//!
//! The multi-thread worker times a poll with no clock read of its own: it
//! uses the readings its run loop takes at the start of a tick for the
//! timers and the I/O ring (`time::TimerPace`), taken also while two
//! classes or more have work queued on the worker. A poll is charged the
//! time between the reading at its tick and the reading at the next one.
//! The pace skips readings while ticks are short (about 4 µs of them) and
//! reads at every tick once they are long, so every poll of a stretch of
//! long polls is charged, except the first after a stretch of short ones,
//! which counts as one pick (a clock read costs 20 ns on bare metal but
//! 100-500 ns on a VM that traps TSC reads, like the benchmark VM: two per
//! poll cost more than most polls).

use crate::task::Qos;
use std::cell::Cell;
use std::fmt;

/// Per-class weights: the minimum share of the workers' poll time (counted in
/// microseconds, a shorter poll as one) that each class gets while it has
/// work (see the module docs for the exact rule).
///
/// The default is Critical 12, Normal 3, Batch 1: Batch gets at least 1/16
/// of the time and Normal 3/16 while they have work, and Critical goes
/// first whenever it has not used up its share. When every poll is short
/// (under 2 µs), that is: Batch is served at least once in 16 picks and
/// Normal at least once in 6 (7 when its turn ties with Batch's). Set them with
/// [`Builder::qos_weights`](crate::runtime::Builder::qos_weights).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QosWeights {
    critical: u32,
    normal: u32,
    batch: u32,
}

/// The largest total weight accepted: periods are counted in `u16`-sized
/// steps and a larger total would starve a lower class for too long to call
/// it a share.
pub(crate) const MAX_TOTAL_WEIGHT: u32 = 1024;

impl QosWeights {
    /// Weights for Critical, Normal and Batch.
    ///
    /// # Errors
    /// A zero weight (that class could starve: every class needs at least 1)
    /// or a total above 1024.
    pub fn new(critical: u32, normal: u32, batch: u32) -> Result<QosWeights, InvalidWeights> {
        let w = QosWeights {
            critical,
            normal,
            batch,
        };
        for qos in Qos::ALL {
            if w.get(qos) == 0 {
                return Err(InvalidWeights(format!(
                    "qos_weights({critical}, {normal}, {batch}): the {qos} weight is 0, so {qos} \
                     tasks could starve; give every class a weight of at least 1"
                )));
            }
        }
        let total = critical as u64 + normal as u64 + batch as u64;
        if total > MAX_TOTAL_WEIGHT as u64 {
            return Err(InvalidWeights(format!(
                "qos_weights({critical}, {normal}, {batch}): the weights add up to {total}, more \
                 than {MAX_TOTAL_WEIGHT}; use smaller numbers with the same ratios"
            )));
        }
        Ok(w)
    }

    /// The weight of `qos`.
    pub fn get(&self, qos: Qos) -> u32 {
        match qos {
            Qos::Critical => self.critical,
            Qos::Normal => self.normal,
            Qos::Batch => self.batch,
        }
    }

    /// `qos` (a lower class) is served at least once in this many picks
    /// while it has work.
    pub(crate) fn period(&self, qos: Qos) -> u32 {
        let total = self.critical + self.normal + self.batch;
        total.div_ceil(self.get(qos))
    }
}

impl Default for QosWeights {
    fn default() -> QosWeights {
        QosWeights {
            critical: 12,
            normal: 3,
            batch: 1,
        }
    }
}

/// Weights that cannot be used; the message names them and says what to do.
#[derive(Debug, Clone)]
pub struct InvalidWeights(String);

impl fmt::Display for InvalidWeights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidWeights {}

/// A pick's worth of poll time: a poll costs one pick per `PICK_NS` of its
/// duration, and at least one.
///
/// Fine enough that a class's share of picks is its share of the time for
/// any poll of a microsecond or more (a request parsed and answered: a few
/// microseconds; a CPU-bound chunk between two yields: hundreds), so a long
/// poll is charged what it costs the classes waiting behind it. Polls
/// shorter than that (a message handed on, a wake) cost one pick each, as
/// under the plain pick rule, which keeps a flood of tiny polls from
/// taking more than its share of turns.
pub(crate) const PICK_NS: u64 = 1_000;

/// The pick state of one lower class: how many picks' worth of other work it
/// has been passed over for, and how many it must wait before it is owed.
struct Lane {
    qos: Qos,
    /// `period - 1`: the owed mark after a poll that cost one pick.
    base: u64,
    passed: Cell<u64>,
    owed_at: Cell<u64>,
}

impl Lane {
    fn new(qos: Qos, weights: QosWeights) -> Lane {
        // Owed after `period - 1` passes, so served once in `period` picks.
        let base = u64::from(weights.period(qos) - 1);
        Lane {
            qos,
            base,
            passed: Cell::new(0),
            owed_at: Cell::new(base),
        }
    }

    #[inline]
    fn is_owed(&self) -> bool {
        self.passed.get() >= self.owed_at.get()
    }

    #[inline]
    fn pass(&self, cost: u64) {
        self.passed.set(self.passed.get().saturating_add(cost));
    }
}

/// One worker's pick state: how long each lower class has been passed over.
pub(crate) struct Picker {
    normal: Lane,
    batch: Lane,
}

impl Picker {
    pub(crate) fn new(weights: QosWeights) -> Picker {
        Picker {
            normal: Lane::new(Qos::Normal, weights),
            batch: Lane::new(Qos::Batch, weights),
        }
    }

    /// The order to try the classes in for this pick.
    #[inline]
    pub(crate) fn order(&self) -> [Qos; 3] {
        if self.batch.is_owed() {
            [Qos::Batch, Qos::Critical, Qos::Normal]
        } else if self.normal.is_owed() {
            [Qos::Normal, Qos::Critical, Qos::Batch]
        } else {
            [Qos::Critical, Qos::Normal, Qos::Batch]
        }
    }

    /// Records the outcome of a pick made in `order`: the class served, or
    /// `None` when every class was empty. The pick costs one until
    /// [`charge`](Picker::charge) says what its poll cost.
    #[inline]
    pub(crate) fn record(&self, order: [Qos; 3], served: Option<Qos>) {
        let Some(served) = served else {
            // Nothing anywhere: nobody is being passed over.
            self.normal.passed.set(0);
            self.batch.passed.set(0);
            return;
        };
        // An owed turn that found its class empty settles the debt too.
        let owed = order[0];
        for lane in [&self.normal, &self.batch] {
            if lane.qos == served || lane.qos == owed {
                lane.passed.set(0);
                lane.owed_at.set(lane.base);
            } else {
                lane.pass(1);
            }
        }
    }

    /// Charges a poll of class `qos` that ran for `ns` nanoseconds: the
    /// picks it cost beyond the one [`record`](Picker::record) counted. A
    /// lower class is then owed again only after the others have had
    /// `period - 1` times that cost; the other lower classes have been
    /// passed over for that much more.
    ///
    /// Called after the poll of a picked task, or of a stolen one (which was
    /// not recorded: the worker had nothing of its own, so nobody was
    /// passed over, and the stolen task's class pays for its poll alike).
    #[inline]
    pub(crate) fn charge(&self, qos: Qos, ns: u64) {
        let cost = ns / PICK_NS;
        if cost <= 1 {
            // The common case: the one pick `record` counted.
            return;
        }
        for lane in [&self.normal, &self.batch] {
            if lane.qos == qos {
                lane.owed_at.set(lane.base.saturating_mul(cost));
            } else {
                lane.pass(cost - 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Simulates `picks` picks with the given classes always non-empty,
    /// every poll short (one pick each, as on the current-thread scheduler).
    fn run(weights: QosWeights, busy: &[Qos], picks: usize) -> Vec<Qos> {
        run_timed(weights, busy, picks, |_| 1_000)
    }

    /// Simulates `picks` picks with the given classes always non-empty, a
    /// poll of class `q` lasting `ns(q)` nanoseconds and charged as the
    /// multi-thread worker charges it.
    fn run_timed(
        weights: QosWeights,
        busy: &[Qos],
        picks: usize,
        ns: impl Fn(Qos) -> u64,
    ) -> Vec<Qos> {
        let p = Picker::new(weights);
        let mut out = Vec::new();
        for _ in 0..picks {
            out.extend(pick_and_poll(&p, |q| busy.contains(&q), &ns));
        }
        out
    }

    /// One pick among the classes `ready` says have work, then its poll
    /// charged at `ns(class)`.
    fn pick_and_poll(
        p: &Picker,
        ready: impl Fn(Qos) -> bool,
        ns: impl Fn(Qos) -> u64,
    ) -> Option<Qos> {
        let order = p.order();
        let served = order.into_iter().find(|&q| ready(q));
        p.record(order, served);
        if let Some(q) = served {
            p.charge(q, ns(q));
        }
        served
    }

    /// Each class's share of the poll time in `seq`.
    fn time_share(seq: &[Qos], ns: impl Fn(Qos) -> u64, q: Qos) -> f64 {
        let total: u64 = seq.iter().map(|&x| ns(x)).sum();
        let mine: u64 = seq.iter().filter(|&&x| x == q).map(|&x| ns(x)).sum();
        mine as f64 / total as f64
    }

    /// The HTTP example's mix: 3 µs Critical polls (a request answered),
    /// 300 µs Batch polls (a chunk of prime counting between two yields),
    /// 5 µs Normal polls.
    fn http_mix(q: Qos) -> u64 {
        match q {
            Qos::Critical => 3_000,
            Qos::Normal => 5_000,
            Qos::Batch => 300_000,
        }
    }

    fn count(seq: &[Qos], q: Qos) -> usize {
        seq.iter().filter(|&&x| x == q).count()
    }

    #[test]
    fn default_weights_serve_batch_once_in_16_and_normal_once_in_7_under_full_load() {
        let seq = run(QosWeights::default(), &Qos::ALL, 1600);
        // Each window of a period contains at least one turn of the class.
        for w in seq.windows(16) {
            assert!(w.contains(&Qos::Batch), "batch starved in {w:?}");
        }
        // Normal's period is 6; a tie with Batch's turn can delay it by one.
        for w in seq.windows(7) {
            assert!(w.contains(&Qos::Normal), "normal starved in {w:?}");
        }
        assert!(count(&seq, Qos::Critical) > count(&seq, Qos::Normal) * 3);
    }

    #[test]
    fn an_alone_class_gets_every_pick() {
        for q in Qos::ALL {
            let seq = run(QosWeights::default(), &[q], 100);
            assert_eq!(count(&seq, q), 100);
        }
    }

    #[test]
    fn critical_goes_first_unless_it_used_up_its_share() {
        // Batch backlog, a Critical task arriving now and then: Critical is
        // served on the very pick after it arrives, every time.
        let p = Picker::new(QosWeights::default());
        for round in 0..200 {
            let critical_ready = round % 10 == 9;
            let order = p.order();
            let served = order
                .into_iter()
                .find(|&q| q == Qos::Batch || (q == Qos::Critical && critical_ready));
            if critical_ready {
                assert_eq!(served, Some(Qos::Critical), "round {round}");
            }
            p.record(order, served);
        }
    }

    #[test]
    fn custom_weights_set_the_periods() {
        let w = QosWeights::new(1, 1, 2).unwrap();
        assert_eq!(w.period(Qos::Normal), 4);
        assert_eq!(w.period(Qos::Batch), 2);
        let seq = run(w, &Qos::ALL, 400);
        for win in seq.windows(2) {
            assert!(win.contains(&Qos::Batch), "batch is owed every 2nd pick");
        }
    }

    #[test]
    fn a_long_batch_poll_counts_as_several_picks() {
        // Critical and Batch always busy. Counting picks one by one, Batch
        // would be served once in 16 picks and take 300 / (300 + 15 × 3) =
        // 87 % of the time; charged by its cost (300 picks), it waits for
        // 15 × 300 picks' worth of Critical work: 1 500 polls of 3 µs.
        let seq = run_timed(
            QosWeights::default(),
            &[Qos::Critical, Qos::Batch],
            20_000,
            http_mix,
        );
        let batches: Vec<usize> = seq
            .iter()
            .enumerate()
            .filter(|(_, &q)| q == Qos::Batch)
            .map(|(i, _)| i)
            .collect();
        assert!(batches.len() >= 8, "Batch starved: {batches:?}");
        for w in batches.windows(2) {
            assert_eq!(w[1] - w[0], 15 * 300 / 3 + 1, "Batch turns at {batches:?}");
        }
        let share = time_share(&seq, http_mix, Qos::Batch);
        assert!(
            (1.0 / 17.0..=1.0 / 15.0).contains(&share),
            "Batch took {share:.3} of the time, not about 1/16"
        );
    }

    #[test]
    fn every_class_gets_its_share_of_the_time_under_full_load() {
        let seq = run_timed(QosWeights::default(), &Qos::ALL, 20_000, http_mix);
        let batch = time_share(&seq, http_mix, Qos::Batch);
        let normal = time_share(&seq, http_mix, Qos::Normal);
        assert!(
            (1.0 / 17.0..=1.0 / 15.0).contains(&batch),
            "Batch took {batch:.3} of the time"
        );
        // Normal's period is ceil(16 / 3) = 6: owed once the others have
        // had 5 × its cost; the poll that crosses the mark (a 300 µs Batch
        // poll now and then) overshoots it, so a little under one sixth.
        assert!(
            (1.0 / 8.0..=1.0 / 6.0).contains(&normal),
            "Normal took {normal:.3} of the time"
        );
    }

    #[test]
    fn long_critical_polls_make_batch_owed_sooner_but_never_starve_it() {
        // 1 ms Critical polls (1 000 picks each), 1 µs Batch polls: Batch is
        // owed after every Critical poll, and gets at least one pick in 16.
        let ns = |q: Qos| if q == Qos::Critical { 1_000_000 } else { 1_000 };
        let seq = run_timed(QosWeights::default(), &[Qos::Critical, Qos::Batch], 400, ns);
        for w in seq.windows(16) {
            assert!(w.contains(&Qos::Batch), "batch starved in {w:?}");
        }
        for w in seq.windows(2) {
            assert!(
                w.contains(&Qos::Critical),
                "critical passed over twice: {w:?}"
            );
        }
    }

    #[test]
    fn a_class_alone_runs_at_full_speed_and_keeps_no_debt_beyond_its_last_poll() {
        let p = Picker::new(QosWeights::default());
        // Batch alone for 1 000 long polls: every pick is Batch's.
        for _ in 0..1_000 {
            assert_eq!(
                pick_and_poll(&p, |q| q == Qos::Batch, http_mix),
                Some(Qos::Batch)
            );
        }
        // Then Critical gets busy: Batch is owed after 15 × 300 picks' worth
        // of it (what its last poll cost), not 1 000 × 15 × 300.
        let mut criticals = 0;
        while pick_and_poll(&p, |q| q != Qos::Normal, http_mix) == Some(Qos::Critical) {
            criticals += 1;
            assert!(criticals <= 15 * 100, "Batch passed over {criticals} times");
        }
        assert_eq!(criticals, 15 * 100);
    }

    #[test]
    fn an_owed_turn_that_finds_its_class_empty_forgets_the_last_polls_cost() {
        let p = Picker::new(QosWeights::default());
        // A long Batch poll, then Critical alone until Batch's turn comes and
        // finds nothing.
        assert_eq!(
            pick_and_poll(&p, |q| q == Qos::Batch, http_mix),
            Some(Qos::Batch)
        );
        for _ in 0..15 * 100 {
            assert_eq!(
                pick_and_poll(&p, |q| q == Qos::Critical, http_mix),
                Some(Qos::Critical)
            );
        }
        assert_eq!(p.order()[0], Qos::Batch);
        assert_eq!(
            pick_and_poll(&p, |q| q == Qos::Critical, http_mix),
            Some(Qos::Critical)
        );
        // Batch has work again: it is owed after the plain 15 picks' worth,
        // five Critical polls of 3 µs, not after another 15 × 300.
        let seq: Vec<_> = (0..16)
            .map(|_| pick_and_poll(&p, |q| q != Qos::Normal, http_mix).unwrap())
            .collect();
        assert_eq!(
            seq.iter().position(|&q| q == Qos::Batch),
            Some(5),
            "{seq:?}"
        );
    }

    #[test]
    fn critical_goes_first_after_a_long_batch_poll() {
        // Batch backlog with long polls, a Critical task arriving now and
        // then: it is served on the very pick after it arrives, every time,
        // and the Batch poll it waited for is at most one.
        let p = Picker::new(QosWeights::default());
        for round in 0..2_000 {
            let critical_ready = round % 3 == 2;
            let served = pick_and_poll(
                &p,
                |q| q == Qos::Batch || (q == Qos::Critical && critical_ready),
                http_mix,
            );
            if critical_ready {
                assert_eq!(served, Some(Qos::Critical), "round {round}");
            }
        }
    }

    #[test]
    fn short_polls_keep_the_one_pick_rule() {
        // Polls under 2 × PICK_NS cost one pick: the order is the plain
        // pick rule's, whatever their exact length.
        let plain = run(QosWeights::default(), &Qos::ALL, 500);
        let ns = |q: Qos| match q {
            Qos::Critical => 2 * PICK_NS - 1,
            Qos::Normal => PICK_NS,
            Qos::Batch => 1,
        };
        assert_eq!(run_timed(QosWeights::default(), &Qos::ALL, 500, ns), plain);
    }

    #[test]
    fn bad_weights_are_errors_naming_the_class() {
        let e = QosWeights::new(4, 0, 1).unwrap_err().to_string();
        assert!(e.contains("normal weight is 0"), "{e}");
        let e = QosWeights::new(1000, 20, 5).unwrap_err().to_string();
        assert!(e.contains("1025") && e.contains("1024"), "{e}");
    }
}
