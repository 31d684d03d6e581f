//! The errors of the broadcast channel: a send with no receiver hands the
//! value back; a receive tells a closed channel from a receiver that fell
//! behind and lost values.
//!
//! ```
//! use perf_runtime::sync::broadcast::{self, error::{RecvError, TryRecvError}};
//!
//! # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
//! let (tx, mut rx) = broadcast::channel(2);
//! for n in 1..=3 {
//!     tx.send(n).unwrap();
//! }
//! // Three values into a channel that keeps two: `rx` lost the oldest.
//! assert_eq!(rx.recv().await, Err(RecvError::Lagged(1)));
//! assert_eq!(rx.recv().await, Ok(2));
//! assert_eq!(rx.recv().await, Ok(3));
//! assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
//! drop(tx);
//! assert_eq!(rx.recv().await, Err(RecvError::Closed));
//!
//! let (tx, rx) = broadcast::channel::<&str>(2);
//! drop(rx);
//! assert_eq!(tx.send("nobody listens").unwrap_err().0, "nobody listens");
//! # });
//! ```

use std::error::Error;
use std::fmt;

/// No receiver exists; the value is handed back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError").finish_non_exhaustive()
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("channel closed: no broadcast receiver exists; `subscribe` first")
    }
}

impl<T> Error for SendError<T> {}

/// Why `recv` returned no value.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum RecvError {
    /// Every sender is gone and every value was received.
    Closed,
    /// The receiver fell behind and this many values were overwritten
    /// before it read them; the next `recv` returns the oldest value
    /// still held.
    Lagged(u64),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Closed => f.write_str("channel closed: every sender was dropped"),
            RecvError::Lagged(n) => write!(
                f,
                "receiver lagged behind and missed {n} values; raise the channel capacity \
                 or receive faster"
            ),
        }
    }
}

impl Error for RecvError {}

/// Why `try_recv` returned no value.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum TryRecvError {
    /// No new value now.
    Empty,
    /// Every sender is gone and every value was received.
    Closed,
    /// The receiver fell behind and missed this many values.
    Lagged(u64),
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("channel empty: no new value"),
            TryRecvError::Closed => f.write_str("channel closed: every sender was dropped"),
            TryRecvError::Lagged(n) => {
                write!(f, "receiver lagged behind and missed {n} values")
            }
        }
    }
}

impl Error for TryRecvError {}
