//! The `[lints]` table: which checks `flags check` makes beyond the file's validity, and how
//! strictly. The macro and the runtime read the table (so a file that has it stays valid) but
//! act on nothing in it.
//!
//! ```toml
//! [lints]
//! bool_suffix = "_on"       # bool flags are named `*_on` instead of `*_enabled`
//! unused = "allow"          # flags used by other crates only
//! expired = "deny"          # a flag past its date fails `flags check`
//! ```

use std::fmt;

use toml::de::{DeTable, DeValue};

use crate::diagnostic::Diagnostic;
use crate::naming::did_you_mean;
use crate::parse::Reader;

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
    /// A bool flag whose accessor does not end with [`Lints::bool_suffix`].
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
}

/// The naming convention of bool flags when `[lints]` sets no `bool_suffix`.
pub const DEFAULT_BOOL_SUFFIX: &str = "_enabled";

impl Default for Lints {
    fn default() -> Self {
        Self {
            levels: Vec::new(),
            bool_suffix: DEFAULT_BOOL_SUFFIX.to_owned(),
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
}

const SUFFIX_KEY: &str = "bool_suffix";

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
        let known: Vec<&str> = std::iter::once(SUFFIX_KEY)
            .chain(Lint::ALL.iter().map(|lint| lint.name()))
            .collect();
        self.reject_unknown_keys(table, &known, "[lints]");
        for (key, value) in table {
            let key = key.get_ref().as_ref();
            if key == SUFFIX_KEY {
                if let Some(suffix) = self.bool_suffix(value) {
                    lints.bool_suffix = suffix;
                }
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
