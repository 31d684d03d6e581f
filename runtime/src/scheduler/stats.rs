//! Per-class scheduler counters: polls, the wake → first-poll delay, the
//! poll duration (sampled), LIFO hits, steals, parks and polls that spent
//! their whole cooperative budget.
//!
//! Each worker owns one `WorkerStats` and is its only writer, so a count is a
//! relaxed load and store — no read-modify-write, no lock, no cache line
//! shared with another writer on the poll path. Readers (metrics) sum the
//! workers' values with relaxed loads; a value read while a worker writes it
//! is at most one event old.
//!
//! The delay is measured from the moment a task is queued (`woken_at` in its
//! header, nanoseconds since a process-wide epoch) to the moment a worker
//! starts polling it. Reading the clock costs ~20 ns on bare metal and
//! 100-500 ns on a VM that traps TSC reads (the 2-vCPU VM the benchmarks run
//! on), and a stamped wake costs two reads (at the wake and at the poll), so
//! the clock is read on one wake in `SAMPLE_EVERY`, whatever the class: a
//! local wake when the queuing worker's tick is a multiple of it, a wake
//! from outside a worker by a count the waking thread keeps (its first wake
//! is stamped). The histogram is a distribution, not a count, of each
//! class's delays. (Stamping every local wake of a Critical task cost a
//! request-serving Critical task two clock reads per poll, ~1 µs on that
//! VM; stamping every remote spawn cost 10 000 spawns from a `block_on`
//! thread ~0.7 ms of a 9 ms round in `compare -- timers`' sleep_churn.)

// Plain std atomics: these are statistics, not a synchronisation protocol,
// and loom has nothing to check in them.
pub(crate) use crate::metrics::GATHER;
use crate::task::Qos;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One wake in this many is timed (two clock reads: at the wake and at the
/// poll; 100-500 ns each on a VM whose TSC reads trap). At one in 16 for wakes and polls alike, the reads cost 20-30 % of
/// `compare -- scheduler`'s yield_many on the benchmark VM (a read there
/// costs 100-500 ns), against the same tree with gathering compiled out.
pub(crate) const SAMPLE_EVERY: u32 = 1024;

/// One poll in this many (by the worker's tick) is timed: two clock reads,
/// 0.2-1 ns per poll amortised on the benchmark VM, whose TSC reads trap
/// (100-500 ns a read). At one in 256 the reads were ~1560 of the ~2005
/// per sample of `compare -- scheduler`'s yield_many (an estimated 1.5-7.5 %
/// of its wall-clock there, against 60 reads with gathering compiled out);
/// 1024 polls still give a busy worker a timed poll every few ms.
pub(crate) const POLL_SAMPLE_EVERY: u32 = 1024;

/// Sub-buckets per power of two: values are kept to within 25 %.
const SUB_BITS: u32 = 2;
const SUB: usize = 1 << SUB_BITS;
/// Enough octaves for ~2^42 ns (73 minutes).
const OCTAVES: usize = 42;
pub(crate) const BUCKETS: usize = OCTAVES * SUB;

/// Nanoseconds since the first call in this process, never 0 (0 means "not
/// stamped" in a task header).
#[inline]
pub(crate) fn now_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    (epoch.elapsed().as_nanos() as u64).max(1)
}

/// The bucket of a value in nanoseconds.
#[inline]
fn bucket_of(ns: u64) -> usize {
    if ns < SUB as u64 {
        return ns as usize;
    }
    let exp = 63 - ns.leading_zeros(); // ≥ SUB_BITS
    let mantissa = (ns >> (exp - SUB_BITS)) as usize & (SUB - 1);
    (((exp - SUB_BITS + 1) as usize) * SUB + mantissa).min(BUCKETS - 1)
}

/// The smallest value of a bucket, in nanoseconds.
fn bucket_low(index: usize) -> u64 {
    if index < SUB {
        return index as u64;
    }
    let exp = (index / SUB) as u32 + SUB_BITS - 1;
    let mantissa = (index % SUB) as u64;
    (1u64 << exp) | (mantissa << (exp - SUB_BITS))
}

/// A log-bucketed histogram with a single writer, and the sum of its values
/// (Prometheus histograms carry one).
pub(crate) struct LogHistogram {
    buckets: Box<[AtomicU64]>,
    sum_ns: AtomicU64,
}

impl LogHistogram {
    pub(crate) fn new() -> LogHistogram {
        LogHistogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
        }
    }

    /// Adds one value. Only the owning worker calls this.
    #[inline]
    pub(crate) fn record(&self, ns: u64) {
        bump(&self.buckets[bucket_of(ns)]);
        self.sum_ns
            .store(self.sum_ns.load(Relaxed).wrapping_add(ns), Relaxed);
    }

    /// Adds one value from any thread (a locked add per value: for the
    /// slow paths that record here, e.g. a contended lock's wait).
    #[inline]
    pub(crate) fn record_shared(&self, ns: u64) {
        self.buckets[bucket_of(ns)].fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(ns, Relaxed);
    }

    /// The values recorded so far.
    pub(crate) fn snapshot(&self) -> DelayHistogram {
        let mut h = DelayHistogram::empty();
        self.add_to(&mut h);
        h
    }

    fn add_to(&self, into: &mut DelayHistogram) {
        for (sum, b) in into.counts.iter_mut().zip(self.buckets.iter()) {
            *sum += b.load(Relaxed);
        }
        into.sum_ns = into.sum_ns.wrapping_add(self.sum_ns.load(Relaxed));
    }
}

/// `c += 1` by its only writer: a relaxed load and store, no locked
/// read-modify-write.
#[inline]
fn bump(c: &AtomicU64) {
    c.store(c.load(Relaxed) + 1, Relaxed);
}

/// What one worker counts, per class.
pub(crate) struct WorkerStats {
    polled: [AtomicU64; Qos::COUNT],
    steals_local: AtomicU64,
    steals_remote: AtomicU64,
    /// Picks served from the LIFO slot.
    lifo_hits: AtomicU64,
    /// Times the worker went to sleep, and woke again.
    parks: AtomicU64,
    unparks: AtomicU64,
    /// Polls that returned with the cooperative budget spent: the task was
    /// made to yield (or used exactly its last unit).
    budget_yields: AtomicU64,
    delay: [LogHistogram; Qos::COUNT],
    /// Poll durations, one poll in `POLL_SAMPLE_EVERY` (by the worker's tick):
    /// two clock reads per sampled poll.
    poll_time: [LogHistogram; Qos::COUNT],
}

impl WorkerStats {
    pub(crate) fn new() -> WorkerStats {
        WorkerStats {
            polled: Default::default(),
            steals_local: AtomicU64::new(0),
            steals_remote: AtomicU64::new(0),
            lifo_hits: AtomicU64::new(0),
            parks: AtomicU64::new(0),
            unparks: AtomicU64::new(0),
            budget_yields: AtomicU64::new(0),
            delay: std::array::from_fn(|_| LogHistogram::new()),
            poll_time: std::array::from_fn(|_| LogHistogram::new()),
        }
    }

    /// Called by the owning worker just before it polls a task.
    #[inline]
    pub(crate) fn on_poll(&self, header: &crate::task::core::Header) {
        if !GATHER {
            return;
        }
        let i = header.qos.index();
        bump(&self.polled[i]);
        let woken = header.woken_at.load(Relaxed);
        if woken != 0 {
            self.record_delay(header, i, woken);
        }
    }

    /// `on_poll` of a stamped task, out of line (see `stamp_now`).
    #[cold]
    #[inline(never)]
    fn record_delay(&self, header: &crate::task::core::Header, class: usize, woken: u64) {
        header.woken_at.store(0, Relaxed);
        self.delay[class].record(now_ns().saturating_sub(woken));
    }

    /// Runs one task poll (`run`) of class `qos` under a fresh cooperative
    /// budget; times it when `tick` is sampled, and counts it when it spent
    /// the whole budget.
    ///
    /// The timed poll is a function of its own, out of line: an untimed
    /// poll then carries no "was it timed" state across `run` (keeping it
    /// cost yield_many ~4 instructions a poll in `metrics_instructions.sh`).
    #[inline]
    pub(crate) fn run_poll(&self, qos: Qos, tick: u32, run: impl FnOnce()) {
        if !GATHER {
            crate::task::coop::with_budget(run);
            return;
        }
        if tick % POLL_SAMPLE_EVERY == 0 {
            self.run_timed_poll(qos, run);
            return;
        }
        let spent = crate::task::coop::with_budget(|| {
            run();
            crate::task::coop::budget_spent()
        });
        // Added without a branch: one instruction fewer a poll than
        // `if spent { bump }`.
        let n = self.budget_yields.load(Relaxed);
        self.budget_yields.store(n + u64::from(spent), Relaxed);
    }

    /// `run_poll` for a sampled tick: the poll between two clock reads.
    #[cold]
    #[inline(never)]
    fn run_timed_poll(&self, qos: Qos, run: impl FnOnce()) {
        let start = now_ns();
        let spent = crate::task::coop::with_budget(|| {
            run();
            crate::task::coop::budget_spent()
        });
        self.poll_time[qos.index()].record(now_ns().saturating_sub(start));
        if spent {
            bump(&self.budget_yields);
        }
    }

    /// The owning worker served a pick from its LIFO slot.
    #[inline]
    pub(crate) fn on_lifo_hit(&self) {
        if GATHER {
            bump(&self.lifo_hits);
        }
    }

    /// The owning worker goes to sleep.
    pub(crate) fn on_park(&self) {
        if GATHER {
            bump(&self.parks);
        }
    }

    /// The owning worker woke from a sleep.
    pub(crate) fn on_unpark(&self) {
        if GATHER {
            bump(&self.unparks);
        }
    }
}

/// One worker's totals, read with relaxed loads (for metrics).
#[derive(Clone, Debug, Default)]
pub(crate) struct WorkerTotals {
    pub(crate) polled: [u64; Qos::COUNT],
    pub(crate) steals_local: u64,
    pub(crate) steals_remote: u64,
    pub(crate) lifo_hits: u64,
    pub(crate) parks: u64,
    pub(crate) unparks: u64,
    pub(crate) budget_yields: u64,
}

impl WorkerStats {
    pub(crate) fn totals(&self) -> WorkerTotals {
        WorkerTotals {
            polled: std::array::from_fn(|i| self.polled[i].load(Relaxed)),
            steals_local: self.steals_local.load(Relaxed),
            steals_remote: self.steals_remote.load(Relaxed),
            lifo_hits: self.lifo_hits.load(Relaxed),
            parks: self.parks.load(Relaxed),
            unparks: self.unparks.load(Relaxed),
            budget_yields: self.budget_yields.load(Relaxed),
        }
    }
}

impl WorkerStats {
    /// Called by the owning worker after a successful steal from another
    /// worker's deque or an injector, remote when on another node.
    #[inline]
    pub(crate) fn on_steal(&self, remote: bool) {
        if !GATHER {
            return;
        }
        bump(if remote {
            &self.steals_remote
        } else {
            &self.steals_local
        });
    }
}

/// Steals by every worker: (same node, other nodes).
pub(crate) fn steals(workers: &[&WorkerStats]) -> (u64, u64) {
    workers.iter().fold((0, 0), |(l, r), w| {
        (
            l + w.steals_local.load(Relaxed),
            r + w.steals_remote.load(Relaxed),
        )
    })
}

/// Stamps a task's queue time when this wake is sampled (see the module docs).
#[inline]
pub(crate) fn stamp_wake(header: &crate::task::core::Header, sampled: bool) {
    if GATHER && sampled {
        stamp_now(header);
    }
}

/// The clock read of a sampled wake, out of line: inlined, its code made
/// every wake (sampled or not) set up a bigger stack frame, ~4 instructions
/// a wake in yield_many (`metrics_instructions.sh`).
#[cold]
#[inline(never)]
fn stamp_now(header: &crate::task::core::Header) {
    header.woken_at.store(now_ns(), Relaxed);
}

/// Stamps the queue time of a task queued from outside a worker, one wake
/// in `SAMPLE_EVERY` of this thread's (its first included).
#[inline]
pub(crate) fn stamp_remote_wake(header: &crate::task::core::Header) {
    thread_local! {
        static REMOTE_WAKES: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    let sampled = REMOTE_WAKES
        .try_with(|n| {
            let v = n.get();
            n.set(v.wrapping_add(1));
            v % SAMPLE_EVERY == 0
        })
        .unwrap_or(false);
    stamp_wake(header, sampled);
}

/// Sums of every worker's counters for one class.
pub(crate) fn polled(workers: &[&WorkerStats], qos: Qos) -> u64 {
    workers
        .iter()
        .map(|w| w.polled[qos.index()].load(Relaxed))
        .sum()
}

/// The merged delay histogram of one class.
pub(crate) fn delay(workers: &[&WorkerStats], qos: Qos) -> DelayHistogram {
    let mut h = DelayHistogram::empty();
    for w in workers {
        w.delay[qos.index()].add_to(&mut h);
    }
    h
}

/// The merged (sampled) poll-duration histogram of one class.
pub(crate) fn poll_time(workers: &[&WorkerStats], qos: Qos) -> DelayHistogram {
    let mut h = DelayHistogram::empty();
    for w in workers {
        w.poll_time[qos.index()].add_to(&mut h);
    }
    h
}

/// A snapshot of one class's wake → first-poll delays: how long tasks of the
/// class waited in a queue before a worker polled them.
///
/// Buckets are logarithmic with four sub-buckets per power of two, so a
/// percentile is exact to within 25 %; it is reported as the upper bound of
/// its bucket (never optimistic).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelayHistogram {
    counts: Vec<u64>,
    sum_ns: u64,
}

impl DelayHistogram {
    fn empty() -> DelayHistogram {
        DelayHistogram {
            counts: vec![0; BUCKETS],
            sum_ns: 0,
        }
    }

    /// The sum of the recorded values (wrapping after ~584 years).
    pub fn sum(&self) -> Duration {
        Duration::from_nanos(self.sum_ns)
    }

    /// The number of delays recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The delay below which a fraction `q` (0.0..=1.0) of the recorded
    /// delays fall, as the upper bound of its bucket; `None` when empty.
    ///
    /// # Panics
    /// If `q` is not within 0.0..=1.0.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        assert!(
            (0.0..=1.0).contains(&q),
            "DelayHistogram::quantile: q must be within 0.0..=1.0, got {q}"
        );
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(Duration::from_nanos(self.upper_bound_ns(i)));
            }
        }
        unreachable!("rank ≤ total")
    }

    /// `(upper bound, count)` of every non-empty bucket, smallest first, for
    /// exporting (e.g. as Prometheus buckets).
    pub fn buckets(&self) -> impl Iterator<Item = (Duration, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(i, &c)| (Duration::from_nanos(self.upper_bound_ns(i)), c))
    }

    fn upper_bound_ns(&self, i: usize) -> u64 {
        if i + 1 < BUCKETS {
            bucket_low(i + 1) - 1
        } else {
            u64::MAX
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_contain_their_values() {
        let mut last = 0;
        for i in 1..BUCKETS {
            let low = bucket_low(i);
            assert!(low > last, "bucket {i} low {low} ≤ {last}");
            assert_eq!(bucket_of(low), i);
            assert_eq!(bucket_of(low - 1), i - 1);
            last = low;
        }
        for v in [0u64, 1, 3, 4, 5, 7, 8, 100, 1_000, 123_456, 10_000_000_000] {
            let b = bucket_of(v);
            assert!(bucket_low(b) <= v);
            if b + 1 < BUCKETS {
                assert!(v < bucket_low(b + 1));
                // Within 25 %.
                assert!((bucket_low(b + 1) - bucket_low(b)) as f64 <= 0.25 * v.max(4) as f64 + 1.0);
            }
        }
    }

    #[test]
    fn quantiles_are_upper_bounds_of_the_right_bucket() {
        let w = WorkerStats::new();
        for v in 1..=100u64 {
            w.delay[0].record(v * 1_000); // 1 µs .. 100 µs
        }
        let h = delay(&[&w], Qos::Critical);
        assert_eq!(h.count(), 100);
        let p50 = h.quantile(0.5).unwrap().as_nanos() as u64;
        assert!((50_000..=50_000 * 5 / 4).contains(&p50), "p50 = {p50}");
        let p99 = h.quantile(0.99).unwrap().as_nanos() as u64;
        assert!((99_000..=99_000 * 5 / 4).contains(&p99), "p99 = {p99}");
        assert_eq!(delay(&[&w], Qos::Batch).quantile(0.5), None);
        // Two workers merge.
        let w2 = WorkerStats::new();
        w2.delay[0].record(5);
        assert_eq!(delay(&[&w, &w2], Qos::Critical).count(), 101);
    }
}
