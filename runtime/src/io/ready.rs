//! `Interest` and `Ready`: what a task waits for, and what the driver saw.
//! Same names, constants and predicates as `tokio::io::{Interest, Ready}`.

use std::fmt;
use std::ops;

const READABLE: u8 = 0b00_0001;
const WRITABLE: u8 = 0b00_0010;
const READ_CLOSED: u8 = 0b00_0100;
const WRITE_CLOSED: u8 = 0b00_1000;
const PRIORITY: u8 = 0b01_0000;
const ERROR: u8 = 0b10_0000;

/// The readiness a task waits for on an I/O resource.
///
/// ```
/// use perf_runtime::io::Interest;
///
/// let both = Interest::READABLE | Interest::WRITABLE;
/// assert!(both.is_readable() && both.is_writable());
/// assert_eq!(both.remove(Interest::WRITABLE), Some(Interest::READABLE));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Interest(u8);

impl Interest {
    /// Readable: data (or end of stream) can be read.
    pub const READABLE: Interest = Interest(READABLE);
    /// Writable: data can be written.
    pub const WRITABLE: Interest = Interest(WRITABLE);
    /// Priority (out-of-band) data is available (`POLLPRI`).
    pub const PRIORITY: Interest = Interest(PRIORITY);
    /// An error is pending on the resource (`POLLERR`).
    pub const ERROR: Interest = Interest(ERROR);

    /// Whether readable is part of the interest.
    pub const fn is_readable(self) -> bool {
        self.0 & READABLE != 0
    }

    /// Whether writable is part of the interest.
    pub const fn is_writable(self) -> bool {
        self.0 & WRITABLE != 0
    }

    /// Whether priority is part of the interest.
    pub const fn is_priority(self) -> bool {
        self.0 & PRIORITY != 0
    }

    /// Whether error is part of the interest.
    pub const fn is_error(self) -> bool {
        self.0 & ERROR != 0
    }

    /// Both interests.
    #[must_use]
    pub const fn add(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }

    /// This interest without `other`; `None` if nothing is left.
    #[must_use]
    pub fn remove(self, other: Interest) -> Option<Interest> {
        let rest = self.0 & !other.0;
        (rest != 0).then_some(Interest(rest))
    }

    /// The readiness bits that satisfy this interest (a closed direction
    /// or a pending error satisfies it too: the next read or write returns
    /// at once, with the error — a connected UDP socket's ICMP "port
    /// unreachable" raises POLLERR without POLLIN, and a receive waiting
    /// for readable alone would never see it).
    pub(crate) fn mask(self) -> Ready {
        let mut bits = 0;
        if self.is_readable() {
            bits |= READABLE | READ_CLOSED | ERROR;
        }
        if self.is_writable() {
            bits |= WRITABLE | WRITE_CLOSED | ERROR;
        }
        if self.is_priority() {
            bits |= PRIORITY | READ_CLOSED;
        }
        if self.is_error() {
            bits |= ERROR;
        }
        Ready(bits)
    }

    /// The `poll(2)`/`epoll(7)` event bits for this interest (both use the
    /// same values).
    pub(crate) fn to_poll_events(self) -> u32 {
        let mut ev = 0u32;
        if self.is_readable() {
            ev |= (libc::POLLIN | libc::POLLRDHUP) as u32;
        }
        if self.is_writable() {
            ev |= libc::POLLOUT as u32;
        }
        if self.is_priority() {
            ev |= libc::POLLPRI as u32;
        }
        // POLLERR and POLLHUP are always reported.
        ev
    }
}

impl ops::BitOr for Interest {
    type Output = Interest;
    fn bitor(self, other: Interest) -> Interest {
        self.add(other)
    }
}

impl ops::BitOrAssign for Interest {
    fn bitor_assign(&mut self, other: Interest) {
        *self = self.add(other);
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (READABLE, "READABLE"),
            (WRITABLE, "WRITABLE"),
            (PRIORITY, "PRIORITY"),
            (ERROR, "ERROR"),
        ];
        write_flags(f, self.0, &names)
    }
}

/// What the driver saw on a resource.
///
/// ```
/// use perf_runtime::io::Ready;
///
/// let r = Ready::READABLE | Ready::READ_CLOSED;
/// assert!(r.is_readable() && r.is_read_closed() && !r.is_writable());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ready(u8);

impl Ready {
    /// Nothing is ready.
    pub const EMPTY: Ready = Ready(0);
    /// Readable.
    pub const READABLE: Ready = Ready(READABLE);
    /// Writable.
    pub const WRITABLE: Ready = Ready(WRITABLE);
    /// The read half is closed (the peer shut down its write side).
    pub const READ_CLOSED: Ready = Ready(READ_CLOSED);
    /// The write half is closed.
    pub const WRITE_CLOSED: Ready = Ready(WRITE_CLOSED);
    /// Priority data is available.
    pub const PRIORITY: Ready = Ready(PRIORITY);
    /// An error is pending.
    pub const ERROR: Ready = Ready(ERROR);
    /// Every readiness bit.
    pub const ALL: Ready =
        Ready(READABLE | WRITABLE | READ_CLOSED | WRITE_CLOSED | PRIORITY | ERROR);

    /// Whether nothing is ready.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Readable, or the read half is closed.
    pub fn is_readable(self) -> bool {
        self.0 & (READABLE | READ_CLOSED) != 0
    }

    /// Writable, or the write half is closed.
    pub fn is_writable(self) -> bool {
        self.0 & (WRITABLE | WRITE_CLOSED) != 0
    }

    /// The read half is closed.
    pub fn is_read_closed(self) -> bool {
        self.0 & READ_CLOSED != 0
    }

    /// The write half is closed.
    pub fn is_write_closed(self) -> bool {
        self.0 & WRITE_CLOSED != 0
    }

    /// Priority data is available.
    pub fn is_priority(self) -> bool {
        self.0 & PRIORITY != 0
    }

    /// An error is pending.
    pub fn is_error(self) -> bool {
        self.0 & ERROR != 0
    }

    pub(crate) const fn from_bits(bits: u8) -> Ready {
        Ready(bits & Ready::ALL.0)
    }

    pub(crate) const fn bits(self) -> u8 {
        self.0
    }

    /// The readiness in `poll(2)`/`epoll(7)` event bits (the kernel reports
    /// both with the same values), read the way mio reads them.
    pub(crate) fn from_poll_events(ev: u32) -> Ready {
        let has = |flag: i16| ev & flag as u16 as u32 != 0;
        let mut bits = 0;
        if has(libc::POLLIN) {
            bits |= READABLE;
        }
        if has(libc::POLLPRI) {
            bits |= PRIORITY;
        }
        if has(libc::POLLOUT) {
            bits |= WRITABLE;
        }
        if has(libc::POLLHUP) || (has(libc::POLLIN) && has(libc::POLLRDHUP)) {
            bits |= READ_CLOSED;
        }
        if has(libc::POLLHUP) || has(libc::POLLERR) {
            bits |= WRITE_CLOSED;
        }
        if has(libc::POLLERR) {
            bits |= ERROR;
        }
        Ready(bits)
    }
}

impl ops::BitOr for Ready {
    type Output = Ready;
    fn bitor(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }
}

impl ops::BitOrAssign for Ready {
    fn bitor_assign(&mut self, other: Ready) {
        self.0 |= other.0;
    }
}

impl ops::BitAnd for Ready {
    type Output = Ready;
    fn bitand(self, other: Ready) -> Ready {
        Ready(self.0 & other.0)
    }
}

impl ops::Sub for Ready {
    type Output = Ready;
    fn sub(self, other: Ready) -> Ready {
        Ready(self.0 & !other.0)
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (READABLE, "READABLE"),
            (WRITABLE, "WRITABLE"),
            (READ_CLOSED, "READ_CLOSED"),
            (WRITE_CLOSED, "WRITE_CLOSED"),
            (PRIORITY, "PRIORITY"),
            (ERROR, "ERROR"),
        ];
        write_flags(f, self.0, &names)
    }
}

fn write_flags(f: &mut fmt::Formatter<'_>, bits: u8, names: &[(u8, &str)]) -> fmt::Result {
    let mut first = true;
    for &(bit, name) in names {
        if bits & bit != 0 {
            if !first {
                f.write_str(" | ")?;
            }
            f.write_str(name)?;
            first = false;
        }
    }
    if first {
        f.write_str("EMPTY")?;
    }
    Ok(())
}
