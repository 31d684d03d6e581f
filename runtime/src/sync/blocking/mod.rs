//! Thread synchronisation for short critical sections that never `.await`.
//!
//! - `mutex.rs`: [`Mutex`], a lock whose fast path is one inline CAS and
//!   whose contended path spins briefly and then parks the thread.
//! - `futex.rs`: the parking primitive under it — Linux futexes, or a
//!   mutex/condvar pair on other platforms and under loom (the one switch
//!   point between them).

mod futex;
mod mutex;

pub use mutex::{Mutex, MutexGuard};
