//! Reading `flags.toml` into a [`Catalog`], collecting every problem on the way.

use std::collections::HashMap;
use std::sync::Arc;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use crate::catalog::{Catalog, Date, Environments, Flag, Index, OverrideSettings};
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
///
/// At most [`MAX_DIAGNOSTICS`] problems are returned, the last of them saying how many more
/// there are, so that the output stays readable and bounded whatever the file holds.
pub fn parse(file: &SourceFile) -> Parsed {
    let (root, syntax_errors) = DeTable::parse_recoverable(file.text());
    let mut reader = Reader::default();
    for error in &syntax_errors {
        reader.error(Diagnostic::new(
            format!("invalid TOML: {}", error.message()),
            error.span().unwrap_or(0..0),
        ));
    }
    let catalog = if syntax_errors.is_empty() {
        reader.catalog(file, root.get_ref())
    } else {
        // After a syntax error the recovered table is a guess; checking it would report
        // problems that are only echoes of the syntax error. The catalog still lets a code
        // generator keep going.
        Reader::default().catalog(file, root.get_ref())
    };
    Parsed {
        catalog,
        diagnostics: reader.finish(),
    }
}

/// The most problems reported for one file; the last one reported then says how many more
/// there are.
pub const MAX_DIAGNOSTICS: usize = 50;

/// Collects diagnostics while reading tables: the first [`MAX_DIAGNOSTICS`], and a count of
/// the others.
#[derive(Default)]
pub(crate) struct Reader {
    diagnostics: Vec<Diagnostic>,
    /// Every error reported, kept or not: what "did this part have errors" is decided on.
    total: usize,
}

type Entry<'a, 'i> = (&'a Spanned<DeString<'i>>, &'a Spanned<DeValue<'i>>);

impl Reader {
    pub(crate) fn error(&mut self, diagnostic: Diagnostic) {
        self.total += 1;
        if self.diagnostics.len() < MAX_DIAGNOSTICS {
            self.diagnostics.push(diagnostic);
        }
    }

    /// Reports the error `make` builds, building it only when it will be kept.
    pub(crate) fn error_with(&mut self, make: impl FnOnce() -> Diagnostic) {
        if self.is_full() {
            self.total += 1;
        } else {
            self.error(make());
        }
    }

    /// How many errors have been reported so far, including those not kept.
    pub(crate) fn errors(&self) -> usize {
        self.total
    }

    /// Whether another error would only be counted: a caller can skip costly work (a "did
    /// you mean") for a message nobody will read.
    pub(crate) fn is_full(&self) -> bool {
        self.diagnostics.len() >= MAX_DIAGNOSTICS
    }

    /// Marks the errors reported since the count was `since` as being about `flag`.
    pub(crate) fn about_flag(&mut self, since: usize, flag: &str) {
        let kept_since = since.min(self.diagnostics.len());
        for diagnostic in &mut self.diagnostics[kept_since..] {
            diagnostic.set_flag_if_unset(flag);
        }
    }

    /// The diagnostics in file order; when some were not kept, the last says how many.
    pub(crate) fn finish(self) -> Vec<Diagnostic> {
        let mut diagnostics = self.diagnostics;
        diagnostics.sort_by_key(|d| d.span().map_or(0, |s| s.start));
        if self.total > diagnostics.len() {
            let shown = MAX_DIAGNOSTICS - 1;
            diagnostics.truncate(shown);
            let more = self.total - shown;
            diagnostics.push(
                Diagnostic::whole_file(format!("… and {more} more problems in this file"))
                    .with_help("fix the ones above first"),
            );
        }
        diagnostics
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
            // At whichever of the two is written (the other is its default), the later one
            // when both are.
            let written = |table: &str, key: &str| {
                root.get_key_value(table).and_then(|(_, v)| {
                    v.get_ref()
                        .as_table()?
                        .get_key_value(key)
                        .map(|(_, v)| v.span())
                })
            };
            let span = [
                written("environments", "variable"),
                written("overrides", "file_variable"),
            ]
            .into_iter()
            .flatten()
            .max_by_key(|span| span.start)
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
            let since = self.errors();
            if let Some(flag) = self.flag(file, (key, value), &environments, &segment_names) {
                flags.push(flag);
            }
            self.about_flag(since, key.get_ref());
        }
        let mut catalog = Catalog {
            environments,
            overrides,
            lints,
            segments,
            flags,
            index: Index::default(),
        };
        let unnameable = self.check_names(&catalog);
        // Keep only flags that can be generated, so one naming problem is one error.
        let mut index = 0;
        catalog.flags.retain(|_| {
            index += 1;
            unnameable.binary_search(&(index - 1)).is_err()
        });
        catalog.index = Index::of(&catalog.flags, &catalog.segments);
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
                let since = self.errors();
                flag.requires = self.requirements(requires, &flag.key, &by_name, &keys);
                self.about_flag(since, &flag.key);
            }
        }
        self.check_requirements(&catalog);
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
                    .with_help(format!(
                        "`names` are: {}",
                        naming::list(environments.names.iter().map(String::as_str))
                    )),
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
            bucketing: None,
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
            let errors_before = self.errors();
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
            if env_var == crate::catalog::REDIS_URL_VARIABLE {
                self.error(
                    Diagnostic::new(
                        format!("flag `{}` would be overridden by `{env_var}`, which names the Redis store", flag.key),
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
            if self.errors() > errors_before {
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
        let help = help
            .unwrap_or_else(|| format!("expected one of: {}", naming::list(known.iter().copied())));
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

/// The longest chain of requirements a flag may head (itself included): evaluating a flag
/// evaluates its whole chain, one frame deeper per flag.
pub const MAX_REQUIREMENT_DEPTH: usize = 64;

impl Reader {
    /// A flag cannot require itself, directly or through others, and chains of requirements
    /// are at most [`MAX_REQUIREMENT_DEPTH`] long. Linear in the number of flags and
    /// requirements: each strongly connected group of flags (Tarjan's algorithm) is one
    /// cycle reported, and depths are counted once per flag.
    fn check_requirements(&mut self, catalog: &Catalog) {
        let flags = &catalog.flags;
        let edges: Vec<Vec<usize>> = flags
            .iter()
            .map(|flag| {
                flag.requires
                    .iter()
                    .map(|r| r.flag)
                    .filter(|&target| target < flags.len())
                    .collect()
            })
            .collect();
        let requires = |flag: usize| edges[flag].iter().copied();
        let mut depth = vec![0usize; flags.len()];
        for group in strongly_connected(&edges) {
            let first = group.iter().copied().min().unwrap_or(0);
            let cyclic = group.len() > 1 || requires(first).any(|target| target == first);
            if cyclic {
                let cycle = shortest_cycle(first, &group, &edges);
                self.report_cycle(catalog, &cycle);
                continue;
            }
            // Groups come after every group they require, so those depths are known.
            let flag = first;
            depth[flag] = 1 + requires(flag).map(|t| depth[t]).max().unwrap_or(0);
            if depth[flag] == MAX_REQUIREMENT_DEPTH + 1 {
                let mut chain = vec![flag];
                while let Some(deepest) = chain.last().and_then(|&f| {
                    requires(f)
                        .filter(|&t| depth[t] > 0)
                        .max_by_key(|&t| depth[t])
                }) {
                    chain.push(deepest);
                }
                let names = chain.iter().map(|&f| format!("`{}`", flags[f].key));
                self.error(
                    Diagnostic::new(
                        format!(
                            "the requirements of flag `{}` nest {} deep, more than {MAX_REQUIREMENT_DEPTH}: {}",
                            flags[flag].key,
                            depth[flag],
                            naming::list(names)
                        ),
                        flags[flag].span.clone(),
                    )
                    .with_help("require fewer flags in a chain")
                    .with_flag(flags[flag].key.clone()),
                );
            }
        }
    }

    fn report_cycle(&mut self, catalog: &Catalog, cycle: &[usize]) {
        let flags = &catalog.flags;
        let Some(&first) = cycle.first() else {
            return;
        };
        let names: Vec<String> = cycle
            .iter()
            .chain(cycle.first())
            .take(naming::MAX_LISTED + 1)
            .map(|&f| format!("`{}`", flags[f].key))
            .collect();
        let more = if cycle.len() + 1 > names.len() {
            format!(" → … ({} flags in all)", cycle.len())
        } else {
            String::new()
        };
        self.error(
            Diagnostic::new(
                format!(
                    "flags require each other in a cycle: {}{more}",
                    names.join(" → ")
                ),
                flags[first].span.clone(),
            )
            .with_help("remove one of these requirements")
            .with_flag(flags[first].key.clone()),
        );
    }
}

/// The strongly connected groups of a graph given as each node's edges, each group after
/// every group its nodes have edges to (Tarjan's algorithm, without recursion).
fn strongly_connected(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct Search {
        order: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        /// Each frame: a node and how many of its edges have been followed.
        frames: Vec<(usize, usize)>,
    }
    impl Search {
        fn visit(&mut self, node: usize) {
            self.order[node] = Some(self.next);
            self.low[node] = self.next;
            self.next += 1;
            self.stack.push(node);
            self.on_stack[node] = true;
            self.frames.push((node, 0));
        }
    }
    let nodes = edges.len();
    let mut search = Search {
        order: vec![None; nodes],
        low: vec![0; nodes],
        on_stack: vec![false; nodes],
        stack: Vec::new(),
        next: 0,
        frames: Vec::new(),
    };
    let mut groups = Vec::new();
    for root in 0..nodes {
        if search.order[root].is_some() {
            continue;
        }
        search.visit(root);
        while let Some(&(node, followed)) = search.frames.last() {
            if let Some(&target) = edges[node].get(followed) {
                if let Some(frame) = search.frames.last_mut() {
                    frame.1 += 1;
                }
                match search.order[target] {
                    None => search.visit(target),
                    Some(order) if search.on_stack[target] => {
                        search.low[node] = search.low[node].min(order);
                    }
                    Some(_) => {}
                }
                continue;
            }
            search.frames.pop();
            if let Some(&(parent, _)) = search.frames.last() {
                search.low[parent] = search.low[parent].min(search.low[node]);
            }
            if Some(search.low[node]) == search.order[node] {
                let mut group = Vec::new();
                while let Some(member) = search.stack.pop() {
                    search.on_stack[member] = false;
                    group.push(member);
                    if member == node {
                        break;
                    }
                }
                groups.push(group);
            }
        }
    }
    groups
}

/// A shortest cycle from `start` back to it, within `group` (breadth first).
fn shortest_cycle(start: usize, group: &[usize], edges: &[Vec<usize>]) -> Vec<usize> {
    let members: HashMap<usize, ()> = group.iter().map(|&m| (m, ())).collect();
    let mut came_from: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &target in &edges[node] {
            if target == start {
                let mut cycle = vec![node];
                while let Some(&previous) = cycle.last().and_then(|n| came_from.get(n)) {
                    cycle.push(previous);
                }
                cycle.reverse();
                return cycle;
            }
            if members.contains_key(&target) && !came_from.contains_key(&target) {
                came_from.insert(target, node);
                queue.push_back(target);
            }
        }
    }
    vec![start]
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
