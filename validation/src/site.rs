//! A place in the source: where a lock was created or acquired, where a wait
//! started, where an atomic was used.

use std::fmt;
use std::panic::Location;

/// A source position (`file:line:column`), usually captured with
/// `#[track_caller]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Site {
    file: &'static str,
    line: u32,
    column: u32,
}

impl Site {
    /// The site of a captured `Location`.
    pub const fn from_location(loc: &'static Location<'static>) -> Site {
        Site {
            file: loc.file(),
            line: loc.line(),
            column: loc.column(),
        }
    }

    /// The site of the caller (through any chain of `#[track_caller]`
    /// functions).
    #[track_caller]
    pub const fn caller() -> Site {
        Site::from_location(Location::caller())
    }

    /// A site given by hand (reports ingested from outside, tests).
    pub const fn new(file: &'static str, line: u32, column: u32) -> Site {
        Site { file, line, column }
    }

    /// The source file, as the compiler names it.
    pub const fn file(&self) -> &'static str {
        self.file
    }

    /// The 1-based line.
    pub const fn line(&self) -> u32 {
        self.line
    }

    /// The 1-based column.
    pub const fn column(&self) -> u32 {
        self.column
    }

    /// Whether this site is in `file` (matched as a path suffix, so
    /// `"bank.rs"` matches `src/bank.rs`) at `line`.
    pub fn is(&self, file: &str, line: u32) -> bool {
        self.line == line && self.file.ends_with(file)
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

impl From<&'static Location<'static>> for Site {
    fn from(loc: &'static Location<'static>) -> Site {
        Site::from_location(loc)
    }
}
