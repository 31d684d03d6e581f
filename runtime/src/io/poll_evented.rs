//! `PollEvented`: a non-blocking std I/O object plus its registration, with
//! the readiness-driven read and write every socket type uses.

use super::registration::Registration;
use super::{Interest, ReadBuf};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::task::{ready, Context, Poll};

pub(crate) struct PollEvented<E: AsRawFd> {
    // `Option` so `into_inner` can move it out; `Some` until then.
    io: Option<E>,
    registration: Registration,
}

impl<E: AsRawFd> PollEvented<E> {
    /// Registers `io` (already non-blocking) for reads and writes.
    pub(crate) fn new(io: E) -> io::Result<Self> {
        Self::new_with_interest(io, Interest::READABLE | Interest::WRITABLE)
    }

    pub(crate) fn new_with_interest(io: E, interest: Interest) -> io::Result<Self> {
        let registration = Registration::new(io.as_raw_fd(), interest)?;
        Ok(PollEvented {
            io: Some(io),
            registration,
        })
    }

    pub(crate) fn registration(&self) -> &Registration {
        &self.registration
    }

    /// Deregisters and hands the object back (still non-blocking).
    pub(crate) fn into_inner(mut self) -> io::Result<E> {
        self.registration.deregister()?;
        Ok(self
            .io
            .take()
            .expect("PollEvented holds its object until into_inner"))
    }

    /// Reads into `buf` when readable.
    pub(crate) fn poll_read<'a>(
        &'a self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>>
    where
        &'a E: Read + 'a,
    {
        loop {
            let ev = ready!(self.registration.poll_read_ready(cx))?;
            // SAFETY: `Read::read` of the std sockets, pipes and files used
            // here only writes into the slice, never reads it, so exposing
            // the unfilled (maybe uninitialised) part is sound; only the
            // `n` bytes the kernel wrote are marked initialised below.
            let b = unsafe {
                &mut *(buf.unfilled_mut() as *mut [std::mem::MaybeUninit<u8>] as *mut [u8])
            };
            let len = b.len();
            let mut io = self.get_ref();
            match io.read(b) {
                Ok(n) => {
                    // A short read drained the socket: the next read would
                    // return WouldBlock, so skip it (the edge-triggered
                    // backends report new data as a new event).
                    if n > 0 && n < len {
                        self.registration.clear_readiness(ev);
                    }
                    // SAFETY: the kernel initialised `n` bytes.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.registration.clear_readiness(ev)
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Writes `buf` when writable.
    pub(crate) fn poll_write<'a>(
        &'a self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>>
    where
        &'a E: Write + 'a,
    {
        loop {
            let ev = ready!(self.registration.poll_write_ready(cx))?;
            let mut io = self.get_ref();
            match io.write(buf) {
                Ok(n) => {
                    if n > 0 && n < buf.len() {
                        self.registration.clear_readiness(ev);
                    }
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.registration.clear_readiness(ev)
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Writes `bufs` when writable.
    pub(crate) fn poll_write_vectored<'a>(
        &'a self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>>
    where
        &'a E: Write + 'a,
    {
        self.registration
            .poll_write_io(cx, || self.get_ref().write_vectored(bufs))
    }

    pub(crate) fn get_ref(&self) -> &E {
        self.io
            .as_ref()
            .expect("PollEvented holds its object until into_inner")
    }
}

impl<E: AsRawFd> Drop for PollEvented<E> {
    fn drop(&mut self) {
        // Deregister before the descriptor closes (epoll needs the live
        // descriptor to remove it; io_uring's poll is removed through the
        // ring). Then `io` drops and closes it.
        let _ = self.registration.deregister();
    }
}

impl<E: AsRawFd + std::fmt::Debug> std::fmt::Debug for PollEvented<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollEvented").field("io", &self.io).finish()
    }
}
