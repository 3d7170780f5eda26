//! Functions read leniently: the body is kept as tokens, so a fn whose body does not parse
//! yet (while being typed in an editor) still expands, and its tokens and spans stay the
//! user's own.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, Signature, Token, Visibility, braced, token};

pub(crate) struct LenientFn {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) defaultness: Option<Token![default]>,
    pub(crate) sig: Signature,
    brace: token::Brace,
    inner_attrs: Vec<Attribute>,
    body: TokenStream,
}

impl Parse for LenientFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let defaultness = input.parse()?;
        let sig = input.parse()?;
        let content;
        let brace = braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let body = content.parse()?;
        Ok(Self {
            attrs,
            vis,
            defaultness,
            sig,
            brace,
            inner_attrs,
            body,
        })
    }
}

impl LenientFn {
    /// The fn as written, with `prelude` run first in its body.
    pub(crate) fn with_prelude(&self, prelude: TokenStream) -> TokenStream {
        let Self {
            attrs,
            vis,
            defaultness,
            sig,
            inner_attrs,
            body,
            ..
        } = self;
        let mut block = TokenStream::new();
        self.brace.surround(&mut block, |tokens| {
            quote!(#(#inner_attrs)* #prelude #body).to_tokens(tokens);
        });
        quote!(#(#attrs)* #vis #defaultness #sig #block)
    }
}

/// Reads an attribute's arguments and the fn it is on. On a mistake, returns what to emit
/// instead: the error beside the item, untouched, so the fn still exists and one mistake
/// yields one error.
pub(crate) fn attribute_on_fn<A: Parse>(
    attr: TokenStream,
    item: &TokenStream,
    misplaced: &str,
) -> Result<(A, LenientFn), TokenStream> {
    let args = syn::parse2::<A>(attr).map_err(|error| beside(error, item))?;
    let function = syn::parse2::<LenientFn>(item.clone())
        .map_err(|_| beside(syn::Error::new(item.span(), misplaced), item))?;
    Ok((args, function))
}

/// `error` emitted next to `item`, unchanged.
pub(crate) fn beside(error: syn::Error, item: &TokenStream) -> TokenStream {
    let error = error.into_compile_error();
    quote!(#error #item)
}
