//! [`read_dir`], [`ReadDir`] and [`DirEntry`]: a directory's entries, read
//! in chunks on the blocking pool.

use super::asyncify;
use super::error::with_path;
use crate::task::JoinHandle;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{FileType, Metadata};
use std::future::{poll_fn, Future};
use std::io;
use std::os::unix::fs::DirEntryExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// Entries read per trip to the blocking pool.
const CHUNK_SIZE: usize = 32;

/// Starts reading the directory at `path`, as `tokio::fs::read_dir`.
///
/// ```
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let mut entries = perf_runtime::fs::read_dir("/").await?;
/// let mut names = Vec::new();
/// while let Some(entry) = entries.next_entry().await? {
///     names.push(entry.file_name());
/// }
/// assert!(!names.is_empty());
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
///
/// # Errors
/// `NotFound` if `path` does not exist, `NotADirectory` if it is a file,
/// ...; the message names the path.
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref().to_owned();
    asyncify(move || {
        let mut std = std::fs::read_dir(&path).map_err(|e| with_path(e, "read_dir", &path))?;
        let mut buf = VecDeque::with_capacity(CHUNK_SIZE);
        let more = next_chunk(&mut buf, &mut std);
        Ok(ReadDir(State::Idle(Some(Chunk { buf, std, more }))))
    })
    .await
}

/// The entries of a directory (as `tokio::fs::ReadDir`); take them with
/// [`next_entry`](ReadDir::next_entry). Entries come in the order the file
/// system gives them, without `.` and `..`.
#[derive(Debug)]
#[must_use = "a ReadDir does nothing until next_entry is awaited"]
pub struct ReadDir(State);

#[derive(Debug)]
struct Chunk {
    buf: VecDeque<io::Result<DirEntry>>,
    std: std::fs::ReadDir,
    /// Whether `std` may have more entries.
    more: bool,
}

#[derive(Debug)]
enum State {
    /// `None` only after the blocking task that read the next chunk failed.
    Idle(Option<Chunk>),
    Pending(JoinHandle<Chunk>),
}

impl ReadDir {
    /// The next entry, or `None` once all were returned. Cancel-safe: an
    /// entry being read when the future is dropped is returned by the next
    /// call.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        poll_fn(|cx| self.poll_next_entry(cx)).await
    }

    /// Polls for the next entry (for hand-written futures and streams).
    pub fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<DirEntry>>> {
        loop {
            match &mut self.0 {
                State::Idle(slot) => {
                    let Some(chunk) = slot else {
                        return Poll::Ready(Ok(None));
                    };
                    if let Some(entry) = chunk.buf.pop_front() {
                        return Poll::Ready(entry.map(Some));
                    }
                    if !chunk.more {
                        return Poll::Ready(Ok(None));
                    }
                    let Some(mut chunk) = slot.take() else {
                        return Poll::Ready(Ok(None));
                    };
                    self.0 = State::Pending(crate::spawn_blocking(move || {
                        chunk.more = next_chunk(&mut chunk.buf, &mut chunk.std);
                        chunk
                    }));
                }
                State::Pending(handle) => match ready!(Pin::new(handle).poll(cx)) {
                    Ok(chunk) => self.0 = State::Idle(Some(chunk)),
                    Err(e) => {
                        self.0 = State::Idle(None);
                        return Poll::Ready(Err(super::blocking_failed(e)));
                    }
                },
            }
        }
    }
}

/// Reads up to [`CHUNK_SIZE`] entries; stops after an error so it is
/// returned in order. Returns whether more may follow.
fn next_chunk(buf: &mut VecDeque<io::Result<DirEntry>>, std: &mut std::fs::ReadDir) -> bool {
    for _ in 0..CHUNK_SIZE {
        let Some(entry) = std.next() else {
            return false;
        };
        let ok = entry.is_ok();
        buf.push_back(entry.map(|std| DirEntry {
            file_type: std.file_type().ok(),
            std: Arc::new(std),
        }));
        if !ok {
            break;
        }
    }
    true
}

/// An entry of a [`ReadDir`] (as `tokio::fs::DirEntry`).
#[derive(Debug)]
pub struct DirEntry {
    /// From the directory read itself (`d_type`) when the file system gives
    /// it, so `file_type` needs no trip to the blocking pool.
    file_type: Option<FileType>,
    std: Arc<std::fs::DirEntry>,
}

impl DirEntry {
    /// The full path: the directory given to [`read_dir`] joined with
    /// [`file_name`](DirEntry::file_name).
    pub fn path(&self) -> PathBuf {
        self.std.path()
    }

    /// The entry's name, without its directory.
    pub fn file_name(&self) -> OsString {
        self.std.file_name()
    }

    /// The entry's inode number.
    pub fn ino(&self) -> u64 {
        self.std.ino()
    }

    /// The entry's metadata (not following a symlink).
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let std = self.std.clone();
        asyncify(move || {
            std.metadata()
                .map_err(|e| with_path(e, "metadata of", &std.path()))
        })
        .await
    }

    /// The entry's type (not following a symlink); usually known from the
    /// directory read, without a system call.
    pub async fn file_type(&self) -> io::Result<FileType> {
        if let Some(t) = self.file_type {
            return Ok(t);
        }
        let std = self.std.clone();
        asyncify(move || {
            std.file_type()
                .map_err(|e| with_path(e, "file type of", &std.path()))
        })
        .await
    }
}
