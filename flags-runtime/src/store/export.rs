//! The export document: what one environment's store holds, as TOML a person can read, keep
//! and restore (`flags store export`, `flags store restore`, the recovery record).
//!
//! ```toml
//! environment = "production"
//! store = "8d0f2c4e-5b7a-4c1e-9f3d-2a6b8c0e4f17"
//! version = 42
//!
//! [overrides]
//! max_upload_mb = """
//! [flags.max_upload_mb]
//! value = 25
//! """
//!
//! [segments.beta]
//! added = ["u-123"]
//! removed = []
//! ```
//!
//! Each override is the entry's text exactly as the store holds it, so a restore writes back
//! the same bytes. Written with the `toml` crate's writer (every key and string escaped as
//! TOML needs); read with `toml`, refusing anything else with the line.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;

use flags_model::{Diagnostic, SourceFile};
use toml::Spanned;
use toml::de::{DeTable, DeValue};
use toml_writer::TomlWrite as _;

use super::StoreError;
use super::read::StoredSegment;

/// The contents of one environment's store as a document: overrides and segment memberships,
/// with the store's identity and version when it was taken.
#[derive(Clone, Debug, Default)]
pub struct StoreExport {
    /// The environment whose store it is.
    pub environment: String,
    /// The store's identity then; `None` for a store no write had given one yet.
    pub store: Option<String>,
    /// The store's version then (its count of writes).
    pub version: u64,
    /// Flag key → the entry's TOML text, exactly as the store holds it.
    pub overrides: BTreeMap<String, String>,
    /// Segment memberships, each segment once.
    pub segments: Vec<StoredSegment>,
    /// The line of each override in the document it was read from (for messages).
    lines: BTreeMap<String, usize>,
    /// The name of that document.
    read_from: Option<String>,
}

/// Two documents are equal when they hold the same things, wherever they were read from.
impl PartialEq for StoreExport {
    fn eq(&self, other: &Self) -> bool {
        self.environment == other.environment
            && self.store == other.store
            && self.version == other.version
            && self.overrides == other.overrides
            && self.segments == other.segments
    }
}

impl Eq for StoreExport {}

/// The keys a document may have at its top level.
const TOP_LEVEL: [&str; 5] = ["environment", "store", "version", "overrides", "segments"];

impl StoreExport {
    /// An empty document for `environment`.
    pub fn new(environment: &str) -> Self {
        Self {
            environment: environment.to_owned(),
            ..Self::default()
        }
    }

    /// The document as TOML text; [`StoreExport::parse`] reads it back equal.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail: the results are only `fmt::Result`s of a String.
        let _ = self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) -> std::fmt::Result {
        out.write_str(
            "# The overrides and segment memberships of one environment's flags store.\n\
             # `flags store restore FILE` puts them back (docs/operations.md).\n",
        )?;
        out.key("environment")?;
        out.write_str(" = ")?;
        out.value(self.environment.as_str())?;
        out.newline()?;
        if let Some(store) = &self.store {
            out.key("store")?;
            out.write_str(" = ")?;
            out.value(store.as_str())?;
            out.newline()?;
        }
        out.key("version")?;
        out.write_str(" = ")?;
        // TOML integers are 64-bit signed, as Redis counters are.
        out.value(i64::try_from(self.version).unwrap_or(i64::MAX))?;
        out.newline()?;
        out.newline()?;
        out.open_table_header()?;
        out.key("overrides")?;
        out.close_table_header()?;
        out.newline()?;
        for (flag, text) in &self.overrides {
            out.key(flag.as_str())?;
            out.write_str(" = ")?;
            out.value(text.as_str())?;
            out.newline()?;
        }
        for segment in &self.segments {
            out.newline()?;
            out.open_table_header()?;
            out.key("segments")?;
            out.key_sep()?;
            out.key(segment.name.as_str())?;
            out.close_table_header()?;
            out.newline()?;
            for (name, keys) in [("added", &segment.added), ("removed", &segment.removed)] {
                out.key(name)?;
                out.write_str(" = ")?;
                out.open_array()?;
                for (position, key) in keys.iter().enumerate() {
                    if position > 0 {
                        out.val_sep()?;
                        out.space()?;
                    }
                    out.value(key.as_str())?;
                }
                out.close_array()?;
                out.newline()?;
            }
        }
        Ok(())
    }

    /// Reads a document named `name` (a file name, `flags:v1:production:recovery`): anything
    /// that is not one is refused with the line and what is wrong. Never panics.
    pub fn parse(name: &str, text: &str) -> Result<StoreExport, StoreError> {
        let file = SourceFile::new(name, text);
        let refuse = |message: String, span: Option<Range<usize>>| StoreError::InvalidDocument {
            document: name.to_owned(),
            message: match span {
                Some(span) => Diagnostic::new(message, span).render(&file),
                None => Diagnostic::whole_file(message).render(&file),
            },
        };
        let table = DeTable::parse(text)
            .map_err(|error| refuse(format!("not TOML: {}", error.message()), error.span()))?;
        let mut document = StoreExport {
            read_from: Some(name.to_owned()),
            ..StoreExport::default()
        };
        let mut environment = None;
        let mut version = None;
        for (key, value) in table.get_ref() {
            match key.get_ref().as_ref() {
                "environment" => {
                    environment = Some(string(value).map_err(|e| refuse(e, Some(value.span())))?)
                }
                "store" => {
                    document.store = Some(string(value).map_err(|e| refuse(e, Some(value.span())))?)
                }
                "version" => {
                    version = Some(count(value).map_err(|e| refuse(e, Some(value.span())))?)
                }
                "overrides" => {
                    let overrides = table_of(value).map_err(|e| refuse(e, Some(value.span())))?;
                    for (flag, text) in overrides {
                        let flag_name = flag.get_ref().to_string();
                        let text = string(text).map_err(|e| {
                            refuse(format!("override of `{flag_name}`: {e}"), Some(text.span()))
                        })?;
                        document
                            .lines
                            .insert(flag_name.clone(), file.location(flag.span().start).line);
                        document.overrides.insert(flag_name, text);
                    }
                }
                "segments" => {
                    let segments = table_of(value).map_err(|e| refuse(e, Some(value.span())))?;
                    for (segment, members) in segments {
                        let name = segment.get_ref().to_string();
                        let members = table_of(members).map_err(|e| {
                            refuse(format!("segment `{name}`: {e}"), Some(members.span()))
                        })?;
                        let mut stored = StoredSegment {
                            name,
                            ..StoredSegment::default()
                        };
                        for (list, keys) in members {
                            let into = match list.get_ref().as_ref() {
                                "added" => &mut stored.added,
                                "removed" => &mut stored.removed,
                                other => {
                                    return Err(refuse(
                                        format!(
                                            "segment `{}`: unknown key `{other}`; a segment has `added` and `removed`",
                                            stored.name
                                        ),
                                        Some(list.span()),
                                    ));
                                }
                            };
                            *into = strings(keys).map_err(|e| {
                                refuse(format!("segment `{}`: {e}", stored.name), Some(keys.span()))
                            })?;
                            into.sort();
                            into.dedup();
                        }
                        document.segments.push(stored);
                    }
                }
                other => {
                    return Err(refuse(
                        format!(
                            "unknown key `{other}`; an export document has {}",
                            TOP_LEVEL.join(", ")
                        ),
                        Some(key.span()),
                    ));
                }
            }
        }
        document.environment = environment
            .ok_or_else(|| refuse("no `environment`: not an export document".into(), None))?;
        document.version =
            version.ok_or_else(|| refuse("no `version`: not an export document".into(), None))?;
        Ok(document)
    }

    /// Where override `flag` is written in the document this was read from:
    /// `backup.toml:12`; the document's name alone without a line.
    pub(super) fn place_of(&self, flag: &str) -> String {
        let name = self.read_from.as_deref().unwrap_or("the document");
        match self.lines.get(flag) {
            Some(line) => format!("{name}:{line}"),
            None => name.to_owned(),
        }
    }

    /// The name of the document this was read from, if it was read from one.
    pub(super) fn read_from(&self) -> Option<&str> {
        self.read_from.as_deref()
    }
}

fn string(value: &Spanned<DeValue<'_>>) -> Result<String, String> {
    match value.get_ref() {
        DeValue::String(text) => Ok(text.to_string()),
        other => Err(format!("expected a string, found {}", other.type_str())),
    }
}

fn count(value: &Spanned<DeValue<'_>>) -> Result<u64, String> {
    match value.get_ref() {
        DeValue::Integer(integer) => u64::from_str_radix(integer.as_str(), integer.radix())
            .map_err(|_| format!("expected a count of writes (0 or more), found {integer}")),
        other => Err(format!("expected an integer, found {}", other.type_str())),
    }
}

fn table_of<'t, 'i>(value: &'t Spanned<DeValue<'i>>) -> Result<&'t DeTable<'i>, String> {
    match value.get_ref() {
        DeValue::Table(table) => Ok(table),
        other => Err(format!("expected a table, found {}", other.type_str())),
    }
}

fn strings(value: &Spanned<DeValue<'_>>) -> Result<Vec<String>, String> {
    match value.get_ref() {
        DeValue::Array(items) => items
            .iter()
            .map(|item| string(item).map_err(|e| format!("{e} in the list")))
            .collect(),
        other => Err(format!(
            "expected a list of context keys, found {}",
            other.type_str()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StoreExport {
        let mut document = StoreExport::new("production");
        document.store = Some("8d0f2c4e-5b7a-4c1e-9f3d-2a6b8c0e4f17".into());
        document.version = 42;
        for (flag, text) in [
            ("max_upload_mb", "[flags.\"max_upload_mb\"]\nvalue = 25\n"),
            (
                "comments_enabled",
                "[[flags.comments_enabled.value.rules]]\nwhen = [{ segment = \"beta\" }]\nserve = true\n",
            ),
            ("odd key \"'.", "a\"\"\"b\\c\r\n\ttab\u{7f}\u{0}é'''x\n\"\""),
            ("", ""),
        ] {
            document.overrides.insert(flag.into(), text.into());
        }
        document.segments.push(StoredSegment {
            name: "beta".into(),
            added: vec!["quote\"d".into(), "u-1".into()],
            removed: vec![],
        });
        document.segments.push(StoredSegment {
            name: "odd.segment".into(),
            added: vec![],
            removed: vec!["x\ny".into()],
        });
        document
    }

    #[test]
    fn a_document_reads_back_equal_byte_for_byte() {
        let document = sample();
        let text = document.to_toml();
        let read = StoreExport::parse("backup.toml", &text).expect("a valid document");
        assert_eq!(read, document, "{text}");
        assert_eq!(read.to_toml(), text);
        assert_eq!(read.place_of("max_upload_mb"), "backup.toml:14", "{text}");
    }

    #[test]
    fn entries_are_written_as_readable_multi_line_strings() {
        let text = sample().to_toml();
        assert!(
            text.contains(
                "max_upload_mb = \"\"\"\n[flags.\"max_upload_mb\"]\nvalue = 25\n\"\"\"\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_bad_document_is_refused_with_its_line() {
        let cases = [
            (
                "environment = \"production\"\nversion = 1\n[overrides]\nx = 3\n",
                "backup.toml:4",
                "expected a string, found integer",
            ),
            (
                "environment = \"production\"\nversion = -1\n",
                "backup.toml:2",
                "count of writes",
            ),
            (
                "environment = \"production\"\nversion = 1\nextra = true\n",
                "backup.toml:3",
                "unknown key `extra`",
            ),
            ("version = 1\n", "backup.toml", "no `environment`"),
            (
                "environment = \"production\"\nversion = 1\n[segments.beta]\nadded = [1]\n",
                "backup.toml:4",
                "segment `beta`",
            ),
            (
                "environment = \"production\"\nversion = 1\n[segments.beta]\nadd = []\n",
                "backup.toml:4",
                "unknown key `add`",
            ),
            (
                "environment = \"production\"\nversion = \"1\"\n",
                "backup.toml:2",
                "expected an integer",
            ),
            (
                "environment = \"production\"\nversion = 1\n[overrides\n",
                "backup.toml:3",
                "not TOML",
            ),
            ("\r", "backup.toml", "not TOML"),
        ];
        for (text, place, message) in cases {
            let error = StoreExport::parse("backup.toml", text).expect_err(text);
            let shown = error.to_string();
            assert!(
                shown.contains(place) && shown.contains(message),
                "{text:?}: {shown}"
            );
        }
    }

    #[test]
    fn no_input_makes_it_panic() {
        let text = sample().to_toml();
        // Every prefix of a valid document, and every byte flipped: refused or read, never a panic.
        for end in (0..=text.len()).filter(|end| text.is_char_boundary(*end)) {
            let _ = StoreExport::parse("cut.toml", &text[..end]);
        }
        for at in 0..text.len() {
            let mut bytes = text.clone().into_bytes();
            bytes[at] = bytes[at].wrapping_add(1);
            if let Ok(flipped) = String::from_utf8(bytes) {
                let _ = StoreExport::parse("flipped.toml", &flipped);
            }
        }
    }
}
