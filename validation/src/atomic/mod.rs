//! Atomic checks.
//!
//! - `placement.rs` — atomics placed in raw memory (shared memory, mmap'd
//!   files, packed buffers) are created through a checked constructor that
//!   refuses, and reports, a misaligned or cache-line-straddling address.
//! - `contract.rs` — atomics declared with an ordering protocol report every
//!   operation weaker than the protocol, at the caller's site.

mod contract;
mod placement;

pub use contract::{
    ContractAtomicBool, ContractAtomicU32, ContractAtomicU64, ContractAtomicUsize, Protocol,
};
pub use placement::{
    check_atomic_placement, checked_atomic_ref, PlacementError, PlainAtomic, CACHE_LINE,
};
