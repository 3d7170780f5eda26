//! What tests use: stub setters on `FlagsStub` and that type (`Flags::each` runs a test once
//! per value through a stub setter, so it needs nothing per flag), and the snapshot type.

use flags_model::Flag;
use proc_macro2::TokenStream;
use quote::quote;

use super::Generator;
use super::code::{Code, ident, put, string};
use super::shape::Shape;

impl Generator<'_> {
    /// `FlagsStub::x(value)`, written into `code`.
    pub(super) fn stub_method(&self, code: &mut Code, index: usize, flag: &Flag, shape: &Shape) {
        let name = &self.name;
        let key = flag.key();
        let accessor = ident(flag.accessor());
        let deprecated = self.deprecation(flag);
        let (stub_param, stub_value) = (&shape.stub_param, &shape.stub_value);
        let stub_doc =
            format!(" Stubs flag `{key}` in the current thread until the guard is dropped.");
        put!(
            code,
            "#[doc = {doc}] {deprecated} pub fn {accessor}(self, {stub_param}) -> Self {{ \
             {name}::__registry().stub_into(self, {index}usize, {stub_value}) }}\n",
            doc = string(&stub_doc),
        );
    }

    /// The `FlagsStub` type.
    pub(super) fn testing_types(&self, stub_methods: TokenStream) -> TokenStream {
        let (name, krate) = (&self.args.name, &self.args.krate);
        let stub = self.stub_type();
        let stub_doc = format!(
            " Test stubs for [`{name}`], made by [`{name}::stub`]: every stub ends when this is dropped."
        );
        quote! {
            #[doc = #stub_doc]
            #[must_use = "the stubs end when this is dropped; bind it: `let _stub = ...;`"]
            #[derive(Debug)]
            pub struct #stub {
                guard: #krate::StubGuard,
            }

            impl #krate::__private::FromStubGuard for #stub {
                fn from_stub_guard(guard: #krate::StubGuard) -> Self {
                    Self { guard }
                }

                fn stub_guard(&mut self) -> &mut #krate::StubGuard {
                    &mut self.guard
                }
            }

            #[allow(dead_code, deprecated)]
            impl #stub {
                #stub_methods

                /// Takes these stubs out of the current thread into a scope of their own, to
                /// give to other threads or tasks: a whole test server with its own values
                /// (`flags::TaskScope::with_stubs`), while other tests run with theirs.
                pub fn into_scope(self) -> #krate::StubScope {
                    self.guard.into_scope()
                }
            }
        }
    }

    /// `FlagsSnapshot::x()`, written into `code`.
    pub(super) fn snapshot_method(&self, code: &mut Code, flag: &Flag, shape: &Shape) {
        let key = flag.key();
        let accessor = ident(flag.accessor());
        let deprecated = self.deprecation(flag);
        let (rust_type, snapshot_read) = (&shape.rust_type, &shape.snapshot_read);
        let snapshot_doc = format!(" Flag `{key}` in this snapshot.");
        put!(
            code,
            "#[doc = {doc}] {deprecated} pub fn {accessor}(&self) -> {rust_type} {{ {snapshot_read} }}\n",
            doc = string(&snapshot_doc),
        );
    }

    /// The `FlagsSnapshot` type: every flag read from one configuration.
    pub(super) fn snapshot_type_items(&self, snapshot_methods: TokenStream) -> TokenStream {
        let (name, krate) = (&self.args.name, &self.args.krate);
        let snapshot = self.snapshot_type();
        let snapshot_doc = format!(
            " Every flag of [`{name}`] read from one configuration; made by [`{name}::snapshot`]."
        );
        quote! {
            #[doc = #snapshot_doc]
            #[derive(Clone, Debug)]
            pub struct #snapshot {
                inner: #krate::Snapshot,
            }

            #[allow(dead_code)]
            impl #snapshot {
                #snapshot_methods

                /// The environment this configuration is for.
                pub fn environment(&self) -> ::core::option::Option<&'static str> {
                    self.inner.environment()
                }

                /// Counts configurations: one more per reload or override change.
                pub fn generation(&self) -> u64 {
                    self.inner.generation()
                }
            }
        }
    }
}
