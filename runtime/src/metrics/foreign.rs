//! Foreign metrics (the specification's `LegacyMetricsAdapter`): counters a
//! program reports as a map of name → value, and histograms kept elsewhere
//! (a C++ library behind FFI, an older metrics crate) read at scrape time,
//! exposed beside the runtime's own under the same naming rules.
//!
//! ```
//! use perf_runtime::metrics::{self, ForeignHistogram};
//! use std::collections::HashMap;
//!
//! let foreign = metrics::foreign();
//! let mut counts = HashMap::new();
//! counts.insert("legacy_requests", 42u64);
//! foreign.report_counters(counts).unwrap();
//! // Exposed as `perf_runtime_foreign_legacy_requests_total 42`.
//!
//! foreign
//!     .register_histogram("legacy_latency_seconds", "Latency kept by the C++ core", || {
//!         ForeignHistogram::new(vec![(0.001, 3), (0.01, 9)], 0.05, 10).unwrap()
//!     })
//!     .unwrap();
//! let h = foreign.histogram("legacy_latency_seconds").unwrap();
//! assert_eq!(h.count(), 10);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

/// How many foreign series one adapter holds; past it, reporting a new name
/// fails (the exposition's size stays bounded).
pub const MAX_FOREIGN_SERIES: usize = 1024;

/// A histogram kept outside the runtime: cumulative bucket counts by upper
/// bound, their sum and count, as Prometheus exposes them.
#[derive(Clone, Debug, PartialEq)]
pub struct ForeignHistogram {
    buckets: Vec<(f64, u64)>,
    sum: f64,
    count: u64,
}

impl ForeignHistogram {
    /// `buckets` are `(upper bound, cumulative count)` in increasing bound
    /// order, without the `+Inf` bucket (whose count is `count`).
    ///
    /// # Errors
    /// A bound that is not finite or not strictly increasing, a cumulative
    /// count that decreases, or a `count` below the last bucket's.
    pub fn new(buckets: Vec<(f64, u64)>, sum: f64, count: u64) -> Result<ForeignHistogram, String> {
        let mut last: Option<(f64, u64)> = None;
        for (i, &(le, c)) in buckets.iter().enumerate() {
            if !le.is_finite() {
                return Err(format!(
                    "foreign histogram bucket {i}: bound {le} is not finite (leave out +Inf: `count` is its count)"
                ));
            }
            if let Some((ple, pc)) = last {
                if le <= ple {
                    return Err(format!(
                        "foreign histogram bucket {i}: bound {le} is not above the previous bound {ple}; give the buckets in increasing order"
                    ));
                }
                if c < pc {
                    return Err(format!(
                        "foreign histogram bucket {i}: count {c} is below the previous bucket's {pc}; bucket counts are cumulative"
                    ));
                }
            }
            last = Some((le, c));
        }
        if let Some((_, c)) = last {
            if count < c {
                return Err(format!(
                    "foreign histogram: count {count} is below the last bucket's cumulative count {c}"
                ));
            }
        }
        Ok(ForeignHistogram {
            buckets,
            sum,
            count,
        })
    }

    /// The `(upper bound, cumulative count)` buckets, without `+Inf`.
    pub fn buckets(&self) -> &[(f64, u64)] {
        &self.buckets
    }

    /// The sum of the observed values.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// The number of observed values.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// Where a foreign histogram is read from at each scrape.
pub trait HistogramSource: Send + Sync + 'static {
    /// The histogram now.
    fn read(&self) -> ForeignHistogram;
}

impl<F: Fn() -> ForeignHistogram + Send + Sync + 'static> HistogramSource for F {
    fn read(&self) -> ForeignHistogram {
        self()
    }
}

/// A metric name a foreign source gave that the exposition cannot carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricNameError {
    name: String,
    why: &'static str,
}

impl fmt::Display for MetricNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "foreign metric name {:?}: {}", self.name, self.why)
    }
}

impl std::error::Error for MetricNameError {}

/// The naming rule: lower-case ASCII letters, digits and `_`, starting with
/// a letter, at most 100 bytes. A counter's `_total` is added on export (a
/// given `_total` suffix is dropped).
fn check_name(name: &str) -> Result<(), MetricNameError> {
    let err = |why| {
        Err(MetricNameError {
            name: name.to_owned(),
            why,
        })
    };
    if name.is_empty() || name.len() > 100 {
        return err("must be 1 to 100 bytes long");
    }
    if !name.as_bytes()[0].is_ascii_lowercase() {
        return err("must start with a lower-case ASCII letter");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return err("may hold only lower-case ASCII letters, digits and `_` (rename it, e.g. `requests_served`)");
    }
    Ok(())
}

#[derive(Default)]
struct Inner {
    counters: BTreeMap<String, u64>,
    histograms: BTreeMap<String, (String, Arc<dyn HistogramSource>)>,
}

impl Inner {
    fn series(&self) -> usize {
        self.counters.len() + self.histograms.len()
    }
}

/// A registry of foreign metrics; [`foreign`](super::foreign) is the one
/// every exposition of this process includes.
#[derive(Default)]
pub struct LegacyMetricsAdapter {
    inner: Mutex<Inner>,
}

impl fmt::Debug for LegacyMetricsAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = self.lock();
        f.debug_struct("LegacyMetricsAdapter")
            .field("counters", &g.counters.len())
            .field("histograms", &g.histograms.len())
            .finish()
    }
}

impl LegacyMetricsAdapter {
    /// An empty registry (to test an exporter; programs use
    /// [`foreign`](super::foreign)).
    pub fn new() -> LegacyMetricsAdapter {
        LegacyMetricsAdapter::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Nothing here can panic while holding it; recover rather than
        // poison the exporter.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets counters from a map of name → current value (the foreign
    /// source's running totals). Names follow the naming rule (see the
    /// module docs); each is exported as
    /// `perf_runtime_foreign_<name>_total`.
    ///
    /// # Errors
    /// The first name that breaks the rule, or a new name past
    /// [`MAX_FOREIGN_SERIES`]; no counter of the call is set then.
    pub fn report_counters<K: AsRef<str>>(
        &self,
        counters: impl IntoIterator<Item = (K, u64)>,
    ) -> Result<(), MetricNameError> {
        let mut checked = Vec::new();
        for (k, v) in counters {
            let name = k.as_ref();
            let name = name.strip_suffix("_total").unwrap_or(name);
            check_name(name)?;
            checked.push((name.to_owned(), v));
        }
        let mut g = self.lock();
        let new = checked
            .iter()
            .filter(|(n, _)| !g.counters.contains_key(n))
            .count();
        if g.series() + new > MAX_FOREIGN_SERIES {
            return Err(MetricNameError {
                name: checked
                    .iter()
                    .find(|(n, _)| !g.counters.contains_key(n))
                    .map(|(n, _)| n.clone())
                    .unwrap_or_default(),
                why: "would exceed MAX_FOREIGN_SERIES foreign series; report fewer distinct names",
            });
        }
        g.counters.extend(checked);
        Ok(())
    }

    /// The last value reported for counter `name`.
    pub fn counter(&self, name: &str) -> Option<u64> {
        let name = name.strip_suffix("_total").unwrap_or(name);
        self.lock().counters.get(name).copied()
    }

    /// Registers (or replaces) a histogram read from `source` at each
    /// scrape, exported as `perf_runtime_foreign_<name>`.
    ///
    /// # Errors
    /// A name that breaks the rule, or one past [`MAX_FOREIGN_SERIES`].
    pub fn register_histogram(
        &self,
        name: &str,
        help: &str,
        source: impl HistogramSource,
    ) -> Result<(), MetricNameError> {
        check_name(name)?;
        let mut g = self.lock();
        if !g.histograms.contains_key(name) && g.series() >= MAX_FOREIGN_SERIES {
            return Err(MetricNameError {
                name: name.to_owned(),
                why: "would exceed MAX_FOREIGN_SERIES foreign series",
            });
        }
        g.histograms
            .insert(name.to_owned(), (help.to_owned(), Arc::new(source)));
        Ok(())
    }

    /// Reads histogram `name` back from its source.
    pub fn histogram(&self, name: &str) -> Option<ForeignHistogram> {
        let source = self.lock().histograms.get(name).map(|(_, s)| s.clone())?;
        Some(source.read())
    }

    /// Removes a counter or histogram.
    pub fn remove(&self, name: &str) {
        let mut g = self.lock();
        g.counters
            .remove(name.strip_suffix("_total").unwrap_or(name));
        g.histograms.remove(name);
    }

    /// The values now; sources are read outside the registry's lock.
    pub(crate) fn snapshot(&self) -> ForeignSnapshot {
        let (counters, sources) = {
            let g = self.lock();
            let sources: Vec<_> = g
                .histograms
                .iter()
                .map(|(n, (h, s))| (n.clone(), h.clone(), s.clone()))
                .collect();
            (
                g.counters.iter().map(|(n, v)| (n.clone(), *v)).collect(),
                sources,
            )
        };
        ForeignSnapshot {
            counters,
            histograms: sources
                .into_iter()
                .map(|(n, help, s)| (n, help, s.read()))
                .collect(),
        }
    }
}

/// The foreign values of one scrape.
#[derive(Clone, Debug, Default)]
pub(crate) struct ForeignSnapshot {
    pub(crate) counters: Vec<(String, u64)>,
    pub(crate) histograms: Vec<(String, String, ForeignHistogram)>,
}

/// The process's foreign-metrics registry.
pub(crate) fn global() -> &'static LegacyMetricsAdapter {
    static GLOBAL: OnceLock<LegacyMetricsAdapter> = OnceLock::new();
    GLOBAL.get_or_init(LegacyMetricsAdapter::new)
}
