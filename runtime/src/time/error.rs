//! Errors of the time module: [`Elapsed`], what [`timeout`](crate::time::timeout)
//! returns when the deadline passes first.
//!
//! ```
//! use perf_runtime::time::{error::Elapsed, timeout, Duration};
//!
//! # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
//! let never = std::future::pending::<()>();
//! let err: Elapsed = timeout(Duration::from_millis(1), never).await.unwrap_err();
//! assert_eq!(err.to_string(), "deadline has elapsed");
//! # });
//! ```

use std::fmt;

/// The error of [`timeout`](crate::time::timeout) and
/// [`timeout_at`](crate::time::timeout_at): the deadline passed before the
/// future completed (the future was dropped unfinished).
///
/// ```
/// use perf_runtime::time::error::Elapsed;
///
/// fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
///     e.is::<Elapsed>()
/// }
/// # let _ = is_timeout;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed(());

impl Elapsed {
    pub(crate) fn new() -> Elapsed {
        Elapsed(())
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}
