//! `flags.toml`: the model's parser and validator, every diagnostic rendered, and the
//! `declare!` expansion.
//!
//! Checks: no panic; every span within the text, on character boundaries; every rendered
//! diagnostic names `flags.toml` and a line and column that exist; at most
//! [`MAX_OUTPUT`](super::MAX_OUTPUT) bytes of messages; the expansion does not panic, and for
//! an invalid file holds `compile_error!` naming `flags.toml` and places that exist in it;
//! the code it writes as text always lexes.

use std::cell::RefCell;
use std::path::Path;

use flags_model::SourceFile;
use proc_macro2::TokenStream;
use quote::quote;

use crate::guard::{Passed, Violation, catch};
use crate::locate::{Location, check_location, check_rendered, check_span};

/// The file's name in messages.
const NAME: &str = "flags.toml";

thread_local! {
    /// A crate directory per thread, reused for every input: the macro keeps one parse per
    /// path, so a new directory per input would keep every input alive.
    static CRATE_DIR: RefCell<Option<tempfile::TempDir>> = const { RefCell::new(None) };
}

/// Runs one `flags.toml` through the model and the macro.
pub fn run(input: &[u8]) -> Result<Passed, Violation> {
    let text = String::from_utf8_lossy(input);
    let file = SourceFile::new(NAME, text.as_ref());
    let (diagnostics, rendered) = catch(|| {
        let parsed = flags_model::parse(&file);
        let rendered: Vec<String> = parsed
            .diagnostics
            .iter()
            .map(|diagnostic| diagnostic.render(&file))
            .collect();
        (parsed.diagnostics, rendered)
    })?;
    for diagnostic in &diagnostics {
        check_span(diagnostic, file.text())?;
    }
    for one in &rendered {
        check_rendered(one, &file)?;
    }
    let utf8 = std::str::from_utf8(input).is_ok();
    let valid = diagnostics.is_empty() && utf8;
    expansion(input, &file, valid)?;
    let output = rendered.iter().map(String::len).sum();
    super::check_output(input.len(), output)?;
    Ok(Passed { valid, output })
}

/// Expands `declare!` over the raw bytes, as a build would read them from disk.
fn expansion(input: &[u8], file: &SourceFile, valid: bool) -> Result<(), Violation> {
    let expanded = CRATE_DIR.with(|dir| {
        let mut dir = dir.borrow_mut();
        if dir.is_none() {
            *dir = Some(crate::corpus::scratch_dir());
        }
        let dir = dir.as_ref().expect("just created").path();
        std::fs::write(dir.join(NAME), input).expect("write flags.toml");
        // Both forms of the macro: the default file, and a path with a type name.
        let args = match crate::corpus::hash(input) % 2 {
            0 => TokenStream::new(),
            _ => quote!("flags.toml", name = AppFlags),
        };
        catch(|| expand(dir, args))
    })?;
    let has_error = expanded.contains("compile_error");
    // Generated code is written as text: whatever the file holds, it must lex.
    if expanded.contains("generated code that does not lex") {
        return Err(Violation::invariant(
            "declare! generated code that does not lex",
        ));
    }
    if !valid && !has_error {
        return Err(Violation::invariant(
            "declare! expands an invalid flags.toml without compile_error!",
        ));
    }
    if has_error && !expanded.contains("flags.toml") {
        return Err(Violation::invariant(
            "declare!'s compile_error! does not name flags.toml",
        ));
    }
    for location in expansion_locations(&expanded) {
        check_location(&location, file.text())
            .map_err(|v| Violation::invariant(format!("in declare!'s expansion: {}", v.message)))?;
    }
    Ok(())
}

fn expand(dir: &Path, args: TokenStream) -> String {
    flags_codegen::declare_in(dir, args).to_string()
}

/// The `--> flags.toml:line:column` places inside the expansion's string literals.
fn expansion_locations(expanded: &str) -> Vec<Location<'static>> {
    let marker = "--> flags.toml:";
    expanded
        .match_indices(marker)
        .filter_map(|(at, _)| {
            let rest = &expanded[at + marker.len()..];
            let (line, rest) = rest.split_once(':')?;
            let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
            Some(Location {
                name: NAME,
                line: line.parse().ok()?,
                column: column.parse().ok()?,
            })
        })
        .collect()
}
