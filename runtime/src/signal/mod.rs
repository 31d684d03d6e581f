//! Signals: [`ctrl_c`] and, in [`unix`], a listener for any signal — so a
//! service can shut down gracefully on SIGTERM or reload on SIGHUP.
//!
//! ```
//! use perf_runtime::signal::unix::{signal, SignalKind};
//!
//! # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
//! let mut terminate = signal(SignalKind::terminate()).unwrap();
//! let server = perf_runtime::spawn(async move {
//!     // ... serve until asked to stop:
//!     terminate.recv().await;
//!     "drained"
//! });
//! // What a container runtime does on `docker stop`.
//! // SAFETY: sends SIGTERM to this process, whose handler is installed.
//! unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
//! assert_eq!(server.await.unwrap(), "drained");
//! # });
//! ```
//!
//! One handler per signal is installed, process-wide, the first time
//! someone listens for it, and stays installed (as tokio's): after that the
//! signal's default action (terminating the process, for SIGTERM) no longer
//! happens, so a service that listens for SIGTERM must exit by itself.

// The handler writes to a self-pipe that every listener watches through the
// runtime's I/O driver (`registry.rs` has the protocol and why not
// `signalfd`). `unix.rs` has the public types.

mod registry;
pub mod unix;

use std::io;

/// Completes when the process receives SIGINT (Ctrl-C), as
/// `tokio::signal::ctrl_c`.
///
/// The listener is created on the first poll, and from then on SIGINT no
/// longer terminates the process (for its whole life, as in tokio): the
/// program decides what Ctrl-C does. Create the future (and poll it once,
/// e.g. by spawning it) before the signal may arrive. Must run inside a
/// runtime with I/O enabled.
///
/// ```no_run
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// perf_runtime::signal::ctrl_c().await.unwrap();
/// println!("Ctrl-C: shutting down");
/// # });
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    unix::signal(unix::SignalKind::interrupt())?.recv().await;
    Ok(())
}
