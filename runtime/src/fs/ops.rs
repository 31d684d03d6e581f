//! The free functions of `perf_runtime::fs`: each runs its `std::fs`
//! counterpart on the blocking pool, and names its path(s) in an error.

use super::asyncify;
use super::error::{with_path, with_paths};
use std::fs::{Metadata, Permissions};
use std::io;
use std::path::{Path, PathBuf};

/// Runs `f(path)` on the blocking pool; an error names `op` and the path.
async fn on_path<T, F>(path: &Path, op: &'static str, f: F) -> io::Result<T>
where
    F: FnOnce(&Path) -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let path = path.to_owned();
    asyncify(move || f(&path).map_err(|e| with_path(e, op, &path))).await
}

/// Runs `f(from, to)` on the blocking pool; an error names both paths.
async fn on_paths<T, F>(from: &Path, to: &Path, op: &'static str, f: F) -> io::Result<T>
where
    F: FnOnce(&Path, &Path) -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let (from, to) = (from.to_owned(), to.to_owned());
    asyncify(move || f(&from, &to).map_err(|e| with_paths(e, op, &from, &to))).await
}

/// Reads the whole file at `path`, as `tokio::fs::read`.
///
/// ```
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// # let path = std::env::temp_dir().join(format!("perf_runtime_read_doc_{}", std::process::id()));
/// perf_runtime::fs::write(&path, b"bytes").await?;
/// assert_eq!(perf_runtime::fs::read(&path).await?, b"bytes");
/// let missing = perf_runtime::fs::read(path.with_extension("missing")).await.unwrap_err();
/// assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
/// # perf_runtime::fs::remove_file(&path).await?;
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    on_path(path.as_ref(), "read", |p| std::fs::read(p)).await
}

/// Reads the whole file at `path` as UTF-8, as `tokio::fs::read_to_string`
/// (`InvalidData` if it is not UTF-8).
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    on_path(path.as_ref(), "read", |p| std::fs::read_to_string(p)).await
}

/// Writes `contents` to `path`, creating or truncating it, as
/// `tokio::fs::write`.
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let contents = contents.as_ref().to_owned();
    on_path(path.as_ref(), "write", move |p| std::fs::write(p, contents)).await
}

/// Creates the directory `path` (its parent must exist).
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    on_path(path.as_ref(), "create directory", |p| {
        std::fs::create_dir(p)
    })
    .await
}

/// Creates the directory `path` and any missing parents; succeeds if it
/// already exists.
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    on_path(path.as_ref(), "create directory", |p| {
        std::fs::create_dir_all(p)
    })
    .await
}

/// Removes the file (or symlink) at `path`.
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    on_path(path.as_ref(), "remove file", |p| std::fs::remove_file(p)).await
}

/// Removes the empty directory at `path`.
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    on_path(path.as_ref(), "remove directory", |p| {
        std::fs::remove_dir(p)
    })
    .await
}

/// Removes the directory at `path` and everything in it.
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    on_path(path.as_ref(), "remove directory", |p| {
        std::fs::remove_dir_all(p)
    })
    .await
}

/// Renames `from` to `to`, replacing `to` if it is a file (atomic within one
/// file system).
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    on_paths(from.as_ref(), to.as_ref(), "rename", |f, t| {
        std::fs::rename(f, t)
    })
    .await
}

/// Copies the contents and permissions of `from` to `to`; returns the
/// number of bytes copied.
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    on_paths(from.as_ref(), to.as_ref(), "copy", |f, t| {
        std::fs::copy(f, t)
    })
    .await
}

/// Creates a hard link `dst` to the file `src`.
pub async fn hard_link(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> io::Result<()> {
    on_paths(src.as_ref(), dst.as_ref(), "hard-link", |s, d| {
        std::fs::hard_link(s, d)
    })
    .await
}

/// Creates a symbolic link `dst` pointing at `src`.
pub async fn symlink(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> io::Result<()> {
    on_paths(src.as_ref(), dst.as_ref(), "symlink", |s, d| {
        std::os::unix::fs::symlink(s, d)
    })
    .await
}

/// The metadata of `path`, following symlinks.
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    on_path(path.as_ref(), "metadata of", |p| std::fs::metadata(p)).await
}

/// The metadata of `path` itself, not following a symlink.
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    on_path(path.as_ref(), "metadata of", |p| {
        std::fs::symlink_metadata(p)
    })
    .await
}

/// The absolute path of `path` with every symlink, `.` and `..` resolved.
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    on_path(path.as_ref(), "canonicalize", |p| std::fs::canonicalize(p)).await
}

/// Where the symbolic link at `path` points.
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    on_path(path.as_ref(), "read link", |p| std::fs::read_link(p)).await
}

/// Whether `path` exists (following symlinks): `Ok(false)` when it does
/// not, an error when that cannot be known (e.g. `PermissionDenied` on a
/// parent).
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    on_path(path.as_ref(), "check existence of", |p| p.try_exists()).await
}

/// Changes the permissions of `path`.
pub async fn set_permissions(path: impl AsRef<Path>, perm: Permissions) -> io::Result<()> {
    on_path(path.as_ref(), "set permissions of", move |p| {
        std::fs::set_permissions(p, perm)
    })
    .await
}
