//! `#[feature_gate("name")]`: the fn runs only while its flag is on.
//!
//! The attribute keeps the fn as written and puts one statement at the top of its body: a
//! call to the `macro_rules!` that `declare!` generated next to `Flags`. That macro adds the
//! path of the file `declare!` read and calls [`feature_gate_expand`], which checks the flag
//! name against that very file and expands to the check. Everything that needs no file (the
//! arguments, the return type, the fallback call) is done by the attribute itself, so the fn
//! exists whatever happens to the check, and one mistake yields one error.

use std::path::PathBuf;

use flags_model::FlagType;
use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{
    FnArg, Ident, LitStr, Pat, Path, ReturnType, Type, braced, bracketed, parse_quote_spanned,
};

use crate::args::GateArgs;
use crate::declare::rust_ident;
use crate::errors::Errors;
use crate::item::{LenientFn, attribute_on_fn};
use crate::load::{self, Location};

/// The attribute.
pub fn feature_gate(attr: TokenStream, item: TokenStream) -> TokenStream {
    let (args, mut function) = match attribute_on_fn::<GateArgs>(
        attr,
        &item,
        "#[feature_gate] goes on a fn (free fn or method, sync or async)",
    ) {
        Ok(parsed) => parsed,
        Err(tokens) => return tokens,
    };
    let flag = args.name.value();
    let mut errors = Errors::default();
    if let Some(constness) = &function.sig.constness {
        errors.at(
            constness.span,
            "#[feature_gate] cannot go on a const fn: flags are read at run time",
        );
    }
    let (when_off, rebind) = match &args.fallback {
        Some(fallback) => {
            let (call_args, rebind) = forward_arguments(&mut function);
            let call = quote_spanned!(fallback.span()=> #fallback(#(#call_args),*));
            let call = if function.sig.asyncness.is_some() {
                quote!(#call.await)
            } else {
                call
            };
            (quote!(fallback { #call }), rebind)
        }
        None => {
            check_can_return_disabled(
                &function.sig.output,
                &function.sig.ident,
                &flag,
                &mut errors,
            );
            // Only the span matters: errors about the return type are reported there.
            let at = match &function.sig.output {
                ReturnType::Type(_, ty) => ty.span(),
                ReturnType::Default => function.sig.ident.span(),
            };
            (quote_spanned!(at=> disabled {}), TokenStream::new())
        }
    };
    if !errors.is_empty() {
        let errors = errors.into_tokens();
        return quote!(#errors #item);
    }

    let span = args.name.span();
    let flags: Path = args
        .flags
        .unwrap_or_else(|| parse_quote_spanned!(span=> crate::Flags));
    // A path into this crate takes the callback `declare!` keeps for its own crate: the
    // exported one cannot be reached by path from there (rustc refuses a macro-expanded
    // `#[macro_export]` named by an absolute path).
    let in_this_crate = flags.leading_colon.is_none()
        && flags.segments.len() > 1
        && flags
            .segments
            .first()
            .is_some_and(|first| ["crate", "self", "super"].iter().any(|k| first.ident == k));
    let mut callback = flags.clone();
    if let Some(last) = callback.segments.last_mut() {
        last.ident = if in_this_crate {
            format_ident!("__flags_local_gate_{}", last.ident, span = span)
        } else {
            format_ident!("__flags_gate_{}", last.ident, span = span)
        };
        last.arguments = syn::PathArguments::None;
    }
    let name = &args.name;
    let context = args.context.iter();
    function.with_prelude(quote_spanned! {span=>
        #callback! { [#flags] #name { #(#context)* } #when_off }
        #rebind
    })
}

/// What the callback passes on: `"abs" "shown" { krate } [Flags] "name" { context }` then
/// `disabled {}` or `fallback { call }` (the context is empty unless `context = ...` is given).
struct Check {
    absolute: LitStr,
    display: LitStr,
    krate: TokenStream,
    flags: Path,
    name: LitStr,
    context: TokenStream,
    when_off: WhenOff,
}

enum WhenOff {
    /// Return "disabled" (`Err(FeatureDisabled)`); errors about that point at `span`.
    Disabled { span: Span },
    /// Return what this call returns.
    Fallback(TokenStream),
}

impl Parse for Check {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let absolute = input.parse()?;
        let display = input.parse()?;
        let krate;
        braced!(krate in input);
        let flags;
        bracketed!(flags in input);
        let name = input.parse()?;
        let context;
        braced!(context in input);
        let context: TokenStream = context.parse()?;
        let mode: Ident = input.parse()?;
        let body;
        braced!(body in input);
        let when_off = if mode == "fallback" {
            WhenOff::Fallback(body.parse()?)
        } else {
            WhenOff::Disabled { span: mode.span() }
        };
        Ok(Self {
            absolute,
            display,
            krate: krate.parse()?,
            flags: flags.parse()?,
            name,
            context,
            when_off,
        })
    }
}

/// The check at the top of a gated fn, with the path of `flags.toml` known.
pub fn feature_gate_expand(input: TokenStream) -> TokenStream {
    let check = match syn::parse2::<Check>(input) {
        Ok(check) => check,
        Err(error) => return error.into_compile_error(),
    };
    let location = Location {
        absolute: PathBuf::from(check.absolute.value()),
        display: check.display.value(),
    };
    let Ok(loaded) = load::load(&location) else {
        // `declare!` reports the unreadable file.
        return TokenStream::new();
    };
    let catalog = &loaded.parsed.catalog;
    let name = check.name.value();
    let span = check.name.span();
    let Some((_, flag)) = catalog.find(&name) else {
        let suggestion = catalog
            .suggest(&name)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        let message = format!("unknown flag `{name}` in {}{suggestion}", location.display);
        return syn::Error::new(span, message).into_compile_error();
    };
    if *flag.flag_type() != FlagType::Bool {
        let message = format!(
            "flag `{name}` is {}, but #[feature_gate] needs a bool flag (one whose `default` is true or false)",
            flag.flag_type().describe()
        );
        return syn::Error::new(span, message).into_compile_error();
    }
    let key = flag.key();
    let flags_path = &check.flags;
    let when_off = match &check.when_off {
        WhenOff::Fallback(call) => quote!(return #call;),
        WhenOff::Disabled { span } => {
            let krate = respan(check.krate.clone(), *span);
            quote_spanned!(*span=> return #krate::__private::disabled(#key);)
        }
    };
    // The path is the user's (`flags = crate::config::Flags`) but the call is generated: with
    // expansion spans, lints such as `unused_qualifications` do not blame the user for it.
    let flags = respan(quote!(#flags_path), Span::call_site());
    // Spanned at the name, so that an expired flag's deprecation warning points there.
    let enabled = if check.context.is_empty() {
        let mut accessor = rust_ident(flag.accessor());
        accessor.set_span(span);
        quote_spanned!(span=> #flags::#accessor())
    } else {
        let accessor = format_ident!("{}_for", flag.accessor(), span = span);
        let context = &check.context;
        // Errors about the context belong on the argument given, not on the flag's name.
        let at = context
            .clone()
            .into_iter()
            .next()
            .map_or(span, |token| token.span());
        let argument = quote_spanned!(at=> &(#context));
        quote_spanned!(span=> #flags::#accessor(#argument))
    };
    quote! {
        if !#enabled {
            #when_off
        }
    }
}

/// Without a fallback the fn must be able to return "disabled". Which types can is decided by
/// the type system (so `type AppResult<T> = Result<T, AppError>` works); what can never work
/// is reported here, at the return type.
fn check_can_return_disabled(
    output: &ReturnType,
    fn_name: &Ident,
    flag: &str,
    errors: &mut Errors,
) {
    let what_to_do = format!(
        "return `Result<T, E>` with `E: From<flags::FeatureDisabled>`, or call another fn instead: \
         #[feature_gate(\"{flag}\", fallback = other_fn)]"
    );
    let must = "#[feature_gate] must be able to return `Err(FeatureDisabled)` when the flag is off";
    match output {
        ReturnType::Default => errors.at(
            fn_name.span(),
            format!("{must}, but this fn returns nothing: {what_to_do}"),
        ),
        ReturnType::Type(_, ty) if !could_be_result(ty) => {
            errors.at(ty.span(), format!("{must}: {what_to_do}"))
        }
        ReturnType::Type(..) => {}
    }
}

/// Only a named type (a path) can be a `Result` or an alias of one.
fn could_be_result(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => path.qself.is_none(),
        Type::Paren(inner) => could_be_result(&inner.elem),
        Type::Group(inner) => could_be_result(&inner.elem),
        _ => false,
    }
}

/// The arguments to pass on to the fallback. A parameter written as a pattern
/// (`Path(id): Path<u32>`) is renamed so the fallback gets the value whole; the pattern is
/// bound after the check instead, so the body sees the same names as before.
fn forward_arguments(function: &mut LenientFn) -> (Vec<TokenStream>, TokenStream) {
    let mut call_args = Vec::new();
    let mut rebind = TokenStream::new();
    for (position, input) in function.sig.inputs.iter_mut().enumerate() {
        match input {
            FnArg::Receiver(receiver) => {
                let token = receiver.self_token;
                call_args.push(quote!(#token));
            }
            FnArg::Typed(typed) => match &*typed.pat {
                Pat::Ident(binding) if binding.by_ref.is_none() && binding.subpat.is_none() => {
                    let ident = &binding.ident;
                    call_args.push(quote!(#ident));
                }
                pattern => {
                    let hidden =
                        Ident::new(&format!("__flags_argument_{position}"), Span::mixed_site());
                    let span = pattern.span();
                    rebind.extend(quote!(let #pattern = #hidden;));
                    *typed.pat = parse_quote_spanned!(span=> #hidden);
                    call_args.push(quote!(#hidden));
                }
            },
        }
    }
    (call_args, rebind)
}

/// `tokens` with every span set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|token| match token {
            TokenTree::Group(group) => {
                let mut new = Group::new(group.delimiter(), respan(group.stream(), span));
                new.set_span(span);
                TokenTree::Group(new)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}
