//! `#[flags::stub(name = value, ..)]`: stubs for a whole test fn.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Path, parse_quote};

use crate::args::StubArgs;
use crate::item::LenientFn;

/// Puts `let guard = Flags::stub().a(..).b(..);` at the top of the fn, so the stubs last for
/// the whole body (also an async body, also when it panics). Each flag name and value keeps
/// its span, so a typo or a value of the wrong type is reported where it is written.
pub fn stub(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = match syn::parse2::<StubArgs>(attr) {
        Ok(args) => args,
        Err(error) => {
            let error = error.into_compile_error();
            return quote!(#error #item);
        }
    };
    let function = match syn::parse2::<LenientFn>(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let error = syn::Error::new(item.span(), "#[flags::stub] goes on a fn, usually a test")
                .into_compile_error();
            return quote!(#error #item);
        }
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
