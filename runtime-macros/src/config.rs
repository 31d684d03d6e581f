//! What an attribute asks for, once its arguments are checked.

use proc_macro2::{Span, TokenStream};
use quote::quote;

/// Which attribute is expanding; it decides the default flavor and whether
/// the function becomes a `#[test]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Main,
    Test,
}

impl Kind {
    /// How the user wrote the attribute, for error messages.
    pub(crate) fn attr_name(self) -> &'static str {
        match self {
            Kind::Main => "#[perf_runtime::main]",
            Kind::Test => "#[perf_runtime::test]",
        }
    }

    /// As tokio: a program gets every core, a test gets one thread so that
    /// it is deterministic and many tests can run side by side.
    pub(crate) fn default_flavor(self) -> Flavor {
        match self {
            Kind::Main => Flavor::MultiThread,
            Kind::Test => Flavor::CurrentThread,
        }
    }
}

/// The runtime the body runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    MultiThread,
    CurrentThread,
}

impl Flavor {
    /// The spellings `flavor = "..."` accepts.
    pub(crate) const NAMES: [&'static str; 2] = ["multi_thread", "current_thread"];

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "multi_thread" => Some(Flavor::MultiThread),
            "current_thread" => Some(Flavor::CurrentThread),
            _ => None,
        }
    }

    /// The `Builder` constructor for this flavor.
    pub(crate) fn constructor(self) -> TokenStream {
        match self {
            Flavor::MultiThread => quote!(new_multi_thread),
            Flavor::CurrentThread => quote!(new_current_thread),
        }
    }
}

/// A checked set of arguments. (No `Debug`: `syn::Path` has none without
/// syn's `extra-traits` feature.)
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) flavor: Flavor,
    /// `worker_threads = N`, N ≥ 1, only with [`Flavor::MultiThread`]; the
    /// span is the literal's, so a type error in the expansion points at it.
    pub(crate) worker_threads: Option<(usize, Span)>,
    /// `start_paused = true`: the clock starts paused (current_thread only).
    pub(crate) start_paused: bool,
    /// `crate = "path"`; `::perf_runtime` when absent.
    pub(crate) crate_path: Option<syn::Path>,
}

impl Config {
    /// What a bare attribute means.
    pub(crate) fn default_for(kind: Kind) -> Self {
        Self {
            flavor: kind.default_flavor(),
            worker_threads: None,
            start_paused: false,
            crate_path: None,
        }
    }
}
