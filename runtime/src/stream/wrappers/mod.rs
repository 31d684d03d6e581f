//! Wrappers that turn a channel receiver or an interval into a [`Stream`],
//! as `tokio_stream::wrappers`: [`ReceiverStream`] and
//! [`UnboundedReceiverStream`] (mpsc), [`BroadcastStream`] (which yields
//! lag errors, see [`errors`]), [`WatchStream`] (the current value, then
//! each change) and [`IntervalStream`] (an [`Interval`]'s ticks).
//!
//! ```
//! use perf_runtime::stream::wrappers::WatchStream;
//! use perf_runtime::stream::Stream;
//! use perf_runtime::sync::watch;
//! use std::pin::Pin;
//!
//! // `StreamExt::next` (futures, tokio-stream) does the same.
//! async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
//!     std::future::poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
//! }
//!
//! # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
//! let (tx, rx) = watch::channel("starting");
//! let mut states = WatchStream::new(rx);
//! assert_eq!(next(&mut states).await, Some("starting")); // the current value first
//! tx.send("serving").unwrap();
//! assert_eq!(next(&mut states).await, Some("serving"));
//! drop(tx);
//! assert_eq!(next(&mut states).await, None); // every sender is gone
//! # });
//! ```
//!
//! [`Stream`]: crate::stream::Stream
//! [`Interval`]: crate::time::Interval

// Files: `mpsc.rs`, `broadcast.rs` (with its lag error), `watch.rs`,
// `interval.rs`, one per wrapped type.

mod broadcast;
mod interval;
mod mpsc;
mod watch;

pub use broadcast::BroadcastStream;
pub use interval::IntervalStream;
pub use mpsc::{ReceiverStream, UnboundedReceiverStream};
pub use watch::WatchStream;

/// Errors of the wrapper streams, as `tokio_stream::wrappers::errors`: a
/// [`BroadcastStream`] yields `Err(Lagged(n))` when it fell behind and lost
/// `n` values, then goes on with the oldest value it still has.
///
/// ```
/// use perf_runtime::stream::wrappers::{errors::BroadcastStreamRecvError, BroadcastStream};
/// use perf_runtime::stream::Stream;
/// use perf_runtime::sync::broadcast;
/// use std::pin::Pin;
///
/// # async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
/// #     std::future::poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
/// # }
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let (tx, rx) = broadcast::channel(2);
/// let mut stream = BroadcastStream::new(rx);
/// for n in 1..=3 {
///     tx.send(n).unwrap();
/// }
/// // `next` as `StreamExt::next`.
/// assert_eq!(next(&mut stream).await, Some(Err(BroadcastStreamRecvError::Lagged(1))));
/// assert_eq!(next(&mut stream).await, Some(Ok(2)));
/// # });
/// ```
pub mod errors {
    pub use super::broadcast::BroadcastStreamRecvError;
}
