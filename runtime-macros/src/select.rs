//! `select!`: parse the branches, then expand into one `poll_fn` that polls
//! the enabled branches from a random (or, with `biased;`, the first) start,
//! and a `match` that runs the chosen handler outside the polling closure.
//!
//! Input (from `perf_runtime::select!`, which prepends its `$crate`):
//!
//! ```text
//! ($crate) [biased;] { <pat> = <expr> [, if <expr>] => <handler>[,] }* [else => <expr>[,]]
//! ```
//!
//! Why the handler runs outside the closure: it may `.await`, `return`,
//! `break`, `continue` or use `?`, all of which must act on the caller's
//! function and loops, not on the closure. Why the futures live in an inner
//! block: they are dropped before the handler runs, so a handler may use what
//! a future borrowed ("borrowing across branches").

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{braced, Expr, Pat, Token};

/// At most this many branches: the disabled set is one `u64`.
const MAX_BRANCHES: usize = 64;

struct Branch {
    pat: Pat,
    fut: Expr,
    cond: Option<Expr>,
    handler: Expr,
}

struct Select {
    krate: TokenStream,
    biased: bool,
    branches: Vec<Branch>,
    else_branch: Option<Expr>,
    /// Where to point "no branches" at.
    whole: Span,
}

/// Parses the `($crate)` group every internal macro input starts with.
pub(crate) fn parse_crate(input: ParseStream<'_>) -> syn::Result<TokenStream> {
    let content;
    syn::parenthesized!(content in input);
    content.parse()
}

impl Parse for Select {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let krate = parse_crate(input)?;
        let whole = input.span();
        let mut biased = false;
        if input.peek(syn::Ident) && input.peek2(Token![;]) {
            let ident: syn::Ident = input.fork().parse()?;
            if ident == "biased" {
                input.parse::<syn::Ident>()?;
                input.parse::<Token![;]>()?;
                biased = true;
            }
        }
        let mut branches = Vec::new();
        let mut else_branch = None;
        while !input.is_empty() {
            if input.peek(Token![else]) {
                let else_tok: Token![else] = input.parse()?;
                input.parse::<Token![=>]>()?;
                let expr = parse_handler(input)?;
                else_branch = Some(expr);
                if !input.is_empty() {
                    let msg = if input.peek(Token![else]) {
                        "select! takes at most one `else` branch"
                    } else {
                        "the `else` branch must be the last branch of select!: move it after \
                         the others"
                    };
                    return Err(syn::Error::new(else_tok.span, msg));
                }
                break;
            }
            if input.peek(syn::Ident) && input.peek2(Token![;]) {
                let ident: syn::Ident = input.fork().parse()?;
                if ident == "biased" {
                    return Err(syn::Error::new(
                        ident.span(),
                        "`biased;` must come first in select!, before any branch",
                    ));
                }
            }
            let pat = Pat::parse_multi_with_leading_vert(input)?;
            if !input.peek(Token![=]) || input.peek(Token![=>]) {
                return Err(input.error(
                    "expected `=` after the branch's pattern: a select! branch is \
                     `<pattern> = <future> => <handler>`",
                ));
            }
            input.parse::<Token![=]>()?;
            let fut: Expr = input.parse()?;
            let mut cond = None;
            if input.peek(Token![,]) && input.peek2(Token![if]) {
                input.parse::<Token![,]>()?;
                input.parse::<Token![if]>()?;
                cond = Some(input.parse()?);
            }
            if !input.peek(Token![=>]) {
                return Err(input.error(
                    "expected `=>` after the branch's future (or its `, if` precondition): a \
                     select! branch is `<pattern> = <future> => <handler>`",
                ));
            }
            input.parse::<Token![=>]>()?;
            let handler = parse_handler(input)?;
            branches.push(Branch {
                pat,
                fut,
                cond,
                handler,
            });
        }
        Ok(Select {
            krate,
            biased,
            branches,
            else_branch,
            whole,
        })
    }
}

/// A handler is a block (then an optional comma) or an expression followed
/// by a comma unless it ends the input, as in a `match` arm.
fn parse_handler(input: ParseStream<'_>) -> syn::Result<Expr> {
    if input.peek(syn::token::Brace) {
        let content;
        let brace = braced!(content in input);
        let stmts = content.call(syn::Block::parse_within)?;
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
        }
        return Ok(Expr::Block(syn::ExprBlock {
            attrs: Vec::new(),
            label: None,
            block: syn::Block {
                brace_token: brace,
                stmts,
            },
        }));
    }
    let expr: Expr = input.parse()?;
    if !input.is_empty() {
        if !input.peek(Token![,]) {
            return Err(input.error(
                "expected `,` after a select! handler that is not a block: write `=> expr,` or \
                 `=> { ... }`",
            ));
        }
        input.parse::<Token![,]>()?;
    }
    Ok(expr)
}

/// Removes `ref` and `mut` from every binding, so the pattern can be tested
/// against a reference to the output (binding by reference) before the output
/// is moved into the real pattern.
struct CleanPattern;

impl VisitMut for CleanPattern {
    fn visit_pat_ident_mut(&mut self, i: &mut syn::PatIdent) {
        i.by_ref = None;
        i.mutability = None;
        syn::visit_mut::visit_pat_ident_mut(self, i);
    }
}

pub(crate) fn select(input: TokenStream) -> TokenStream {
    let select: Select = match syn::parse2(input) {
        Ok(s) => s,
        Err(e) => return e.to_compile_error(),
    };
    expand(select).unwrap_or_else(|e| e.to_compile_error())
}

fn expand(s: Select) -> syn::Result<TokenStream> {
    let krate = &s.krate;
    let def = Span::mixed_site();
    let support = quote_spanned!(def=> #krate::macros::support);

    if s.branches.is_empty() {
        return match s.else_branch {
            Some(e) => Ok(quote!({ #e })),
            None => Err(syn::Error::new(
                s.whole,
                "select! requires at least one branch: `<pattern> = <future> => <handler>`",
            )),
        };
    }
    if s.branches.len() > MAX_BRANCHES {
        return Err(syn::Error::new(
            s.branches[MAX_BRANCHES].pat.span(),
            format!("select! supports at most {MAX_BRANCHES} branches; split it or use a JoinSet"),
        ));
    }

    let n = s.branches.len();
    let n_u32 = n as u32;
    let out_enum = syn::Ident::new("__PerfSelectOut", def);
    let disabled = syn::Ident::new("__perf_disabled", def);
    let output = syn::Ident::new("__perf_output", def);
    let cx = syn::Ident::new("__perf_cx", def);
    let is_pending = syn::Ident::new("__perf_is_pending", def);
    let start = syn::Ident::new("__perf_start", def);
    let out = syn::Ident::new("__perf_out", def);

    let type_params: Vec<syn::Ident> = (0..n)
        .map(|i| format_ident!("T{}", i, span = def))
        .collect();
    let variants: Vec<syn::Ident> = (0..n)
        .map(|i| format_ident!("_{}", i, span = def))
        .collect();
    // Hygienic (mixed-site) names located at the user's expression, so a
    // type error about branch i points at branch i's future.
    let at_fut: Vec<Span> = s
        .branches
        .iter()
        .map(|b| def.located_at(b.fut.span()))
        .collect();
    // The one name with the user's own span (call-site hygiene): rustc
    // reports a "not a future" error at the argument of `into_future`, and
    // only a user span makes that point at the branch's expression.
    let inits: Vec<syn::Ident> = s
        .branches
        .iter()
        .enumerate()
        .map(|(i, b)| format_ident!("__perf_select_init{}", i, span = b.fut.span()))
        .collect();
    let futs: Vec<syn::Ident> = (0..n)
        .map(|i| format_ident!("__perf_fut{}", i, span = at_fut[i]))
        .collect();

    let preconditions = s.branches.iter().enumerate().map(|(i, b)| {
        let i = i as u32;
        b.cond.as_ref().map(|c| {
            quote_spanned! {def=>
                if !(#c) {
                    #disabled |= 1u64 << #i;
                }
            }
        })
    });

    let declare_futs = s.branches.iter().enumerate().map(|(i, b)| {
        let init = &inits[i];
        let fut = &futs[i];
        let expr = &b.fut;
        // Spanned at the user's expression so "is not a future" points there.
        let into = quote_spanned! {at_fut[i]=>
            #support::IntoFuture::into_future(#init)
        };
        quote_spanned! {at_fut[i]=>
            let #init = #expr;
            let mut #fut = #support::pin!(#into);
        }
    });

    let poll_arms = s.branches.iter().enumerate().map(|(i, b)| {
        let idx = i as u32;
        let fut = &futs[i];
        let variant = &variants[i];
        let poll = quote_spanned!(at_fut[i]=> #support::Future::poll(#fut.as_mut(), #cx));
        let mut clean = b.pat.clone();
        CleanPattern.visit_pat_mut(&mut clean);
        quote_spanned! {def=>
            // A branch whose output type is uninhabited never gets past
            // the poll.
            #[allow(unreachable_code)]
            #idx => {
                if #disabled & (1u64 << #idx) != 0 {
                    continue;
                }
                let #out = match #poll {
                    #support::Poll::Ready(v) => v,
                    #support::Poll::Pending => {
                        #is_pending = true;
                        continue;
                    }
                };
                // A completed branch is never polled again.
                #disabled |= 1u64 << #idx;
                // A refutable pattern that does not match disables the branch
                // and the others keep running.
                #[allow(unused_variables, unused_mut, unreachable_patterns)]
                match &#out {
                    #clean => {}
                    _ => continue,
                }
                return #support::Poll::Ready(#out_enum::#variant(#out));
            }
        }
    });

    let handler_arms = s.branches.iter().enumerate().map(|(i, b)| {
        let variant = &variants[i];
        let pat = &b.pat;
        let handler = &b.handler;
        quote_spanned! {def=>
            #out_enum::#variant(#pat) => #handler,
        }
    });

    let else_expr = match &s.else_branch {
        Some(e) => quote!(#e),
        None => quote_spanned! {def=>
            ::core::panic!("all branches are disabled and there is no else branch")
        },
    };

    let start_expr = if s.biased {
        quote_spanned!(def=> 0u32)
    } else {
        quote_spanned!(def=> #support::thread_rng_n(#n_u32))
    };

    Ok(quote_spanned! {def=> {
        #[allow(non_camel_case_types, clippy::enum_variant_names)]
        enum #out_enum<#(#type_params),*> {
            #(#variants(#type_params),)*
            Disabled,
        }

        let mut #disabled: u64 = 0;
        #(#preconditions)*

        #[allow(unused_mut)]
        let mut #output = {
            #(#declare_futs)*
            #support::poll_fn(|#cx: &mut #support::Context<'_>| {
                // An exhausted budget makes the budget-aware branches yield
                // anyway; polling the others would let the task run on.
                #support::ready!(#support::poll_budget_available(#cx));
                let mut #is_pending = false;
                let #start: u32 = #start_expr;
                for i in 0..#n_u32 {
                    #[allow(clippy::modulo_one)]
                    let branch = (#start + i) % #n_u32;
                    match branch {
                        #(#poll_arms)*
                        _ => ::core::unreachable!("select! branch index out of range"),
                    }
                }
                if #is_pending {
                    #support::Poll::Pending
                } else {
                    #support::Poll::Ready(#out_enum::Disabled)
                }
            })
            .await
        };

        #[allow(unreachable_patterns)]
        match #output {
            #(#handler_arms)*
            #out_enum::Disabled => #else_expr,
            _ => ::core::unreachable!("select! output did not match the pattern it was checked against"),
        }
    }})
}
