//! A flag's accessors on `Flags`: the plain one (the context in scope), `_for` (a given
//! context, running the flag's compiled rules while they are in force) and `_details` (the
//! value and why). The last two check at compile time that the context type has every
//! attribute the flag's rules read.

use flags_model::Flag;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::native::{self, Compiled};
use super::shape::Shape;
use super::{Generator, rust_ident};

impl Generator<'_> {
    pub(super) fn accessors(
        &self,
        flag: &Flag,
        shape: &Shape,
        compiled: Option<Compiled>,
    ) -> TokenStream {
        let (name, krate, key) = (&self.args.name, &self.args.krate, flag.key());
        let Shape {
            rust_type,
            read,
            read_for,
            details,
            compiles,
            ..
        } = shape;
        let docs = self.accessor_docs(flag);
        let deprecated = self.deprecation(flag);
        let accessor = rust_ident(flag.accessor());
        let accessor_for = format_ident!("{}_for", flag.accessor());
        let accessor_details = format_ident!("{}_details", flag.accessor());
        let for_doc = format!(
            " Flag `{key}` for `context`: its rules, segments and rollouts are evaluated for this context. \
             [`{name}::{}`] evaluates for the context in scope instead (see `flags::with_context`).",
            flag.accessor()
        );
        let details_doc = format!(" Flag `{key}` for `context`, and why it has that value.");
        let (check, check_fn) = match self.attribute_check(flag) {
            Some(check) => {
                let function = format_ident!("__attributes_of_{}", flag.accessor());
                (
                    quote!(Self::#function::<C>();),
                    quote! {
                        #[doc(hidden)]
                        #[inline(always)]
                        fn #function<C: #krate::EvaluationContext + ?::core::marker::Sized>() {
                            #check
                        }
                    },
                )
            }
            None => (TokenStream::new(), TokenStream::new()),
        };
        let (compiled_fn, compiled_code) = match compiled {
            Some(Compiled { function, code, .. }) => (quote!(Self::#function), code),
            None => (
                quote!(#krate::__private::native::nothing),
                TokenStream::new(),
            ),
        };
        let compiled_fn = compiles.then(|| quote!(let compiled = #compiled_fn;));
        quote! {
            #[doc = #docs]
            #deprecated
            #[inline]
            pub fn #accessor() -> #rust_type {
                #read
            }

            #[doc = #for_doc]
            #deprecated
            #[inline]
            pub fn #accessor_for<C: #krate::EvaluationContext + ?::core::marker::Sized>(
                context: &C,
            ) -> #rust_type {
                #check
                #compiled_fn
                #read_for
            }

            #[doc = #details_doc]
            #deprecated
            pub fn #accessor_details<C: #krate::EvaluationContext + ?::core::marker::Sized>(
                context: &C,
            ) -> #krate::Evaluation<#rust_type> {
                #check
                #details
            }

            #compiled_code
            #check_fn
        }
    }

    /// A `const` block that fails to compile, naming the attribute and the rule that reads it,
    /// when the context type declares its attributes (`#[derive(EvaluationContext)]`) and
    /// lacks one the flag's rules read.
    fn attribute_check(&self, flag: &Flag) -> Option<TokenStream> {
        let read = native::attributes_read(self.catalog, flag, &self.location.display);
        if read.is_empty() {
            return None;
        }
        let krate = &self.args.krate;
        let key = flag.key();
        let required = read.iter().map(|(name, at)| quote!((#name, #at)));
        Some(quote! {
            const {
                let problem = #krate::__private::native::require_attributes(
                    <C as #krate::EvaluationContext>::ATTRIBUTES,
                    #key,
                    &[#(#required),*],
                );
                if !problem.is_empty() {
                    ::core::panic!("{}", problem.as_str());
                }
            }
        })
    }
}
