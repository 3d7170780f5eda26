//! The types a flag generates besides its accessors: the enum of a variant flag, and the
//! marker type of a bool flag for layers and extractors.

use flags_model::{Flag, Value};
use proc_macro2::TokenStream;
use quote::quote;
use syn::Ident;

use super::{Generator, rust_ident};

impl Generator<'_> {
    /// The enum of a variant flag: `CheckoutFlow::{Legacy, OnePage, Express}`.
    pub(super) fn variant_enum(&self, flag: &Flag) -> TokenStream {
        let krate = &self.args.krate;
        let variants = flag.flag_type().variants().unwrap_or_default();
        let enum_name = rust_ident(flag.type_name().unwrap_or("Variant"));
        let idents: Vec<Ident> = variants.iter().map(|v| rust_ident(v.ident())).collect();
        let names: Vec<&str> = variants.iter().map(|v| v.name()).collect();
        let indexes: Vec<u32> = (0..variants.len() as u32).collect();
        let count = variants.len();
        let default_index = match flag.default() {
            Value::Variant { index, .. } => *index as usize,
            _ => 0,
        };
        let default = &idents[default_index.min(idents.len().saturating_sub(1))];
        let key = flag.key();
        let doc = format!(" The values of flag `{key}`: {}", flag.description());
        let variant_docs = names.iter().enumerate().map(|(i, name)| {
            if i == default_index {
                format!(" `{name}` (the default)")
            } else {
                format!(" `{name}`")
            }
        });
        quote! {
            #[doc = #doc]
            #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
            #[allow(dead_code)]
            pub enum #enum_name {
                #(#[doc = #variant_docs] #idents,)*
            }

            #[allow(dead_code)]
            impl #enum_name {
                /// Every variant, in `flags.toml` order.
                pub const ALL: [Self; #count] = [#(Self::#idents),*];

                /// The variant's name in `flags.toml`.
                pub const fn as_str(self) -> &'static str {
                    match self {
                        #(Self::#idents => #names,)*
                    }
                }

                #[doc(hidden)]
                pub const fn __from_index(index: u32) -> Self {
                    match index {
                        #(#indexes => Self::#idents,)*
                        _ => Self::#default,
                    }
                }

            }

            impl #krate::__private::StubValue for #enum_name {
                fn stub_value(&self) -> #krate::__private::Value {
                    #krate::__private::variant(*self as u32, self.as_str())
                }
            }

            impl ::core::default::Default for #enum_name {
                /// The flag's `default` in `flags.toml`.
                fn default() -> Self {
                    Self::#default
                }
            }

            impl ::core::fmt::Display for #enum_name {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    f.write_str(self.as_str())
                }
            }

            impl ::core::str::FromStr for #enum_name {
                type Err = #krate::UnknownVariant;

                fn from_str(text: &str) -> ::core::result::Result<Self, Self::Err> {
                    match text {
                        #(#names => ::core::result::Result::Ok(Self::#idents),)*
                        _ => ::core::result::Result::Err(#krate::UnknownVariant::new(#key, text, &[#(#names),*])),
                    }
                }
            }
        }
    }

    /// The marker type of a bool flag (`ProductTasks103CommentsFeature`), implementing
    /// `flags::Feature`: an alias of the runtime's one generic marker, so that a flag adds
    /// no type and no impl.
    pub(super) fn feature_marker(&self, index: usize, flag: &Flag) -> Option<TokenStream> {
        let feature = Self::feature_type(flag)?;
        let (name, krate, key) = (&self.args.name, &self.args.krate, flag.key());
        let feature_doc = format!(
            " Flag `{key}` as a type, for extractors and layers that take a feature: \
             `flags::axum::Enabled<{feature}>`. Checks call [`{name}::{}`].",
            flag.accessor()
        );
        Some(quote! {
            #[doc = #feature_doc]
            #[allow(dead_code)]
            pub type #feature = #krate::__private::FeatureOf<#name, #index>;
        })
    }
}
