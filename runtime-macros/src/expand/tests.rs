//! The expansion's shape, as text. Whether it compiles and runs is checked
//! against the real runtime by the workspace's `macros_trybuild` and
//! `rt_macros` tests; these pin the parts that choose between variants.

use proc_macro2::TokenStream;
use quote::quote;

use crate::config::Kind;
use crate::entry::entry;

fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> String {
    entry(kind, args, item).to_string()
}

/// Token strings have spaces between all tokens; compare without them.
fn squash(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fn contains(haystack: &str, needle: &str) -> bool {
    squash(haystack).contains(&squash(needle))
}

#[test]
fn main_builds_a_multi_thread_runtime_and_blocks_on_the_body() {
    let out = expand(
        Kind::Main,
        quote!(),
        quote!(
            async fn main() {
                work().await;
            }
        ),
    );
    assert!(contains(&out, "fn main() {"), "{out}");
    assert!(!contains(&out, "async fn"), "{out}");
    assert!(contains(&out, "let body = async move {"), "{out}");
    assert!(contains(&out, "work().await;"), "{out}");
    assert!(
        contains(
            &out,
            "return ::perf_runtime::runtime::Builder::new_multi_thread()\
         .enable_all().build().expect(\"Failed building the Runtime\").block_on(body);"
        ),
        "{out}"
    );
    assert!(!contains(&out, "worker_threads"), "{out}");
    assert!(!contains(&out, "test"), "{out}");
    assert!(!contains(&out, "compile_error"), "{out}");
    // `main` is instantiated once: no type erasure.
    assert!(!contains(&out, "dyn"), "{out}");
}

#[test]
fn test_adds_the_test_attribute_and_defaults_to_current_thread() {
    let out = expand(
        Kind::Test,
        quote!(),
        quote!(
            #[ignore]
            pub async fn t() {}
        ),
    );
    assert!(
        contains(&out, "#[::core::prelude::v1::test] #[ignore] pub fn t() {"),
        "{out}"
    );
    assert!(contains(&out, "Builder::new_current_thread()"), "{out}");
    assert!(
        contains(
            &out,
            "::core::pin::Pin<&mut dyn ::core::future::Future<Output = ()>>"
        ),
        "{out}"
    );
}

#[test]
fn worker_threads_and_crate_are_passed_through() {
    let out = expand(
        Kind::Main,
        quote!(crate = "my_rt", worker_threads = 2),
        quote!(
            async fn main() {}
        ),
    );
    assert!(
        contains(
            &out,
            "my_rt::runtime::Builder::new_multi_thread().worker_threads(2usize).enable_all()"
        ),
        "{out}"
    );
}

#[test]
fn return_type_fixes_the_body_output_before_the_body() {
    let out = expand(
        Kind::Main,
        quote!(),
        quote!(
            async fn main() -> Result<(), E> {
                f()?;
                Ok(())
            }
        ),
    );
    assert!(contains(&out, "fn main() -> Result<(), E> {"), "{out}");
    assert!(
        contains(
            &out,
            "async move { if let ::core::option::Option::Some(output) = \
             ::core::option::Option::<Result<(), E>>::None { return output; } f()?; Ok(()) }"
        ),
        "{out}"
    );
}

#[test]
fn unnameable_outputs_are_not_annotated() {
    for ret in [
        quote!(-> impl Sized),
        quote!(-> Box<impl Sized>),
        quote!(-> !),
    ] {
        let out = expand(Kind::Test, quote!(), quote!(async fn t() #ret { loop {} }));
        assert!(!contains(&out, "Option::<"), "{out}");
        assert!(!contains(&out, "dyn"), "{out}");
    }
}

#[test]
fn inner_attributes_stay_on_the_function() {
    let out = expand(
        Kind::Main,
        quote!(),
        quote!(
            async fn main() {
                #![allow(unused)]
                let x = 1;
            }
        ),
    );
    assert!(
        contains(&out, "fn main() { #![allow(unused)] let body = async move"),
        "{out}"
    );
}

#[test]
fn missing_async_emits_the_item_unchanged_plus_the_error() {
    let item = quote!(
        #[inline]
        fn main() {
            1 + 1;
        }
    );
    let out = expand(Kind::Main, quote!(flavor = "nope"), item.clone());
    assert!(out.starts_with(&item.to_string()), "{out}");
    assert!(
        contains(
            &out,
            "the `async` keyword is missing from the function declaration"
        ),
        "{out}"
    );
    assert!(!contains(&out, "Builder"), "{out}");
    // One error: the bad flavor waits for the next compile.
    assert_eq!(out.matches("compile_error").count(), 1, "{out}");
}

#[test]
fn bad_arguments_still_expand_with_defaults() {
    let out = expand(
        Kind::Test,
        quote!(flavor = "nope"),
        quote!(
            async fn t() {}
        ),
    );
    assert!(contains(&out, "#[::core::prelude::v1::test]"), "{out}");
    assert!(contains(&out, "Builder::new_current_thread()"), "{out}");
    assert_eq!(out.matches("compile_error").count(), 1, "{out}");
}

#[test]
fn test_with_arguments_is_not_marked_as_a_test() {
    let out = expand(
        Kind::Test,
        quote!(),
        quote!(
            async fn t(n: u32) {}
        ),
    );
    assert!(!contains(&out, "prelude::v1::test"), "{out}");
    assert!(
        contains(&out, "test functions cannot take arguments"),
        "{out}"
    );
}

#[test]
fn main_with_arguments_keeps_the_names_but_not_the_parameters() {
    let out = expand(
        Kind::Main,
        quote!(),
        quote!(
            async fn main(args: Vec<String>) {}
        ),
    );
    assert!(contains(&out, "fn main() {"), "{out}");
    assert!(
        contains(&out, "let args: Vec<String> = ::core::unreachable!();"),
        "{out}"
    );
    assert!(
        contains(&out, "the `main` function cannot take arguments"),
        "{out}"
    );
}

#[test]
fn other_functions_under_main_keep_their_arguments() {
    let out = expand(
        Kind::Main,
        quote!(),
        quote!(
            async fn run(n: u32) -> u32 {
                n
            }
        ),
    );
    assert!(contains(&out, "fn run(n: u32) -> u32 {"), "{out}");
    assert!(!contains(&out, "compile_error"), "{out}");
}

#[test]
fn a_second_test_attribute_is_rejected() {
    for attr in [quote!(#[test]), quote!(#[::core::prelude::v1::test])] {
        let out = expand(Kind::Test, quote!(), quote!(#attr async fn t() {}));
        assert!(contains(&out, "already adds `#[test]`"), "{out}");
    }
    // Another crate's attribute named `test` is not ours to judge.
    let out = expand(
        Kind::Test,
        quote!(),
        quote!(
            #[other::test]
            async fn t() {}
        ),
    );
    assert!(!contains(&out, "compile_error"), "{out}");
}

#[test]
fn unparsable_items_come_back_with_the_parse_error() {
    let out = expand(
        Kind::Main,
        quote!(),
        quote!(
            struct S;
        ),
    );
    assert!(out.starts_with("struct S ;"), "{out}");
    assert!(contains(&out, "compile_error"), "{out}");
}
