//! `#[flags::stub(name = value, ..)]`: stubs for a whole test fn.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{Ident, Path, parse_quote};

use crate::args::StubArgs;
use crate::item::attribute_on_fn;

/// Puts `let guard = Flags::stub().a(..).b(..);` at the top of the fn, so the stubs last for
/// the whole body (also an async body, also when it panics). Each flag name and value keeps
/// its span, so a typo or a value of the wrong type is reported where it is written.
pub fn stub(attr: TokenStream, item: TokenStream) -> TokenStream {
    let (args, function) = match attribute_on_fn::<StubArgs>(
        attr,
        &item,
        "#[flags::stub] goes on a fn, usually a test",
    ) {
        Ok(parsed) => parsed,
        Err(tokens) => return tokens,
    };
    let flags: Path = args.flags.unwrap_or_else(|| parse_quote!(crate::Flags));
    let calls = args
        .stubs
        .iter()
        .map(|(name, value)| quote_spanned!(name.span()=> .#name(#value)));
    let guard = Ident::new("__flags_stubs", Span::mixed_site());
    function.with_prelude(quote! {
        let #guard = #flags::stub() #(#calls)*;
    })
}
