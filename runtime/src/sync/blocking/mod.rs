//! Thread synchronisation for short critical sections that never `.await`.
//!
//! ```
//! use perf_runtime::sync::blocking::Mutex;
//! use std::sync::Arc;
//!
//! let hits = Arc::new(Mutex::new(0u64));
//! let threads: Vec<_> = (0..4)
//!     .map(|_| {
//!         let hits = hits.clone();
//!         std::thread::spawn(move || *hits.lock() += 1)
//!     })
//!     .collect();
//! for t in threads {
//!     t.join().unwrap();
//! }
//! assert_eq!(*hits.lock(), 4);
//! ```

// What lives where (for contributors):
//
// - `mutex.rs`: [`Mutex`], a lock whose fast path is one inline CAS and
//   whose contended path spins briefly and then parks the thread.
// - `futex.rs`: the parking primitive under it — Linux futexes, or a
//   mutex/condvar pair on other platforms and under loom (the one switch
//   point between them).

mod futex;
mod mutex;

pub use mutex::{Mutex, MutexGuard};
