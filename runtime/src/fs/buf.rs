//! The buffer a [`File`](super::File) lends to the blocking pool: it holds
//! the bytes of a read not yet handed to the caller, or of a write not yet
//! made, and travels with the operation so no copy is shared between
//! threads.

use crate::io::ReadBuf;
use std::cmp;
use std::io::{self, Read, Write};

/// The largest read or write one blocking-pool operation makes (tokio's
/// default).
pub(super) const DEFAULT_MAX_BUF_SIZE: usize = 2 * 1024 * 1024;

/// Bytes `buf[pos..]` are valid and not yet consumed.
#[derive(Debug, Default)]
pub(super) struct Buf {
    buf: Vec<u8>,
    pos: usize,
}

impl Buf {
    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn len(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Moves as many buffered bytes as fit into `dst`.
    pub(super) fn copy_to(&mut self, dst: &mut ReadBuf<'_>) -> usize {
        let n = cmp::min(self.len(), dst.remaining());
        dst.put_slice(&self.bytes()[..n]);
        self.pos += n;
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        n
    }

    /// Takes up to `max` bytes of `src` for a write. The buffer is empty.
    pub(super) fn copy_from(&mut self, src: &[u8], max: usize) -> usize {
        debug_assert!(self.is_empty());
        let n = cmp::min(src.len(), max);
        self.buf.extend_from_slice(&src[..n]);
        n
    }

    /// As [`copy_from`](Self::copy_from), from several slices.
    pub(super) fn copy_from_bufs(&mut self, bufs: &[io::IoSlice<'_>], max: usize) -> usize {
        debug_assert!(self.is_empty());
        let mut rem = max;
        for b in bufs {
            if rem == 0 {
                break;
            }
            let len = b.len().min(rem);
            self.buf.extend_from_slice(&b[..len]);
            rem -= len;
        }
        max - rem
    }

    /// Drops the unread bytes and returns how far the file's cursor is ahead
    /// of the reader's position (as a negative offset to seek by).
    pub(super) fn discard_read(&mut self) -> i64 {
        let ret = -(self.len() as i64);
        self.pos = 0;
        self.buf.clear();
        ret
    }

    /// Reads up to `max` bytes from `rd` into the (empty) buffer.
    ///
    /// The buffer is zeroed first (a pass over memory the syscall is about
    /// to overwrite, small beside the thread hop) rather than handing
    /// uninitialised memory to an arbitrary `Read`.
    pub(super) fn read_from(&mut self, rd: &mut impl Read, max: usize) -> io::Result<usize> {
        debug_assert!(self.is_empty());
        self.buf.clear();
        self.pos = 0;
        self.buf.resize(max, 0);
        let res = loop {
            match rd.read(&mut self.buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r,
            }
        };
        self.buf.truncate(*res.as_ref().unwrap_or(&0));
        res
    }

    /// Writes every buffered byte to `wr` and empties the buffer, whatever
    /// the outcome.
    pub(super) fn write_to(&mut self, wr: &mut impl Write) -> io::Result<()> {
        debug_assert_eq!(self.pos, 0);
        let res = wr.write_all(&self.buf[self.pos..]);
        self.buf.clear();
        self.pos = 0;
        res
    }
}
