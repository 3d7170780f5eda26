//! How each type of flag appears in the generated code: its Rust type, and how accessors,
//! snapshots, stubs and `each` read and set it.

use flags_model::{Flag, FlagType};
use proc_macro2::TokenStream;
use quote::quote;

use super::{Generator, rust_ident};

/// How one flag's type appears in the generated code.
pub(super) struct Shape {
    /// The accessors' return type.
    pub(super) rust_type: TokenStream,
    /// The plain accessor's body.
    pub(super) read: TokenStream,
    /// The `_for` accessor's body, given `context` and, for the types whose rules compile,
    /// the `compiled` rules.
    pub(super) read_for: TokenStream,
    /// Whether rules of this type compile (bools, integers, variants).
    pub(super) compiles: bool,
    /// The `_details` accessor's body, given `context`.
    pub(super) details: TokenStream,
    /// A snapshot's read.
    pub(super) snapshot_read: TokenStream,
    /// A stub setter's parameter, and the stub value made of it.
    pub(super) stub_param: TokenStream,
    pub(super) stub_value: TokenStream,
    /// The `each` method.
    pub(super) each: TokenStream,
}

impl Generator<'_> {
    pub(super) fn shape(&self, index: usize, flag: &Flag) -> Shape {
        let name = &self.args.name;
        let krate = &self.args.krate;
        let stub = self.stub_type();
        let accessor = rust_ident(flag.accessor());
        let value = quote!(#krate::__private::Value);
        let arc = quote!(::std::sync::Arc<str>);
        let given_values = |item: TokenStream| {
            quote! {
                pub fn #accessor<I: ::core::iter::IntoIterator<Item = #item>>(self, values: I)
                    -> impl ::core::iter::Iterator<Item = (#item, #stub)>
                {
                    #krate::__private::Each::new(#name::__registry(), #index, values.into_iter())
                }
            }
        };
        match flag.flag_type() {
            FlagType::Bool => Shape {
                rust_type: quote!(bool),
                read: quote!(Self::__registry().bool(#index)),
                read_for: quote!(Self::__registry().bool_for(#index, context, compiled)),
                compiles: true,
                details: quote!(Self::__registry().details::<bool>(#index, &context)),
                snapshot_read: quote!(self.inner.bool(#index)),
                stub_param: quote!(value: bool),
                stub_value: quote!(#value::Bool(value)),
                each: quote! {
                    pub fn #accessor(self) -> impl ::core::iter::Iterator<Item = (bool, #stub)> {
                        #krate::__private::Each::new(#name::__registry(), #index, [false, true].into_iter())
                    }
                },
            },
            FlagType::Int => Shape {
                rust_type: quote!(i64),
                read: quote!(Self::__registry().int(#index)),
                read_for: quote!(Self::__registry().int_for(#index, context, compiled)),
                compiles: true,
                details: quote!(Self::__registry().details::<i64>(#index, &context)),
                snapshot_read: quote!(self.inner.int(#index)),
                stub_param: quote!(value: i64),
                stub_value: quote!(#value::Int(value)),
                each: given_values(quote!(i64)),
            },
            FlagType::Float => Shape {
                rust_type: quote!(f64),
                read: quote!(Self::__registry().float(#index)),
                read_for: quote!(Self::__registry().float_for(#index, &context)),
                compiles: false,
                details: quote!(Self::__registry().details::<f64>(#index, &context)),
                snapshot_read: quote!(self.inner.float(#index)),
                stub_param: quote!(value: f64),
                stub_value: quote!(#value::Float(value)),
                each: given_values(quote!(f64)),
            },
            FlagType::String => Shape {
                rust_type: arc.clone(),
                read: quote!(Self::__registry().string(#index)),
                read_for: quote!(Self::__registry().string_for(#index, &context)),
                compiles: false,
                details: quote!(Self::__registry().details::<#arc>(#index, &context)),
                snapshot_read: quote!(self.inner.string(#index)),
                stub_param: quote!(value: impl ::core::convert::AsRef<str>),
                stub_value: quote!(#value::String(::std::sync::Arc::from(value.as_ref()))),
                each: quote! {
                    pub fn #accessor<I>(self, values: I) -> impl ::core::iter::Iterator<Item = (#arc, #stub)>
                    where
                        I: ::core::iter::IntoIterator,
                        I::Item: ::core::convert::AsRef<str>,
                    {
                        values.into_iter().map(|value| {
                            let value: #arc = ::std::sync::Arc::from(value.as_ref());
                            let stub = #name::stub().#accessor(&*value);
                            (value, stub)
                        })
                    }
                },
            },
            FlagType::Variants(_) => {
                let enum_name = rust_ident(flag.type_name().unwrap_or("Variant"));
                Shape {
                    rust_type: quote!(#enum_name),
                    read: quote!(#enum_name::__from_index(Self::__registry().variant(#index))),
                    read_for: quote!(#enum_name::__from_index(Self::__registry().variant_for(#index, context, compiled))),
                    compiles: true,
                    details: quote! {
                        let details = Self::__registry().details::<u32>(#index, &context);
                        #krate::Evaluation { value: #enum_name::__from_index(details.value), reason: details.reason }
                    },
                    snapshot_read: quote!(#enum_name::__from_index(self.inner.variant(#index))),
                    stub_param: quote!(value: #enum_name),
                    stub_value: quote!(#krate::__private::StubValue::stub_value(&value)),
                    each: quote! {
                        pub fn #accessor(self) -> impl ::core::iter::Iterator<Item = (#enum_name, #stub)> {
                            #krate::__private::Each::new(#name::__registry(), #index, #enum_name::ALL.into_iter())
                        }
                    },
                }
            }
        }
    }
}
