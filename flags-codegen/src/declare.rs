//! `flags::declare!()`: one typed item per flag of `flags.toml`.

use std::path::Path;

use flags_model::{Catalog, Date, Diagnostic, Flag, FlagType, Setting, SourceFile, Value, naming};
use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Ident, LitStr};

use crate::args::DeclareArgs;
use crate::errors::Errors;
use crate::load::{self, Location};

/// Expands `declare!(...)` in the crate being compiled.
pub fn declare(input: TokenStream) -> TokenStream {
    let args = match syn::parse2::<DeclareArgs>(input) {
        Ok(args) => args,
        Err(error) => return error.into_compile_error(),
    };
    match load::manifest_dir() {
        Ok(manifest_dir) => expand(&args, &manifest_dir, Date::today()),
        Err(message) => syn::Error::new(Span::call_site(), message).into_compile_error(),
    }
}

/// Expands `declare!` for a crate whose manifest is in `manifest_dir`, on day `today`.
pub(crate) fn expand(args: &DeclareArgs, manifest_dir: &Path, today: Date) -> TokenStream {
    let span = args
        .path
        .as_ref()
        .map_or_else(Span::call_site, LitStr::span);
    let location = load::locate(
        manifest_dir,
        args.path.as_ref().map(LitStr::value).as_deref(),
    );
    let mut errors = Errors::default();
    let name = &args.name;
    let loaded = match load::load(&location) {
        Ok(loaded) => loaded,
        Err(message) => {
            errors.at(
                span,
                format!(
                    "{message}\n  = help: create it next to Cargo.toml, or pass its path relative to \
                     Cargo.toml: flags::declare!(\"../flags.toml\")"
                ),
            );
            let errors = errors.into_tokens();
            // A bare type keeps every `Flags::...` use from adding an error of its own.
            return quote! {
                #errors
                #[allow(dead_code)]
                pub struct #name;
            };
        }
    };
    for diagnostic in &loaded.parsed.diagnostics {
        errors.at(span, diagnostic.render(&loaded.file));
    }
    let generator = Generator {
        args,
        catalog: &loaded.parsed.catalog,
        file: &loaded.file,
        location: &location,
        today,
    };
    let clashing = generator.check_type_names(&mut errors, span);
    let items = generator.generate(&clashing);
    let errors = errors.into_tokens();
    quote! {
        #errors
        #items
    }
}

struct Generator<'a> {
    args: &'a DeclareArgs,
    catalog: &'a Catalog,
    file: &'a SourceFile,
    location: &'a Location,
    today: Date,
}

/// How one flag's type appears in the generated code.
struct Shape {
    rust_type: TokenStream,
    read: TokenStream,
    read_for: TokenStream,
    details: TokenStream,
    snapshot_read: TokenStream,
    stub_param: TokenStream,
    stub_value: TokenStream,
    each: TokenStream,
}

impl Generator<'_> {
    fn stub_type(&self) -> Ident {
        format_ident!("{}Stub", self.args.name)
    }

    fn each_type(&self) -> Ident {
        format_ident!("{}Each", self.args.name)
    }

    fn snapshot_type(&self) -> Ident {
        format_ident!("{}Snapshot", self.args.name)
    }

    /// The marker type of a bool flag, for extractors and layers: `ProductTasks103CommentsFeature`.
    fn feature_type(flag: &Flag) -> Option<Ident> {
        if *flag.flag_type() != FlagType::Bool {
            return None;
        }
        let name = flags_model::naming::type_name(flag.key()).ok()?;
        Some(format_ident!("{name}Feature"))
    }

    /// Generated enums must not clash with the other generated types. Returns the keys of
    /// the flags whose items are left out, so the clash is reported once.
    fn check_type_names(&self, errors: &mut Errors, span: Span) -> Vec<String> {
        let mut clashing = Vec::new();
        let taken = [
            self.args.name.to_string(),
            self.stub_type().to_string(),
            self.each_type().to_string(),
            self.snapshot_type().to_string(),
        ];
        let features: Vec<(String, &str)> = self
            .catalog
            .flags()
            .iter()
            .filter_map(|flag| Some((Self::feature_type(flag)?.to_string(), flag.key())))
            .collect();
        for flag in self.catalog.flags() {
            let marker_of = flag
                .type_name()
                .and_then(|t| features.iter().find(|(name, _)| name == t));
            if let (Some(type_name), Some((_, bool_flag))) = (flag.type_name(), marker_of) {
                let diagnostic = Diagnostic::new(
                    format!("flag `{}` would generate enum `{type_name}`, which clashes with `{type_name}`, the type generated for bool flag `{bool_flag}`", flag.key()),
                    flag.span(),
                )
                .with_help("rename one of the two flags");
                errors.at(span, diagnostic.render(self.file));
                clashing.push(flag.key().to_owned());
                continue;
            }
            if let Some(type_name) = flag.type_name().filter(|t| taken.iter().any(|n| n == t)) {
                let diagnostic = Diagnostic::new(
                    format!("flag `{}` would generate enum `{type_name}`, which clashes with the generated `{type_name}` type", flag.key()),
                    flag.span(),
                )
                .with_help("rename the flag, or name the generated type differently: flags::declare!(name = AppFlags)");
                errors.at(span, diagnostic.render(self.file));
                clashing.push(flag.key().to_owned());
            }
        }
        clashing
    }

    fn generate(&self, left_out: &[String]) -> TokenStream {
        let name = &self.args.name;
        let krate = &self.args.krate;
        let (stub, each, snapshot) = (self.stub_type(), self.each_type(), self.snapshot_type());
        let count = self.catalog.flags().len();
        let flags: Vec<_> = self.catalog.flags().iter().enumerate().collect();

        let mut accessors = Vec::new();
        let mut stub_methods = Vec::new();
        let mut each_methods = Vec::new();
        let mut snapshot_methods = Vec::new();
        let mut enums = Vec::new();
        let mut descriptors = Vec::new();
        for &(index, flag) in &flags {
            let default = static_value(krate, flag.default());
            let key = flag.key();
            descriptors.push(quote! {
                #krate::__private::FlagDescriptor { key: #key, default: #default }
            });
            if left_out.iter().any(|k| k == key) {
                continue;
            }
            let accessor = rust_ident(flag.accessor());
            let shape = self.shape(index, flag);
            let Shape {
                rust_type,
                read,
                read_for,
                details,
                snapshot_read,
                stub_param,
                stub_value,
                each: each_body,
            } = &shape;
            let docs = self.accessor_docs(flag);
            let deprecated = self.deprecation(flag);
            let accessor_for = format_ident!("{}_for", flag.accessor());
            let accessor_details = format_ident!("{}_details", flag.accessor());
            let for_doc = format!(
                " Flag `{key}` for `context`: its rules, segments and rollouts are evaluated for this context. \
                 [`{name}::{}`] evaluates for the context in scope instead (see `flags::with_context`).",
                flag.accessor()
            );
            let details_doc = format!(" Flag `{key}` for `context`, and why it has that value.");
            accessors.push(quote! {
                #(#[doc = #docs])*
                #deprecated
                #[inline]
                pub fn #accessor() -> #rust_type {
                    #read
                }

                #[doc = #for_doc]
                #deprecated
                #[inline]
                pub fn #accessor_for(context: &dyn #krate::EvaluationContext) -> #rust_type {
                    #read_for
                }

                #[doc = #details_doc]
                #deprecated
                pub fn #accessor_details(context: &dyn #krate::EvaluationContext) -> #krate::Evaluation<#rust_type> {
                    #details
                }
            });
            let stub_doc =
                format!(" Stubs flag `{key}` in the current thread until the guard is dropped.");
            stub_methods.push(quote! {
                #[doc = #stub_doc]
                #deprecated
                pub fn #accessor(mut self, #stub_param) -> Self {
                    self.guard.merge(#name::__registry().stub(#index, #stub_value));
                    self
                }
            });
            let each_doc = format!(
                " Every value of flag `{key}` to test (or the values given), each with a stub active \
                 for as long as it is held: `for (value, _stub) in {name}::each().{}(..) {{ .. }}`.",
                flag.accessor()
            );
            each_methods.push(quote! {
                #[doc = #each_doc]
                #deprecated
                #each_body
            });
            let snapshot_doc = format!(" Flag `{key}` in this snapshot.");
            snapshot_methods.push(quote! {
                #[doc = #snapshot_doc]
                #deprecated
                pub fn #accessor(&self) -> #rust_type {
                    #snapshot_read
                }
            });
            if let FlagType::Variants(_) = flag.flag_type() {
                enums.push(self.variant_enum(flag));
            }
            if let Some(feature) = Self::feature_type(flag) {
                let feature_doc = format!(
                    " Flag `{key}` as a type, for extractors and layers that take a feature: \
                     `flags::axum::Enabled<{feature}>`. Checks call [`{name}::{}`].",
                    flag.accessor()
                );
                enums.push(quote! {
                    #[doc = #feature_doc]
                    #[derive(Clone, Copy, Debug, Default)]
                    #[allow(dead_code)]
                    pub struct #feature;

                    #[allow(deprecated)]
                    impl #krate::Feature for #feature {
                        const KEY: &'static str = #key;

                        #[inline]
                        fn enabled() -> bool {
                            #name::#accessor()
                        }
                    }
                });
            }
        }

        let path_display = &self.location.display;
        let absolute = self.location.absolute.to_string_lossy();
        let source = self.file.text();
        let callback = format_ident!("__flags_gate_{}", name);
        let struct_doc = format!(
            " The {count} feature flags declared in `{path_display}`, one typed accessor each.\n\n \
             Generated by `flags::declare!`. Values come from, highest first: a test stub, a programmatic \
             override, an environment variable, the overrides file, `{path_display}`'s value for the \
             current environment, its `default`."
        );
        let stub_doc = format!(
            " Test stubs for [`{name}`], made by [`{name}::stub`]: every stub ends when this is dropped."
        );
        let each_doc = format!(" Runs a test once per value of a flag; made by [`{name}::each`].");
        let snapshot_doc = format!(
            " Every flag of [`{name}`] read from one configuration; made by [`{name}::snapshot`]."
        );

        quote! {
            // Rebuild whenever the file or the date source changes.
            const _: &[u8] = ::core::include_bytes!(#absolute);
            const _: ::core::option::Option<&str> = ::core::option_env!("SOURCE_DATE_EPOCH");

            #[doc = #struct_doc]
            #[derive(Clone, Copy, Debug, Default)]
            #[allow(dead_code)]
            pub struct #name;

            #[allow(dead_code)]
            impl #name {
                #(#accessors)*

                /// Starts the runtime now instead of at the first flag check, and reports
                /// how it went: an unknown environment is an error; bad overrides are listed
                /// in the report (they never stop the program).
                pub fn init() -> ::core::result::Result<#krate::Report, #krate::InitError> {
                    Self::__registry().runtime().init()
                }

                /// Re-reads environment variables and the overrides file, and swaps in the
                /// whole new configuration at once.
                pub fn reload() -> #krate::Report {
                    Self::__registry().runtime().reload()
                }

                /// The runtime: environment, listing and explanation of flags, programmatic
                /// overrides.
                pub fn runtime() -> &'static #krate::Runtime {
                    Self::__registry().runtime()
                }

                /// Test stubs: `let _stub = Flags::stub().some_flag(value);` sets the flag in
                /// the current thread until `_stub` is dropped. Other threads (other tests)
                /// never see it.
                pub fn stub() -> #stub {
                    #stub { guard: #krate::StubGuard::empty() }
                }

                /// Runs a test for every value of a flag:
                /// `for (value, _stub) in Flags::each().some_flag() { .. }`.
                pub fn each() -> #each {
                    #each { _private: () }
                }

                /// Every flag read from one configuration, whatever reloads happen meanwhile.
                pub fn snapshot() -> #snapshot {
                    #snapshot { inner: Self::__registry().runtime().snapshot() }
                }

                #[doc(hidden)]
                #[inline(always)]
                pub fn __registry() -> &'static #krate::__private::Registry<#count> {
                    static DESCRIPTOR: #krate::__private::Descriptor = #krate::__private::Descriptor {
                        path: #path_display,
                        source: #source,
                        flags: &[#(#descriptors),*],
                    };
                    static REGISTRY: #krate::__private::Registry<#count> =
                        #krate::__private::Registry::new(&DESCRIPTOR, &REGISTRY);
                    &REGISTRY
                }
            }

            #[doc = #stub_doc]
            #[must_use = "the stubs end when this is dropped; bind it: `let _stub = ...;`"]
            #[derive(Debug)]
            pub struct #stub {
                guard: #krate::StubGuard,
            }

            #[allow(dead_code, deprecated)]
            impl #stub {
                #(#stub_methods)*

                /// Takes these stubs out of the current thread into a scope of their own, to
                /// give to other threads or tasks: a whole test server with its own values
                /// (`flags::TaskScope::with_stubs`), while other tests run with theirs.
                pub fn into_scope(self) -> #krate::StubScope {
                    self.guard.into_scope()
                }
            }

            #[doc = #each_doc]
            #[derive(Clone, Copy, Debug)]
            pub struct #each {
                _private: (),
            }

            #[allow(dead_code, deprecated)]
            impl #each {
                #(#each_methods)*
            }

            #[doc = #snapshot_doc]
            #[derive(Clone, Debug)]
            pub struct #snapshot {
                inner: #krate::Snapshot,
            }

            #[allow(dead_code)]
            impl #snapshot {
                #(#snapshot_methods)*

                /// The environment this configuration is for.
                pub fn environment(&self) -> ::core::option::Option<&'static str> {
                    self.inner.environment()
                }

                /// Counts configurations: one more per reload or override change.
                pub fn generation(&self) -> u64 {
                    self.inner.generation()
                }
            }

            #(#enums)*

            #[doc(hidden)]
            #[allow(unused_macros)]
            macro_rules! #callback {
                ($($input:tt)*) => {
                    #krate::__private::feature_gate! { #absolute #path_display { #krate } $($input)* }
                };
            }
            #[doc(hidden)]
            #[allow(unused_imports)]
            pub(crate) use #callback;
        }
    }

    fn shape(&self, index: usize, flag: &Flag) -> Shape {
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
                    values.into_iter().map(|value| (value, #name::stub().#accessor(value)))
                }
            }
        };
        match flag.flag_type() {
            FlagType::Bool => Shape {
                rust_type: quote!(bool),
                read: quote!(Self::__registry().bool(#index)),
                read_for: quote!(Self::__registry().bool_for(#index, context)),
                details: quote!(Self::__registry().details::<bool>(#index, context)),
                snapshot_read: quote!(self.inner.bool(#index)),
                stub_param: quote!(value: bool),
                stub_value: quote!(#value::Bool(value)),
                each: quote! {
                    pub fn #accessor(self) -> impl ::core::iter::Iterator<Item = (bool, #stub)> {
                        [false, true].into_iter().map(|value| (value, #name::stub().#accessor(value)))
                    }
                },
            },
            FlagType::Int => Shape {
                rust_type: quote!(i64),
                read: quote!(Self::__registry().int(#index)),
                read_for: quote!(Self::__registry().int_for(#index, context)),
                details: quote!(Self::__registry().details::<i64>(#index, context)),
                snapshot_read: quote!(self.inner.int(#index)),
                stub_param: quote!(value: i64),
                stub_value: quote!(#value::Int(value)),
                each: given_values(quote!(i64)),
            },
            FlagType::Float => Shape {
                rust_type: quote!(f64),
                read: quote!(Self::__registry().float(#index)),
                read_for: quote!(Self::__registry().float_for(#index, context)),
                details: quote!(Self::__registry().details::<f64>(#index, context)),
                snapshot_read: quote!(self.inner.float(#index)),
                stub_param: quote!(value: f64),
                stub_value: quote!(#value::Float(value)),
                each: given_values(quote!(f64)),
            },
            FlagType::String => Shape {
                rust_type: arc.clone(),
                read: quote!(Self::__registry().string(#index)),
                read_for: quote!(Self::__registry().string_for(#index, context)),
                details: quote!(Self::__registry().details::<#arc>(#index, context)),
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
                    read_for: quote!(#enum_name::__from_index(Self::__registry().variant_for(#index, context))),
                    details: quote! {
                        let details = Self::__registry().details::<u32>(#index, context);
                        #krate::Evaluation { value: #enum_name::__from_index(details.value), reason: details.reason }
                    },
                    snapshot_read: quote!(#enum_name::__from_index(self.inner.variant(#index))),
                    stub_param: quote!(value: #enum_name),
                    stub_value: quote!(value.__value()),
                    each: quote! {
                        pub fn #accessor(self) -> impl ::core::iter::Iterator<Item = (#enum_name, #stub)> {
                            #enum_name::ALL.into_iter().map(|value| (value, #name::stub().#accessor(value)))
                        }
                    },
                }
            }
        }
    }

    fn variant_enum(&self, flag: &Flag) -> TokenStream {
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

                #[doc(hidden)]
                pub fn __value(self) -> #krate::__private::Value {
                    #krate::__private::variant(self as u32, self.as_str())
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

    fn accessor_docs(&self, flag: &Flag) -> Vec<String> {
        let mut docs = vec![format!(" {}", flag.description()), String::new()];
        docs.push(format!(
            " - Flag: `{}` ({}, line {})",
            flag.key(),
            self.location.display,
            flag.line()
        ));
        let rust_type = match flag.type_name() {
            Some(enum_name) => format!("[`{enum_name}`]"),
            None => format!("`{}`", flag.flag_type().rust_type()),
        };
        docs.push(format!(" - Type: {rust_type}"));
        if let Some(owner) = flag.owner() {
            docs.push(format!(" - Owner: {owner}"));
        }
        if let Some(ticket) = flag.ticket() {
            docs.push(format!(" - Ticket: {ticket}"));
        }
        if let Some(expires) = flag.expires() {
            let expired = if flag.is_expired(self.today) {
                " (expired: remove this flag)"
            } else {
                ""
            };
            docs.push(format!(" - Expires: {expires}{expired}"));
        }
        docs.push(format!(" - Default: `{}`", flag.default().to_toml()));
        for (index, environment) in self.catalog.environments().names().iter().enumerate() {
            match flag.environment_setting(index) {
                Some(Setting::Value(value)) => {
                    docs.push(format!(" - In `{environment}`: `{}`", value.to_toml()))
                }
                Some(Setting::Targeted(targeting)) => {
                    docs.push(format!(
                        " - In `{environment}`: targeted, {}",
                        targeting.summary()
                    ));
                }
                None => {}
            }
        }
        docs.push(format!(
            " - Override: environment variable `{}`",
            self.catalog.env_var(flag)
        ));
        docs
    }

    fn deprecation(&self, flag: &Flag) -> TokenStream {
        let Some(expires) = flag.expires().filter(|_| flag.is_expired(self.today)) else {
            return TokenStream::new();
        };
        let mut who = Vec::new();
        if let Some(owner) = flag.owner() {
            who.push(format!("owner: {owner}"));
        }
        if let Some(ticket) = flag.ticket() {
            who.push(format!("ticket: {ticket}"));
        }
        let who = if who.is_empty() {
            String::new()
        } else {
            format!(" ({})", who.join(", "))
        };
        let note = format!(
            "flag `{}` is past its `expires` date, {expires}{who}; remove it from {} and from the code, or move the date",
            flag.key(),
            self.location.display
        );
        quote!(#[deprecated(note = #note)])
    }
}

/// An identifier for a generated name, raw when it is a keyword (`r#type`).
pub(crate) fn rust_ident(name: &str) -> Ident {
    if naming::needs_raw(name) {
        Ident::new_raw(name, Span::call_site())
    } else {
        Ident::new(name, Span::call_site())
    }
}

fn static_value(krate: &syn::Path, value: &Value) -> TokenStream {
    let variant = quote!(#krate::__private::StaticValue);
    match value {
        Value::Bool(b) => quote!(#variant::Bool(#b)),
        Value::Int(i) => {
            let literal = Literal::i64_unsuffixed(*i);
            quote!(#variant::Int(#literal))
        }
        Value::Float(f) => {
            let literal = Literal::f64_unsuffixed(*f);
            quote!(#variant::Float(#literal))
        }
        Value::String(s) => {
            let text: &str = s;
            quote!(#variant::Str(#text))
        }
        Value::Variant { index, name } => {
            let name: &str = name;
            quote!(#variant::Variant(#index, #name))
        }
    }
}
