//! Owned-buffer positional I/O on a [`File`]: `read_at` and `write_at`
//! (`pread`/`pwrite`), which neither use nor move the file's cursor.
//!
//! The buffer is passed by value and handed back with the result, the
//! shape an io_uring completion needs (the kernel owns the memory while the
//! operation runs). `read_at` is an io_uring READ where the runtime runs
//! io_uring; writes stay on the blocking pool (see `fs/uring.rs` for why).
//!
//! Cancellation: dropping the future does not stop the operation. A
//! `write_at` whose future was dropped may still write; a `read_at`'s bytes
//! are lost with its buffer. Neither affects the cursor or later reads.

use super::blocking_failed;
use super::file::File;
use crate::sync::Notify;
use std::fs::File as StdFile;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// A positional operation's share of the file: when it is dropped (the
/// operation finished, whether or not its future is still awaited) the
/// file's [`File::into_std`] is told it may own the file again.
pub(super) struct Lease {
    std: Option<Arc<StdFile>>,
    released: Arc<Notify>,
}

impl Lease {
    pub(super) fn new(std: Arc<StdFile>, released: Arc<Notify>) -> Lease {
        Lease {
            std: Some(std),
            released,
        }
    }

    fn file(&self) -> &StdFile {
        // `std` is `None` only inside `drop`.
        self.std
            .as_deref()
            .expect("a lease holds its file until dropped")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // The share goes first, then the wake: a waiter that rechecks after
        // the wake sees the share gone. `notify_one` stores a permit if no
        // one waits yet, so a check that raced with this drop is not lost.
        drop(self.std.take());
        self.released.notify_one();
    }
}

impl File {
    /// Reads into `buf` (up to its length, not its capacity) from `offset`,
    /// without moving the cursor; returns the count and the buffer. A count
    /// of 0 with a non-empty buffer means `offset` is at or past the end.
    ///
    /// Waits for this file's read or write in flight first, so a buffered
    /// `write` is visible to it.
    ///
    /// ```
    /// use perf_runtime::fs::File;
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// # let path = std::env::temp_dir().join(format!("perf_runtime_read_at_doc_{}", std::process::id()));
    /// # perf_runtime::fs::write(&path, b"0123456789").await?;
    /// let file = File::open(&path).await?;
    /// let (n, buf) = file.read_at(vec![0; 4], 6).await;
    /// assert_eq!(n?, 4);
    /// assert_eq!(buf, b"6789");
    /// # perf_runtime::fs::remove_file(&path).await?;
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn read_at(&self, buf: Vec<u8>, offset: u64) -> (io::Result<usize>, Vec<u8>) {
        let lease = match self.positional_lease().await {
            Ok(lease) => lease,
            Err(e) => return (Err(e), buf),
        };
        // io_uring's READ where the runtime runs io_uring; the lease (the
        // file's share) stays with the operation until the kernel is done.
        let fd = std::os::fd::AsRawFd::as_raw_fd(lease.file());
        let (mut buf, lease) = match super::uring::read_at(fd, buf, offset, lease).await {
            Ok(done) => return done,
            Err(back) => back,
        };
        let len = buf.len();
        let res = crate::spawn_blocking(move || {
            let res = loop {
                match lease.file().read_at(&mut buf, offset) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r,
                }
            };
            (res, buf)
        })
        .await;
        match res {
            Ok((res, buf)) => (res, buf),
            // The buffer went with the task; hand back one of the same
            // length so the caller can retry.
            Err(e) => (Err(blocking_failed(e)), vec![0; len]),
        }
    }

    /// Writes `buf` at `offset`, without moving the cursor; returns the
    /// count written (possibly short, as `pwrite`) and the buffer. Use
    /// [`write_all_at`](File::write_all_at) to write all of it.
    ///
    /// Waits for this file's read or write in flight first, so writes land
    /// in the order they were made. On a file opened with `append`, Linux
    /// appends regardless of `offset` (as `pwrite`).
    pub async fn write_at(&self, buf: Vec<u8>, offset: u64) -> (io::Result<usize>, Vec<u8>) {
        self.write_at_inner(buf, offset, false).await
    }

    /// Writes all of `buf` at `offset` (retrying short writes); returns the
    /// buffer. An error may come after part of it was written.
    ///
    /// ```
    /// use perf_runtime::fs::File;
    /// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
    /// # let path = std::env::temp_dir().join(format!("perf_runtime_write_at_doc_{}", std::process::id()));
    /// let file = File::create(&path).await?;
    /// let (res, _buf) = file.write_all_at(b"world".to_vec(), 6).await;
    /// res?;
    /// let (res, _buf) = file.write_all_at(b"hello ".to_vec(), 0).await;
    /// res?;
    /// assert_eq!(perf_runtime::fs::read(&path).await?, b"hello world");
    /// # perf_runtime::fs::remove_file(&path).await?;
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn write_all_at(&self, buf: Vec<u8>, offset: u64) -> (io::Result<()>, Vec<u8>) {
        let (res, buf) = self.write_at_inner(buf, offset, true).await;
        (res.map(drop), buf)
    }

    async fn write_at_inner(
        &self,
        buf: Vec<u8>,
        offset: u64,
        all: bool,
    ) -> (io::Result<usize>, Vec<u8>) {
        let lease = match self.positional_lease().await {
            Ok(lease) => lease,
            Err(e) => return (Err(e), buf),
        };
        let len = buf.len();
        // Mandatory: a write whose future was dropped still happens (see
        // the module docs), runtime shutdown included.
        let res = crate::task::spawn_mandatory_blocking(move || {
            let res = if all {
                lease.file().write_all_at(&buf, offset).map(|()| buf.len())
            } else {
                loop {
                    match lease.file().write_at(&buf, offset) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        r => break r,
                    }
                }
            };
            (res, buf)
        })
        .await;
        match res {
            Ok((res, buf)) => (res, buf),
            Err(e) => (Err(blocking_failed(e)), vec![0; len]),
        }
    }

    /// Waits for the buffered operation in flight and takes a share of the
    /// file for one positional operation.
    async fn positional_lease(&self) -> io::Result<Lease> {
        let (std, released) = self.after_inflight_shares().await;
        Ok(Lease::new(std, released))
    }
}
