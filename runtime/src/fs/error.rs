//! Errors that name the path they are about.
//!
//! `std::fs` errors carry the operating system's message only ("No such file
//! or directory"), which is not enough to act on in a service that opens
//! many files. These wrappers keep the [`ErrorKind`] (code that matches on
//! `NotFound` works unchanged) and put the operation, the path and a hint in
//! the message.

use std::error::Error;
use std::fmt;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

/// An error from `op` on `path` (and `to`, for two-path operations).
#[derive(Debug)]
pub(crate) struct PathError {
    op: &'static str,
    path: PathBuf,
    to: Option<PathBuf>,
    source: io::Error,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.op, self.path)?;
        if let Some(to) = &self.to {
            write!(f, " to {to:?}")?;
        }
        write!(f, ": {}", self.source)?;
        match self.source.kind() {
            ErrorKind::NotFound => f.write_str("; check that the path exists"),
            ErrorKind::PermissionDenied => {
                f.write_str("; check the permissions of the path and of its parent directories")
            }
            ErrorKind::AlreadyExists => {
                f.write_str("; remove it first, or open it without `create_new`")
            }
            _ => Ok(()),
        }
    }
}

impl Error for PathError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

/// Wraps `e`, the error of `op` on `path`, keeping its kind.
pub(crate) fn with_path(e: io::Error, op: &'static str, path: &Path) -> io::Error {
    wrap(e, op, path, None)
}

/// Wraps `e`, the error of `op` from `from` to `to`, keeping its kind.
pub(crate) fn with_paths(e: io::Error, op: &'static str, from: &Path, to: &Path) -> io::Error {
    wrap(e, op, from, Some(to))
}

fn wrap(e: io::Error, op: &'static str, path: &Path, to: Option<&Path>) -> io::Error {
    io::Error::new(
        e.kind(),
        PathError {
            op,
            path: path.to_owned(),
            to: to.map(Path::to_owned),
            source: e,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_kind_and_names_the_path() {
        let e = with_path(
            io::Error::from(ErrorKind::NotFound),
            "open",
            Path::new("/nope/x"),
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let msg = e.to_string();
        assert!(msg.contains("open \"/nope/x\""), "{msg}");
        assert!(msg.contains("check that the path exists"), "{msg}");
        let inner = e.get_ref().and_then(|s| s.source()).expect("the os error");
        assert!(inner.downcast_ref::<io::Error>().is_some());
    }

    #[test]
    fn names_both_paths() {
        let e = with_paths(
            io::Error::from(ErrorKind::PermissionDenied),
            "rename",
            Path::new("a"),
            Path::new("b"),
        );
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(e.to_string().starts_with("rename \"a\" to \"b\": "), "{e}");
    }
}
