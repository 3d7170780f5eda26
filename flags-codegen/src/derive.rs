//! `#[derive(EvaluationContext)]`: an application's own type as an evaluation context.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitStr};

use crate::errors::Errors;

/// Implements `flags::EvaluationContext` for a struct with named fields: each field is an
/// attribute under its name (or `#[flags(rename = "planType")]`), `#[flags(key)]` marks the
/// key, `#[flags(skip)]` leaves a field out. Attributes are read in place, through
/// `flags::AsAttribute`: nothing is copied when a flag is evaluated.
pub fn evaluation_context(input: TokenStream) -> TokenStream {
    let input = match syn::parse2::<DeriveInput>(input) {
        Ok(input) => input,
        Err(error) => return error.into_compile_error(),
    };
    let mut errors = Errors::default();
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => fields.named.iter().collect::<Vec<_>>(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    if fields.is_empty() {
        errors.at(
            input.ident.span(),
            "#[derive(EvaluationContext)] needs a struct with named fields; for other types, implement flags::EvaluationContext",
        );
        return errors.into_tokens();
    }

    let mut key = None;
    let mut arms = Vec::new();
    let mut id_arms = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for field in fields {
        let Some(ident) = &field.ident else { continue };
        let mut name = ident.to_string();
        let mut skip = false;
        let mut is_key = false;
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("flags")) {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("key") {
                    is_key = true;
                } else if meta.path.is_ident("skip") {
                    skip = true;
                } else if meta.path.is_ident("rename") {
                    name = meta.value()?.parse::<LitStr>()?.value();
                } else {
                    return Err(meta.error(
                        "unknown #[flags] argument; expected `key`, `skip` or `rename = \"name\"`",
                    ));
                }
                Ok(())
            });
            if let Err(error) = parsed {
                errors.push(error);
            }
        }
        let read =
            quote_spanned!(field.ty.span()=> ::flags::AsAttribute::as_attribute(&self.#ident));
        if is_key {
            if key.is_some() {
                errors.at(ident.span(), "only one field can be the #[flags(key)]");
            }
            key = Some(read.clone());
        }
        if skip {
            continue;
        }
        if names.contains(&name) {
            errors.at(ident.span(), format!("two fields are the attribute `{name}`; rename one with #[flags(rename = \"...\")]"));
            continue;
        }
        arms.push(quote!(#name => #read,));
        let hash = flags_model::naming::attribute_hash(&name);
        id_arms.push(quote!(#hash if id.name() == #name => #read,));
        names.push(name);
    }
    if !errors.is_empty() {
        return errors.into_tokens();
    }

    let ident = &input.ident;
    let type_name = ident.to_string();
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    let key = key.unwrap_or_else(|| quote!(::core::option::Option::None));
    quote! {
        impl #impl_generics ::flags::EvaluationContext for #ident #type_generics #where_clause {
            const ATTRIBUTES: ::core::option::Option<&'static ::flags::ContextAttributes> =
                ::core::option::Option::Some(&::flags::ContextAttributes {
                    type_name: #type_name,
                    names: &[#(#names),*],
                });

            fn key(&self) -> ::core::option::Option<::flags::Attribute<'_>> {
                #key
            }

            fn attribute(&self, name: &str) -> ::core::option::Option<::flags::Attribute<'_>> {
                match name {
                    #(#arms)*
                    _ => ::core::option::Option::None,
                }
            }

            #[inline(always)]
            fn attribute_by_id(
                &self,
                id: ::flags::AttributeId<'_>,
            ) -> ::core::option::Option<::flags::Attribute<'_>> {
                // The name is compared too, so that two names of one hash are never confused;
                // for an id known at compile time the comparison folds away.
                match id.hash() {
                    #(#id_arms)*
                    _ => ::core::option::Option::None,
                }
            }
        }
    }
}
