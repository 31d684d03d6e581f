//! The chain cache: a chain of held classes plus the class being acquired
//! that was validated once is not validated again (lockdep's chain cache).
//!
//! Each held entry carries the hash of the chain up to and including it, so
//! the key of "this chain + the new class" is one mix of the top entry's hash
//! with the new class. Validated keys live in a global set (`ChainSet`,
//! behind a mutex, touched only on a miss) fronted by a small direct-mapped
//! cache per thread, so the steady-state check is one thread-local load and
//! a compare. Validity never expires: the lock-order graph only grows, and a
//! chain whose edges were once accepted stays accepted.

use crate::loom::sync::Mutex;
use std::cell::Cell;
use std::collections::HashSet;

/// The hash of the empty chain.
pub(crate) const SEED: u64 = 0x243F_6A88_85A3_08D3;

/// Extends chain hash `h` with `x` (a class id and its acquisition bits).
/// Never returns 0, the empty-slot marker of the thread cache.
#[inline(always)]
pub(crate) fn mix(h: u64, x: u64) -> u64 {
    let v = (h ^ x.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .rotate_left(27)
        .wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (v ^ (v >> 31)) | 1
}

/// The global set of validated chain keys.
pub(crate) struct ChainSet {
    keys: Mutex<HashSet<u64>>,
}

impl ChainSet {
    pub(crate) fn new() -> ChainSet {
        ChainSet {
            keys: Mutex::new(HashSet::new()),
        }
    }

    pub(crate) fn contains(&self, key: u64) -> bool {
        crate::loom::lock(&self.keys).contains(&key)
    }

    pub(crate) fn insert(&self, key: u64) {
        crate::loom::lock(&self.keys).insert(key);
    }

    pub(crate) fn len(&self) -> usize {
        crate::loom::lock(&self.keys).len()
    }
}

const SLOTS: usize = 512;

struct ThreadChains {
    slots: [Cell<u64>; SLOTS],
}

thread_local! {
    static CHAINS: ThreadChains = const {
        ThreadChains { slots: [const { Cell::new(0) }; SLOTS] }
    };
}

/// Whether this thread already knows `key` as validated.
#[inline(always)]
pub(crate) fn cached(key: u64) -> bool {
    CHAINS
        .try_with(|c| c.slots[key as usize & (SLOTS - 1)].get() == key)
        .unwrap_or(false)
}

/// Remembers `key` as validated on this thread (evicting whatever shared
/// its slot).
pub(crate) fn remember(key: u64) {
    let _ = CHAINS.try_with(|c| c.slots[key as usize & (SLOTS - 1)].set(key));
}
