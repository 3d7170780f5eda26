//! Procedural macros of the `flags` toolkit. Use them through the `flags` crate, which
//! documents them; each one here only hands its tokens to `flags-codegen`.
#![forbid(unsafe_code)]

use proc_macro::TokenStream;

#[proc_macro]
pub fn declare(input: TokenStream) -> TokenStream {
    flags_codegen::declare(input.into()).into()
}

#[proc_macro_attribute]
pub fn feature_gate(attr: TokenStream, item: TokenStream) -> TokenStream {
    flags_codegen::feature_gate(attr.into(), item.into()).into()
}

#[proc_macro_attribute]
pub fn stub(attr: TokenStream, item: TokenStream) -> TokenStream {
    flags_codegen::stub(attr.into(), item.into()).into()
}

#[proc_macro_derive(EvaluationContext, attributes(flags))]
pub fn evaluation_context(input: TokenStream) -> TokenStream {
    flags_codegen::evaluation_context(input.into()).into()
}

#[doc(hidden)]
#[proc_macro]
pub fn feature_gate_expand(input: TokenStream) -> TokenStream {
    flags_codegen::feature_gate_expand(input.into()).into()
}
