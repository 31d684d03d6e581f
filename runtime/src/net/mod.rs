//! TCP, UDP and Unix-domain sockets, with tokio's names and shapes.
//!
//! ```
//! use perf_runtime::io::{AsyncReadExt, AsyncWriteExt};
//! use perf_runtime::net::{TcpListener, TcpStream};
//!
//! # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
//! let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let addr = listener.local_addr().unwrap();
//! perf_runtime::spawn(async move {
//!     let (mut socket, _) = listener.accept().await.unwrap();
//!     let mut buf = [0u8; 5];
//!     socket.read_exact(&mut buf).await.unwrap();
//!     socket.write_all(&buf).await.unwrap();
//! });
//! let mut client = TcpStream::connect(addr).await.unwrap();
//! client.write_all(b"hello").await.unwrap();
//! let mut buf = [0u8; 5];
//! client.read_exact(&mut buf).await.unwrap();
//! assert_eq!(&buf, b"hello");
//! # });
//! ```
//!
//! Every socket is non-blocking and registered with the runtime's I/O
//! driver (io_uring or epoll). Reads and writes try the syscall first and
//! wait for readiness only when it would block, so they are cancel-safe:
//! dropping a `read` future loses no data.

mod addr;
pub(crate) mod buf;
mod datagram;
mod fd_traits;
mod split;
pub(crate) mod sys;
pub mod tcp;
mod udp;
pub mod unix;

pub use addr::{lookup_host, ToSocketAddrs};
pub use tcp::{TcpListener, TcpSocket, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};

/// Makes a socket descriptor non-blocking.
pub(crate) fn set_nonblocking(fd: std::os::fd::RawFd) -> std::io::Result<()> {
    let mut on: libc::c_int = 1;
    // SAFETY: FIONBIO reads an int flag from a live local; `fd` is a live
    // descriptor of the caller's.
    if unsafe { libc::ioctl(fd, libc::FIONBIO, &mut on) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
