use proc_macro2::TokenStream;
use quote::{quote, ToTokens};

use super::parse;
use crate::config::{Config, Flavor, Kind};

fn ok(kind: Kind, args: TokenStream) -> Config {
    parse(kind, args).unwrap_or_else(|e| panic!("rejected: {e}"))
}

fn err(kind: Kind, args: TokenStream) -> String {
    match parse(kind, args) {
        Ok(_) => panic!("accepted"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn defaults_follow_tokio() {
    let main = ok(Kind::Main, quote!());
    assert_eq!(main.flavor, Flavor::MultiThread);
    assert!(main.worker_threads.is_none());
    assert!(main.crate_path.is_none());
    assert_eq!(ok(Kind::Test, quote!()).flavor, Flavor::CurrentThread);
}

#[test]
fn accepts_every_argument_in_any_order_with_trailing_comma() {
    let config = ok(
        Kind::Test,
        quote!(
            worker_threads = 3usize,
            crate = "::my_rt",
            flavor = "multi_thread",
        ),
    );
    assert_eq!(config.flavor, Flavor::MultiThread);
    assert_eq!(config.worker_threads.map(|(n, _)| n), Some(3));
    let path = config.crate_path.expect("crate path");
    assert_eq!(path.to_token_stream().to_string(), ":: my_rt");
}

#[test]
fn main_takes_worker_threads_without_naming_the_flavor() {
    let config = ok(Kind::Main, quote!(worker_threads = 1));
    assert_eq!(config.flavor, Flavor::MultiThread);
    assert_eq!(config.worker_threads.map(|(n, _)| n), Some(1));
}

#[test]
fn current_thread_is_accepted() {
    let config = ok(Kind::Main, quote!(flavor = "current_thread"));
    assert_eq!(config.flavor, Flavor::CurrentThread);
}

#[test]
fn unknown_argument_is_named_with_the_valid_ones() {
    assert_eq!(
        err(Kind::Main, quote!(workers = 2)),
        "unknown argument `workers` to `#[perf_runtime::main]`; \
         expected one of `flavor`, `worker_threads`, `start_paused` or `crate`"
    );
    assert!(err(Kind::Test, quote!(a::b = 1)).starts_with("unknown argument `a::b`"));
}

#[test]
fn unknown_flavor_is_named_with_the_valid_ones() {
    assert_eq!(
        err(Kind::Main, quote!(flavor = "multi_threaded")),
        "unknown runtime flavor `multi_threaded`; expected `\"multi_thread\"` or `\"current_thread\"`"
    );
    assert!(err(Kind::Main, quote!(flavor = multi_thread)).starts_with("`flavor` expects a string"));
}

#[test]
fn worker_threads_needs_the_multi_thread_flavor() {
    let explicit = err(
        Kind::Main,
        quote!(flavor = "current_thread", worker_threads = 2),
    );
    assert!(
        explicit.starts_with("`worker_threads` cannot be used with `flavor = \"current_thread\"`")
    );
    // Order does not matter: the check runs after every argument is read.
    let reversed = err(
        Kind::Main,
        quote!(worker_threads = 2, flavor = "current_thread"),
    );
    assert_eq!(reversed, explicit);
    let defaulted = err(Kind::Test, quote!(worker_threads = 2));
    assert!(defaulted.contains("`#[perf_runtime::test]` defaults to `flavor = \"current_thread\"`"));
    assert!(defaulted.ends_with("add `flavor = \"multi_thread\"`"));
}

#[test]
fn worker_threads_must_be_a_positive_integer_literal() {
    assert!(err(Kind::Main, quote!(worker_threads = 0))
        .starts_with("`worker_threads` must be at least 1"));
    for bad in [
        quote!("2"),
        quote!(THREADS),
        quote!(-1),
        quote!(2.0),
        quote!(99999999999999999999999),
    ] {
        let message = err(Kind::Main, quote!(worker_threads = #bad));
        assert!(
            message.starts_with("`worker_threads` expects an integer literal"),
            "{bad}: {message}"
        );
    }
}

#[test]
fn duplicates_are_rejected() {
    let message = err(
        Kind::Main,
        quote!(flavor = "multi_thread", flavor = "multi_thread"),
    );
    assert_eq!(message, "`flavor` is given twice; keep one");
    assert!(err(Kind::Main, quote!(crate = "a", crate = "b")).starts_with("`crate` is given twice"));
}

#[test]
fn arguments_need_values() {
    assert!(err(Kind::Main, quote!(flavor)).starts_with("`flavor` needs a value"));
    assert!(
        err(Kind::Main, quote!(worker_threads(2))).starts_with("`worker_threads` needs a value")
    );
}

#[test]
fn crate_must_be_a_path_in_a_string() {
    assert!(err(Kind::Main, quote!(crate = my_rt)).starts_with("`crate` expects the path"));
    assert!(err(Kind::Main, quote!(crate = "not a path")).starts_with("`crate` expects the path"));
}

#[test]
fn malformed_arguments_are_syntax_errors() {
    assert!(parse(
        Kind::Main,
        quote!(flavor = "multi_thread" worker_threads = 2)
    )
    .is_err());
    assert!(parse(Kind::Main, quote!(= 2)).is_err());
}

#[test]
fn start_paused_defaults_to_false_and_is_accepted_on_current_thread() {
    assert!(!ok(Kind::Test, quote!()).start_paused);
    assert!(ok(Kind::Test, quote!(start_paused = true)).start_paused);
    // `false` is harmless on any flavor.
    assert!(!ok(Kind::Main, quote!(start_paused = false)).start_paused);
}

#[test]
fn start_paused_is_refused_on_multi_thread_and_must_be_a_bool() {
    assert!(err(Kind::Main, quote!(start_paused = true))
        .starts_with("`start_paused = true` needs `flavor = \"current_thread\"`"));
    assert_eq!(
        err(Kind::Test, quote!(start_paused = 1)),
        "`start_paused` expects `true` or `false`"
    );
    assert!(err(
        Kind::Test,
        quote!(start_paused = true, start_paused = false)
    )
    .starts_with("`start_paused` is given twice"));
}
