use super::socket_addr::{sockaddr_un, with_path};
use super::split::{self, OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use super::{SocketAddr, UCred};
use crate::io::{Interest, PollEvented, Ready};
use crate::net::buf::recv_into_spare;
use crate::net::fd_traits::socket_traits;
use crate::net::sys;
use std::io;
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net;
use std::path::Path;
use std::task::{Context, Poll};

/// A Unix-domain stream socket (as `tokio::net::UnixStream`): reads and
/// writes through
/// [`AsyncRead`](crate::io::AsyncRead)/[`AsyncWrite`](crate::io::AsyncWrite),
/// or the `try_*` calls after `readable()`/`writable()`.
pub struct UnixStream {
    io: PollEvented<net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket bound at `path` (a path that starts with a
    /// NUL byte names one in Linux's abstract namespace).
    ///
    /// A path where no socket is bound is a `NotFound` error; a socket file
    /// nobody listens on any more is `ConnectionRefused`.
    pub async fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let path = path.as_ref();
        Self::connect_path(path)
            .await
            .map_err(|e| with_path(e, "cannot connect to the Unix socket", path))
    }

    async fn connect_path(path: &Path) -> io::Result<UnixStream> {
        let (addr, len) = sockaddr_un(path)?;
        let fd = sys::socket(libc::AF_UNIX, libc::SOCK_STREAM)?;
        // SAFETY: `addr` is a valid sockaddr_un of `len` bytes; `fd` is a
        // live socket of ours.
        let r = unsafe {
            libc::connect(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_un).cast(),
                len,
            )
        };
        let in_progress = if r == 0 {
            false
        } else {
            let e = io::Error::last_os_error();
            // A full backlog is EAGAIN on a non-blocking Unix socket: an
            // error, as in tokio and mio (retry later).
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(e);
            }
            true
        };
        let stream = UnixStream::new(net::UnixStream::from(fd))?;
        if in_progress {
            stream.writable().await?;
            if let Some(e) = stream.take_error()? {
                return Err(e);
            }
        }
        Ok(stream)
    }

    fn new(s: net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: PollEvented::new(s)?,
        })
    }

    /// A connected pair of unnamed streams.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// Wraps a connected std stream (set non-blocking here), as tokio's
    /// `from_std`.
    pub fn from_std(stream: net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::new(stream)
    }

    /// Hands the stream back as a std stream (still non-blocking).
    pub fn into_std(self) -> io::Result<net::UnixStream> {
        self.io.into_inner()
    }

    /// The local address (unnamed for a connecting socket or a `pair()`).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr().map(SocketAddr)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr().map(SocketAddr)
    }

    /// The peer's process, user and group ids when it connected
    /// (`SO_PEERCRED`).
    pub fn peer_cred(&self) -> io::Result<UCred> {
        UCred::of(self.as_raw_fd())
    }

    /// The pending socket error, if any (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Waits until the stream is ready for `interest`; returns what is
    /// ready. Cancel-safe.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.io.ready(interest).await
    }

    /// Waits until the stream is readable. Cancel-safe.
    pub async fn readable(&self) -> io::Result<()> {
        self.ready(Interest::READABLE).await.map(drop)
    }

    /// Waits until the stream is writable. Cancel-safe.
    pub async fn writable(&self) -> io::Result<()> {
        self.ready(Interest::WRITABLE).await.map(drop)
    }

    /// Polls for read readiness (only the last task to poll is woken).
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_read_ready(cx)
    }

    /// Polls for write readiness (only the last task to poll is woken).
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_write_ready(cx)
    }

    /// Reads without waiting: `WouldBlock` if no data is ready.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_read(buf)
    }

    /// Reads into several buffers without waiting.
    pub fn try_read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        self.io.try_read_vectored(bufs)
    }

    /// Reads into a vector's spare capacity without waiting (64 bytes are
    /// reserved when there is none).
    pub fn try_read_buf(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        recv_into_spare(buf, |b| self.try_read(b))
    }

    /// Writes without waiting: `WouldBlock` if the socket buffer is full.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_write(buf)
    }

    /// Writes several buffers without waiting.
    pub fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.io.try_write_vectored(bufs)
    }

    /// Runs `f` (a non-blocking call on this socket) if the stream is ready
    /// for `interest`; clears the readiness if it returns `WouldBlock`.
    pub fn try_io<R>(
        &self,
        interest: Interest,
        f: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        self.io.try_io(interest, f)
    }

    /// Waits for `interest` and runs `f` until it stops returning
    /// `WouldBlock`.
    pub async fn async_io<R>(
        &self,
        interest: Interest,
        f: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        self.io.async_io(interest, f).await
    }

    /// Splits into borrowed halves usable concurrently in one task.
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        split::split(self)
    }

    /// Splits into owned halves that can move to different tasks;
    /// [`OwnedReadHalf::reunite`] puts them back together.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::into_split(self)
    }
}

crate::net::split::impl_async_read!(UnixStream, UnixStream, |s| s);
crate::net::split::impl_async_write!(
    UnixStream,
    UnixStream,
    |s| s,
    #[doc = "Shuts the write side down: the peer reads end of stream."]
);

impl crate::net::split::SplitStream for UnixStream {
    type Std = net::UnixStream;

    fn io(&self) -> &PollEvented<net::UnixStream> {
        &self.io
    }

    fn shutdown_std(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }
}

socket_traits!(UnixStream, net::UnixStream, debug: "local" => local_addr, "peer" => peer_addr);
