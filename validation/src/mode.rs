//! What the engine does with a violation: nothing, record it, or panic.
//!
//! One process-wide mode (default [`Mode::Report`]) and an optional per-thread
//! override, so a runtime can give its own workers the mode its builder was
//! configured with (`#[perf_runtime::test]` runs in `Panic` while another test
//! in the same binary runs in `Report`). These are plain settings, read whole,
//! so they use `std` atomics rather than the loom facade.

use std::cell::Cell;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

/// The environment variable that overrides the configured mode.
pub const ENV_VAR: &str = "PERF_RUNTIME_VALIDATION";

/// What happens when the engine finds a violation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Nothing is tracked: every hook returns after one load. Primitives
    /// created while the mode is `Off` stay untracked for their whole life.
    Off,
    /// Record the violation (see [`take_reports`](crate::take_reports)),
    /// count it, and log it once per distinct violation through
    /// `tracing::warn!`. The default.
    #[default]
    Report,
    /// As `Report`, then panic with the report's text at the point of
    /// detection (unless the thread is already panicking). Meant for tests.
    Panic,
}

impl Mode {
    const fn to_u8(self) -> u8 {
        match self {
            Mode::Off => 0,
            Mode::Report => 1,
            Mode::Panic => 2,
        }
    }

    const fn from_u8(v: u8) -> Mode {
        match v {
            0 => Mode::Off,
            2 => Mode::Panic,
            _ => Mode::Report,
        }
    }

    /// The mode named by `PERF_RUNTIME_VALIDATION`: `Ok(None)` when the
    /// variable is unset, `Ok(Some(mode))` for `off`, `report` or `panic`
    /// (any case, surrounding blanks ignored), and an error naming the
    /// variable and its value otherwise.
    pub fn from_env() -> Result<Option<Mode>, ModeParseError> {
        match std::env::var_os(ENV_VAR) {
            None => Ok(None),
            Some(raw) => match raw.to_str() {
                Some(s) => s.parse::<Mode>().map(Some).map_err(|e| ModeParseError {
                    from_env: true,
                    ..e
                }),
                None => Err(ModeParseError {
                    value: raw.to_string_lossy().into_owned(),
                    from_env: true,
                }),
            },
        }
    }

    /// The lower-case name, as accepted by [`FromStr`].
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Report => "report",
            Mode::Panic => "panic",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = ModeParseError;

    fn from_str(s: &str) -> Result<Mode, ModeParseError> {
        let t = s.trim();
        for m in [Mode::Off, Mode::Report, Mode::Panic] {
            if t.eq_ignore_ascii_case(m.as_str()) {
                return Ok(m);
            }
        }
        Err(ModeParseError {
            value: s.to_owned(),
            from_env: false,
        })
    }
}

/// A string that names no [`Mode`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModeParseError {
    value: String,
    from_env: bool,
}

impl ModeParseError {
    /// The rejected text.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether the text came from `PERF_RUNTIME_VALIDATION`.
    pub fn is_from_env(&self) -> bool {
        self.from_env
    }
}

impl fmt::Display for ModeParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from_env {
            write!(
                f,
                "{ENV_VAR}={:?} is not a validation mode; set it to off, report or panic, or unset it",
                self.value
            )
        } else {
            write!(
                f,
                "{:?} is not a validation mode; use off, report or panic",
                self.value
            )
        }
    }
}

impl std::error::Error for ModeParseError {}

static GLOBAL: AtomicU8 = AtomicU8::new(Mode::Report.to_u8());

/// No override on this thread.
const NO_OVERRIDE: u8 = u8::MAX;

thread_local! {
    static THREAD: Cell<u8> = const { Cell::new(NO_OVERRIDE) };
}

/// Sets the process-wide mode.
pub fn set_mode(mode: Mode) {
    GLOBAL.store(mode.to_u8(), Relaxed);
}

/// The mode in force on this thread: its override if one is set, otherwise
/// the process-wide mode.
#[inline]
pub fn mode() -> Mode {
    Mode::from_u8(raw_mode())
}

/// The process-wide mode, ignoring this thread's override.
pub fn global_mode() -> Mode {
    Mode::from_u8(GLOBAL.load(Relaxed))
}

/// Overrides the mode for the calling thread only (`None` removes the
/// override) and returns the previous override. A runtime sets this on its
/// worker threads so each runtime can run in the mode it was built with.
pub fn set_thread_mode(mode: Option<Mode>) -> Option<Mode> {
    let new = mode.map_or(NO_OVERRIDE, Mode::to_u8);
    let old = THREAD.try_with(|t| t.replace(new)).unwrap_or(NO_OVERRIDE);
    (old != NO_OVERRIDE).then(|| Mode::from_u8(old))
}

#[inline(always)]
fn raw_mode() -> u8 {
    let t = THREAD.try_with(Cell::get).unwrap_or(NO_OVERRIDE);
    if t != NO_OVERRIDE {
        t
    } else {
        GLOBAL.load(Relaxed)
    }
}

/// Whether hooks should track anything on this thread.
#[inline(always)]
pub(crate) fn enabled() -> bool {
    raw_mode() != Mode::Off.to_u8()
}
