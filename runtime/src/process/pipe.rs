//! The child's standard streams as async pipes: [`ChildStdin`],
//! [`ChildStdout`], [`ChildStderr`].

use crate::io::{AsyncRead, AsyncWrite, Interest, PollEvented, ReadBuf};
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};

/// One end of a pipe, non-blocking and registered with the I/O driver.
/// `File` is only the carrier of the descriptor: `&File` reads and writes
/// with plain `read(2)`/`write(2)`, which is what a pipe needs.
struct Pipe {
    io: PollEvented<File>,
}

impl Pipe {
    fn new(fd: OwnedFd, interest: Interest) -> io::Result<Pipe> {
        set_nonblocking(fd.as_raw_fd(), true)?;
        Ok(Pipe {
            io: PollEvented::new_with_interest(File::from(fd), interest)?,
        })
    }

    /// Deregisters and hands the descriptor back, blocking again (ready to
    /// become another process's standard stream).
    fn into_owned_fd(self) -> io::Result<OwnedFd> {
        let fd = OwnedFd::from(self.io.into_inner()?);
        set_nonblocking(fd.as_raw_fd(), false)?;
        Ok(fd)
    }
}

fn set_nonblocking(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on the caller's live descriptor.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let new = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: as above.
    if new != flags && unsafe { libc::fcntl(fd, libc::F_SETFL, new) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

macro_rules! pipe_type {
    ($name:ident, $std:ty, $interest:expr, $what:literal) => {
        #[doc = concat!("The child's ", $what, " (as `tokio::process::", stringify!($name), "`).")]
        pub struct $name {
            pipe: Pipe,
        }

        impl $name {
            /// Wraps a std handle (set non-blocking here), as tokio's
            /// `from_std`.
            pub fn from_std(inner: $std) -> io::Result<$name> {
                Ok($name {
                    pipe: Pipe::new(OwnedFd::from(inner), $interest)?,
                })
            }

            /// Deregisters the pipe and hands its descriptor back, blocking
            /// again.
            pub fn into_owned_fd(self) -> io::Result<OwnedFd> {
                self.pipe.into_owned_fd()
            }
        }

        /// The pipe as another child's standard stream (e.g. one child's
        /// stdout as the next one's stdin).
        impl TryFrom<$name> for Stdio {
            type Error = io::Error;
            fn try_from(p: $name) -> io::Result<Stdio> {
                Ok(Stdio::from(p.into_owned_fd()?))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("fd", &self.as_raw_fd())
                    .finish()
            }
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.pipe.io.get_ref().as_raw_fd()
            }
        }

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.pipe.io.get_ref().as_fd()
            }
        }
    };
}

pipe_type!(
    ChildStdin,
    std::process::ChildStdin,
    Interest::WRITABLE,
    "standard input: write to it, and drop it to close it (the child then reads end of file)"
);
pipe_type!(
    ChildStdout,
    std::process::ChildStdout,
    Interest::READABLE,
    "standard output: read from it"
);
pipe_type!(
    ChildStderr,
    std::process::ChildStderr,
    Interest::READABLE,
    "standard error: read from it"
);

impl AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.pipe.io.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.pipe.io.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// A pipe cannot be half-closed while open: nothing to do here; drop
    /// the `ChildStdin` to close it.
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for ChildStdout {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.pipe.io.poll_read(cx, buf)
    }
}

impl AsyncRead for ChildStderr {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.pipe.io.poll_read(cx, buf)
    }
}
