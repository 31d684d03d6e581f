//! Code generation: the async fn becomes a sync fn that builds a runtime and
//! blocks on the old body.
//!
//! ```text
//! #[::core::prelude::v1::test]                  // test only
//! #(user attributes)*
//! vis fn name(inputs) -> Output {               // signature minus `async`
//!     #![user inner attributes]
//!     let body = async move {
//!         if let ::core::option::Option::Some(output) =
//!             ::core::option::Option::<Output>::None
//!         {
//!             return output;
//!         }
//!         /* user body, untouched */
//!     };
//!     // test only:
//!     let body = ::core::pin::pin!(body);
//!     let body: ::core::pin::Pin<&mut dyn ::core::future::Future<Output = Output>> = body;
//!     #[allow(clippy::expect_used, clippy::diverging_sub_expression, clippy::needless_return)]
//!     {
//!         return <crate>::runtime::Builder::new_multi_thread()  // or new_current_thread()
//!             .worker_threads(N)                                 // only when given
//!             .start_paused(true)                                // only when given
//!             .validation(<crate>::validation::Mode::Panic)     // test only
//!             .enable_all()
//!             .build()
//!             .expect("Failed building the Runtime")
//!             .block_on(body);                           // tests: __block_on_test(body),
//!                                                        // which then reports leaked tasks
//!     }
//! }
//! ```
//!
//! (`Output` is `()` without a return type. Both `Output` annotations are
//! left out when `Output` is `!` or names an `impl Trait`: neither can be
//! written in those positions.)
//!
//! Why each piece:
//! - `async move { body }`: `return` and `?` in the body leave the async
//!   block, as they left the async fn; arguments of a non-`main` function are
//!   moved in.
//! - The never-taken `return output` comes first so that rustc knows the
//!   block's output type before it checks the body (an async block cannot be
//!   annotated, and rustc does not take its output type from what the block
//!   is later passed to). `?` and `.into()` then infer their error type from
//!   the signature, and a wrong `return` or tail expression is one error at
//!   that expression, worded as it would be for the async fn.
//! - Tests pin the body and erase it to `dyn Future`, so all tests with the
//!   same output type share one `block_on` instantiation (tokio does the
//!   same to cut compile time); `main` is instantiated once anyway.
//! - `#[allow(...)]`: `expect` and the early `return` are the macro's, not the
//!   user's, so the user's clippy settings must not flag them; a body of
//!   type `!` would otherwise trip `diverging_sub_expression`.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{ReturnType, Type};

use crate::config::{Config, Kind};
use crate::item::ItemFn;

/// Emits the sync function. `as_test` is separate from `kind` so that an
/// erroneous test can be emitted without `#[test]` when that attribute would
/// itself raise a second error.
pub(crate) fn expand(kind: Kind, input: &ItemFn, config: &Config, as_test: bool) -> TokenStream {
    let header = if kind == Kind::Test && as_test {
        quote! { #[::core::prelude::v1::test] }
    } else {
        TokenStream::new()
    };

    let attrs = &input.attrs;
    let vis = &input.vis;
    let mut sig = input.sig.clone();
    sig.asyncness = None;
    let inner_attrs = &input.inner_attrs;

    let output = output_type(&input.sig.output);
    let fix_output = output.as_ref().map(|(ty, span)| {
        let ret = quote_spanned! {*span=> return output; };
        quote! {
            if let ::core::option::Option::Some(output) = ::core::option::Option::<#ty>::None {
                #ret
            }
        }
    });
    let user_body = &input.body;
    let mut async_block = TokenStream::new();
    input.brace.surround(&mut async_block, |tokens| {
        tokens.extend(quote! { #fix_output #user_body });
    });

    let erase = match (&output, kind) {
        (Some((ty, _)), Kind::Test) => Some(quote! {
            let body = ::core::pin::pin!(body);
            let body: ::core::pin::Pin<&mut dyn ::core::future::Future<Output = #ty>> = body;
        }),
        _ => None,
    };

    let crate_path = match &config.crate_path {
        Some(path) => path.to_token_stream(),
        None => quote! { ::perf_runtime },
    };
    let constructor = config.flavor.constructor();
    let worker_threads = config.worker_threads.map(|(threads, span)| {
        quote_spanned! {span=> .worker_threads(#threads) }
    });

    let start_paused = config.start_paused.then(|| quote! { .start_paused(true) });
    // A test fails on the first validation report (a lock-order inversion,
    // a deadlock...) rather than logging it; PERF_RUNTIME_VALIDATION still
    // overrides.
    let validation =
        (kind == Kind::Test).then(|| quote! { .validation(#crate_path::validation::Mode::Panic) });

    // A test also reports the tasks its runtime is left with, parked in
    // waits that can never complete (`Runtime::__block_on_test`).
    let block_on = if kind == Kind::Test {
        quote! { __block_on_test }
    } else {
        quote! { block_on }
    };

    let mut block = TokenStream::new();
    input.brace.surround(&mut block, |tokens| {
        tokens.extend(quote! {
            #(#inner_attrs)*
            let body = async move #async_block;
            #erase
            #[allow(clippy::expect_used, clippy::diverging_sub_expression, clippy::needless_return)]
            {
                return #crate_path::runtime::Builder::#constructor()
                    #worker_threads
                    #start_paused
                    #validation
                    .enable_all()
                    .build()
                    .expect("Failed building the Runtime")
                    .#block_on(body);
            }
        });
    });

    quote! {
        #header
        #(#attrs)*
        #vis #sig #block
    }
}

/// The body's output type and the span to blame for it, or `None` when it
/// cannot be written as a generic argument (`!`, or an `impl Trait`).
fn output_type(output: &ReturnType) -> Option<(TokenStream, Span)> {
    match output {
        ReturnType::Default => Some((quote! { () }, Span::call_site())),
        ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)) => None,
        ReturnType::Type(_, ty) => {
            let tokens = ty.to_token_stream();
            (!mentions_impl(tokens.clone())).then(|| (tokens, ty.span()))
        }
    }
}

fn mentions_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => mentions_impl(group.stream()),
        TokenTree::Punct(_) | TokenTree::Literal(_) => false,
    })
}

/// Appends `compile_error!(msg)`, spanned at the error, to `tokens`.
pub(crate) fn with_error(mut tokens: TokenStream, error: &syn::Error) -> TokenStream {
    tokens.extend(error.to_compile_error());
    tokens
}

#[cfg(test)]
mod tests;
