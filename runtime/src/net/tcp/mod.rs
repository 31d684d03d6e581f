//! TCP: [`TcpListener`], [`TcpStream`], [`TcpSocket`], and the halves of a
//! split stream.

#[cfg(feature = "futures-io")]
pub(crate) mod futures_io;
mod listener;
mod owned;
mod socket;
mod split;
mod stream;

pub use listener::TcpListener;
pub use owned::AcceptStream;
pub use socket::TcpSocket;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
pub use stream::TcpStream;
