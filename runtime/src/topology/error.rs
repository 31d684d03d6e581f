//! `TopologyError`: why a CPU list, a sysfs tree, a made-up topology or a
//! worker placement was refused.

use std::error::Error;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// A CPU list, a topology (read from sysfs or hwloc, or described with
/// [`TopologyBuilder`](super::TopologyBuilder)) or a worker
/// [`Placement`](super::Placement) that could not be read or made sense of.
///
/// The message names the input (the text, the file and its contents, the
/// node or the worker) and what is wrong with it.
///
/// ```
/// use perf_runtime::topology::CpuSet;
///
/// let err = CpuSet::parse_list("0-3,x").unwrap_err();
/// assert!(err.is_parse());
/// println!("{err}"); // names the input "0-3,x" and where it goes wrong
/// ```
#[derive(Debug)]
pub struct TopologyError {
    kind: Kind,
    /// The file the bad input came from, if it came from one.
    path: Option<PathBuf>,
}

#[derive(Debug)]
enum Kind {
    /// A malformed CPU list: the input, what is wrong, and the byte offset.
    Parse {
        input: String,
        what: String,
        at: usize,
    },
    /// A file or directory that could not be read.
    Io(io::Error),
    /// Files or a description that read fine but do not describe a usable
    /// topology (no nodes, nodes sharing a CPU, no allowed CPU online, ...).
    Invalid(String),
    /// A worker placement that does not fit the topology.
    Placement(String),
}

impl TopologyError {
    pub(super) fn parse(input: &str, what: String, at: usize) -> TopologyError {
        let input = input.to_owned();
        TopologyError {
            kind: Kind::Parse { input, what, at },
            path: None,
        }
    }

    pub(super) fn io(path: &Path, err: io::Error) -> TopologyError {
        TopologyError {
            kind: Kind::Io(err),
            path: Some(path.to_owned()),
        }
    }

    pub(super) fn invalid(path: &Path, what: String) -> TopologyError {
        TopologyError {
            kind: Kind::Invalid(what),
            path: Some(path.to_owned()),
        }
    }

    /// A described (not read) topology that is unusable: `what` names the
    /// part and says what to change.
    pub(super) fn invalid_input(what: String) -> TopologyError {
        TopologyError {
            kind: Kind::Invalid(what),
            path: None,
        }
    }

    pub(super) fn placement(what: String) -> TopologyError {
        TopologyError {
            kind: Kind::Placement(what),
            path: None,
        }
    }

    /// Records that the input came from the file at `path`.
    pub(super) fn in_file(mut self, path: &Path) -> TopologyError {
        self.path = Some(path.to_owned());
        self
    }

    /// The file or directory the bad input came from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether the error is a malformed CPU list (as opposed to a file that
    /// could not be read, or files that describe no usable topology).
    pub fn is_parse(&self) -> bool {
        matches!(self.kind, Kind::Parse { .. })
    }

    /// Whether the error is a worker placement that does not fit the
    /// topology (see [`Placement::plan`](super::Placement::plan)).
    pub fn is_placement(&self) -> bool {
        matches!(self.kind, Kind::Placement(_))
    }

    /// Whether a file or directory was missing.
    pub fn is_not_found(&self) -> bool {
        matches!(&self.kind, Kind::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.kind, &self.path) {
            (Kind::Parse { input, what, at }, None) => {
                write!(f, "invalid CPU list {input:?}: {what} at byte {at}")
            }
            (Kind::Parse { input, what, at }, Some(path)) => write!(
                f,
                "invalid CPU list {input:?} in {}: {what} at byte {at}",
                path.display()
            ),
            (Kind::Io(err), Some(path)) => {
                write!(f, "cannot read {}: {err}", path.display())
            }
            (Kind::Io(err), None) => write!(f, "cannot read topology: {err}"),
            (Kind::Invalid(what), Some(path)) => {
                write!(f, "unusable topology at {}: {what}", path.display())
            }
            (Kind::Invalid(what), None) => write!(f, "unusable topology: {what}"),
            (Kind::Placement(what), _) => write!(f, "invalid worker placement: {what}"),
        }
    }
}

impl Error for TopologyError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.kind {
            Kind::Io(err) => Some(err),
            _ => None,
        }
    }
}
