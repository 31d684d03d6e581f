//! Quality-of-service classes.

use std::fmt;

/// The scheduling class of a task.
///
/// Workers pick `Critical` work before `Normal` before `Batch`, with a bounded
/// share reserved for the lower classes so none of them starves (the exact
/// rule is in the `scheduler` module docs). Plain [`spawn`](crate::spawn) is
/// `Normal`; a task spawned from a `Critical` task without an explicit class
/// is `Normal` too: a class is a decision about one piece of work, not a
/// property that spreads to everything it spawns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum Qos {
    /// Latency-critical work: served first.
    Critical = 0,
    /// Default class.
    #[default]
    Normal = 1,
    /// Throughput work that may wait: served last, but never starved to zero.
    Batch = 2,
}

impl Qos {
    /// The number of classes.
    pub const COUNT: usize = 3;

    /// All classes, highest priority first.
    pub const ALL: [Qos; 3] = [Qos::Critical, Qos::Normal, Qos::Batch];

    /// 0 for `Critical`, 1 for `Normal`, 2 for `Batch`.
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }

    /// The lower-case name, as used in metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Qos::Critical => "critical",
            Qos::Normal => "normal",
            Qos::Batch => "batch",
        }
    }
}

impl fmt::Display for Qos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
