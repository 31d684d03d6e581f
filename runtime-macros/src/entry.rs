//! The two attributes' driver: check the item, parse the arguments, expand.
//!
//! On bad input the output is still an item close to what the user meant,
//! plus one spanned `compile_error!`: the user sees that one error rather
//! than a cascade (e.g. "`main` function is not allowed to be `async`"), and
//! IDEs keep resolving names in the body.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{parse_quote, FnArg, PatType};

use crate::args;
use crate::config::{Config, Kind};
use crate::expand::{expand, with_error};
use crate::item::ItemFn;

/// Expands `#[perf_runtime::main]` (`kind == Main`) or `#[perf_runtime::test]`.
pub(crate) fn entry(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let input: ItemFn = match syn::parse2(item.clone()) {
        Ok(input) => input,
        Err(error) => return with_error(item, &error),
    };

    if input.sig.asyncness.is_none() {
        // As written, the item is a valid sync fn: emit it unchanged.
        let error = syn::Error::new_spanned(
            input.sig.fn_token,
            "the `async` keyword is missing from the function declaration",
        );
        return with_error(item, &error);
    }

    if let Some(error) = signature_error(kind, &input) {
        // Expand without `#[test]`: the harness would reject the arguments
        // or the second test attribute again, in its own words. For `main`,
        // drop the arguments, or rustc adds "`main` function has wrong type".
        let input = match kind {
            Kind::Main => without_inputs(&input),
            Kind::Test => input,
        };
        let fallback = expand(kind, &input, &Config::default_for(kind), false);
        return with_error(fallback, &error);
    }

    match args::parse(kind, args) {
        Ok(config) => expand(kind, &input, &config, true),
        Err(error) => {
            let fallback = expand(kind, &input, &Config::default_for(kind), true);
            with_error(fallback, &error)
        }
    }
}

/// What the signature or attributes forbid, besides a missing `async`.
fn signature_error(kind: Kind, input: &ItemFn) -> Option<syn::Error> {
    let sig = &input.sig;
    match kind {
        // Only the program's entry point is fixed by the language; a helper
        // `#[perf_runtime::main] async fn run(config: Config)` is legitimate.
        Kind::Main if sig.ident == "main" && !sig.inputs.is_empty() => {
            Some(syn::Error::new_spanned(
                &sig.inputs,
                "the `main` function cannot take arguments; read them with `std::env::args()`",
            ))
        }
        Kind::Main => None,
        Kind::Test if !sig.inputs.is_empty() => Some(syn::Error::new_spanned(
            &sig.inputs,
            "test functions cannot take arguments: the test harness calls them with none",
        )),
        Kind::Test => input
            .attrs
            .iter()
            .find(|attr| is_test_attr(attr.path()))
            .map(|attr| {
                syn::Error::new_spanned(
                    attr,
                    "`#[perf_runtime::test]` already adds `#[test]`; remove this one",
                )
            }),
    }
}

/// `input` with its arguments turned into never-initialised locals, so that
/// the body still type-checks (no "cannot find value" cascade) in a function
/// that rustc accepts as `main`. Only for output that carries an error.
fn without_inputs(input: &ItemFn) -> ItemFn {
    let mut input = input.clone();
    let locals = input.sig.inputs.iter().filter_map(|arg| match arg {
        FnArg::Typed(PatType { pat, ty, .. }) => {
            Some(quote! { let #pat: #ty = ::core::unreachable!(); })
        }
        FnArg::Receiver(_) => None,
    });
    let body = &input.body;
    input.body = quote! { #(#locals)* #body };
    input.sig.inputs.clear();
    // The locals make the body unreachable; those warnings would only bury
    // the real error.
    input
        .attrs
        .push(parse_quote! { #[allow(unreachable_code, unused_variables)] });
    input
}

/// `#[test]`, or its full spelling `#[::core::prelude::v1::test]`.
fn is_test_attr(path: &syn::Path) -> bool {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    matches!(segments.as_slice(), ["test"] | [_, "prelude", _, "test"])
}
