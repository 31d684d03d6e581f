//! TCP: [`TcpListener`], [`TcpStream`], [`TcpSocket`] (re-exported at
//! [`crate::net`]), and the helper types that live here: the halves of a
//! split stream ([`ReadHalf`]/[`WriteHalf`] borrowed, [`OwnedReadHalf`]/
//! [`OwnedWriteHalf`] for two tasks) and [`AcceptStream`].
//!
//! Split a stream to read and write from two tasks at once; the owned
//! halves [`reunite`](OwnedReadHalf::reunite) into the stream again.
//!
//! ```
//! use perf_runtime::io::{AsyncReadExt, AsyncWriteExt};
//! use perf_runtime::net::{TcpListener, TcpStream};
//!
//! # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
//! let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let addr = listener.local_addr().unwrap();
//! let server = perf_runtime::spawn(async move {
//!     let (socket, _) = listener.accept().await.unwrap();
//!     let (mut reader, mut writer) = socket.into_split();
//!     // The writer half goes to its own task; this one keeps reading.
//!     let replies = perf_runtime::spawn(async move {
//!         writer.write_all(b"ready\n").await.unwrap();
//!         writer
//!     });
//!     let mut request = [0u8; 4];
//!     reader.read_exact(&mut request).await.unwrap();
//!     let writer = replies.await.unwrap();
//!     let stream = reader.reunite(writer).unwrap();
//!     (request, stream.peer_addr().unwrap())
//! });
//! let mut client = TcpStream::connect(addr).await.unwrap();
//! client.write_all(b"ping").await.unwrap();
//! let mut banner = [0u8; 6];
//! client.read_exact(&mut banner).await.unwrap();
//! assert_eq!(&banner, b"ready\n");
//! let (request, peer) = server.await.unwrap();
//! assert_eq!(&request, b"ping");
//! assert_eq!(peer, client.local_addr().unwrap());
//! # });
//! ```

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
