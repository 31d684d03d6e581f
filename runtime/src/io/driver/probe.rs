//! Which backend a runtime gets.
//!
//! `Builder::io_driver` decides, unless `PERF_RUNTIME_IO` (`auto`, `uring`
//! or `epoll`) overrides it. `Auto` probes io_uring once per process: build a
//! ring with the size and flags the runtime really uses, register a probe,
//! and check every opcode the backend needs. Any failure (EPERM from a
//! seccomp filter or `kernel.io_uring_disabled`, ENOSYS, ENOMEM from a low
//! memlock limit, EINVAL, EACCES, a missing opcode) selects epoll, and the
//! reason is logged once. Forcing `Uring` where the probe fails is a build
//! error that carries the reason.

use super::{uring, IoBackend, IoDriver};
use std::io;
use std::sync::OnceLock;

/// The environment variable that forces a backend.
pub const IO_ENV: &str = "PERF_RUNTIME_IO";

/// The probe's verdict, once per process: `Ok` or why io_uring cannot be used.
fn uring_verdict() -> &'static Result<(), String> {
    static VERDICT: OnceLock<Result<(), String>> = OnceLock::new();
    VERDICT.get_or_init(probe_uring)
}

fn probe_uring() -> Result<(), String> {
    let ring = uring::build_ring().map_err(|e| {
        let hint = match e.raw_os_error() {
            Some(libc::EPERM) => {
                " (blocked: a seccomp filter such as Docker's default profile, or \
                 kernel.io_uring_disabled)"
            }
            Some(libc::ENOSYS) => " (the kernel has no io_uring)",
            Some(libc::ENOMEM) => " (the locked-memory limit, RLIMIT_MEMLOCK, is too low)",
            Some(libc::EACCES) => " (kernel.io_uring_disabled restricts it to a group)",
            _ => "",
        };
        format!(
            "io_uring_setup with {} entries failed: {e}{hint}",
            uring::RING_ENTRIES
        )
    })?;
    let mut probe = io_uring::Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|e| format!("io_uring probe registration failed: {e}"))?;
    let missing: Vec<&str> = uring::REQUIRED_OPCODES
        .iter()
        .filter(|(code, _)| !probe.is_supported(*code))
        .map(|(_, name)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the kernel's io_uring lacks opcodes the runtime needs: {}",
            missing.join(", ")
        ));
    }
    Ok(())
}

/// The driver `PERF_RUNTIME_IO` asks for, if set.
pub(crate) fn from_env() -> io::Result<Option<IoDriver>> {
    match std::env::var(IO_ENV) {
        Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(Some(IoDriver::Auto)),
            "uring" | "io_uring" | "io-uring" => Ok(Some(IoDriver::Uring)),
            "epoll" => Ok(Some(IoDriver::Epoll)),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{IO_ENV}={v:?} is not a driver: set it to auto, uring or epoll, or unset it"
                ),
            )),
        },
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{IO_ENV}={v:?} is not valid UTF-8: set it to auto, uring or epoll, or unset it"
            ),
        )),
    }
}

/// Decides the backend for a runtime whose builder asked for `choice`.
pub(crate) fn choose(choice: IoDriver) -> io::Result<IoBackend> {
    let choice = from_env()?.unwrap_or(choice);
    match choice {
        IoDriver::Epoll => Ok(IoBackend::Epoll),
        IoDriver::Uring => match uring_verdict() {
            Ok(()) => Ok(IoBackend::Uring),
            Err(why) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "the io_uring driver was forced (Builder::io_driver(IoDriver::Uring) or \
                     {IO_ENV}=uring) but cannot be used: {why}; use IoDriver::Auto to fall back \
                     to epoll"
                ),
            )),
        },
        IoDriver::Auto => match uring_verdict() {
            Ok(()) => Ok(IoBackend::Uring),
            Err(why) => {
                static LOGGED: std::sync::Once = std::sync::Once::new();
                LOGGED.call_once(|| {
                    tracing::warn!("perf_runtime: using the epoll I/O driver: {why}");
                });
                Ok(IoBackend::Epoll)
            }
        },
    }
}
