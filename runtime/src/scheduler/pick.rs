//! Which class a worker serves first at each scheduling tick.
//!
//! Classes are strictly ordered — Critical, then Normal, then Batch — except
//! that each lower class is owed a turn once it has been passed over for a
//! number of consecutive picks set by its weight. With weights `wc`, `wn`,
//! `wb` and `total = wc + wn + wb`, the period of a lower class `c` is
//! `ceil(total / wc)`:
//!
//! - a pick that serves class `c`, or a turn of `c` that finds it empty,
//!   resets `c`'s count to zero; every other pick adds one;
//! - when Batch's count has reached its period minus one, the order is
//!   Batch, Critical, Normal; otherwise when Normal's has, Normal, Critical,
//!   Batch; otherwise Critical, Normal, Batch.
//!
//! So while a lower class has work it is served at least once in every
//! `period` consecutive picks (Batch's turn wins a tie, which can push
//! Normal's back by one pick), whatever the higher classes do; and a Critical task waits
//! for a lower-class poll only when Critical work has itself used up its
//! share — never because a fixed slot of the tick counter came round. An
//! owed turn that finds its class empty costs one queue check and falls
//! through to Critical at once.

use crate::task::Qos;
use std::cell::Cell;
use std::fmt;

/// Per-class weights: the minimum share of picks each class gets while it has
/// work (see the module docs for the exact rule).
///
/// The default is Critical 12, Normal 3, Batch 1: Batch is served at least
/// once in 16 picks and Normal at least once in 6 (7 when its turn ties with
/// Batch's) while they have work, and Critical goes first whenever it has not
/// used up its share. Set them with
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

/// One worker's pick state: how long each lower class has been passed over.
pub(crate) struct Picker {
    normal_period: u32,
    batch_period: u32,
    passed_normal: Cell<u32>,
    passed_batch: Cell<u32>,
}

impl Picker {
    pub(crate) fn new(weights: QosWeights) -> Picker {
        // Owed after `period - 1` passes, so served once in `period` picks.
        Picker {
            normal_period: weights.period(Qos::Normal) - 1,
            batch_period: weights.period(Qos::Batch) - 1,
            passed_normal: Cell::new(0),
            passed_batch: Cell::new(0),
        }
    }

    /// The order to try the classes in for this pick.
    #[inline]
    pub(crate) fn order(&self) -> [Qos; 3] {
        if self.passed_batch.get() >= self.batch_period {
            [Qos::Batch, Qos::Critical, Qos::Normal]
        } else if self.passed_normal.get() >= self.normal_period {
            [Qos::Normal, Qos::Critical, Qos::Batch]
        } else {
            [Qos::Critical, Qos::Normal, Qos::Batch]
        }
    }

    /// Records the outcome of a pick made in `order`: the class served, or
    /// `None` when every class was empty.
    #[inline]
    pub(crate) fn record(&self, order: [Qos; 3], served: Option<Qos>) {
        let Some(served) = served else {
            // Nothing anywhere: nobody is being passed over.
            self.passed_normal.set(0);
            self.passed_batch.set(0);
            return;
        };
        // An owed turn that found its class empty settles the debt too.
        let owed = order[0];
        for (qos, passed) in [
            (Qos::Normal, &self.passed_normal),
            (Qos::Batch, &self.passed_batch),
        ] {
            if qos == served || (qos == owed && owed != Qos::Critical) {
                passed.set(0);
            } else {
                passed.set(passed.get().saturating_add(1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Simulates `picks` picks with the given classes always non-empty.
    fn run(weights: QosWeights, busy: &[Qos], picks: usize) -> Vec<Qos> {
        let p = Picker::new(weights);
        let mut out = Vec::new();
        for _ in 0..picks {
            let order = p.order();
            let served = order.into_iter().find(|q| busy.contains(q));
            p.record(order, served);
            out.extend(served);
        }
        out
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
    fn bad_weights_are_errors_naming_the_class() {
        let e = QosWeights::new(4, 0, 1).unwrap_err().to_string();
        assert!(e.contains("normal weight is 0"), "{e}");
        let e = QosWeights::new(1000, 20, 5).unwrap_err().to_string();
        assert!(e.contains("1025") && e.contains("1024"), "{e}");
    }
}
