//! Reading `flags.toml` into a [`Catalog`], collecting every problem on the way.

use std::collections::HashMap;
use std::sync::Arc;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use crate::catalog::{Catalog, Date, Environments, Flag, OverrideSettings};
use crate::diagnostic::Diagnostic;
use crate::naming::{self, did_you_mean};
use crate::source::SourceFile;
use crate::targeting::SettingContext;
use crate::value::{FlagType, Variant, describe_toml};

/// Keys a flag's table may hold besides its environments' names.
pub const FLAG_KEYS: &[&str] = &[
    "description",
    "owner",
    "ticket",
    "expires",
    "default",
    "variants",
    "requires",
];

const TOP_LEVEL_KEYS: &[&str] = &["environments", "overrides", "lints", "segments", "flags"];
const ENVIRONMENTS_KEYS: &[&str] = &["names", "variable", "default"];
const OVERRIDES_KEYS: &[&str] = &["env_prefix", "file_variable"];

const DEFAULT_VARIABLE: &str = "APP_ENV";
const DEFAULT_ENV_PREFIX: &str = "FLAGS_";
const DEFAULT_FILE_VARIABLE: &str = "FLAGS_OVERRIDES";

/// The result of reading a `flags.toml`: a catalog of everything that could be understood,
/// and every problem found. The file is valid only when `diagnostics` is empty; the catalog
/// is still useful when it is not (a code generator can keep going for the valid flags).
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The flags, environments and settings that were understood.
    pub catalog: Catalog,
    /// Every problem, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Catalog {
    /// Reads and validates a `flags.toml`, reporting every problem, or none.
    pub fn parse(file: &SourceFile) -> Result<Catalog, Vec<Diagnostic>> {
        let parsed = parse(file);
        if parsed.diagnostics.is_empty() {
            Ok(parsed.catalog)
        } else {
            Err(parsed.diagnostics)
        }
    }
}

/// Reads `flags.toml`, keeping going after problems.
pub fn parse(file: &SourceFile) -> Parsed {
    let (root, syntax_errors) = DeTable::parse_recoverable(file.text());
    let mut reader = Reader::default();
    for error in &syntax_errors {
        reader.error(Diagnostic::new(
            format!("invalid TOML: {}", error.message()),
            error.span().unwrap_or(0..0),
        ));
    }
    let catalog = reader.catalog(file, root.get_ref());
    let mut diagnostics = reader.diagnostics;
    if !syntax_errors.is_empty() {
        // After a syntax error the recovered table is a guess; checking it would report
        // problems that are only echoes of the syntax error.
        diagnostics.truncate(syntax_errors.len());
    }
    diagnostics.sort_by_key(|d| d.span().map_or(0, |s| s.start));
    Parsed {
        catalog,
        diagnostics,
    }
}

/// Collects diagnostics while reading tables.
#[derive(Default)]
pub(crate) struct Reader {
    pub(crate) diagnostics: Vec<Diagnostic>,
}

type Entry<'a, 'i> = (&'a Spanned<DeString<'i>>, &'a Spanned<DeValue<'i>>);

impl Reader {
    pub(crate) fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn catalog(&mut self, file: &SourceFile, root: &DeTable<'_>) -> Catalog {
        for (key, _) in root {
            if !TOP_LEVEL_KEYS.contains(&key.get_ref().as_ref()) {
                self.unknown_key(
                    key,
                    TOP_LEVEL_KEYS,
                    "the top level of flags.toml",
                    Some(
                        "flags.toml holds [environments], [overrides], [lints], [segments.<name>] and [flags.<name>] tables"
                            .into(),
                    ),
                );
            }
        }
        let environments = self.environments(root);
        let overrides = self.override_settings(root);
        if environments.variable == overrides.file_variable {
            let span = root
                .get_key_value("environments")
                .and_then(|(_, v)| {
                    v.get_ref()
                        .as_table()?
                        .get_key_value("variable")
                        .map(|(_, v)| v.span())
                })
                .unwrap_or(0..0);
            self.error(
                Diagnostic::new(
                    format!(
                        "`{}` cannot both select the environment and name the overrides file",
                        environments.variable
                    ),
                    span,
                )
                .with_help("change [environments] variable or [overrides] file_variable"),
            );
        }
        let lints = self.lints(root);
        let segments = self.segments(root);
        let segment_names: Vec<String> = segments.iter().map(|s| s.name.clone()).collect();
        let mut flags = Vec::new();
        let flag_tables = root
            .get_key_value("flags")
            .and_then(|(_, value)| self.table(value, "`flags`", "[flags.<name>] tables"));
        for (key, value) in flag_tables.into_iter().flatten() {
            if let Some(flag) = self.flag(file, (key, value), &environments, &segment_names) {
                flags.push(flag);
            }
        }
        let mut catalog = Catalog {
            environments,
            overrides,
            lints,
            segments,
            flags,
        };
        let unnameable = self.check_names(&catalog);
        // Keep only flags that can be generated, so one naming problem is one error.
        let mut index = 0;
        catalog.flags.retain(|_| {
            index += 1;
            !unnameable.contains(&(index - 1))
        });
        // Requirements name other flags, so they are read once every flag is known.
        let by_name: HashMap<String, (usize, FlagType)> = catalog
            .flags
            .iter()
            .enumerate()
            .flat_map(|(index, flag)| {
                [flag.key.clone(), flag.accessor.clone()]
                    .map(|name| (name, (index, flag.flag_type.clone())))
            })
            .collect();
        let keys: Vec<String> = catalog.flags.iter().map(|f| f.key.clone()).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        for flag in &mut catalog.flags {
            let requires = flag_tables
                .and_then(|tables| tables.get(flag.key.as_str()))
                .and_then(|value| value.get_ref().as_table())
                .and_then(|table| table.get_key_value("requires"));
            if let Some((_, requires)) = requires {
                flag.requires = self.requirements(requires, &flag.key, &by_name, &keys);
            }
        }
        self.check_requirement_cycles(&catalog);
        catalog
    }

    fn environments(&mut self, root: &DeTable<'_>) -> Environments {
        let mut environments = Environments {
            names: Vec::new(),
            variable: DEFAULT_VARIABLE.to_owned(),
            default: None,
        };
        let Some((_, value)) = root.get_key_value("environments") else {
            self.error(
                Diagnostic::whole_file("flags.toml has no [environments] table").with_help(
                    "add one, e.g. [environments] names = [\"development\", \"production\"] default = \"development\"",
                ),
            );
            return environments;
        };
        let Some(table) = self.table(value, "`environments`", "a table") else {
            return environments;
        };
        self.reject_unknown_keys(table, ENVIRONMENTS_KEYS, "[environments]");

        match table.get_key_value("names") {
            None => self.error(
                Diagnostic::new("[environments] has no `names`", value.span())
                    .with_help("list them: names = [\"development\", \"production\"]"),
            ),
            Some((_, names)) => match names.get_ref() {
                DeValue::Array(array) => {
                    for name in array {
                        self.environment_name(name, &mut environments.names);
                    }
                    if environments.names.is_empty() {
                        self.error(
                            Diagnostic::new("`names` lists no environment", names.span())
                                .with_help("list them: names = [\"development\", \"production\"]"),
                        );
                    }
                }
                other => self.error(Diagnostic::new(
                    format!(
                        "`names` must be an array of strings, found {}",
                        describe_toml(other)
                    ),
                    names.span(),
                )),
            },
        }

        if let Some(variable) = self.string(table, "variable", "[environments]") {
            if is_env_var_name(variable.get_ref()) {
                environments.variable = variable.get_ref().clone();
            } else {
                self.error(
                    Diagnostic::new(
                        format!(
                            "`{}` is not an environment variable name",
                            variable.get_ref()
                        ),
                        variable.span(),
                    )
                    .with_help("use letters, digits and `_`, not starting with a digit"),
                );
            }
        }
        if let Some(default) = self.string(table, "default", "[environments]") {
            match environments.position(default.get_ref()) {
                Some(index) => environments.default = Some(index),
                None if !environments.names.is_empty() => self.error(
                    Diagnostic::new(
                        format!(
                            "default environment `{}` is not in `names`{}",
                            default.get_ref(),
                            did_you_mean(
                                default.get_ref(),
                                environments.names.iter().map(String::as_str)
                            )
                        ),
                        default.span(),
                    )
                    .with_help(format!("`names` are: {}", environments.names.join(", "))),
                ),
                None => {}
            }
        }
        environments
    }

    fn environment_name(&mut self, name: &Spanned<DeValue<'_>>, names: &mut Vec<String>) {
        let DeValue::String(text) = name.get_ref() else {
            self.error(Diagnostic::new(
                format!(
                    "an environment name must be a string, found {}",
                    describe_toml(name.get_ref())
                ),
                name.span(),
            ));
            return;
        };
        let text = text.as_ref();
        let valid = text.starts_with(|c: char| c.is_ascii_alphabetic())
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            self.error(
                Diagnostic::new(
                    format!("`{text}` is not a valid environment name"),
                    name.span(),
                )
                .with_help("use ASCII letters, digits, `_` and `-`, starting with a letter"),
            );
        } else if FLAG_KEYS.contains(&text) || text == crate::overrides::ALL_ENVIRONMENTS_KEY {
            self.error(
                Diagnostic::new(
                    format!("`{text}` cannot name an environment: flag tables and overrides files use `{text}` for their own setting"),
                    name.span(),
                )
                .with_help("rename the environment"),
            );
        } else if names.iter().any(|n| n == text) {
            self.error(Diagnostic::new(
                format!("environment `{text}` is listed twice"),
                name.span(),
            ));
        } else {
            names.push(text.to_owned());
        }
    }

    fn override_settings(&mut self, root: &DeTable<'_>) -> OverrideSettings {
        let mut settings = OverrideSettings {
            env_prefix: DEFAULT_ENV_PREFIX.to_owned(),
            file_variable: DEFAULT_FILE_VARIABLE.to_owned(),
        };
        let Some((_, value)) = root.get_key_value("overrides") else {
            return settings;
        };
        let Some(table) = self.table(value, "`overrides`", "a table") else {
            return settings;
        };
        self.reject_unknown_keys(table, OVERRIDES_KEYS, "[overrides]");
        if let Some(prefix) = self.string(table, "env_prefix", "[overrides]") {
            let text = prefix.get_ref();
            if !text.is_empty() && is_env_var_name(text) {
                settings.env_prefix = text.clone();
            } else {
                self.error(
                    Diagnostic::new(
                        format!("`{text}` is not a usable variable prefix"),
                        prefix.span(),
                    )
                    .with_help("use letters, digits and `_`, e.g. env_prefix = \"FLAGS_\""),
                );
            }
        }
        if let Some(variable) = self.string(table, "file_variable", "[overrides]") {
            if is_env_var_name(variable.get_ref()) {
                settings.file_variable = variable.get_ref().clone();
            } else {
                self.error(Diagnostic::new(
                    format!(
                        "`{}` is not an environment variable name",
                        variable.get_ref()
                    ),
                    variable.span(),
                ));
            }
        }
        settings
    }

    fn flag(
        &mut self,
        file: &SourceFile,
        (key, value): Entry<'_, '_>,
        environments: &Environments,
        segments: &[String],
    ) -> Option<Flag> {
        let name = key.get_ref().as_ref();
        let table = self.table(
            value,
            &format!("flag `{name}`"),
            &format!("a table: [flags.{name}]"),
        )?;
        let env_names: Vec<&str> = environments.names.iter().map(String::as_str).collect();
        let known: Vec<&str> = FLAG_KEYS
            .iter()
            .copied()
            .chain(env_names.iter().copied())
            .collect();
        self.reject_unknown_keys(table, &known, &format!("flag `{name}`"));

        let context = format!("flag `{name}`");
        let description = match self.string(table, "description", &context) {
            Some(d) if !d.get_ref().trim().is_empty() => d.get_ref().clone(),
            Some(d) => {
                self.error(
                    Diagnostic::new(
                        format!("flag `{name}` has an empty `description`"),
                        d.span(),
                    )
                    .with_help("say what the flag does"),
                );
                String::new()
            }
            None => {
                if !table.contains_key("description") {
                    self.error(
                        Diagnostic::new(format!("flag `{name}` has no `description`"), key.span())
                            .with_help("add description = \"what the flag does\""),
                    );
                }
                String::new()
            }
        };
        let owner = self
            .string(table, "owner", &context)
            .map(|s| s.get_ref().clone());
        let ticket = self
            .string(table, "ticket", &context)
            .map(|s| s.get_ref().clone());
        let expires = table
            .get_key_value("expires")
            .and_then(|(_, v)| self.date(v, name));
        let accessor = match naming::accessor_name(name) {
            Ok(accessor) => accessor,
            Err(why) => {
                self.error(
                    Diagnostic::new(format!("flag key {why}"), key.span())
                        .with_help("rename the flag"),
                );
                return None;
            }
        };

        let variants = table
            .get_key_value("variants")
            .and_then(|(_, v)| self.variants(v, name));
        let Some((_, default)) = table.get_key_value("default") else {
            self.error(
                Diagnostic::new(format!("flag `{name}` has no `default`"), key.span())
                    .with_help("add a default; its type is the flag's type: default = false"),
            );
            return None;
        };
        let flag_type = match (&variants, default.get_ref()) {
            (Some(variants), _) => FlagType::Variants(variants.clone()),
            (None, DeValue::Boolean(_)) => FlagType::Bool,
            (None, DeValue::Integer(_)) => FlagType::Int,
            (None, DeValue::Float(_)) => FlagType::Float,
            (None, DeValue::String(_)) => FlagType::String,
            (None, other) => {
                self.error(
                    Diagnostic::new(
                        format!("`default` of flag `{name}` must be a bool, integer, float or string, found {}", describe_toml(other)),
                        default.span(),
                    )
                    .with_help("for a closed set of names, add variants = [\"a\", \"b\"] and default = \"a\""),
                );
                return None;
            }
        };
        let default_value = match flag_type.check_toml(default.get_ref()) {
            Ok(value) => value,
            Err(error) => {
                let message = match &flag_type {
                    FlagType::Variants(_) => format!(
                        "`default` of flag `{name}` must be {}, found {}",
                        error.expected(),
                        error.found()
                    ),
                    _ => format!("`default` of flag `{name}`: {error}"),
                };
                self.error(
                    Diagnostic::new(message, default.span())
                        .with_optional_help(error.help().map(str::to_owned)),
                );
                return None;
            }
        };

        let mut values = vec![None; environments.names.len()];
        let setting_context = SettingContext {
            flag: name,
            flag_type: &flag_type,
            default: &default_value,
            segments,
            file,
        };
        for (index, environment) in environments.names.iter().enumerate() {
            if let Some((_, value)) = table.get_key_value(environment.as_str()) {
                values[index] = self.setting(environment, value, &setting_context);
            }
        }

        let type_name = match &flag_type {
            FlagType::Variants(_) => match naming::type_name(name) {
                Ok(type_name) => Some(type_name),
                Err(why) => {
                    self.error(Diagnostic::new(format!("flag key {why}"), key.span()));
                    None
                }
            },
            _ => None,
        };

        Some(Flag {
            key: name.to_owned(),
            accessor,
            type_name,
            description,
            owner,
            ticket,
            expires,
            flag_type,
            default: default_value,
            environments: values,
            requires: Vec::new(),
            span: key.span(),
            line: file.location(key.span().start).line,
        })
    }

    fn variants(&mut self, value: &Spanned<DeValue<'_>>, flag: &str) -> Option<Arc<[Variant]>> {
        let DeValue::Array(array) = value.get_ref() else {
            self.error(Diagnostic::new(
                format!(
                    "`variants` of flag `{flag}` must be an array of strings, found {}",
                    describe_toml(value.get_ref())
                ),
                value.span(),
            ));
            return None;
        };
        let mut variants: Vec<Variant> = Vec::new();
        let mut ok = true;
        for item in array {
            let DeValue::String(name) = item.get_ref() else {
                self.error(Diagnostic::new(
                    format!(
                        "a variant of flag `{flag}` must be a string, found {}",
                        describe_toml(item.get_ref())
                    ),
                    item.span(),
                ));
                ok = false;
                continue;
            };
            let ident = match naming::type_name(name) {
                Ok(ident) => ident,
                Err(why) => {
                    self.error(
                        Diagnostic::new(format!("variant {why}"), item.span())
                            .with_help("rename the variant"),
                    );
                    ok = false;
                    continue;
                }
            };
            if let Some(other) = variants.iter().find(|v| v.ident == ident) {
                let message = if *other.name == **name {
                    format!("variant `{name}` of flag `{flag}` is listed twice")
                } else {
                    format!(
                        "variants `{}` and `{name}` of flag `{flag}` both become `{ident}`",
                        other.name
                    )
                };
                self.error(Diagnostic::new(message, item.span()));
                ok = false;
                continue;
            }
            variants.push(Variant {
                name: Arc::from(name.as_ref()),
                ident,
            });
        }
        if variants.is_empty() && ok {
            self.error(
                Diagnostic::new(format!("flag `{flag}` lists no variants"), value.span())
                    .with_help("list its values: variants = [\"a\", \"b\"]"),
            );
            return None;
        }
        ok.then(|| variants.into())
    }

    fn date(&mut self, value: &Spanned<DeValue<'_>>, flag: &str) -> Option<Date> {
        if let DeValue::Datetime(datetime) = value.get_ref() {
            if let (Some(date), None, None) = (datetime.date, datetime.time, datetime.offset) {
                return Some(Date {
                    year: date.year,
                    month: date.month,
                    day: date.day,
                });
            }
        }
        self.error(
            Diagnostic::new(
                format!(
                    "`expires` of flag `{flag}` must be a date, found {}",
                    describe_toml(value.get_ref())
                ),
                value.span(),
            )
            .with_help("write a bare TOML date: expires = 2027-03-31"),
        );
        None
    }

    /// Checks that generated names are unique and free; returns the indexes of flags whose
    /// names are not.
    fn check_names(&mut self, catalog: &Catalog) -> Vec<usize> {
        // Every method a flag generates on `Flags`, with the flag and whether it is the accessor.
        let mut methods: HashMap<String, (&Flag, bool)> = HashMap::new();
        let mut types: HashMap<&str, &Flag> = HashMap::new();
        let mut unnameable = Vec::new();
        for (index, flag) in catalog.flags.iter().enumerate() {
            let errors_before = self.diagnostics.len();
            if naming::RESERVED_ACCESSORS.contains(&flag.accessor.as_str()) {
                self.error(
                    Diagnostic::new(
                        format!(
                            "flag `{}` would generate the accessor `{}()`, a name the generated types already use",
                            flag.key, flag.accessor
                        ),
                        flag.span.clone(),
                    )
                    .with_help(format!("rename the flag; reserved names are: {}", naming::RESERVED_ACCESSORS.join(", "))),
                );
            }
            let generated = std::iter::once((flag.accessor.clone(), true)).chain(
                naming::ACCESSOR_SUFFIXES
                    .iter()
                    .map(|suffix| (format!("{}{suffix}", flag.accessor), false)),
            );
            for (method, primary) in generated.collect::<Vec<_>>() {
                if let Some(&(first, first_primary)) = methods.get(&method) {
                    let message = if primary && first_primary {
                        format!(
                            "flags `{}` (line {}) and `{}` both become the accessor `{method}()`",
                            first.key, first.line, flag.key
                        )
                    } else {
                        format!(
                            "flags `{}` (line {}) and `{}` both generate `{method}()`",
                            first.key, first.line, flag.key
                        )
                    };
                    self.error(
                        Diagnostic::new(message, flag.span.clone()).with_help("rename one of them"),
                    );
                    break;
                }
                methods.insert(method, (flag, primary));
            }
            if let Some(type_name) = &flag.type_name {
                if let Some(first) = first_with(&mut types, type_name, flag) {
                    self.error(
                        Diagnostic::new(
                            format!(
                                "flags `{}` (line {}) and `{}` both become enum `{type_name}`",
                                first.key, first.line, flag.key
                            ),
                            flag.span.clone(),
                        )
                        .with_help("rename one of them"),
                    );
                }
            }
            let env_var = catalog.env_var(flag);
            if env_var == catalog.environments.variable {
                self.error(
                    Diagnostic::new(
                        format!(
                            "flag `{}` would be overridden by `{env_var}`, which selects the environment",
                            flag.key
                        ),
                        flag.span.clone(),
                    )
                    .with_help("rename the flag, or change [overrides] env_prefix"),
                );
            }
            if env_var == catalog.overrides.file_variable {
                self.error(
                    Diagnostic::new(
                        format!("flag `{}` would be overridden by `{env_var}`, which names the overrides file", flag.key),
                        flag.span.clone(),
                    )
                    .with_help("rename the flag, or set [overrides] file_variable to another name"),
                );
            }
            if self.diagnostics.len() > errors_before {
                unnameable.push(index);
            }
        }
        unnameable
    }

    // Small readers shared by flags.toml and overrides files.

    pub(crate) fn table<'a, 'i>(
        &mut self,
        value: &'a Spanned<DeValue<'i>>,
        what: &str,
        expected: &str,
    ) -> Option<&'a DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(table),
            other => {
                self.error(Diagnostic::new(
                    format!("{what} must be {expected}, found {}", describe_toml(other)),
                    value.span(),
                ));
                None
            }
        }
    }

    fn string(&mut self, table: &DeTable<'_>, key: &str, context: &str) -> Option<Spanned<String>> {
        let (_, value) = table.get_key_value(key)?;
        let text = self.text(value, &format!("`{key}` in {context}"), false)?;
        Some(Spanned::new(value.span(), text.to_owned()))
    }

    /// The text of a string value; otherwise reports "`what` must be a (non-empty) string".
    pub(crate) fn text<'v>(
        &mut self,
        value: &'v Spanned<DeValue<'_>>,
        what: &str,
        non_empty: bool,
    ) -> Option<&'v str> {
        match value.get_ref() {
            DeValue::String(text) if !non_empty || !text.trim().is_empty() => Some(text.as_ref()),
            other => {
                let kind = if non_empty {
                    "a non-empty string"
                } else {
                    "a string"
                };
                let found = match other {
                    DeValue::String(_) => "an empty string",
                    other => describe_toml(other),
                };
                self.error(Diagnostic::new(
                    format!("{what} must be {kind}, found {found}"),
                    value.span(),
                ));
                None
            }
        }
    }

    /// The bool of a bool value; otherwise reports "`what` must be a bool".
    pub(crate) fn boolean(&mut self, value: &Spanned<DeValue<'_>>, what: &str) -> Option<bool> {
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                self.error(Diagnostic::new(
                    format!("{what} must be a bool, found {}", describe_toml(other)),
                    value.span(),
                ));
                None
            }
        }
    }

    pub(crate) fn reject_unknown_keys(
        &mut self,
        table: &DeTable<'_>,
        known: &[&str],
        context: &str,
    ) {
        for (key, _) in table {
            if !known.contains(&key.get_ref().as_ref()) {
                self.unknown_key(key, known, context, None);
            }
        }
    }

    /// Reports an unknown key with the closest known one; `help` replaces the list of known keys.
    fn unknown_key(
        &mut self,
        key: &Spanned<DeString<'_>>,
        known: &[&str],
        context: &str,
        help: Option<String>,
    ) {
        let name = key.get_ref().as_ref();
        let help = help.unwrap_or_else(|| format!("expected one of: {}", known.join(", ")));
        self.error(
            Diagnostic::new(
                format!(
                    "unknown key `{name}` in {context}{}",
                    did_you_mean(name, known.iter().copied())
                ),
                key.span(),
            )
            .with_help(help),
        );
    }
}

impl Reader {
    /// A flag cannot require itself, directly or through others.
    fn check_requirement_cycles(&mut self, catalog: &Catalog) {
        let flags = &catalog.flags;
        let mut reported: Vec<Vec<usize>> = Vec::new();
        for start in 0..flags.len() {
            // Depth-first from `start`, reporting each path that comes back to it.
            let mut path = vec![start];
            let mut next = vec![0usize];
            while let Some(&current) = path.last() {
                let position = next.last().copied().unwrap_or(0);
                let Some(requirement) = flags[current].requires.get(position) else {
                    path.pop();
                    next.pop();
                    continue;
                };
                if let Some(last) = next.last_mut() {
                    *last += 1;
                }
                let target = requirement.flag;
                if target == start {
                    let mut cycle = path.clone();
                    let lowest = cycle
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, f)| **f)
                        .map_or(0, |(i, _)| i);
                    cycle.rotate_left(lowest);
                    if !reported.contains(&cycle) {
                        let names: Vec<String> = cycle
                            .iter()
                            .chain(cycle.first())
                            .map(|&f| format!("`{}`", flags[f].key))
                            .collect();
                        let first = &flags[cycle[0]];
                        self.error(
                            Diagnostic::new(
                                format!(
                                    "flags require each other in a cycle: {}",
                                    names.join(" → ")
                                ),
                                first.span.clone(),
                            )
                            .with_help("remove one of these requirements"),
                        );
                        reported.push(cycle);
                    }
                } else if !path.contains(&target) && target > start {
                    // Cycles through lower-numbered flags were found from those flags.
                    path.push(target);
                    next.push(0);
                }
            }
        }
    }
}

/// The flag that already has `name`, or records `flag` as its first holder.
fn first_with<'a>(
    seen: &mut HashMap<&'a str, &'a Flag>,
    name: &'a str,
    flag: &'a Flag,
) -> Option<&'a Flag> {
    match seen.get(name) {
        Some(first) => Some(first),
        None => {
            seen.insert(name, flag);
            None
        }
    }
}

fn is_env_var_name(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) fn example_of(flag_type: &FlagType) -> Option<String> {
    match flag_type {
        FlagType::Bool => Some("true".into()),
        FlagType::Int => Some("10".into()),
        FlagType::Float => Some("0.5".into()),
        FlagType::String => Some("\"text\"".into()),
        FlagType::Variants(variants) => variants.first().map(|v| format!("{:?}", v.name())),
    }
}
