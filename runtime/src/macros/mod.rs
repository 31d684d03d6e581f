//! `select!`, `join!`, `try_join!` and `pin!`, as tokio has them.
//!
//! The macros are exported at the crate root (`perf_runtime::select!`);
//! this module holds their definitions (`select.rs`, `join.rs`, `pin.rs`)
//! and `support`, the hidden items their expansions name through `$crate`.
//! `select!`, `join!` and `try_join!` expand through the proc macros of
//! `perf-runtime-macros` (so they need the default `macros` feature, as in
//! tokio); `pin!` is a plain `macro_rules!`.

#[cfg(feature = "macros")]
mod join;
mod pin;
#[cfg(feature = "macros")]
mod select;
#[doc(hidden)]
pub mod support;
