//! The halves of a split `TcpStream`: borrowed (`split`, one task) and
//! owned (`into_split`, any tasks). Reads and writes on a TCP socket are
//! independent, so the halves share the stream without a lock.
//!
//! The types come from `net/split.rs`, shared with Unix streams; `peek`,
//! which only TCP has, is added here.

use super::TcpStream;
use std::io;
use std::net::SocketAddr;

crate::net::split::halves! {
    stream: TcpStream,
    addr: SocketAddr,
    /// The read half of a borrowed split ([`TcpStream::split`]).
    ReadHalf,
    /// The write half of a borrowed split; shutting it down sends a FIN.
    WriteHalf,
    /// The read half of an owned split ([`TcpStream::into_split`]).
    OwnedReadHalf,
    /// The write half of an owned split. Dropping it shuts the write side down
    /// (a FIN to the peer), as in tokio; [`forget`](OwnedWriteHalf::forget)
    /// drops it without.
    OwnedWriteHalf,
}

impl OwnedReadHalf {
    /// Peeks. Cancel-safe.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.peek(buf).await
    }
}

impl ReadHalf<'_> {
    /// Peeks. Cancel-safe.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.peek(buf).await
    }
}
