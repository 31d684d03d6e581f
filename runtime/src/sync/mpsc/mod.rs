//! Multi-producer, single-consumer channels, as `tokio::sync::mpsc`:
//! [`channel`] (bounded: senders wait while it is full) and
//! [`unbounded_channel`].
//!
//! - `chan.rs`: the core both flavours share — claims, close, the
//!   receiver's waker — and its invariants.
//! - `queue.rs`: the lock-free message store, a list of blocks
//!   (`block.rs`) where the receiver never waits for a sender.
//! - `bounded.rs`, `unbounded.rs`: the public handles.
//! - `error.rs`: the error types (also reachable as `mpsc::error::*`).
//!
//! Messages from one sender arrive in the order it sent them; waiting
//! senders of a full bounded channel get capacity in FIFO order.

mod block;
mod bounded;
mod chan;
pub mod error;
mod queue;
mod unbounded;

pub use bounded::{channel, OwnedPermit, Permit, Receiver, Sender, WeakSender};
pub use unbounded::{unbounded_channel, UnboundedReceiver, UnboundedSender, WeakUnboundedSender};
