//! Streams over perf_runtime's channels and timers, as the `tokio-stream`
//! crate has them: a port changes `tokio_stream::wrappers` to
//! `perf_runtime::stream::wrappers`.
//!
//! Every wrapper implements [`Stream`] (`futures_core::Stream`, re-exported
//! here), so the `futures`/`tokio-stream` combinators (`StreamExt::next`,
//! `map`, `merge`, ...) work on them unchanged.
//!
//! ```
//! use perf_runtime::stream::wrappers::ReceiverStream;
//! use perf_runtime::stream::Stream;
//! use perf_runtime::sync::mpsc;
//! use std::pin::Pin;
//!
//! # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
//! let (tx, rx) = mpsc::channel(4);
//! tx.send("event").await.unwrap();
//! drop(tx);
//! let mut events = ReceiverStream::new(rx);
//! let first = std::future::poll_fn(|cx| Pin::new(&mut events).poll_next(cx)).await;
//! assert_eq!(first, Some("event"));
//! # });
//! ```

pub mod wrappers;

pub use futures_core::Stream;
