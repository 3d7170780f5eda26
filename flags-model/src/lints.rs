//! The `[lints]` table: which checks `flags check` makes beyond the file's validity, and how
//! strictly. The macro and the runtime read the table (so a file that has it stays valid) but
//! act on nothing in it.
//!
//! ```toml
//! [lints]
//! bool_suffix = "_on"       # bool flags are named `*_on` instead of `*_enabled`
//! bool_patterns = ['product-[A-Z]+-[0-9]+-[a-z0-9-]+']   # ...or after their ticket
//! unused = "allow"          # flags used by other crates only
//! expired = "deny"          # a flag past its date fails `flags check`
//! ```

use std::fmt;

use regex::{Regex, RegexBuilder};
use toml::de::{DeTable, DeValue};

use crate::diagnostic::Diagnostic;
use crate::naming::did_you_mean;
use crate::parse::Reader;
use crate::value::describe_toml;

/// How `flags check` treats a lint's findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LintLevel {
    /// Not reported.
    Allow,
    /// Reported as a warning: `flags check` fails only with `--deny warnings`.
    Warn,
    /// Reported as an error: `flags check` fails.
    Deny,
}

/// A check of `flags check`, named in `[lints]` by [`Lint::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lint {
    /// A bool flag whose accessor does not end with [`Lints::bool_suffix`] and whose key
    /// matches none of [`Lints::bool_patterns`].
    BoolNaming,
    /// A flag without `owner` or without `ticket`.
    Ownership,
    /// A flag past its `expires` date.
    Expired,
    /// A flag the crate's sources never reference.
    Unused,
    /// A name used in the sources as a flag that `flags.toml` does not declare.
    Undeclared,
    /// A `#[feature_gate]` fn called only inside another flag's code path.
    NestedGate,
    /// An override, in the overrides file or the store, of a flag or segment that
    /// `flags.toml` does not declare (left over after the flag was removed, or misspelt): the
    /// runtime skips it.
    Leftover,
}

impl Lint {
    /// Every lint, in the order `flags check` documents them.
    pub const ALL: [Lint; 7] = [
        Lint::BoolNaming,
        Lint::Ownership,
        Lint::Expired,
        Lint::Unused,
        Lint::Undeclared,
        Lint::NestedGate,
        Lint::Leftover,
    ];

    /// The lint's key in `[lints]`.
    pub fn name(self) -> &'static str {
        match self {
            Lint::BoolNaming => "bool_naming",
            Lint::Ownership => "ownership",
            Lint::Expired => "expired",
            Lint::Unused => "unused",
            Lint::Undeclared => "undeclared",
            Lint::NestedGate => "nested_gate",
            Lint::Leftover => "leftover",
        }
    }

    /// The level when `[lints]` does not set one. An undeclared name would not compile, so
    /// it is an error; the others are warnings.
    pub fn default_level(self) -> LintLevel {
        match self {
            Lint::Undeclared => LintLevel::Deny,
            _ => LintLevel::Warn,
        }
    }

    /// The lint called `name` in `[lints]`.
    pub fn from_name(name: &str) -> Option<Lint> {
        Lint::ALL.into_iter().find(|lint| lint.name() == name)
    }
}

impl fmt::Display for Lint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl LintLevel {
    const NAMES: [(&'static str, LintLevel); 3] = [
        ("allow", LintLevel::Allow),
        ("warn", LintLevel::Warn),
        ("deny", LintLevel::Deny),
    ];
}

/// The `[lints]` table, with the defaults for what it does not set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lints {
    levels: Vec<(Lint, LintLevel)>,
    bool_suffix: String,
    bool_patterns: Vec<NamePattern>,
}

/// A naming convention of bool flags as a regular expression that the whole key matches
/// (`product-[A-Z]+-[0-9]+-[a-z0-9-]+` for `product-TASKS-103-comments`).
#[derive(Clone, Debug)]
pub struct NamePattern {
    text: String,
    /// `text`, anchored at both ends.
    regex: Regex,
}

impl NamePattern {
    /// The pattern as written in `[lints]`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the whole of `key` matches.
    pub fn matches(&self, key: &str) -> bool {
        self.regex.is_match(key)
    }
}

impl PartialEq for NamePattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for NamePattern {}

/// The naming convention of bool flags when `[lints]` sets no `bool_suffix`.
pub const DEFAULT_BOOL_SUFFIX: &str = "_enabled";

impl Default for Lints {
    fn default() -> Self {
        Self {
            levels: Vec::new(),
            bool_suffix: DEFAULT_BOOL_SUFFIX.to_owned(),
            bool_patterns: Vec::new(),
        }
    }
}

impl Lints {
    /// The level of `lint`: the one `[lints]` sets, else [`Lint::default_level`].
    pub fn level(&self, lint: Lint) -> LintLevel {
        self.levels
            .iter()
            .find(|(l, _)| *l == lint)
            .map_or(lint.default_level(), |(_, level)| *level)
    }

    /// The suffix every bool flag's accessor should end with (`_enabled`).
    pub fn bool_suffix(&self) -> &str {
        &self.bool_suffix
    }

    /// The other conventions a bool flag's key may follow instead (`bool_patterns`).
    pub fn bool_patterns(&self) -> &[NamePattern] {
        &self.bool_patterns
    }

    /// Whether a bool flag follows the naming convention: its accessor ends with
    /// [`Lints::bool_suffix`], or its key matches one of [`Lints::bool_patterns`].
    pub fn follows_bool_naming(&self, key: &str, accessor: &str) -> bool {
        accessor.ends_with(&self.bool_suffix) || self.bool_patterns.iter().any(|p| p.matches(key))
    }
}

const SUFFIX_KEY: &str = "bool_suffix";
const PATTERNS_KEY: &str = "bool_patterns";

/// The most compiled size of one `bool_patterns` expression: a naming convention is short,
/// and the macro reads this file at every build.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

impl Reader {
    /// Reads `[lints]`, if there is one.
    pub(crate) fn lints(&mut self, root: &DeTable<'_>) -> Lints {
        let mut lints = Lints::default();
        let Some((_, value)) = root.get_key_value("lints") else {
            return lints;
        };
        let Some(table) = self.table(value, "`lints`", "a table") else {
            return lints;
        };
        let known: Vec<&str> = [SUFFIX_KEY, PATTERNS_KEY]
            .into_iter()
            .chain(Lint::ALL.iter().map(|lint| lint.name()))
            .collect();
        self.reject_unknown_keys(table, &known, "[lints]");
        for (key, value) in table {
            let key = key.get_ref().as_ref();
            if key == SUFFIX_KEY {
                if let Some(suffix) = self.bool_suffix(value) {
                    lints.bool_suffix = suffix;
                }
            } else if key == PATTERNS_KEY {
                lints.bool_patterns = self.bool_patterns(value);
            } else if let Some(lint) = Lint::from_name(key) {
                if let Some(level) = self.lint_level(lint, value) {
                    lints.levels.push((lint, level));
                }
            }
        }
        lints
    }

    fn bool_suffix(&mut self, value: &toml::Spanned<DeValue<'_>>) -> Option<String> {
        let text = self.text(value, "`bool_suffix` in [lints]", true)?;
        let snake = text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if snake {
            return Some(text.to_owned());
        }
        self.error(
            Diagnostic::new(
                format!("`{text}` is not a usable accessor suffix"),
                value.span(),
            )
            .with_help(
                "accessors are snake_case: use lowercase letters, digits and `_`, e.g. bool_suffix = \"_enabled\"",
            ),
        );
        None
    }

    fn bool_patterns(&mut self, value: &toml::Spanned<DeValue<'_>>) -> Vec<NamePattern> {
        let DeValue::Array(items) = value.get_ref() else {
            self.error(
                Diagnostic::new(
                    format!(
                        "`bool_patterns` in [lints] must be an array of strings, found {}",
                        describe_toml(value.get_ref())
                    ),
                    value.span(),
                )
                .with_help("for example bool_patterns = ['product-[A-Z]+-[0-9]+-[a-z0-9-]+']"),
            );
            return Vec::new();
        };
        let mut patterns = Vec::new();
        for item in items {
            let Some(text) = self.text(item, "a pattern of `bool_patterns` in [lints]", true)
            else {
                continue;
            };
            let anchored = RegexBuilder::new(&format!("^(?:{text})$"))
                .size_limit(PATTERN_SIZE_LIMIT)
                .build();
            match anchored {
                Ok(regex) => patterns.push(NamePattern {
                    text: text.to_owned(),
                    regex,
                }),
                Err(error) => {
                    let detail = match error {
                        // Its last line says what is wrong; the others show the pattern.
                        regex::Error::Syntax(text) => text
                            .lines()
                            .last()
                            .map_or(String::new(), |l| l.trim().replace("error: ", "")),
                        regex::Error::CompiledTooBig(_) => "it is too large".to_owned(),
                        other => other.to_string(),
                    };
                    self.error(
                        Diagnostic::new(
                            format!("`{text}` in `bool_patterns` is not a usable regular expression: {detail}"),
                            item.span(),
                        )
                        .with_help("each pattern is a regular expression the whole key must match, e.g. 'product-[A-Z]+-[0-9]+-[a-z0-9-]+'"),
                    );
                }
            }
        }
        patterns
    }

    fn lint_level(&mut self, lint: Lint, value: &toml::Spanned<DeValue<'_>>) -> Option<LintLevel> {
        let what = format!("`{lint}` in [lints]");
        let text = self.text(value, &what, false)?;
        if let Some((_, level)) = LintLevel::NAMES.iter().find(|(name, _)| *name == text) {
            return Some(*level);
        }
        let names = LintLevel::NAMES.map(|(name, _)| name);
        self.error(
            Diagnostic::new(
                format!(
                    "{what} must be `allow`, `warn` or `deny`, found `{text}`{}",
                    did_you_mean(text, names)
                ),
                value.span(),
            )
            .with_help(format!("for example {lint} = \"allow\"")),
        );
        None
    }
}
