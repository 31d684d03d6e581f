//! Files and directories, with tokio's names and shapes: [`File`],
//! [`OpenOptions`], [`read_dir`], and free functions such as [`read`],
//! [`write`](write()) and [`rename`].
//!
//! ```
//! use perf_runtime::fs::{self, File};
//! use perf_runtime::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = std::env::temp_dir().join(format!("perf_runtime_fs_doc_{}", std::process::id()));
//! fs::create_dir_all(&dir).await.unwrap();
//! let path = dir.join("greeting.txt");
//!
//! let mut file = File::create(&path).await.unwrap();
//! file.write_all(b"hello").await.unwrap();
//! file.flush().await.unwrap(); // waits for the write on the blocking pool
//!
//! let mut text = String::new();
//! File::open(&path).await.unwrap().read_to_string(&mut text).await.unwrap();
//! assert_eq!(text, "hello");
//! assert_eq!(fs::read(&path).await.unwrap(), b"hello");
//! fs::remove_dir_all(&dir).await.unwrap();
//! # });
//! ```
//!
//! # How it runs
//!
//! Every operation runs the `std::fs` call on the runtime's blocking pool
//! ([`spawn_blocking`](crate::spawn_blocking)), as tokio does; none blocks a
//! worker. A [`File`] keeps at most one operation in flight and buffers
//! through it exactly like `tokio::fs::File`: `write` copies the data and
//! returns before it reaches the file (call [`flush`] to wait for it and see
//! its error), and a `read` that is cancelled keeps running, its bytes are
//! kept for the next `read`, so no byte is lost or skipped.
//!
//! [`flush`]: crate::io::AsyncWriteExt::flush
//!
//! # Errors
//!
//! Errors keep `std`'s [`ErrorKind`](std::io::ErrorKind) (a missing path is
//! `NotFound`), and the functions that take a path name it in the message,
//! which `std` does not: `open "/srv/data.bin" for reading: No such file or
//! directory (os error 2); check that the path exists`. The operating
//! system's error is the error's [`source`](std::error::Error::source); read
//! its code with `e.get_ref().and_then(|s| s.source())` or match on
//! [`kind`](std::io::Error::kind) (unlike tokio, `raw_os_error()` is `None`
//! on these wrapped errors).

// What lives where:
// - `file.rs`: `File` and its buffered state machine (`buf.rs`: the
//   buffer it lends to the blocking pool).
// - `positional.rs`: owned-buffer `read_at`/`write_at`.
// - `open_options.rs`: `OpenOptions`.
// - `read_dir.rs`: `ReadDir` and `DirEntry`.
// - `futures_io.rs`: the `futures-io` feature's traits on `File`.
// - `ops.rs`: the free functions; `error.rs`: errors that name their path.

mod buf;
mod error;
mod file;
#[cfg(feature = "futures-io")]
mod futures_io;
mod open_options;
mod ops;
mod positional;
mod read_dir;
mod uring;

pub use file::File;
pub use open_options::OpenOptions;
pub use ops::{
    canonicalize, copy, create_dir, create_dir_all, hard_link, metadata, read, read_link,
    read_to_string, remove_dir, remove_dir_all, remove_file, rename, set_permissions, symlink,
    symlink_metadata, try_exists, write,
};
pub use read_dir::{read_dir, DirEntry, ReadDir};

use std::io;

/// Runs `f` on the blocking pool and returns its result; a blocking task
/// that could not complete (the runtime shut down, `f` panicked) becomes an
/// `io::Error` that says so.
pub(crate) async fn asyncify<F, T>(f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    match crate::spawn_blocking(f).await {
        Ok(res) => res,
        Err(e) => Err(blocking_failed(e)),
    }
}

/// The error for a file operation whose blocking-pool task did not finish.
pub(crate) fn blocking_failed(e: crate::task::JoinError) -> io::Error {
    io::Error::other(format!(
        "the file operation's blocking-pool task did not complete ({e}); the runtime is \
         shutting down or the operation panicked"
    ))
}
