//! Multi-producer, single-consumer channels, as `tokio::sync::mpsc`:
//! [`channel`] (bounded: senders wait while it is full),
//! [`adaptive`](fn@adaptive) (bounded, with a capacity that follows the load and the
//! memory pressure) and [`unbounded_channel`].
//!
//! Use one to hand work or events from many tasks to one: a worker's job
//! queue, a logger, the requests of an actor. Messages from one sender
//! arrive in the order it sent them; waiting senders of a full bounded
//! channel get capacity in FIFO order. When every sender is gone,
//! [`Receiver::recv`] returns the messages still queued, then `None`; when
//! the receiver is gone, `send` hands the value back in a
//! [`SendError`](error::SendError).
//!
//! ```
//! use perf_runtime::sync::mpsc;
//!
//! # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
//! let (tx, mut rx) = mpsc::channel(8);
//! for worker in 0..3 {
//!     let tx = tx.clone();
//!     perf_runtime::spawn(async move {
//!         tx.send(worker * 10).await.unwrap();
//!     });
//! }
//! drop(tx); // the loop below ends once the three clones are gone
//!
//! let mut total = 0;
//! while let Some(n) = rx.recv().await {
//!     total += n;
//! }
//! assert_eq!(total, 30);
//! # });
//! ```
//!
//! `recv` is cancel-safe: dropping it (say, in a losing `select!` branch)
//! loses no message. A bounded `send` that is dropped while waiting gives
//! up its place in the queue and sends nothing (the value is dropped with
//! it).

// What lives where:
// - `chan.rs`: the core both flavours share — claims, close, the
//   receiver's waker — and its invariants.
// - `queue.rs`: the lock-free message store, a list of blocks
//   (`block.rs`) where the receiver never waits for a sender.
// - `bounded.rs`, `unbounded.rs`: the public handles.
// - `adaptive.rs`: the adaptive bounded channel's constructor, sizing
//   policy and the protocol that moves a live channel's bound.
// - `error.rs`: the error types (also reachable as `mpsc::error::*`).

mod adaptive;
mod block;
mod bounded;
mod chan;
pub mod error;
mod queue;
mod unbounded;

pub use adaptive::adaptive;
pub use bounded::{channel, OwnedPermit, Permit, Receiver, Sender, WeakSender};
pub use unbounded::{unbounded_channel, UnboundedReceiver, UnboundedSender, WeakUnboundedSender};
