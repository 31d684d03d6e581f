//! `join!` and `try_join!`: poll every future on the caller's task until all
//! complete (or, for `try_join!`, until one fails).
//!
//! Input (from `perf_runtime::join!`/`try_join!`, which prepend `$crate`):
//! `($crate) [biased;] expr, expr, ...`.
//!
//! Each future is pinned on the stack inside an `Option`, and set to `None`
//! (dropped in place) as soon as it completes, so what it holds is released
//! at once, not when the whole join ends. Without `biased;`, each poll starts
//! one future further along, so a future that spends the whole cooperative
//! budget cannot keep the ones after it from running.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Token};

struct Join {
    krate: TokenStream,
    biased: bool,
    futures: Vec<Expr>,
}

impl Parse for Join {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let krate = crate::select::parse_crate(input)?;
        let mut biased = false;
        if input.peek(syn::Ident) && input.peek2(Token![;]) {
            let ident: syn::Ident = input.fork().parse()?;
            if ident == "biased" {
                input.parse::<syn::Ident>()?;
                input.parse::<Token![;]>()?;
                biased = true;
            }
        }
        let futures = Punctuated::<Expr, Token![,]>::parse_terminated(input)?;
        Ok(Join {
            krate,
            biased,
            futures: futures.into_iter().collect(),
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Join,
    TryJoin,
}

pub(crate) fn join(kind: Kind, input: TokenStream) -> TokenStream {
    match syn::parse2::<Join>(input) {
        Ok(j) => expand(kind, j),
        Err(e) => e.to_compile_error(),
    }
}

fn expand(kind: Kind, j: Join) -> TokenStream {
    let def = Span::mixed_site();
    let krate = &j.krate;
    let support = quote_spanned!(def=> #krate::macros::support);
    let n = j.futures.len();
    if n == 0 {
        return match kind {
            Kind::Join => quote_spanned!(def=> async {}.await),
            Kind::TryJoin => quote_spanned!(def=> async { #support::Ok(()) }.await),
        };
    }
    let n_u32 = n as u32;
    // Hygienic (mixed-site) names located at the user's expression, so a
    // type error about future i points at future i.
    let at: Vec<Span> = j.futures.iter().map(|e| def.located_at(e.span())).collect();
    let futs: Vec<syn::Ident> = (0..n)
        .map(|i| format_ident!("__perf_fut{}", i, span = at[i]))
        .collect();
    let outs: Vec<syn::Ident> = (0..n)
        .map(|i| format_ident!("__perf_out{}", i, span = at[i]))
        .collect();

    let declare = j.futures.iter().enumerate().map(|(i, e)| {
        let (fut, out, sp) = (&futs[i], &outs[i], at[i]);
        let into = quote_spanned! {sp=>
            #support::IntoFuture::into_future(#e)
        };
        quote_spanned! {sp=>
            let mut #fut = #support::pin!(#support::Some(#into));
            let mut #out = #support::None;
        }
    });

    let arms = (0..n).map(|i| {
        let idx = i as u32;
        let fut = &futs[i];
        let out = &outs[i];
        let sp = at[i];
        let store = match kind {
            Kind::Join => quote_spanned!(sp=> #out = #support::Some(v);),
            Kind::TryJoin => quote_spanned! {sp=>
                match v {
                    #support::Ok(v) => #out = #support::Some(v),
                    #support::Err(e) => return #support::Poll::Ready(#support::Err(e)),
                }
            },
        };
        quote_spanned! {sp=>
            #idx => {
                if let #support::Some(f) = #fut.as_mut().as_pin_mut() {
                    match #support::Future::poll(f, cx) {
                        #support::Poll::Ready(v) => {
                            // Drop the finished future now, not at the end.
                            #fut.set(#support::None);
                            #store
                        }
                        #support::Poll::Pending => pending = true,
                    }
                }
            }
        }
    });

    let take = outs.iter().map(|out| {
        quote_spanned! {def=>
            #out.take().expect("join!: a completed future's output is taken once")
        }
    });
    let ready = match kind {
        Kind::Join => quote_spanned!(def=> #support::Poll::Ready((#(#take,)*))),
        Kind::TryJoin => quote_spanned!(def=> #support::Poll::Ready(#support::Ok((#(#take,)*)))),
    };
    let start = if j.biased {
        quote_spanned!(def=> 0u32)
    } else {
        quote_spanned! {def=> {
            let s = next_start;
            next_start = (next_start + 1) % #n_u32;
            s
        }}
    };

    quote_spanned! {def=> {
        #(#declare)*
        #[allow(unused_mut, unused_variables)]
        let mut next_start: u32 = 0;
        #support::poll_fn(|cx: &mut #support::Context<'_>| {
            let mut pending = false;
            #[allow(clippy::modulo_one)]
            let start: u32 = #start;
            for i in 0..#n_u32 {
                #[allow(clippy::modulo_one)]
                let index = (start + i) % #n_u32;
                match index {
                    #(#arms)*
                    _ => ::core::unreachable!("join! future index out of range"),
                }
            }
            if pending {
                #support::Poll::Pending
            } else {
                #ready
            }
        })
        .await
    }}
}
