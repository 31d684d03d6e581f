//! The clock waits are stamped with: cheap enough to read on every wait.
//!
//! On Linux, `CLOCK_MONOTONIC_COARSE` (the time of the last scheduler tick,
//! read from the vDSO without touching the TSC), plus its resolution, so a
//! stamp is never earlier than the true start of the wait and a stall is
//! never reported early. Elsewhere, and under Miri, `Instant::now()`. Both
//! are on the timeline of `Instant` (the monotonic clock), so the stall
//! scan converts its `now` with [`instant_ns`].

use std::sync::OnceLock;
use std::time::Instant;

struct Base {
    at: Instant,
    ns: u64,
    /// Read only where the coarse clock is used.
    #[cfg_attr(not(all(target_os = "linux", not(miri))), allow(dead_code))]
    coarse_res_ns: u64,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| Base {
        at: Instant::now(),
        ns: monotonic_ns(),
        coarse_res_ns: coarse_resolution_ns(),
    })
}

#[cfg(all(target_os = "linux", not(miri)))]
fn read(clock: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

#[cfg(all(target_os = "linux", not(miri)))]
fn monotonic_ns() -> u64 {
    read(libc::CLOCK_MONOTONIC).unwrap_or(0)
}

#[cfg(all(target_os = "linux", not(miri)))]
fn coarse_resolution_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    if rc == 0 {
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    } else {
        u64::MAX
    }
}

/// Now, in ns on the monotonic timeline, never earlier than the truth.
#[cfg(all(target_os = "linux", not(miri)))]
#[inline]
pub(crate) fn now_ns() -> u64 {
    let b = base();
    if b.coarse_res_ns <= 10_000_000 {
        if let Some(t) = read(libc::CLOCK_MONOTONIC_COARSE) {
            return t + b.coarse_res_ns;
        }
    }
    instant_ns(Instant::now())
}

#[cfg(not(all(target_os = "linux", not(miri))))]
fn monotonic_ns() -> u64 {
    0
}

#[cfg(not(all(target_os = "linux", not(miri))))]
fn coarse_resolution_ns() -> u64 {
    u64::MAX
}

/// Now, in ns on the monotonic timeline.
#[cfg(not(all(target_os = "linux", not(miri))))]
#[inline]
pub(crate) fn now_ns() -> u64 {
    instant_ns(Instant::now())
}

/// `t` on the same timeline as [`now_ns`].
pub(crate) fn instant_ns(t: Instant) -> u64 {
    let b = base();
    if t >= b.at {
        b.ns.saturating_add(u64::try_from((t - b.at).as_nanos()).unwrap_or(u64::MAX))
    } else {
        b.ns.saturating_sub(u64::try_from((b.at - t).as_nanos()).unwrap_or(u64::MAX))
    }
}
