//! `flags::declare!()`: one typed item per flag of `flags.toml`.

use std::path::Path;

use flags_model::{Catalog, Date, Diagnostic, Flag, FlagType, SourceFile, naming};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Ident, LitStr};

use crate::args::DeclareArgs;
use crate::errors::Errors;
use crate::load::{self, Location};

use code::Code;

mod accessors;
mod code;
mod docs;
mod native;
mod registry;
mod shape;
mod testing;
mod types;

/// Expands `declare!(...)` in the crate being compiled.
pub fn declare(input: TokenStream) -> TokenStream {
    match load::manifest_dir() {
        Ok(manifest_dir) => declare_in(&manifest_dir, input),
        Err(message) => syn::Error::new(Span::call_site(), message).into_compile_error(),
    }
}

/// Expands `declare!(...)` as in a crate whose manifest is in `manifest_dir`, without reading
/// `CARGO_MANIFEST_DIR`: for tools that expand the macro outside a build (the fuzzer).
#[doc(hidden)]
pub fn declare_in(manifest_dir: &Path, input: TokenStream) -> TokenStream {
    match syn::parse2::<DeclareArgs>(input) {
        Ok(args) => expand(&args, manifest_dir, Date::today()),
        Err(error) => error.into_compile_error(),
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
        name: code::text_of(&args.name),
        krate: code::text_of(&args.krate),
        catalog: &loaded.parsed.catalog,
        file: &loaded.file,
        location: &location,
        today,
        features: loaded
            .parsed
            .catalog
            .flags()
            .iter()
            .map(Generator::feature_type)
            .collect(),
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
    /// The generated type's name and the runtime crate's path, as code.
    name: String,
    krate: String,
    catalog: &'a Catalog,
    file: &'a SourceFile,
    location: &'a Location,
    today: Date,
    /// Each flag's marker type, if it is a bool flag ([`Generator::feature_type`]), made once.
    features: Vec<Option<Ident>>,
}

impl Generator<'_> {
    fn stub_type(&self) -> Ident {
        format_ident!("{}Stub", self.args.name)
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
            self.snapshot_type().to_string(),
        ];
        let features: Vec<(String, &str)> = self
            .catalog
            .flags()
            .iter()
            .zip(&self.features)
            .filter_map(|(flag, feature)| Some((feature.as_ref()?.to_string(), flag.key())))
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
}

/// What the flags generate, gathered by the type each item belongs to, written as text
/// ([`code`]).
#[derive(Default)]
struct Items {
    /// What the runtime is told of each flag.
    descriptors: Code,
    /// The accessors on `Flags`.
    accessors: Code,
    stub_methods: Code,
    snapshot_methods: Code,
    /// Variant enums and feature marker types.
    types: Code,
}

impl Generator<'_> {
    /// Every item, flag by flag; a flag in `left_out` (its generated names clash) gets only
    /// its descriptor, so that indexes stay those of `flags.toml`.
    fn generate(&self, left_out: &[String]) -> TokenStream {
        let mut items = Items::default();
        for (index, flag) in self.catalog.flags().iter().enumerate() {
            let generated = !left_out.iter().any(|key| key == flag.key());
            let compiled = generated.then(|| self.compile(flag, left_out)).flatten();
            self.descriptor(
                &mut items.descriptors,
                flag,
                compiled.as_ref().map_or(0, |c| c.environments),
            );
            if !generated {
                continue;
            }
            let shape = self.shape(index, flag);
            self.accessors(&mut items.accessors, flag, &shape, compiled.as_ref());
            self.stub_method(&mut items.stub_methods, index, flag, &shape);
            self.snapshot_method(&mut items.snapshot_methods, flag, &shape);
            if let FlagType::Variants(_) = flag.flag_type() {
                self.variant_enum(&mut items.types, flag);
            }
            self.feature_marker(&mut items.types, index, flag);
        }
        let flags = self.flags_type(
            items.accessors.into_tokens(),
            items.descriptors.into_tokens(),
        );
        let testing = self.testing_types(items.stub_methods.into_tokens());
        let snapshot = self.snapshot_type_items(items.snapshot_methods.into_tokens());
        let gate = self.gate_callback();
        let types = items.types.into_tokens();
        quote! {
            #flags
            #testing
            #snapshot
            #types
            #gate
        }
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
