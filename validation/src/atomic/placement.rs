//! Atomics placed in raw memory.
//!
//! An atomic at an address that is not a multiple of its size is undefined
//! behaviour in Rust (and a fault or a silently non-atomic access on some
//! CPUs). On x86 an unaligned locked access that straddles two cache lines
//! takes a bus lock that stalls every core, and Linux's split-lock detection
//! throttles the offending task. A naturally aligned atomic of at most 8
//! bytes never straddles a 64-byte line, so a split lock is always also a
//! misalignment; it is reported as the more specific kind.

use crate::report::{Side, Violation, ViolationKind};
use crate::sink;
use crate::site::Site;
use std::fmt;
use std::mem::{align_of, size_of};
use std::sync::atomic::*;

/// The cache-line size the split-lock check assumes.
pub const CACHE_LINE: usize = 64;

mod sealed {
    pub trait Sealed {}
}

/// An atomic type that may be placed in raw memory: `std`'s atomics.
pub trait PlainAtomic: sealed::Sealed + Sync {
    /// The type's name, for reports.
    const NAME: &'static str;
}

macro_rules! plain {
    ($($t:ty => $n:literal),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl PlainAtomic for $t {
            const NAME: &'static str = $n;
        }
    )*};
}

plain!(
    AtomicBool => "AtomicBool",
    AtomicU8 => "AtomicU8",
    AtomicI8 => "AtomicI8",
    AtomicU16 => "AtomicU16",
    AtomicI16 => "AtomicI16",
    AtomicU32 => "AtomicU32",
    AtomicI32 => "AtomicI32",
    AtomicU64 => "AtomicU64",
    AtomicI64 => "AtomicI64",
    AtomicUsize => "AtomicUsize",
    AtomicIsize => "AtomicIsize",
);

impl<T> sealed::Sealed for AtomicPtr<T> {}
impl<T> PlainAtomic for AtomicPtr<T> {
    const NAME: &'static str = "AtomicPtr";
}

/// Why an address cannot hold an atomic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacementError {
    addr: usize,
    size: usize,
    align: usize,
    type_name: &'static str,
    split: bool,
}

impl PlacementError {
    /// The rejected address.
    pub fn addr(&self) -> usize {
        self.addr
    }

    /// Always true: the address is not a multiple of the type's alignment.
    pub fn is_misaligned(&self) -> bool {
        self.addr % self.align != 0
    }

    /// Whether the atomic would straddle a cache line (a split lock).
    pub fn is_split_lock(&self) -> bool {
        self.split
    }

    fn kind(&self) -> ViolationKind {
        if self.split {
            ViolationKind::SplitLockAtomic
        } else {
            ViolationKind::MisalignedAtomic
        }
    }
}

impl fmt::Display for PlacementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at {:#x} is misaligned (it needs {}-byte alignment, the address is {} past a \
             multiple)",
            self.type_name,
            self.addr,
            self.align,
            self.addr % self.align
        )?;
        if self.split {
            write!(
                f,
                " and straddles a {CACHE_LINE}-byte cache line (bytes {}..{} of its line): \
                 a split lock on x86",
                self.addr % CACHE_LINE,
                self.addr % CACHE_LINE + self.size
            )?;
        }
        write!(
            f,
            "; place it at an offset that is a multiple of {} from an aligned base",
            self.align
        )
    }
}

impl std::error::Error for PlacementError {}

fn placement<A: PlainAtomic>(addr: usize) -> Result<(), PlacementError> {
    let (size, align) = (size_of::<A>(), align_of::<A>());
    if addr % align == 0 {
        return Ok(());
    }
    Err(PlacementError {
        addr,
        size,
        align,
        type_name: A::NAME,
        split: addr / CACHE_LINE != (addr + size - 1) / CACHE_LINE,
    })
}

#[cold]
#[inline(never)]
fn report(err: &PlacementError, site: Site) {
    let v = Violation::new(
        err.kind(),
        format!("an atomic placed in raw memory at {site}: {err}"),
    )
    .with_side(
        Side::new("places the atomic", crate::context::describe_current())
            .event(format!("{} at {:#x}", err.type_name, err.addr), Some(site)),
    )
    .with_advice(format!(
        "lay the memory out so every {} sits at a multiple of {} bytes (use #[repr(C, align({}))] \
         structs, or round offsets up), and check the mapping's base alignment",
        err.type_name, err.align, err.align
    ))
    .with_key((site, err.split));
    sink::submit(v);
}

/// Checks that an `A` may live at `addr`; reports (and returns) the error
/// otherwise. For code that casts raw memory itself.
#[track_caller]
pub fn check_atomic_placement<A: PlainAtomic>(addr: usize) -> Result<(), PlacementError> {
    let site = Site::caller();
    placement::<A>(addr).inspect_err(|e| report(e, site))
}

/// Borrows raw memory at `ptr` as an `A`, after checking the placement: a
/// misaligned or line-straddling address is reported as `MisalignedAtomic`
/// or `SplitLockAtomic` and refused (creating the reference would be
/// undefined behaviour).
///
/// # Safety
/// `ptr` must point to `size_of::<A>()` initialised bytes that stay valid
/// for `'a` and are accessed only atomically (through atomics of the same
/// size) while the reference lives.
#[track_caller]
pub unsafe fn checked_atomic_ref<'a, A: PlainAtomic>(
    ptr: *const u8,
) -> Result<&'a A, PlacementError> {
    check_atomic_placement::<A>(ptr.addr())?;
    // SAFETY: the address is aligned for `A` (checked above) and the caller guarantees validity, initialisation and atomic-only access for 'a.
    Ok(unsafe { &*ptr.cast::<A>() })
}
