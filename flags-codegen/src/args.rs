//! The arguments of `declare!`, `#[feature_gate]` and `#[stub]`.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Path, Token, parse_quote};

/// `declare!()`, `declare!("../flags.toml")`, `declare!("flags.toml", name = AppFlags, crate = ::flags)`,
/// `declare!(export)`.
pub(crate) struct DeclareArgs {
    pub(crate) path: Option<LitStr>,
    pub(crate) name: Ident,
    pub(crate) krate: Path,
    /// `export`: the flags are declared for other crates (`#[feature_gate]` reaches them there).
    pub(crate) export: bool,
}

impl Parse for DeclareArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Self {
            path: input.peek(LitStr).then(|| input.parse()).transpose()?,
            name: Ident::new("Flags", Span::call_site()),
            krate: parse_quote!(::flags),
            export: false,
        };
        if args.path.is_some() && !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
        while !input.is_empty() {
            if input.parse::<Option<Token![crate]>>()?.is_some() {
                input.parse::<Token![=]>()?;
                args.krate = input.parse()?;
            } else {
                let key: Ident = input.parse()?;
                if key == "export" {
                    args.export = true;
                } else if key == "name" {
                    input.parse::<Token![=]>()?;
                    args.name = input.parse()?;
                } else {
                    return Err(syn::Error::new(
                        key.span(),
                        format!(
                            "unknown argument `{key}`; flags::declare! takes an optional path string, \
                             then `name = TypeName`, `crate = path` and `export`"
                        ),
                    ));
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(args)
    }
}

/// `#[feature_gate("name")]`, with optional `context = expr`, `fallback = path` and
/// `flags = path::Flags`.
pub(crate) struct GateArgs {
    pub(crate) name: LitStr,
    pub(crate) context: Option<Expr>,
    pub(crate) fallback: Option<Path>,
    pub(crate) flags: Option<Path>,
}

impl Parse for GateArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "name the flag that guards this fn: #[feature_gate(\"new_feature_enabled\")]",
            ));
        }
        let name = input.parse::<LitStr>().map_err(|error| {
            syn::Error::new(error.span(), "the first argument is the flag's name, as a string: #[feature_gate(\"new_feature_enabled\")]")
        })?;
        let mut args = Self {
            name,
            context: None,
            fallback: None,
            flags: None,
        };
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            match key.to_string().as_str() {
                "fallback" => args.fallback = Some(input.parse()?),
                "context" => args.context = Some(input.parse()?),
                "flags" => args.flags = Some(input.parse()?),
                other => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!(
                            "unknown argument `{other}`; #[feature_gate] takes `context = argument`, `fallback = other_fn` and `flags = path::Flags`"
                        ),
                    ));
                }
            }
        }
        Ok(args)
    }
}

/// `#[stub(new_feature_enabled = true, checkout_flow = CheckoutFlow::Express, flags = path::Flags)]`.
pub(crate) struct StubArgs {
    pub(crate) stubs: Vec<(Ident, Expr)>,
    pub(crate) flags: Option<Path>,
}

struct StubArg {
    name: Ident,
    value: Expr,
}

impl Parse for StubArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name = input.parse()?;
        input.parse::<Token![=]>()?;
        Ok(Self {
            name,
            value: input.parse()?,
        })
    }
}

impl Parse for StubArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Self {
            stubs: Vec::new(),
            flags: None,
        };
        for arg in Punctuated::<StubArg, Token![,]>::parse_terminated(input)? {
            if arg.name == "flags" {
                let Expr::Path(path) = arg.value else {
                    return Err(syn::Error::new_spanned(
                        arg.value,
                        "`flags` takes the path of the generated type: flags = crate::Flags",
                    ));
                };
                args.flags = Some(path.path);
            } else {
                args.stubs.push((arg.name, arg.value));
            }
        }
        if args.stubs.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "name the flags to stub: #[flags::stub(new_feature_enabled = true)]",
            ));
        }
        Ok(args)
    }
}
