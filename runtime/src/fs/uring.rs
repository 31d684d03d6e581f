//! File operations on io_uring, where the runtime runs it: `open` (OPENAT),
//! `read_at` (READ at an offset) and `sync_all`/`sync_data` (FSYNC). Each
//! returns `Err(input)` when the current runtime does not run io_uring, and
//! the caller takes its blocking-pool path.
//!
//! Writes stay on the blocking pool on purpose: a `write_at` whose future
//! was dropped, or that is in flight when the runtime shuts down, must still
//! land (tokio's semantics, and `File`'s), while an io_uring write that has
//! not started can be cancelled by the ring's shutdown.
//!
//! A dropped `open` is cancelled; if the kernel opened the file anyway, the
//! driver closes the descriptor when the completion arrives.

use crate::io::driver::op::Produces;
use crate::io::op::Op;
use io_uring::{opcode, types};
use std::ffi::CString;
use std::fs::File as StdFile;
use std::io;
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `open(2)` flags for a set of options, validated as std validates them.
#[derive(Clone, Copy, Debug)]
pub(super) struct OpenFlags {
    pub(super) read: bool,
    pub(super) write: bool,
    pub(super) append: bool,
    pub(super) truncate: bool,
    pub(super) create: bool,
    pub(super) create_new: bool,
    pub(super) mode: u32,
    pub(super) custom: i32,
}

impl Default for OpenFlags {
    fn default() -> Self {
        OpenFlags {
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            mode: 0o666,
            custom: 0,
        }
    }
}

impl OpenFlags {
    /// The flags `open(2)` gets, or EINVAL for a combination std refuses.
    fn to_libc(self) -> io::Result<libc::c_int> {
        let einval = || io::Error::from_raw_os_error(libc::EINVAL);
        let access = match (self.read, self.write, self.append) {
            (true, false, false) => libc::O_RDONLY,
            (false, true, false) => libc::O_WRONLY,
            (true, true, false) => libc::O_RDWR,
            (false, _, true) => libc::O_WRONLY | libc::O_APPEND,
            (true, _, true) => libc::O_RDWR | libc::O_APPEND,
            (false, false, false) => return Err(einval()),
        };
        match (self.write, self.append) {
            (true, false) => {}
            (false, false) => {
                if self.truncate || self.create || self.create_new {
                    return Err(einval());
                }
            }
            (_, true) => {
                if self.truncate && !self.create_new {
                    return Err(einval());
                }
            }
        }
        let creation = match (self.create, self.truncate, self.create_new) {
            (false, false, false) => 0,
            (true, false, false) => libc::O_CREAT,
            (false, true, false) => libc::O_TRUNC,
            (true, true, false) => libc::O_CREAT | libc::O_TRUNC,
            (_, _, true) => libc::O_CREAT | libc::O_EXCL,
        };
        Ok(libc::O_CLOEXEC | access | creation | (self.custom & !libc::O_ACCMODE))
    }
}

/// Opens `path` through the ring.
pub(super) async fn open(path: &Path, flags: OpenFlags) -> Result<io::Result<StdFile>, ()> {
    let oflags = match flags.to_libc() {
        Ok(f) => f,
        Err(e) => {
            return if crate::io::op::current_uring().is_some() {
                Ok(Err(e))
            } else {
                Err(())
            }
        }
    };
    let c_path = match CString::new(path.as_os_str().as_bytes()) {
        Ok(p) => p,
        Err(_) => {
            return Ok(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the path contains a NUL byte",
            )))
        }
    };
    let op = Op::submit(c_path, Produces::Fd, |p| {
        opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), p.as_ptr())
            .flags(oflags)
            .mode(flags.mode)
            .build()
    })
    .map_err(drop)?;
    let (res, _path) = op.await;
    Ok(res.map(|fd| {
        // SAFETY: the kernel's openat returned a new descriptor that
        // nothing else owns.
        unsafe { StdFile::from_raw_fd(fd as i32) }
    }))
}

/// Reads into `buf` (up to its length) at `offset` through the ring.
/// `keep` (the file's share) lives until the kernel is done with the
/// descriptor.
pub(super) async fn read_at<K: Send + Unpin + 'static>(
    fd: RawFd,
    buf: Vec<u8>,
    offset: u64,
    keep: K,
) -> Result<(io::Result<usize>, Vec<u8>), (Vec<u8>, K)> {
    let op = Op::submit((buf, keep), Produces::Nothing, |(b, _)| {
        opcode::Read::new(
            types::Fd(fd),
            b.as_mut_ptr(),
            b.len().min(u32::MAX as usize) as u32,
        )
        .offset(offset)
        .build()
    })?;
    let (res, (buf, keep)) = op.await;
    drop(keep);
    Ok((res.map(|n| n as usize), buf))
}

/// `fsync` (`data_only`: `fdatasync`) through the ring.
pub(super) async fn sync<K: Send + Unpin + 'static>(
    fd: RawFd,
    data_only: bool,
    keep: K,
) -> Result<io::Result<()>, K> {
    let op = Op::submit(keep, Produces::Nothing, |_| {
        let mut e = opcode::Fsync::new(types::Fd(fd));
        if data_only {
            e = e.flags(types::FsyncFlags::DATASYNC);
        }
        e.build()
    })?;
    let (res, keep) = op.await;
    drop(keep);
    Ok(res.map(drop))
}
