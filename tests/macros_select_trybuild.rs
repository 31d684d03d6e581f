//! Compile errors of `select!`, `join!` and `try_join!`: each mistake gets
//! one error at the tokens at fault.
//!
//! After changing a message, regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p tests --test macros_select_trybuild` and
//! read the diff.

#[test]
fn select_join_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("trybuild/select_fail/*.rs");
}
