//! Overrides files: values that replace `flags.toml`'s at run time.
//!
//! ```toml
//! [flags.new_feature_enabled]
//! value = true          # in every environment
//! production = false    # only in production (wins over `value`)
//! ```

use std::ops::Range;

use toml::de::DeTable;

use crate::catalog::Catalog;
use crate::diagnostic::Diagnostic;
use crate::naming::did_you_mean;
use crate::parse::{FLAG_KEYS, Reader};
use crate::source::SourceFile;
use crate::value::Value;

/// The key that overrides a flag in every environment.
pub const ALL_ENVIRONMENTS_KEY: &str = "value";

/// A validated overrides file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OverridesFile {
    entries: Vec<OverrideEntry>,
}

/// One value in an overrides file.
#[derive(Clone, Debug, PartialEq)]
pub struct OverrideEntry {
    /// Index of the flag in the catalog.
    pub flag: usize,
    /// The environment it applies to; `None` for every environment (`value = ...`).
    pub environment: Option<usize>,
    /// The value, checked against the flag's type.
    pub value: Value,
    /// Where the value is written.
    pub span: Range<usize>,
    /// The line it is on.
    pub line: usize,
}

impl OverridesFile {
    /// All values, in file order.
    pub fn entries(&self) -> &[OverrideEntry] {
        &self.entries
    }

    /// The value that applies to `flag` in `environment`: the environment's own value, else
    /// the value for every environment.
    pub fn value_for(&self, flag: usize, environment: Option<usize>) -> Option<&OverrideEntry> {
        let for_flag = || self.entries.iter().filter(move |e| e.flag == flag);
        for_flag()
            .find(|e| e.environment.is_some() && e.environment == environment)
            .or_else(|| for_flag().find(|e| e.environment.is_none()))
    }
}

/// Reads an overrides file against the flags it may override. Any problem rejects the whole
/// file, so that a half-valid file never half-applies.
pub fn parse_overrides(
    catalog: &Catalog,
    file: &SourceFile,
) -> Result<OverridesFile, Vec<Diagnostic>> {
    let root = match DeTable::parse(file.text()) {
        Ok(root) => root,
        Err(error) => {
            return Err(vec![Diagnostic::new(
                format!("invalid TOML: {}", error.message()),
                error.span().unwrap_or(0..0),
            )]);
        }
    };
    let mut reader = Reader::default();
    let mut entries = Vec::new();
    reader.reject_unknown_keys(root.get_ref(), &["flags"], "an overrides file");
    if let Some((_, flags)) = root.get_ref().get_key_value("flags") {
        if let Some(flags) = reader.table(flags, "`flags`", "[flags.<name>] tables") {
            // A flag may be named by key or by accessor; it must still appear once.
            let mut seen: Vec<(usize, usize)> = Vec::new();
            for (key, value) in flags {
                let name = key.get_ref().as_ref();
                let Some((index, flag)) = catalog.find(name) else {
                    reader.error(Diagnostic::new(
                        catalog.unknown_flag_message(name),
                        key.span(),
                    ));
                    continue;
                };
                let line = file.location(key.span().start).line;
                if let Some((_, first_line)) =
                    seen.iter().find(|(seen_index, _)| *seen_index == index)
                {
                    reader.error(
                        Diagnostic::new(
                            format!(
                                "flag `{}` is overridden twice (also on line {first_line})",
                                flag.key()
                            ),
                            key.span(),
                        )
                        .with_help("keep one table for it"),
                    );
                    continue;
                }
                seen.push((index, line));
                let Some(table) = reader.table(
                    value,
                    &format!("flag `{name}`"),
                    &format!("a table: [flags.{name}]"),
                ) else {
                    continue;
                };
                read_flag(catalog, file, index, table, &mut reader, &mut entries);
            }
        }
    }
    if reader.diagnostics.is_empty() {
        Ok(OverridesFile { entries })
    } else {
        Err(reader.diagnostics)
    }
}

fn read_flag(
    catalog: &Catalog,
    file: &SourceFile,
    index: usize,
    table: &DeTable<'_>,
    reader: &mut Reader,
    entries: &mut Vec<OverrideEntry>,
) {
    let flag = &catalog.flags()[index];
    let environments = catalog.environments();
    let known: Vec<&str> = std::iter::once(ALL_ENVIRONMENTS_KEY)
        .chain(environments.names().iter().map(String::as_str))
        .collect();
    for (key, value) in table {
        let key_name = key.get_ref().as_ref();
        let environment = if key_name == ALL_ENVIRONMENTS_KEY {
            None
        } else if let Some(position) = environments.position(key_name) {
            Some(position)
        } else {
            let message = if FLAG_KEYS.contains(&key_name) {
                format!("`{key_name}` of flag `{}` cannot be overridden", flag.key())
            } else {
                format!(
                    "unknown key `{key_name}` in flag `{}`{}",
                    flag.key(),
                    did_you_mean(key_name, known.iter().copied())
                )
            };
            reader.error(Diagnostic::new(message, key.span()).with_help(format!(
                "an override sets `value` (every environment) or an environment: {}",
                environments.names().join(", ")
            )));
            continue;
        };
        match flag.flag_type().check_toml(value.get_ref()) {
            Ok(checked) => entries.push(OverrideEntry {
                flag: index,
                environment,
                value: checked,
                span: value.span(),
                line: file.location(value.span().start).line,
            }),
            Err(error) => reader.error(
                Diagnostic::new(
                    format!(
                        "`{key_name}` of flag `{}` must be {}, found {}",
                        flag.key(),
                        error.expected(),
                        error.found()
                    ),
                    value.span(),
                )
                .with_optional_help(error.help().map(str::to_owned)),
            ),
        }
    }
}
