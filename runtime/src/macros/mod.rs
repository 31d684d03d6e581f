//! `select!`, `join!`, `try_join!` and `pin!`, as tokio has them.
//!
//! ```
//! use perf_runtime::sync::mpsc;
//! use perf_runtime::time::{sleep, Duration};
//!
//! #[perf_runtime::main]
//! async fn main() {
//!     let (tx, mut rx) = mpsc::channel::<u32>(1);
//!     tx.send(7).await.unwrap();
//!     // Whichever completes first; `Some(v) = ...` disables the branch if
//!     // the channel is closed instead.
//!     perf_runtime::select! {
//!         Some(v) = rx.recv() => assert_eq!(v, 7),
//!         _ = sleep(Duration::from_secs(1)) => panic!("timed out"),
//!     }
//!     let (a, b) = perf_runtime::join!(async { 1 }, async { 2 });
//!     assert_eq!(a + b, 3);
//! }
//! ```
//!
//! `select!`, `join!` and `try_join!` need the default `macros` feature, as
//! in tokio.

// Where the definitions live (for contributors):
//
// The macros are exported at the crate root (`perf_runtime::select!`);
// this module holds their definitions (`select.rs`, `join.rs`, `pin.rs`)
// and `support`, the hidden items their expansions name through `$crate`.
// `select!`, `join!` and `try_join!` expand through the proc macros of
// `perf-runtime-macros` (so they need the default `macros` feature, as in
// tokio); `pin!` is a plain `macro_rules!`.

#[cfg(feature = "macros")]
mod join;
mod pin;
#[cfg(feature = "macros")]
mod select;
#[doc(hidden)]
pub mod support;
