//! The halves of a split `UnixStream`: borrowed (`split`, one task) and
//! owned (`into_split`, any tasks). Reads and writes on a stream socket are
//! independent, so the halves share the stream without a lock.
//!
//! The types come from `net/split.rs`, shared with TCP streams.

use super::{SocketAddr, UnixStream};

crate::net::split::halves! {
    stream: UnixStream,
    addr: SocketAddr,
    /// The read half of a borrowed split ([`UnixStream::split`]).
    ReadHalf,
    /// The write half of a borrowed split; shutting it down ends the peer's
    /// reads.
    WriteHalf,
    /// The read half of an owned split ([`UnixStream::into_split`]).
    OwnedReadHalf,
    /// The write half of an owned split. Dropping it shuts the write side down
    /// (the peer reads end of stream), as in tokio; [`forget`](OwnedWriteHalf::forget)
    /// drops it without.
    OwnedWriteHalf,
}
