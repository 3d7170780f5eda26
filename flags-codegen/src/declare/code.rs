//! Generated code written as text and handed to the compiler in one piece.
//!
//! Each flag's accessors, compiled rules, stub setter, `each` method, snapshot read, marker
//! type, enum and descriptor are the same few lines with its names in them, and a
//! 1,000-flag `flags.toml` makes some 600,000 tokens of them. Built with `quote!`, each
//! token is a call across the proc-macro bridge from code that, like the macro, is built
//! without optimisation; written here with `std`'s formatting (optimised whatever the
//! profile) and lexed by the compiler in one call, a rebuild of such a crate costs the
//! compiler a fifth less (BENCHMARKS.md).

extern crate proc_macro;

use std::borrow::Cow;
use std::fmt;

use flags_model::naming;
use proc_macro2::TokenStream;
use quote::quote;

/// Rust source being written.
#[derive(Default)]
pub(super) struct Code(String);

impl Code {
    /// Appends formatted text; see [`put!`].
    pub(super) fn put(&mut self, args: fmt::Arguments<'_>) {
        // Writing to a `String` cannot fail.
        let _ = fmt::Write::write_fmt(&mut self.0, args);
    }

    /// The code as tokens. Text this module wrote always lexes; if it ever did not, the
    /// error says so where `declare!` is called rather than panicking in the compiler.
    pub(super) fn into_tokens(self) -> TokenStream {
        match lex(&self.0) {
            Ok(tokens) => tokens,
            Err(error) => {
                let message = format!(
                    "flags::declare! generated code that does not lex ({error}); please report this"
                );
                quote!(::core::compile_error! { #message })
            }
        }
    }
}

/// `text` as tokens. In a macro, by the compiler's lexer directly: `proc_macro2` would first
/// check the text with its own lexer, built without optimisation like the macro, which took
/// longer than all the rest of the expansion. Elsewhere (tests, benches, the fuzzer), by
/// `proc_macro2`'s lexer, which makes sure the text lexes.
fn lex(text: &str) -> Result<TokenStream, String> {
    if proc_macro::is_available() {
        return text
            .parse::<proc_macro::TokenStream>()
            .map(TokenStream::from)
            .map_err(|error| error.to_string());
    }
    text.parse::<TokenStream>()
        .map_err(|error| error.to_string())
}

/// Appends to a [`Code`], as `write!` to a string.
macro_rules! put {
    ($code:expr, $($format:tt)*) => {
        $code.put(::std::format_args!($($format)*))
    };
}
pub(super) use put;

/// `text` as a Rust string literal (`std`'s escaping of a `str` is valid Rust).
pub(super) fn string(text: &str) -> impl fmt::Display + '_ {
    struct Literal<'a>(&'a str);
    impl fmt::Display for Literal<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }
    Literal(text)
}

/// A generated name, raw when it is a keyword (`r#type`).
pub(super) fn ident(name: &str) -> Cow<'_, str> {
    if naming::needs_raw(name) {
        Cow::Owned(format!("r#{name}"))
    } else {
        Cow::Borrowed(name)
    }
}

/// Tokens as text, for the few (the runtime crate's path, the type's name) that come from
/// the macro's input and appear in every flag's code.
pub(super) fn text_of(tokens: impl quote::ToTokens) -> String {
    tokens.to_token_stream().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_rust_reads_them() {
        let awkward = "quote \" backslash \\ newline \n tab \t nul \0 bell \u{7} é 🚀";
        let mut code = Code::default();
        put!(code, "const X: &str = {};", string(awkward));
        let item: syn::ItemConst = syn::parse2(code.into_tokens()).expect("a const item");
        let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(literal),
            ..
        }) = *item.expr
        else {
            panic!("a string literal");
        };
        assert_eq!(literal.value(), awkward);
    }

    #[test]
    fn keywords_become_raw_identifiers() {
        assert_eq!(ident("type"), "r#type");
        assert_eq!(ident("checkout"), "checkout");
    }

    #[test]
    fn text_that_does_not_lex_becomes_a_compile_error() {
        let mut code = Code::default();
        put!(code, "fn broken() {{");
        let text = code.into_tokens().to_string();
        assert!(text.contains("compile_error"), "{text}");
    }
}
