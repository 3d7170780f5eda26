//! Expansions checked as data, without a compiler: the output is parsed back with syn and its
//! items inspected.

use std::path::Path;

use flags_model::Date;
use proc_macro2::TokenStream;
use quote::quote;
use syn::{ImplItem, Item};

use crate::args::DeclareArgs;

const FLAGS: &str = r#"
[environments]
names = ["development", "production"]
default = "development"

[flags.new_feature_enabled]
description = "Redesigned checkout page"
owner = "payments"
ticket = "PAY-812"
expires = 2027-03-31
default = false
development = true

[flags.checkout_flow]
description = "Which checkout"
variants = ["legacy", "one_page"]
default = "one_page"

[flags.type]
description = "A keyword as a name"
default = 1
"#;

fn project(flags: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("flags.toml"), flags).expect("write flags.toml");
    dir
}

fn declare(dir: &Path, input: TokenStream, today: Date) -> syn::File {
    let args: DeclareArgs = syn::parse2(input).expect("arguments");
    let output = crate::declare::expand(&args, dir, today);
    syn::parse2(output).expect("the expansion parses as items")
}

fn day(year: u16, month: u8, day: u8) -> Date {
    Date { year, month, day }
}

fn compile_errors(tokens: &TokenStream) -> Vec<String> {
    let text = tokens.to_string();
    text.match_indices("compile_error")
        .map(|(at, _)| {
            let rest = &text[at..];
            let start = rest.find('"').map_or(0, |i| i + 1);
            let end = rest[start..].find("\" }").map_or(rest.len(), |i| start + i);
            rest[start..end].to_owned()
        })
        .collect()
}

fn flags_impl<'a>(file: &'a syn::File, name: &str) -> Vec<&'a syn::ImplItemFn> {
    file.items
        .iter()
        .filter_map(|item| match item {
            Item::Impl(item)
                if item.trait_.is_none() && {
                    let self_ty = &item.self_ty;
                    quote!(#self_ty).to_string() == name
                } =>
            {
                Some(item)
            }
            _ => None,
        })
        .flat_map(|item| &item.items)
        .filter_map(|item| match item {
            ImplItem::Fn(function) => Some(function),
            _ => None,
        })
        .collect()
}

fn is_deprecated(function: &syn::ImplItemFn) -> bool {
    function
        .attrs
        .iter()
        .any(|attr| attr.path().is_ident("deprecated"))
}

#[test]
fn declare_generates_one_typed_accessor_per_flag() {
    let dir = project(FLAGS);
    let file = declare(dir.path(), quote!(), day(2026, 1, 1));
    let accessors: Vec<String> = flags_impl(&file, "Flags")
        .iter()
        .map(|f| {
            format!("{} -> {}", f.sig.ident, {
                let output = &f.sig.output;
                quote!(#output).to_string()
            })
        })
        .collect();
    assert_eq!(
        &accessors[..9],
        [
            "new_feature_enabled -> -> bool",
            "new_feature_enabled_for -> -> bool",
            "new_feature_enabled_details -> -> :: flags :: Evaluation < bool >",
            "checkout_flow -> -> CheckoutFlow",
            "checkout_flow_for -> -> CheckoutFlow",
            "checkout_flow_details -> -> :: flags :: Evaluation < CheckoutFlow >",
            "r#type -> -> i64",
            "type_for -> -> i64",
            "type_details -> -> :: flags :: Evaluation < i64 >",
        ]
    );
    let enums: Vec<String> = file
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Enum(e) => Some(format!(
                "{}: {}",
                e.ident,
                e.variants
                    .iter()
                    .map(|v| v.ident.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            )),
            _ => None,
        })
        .collect();
    assert_eq!(enums, ["CheckoutFlow: Legacy,OnePage"]);
    let structs: Vec<String> = file
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Struct(s) => Some(s.ident.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(structs, ["Flags", "FlagsStub", "FlagsSnapshot"]);
    let text = quote!(#file).to_string();
    assert!(
        text.contains("include_bytes !"),
        "the file is a dependency of the build"
    );
    assert!(
        text.contains("macro_rules ! __flags_local_gate_Flags"),
        "the gate callback is generated"
    );
    assert!(
        text.contains(
            "pub type NewFeatureEnabledFeature = :: flags :: __private :: FeatureOf < Flags , 0usize > ;"
        ),
        "bool flags get a marker type, of their index: {text}"
    );
    assert!(
        text.contains("const FEATURES : & 'static [& 'static str] = & [\"new_feature_enabled\" ,"),
        "the marker finds its key by the flag's index: {text}"
    );
}

#[test]
fn accessor_docs_carry_the_declaration() {
    let dir = project(FLAGS);
    let file = declare(dir.path(), quote!(), day(2026, 1, 1));
    let accessor = flags_impl(&file, "Flags")
        .into_iter()
        .next()
        .expect("an accessor");
    let docs: Vec<String> = accessor
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .map(|attr| match &attr.meta {
            syn::Meta::NameValue(nv) => {
                let value = &nv.value;
                quote!(#value).to_string()
            }
            _ => String::new(),
        })
        .collect();
    let docs = docs.join("\n");
    for expected in [
        "Redesigned checkout page",
        "Owner: payments",
        "Ticket: PAY-812",
        "Expires: 2027-03-31",
        "Default: `false`",
        "In `development`: `true`",
        "FLAGS_NEW_FEATURE_ENABLED",
    ] {
        assert!(
            docs.contains(expected),
            "{expected:?} missing from:\n{docs}"
        );
    }
}

#[test]
fn only_flags_past_their_date_are_deprecated() {
    let dir = project(FLAGS);
    let on_the_day = declare(dir.path(), quote!(), day(2027, 3, 31));
    assert!(
        !flags_impl(&on_the_day, "Flags")
            .iter()
            .any(|f| is_deprecated(f))
    );
    let the_day_after = declare(dir.path(), quote!(), day(2027, 4, 1));
    let deprecated: Vec<String> = flags_impl(&the_day_after, "Flags")
        .iter()
        .filter(|f| is_deprecated(f))
        .map(|f| f.sig.ident.to_string())
        .collect();
    assert_eq!(
        deprecated,
        [
            "new_feature_enabled",
            "new_feature_enabled_for",
            "new_feature_enabled_details"
        ]
    );
    assert!(
        flags_impl(&the_day_after, "FlagsStub")
            .iter()
            .any(|f| is_deprecated(f)),
        "stubbing an expired flag is a use too"
    );
}

#[test]
fn a_custom_name_renames_every_generated_type() {
    let dir = project(FLAGS);
    let file = declare(
        dir.path(),
        quote!("flags.toml", name = AppFlags),
        day(2026, 1, 1),
    );
    let text = quote!(#file).to_string();
    for name in [
        "struct AppFlags",
        "struct AppFlagsStub",
        "struct AppFlagsSnapshot",
        "__flags_gate_AppFlags",
    ] {
        assert!(text.contains(name), "{name} missing");
    }
}

#[test]
fn export_makes_the_gate_callback_reachable_from_other_crates_only() {
    let dir = project(FLAGS);
    let local = declare(dir.path(), quote!(), day(2026, 1, 1));
    let local = quote!(#local).to_string();
    assert!(local.contains("pub (crate) use __flags_local_gate_Flags as __flags_gate_Flags"));
    assert!(!local.contains("macro_export"));
    let exported = declare(dir.path(), quote!(export), day(2026, 1, 1));
    let exported = quote!(#exported).to_string();
    assert!(exported.contains("# [macro_export] macro_rules ! __flags_gate_Flags"));
    // rustc refuses a macro-expanded export reached by path from its own crate.
    assert!(!exported.contains("use __flags_gate_Flags"));
    // Gates in this crate reach the flags through the callback it keeps for itself.
    assert!(exported.contains("macro_rules ! __flags_local_gate_Flags"));
    assert!(exported.contains("pub (crate) use __flags_local_gate_Flags ;"));
    assert!(exported.contains("struct FlagsStub"));
}

#[test]
fn every_problem_is_an_error_and_valid_flags_are_still_generated() {
    let dir = project(
        &FLAGS
            .replace("default = 1", "default = 1\nproduction = \"x\"\nstagin = 2")
            .replace("description = \"Which checkout\"\n", ""),
    );
    let args: DeclareArgs = syn::parse2(quote!()).expect("arguments");
    let output = crate::declare::expand(&args, dir.path(), day(2026, 1, 1));
    let errors = compile_errors(&output);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(
        errors[0].starts_with("flag `checkout_flow` has no `description`"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("`production` of flag `type` must be an integer"),
        "{}",
        errors[1]
    );
    assert!(errors[2].contains("unknown key `stagin`"), "{}", errors[2]);
    assert!(
        output.to_string().contains("fn new_feature_enabled"),
        "valid flags are still generated"
    );
}

#[test]
fn a_missing_file_still_declares_the_type() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let args: DeclareArgs = syn::parse2(quote!()).expect("arguments");
    let output = crate::declare::expand(&args, dir.path(), day(2026, 1, 1));
    let errors = compile_errors(&output);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("cannot read flags.toml ("),
        "{}",
        errors[0]
    );
    assert!(output.to_string().contains("pub struct Flags ;"));
}

#[test]
fn the_gate_keeps_the_fn_and_puts_the_check_first() {
    let output = crate::feature_gate(
        quote!("new_feature_enabled"),
        quote! {
            /// Docs stay.
            #[inline]
            pub async fn checkout(&self, id: u32) -> Result<u32, AppError> { Ok(id) }
        },
    );
    let function: syn::ImplItemFn = syn::parse2(output).expect("still a fn");
    assert_eq!(function.attrs.len(), 2);
    assert!(function.sig.asyncness.is_some());
    let first = &function.block.stmts[0];
    let first = quote!(#first).to_string();
    assert!(
        first.starts_with("crate :: __flags_local_gate_Flags ! { [crate :: Flags] \"new_feature_enabled\" { } disabled { } }"),
        "{first}"
    );
}

#[test]
fn a_gate_reaches_flags_of_its_own_crate_and_of_others_through_their_callbacks() {
    for (flags, callback) in [
        ("crate::Flags", "crate :: __flags_local_gate_Flags"),
        (
            "self::config::Flags",
            "self :: config :: __flags_local_gate_Flags",
        ),
        ("super::AppFlags", "super :: __flags_local_gate_AppFlags"),
        ("app_flags::Flags", "app_flags :: __flags_gate_Flags"),
        ("::app_flags::Flags", ":: app_flags :: __flags_gate_Flags"),
        ("Flags", "__flags_gate_Flags"),
    ] {
        let flags: syn::Path = syn::parse_str(flags).expect("path");
        let output = crate::feature_gate(
            quote!("new_feature_enabled", flags = #flags),
            quote!(
                fn checkout() -> Result<(), flags::FeatureDisabled> {
                    Ok(())
                }
            ),
        );
        let function: syn::ItemFn = syn::parse2(output).expect("still a fn");
        let first = &function.block.stmts[0];
        let first = quote!(#first).to_string();
        assert!(first.starts_with(&format!("{callback} !")), "{first}");
    }
}

#[test]
fn the_gate_passes_its_context_on() {
    let output = crate::feature_gate(
        quote!("new_feature_enabled", context = user),
        quote! { fn page(user: &User) -> Result<(), E> { Ok(()) } },
    );
    let function: syn::ItemFn = syn::parse2(output).expect("still a fn");
    let first = &function.block.stmts[0];
    assert!(
        quote!(#first)
            .to_string()
            .contains("\"new_feature_enabled\" { user } disabled { }"),
        "{}",
        quote!(#first)
    );
    let dir = project(FLAGS);
    let absolute = dir.path().join("flags.toml").display().to_string();
    let check = crate::feature_gate_expand(
        quote!(#absolute "flags.toml" { ::flags } [crate::Flags] "new_feature_enabled" { user } disabled {}),
    );
    assert!(
        check
            .to_string()
            .starts_with("if ! crate :: Flags :: new_feature_enabled_for (& (user))"),
        "{check}"
    );
}

#[test]
fn a_fallback_gets_pattern_arguments_whole() {
    let output = crate::feature_gate(
        quote!(
            "new_feature_enabled",
            fallback = legacy,
            flags = crate::config::AppFlags
        ),
        quote! { fn sum(Point(x, y): Point, z: u32) -> u32 { x + y + z } },
    );
    let function: syn::ItemFn = syn::parse2(output).expect("still a fn");
    let inputs = &function.sig.inputs;
    assert_eq!(
        quote!(#inputs).to_string(),
        "__flags_argument_0 : Point , z : u32"
    );
    let body: Vec<String> = function
        .block
        .stmts
        .iter()
        .map(|s| quote!(#s).to_string())
        .collect();
    assert_eq!(
        body[0],
        "crate :: config :: __flags_local_gate_AppFlags ! { [crate :: config :: AppFlags] \"new_feature_enabled\" { } fallback { legacy (__flags_argument_0 , z) } }"
    );
    assert_eq!(body[1], "let Point (x , y) = __flags_argument_0 ;");
}

#[test]
fn the_gate_refuses_what_cannot_say_disabled() {
    let output = crate::feature_gate(quote!("x"), quote! { fn count() -> (u32, u32) { (1, 2) } });
    let errors = compile_errors(&output);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("#[feature_gate] must be able to return `Err(FeatureDisabled)`"),
        "{}",
        errors[0]
    );
    assert!(
        output.to_string().contains("fn count"),
        "the fn is kept next to the error"
    );
}

fn expand_check(dir: &Path, name: &str) -> TokenStream {
    let absolute = dir.join("flags.toml").display().to_string();
    crate::feature_gate_expand(
        quote!(#absolute "flags.toml" { ::flags } [crate::Flags] #name {} disabled {}),
    )
}

#[test]
fn the_check_knows_the_flags_of_the_file() {
    let dir = project(FLAGS);
    let check = expand_check(dir.path(), "new_feature_enabled").to_string();
    assert_eq!(
        check,
        "if ! crate :: Flags :: new_feature_enabled () { return :: flags :: __private :: disabled (\"new_feature_enabled\") ; }"
    );
    let unknown = compile_errors(&expand_check(dir.path(), "new_feature_enabld"));
    assert_eq!(
        unknown,
        ["unknown flag `new_feature_enabld` in flags.toml; did you mean `new_feature_enabled`?"]
    );
    let not_bool = compile_errors(&expand_check(dir.path(), "checkout_flow"));
    assert!(not_bool[0].contains("needs a bool flag"), "{}", not_bool[0]);
}

#[test]
fn the_stub_attribute_stubs_before_the_body() {
    let output = crate::stub(
        quote!(new_feature_enabled = false, flags = app::Flags),
        quote! { fn t() { body(); } },
    );
    let function: syn::ItemFn = syn::parse2(output).expect("still a fn");
    let first = &function.block.stmts[0];
    assert_eq!(
        quote!(#first).to_string(),
        "let __flags_stubs = app :: Flags :: stub () . new_feature_enabled (false) ;"
    );
}

#[test]
fn a_lints_table_is_read_but_changes_nothing_generated() {
    let with_lints = format!("[lints]\nbool_suffix = \"_on\"\nunused = \"allow\"\n{FLAGS}");
    let dir = project(&with_lints);
    let args: DeclareArgs = syn::parse2(quote!()).expect("arguments");
    let output = crate::declare::expand(&args, dir.path(), day(2026, 1, 1));
    assert_eq!(compile_errors(&output), Vec::<String>::new());
    assert!(output.to_string().contains("fn new_feature_enabled"));
}
