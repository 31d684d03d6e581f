//! Child processes, as `tokio::process`: [`Command`] spawns a [`Child`]
//! whose exit is a future and whose piped standard streams are async pipes
//! ([`ChildStdin`], [`ChildStdout`], [`ChildStderr`]).
//!
//! ```
//! use perf_runtime::io::{AsyncReadExt, AsyncWriteExt};
//! use perf_runtime::process::Command;
//! use std::process::Stdio;
//!
//! # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
//! let out = Command::new("sh").arg("-c").arg("echo hello").output().await.unwrap();
//! assert!(out.status.success());
//! assert_eq!(out.stdout, b"hello\n");
//!
//! let mut cat = Command::new("cat")
//!     .stdin(Stdio::piped())
//!     .stdout(Stdio::piped())
//!     .spawn()
//!     .unwrap();
//! let mut stdin = cat.stdin.take().unwrap();
//! stdin.write_all(b"through a pipe").await.unwrap();
//! drop(stdin); // end of file for `cat`
//! let mut echoed = String::new();
//! cat.stdout.take().unwrap().read_to_string(&mut echoed).await.unwrap();
//! assert_eq!(echoed, "through a pipe");
//! assert!(cat.wait().await.unwrap().success());
//! # });
//! ```
//!
//! The exit is watched through a pidfd registered with the I/O driver
//! (Linux 5.3+), or SIGCHLD where `pidfd_open` is unavailable
//! (`PERF_RUNTIME_PROCESS_EXIT=sigchld` forces that fallback). A child is
//! always reaped: by [`Child::wait`], or — when its `Child` was dropped
//! first — as soon as it exits.

// Files: `child.rs` (`Child` and exit watching), `pipe.rs` (the standard
// streams), `orphan.rs` (reaping dropped children).

mod child;
mod orphan;
mod pipe;

pub use child::Child;
pub use pipe::{ChildStderr, ChildStdin, ChildStdout};

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};

/// A process builder (as `tokio::process::Command`): the program, its
/// arguments, environment, directory and standard streams, then
/// [`spawn`](Command::spawn), [`output`](Command::output) or
/// [`status`](Command::status).
pub struct Command {
    std: std::process::Command,
    kill_on_drop: bool,
}

impl Command {
    /// A command running `program` (looked up in `PATH` unless it is a
    /// path).
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// Adds an argument.
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable for the child.
    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, key: K, val: V) -> &mut Command {
        self.std.env(key, val);
        self
    }

    /// Sets environment variables for the child.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Starts the child with an empty environment.
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the child's working directory.
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// The child's stdin: [`Stdio::piped`] makes [`Child::stdin`] a
    /// [`ChildStdin`]. Inherited by default.
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stdin(cfg);
        self
    }

    /// The child's stdout: [`Stdio::piped`] makes [`Child::stdout`] a
    /// [`ChildStdout`]. Inherited by default (piped by `output`).
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stdout(cfg);
        self
    }

    /// The child's stderr, as [`stdout`](Command::stdout).
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stderr(cfg);
        self
    }

    /// Whether dropping the [`Child`] kills the process (SIGKILL). Off by
    /// default, as in tokio: a dropped child keeps running (and is reaped
    /// when it exits).
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// Whether [`kill_on_drop`](Command::kill_on_drop) is set.
    pub fn get_kill_on_drop(&self) -> bool {
        self.kill_on_drop
    }

    /// Runs the child as user `id`.
    pub fn uid(&mut self, id: u32) -> &mut Command {
        std::os::unix::process::CommandExt::uid(&mut self.std, id);
        self
    }

    /// Runs the child with group `id`.
    pub fn gid(&mut self, id: u32) -> &mut Command {
        std::os::unix::process::CommandExt::gid(&mut self.std, id);
        self
    }

    /// Puts the child in process group `pgroup` (0: a new group led by the
    /// child).
    pub fn process_group(&mut self, pgroup: i32) -> &mut Command {
        std::os::unix::process::CommandExt::process_group(&mut self.std, pgroup);
        self
    }

    /// Sets the child's `argv[0]`.
    pub fn arg0<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        std::os::unix::process::CommandExt::arg0(&mut self.std, arg);
        self
    }

    /// Runs `f` in the child between `fork` and `exec`.
    ///
    /// # Safety
    ///
    /// As [`std::os::unix::process::CommandExt::pre_exec`]: `f` runs in a
    /// forked copy of a multi-threaded process and may only do what is
    /// async-signal-safe (no allocation, no locks).
    pub unsafe fn pre_exec<F>(&mut self, f: F) -> &mut Command
    where
        F: FnMut() -> io::Result<()> + Send + Sync + 'static,
    {
        // SAFETY: the caller upholds pre_exec's contract (see above).
        unsafe { std::os::unix::process::CommandExt::pre_exec(&mut self.std, f) };
        self
    }

    /// The program.
    pub fn get_program(&self) -> &OsStr {
        self.std.get_program()
    }

    /// The std command inside.
    pub fn as_std(&self) -> &std::process::Command {
        &self.std
    }

    /// The std command inside, to set what this type does not forward.
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// The std command inside (`kill_on_drop` is dropped).
    pub fn into_std(self) -> std::process::Command {
        self.std
    }

    /// Starts the child. Must be called inside a runtime with I/O enabled
    /// (its exit and pipes are registered with it).
    ///
    /// A program that cannot be found is a `NotFound` error naming it.
    pub fn spawn(&mut self) -> io::Result<Child> {
        if crate::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other(format!(
                "cannot spawn {:?} outside a runtime: spawn it inside a task, inside \
                 Runtime::block_on, or after Runtime::enter()",
                self.std.get_program()
            )));
        }
        orphan::reap();
        let child = self.std.spawn().map_err(|e| {
            let hint = match e.kind() {
                io::ErrorKind::NotFound => {
                    ": check that it is installed and on PATH, or give its full path"
                }
                io::ErrorKind::PermissionDenied => ": check that the file is executable",
                _ => "",
            };
            io::Error::new(
                e.kind(),
                format!("cannot spawn {:?}: {e}{hint}", self.std.get_program()),
            )
        })?;
        Child::new(child, self.kill_on_drop)
    }

    /// Runs the child to completion and returns its exit status. Its
    /// standard streams are inherited unless configured; pipes set up with
    /// [`Stdio::piped`] are closed at once, so the child cannot wait on us.
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        let mut child = self.spawn()?;
        drop(child.stdin.take());
        drop(child.stdout.take());
        drop(child.stderr.take());
        child.wait().await
    }

    /// Runs the child to completion and collects its stdout and stderr
    /// (both piped here, as in tokio).
    pub async fn output(&mut self) -> io::Result<Output> {
        self.std.stdout(Stdio::piped());
        self.std.stderr(Stdio::piped());
        let child = self.spawn()?;
        child.wait_with_output().await
    }
}

impl From<std::process::Command> for Command {
    fn from(std: std::process::Command) -> Command {
        Command {
            std,
            kill_on_drop: false,
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("std", &self.std)
            .field("kill_on_drop", &self.kill_on_drop)
            .finish()
    }
}
