//! `#[perf_runtime::main]` and `#[perf_runtime::test]`: run an `async fn` on
//! a perf_runtime runtime.
//!
//! Use them through the `perf_runtime` crate (its default `macros` feature
//! re-exports both); this crate is an implementation detail and its paths
//! are not stable.
//!
//! Both attributes turn `async fn f() -> T { body }` into a plain `fn f() -> T`
//! that builds a runtime with `perf_runtime::runtime::Builder`, calls
//! `enable_all()`, and blocks on `body`. They accept the same arguments as
//! tokio's, so code moves between the two by changing the crate name:
//!
//! | argument | values | default |
//! | --- | --- | --- |
//! | `flavor` | `"multi_thread"`, `"current_thread"` | `main`: `"multi_thread"`, `test`: `"current_thread"` |
//! | `worker_threads` | an integer literal ≥ 1, multi-thread only | the runtime's own choice |
//! | `start_paused` | `true` or `false`; `true` only with current_thread | `false` |
//! | `crate` | the path of perf_runtime as a string, e.g. `"my_rt"` | `"::perf_runtime"` |
//!
//! Mistakes are reported as one error at the argument at fault, never as a
//! cascade from the generated code.

mod args;
mod config;
mod entry;
mod expand;
mod item;
mod join;
mod select;

use proc_macro::TokenStream;

use crate::config::Kind;

/// Runs an `async fn` (usually `main`) to completion on a new runtime.
///
/// ```ignore
/// #[perf_runtime::main]
/// async fn main() {
///     let answer = perf_runtime::spawn(async { 6 * 7 }).await.unwrap();
///     println!("{answer}");
/// }
/// ```
///
/// becomes, in essence,
///
/// ```ignore
/// fn main() {
///     let body = async move { /* the body above */ };
///     perf_runtime::runtime::Builder::new_multi_thread()
///         .enable_all()
///         .build()
///         .expect("Failed building the Runtime")
///         .block_on(body)
/// }
/// ```
///
/// The function keeps its attributes, visibility, name and return type, so
/// `async fn main() -> Result<(), Box<dyn std::error::Error>>` with `?` in the
/// body works, and so does `return` from the body.
///
/// # Arguments
///
/// - `flavor = "multi_thread"` (the default) or `flavor = "current_thread"`:
///   the runtime's scheduler. `current_thread` runs every task on the calling
///   thread.
/// - `worker_threads = N`: the number of worker threads, N ≥ 1; only with
///   `multi_thread`. Without it the runtime decides.
/// - `crate = "path"`: where to find perf_runtime, when it is renamed in
///   `Cargo.toml` or re-exported by another crate.
///
/// ```ignore
/// #[perf_runtime::main(flavor = "multi_thread", worker_threads = 4)]
/// async fn main() {}
/// ```
///
/// # Errors
///
/// A compile error, at the place at fault, when the function is not `async`,
/// when `main` takes arguments, or when an argument is unknown, duplicated,
/// or has a value it does not accept. At run time the expanded function
/// panics with "Failed building the Runtime" if the runtime cannot be built
/// (e.g. the OS refuses to start its threads).
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::entry(Kind::Main, args.into(), item.into()).into()
}

/// Runs an `async` test on a new runtime, one runtime per test.
///
/// ```ignore
/// #[perf_runtime::test]
/// async fn adds() {
///     let sum = perf_runtime::spawn(async { 1 + 1 }).await.unwrap();
///     assert_eq!(sum, 2);
/// }
/// ```
///
/// expands like [`macro@main`] and adds `#[test]`. Unlike `main`, the default
/// flavor is `current_thread`: the test and all its tasks run on the test's
/// own thread, which keeps tests deterministic and lets the harness run many
/// side by side. Ask for `flavor = "multi_thread"` (optionally with
/// `worker_threads = N`) to test behaviour that needs parallelism.
///
/// Other attributes such as `#[should_panic]` or `#[ignore]` are kept; a test
/// may return `Result<(), E>` and use `?`.
///
/// # Arguments
///
/// The same as [`macro@main`]'s: `flavor`, `worker_threads` (only with
/// `flavor = "multi_thread"`) and `crate`, plus `start_paused = true` (only
/// with `flavor = "current_thread"`, the test default): the clock starts
/// paused, so sleeps complete at once in virtual time (see
/// `perf_runtime::time::pause`).
///
/// # Errors
///
/// A compile error when the function is not `async`, takes arguments, already
/// carries `#[test]`, or when an argument is unknown, duplicated, or has a
/// value it does not accept.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::entry(Kind::Test, args.into(), item.into()).into()
}

/// The expansion of `perf_runtime::select!`; use that macro, which passes
/// its crate path first.
#[doc(hidden)]
#[proc_macro]
pub fn select_internal(input: TokenStream) -> TokenStream {
    select::select(input.into()).into()
}

/// The expansion of `perf_runtime::join!`; use that macro.
#[doc(hidden)]
#[proc_macro]
pub fn join_internal(input: TokenStream) -> TokenStream {
    join::join(join::Kind::Join, input.into()).into()
}

/// The expansion of `perf_runtime::try_join!`; use that macro.
#[doc(hidden)]
#[proc_macro]
pub fn try_join_internal(input: TokenStream) -> TokenStream {
    join::join(join::Kind::TryJoin, input.into()).into()
}
