//! Wrappers that turn a channel receiver or an interval into a [`Stream`],
//! as `tokio_stream::wrappers`.
//!
//! - `mpsc.rs` — [`ReceiverStream`], [`UnboundedReceiverStream`].
//! - `broadcast.rs` — [`BroadcastStream`] and its lag error.
//! - `watch.rs` — [`WatchStream`].
//! - `interval.rs` — [`IntervalStream`].
//!
//! ```
//! use perf_runtime::stream::wrappers::UnboundedReceiverStream;
//! use perf_runtime::stream::Stream;
//! use perf_runtime::sync::mpsc;
//!
//! let (tx, rx) = mpsc::unbounded_channel::<u8>();
//! let stream = UnboundedReceiverStream::new(rx);
//! assert_eq!(stream.size_hint(), (0, None));
//! drop(tx);
//! ```
//!
//! [`Stream`]: crate::stream::Stream

mod broadcast;
mod interval;
mod mpsc;
mod watch;

pub use broadcast::BroadcastStream;
pub use interval::IntervalStream;
pub use mpsc::{ReceiverStream, UnboundedReceiverStream};
pub use watch::WatchStream;

/// Errors of the wrapper streams, as `tokio_stream::wrappers::errors`.
pub mod errors {
    pub use super::broadcast::BroadcastStreamRecvError;
}
