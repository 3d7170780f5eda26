//! Entries of the Redis store: `StoredOverride::read`, how every follower reads one field of
//! the overrides hash, in every environment of the fixed catalog.
//!
//! An input is the field's name, a newline, then the value's bytes (an input without a
//! newline is a field with an empty value). Checks: no panic; the entry keeps its field's
//! name; a usable entry is for a declared flag and is UTF-8; an unusable one says why naming
//! the field (or, for a value that is not UTF-8, saying so), and every place it shows is
//! within the value's text.

use std::sync::OnceLock;

use flags_model::{Catalog, SourceFile};
use flags_runtime::store::StoredOverride;

use crate::guard::{Passed, Violation, catch};
use crate::locate::check_all;

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let file = SourceFile::new("catalog.toml", crate::corpus::catalog_text());
        Catalog::parse(&file).expect("seeds/catalog.toml is valid")
    })
}

/// An input's field and value.
pub fn split(input: &[u8]) -> (&[u8], &[u8]) {
    match input.iter().position(|&b| b == b'\n') {
        Some(at) => (&input[..at], &input[at + 1..]),
        None => (input, &[]),
    }
}

/// Reads one entry in every environment.
pub fn run(input: &[u8]) -> Result<Passed, Violation> {
    let catalog = catalog();
    let (field, value) = split(input);
    let name = String::from_utf8_lossy(field).into_owned();
    let text = std::str::from_utf8(value).ok();
    let declared = catalog.find(&name).map(|(_, flag)| flag.key().to_owned());
    let mut valid = false;
    let mut output = 0;
    for environment in 0..catalog.environments().names().len() {
        let entry = catch(|| StoredOverride::read(catalog, environment, field, value))?;
        if entry.flag != name {
            return Err(Violation::invariant(format!(
                "the entry of field {name:?} is read as field {:?}",
                entry.flag
            )));
        }
        match &entry.setting {
            Ok(_) if declared.is_none() => {
                return Err(Violation::invariant(format!(
                    "an entry for undeclared flag {name:?} is used"
                )));
            }
            Ok(_) if text.is_none() => {
                return Err(Violation::invariant(
                    "an entry whose value is not UTF-8 is used",
                ));
            }
            Ok(_) => valid = true,
            Err(message) => {
                // Each environment reads the entry alone: the bound is per read.
                output = output.max(message.len());
                let names_it = message.contains(name.as_str())
                    || declared.as_deref().is_some_and(|key| message.contains(key));
                if !names_it && text.is_some() {
                    return Err(Violation::invariant(format!(
                        "the reason entry {name:?} is skipped does not name it: {message}"
                    )));
                }
                if text.is_none() && !message.contains("UTF-8") {
                    return Err(Violation::invariant(format!(
                        "the reason an entry that is not UTF-8 is skipped does not say so: {message}"
                    )));
                }
                let shown = format!("entry `{name}`");
                check_all(message, &[(shown.as_str(), text.unwrap_or(""))], true)?;
            }
        }
    }
    super::check_output(input.len(), output)?;
    Ok(Passed { valid, output })
}
