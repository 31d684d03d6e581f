//! Parsing `flavor = "..."`, `worker_threads = N`, `start_paused = bool` and
//! `crate = "..."`.
//!
//! Every error is spanned on the argument (or value) at fault and names the
//! accepted alternatives, so the user can fix it without opening the docs.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, LitStr, Meta, Token};

use crate::config::{Config, Flavor, Kind};

/// The argument names, in the order error messages list them.
const ARGS: [&str; 4] = ["flavor", "worker_threads", "start_paused", "crate"];

/// Parses and checks the tokens between the attribute's parentheses.
pub(crate) fn parse(kind: Kind, args: TokenStream) -> syn::Result<Config> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;

    let mut flavor: Option<Flavor> = None;
    let mut worker_threads: Option<(usize, Span)> = None;
    let mut crate_path: Option<syn::Path> = None;
    let mut start_paused: Option<bool> = None;
    // The whole `start_paused = ..`, to underline if the flavor forbids it.
    let mut start_paused_arg: Option<&Meta> = None;
    // The whole `worker_threads = N`, to underline if the flavor forbids it.
    let mut worker_threads_arg: Option<&Meta> = None;

    for meta in &metas {
        let name = meta_name(meta);
        let already_set = match name.as_str() {
            "flavor" => flavor.is_some(),
            "worker_threads" => worker_threads.is_some(),
            "crate" => crate_path.is_some(),
            "start_paused" => start_paused.is_some(),
            _ => {
                return Err(syn::Error::new_spanned(
                    meta.path(),
                    format!(
                        "unknown argument `{name}` to `{}`; expected one of {}",
                        kind.attr_name(),
                        list(&ARGS),
                    ),
                ));
            }
        };
        if already_set {
            return Err(syn::Error::new_spanned(
                meta.path(),
                format!("`{name}` is given twice; keep one"),
            ));
        }
        let Meta::NameValue(nv) = meta else {
            return Err(syn::Error::new_spanned(
                meta,
                format!("`{name}` needs a value, e.g. {}", example(&name)),
            ));
        };
        match name.as_str() {
            "flavor" => flavor = Some(parse_flavor(&nv.value)?),
            "worker_threads" => {
                worker_threads = Some(parse_worker_threads(&nv.value)?);
                worker_threads_arg = Some(meta);
            }
            "start_paused" => {
                start_paused = Some(parse_bool("start_paused", &nv.value)?);
                start_paused_arg = Some(meta);
            }
            _ => crate_path = Some(parse_crate_path(&nv.value)?),
        }
    }

    let flavor_given = flavor.is_some();
    let flavor = flavor.unwrap_or(kind.default_flavor());
    if let (Flavor::CurrentThread, Some(arg)) = (flavor, worker_threads_arg) {
        let msg = if flavor_given {
            "`worker_threads` cannot be used with `flavor = \"current_thread\"`: that runtime \
             runs every task on the thread that calls `block_on`; use `flavor = \"multi_thread\"` \
             or remove `worker_threads`"
                .to_owned()
        } else {
            format!(
                "`worker_threads` needs the multi-thread runtime, but `{}` defaults to \
                 `flavor = \"current_thread\"`; add `flavor = \"multi_thread\"`",
                kind.attr_name(),
            )
        };
        return Err(syn::Error::new_spanned(arg, msg));
    }

    if let (Flavor::MultiThread, Some(arg), Some(true)) = (flavor, start_paused_arg, start_paused) {
        return Err(syn::Error::new_spanned(
            arg,
            "`start_paused = true` needs `flavor = \"current_thread\"`: a paused clock is only \
             deterministic when one thread runs every task",
        ));
    }

    Ok(Config {
        flavor,
        worker_threads,
        start_paused: start_paused.unwrap_or(false),
        crate_path,
    })
}

/// The argument's name as written, e.g. `flavor` or `a::b`.
fn meta_name(meta: &Meta) -> String {
    let mut name = meta.path().to_token_stream().to_string();
    name.retain(|c| !c.is_whitespace());
    name
}

/// A correct use of the argument, for "needs a value" errors.
fn example(name: &str) -> &'static str {
    match name {
        "flavor" => "`flavor = \"multi_thread\"` or `flavor = \"current_thread\"`",
        "worker_threads" => "`worker_threads = 4`",
        "start_paused" => "`start_paused = true`",
        _ => "`crate = \"my_runtime\"`",
    }
}

/// "`a`, `b` or `c`"-style list; the values are shown as they are written.
fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("`{item}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

fn parse_flavor(value: &Expr) -> syn::Result<Flavor> {
    let expected = || {
        let names: Vec<String> = Flavor::NAMES.iter().map(|n| format!("\"{n}\"")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        list(&names)
    };
    let lit = string_literal(value).ok_or_else(|| {
        syn::Error::new_spanned(value, format!("`flavor` expects a string: {}", expected()))
    })?;
    Flavor::from_name(&lit.value()).ok_or_else(|| {
        syn::Error::new_spanned(
            lit,
            format!(
                "unknown runtime flavor `{}`; expected {}",
                lit.value(),
                expected()
            ),
        )
    })
}

fn parse_worker_threads(value: &Expr) -> syn::Result<(usize, Span)> {
    let not_integer = || {
        syn::Error::new_spanned(
            value,
            "`worker_threads` expects an integer literal, e.g. `worker_threads = 4` \
             (a macro cannot read a constant's value)",
        )
    };
    let Expr::Lit(ExprLit {
        lit: Lit::Int(int), ..
    }) = value
    else {
        return Err(not_integer());
    };
    let threads: usize = int.base10_parse().map_err(|_| not_integer())?;
    if threads == 0 {
        return Err(syn::Error::new_spanned(
            int,
            "`worker_threads` must be at least 1: a runtime with no worker would never run a task",
        ));
    }
    Ok((threads, int.span()))
}

fn parse_bool(name: &str, value: &Expr) -> syn::Result<bool> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Ok(b.value),
        _ => Err(syn::Error::new_spanned(
            value,
            format!("`{name}` expects `true` or `false`"),
        )),
    }
}

fn parse_crate_path(value: &Expr) -> syn::Result<syn::Path> {
    let bad = |span_of: &dyn ToTokens| {
        syn::Error::new_spanned(
            span_of,
            "`crate` expects the path of the perf_runtime crate as a string, \
             e.g. `crate = \"my_runtime\"`",
        )
    };
    let lit = string_literal(value).ok_or_else(|| bad(value))?;
    // `LitStr::parse` spans the path on the literal, so an unresolved path
    // is reported at the argument rather than at the whole attribute.
    lit.parse().map_err(|_| bad(lit))
}

fn string_literal(value: &Expr) -> Option<&LitStr> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Some(lit),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
