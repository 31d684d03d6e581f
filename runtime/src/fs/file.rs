//! [`File`]: an open file whose reads, writes and seeks run on the blocking
//! pool, buffered as `tokio::fs::File`.
//!
//! # Invariants
//! - At most one operation is in flight: the state is `Idle(buf)` or
//!   `Busy(handle)`, and the buffer travels with the operation.
//! - In `Idle`, a non-empty buffer holds bytes already read from the file
//!   but not yet handed out: the file's cursor is ahead of the reader's
//!   position by `buf.len()`. Any write, seek or `set_len` first seeks back
//!   by that much (`discard_read`), so the caller never sees the
//!   read-ahead.
//! - A write reports success when its bytes are copied into the buffer; its
//!   error is kept in `last_write_err` and returned by the next write or
//!   flush.

use super::buf::{Buf, DEFAULT_MAX_BUF_SIZE};
use super::{asyncify, blocking_failed, OpenOptions};
use crate::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};
use crate::sync::{Mutex, Notify};
use crate::task::JoinHandle;
use crate::validation::LockClass;
use std::fmt;
use std::fs::{File as StdFile, Metadata, Permissions};
use std::future::{poll_fn, Future};
use std::io::{self, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// The lock class of every `File`'s state, so a validation report names it.
static FILE_STATE: LockClass = LockClass::new("perf_runtime::fs::File state");

/// An open file (as `tokio::fs::File`): read, write and seek it through
/// [`AsyncRead`], [`AsyncWrite`] and [`AsyncSeek`] (with
/// [`AsyncReadExt`](crate::io::AsyncReadExt),
/// [`AsyncWriteExt`](crate::io::AsyncWriteExt),
/// [`AsyncSeekExt`](crate::io::AsyncSeekExt)); each call runs on the blocking
/// pool.
///
/// A write returns once its bytes are copied into the file's buffer; call
/// [`flush`](crate::io::AsyncWriteExt::flush) to wait until they reach the
/// file (and see a failure), and [`sync_all`](File::sync_all) to have them
/// on disk. Dropping a `File` with a write in flight lets that write finish
/// in the background, without a way to see its error.
///
/// A cancelled read is not lost: the operation finishes on the blocking pool
/// and its bytes are returned by the next read.
///
/// ```
/// use perf_runtime::fs::File;
/// use perf_runtime::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, SeekFrom};
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// # let path = std::env::temp_dir().join(format!("perf_runtime_file_doc_{}", std::process::id()));
/// let mut f = File::options().read(true).write(true).create(true).truncate(true).open(&path).await?;
/// f.write_all(b"0123456789").await?;
/// f.seek(SeekFrom::Start(4)).await?;
/// let mut four = [0u8; 4];
/// f.read_exact(&mut four).await?;
/// assert_eq!(&four, b"4567");
/// # perf_runtime::fs::remove_file(&path).await?;
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub struct File {
    std: Arc<StdFile>,
    inner: Mutex<Inner>,
    max_buf_size: usize,
    /// Woken when a positional operation gives its share of `std` back
    /// (see `positional::Lease`), for `into_std`.
    released: Arc<Notify>,
}

struct Inner {
    state: State,
    /// The kind of the error of a write that completed after its caller was
    /// told it succeeded; the next write or flush returns it.
    last_write_err: Option<io::Error>,
    /// The position the last completed seek returned.
    pos: u64,
}

enum State {
    /// No operation in flight. `None` only transiently, inside a method.
    Idle(Option<Buf>),
    Busy(JoinHandle<(Operation, Buf)>),
}

enum Operation {
    Read(io::Result<usize>),
    Write(io::Result<()>),
    Seek(io::Result<u64>),
}

impl File {
    /// Opens `path` for reading, as `tokio::fs::File::open`.
    ///
    /// # Errors
    /// `NotFound` if `path` does not exist, `PermissionDenied`, ...: the
    /// message names the path.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens `path` for writing, creating it or truncating it, as
    /// `tokio::fs::File::create`.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Creates `path` for reading and writing; fails with `AlreadyExists` if
    /// it exists.
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .await
    }

    /// A new [`OpenOptions`] (everything off).
    #[must_use]
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps an open std file. Its cursor stays where it is.
    pub fn from_std(std: StdFile) -> File {
        File {
            std: Arc::new(std),
            inner: Mutex::with_class(
                Inner {
                    state: State::Idle(Some(Buf::default())),
                    last_write_err: None,
                    pos: 0,
                },
                &FILE_STATE,
            ),
            max_buf_size: DEFAULT_MAX_BUF_SIZE,
            released: Arc::new(Notify::new()),
        }
    }

    /// Waits for the buffered operation in flight and returns a share of
    /// the std file and the notifier its release must wake (positional
    /// I/O).
    pub(super) async fn after_inflight_shares(&self) -> (Arc<StdFile>, Arc<Notify>) {
        self.inner.lock().await.complete_inflight().await;
        (self.std.clone(), self.released.clone())
    }

    /// Waits for the operation in flight (a write's error is kept for the
    /// next write or flush) and runs `f` on the blocking pool with the lock
    /// held, so no read or write of this `File` overlaps it.
    pub(super) async fn after_inflight<T, F>(&self, f: F) -> io::Result<T>
    where
        F: FnOnce(&StdFile) -> io::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let mut inner = self.inner.lock().await;
        inner.complete_inflight().await;
        let std = self.std.clone();
        asyncify(move || f(&std)).await
    }

    /// Flushes and syncs data and metadata to disk (`fsync`; an io_uring
    /// operation where the runtime runs io_uring).
    pub async fn sync_all(&self) -> io::Result<()> {
        self.sync(false).await
    }

    /// Flushes and syncs the data to disk (`fdatasync`), not necessarily the
    /// metadata.
    pub async fn sync_data(&self) -> io::Result<()> {
        self.sync(true).await
    }

    /// Waits for the operation in flight, then syncs with the lock held so
    /// no read or write of this `File` overlaps it.
    async fn sync(&self, data_only: bool) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let mut inner = self.inner.lock().await;
        inner.complete_inflight().await;
        let std = self.std.clone();
        // The ring holds `std` (the descriptor) until the kernel is done.
        match super::uring::sync(self.std.as_raw_fd(), data_only, std).await {
            Ok(res) => res,
            Err(std) => {
                asyncify(move || {
                    if data_only {
                        std.sync_data()
                    } else {
                        std.sync_all()
                    }
                })
                .await
            }
        }
    }

    /// Truncates or extends the file to `size` bytes. The cursor does not
    /// move (it may end up past the end).
    pub async fn set_len(&self, size: u64) -> io::Result<()> {
        let mut inner = self.inner.lock().await;
        inner.complete_inflight().await;
        let mut buf = inner.take_idle_buf();
        // Read-ahead goes: the cursor returns to the reader's position.
        let seek = (!buf.is_empty()).then(|| SeekFrom::Current(buf.discard_read()));
        let std = self.std.clone();
        let res = crate::spawn_blocking(move || {
            let res = match seek {
                Some(seek) => (&*std).seek(seek).map(drop),
                None => Ok(()),
            }
            .and_then(|()| std.set_len(size));
            (res, buf)
        })
        .await;
        match res {
            Ok((res, buf)) => {
                inner.state = State::Idle(Some(buf));
                res
            }
            Err(e) => {
                inner.state = State::Idle(Some(Buf::default()));
                Err(blocking_failed(e))
            }
        }
    }

    /// The file's metadata.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let std = self.std.clone();
        asyncify(move || std.metadata()).await
    }

    /// A second `File` for the same open file description (they share the
    /// cursor), after the operation in flight completed.
    pub async fn try_clone(&self) -> io::Result<File> {
        let std = self.after_inflight(StdFile::try_clone).await?;
        let mut file = File::from_std(std);
        file.max_buf_size = self.max_buf_size;
        Ok(file)
    }

    /// Waits for the operations in flight (buffered, and positional ones
    /// whose futures were dropped) and returns the std file, its cursor
    /// where this `File`'s reader was.
    pub async fn into_std(mut self) -> StdFile {
        self.inner.get_mut().complete_inflight().await;
        // Read-ahead goes back, as before a write: the std file's cursor
        // is where the caller has read up to.
        let mut buf = self.inner.get_mut().take_idle_buf();
        if !buf.is_empty() {
            let back = buf.discard_read();
            let std = self.std.clone();
            // An error here leaves the cursor ahead; there is no way to
            // report it without changing tokio's signature.
            let _ = asyncify(move || (&*std).seek(SeekFrom::Current(back))).await;
        }
        loop {
            match Arc::try_unwrap(self.std) {
                Ok(std) => return std,
                Err(shared) => {
                    self.std = shared;
                    // A positional operation still holds a share; its
                    // `Lease` wakes us (or left a permit) when it lets go.
                    self.released.notified().await;
                }
            }
        }
    }

    /// The std file, if no operation is in flight; otherwise the `File`
    /// back.
    #[allow(clippy::result_large_err)] // tokio's signature
    pub fn try_into_std(mut self) -> Result<StdFile, File> {
        match Arc::try_unwrap(self.std) {
            Ok(file) => Ok(file),
            Err(std) => {
                self.std = std;
                Err(self)
            }
        }
    }

    /// Changes the file's permissions.
    pub async fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        self.after_inflight(move |f| f.set_permissions(perm)).await
    }

    /// Sets the largest read or write one blocking-pool operation makes
    /// (default 2 MiB).
    ///
    /// # Panics
    /// If `max_buf_size` is 0.
    #[track_caller]
    pub fn set_max_buf_size(&mut self, max_buf_size: usize) {
        assert!(
            max_buf_size > 0,
            "File::set_max_buf_size(0): the buffer size must be at least 1 byte"
        );
        self.max_buf_size = max_buf_size;
    }

    /// The largest read or write one blocking-pool operation makes.
    pub fn max_buf_size(&self) -> usize {
        self.max_buf_size
    }
}

impl Inner {
    fn take_idle_buf(&mut self) -> Buf {
        match &mut self.state {
            State::Idle(buf) => buf.take().unwrap_or_default(),
            // `complete_inflight` ran first; a `Busy` here would be a bug,
            // and an empty buffer is a safe answer to it.
            State::Busy(_) => Buf::default(),
        }
    }

    /// Waits for the operation in flight; a write error is kept for the
    /// next write or flush.
    async fn complete_inflight(&mut self) {
        poll_fn(|cx| match self.poll_flush(cx) {
            Poll::Ready(Err(e)) => {
                self.last_write_err = Some(e);
                Poll::Ready(())
            }
            Poll::Ready(Ok(())) => Poll::Ready(()),
            Poll::Pending => Poll::Pending,
        })
        .await
    }

    /// Polls the operation in flight to completion; back in `Idle`, returns
    /// its buffer and outcome. A blocking task that did not complete leaves
    /// an empty buffer and becomes an error.
    fn poll_busy(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Operation>> {
        let State::Busy(rx) = &mut self.state else {
            return Poll::Ready(Ok(Operation::Seek(Ok(self.pos))));
        };
        let res = ready!(Pin::new(rx).poll(cx));
        Poll::Ready(match res {
            Ok((op, buf)) => {
                self.state = State::Idle(Some(buf));
                Ok(op)
            }
            Err(e) => {
                self.state = State::Idle(Some(Buf::default()));
                Err(blocking_failed(e))
            }
        })
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.last_write_err.take() {
            return Poll::Ready(Err(e));
        }
        if let State::Idle(_) = self.state {
            return Poll::Ready(Ok(()));
        }
        match ready!(self.poll_busy(cx))? {
            Operation::Write(res) => Poll::Ready(res.map_err(write_failed)),
            Operation::Read(_) => Poll::Ready(Ok(())),
            Operation::Seek(res) => {
                if let Ok(pos) = res {
                    self.pos = pos;
                }
                Poll::Ready(Ok(()))
            }
        }
    }
}

/// The error of a buffered write, which failed after it was reported done:
/// its kind, and a message that says which data is affected.
fn write_failed(e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!(
            "a buffered write to this file failed after `write` returned: {e}; the data of \
             that write did not reach the file (was it opened for writing?)"
        ),
    )
}

impl AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let inner = me.inner.get_mut();
        loop {
            match &mut inner.state {
                State::Idle(cell) => {
                    let mut buf = cell.take().unwrap_or_default();
                    if !buf.is_empty() || dst.remaining() == 0 {
                        buf.copy_to(dst);
                        *cell = Some(buf);
                        return Poll::Ready(Ok(()));
                    }
                    let std = me.std.clone();
                    let max = dst.remaining().min(me.max_buf_size);
                    inner.state = State::Busy(crate::spawn_blocking(move || {
                        let res = buf.read_from(&mut &*std, max);
                        (Operation::Read(res), buf)
                    }));
                }
                State::Busy(_) => match ready!(inner.poll_busy(cx))? {
                    Operation::Read(Ok(_)) => {
                        if let State::Idle(Some(buf)) = &mut inner.state {
                            buf.copy_to(dst);
                        }
                        return Poll::Ready(Ok(()));
                    }
                    Operation::Read(Err(e)) => return Poll::Ready(Err(e)),
                    // A write finished: read from where it left the cursor.
                    Operation::Write(Ok(())) => continue,
                    Operation::Write(Err(e)) => {
                        inner.last_write_err = Some(write_failed(e));
                        continue;
                    }
                    Operation::Seek(res) => {
                        if let Ok(pos) = res {
                            inner.pos = pos;
                        }
                        continue;
                    }
                },
            }
        }
    }
}

impl AsyncSeek for File {
    fn start_seek(self: Pin<&mut Self>, mut pos: SeekFrom) -> io::Result<()> {
        let me = self.get_mut();
        let inner = me.inner.get_mut();
        let State::Idle(cell) = &mut inner.state else {
            return Err(io::Error::other(
                "File::start_seek while another operation of this file is in flight: call \
                 poll_complete first (AsyncSeekExt::seek does)",
            ));
        };
        let mut buf = cell.take().unwrap_or_default();
        // The read-ahead: the file's cursor is `-n` ahead of the reader.
        let mut extra = None;
        if !buf.is_empty() {
            let n = buf.discard_read();
            match &mut pos {
                SeekFrom::Current(off) => match off.checked_add(n) {
                    Some(o) => *off = o,
                    None => extra = Some(SeekFrom::Current(n)),
                },
                // Absolute seeks do not depend on the cursor.
                SeekFrom::Start(_) | SeekFrom::End(_) => {}
            }
        }
        let std = me.std.clone();
        inner.state = State::Busy(crate::spawn_blocking(move || {
            let res = match extra {
                Some(extra) => (&*std).seek(extra).and_then(|_| (&*std).seek(pos)),
                None => (&*std).seek(pos),
            };
            (Operation::Seek(res), buf)
        }));
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let inner = self.get_mut().inner.get_mut();
        loop {
            if let State::Idle(_) = inner.state {
                return Poll::Ready(Ok(inner.pos));
            }
            match ready!(inner.poll_busy(cx))? {
                Operation::Seek(res) => {
                    if let Ok(pos) = res {
                        inner.pos = pos;
                    }
                    return Poll::Ready(res);
                }
                Operation::Write(Err(e)) => inner.last_write_err = Some(write_failed(e)),
                Operation::Write(Ok(())) | Operation::Read(_) => {}
            }
        }
    }
}

impl File {
    /// Starts a write of what `fill` copies into the (empty) buffer, after
    /// the operation in flight; returns how many bytes it took.
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        fill: impl FnOnce(&mut Buf, usize) -> usize,
    ) -> Poll<io::Result<usize>> {
        let inner = self.inner.get_mut();
        if let Some(e) = inner.last_write_err.take() {
            return Poll::Ready(Err(e));
        }
        loop {
            match &mut inner.state {
                State::Idle(cell) => {
                    let mut buf = cell.take().unwrap_or_default();
                    // Read-ahead goes: write where the reader is.
                    let seek = (!buf.is_empty()).then(|| SeekFrom::Current(buf.discard_read()));
                    let n = fill(&mut buf, self.max_buf_size);
                    let std = self.std.clone();
                    // Mandatory: the caller is told the bytes are written
                    // now, so a runtime shutdown must not drop the job.
                    inner.state = State::Busy(crate::task::spawn_mandatory_blocking(move || {
                        let res = match seek {
                            Some(seek) => (&*std).seek(seek).and_then(|_| buf.write_to(&mut &*std)),
                            None => buf.write_to(&mut &*std),
                        };
                        (Operation::Write(res), buf)
                    }));
                    return Poll::Ready(Ok(n));
                }
                State::Busy(_) => match ready!(inner.poll_busy(cx))? {
                    Operation::Write(res) => res.map_err(write_failed)?,
                    Operation::Seek(res) => {
                        if let Ok(pos) = res {
                            inner.pos = pos;
                        }
                    }
                    // The cursor moved; the next loop writes from there.
                    Operation::Read(_) => {}
                },
            }
        }
    }
}

impl AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with(cx, |buf, max| buf.copy_from(src, max))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with(cx, |buf, max| buf.copy_from_bufs(bufs, max))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().inner.get_mut().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl From<StdFile> for File {
    fn from(std: StdFile) -> Self {
        File::from_std(std)
    }
}

impl From<OwnedFd> for File {
    fn from(fd: OwnedFd) -> Self {
        File::from_std(StdFile::from(fd))
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.std.as_raw_fd()
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.std.as_fd()
    }
}

impl FromRawFd for File {
    /// # Safety
    /// As [`std::fs::File::from_raw_fd`]: `fd` is an open descriptor that
    /// the new `File` owns.
    unsafe fn from_raw_fd(fd: RawFd) -> Self {
        // SAFETY: the caller's contract is std's, passed on unchanged.
        File::from_std(unsafe { StdFile::from_raw_fd(fd) })
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("perf_runtime::fs::File")
            .field("std", &self.std)
            .finish()
    }
}
