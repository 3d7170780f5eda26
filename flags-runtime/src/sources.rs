//! Where override values come from, and what each source reports.
//!
//! Each source reads into a [`Layer`]: at most one value per flag, each with the
//! [`Origin`] that explains it. A source that cannot be read at all keeps its last good
//! layer; an entry that cannot be read keeps that flag's last good value from the source.
//! New kinds of source (a watched file, a shared store) implement [`Source`].

use std::fmt;
use std::path::PathBuf;

use flags_model::{Catalog, Segment, Setting, SourceFile, Value, naming, parse_overrides};

use crate::report::Problem;

/// Which source decided a flag's value.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// A test stub active in the current thread.
    Stub,
    /// An override set by the program (`Runtime::set_override`).
    Programmatic,
    /// An environment variable such as `FLAGS_NEW_FEATURE_ENABLED`.
    EnvVar(String),
    /// An overrides file.
    OverridesFile {
        /// The file.
        path: PathBuf,
        /// The line the value is on.
        line: usize,
    },
    /// `flags.toml`'s value for the current environment.
    Environment(String),
    /// `flags.toml`'s `default`.
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Stub => f.write_str("test stub"),
            Origin::Programmatic => f.write_str("programmatic override"),
            Origin::EnvVar(name) => write!(f, "environment variable {name}"),
            Origin::OverridesFile { path, line } => {
                write!(f, "overrides file {}:{line}", path.display())
            }
            Origin::Environment(name) => write!(f, "flags.toml value for `{name}`"),
            Origin::Default => f.write_str("flags.toml default"),
        }
    }
}

/// What one source sets: at most one value or targeting per flag (by flag index), and the
/// segments it redefines (by segment index).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Layer {
    entries: Vec<Option<(Setting, Origin)>>,
    segments: Vec<(usize, Segment)>,
}

impl Layer {
    pub(crate) fn new(flags: usize) -> Self {
        Self {
            entries: vec![None; flags],
            segments: Vec::new(),
        }
    }

    pub(crate) fn get(&self, flag: usize) -> Option<&(Setting, Origin)> {
        self.entries.get(flag).and_then(Option::as_ref)
    }

    pub(crate) fn set(&mut self, flag: usize, value: Value, origin: Origin) {
        self.set_setting(flag, Setting::Value(value), origin);
    }

    pub(crate) fn set_setting(&mut self, flag: usize, setting: Setting, origin: Origin) {
        if let Some(entry) = self.entries.get_mut(flag) {
            *entry = Some((setting, origin));
        }
    }

    /// The layer's redefinition of segment `index`, if it has one.
    pub(crate) fn segment(&self, index: usize) -> Option<&Segment> {
        self.segments
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, segment)| segment)
    }

    pub(crate) fn clear(&mut self, flag: usize) {
        if let Some(entry) = self.entries.get_mut(flag) {
            *entry = None;
        }
    }

    pub(crate) fn clear_all(&mut self) {
        self.entries.iter_mut().for_each(|e| *e = None);
    }
}

/// The outcome of reading a source.
pub(crate) enum Loaded {
    /// Values read. `rejected` lists entries that could not be used, with the flag they were
    /// for when known; for those flags the source's last good value stays.
    Values {
        layer: Layer,
        rejected: Vec<(Option<usize>, Problem)>,
    },
    /// The source as a whole could not be used; its last good layer stays.
    Failed(Vec<Problem>),
}

/// A source of override values.
pub(crate) trait Source: Send + Sync {
    /// Reads the source's values for `environment` (`None` when no environment is in use).
    fn load(&self, catalog: &Catalog, environment: Option<usize>, vars: &dyn Vars) -> Loaded;
}

/// Read access to environment variables, so tests can supply their own.
pub trait Vars: Send + Sync {
    /// The variable's value; `Err` holds it, lossily decoded, when it is not valid UTF-8.
    fn get(&self, name: &str) -> Option<Result<String, String>>;
    /// Names of all set variables that start with `prefix`.
    fn names_with_prefix(&self, prefix: &str) -> Vec<String>;
}

/// The process's environment variables.
pub struct ProcessVars;

impl Vars for ProcessVars {
    fn get(&self, name: &str) -> Option<Result<String, String>> {
        std::env::var_os(name).map(|value| {
            value
                .into_string()
                .map_err(|raw| raw.to_string_lossy().into_owned())
        })
    }

    fn names_with_prefix(&self, prefix: &str) -> Vec<String> {
        std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .filter(|name| name.starts_with(prefix))
            .collect()
    }
}

/// One variable per flag: `FLAGS_<ACCESSOR>` (the prefix is set in `flags.toml`).
pub(crate) struct EnvVarSource;

impl Source for EnvVarSource {
    fn load(&self, catalog: &Catalog, _environment: Option<usize>, vars: &dyn Vars) -> Loaded {
        let mut layer = Layer::new(catalog.flags().len());
        let mut rejected = Vec::new();
        let mut known_names = Vec::with_capacity(catalog.flags().len());
        for (index, flag) in catalog.flags().iter().enumerate() {
            let name = catalog.env_var(flag);
            let source = format!("environment variable {name}");
            match vars.get(&name) {
                None => {}
                Some(Err(lossy)) => rejected.push((
                    Some(index),
                    Problem::new(
                        source,
                        Some(flag.key()),
                        format!("value {lossy:?} is not valid UTF-8"),
                    ),
                )),
                Some(Ok(text)) => match flag.flag_type().parse_text(&text) {
                    Ok(value) => layer.set(index, value, Origin::EnvVar(name.clone())),
                    Err(error) => rejected.push((
                        Some(index),
                        Problem::new(source, Some(flag.key()), error.to_string()),
                    )),
                },
            }
            known_names.push(name);
        }
        let settings = catalog.overrides();
        let not_overrides = [settings.file_variable(), catalog.environments().variable()];
        for name in vars.names_with_prefix(settings.env_prefix()) {
            if !not_overrides.contains(&name.as_str()) && !known_names.contains(&name) {
                let message = match naming::suggest(&name, known_names.iter().map(String::as_str)) {
                    Some(s) => {
                        format!("no flag is overridden by this variable; did you mean `{s}`?")
                    }
                    None => "no flag is overridden by this variable".to_owned(),
                };
                rejected.push((
                    None,
                    Problem::new(format!("environment variable {name}"), None, message),
                ));
            }
        }
        Loaded::Values { layer, rejected }
    }
}

/// The overrides file named by the file variable (`FLAGS_OVERRIDES`), if it is set.
pub(crate) struct OverridesFileSource;

impl Source for OverridesFileSource {
    fn load(&self, catalog: &Catalog, environment: Option<usize>, vars: &dyn Vars) -> Loaded {
        let variable = catalog.overrides().file_variable();
        let path = match vars.get(variable) {
            // Unset or empty: no overrides file, as with the environment variable.
            None => {
                return Loaded::Values {
                    layer: Layer::new(catalog.flags().len()),
                    rejected: Vec::new(),
                };
            }
            Some(Ok(path)) if path.is_empty() => {
                return Loaded::Values {
                    layer: Layer::new(catalog.flags().len()),
                    rejected: Vec::new(),
                };
            }
            // A path that is not UTF-8 is tried as decoded; if that fails, the error names it.
            Some(Ok(path) | Err(path)) => PathBuf::from(path),
        };
        let source = format!("overrides file {} (from {variable})", path.display());
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => {
                return Loaded::Failed(vec![Problem::new(
                    source,
                    None,
                    format!("cannot be read: {error}"),
                )]);
            }
        };
        let file = SourceFile::new(path.display().to_string(), text);
        match parse_overrides(catalog, &file) {
            Err(diagnostics) => Loaded::Failed(
                diagnostics
                    .iter()
                    .map(|d| Problem::new(source.clone(), None, d.render(&file)))
                    .collect(),
            ),
            Ok(overrides) => {
                let mut layer = Layer::new(catalog.flags().len());
                for index in 0..catalog.flags().len() {
                    if let Some(entry) = overrides.setting_for(index, environment) {
                        let origin = Origin::OverridesFile {
                            path: path.clone(),
                            line: entry.line,
                        };
                        layer.set_setting(index, entry.setting.clone(), origin);
                    }
                }
                layer.segments = overrides.segments().to_vec();
                Loaded::Values {
                    layer,
                    rejected: Vec::new(),
                }
            }
        }
    }
}
