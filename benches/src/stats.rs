//! Order statistics over benchmark samples.

use std::time::Duration;

/// Summary of a set of samples, all in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Smallest sample.
    pub min: f64,
    /// 10th percentile.
    pub p10: f64,
    /// Median.
    pub median: f64,
    /// 90th percentile.
    pub p90: f64,
    /// Largest sample.
    pub max: f64,
}

impl Summary {
    /// Summarizes `samples`. Panics if `samples` is empty.
    pub fn of(samples: &[Duration]) -> Summary {
        let ns: Vec<f64> = samples.iter().map(|d| d.as_nanos() as f64).collect();
        Summary::of_f64(&ns)
    }

    /// Summarizes raw values. Panics if `values` is empty.
    pub fn of_f64(values: &[f64]) -> Summary {
        assert!(!values.is_empty(), "no samples");
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        Summary {
            n: v.len(),
            min: v[0],
            p10: percentile(&v, 0.10),
            median: percentile(&v, 0.50),
            p90: percentile(&v, 0.90),
            max: v[v.len() - 1],
        }
    }
}

/// The tail of a latency distribution, all in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tail {
    /// Number of samples.
    pub n: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest sample.
    pub max: f64,
}

impl Tail {
    /// Summarizes latencies given in nanoseconds. Panics if `ns` is empty.
    pub fn of_ns(ns: &[u64]) -> Tail {
        assert!(!ns.is_empty(), "no samples");
        let mut v: Vec<f64> = ns.iter().map(|&x| x as f64).collect();
        v.sort_by(f64::total_cmp);
        Tail {
            n: v.len(),
            p50: percentile(&v, 0.50),
            p99: percentile(&v, 0.99),
            p999: percentile(&v, 0.999),
            max: v[v.len() - 1],
        }
    }
}

/// Median over `i` of `num[i] / den[i]`: the ratio of two series sampled in
/// pairs (round `i` of each taken back to back). Slow changes in the
/// machine's load hit both members of a pair alike and cancel, where the
/// ratio of the two medians would keep them. Panics if the lengths differ or
/// are zero.
pub fn paired_median_ratio(num: &[f64], den: &[f64]) -> f64 {
    assert_eq!(num.len(), den.len(), "unpaired samples");
    let ratios: Vec<f64> = num.iter().zip(den).map(|(n, d)| n / d).collect();
    Summary::of_f64(&ratios).median
}

/// Linearly interpolated percentile `q` (0..=1) of an ascending slice.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    assert!(!sorted.is_empty(), "no samples");
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_and_even_medians() {
        assert_eq!(Summary::of_f64(&[3.0, 1.0, 2.0]).median, 2.0);
        assert_eq!(Summary::of_f64(&[4.0, 1.0, 3.0, 2.0]).median, 2.5);
    }

    #[test]
    fn percentiles_interpolate() {
        let v: Vec<f64> = (0..=10).map(f64::from).collect();
        let s = Summary::of_f64(&v);
        assert_eq!((s.min, s.p10, s.p90, s.max), (0.0, 1.0, 9.0, 10.0));
        assert_eq!(Summary::of_f64(&[7.0]).p90, 7.0);
    }

    #[test]
    fn paired_ratio_cancels_what_both_members_share() {
        // Round 2 is slow for both sides alike: the pairs all say 1.1.
        let off = [10.0, 30.0, 10.0];
        let report = [11.0, 33.0, 11.0];
        assert!((paired_median_ratio(&report, &off) - 1.1).abs() < 1e-12);
        // The median of ratios, not the ratio of medians.
        assert_eq!(paired_median_ratio(&[1.0, 4.0, 9.0], &[1.0, 2.0, 3.0]), 2.0);
    }

    #[test]
    #[should_panic(expected = "unpaired")]
    fn paired_ratio_needs_pairs() {
        paired_median_ratio(&[1.0], &[1.0, 2.0]);
    }

    #[test]
    fn tail_percentiles() {
        // 0, 1, ..., 1000 in reverse: 1,001 samples, so p_q sits exactly on
        // the value 1000 * q.
        let v: Vec<u64> = (0..=1000).rev().collect();
        let t = Tail::of_ns(&v);
        assert_eq!(
            (t.n, t.p50, t.p99, t.p999, t.max),
            (1001, 500.0, 990.0, 999.0, 1000.0)
        );
        // Two samples: p99 interpolates 99% of the way up.
        let t = Tail::of_ns(&[100, 200]);
        assert_eq!((t.p50, t.p99, t.max), (150.0, 199.0, 200.0));
        assert!((t.p999 - 199.9).abs() < 1e-9);
    }
}
