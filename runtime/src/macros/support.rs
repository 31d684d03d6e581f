//! What the macros' expansions use, named through `$crate` so that they work
//! whatever the user has in scope. Not a public API.

pub use core::future::{poll_fn, Future, IntoFuture};
pub use core::option::Option::{self, None, Some};
pub use core::pin::{pin, Pin};
pub use core::result::Result::{self, Err, Ok};
pub use core::task::{ready, Context, Poll};

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// `Ready` while the current task has cooperative budget left; otherwise
/// wakes the task (so it is polled again after yielding) and is `Pending`.
#[inline]
pub fn poll_budget_available(cx: &mut Context<'_>) -> Poll<()> {
    if crate::task::coop::has_budget_remaining() {
        Poll::Ready(())
    } else {
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

thread_local! {
    // xorshift64*; zero means "not seeded yet".
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// A number in `0..n` (`n` ≥ 1) from a per-thread generator: where an
/// unbiased `select!` starts polling, so no branch is always polled first.
/// Fairness, not cryptography.
pub fn thread_rng_n(n: u32) -> u32 {
    static SEED: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    RNG.with(|rng| {
        let mut x = rng.get();
        if x == 0 {
            // Distinct seeds per thread; `| 1` keeps the state non-zero.
            x = SEED.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        rng.set(x);
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32;
        ((r * u64::from(n)) >> 32) as u32
    })
}

#[cfg(test)]
mod tests {
    use super::thread_rng_n;

    #[test]
    fn rng_stays_in_range_and_reaches_every_value() {
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let v = thread_rng_n(5);
            assert!(v < 5);
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|s| *s), "{seen:?}");
        assert_eq!(thread_rng_n(1), 0);
    }
}
