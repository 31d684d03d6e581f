//! Unix-domain sockets: [`UnixListener`], [`UnixStream`] and
//! [`UnixDatagram`] (re-exported at [`crate::net`]), and their helper types
//! here: the halves of a split stream, [`SocketAddr`], and the peer
//! credentials [`UCred`].
//!
//! ```
//! use perf_runtime::io::{AsyncReadExt, AsyncWriteExt};
//! use perf_runtime::net::{UnixListener, UnixStream};
//!
//! # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = std::env::temp_dir().join(format!("perf-unix-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("echo.sock");
//! let _ = std::fs::remove_file(&path);
//! let listener = UnixListener::bind(&path).unwrap();
//! perf_runtime::spawn(async move {
//!     let (mut socket, _) = listener.accept().await.unwrap();
//!     let (mut r, mut w) = socket.split();
//!     perf_runtime::io::copy(&mut r, &mut w).await.unwrap();
//! });
//! let mut client = UnixStream::connect(&path).await.unwrap();
//! client.write_all(b"hello").await.unwrap();
//! let mut buf = [0u8; 5];
//! client.read_exact(&mut buf).await.unwrap();
//! assert_eq!(&buf, b"hello");
//! // The peer is this process.
//! assert_eq!(client.peer_cred().unwrap().pid(), Some(std::process::id() as i32));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # });
//! ```

// Files: `listener.rs`, `stream.rs`, `split.rs` (the stream's halves),
// `datagram.rs`, `socket_addr.rs` (addresses, and errors that name the
// path).

mod datagram;
mod listener;
mod socket_addr;
mod split;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use socket_addr::SocketAddr;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
pub use stream::UnixStream;

use std::io;
use std::os::fd::RawFd;

/// A process id, as the peer credentials report it.
#[allow(non_camel_case_types)]
pub type pid_t = libc::pid_t;
/// A user id.
#[allow(non_camel_case_types)]
pub type uid_t = libc::uid_t;
/// A group id.
#[allow(non_camel_case_types)]
pub type gid_t = libc::gid_t;

/// The credentials of the process at the other end of a Unix stream, as the
/// kernel recorded them when it connected (`SO_PEERCRED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UCred {
    pid: pid_t,
    uid: uid_t,
    gid: gid_t,
}

impl UCred {
    /// The peer's user id.
    pub fn uid(&self) -> uid_t {
        self.uid
    }

    /// The peer's group id.
    pub fn gid(&self) -> gid_t {
        self.gid
    }

    /// The peer's process id (always known on Linux).
    pub fn pid(&self) -> Option<pid_t> {
        Some(self.pid)
    }

    fn of(fd: RawFd) -> io::Result<UCred> {
        let c: libc::ucred = crate::net::sys::getsockopt(fd, libc::SOL_SOCKET, libc::SO_PEERCRED)?;
        Ok(UCred {
            pid: c.pid,
            uid: c.uid,
            gid: c.gid,
        })
    }
}
