//! `runtime::Id`: which runtime a handle belongs to.

use std::fmt;
use std::num::NonZeroU64;

/// An opaque id of a runtime, unique among the runtimes alive at the same
/// time (a dropped runtime's id may be reused), as `tokio::runtime::Id`.
///
/// ```
/// use perf_runtime::runtime::Runtime;
///
/// let a = Runtime::new().unwrap();
/// let b = Runtime::new().unwrap();
/// assert_eq!(a.handle().id(), a.handle().clone().id());
/// assert_ne!(a.handle().id(), b.handle().id());
/// println!("runtime {}", a.handle().id());
/// ```
#[derive(Clone, Copy, Debug, Hash, Eq, PartialEq, Ord, PartialOrd)]
pub struct Id(NonZeroU64);

impl Id {
    /// From the address of a runtime's shared state, which is stable and
    /// distinct while the runtime lives.
    pub(crate) fn from_addr(addr: usize) -> Id {
        Id(NonZeroU64::new(addr as u64).expect("a live allocation's address is not null"))
    }
}

impl From<Id> for NonZeroU64 {
    fn from(id: Id) -> NonZeroU64 {
        id.0
    }
}

impl From<Id> for u64 {
    fn from(id: Id) -> u64 {
        id.0.get()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
