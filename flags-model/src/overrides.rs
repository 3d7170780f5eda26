//! Overrides files: values, targeting and segments that replace `flags.toml`'s at run time,
//! in the same format.
//!
//! ```toml
//! [flags.new_feature_enabled]
//! value = true          # in every environment
//! production = false    # only in production (wins over `value`)
//!
//! [[flags.comments_enabled.production.rules]]   # targeting, as in flags.toml
//! when = [{ segment = "beta" }]
//! serve = true
//!
//! [segments.beta]       # replaces the segment's keys and rules
//! keys = ["u-123"]
//! ```

use std::collections::HashMap;
use std::ops::Range;

use toml::de::DeTable;

use crate::catalog::Catalog;
use crate::diagnostic::Diagnostic;
use crate::naming::{self, did_you_mean};
use crate::parse::{FLAG_KEYS, Reader};
use crate::source::SourceFile;
use crate::targeting::{Segment, Setting, SettingContext};

/// The key that overrides a flag in every environment.
pub const ALL_ENVIRONMENTS_KEY: &str = "value";

/// A validated overrides file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OverridesFile {
    entries: Vec<OverrideEntry>,
    segments: Vec<(usize, Segment)>,
    skipped: Vec<Diagnostic>,
}

/// One override in an overrides file.
#[derive(Clone, Debug, PartialEq)]
pub struct OverrideEntry {
    /// Index of the flag in the catalog.
    pub flag: usize,
    /// The environment it applies to; `None` for every environment (`value = ...`).
    pub environment: Option<usize>,
    /// The value, or targeting, checked against the flag's type.
    pub setting: Setting,
    /// Where it is written.
    pub span: Range<usize>,
    /// The line it is on.
    pub line: usize,
}

impl OverridesFile {
    /// All overrides of flags, in file order.
    pub fn entries(&self) -> &[OverrideEntry] {
        &self.entries
    }

    /// The override of `flag` in `environment`: the environment's own, else the one for every
    /// environment.
    pub fn setting_for(&self, flag: usize, environment: Option<usize>) -> Option<&OverrideEntry> {
        let for_flag = || self.entries.iter().filter(move |e| e.flag == flag);
        for_flag()
            .find(|e| e.environment.is_some() && e.environment == environment)
            .or_else(|| for_flag().find(|e| e.environment.is_none()))
    }

    /// The override in force in `environment` for each flag the file overrides there, in one
    /// pass over the file (what [`OverridesFile::setting_for`] gives for each flag).
    pub fn settings_in(&self, environment: Option<usize>) -> Vec<&OverrideEntry> {
        let mut chosen: HashMap<usize, &OverrideEntry> = HashMap::new();
        for entry in &self.entries {
            let own = entry.environment.is_some() && entry.environment == environment;
            if own {
                chosen.insert(entry.flag, entry);
            } else if entry.environment.is_none() {
                chosen.entry(entry.flag).or_insert(entry);
            }
        }
        let mut settings: Vec<&OverrideEntry> = chosen.into_values().collect();
        settings.sort_by_key(|entry| entry.flag);
        settings
    }

    /// Segments this file redefines, by their index in the catalog.
    pub fn segments(&self) -> &[(usize, Segment)] {
        &self.segments
    }

    /// Tables for flags or segments that `flags.toml` does not declare (left over after a
    /// flag was removed, or misspelt): skipped, so that they never void the rest of the file,
    /// and reported here, each naming the flag or segment as written.
    pub fn skipped(&self) -> &[Diagnostic] {
        &self.skipped
    }
}

/// Reads an overrides file against the flags and segments it may override.
///
/// A table for a flag or segment that `flags.toml` does not declare is skipped and listed in
/// [`OverridesFile::skipped`]. Any other problem (a wrong value for a declared flag, invalid
/// TOML) rejects the whole file, so that a half-valid file never half-applies.
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
    let mut skipped = Reader::default();
    let mut overrides = OverridesFile::default();
    let segment_names: Vec<String> = catalog.segments().iter().map(|s| s.name.clone()).collect();
    reader.reject_unknown_keys(root.get_ref(), &["flags", "segments"], "an overrides file");
    if let Some((_, flags)) = root.get_ref().get_key_value("flags") {
        if let Some(flags) = reader.table(flags, "`flags`", "[flags.<name>] tables") {
            // A flag may be named by key or by accessor; it must still appear once.
            let mut seen: HashMap<usize, usize> = HashMap::new();
            for (key, value) in flags {
                let name = key.get_ref().as_ref();
                let Some((index, flag)) = catalog.find(name) else {
                    skipped.error_with(|| {
                        Diagnostic::new(
                            format!(
                                "{}; its table is skipped",
                                catalog.unknown_flag_message(name)
                            ),
                            key.span(),
                        )
                        .with_help("remove the table, or declare the flag in flags.toml")
                        .with_flag(name)
                    });
                    continue;
                };
                let line = file.location(key.span().start).line;
                if let Some(first_line) = seen.get(&index) {
                    reader.error(
                        Diagnostic::new(
                            format!(
                                "flag `{}` is overridden twice (also on line {first_line})",
                                flag.key()
                            ),
                            key.span(),
                        )
                        .with_help("keep one table for it")
                        .with_flag(flag.key()),
                    );
                    continue;
                }
                seen.insert(index, line);
                let since = reader.errors();
                if let Some(table) = reader.table(
                    value,
                    &format!("flag `{name}`"),
                    &format!("a table: [flags.{name}]"),
                ) {
                    read_flag(
                        catalog,
                        file,
                        index,
                        table,
                        &segment_names,
                        &mut reader,
                        &mut overrides,
                    );
                }
                reader.about_flag(since, flag.key());
            }
        }
    }
    if let Some((_, segments)) = root.get_ref().get_key_value("segments") {
        if let Some(segments) = reader.table(segments, "`segments`", "[segments.<name>] tables") {
            for (key, value) in segments {
                let name = key.get_ref().as_ref();
                let Some((index, _)) = catalog.segment(name) else {
                    skipped.error_with(|| {
                        let names = segment_names.iter().map(String::as_str);
                        let message = format!(
                            "unknown segment `{name}`{}; its table is skipped",
                            did_you_mean(name, names)
                        );
                        Diagnostic::new(message, key.span()).with_help(
                            "an overrides file can redefine the segments flags.toml declares",
                        )
                    });
                    continue;
                };
                if let Some(segment) = reader.segment(key, value, false) {
                    overrides.segments.push((index, segment));
                }
            }
        }
    }
    if reader.errors() == 0 {
        overrides.skipped = skipped.finish();
        Ok(overrides)
    } else {
        Err(reader.finish())
    }
}

fn read_flag(
    catalog: &Catalog,
    file: &SourceFile,
    index: usize,
    table: &DeTable<'_>,
    segments: &[String],
    reader: &mut Reader,
    overrides: &mut OverridesFile,
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
                naming::list(environments.names().iter().map(String::as_str))
            )));
            continue;
        };
        let cx = SettingContext {
            flag: flag.key(),
            flag_type: flag.flag_type(),
            default: flag.default(),
            segments,
            file,
            bucketing: flag.rollout_in(environment),
        };
        if let Some(setting) = reader.setting(key_name, value, &cx) {
            overrides.entries.push(OverrideEntry {
                flag: index,
                environment,
                setting,
                span: value.span(),
                line: file.location(value.span().start).line,
            });
        }
    }
}
