//! Compile-time behaviour of `#[perf_runtime::main]` and `#[perf_runtime::test]`:
//! what must expand and run, and the exact error each mistake produces.
//!
//! After changing a message, regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p tests --test macros_trybuild` and read
//! the diff.

#[test]
fn macros() {
    let cases = trybuild::TestCases::new();
    cases.pass("trybuild/pass/*.rs");
    cases.compile_fail("trybuild/fail/*.rs");
}
