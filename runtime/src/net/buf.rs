//! Receive buffers: the unfilled part of a `ReadBuf` or the spare
//! capacity of a `Vec`, handed to a `recv(2)`-family call that only writes
//! into them.

use crate::io::ReadBuf;
use std::io;
use std::mem::MaybeUninit;

/// The unfilled part of `buf` as a byte slice, for a `recv` that only
/// writes into it.
///
/// # Safety
///
/// The caller only passes the slice to calls that write into it (never read
/// it), and marks initialised no more than those calls report written.
pub(crate) unsafe fn unfilled<'a>(buf: &'a mut ReadBuf<'_>) -> &'a mut [u8] {
    // SAFETY: MaybeUninit<u8> and u8 have the same layout; the caller
    // promises not to read the possibly uninitialised bytes nor to
    // de-initialise any (`unfilled_mut`'s contract).
    unsafe { &mut *(buf.unfilled_mut() as *mut [MaybeUninit<u8>] as *mut [u8]) }
}

/// Marks `n` bytes past the filled part of `buf` as received.
///
/// # Safety
///
/// `n` bytes of the unfilled part were written (by the kernel).
pub(crate) unsafe fn advance(buf: &mut ReadBuf<'_>, n: usize) {
    // SAFETY: the caller promises the `n` bytes were written.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
}

/// Runs `recv` on `buf`'s spare capacity and grows its length by what it
/// received.
pub(crate) fn recv_into_spare(
    buf: &mut Vec<u8>,
    recv: impl FnOnce(&mut [u8]) -> io::Result<usize>,
) -> io::Result<usize> {
    if buf.capacity() == buf.len() {
        buf.reserve(64);
    }
    let spare = buf.spare_capacity_mut();
    // SAFETY: `recv` only writes into the slice (a `recv(2)` call); only
    // the bytes it reports written become part of the vector.
    let slice = unsafe { &mut *(spare as *mut [MaybeUninit<u8>] as *mut [u8]) };
    let n = recv(slice)?;
    // SAFETY: `n` bytes past the old length were written by the kernel.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}
