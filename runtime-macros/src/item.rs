//! The annotated function, parsed only as far as the macros need.
//!
//! The body is kept as raw tokens instead of being parsed into statements:
//! the macros never look inside it, a body with a syntax error still expands
//! (so rustc, not the macro, reports the error at its real place, and IDEs
//! keep completing inside it), and expansion costs no statement parsing.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::{braced, token, Attribute, Signature, Visibility};

/// `#[attrs] vis sig { #![inner_attrs] body }`.
#[derive(Clone)]
pub(crate) struct ItemFn {
    /// Outer attributes other than the macro's own (rustc has removed it).
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    /// The braces around the body, kept for their spans.
    pub(crate) brace: token::Brace,
    /// `#![...]` at the top of the body: they belong to the function, so the
    /// expansion keeps them there rather than inside the async block.
    pub(crate) inner_attrs: Vec<Attribute>,
    /// The rest of the body, untouched.
    pub(crate) body: TokenStream,
}

impl ItemFn {
    /// The body as written, with its original braces.
    pub(crate) fn body_block(&self) -> TokenStream {
        let mut block = TokenStream::new();
        self.brace.surround(&mut block, |tokens| {
            for attr in &self.inner_attrs {
                attr.to_tokens(tokens);
            }
            tokens.extend(self.body.clone());
        });
        block
    }
}

impl Parse for ItemFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let content;
        let brace = braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let body = content.parse()?;
        Ok(Self {
            attrs,
            vis,
            sig,
            brace,
            inner_attrs,
            body,
        })
    }
}

impl ToTokens for ItemFn {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        for attr in &self.attrs {
            attr.to_tokens(tokens);
        }
        self.vis.to_tokens(tokens);
        self.sig.to_tokens(tokens);
        tokens.extend(self.body_block());
    }
}
