//! Where override values come from, and what each source reports.
//!
//! Each source reads into a [`Layer`]: at most one value per flag, each with the
//! [`Origin`] that explains it. A source that cannot be read at all keeps its last good
//! layer; an entry that cannot be read keeps that flag's last good value from the source.
//! New kinds of source (a shared store, an application's own) implement [`Source`] and are
//! added with `Runtime::add_source`.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use flags_model::{
    Catalog, Flag, FlagType, Input, Segment, Setting, SourceFile, Value, naming, parse_overrides,
};

use crate::report::{OverrideError, Problem, SegmentError};

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
    /// An entry of a shared store, such as the Redis store of the `redis` feature, or of an
    /// application's own [`Source`].
    Store {
        /// The store: `redis 127.0.0.1:6379`.
        store: String,
        /// The entry in it: `flags:v1:production:overrides checkout_flow`.
        entry: String,
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
            Origin::Store { store, entry } => write!(f, "{store}, {entry}"),
            Origin::Environment(name) => write!(f, "flags.toml value for `{name}`"),
            Origin::Default => f.write_str("flags.toml default"),
        }
    }
}

/// What one source sets: at most one value or targeting per flag (by flag index), the
/// segments it redefines (by segment index), and keys it adds to or removes from segments.
///
/// A [`Source`] builds one on every read; the runtime keeps the last one that could be read.
/// Values are checked against the flag's type when the runtime takes the layer: a value of
/// another type is reported and ignored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layer {
    entries: Vec<Option<(Setting, Origin)>>,
    pub(crate) segments: Vec<(usize, Segment)>,
    memberships: Vec<(usize, Membership)>,
}

/// Keys a layer adds to and removes from one segment (shared with the segments' sets).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Membership {
    pub(crate) added: HashSet<Arc<str>>,
    pub(crate) removed: HashSet<Arc<str>>,
}

impl Membership {
    /// Adds `key`, also when it was removed.
    pub(crate) fn add(&mut self, key: &Arc<str>) {
        self.removed.remove(key);
        self.added.insert(Arc::clone(key));
    }

    /// Removes `key`, also when it was added.
    pub(crate) fn remove(&mut self, key: &Arc<str>) {
        self.added.remove(key);
        self.removed.insert(Arc::clone(key));
    }

    /// Applies `other` over these changes: what it adds or removes wins.
    pub(crate) fn apply(&mut self, other: &Membership) {
        for key in &other.added {
            self.removed.remove(key);
            self.added.insert(key.clone());
        }
        for key in &other.removed {
            self.added.remove(key);
            self.removed.insert(key.clone());
        }
    }
}

impl Layer {
    /// An empty layer for a catalog of `flags` flags (`catalog.flags().len()`).
    pub fn new(flags: usize) -> Self {
        Self {
            entries: vec![None; flags],
            segments: Vec::new(),
            memberships: Vec::new(),
        }
    }

    /// What the layer sets for flag `flag`, and its origin.
    pub fn get(&self, flag: usize) -> Option<&(Setting, Origin)> {
        self.entries.get(flag).and_then(Option::as_ref)
    }

    /// Sets flag `flag` (its index in the catalog) to `value`. An index out of range is
    /// ignored.
    pub fn set(&mut self, flag: usize, value: Value, origin: Origin) {
        self.set_setting(flag, Setting::Value(value), origin);
    }

    /// Sets flag `flag` to a value or to targeting (rules, rollouts), as an overrides file
    /// does. An index out of range is ignored.
    pub fn set_setting(&mut self, flag: usize, setting: Setting, origin: Origin) {
        if let Some(entry) = self.entries.get_mut(flag) {
            *entry = Some((setting, origin));
        }
    }

    /// Sets the flag named `name` (key or accessor) to `value`, checked against its type;
    /// returns the flag's index. A refused value changes nothing.
    pub fn set_checked(
        &mut self,
        catalog: &Catalog,
        name: &str,
        value: impl Into<Input>,
        origin: Origin,
    ) -> Result<usize, OverrideError> {
        let (index, value) = check_value(catalog, name, value.into())?;
        self.set(index, value, origin);
        Ok(index)
    }

    /// The layer's redefinition of segment `index`, if it has one.
    pub(crate) fn segment(&self, index: usize) -> Option<&Segment> {
        self.segments
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, segment)| segment)
    }

    /// Adds the context key `key` to the segment `segment` (by name), over what `flags.toml`
    /// and lower sources list.
    pub fn add_to_segment(
        &mut self,
        catalog: &Catalog,
        segment: &str,
        key: &str,
    ) -> Result<(), SegmentError> {
        self.membership(catalog, segment)
            .map(|m| m.add(&Arc::from(key)))
    }

    /// Removes the context key `key` from the segment `segment` (by name).
    pub fn remove_from_segment(
        &mut self,
        catalog: &Catalog,
        segment: &str,
        key: &str,
    ) -> Result<(), SegmentError> {
        self.membership(catalog, segment)
            .map(|m| m.remove(&Arc::from(key)))
    }

    fn membership(
        &mut self,
        catalog: &Catalog,
        segment: &str,
    ) -> Result<&mut Membership, SegmentError> {
        let index = segment_index(catalog, segment)?;
        let position = match self.memberships.iter().position(|(i, _)| *i == index) {
            Some(position) => position,
            None => {
                self.memberships.push((index, Membership::default()));
                self.memberships.len() - 1
            }
        };
        Ok(&mut self.memberships[position].1)
    }

    /// Adds `keys` to (`add`) or removes them from segment `index`'s changes in this layer.
    pub(crate) fn change_membership(&mut self, index: usize, keys: &[Arc<str>], add: bool) {
        let position = match self.memberships.iter().position(|(i, _)| *i == index) {
            Some(position) => position,
            None => {
                self.memberships.push((index, Membership::default()));
                self.memberships.len() - 1
            }
        };
        let membership = &mut self.memberships[position].1;
        for key in keys {
            if add {
                membership.add(key);
            } else {
                membership.remove(key);
            }
        }
    }

    /// Whether this layer adds (`Some(true)`) or removes (`Some(false)`) `key` in segment
    /// `index`, if it changes it at all.
    pub(crate) fn member(&self, index: usize, key: &str) -> Option<bool> {
        let membership = self.membership_of(index)?;
        if membership.added.contains(key) {
            Some(true)
        } else if membership.removed.contains(key) {
            Some(false)
        } else {
            None
        }
    }

    /// The keys this layer adds to and removes from segment `index`.
    /// Whether this layer says of the segments (their definitions, the keys it adds and
    /// removes) what `other` says.
    pub(crate) fn same_segments(&self, other: &Layer) -> bool {
        self.segments == other.segments && self.memberships == other.memberships
    }

    pub(crate) fn membership_of(&self, index: usize) -> Option<&Membership> {
        self.memberships
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, membership)| membership)
    }

    pub(crate) fn clear(&mut self, flag: usize) {
        if let Some(entry) = self.entries.get_mut(flag) {
            *entry = None;
        }
    }

    pub(crate) fn clear_all(&mut self) {
        self.entries.iter_mut().for_each(|e| *e = None);
    }

    /// Removes, as problems, the values that do not fit their flag's type: a source outside
    /// this crate sets values by index, unchecked.
    pub(crate) fn take_mistyped(&mut self, catalog: &Catalog) -> Vec<(Option<usize>, Problem)> {
        let mut mistyped = Vec::new();
        for (index, (entry, flag)) in self.entries.iter_mut().zip(catalog.flags()).enumerate() {
            if let Some((Setting::Value(value), origin)) = entry {
                if !fits(flag.flag_type(), value) {
                    let message = format!(
                        "expected {}, found `{}`",
                        flag.flag_type().describe(),
                        value.to_toml()
                    );
                    mistyped.push((
                        Some(index),
                        Problem::new(origin.to_string(), Some(flag.key()), message),
                    ));
                    *entry = None;
                }
            }
        }
        mistyped
    }
}

/// Whether `value` is of type `flag_type`.
fn fits(flag_type: &FlagType, value: &Value) -> bool {
    match (flag_type, value) {
        (FlagType::Bool, Value::Bool(_))
        | (FlagType::Int, Value::Int(_))
        | (FlagType::String, Value::String(_)) => true,
        (FlagType::Float, Value::Float(f)) => f.is_finite(),
        (FlagType::Variants(variants), Value::Variant { index, name }) => variants
            .get(*index as usize)
            .is_some_and(|variant| variant.name() == &**name),
        _ => false,
    }
}

/// The flag named `name` (key or accessor), or an error that suggests a close name.
pub(crate) fn find_flag<'c>(
    catalog: &'c Catalog,
    name: &str,
) -> Result<(usize, &'c Flag), OverrideError> {
    catalog
        .find(name)
        .ok_or_else(|| OverrideError::UnknownFlag {
            name: name.to_owned(),
            suggestion: catalog.suggest(name).map(str::to_owned),
        })
}

/// The flag named `name` and `value` checked against its type.
pub(crate) fn check_value(
    catalog: &Catalog,
    name: &str,
    value: Input,
) -> Result<(usize, Value), OverrideError> {
    let (index, flag) = find_flag(catalog, name)?;
    let value = flag
        .flag_type()
        .accept(value)
        .map_err(|error| OverrideError::WrongType {
            flag: flag.key().to_owned(),
            error,
        })?;
    Ok((index, value))
}

/// The index of the segment named `name`, or an error that suggests a close name.
pub(crate) fn segment_index(catalog: &Catalog, name: &str) -> Result<usize, SegmentError> {
    match catalog.segment(name) {
        Some((index, _)) => Ok(index),
        None => Err(SegmentError::UnknownSegment {
            name: name.to_owned(),
            suggestion: naming::suggest(name, catalog.segments().iter().map(|s| s.name.as_str()))
                .map(str::to_owned),
        }),
    }
}

/// Which source of a runtime: the built-in ones and each one added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SourceId(pub(crate) u64);

/// The outcome of reading a source.
#[derive(Clone, Debug)]
pub enum Loaded {
    /// Values read. `rejected` lists entries that could not be used, with the flag (index)
    /// they were for when known; for those flags the source's last good value stays.
    Values {
        /// What the source sets.
        layer: Layer,
        /// Entries refused, each with the flag it was for, if known, and why.
        rejected: Vec<(Option<usize>, Problem)>,
    },
    /// The source as a whole could not be used (unreadable, invalid as a whole, out of
    /// reach); its last good layer stays.
    Failed(Vec<Problem>),
}

/// A source of override values, added to a runtime with `Runtime::add_source`.
///
/// `load` is called with the runtime's configuration lock held, while other changes wait (a
/// flag check never waits): it should return what the source already has at hand. A source
/// that reads over a network fetches in a thread of its own and asks the runtime to re-read
/// it (`SourceHandle::reload`) when it has something new.
///
/// A `load` that panics is reported as the source's problem, and its last good values stay;
/// the runtime and the thread that asked keep going.
pub trait Source: Send + Sync {
    /// Reads the source's values for `environment` (the index of the runtime's environment;
    /// `None` when no environment is in use).
    fn load(&self, catalog: &Catalog, environment: Option<usize>, vars: &dyn Vars) -> Loaded;

    /// What the source is, as problems name it: `redis 127.0.0.1:6379`.
    fn name(&self) -> String {
        "a source added with Runtime::add_source".to_owned()
    }
}

/// What a caught panic said.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// The overrides file named by the file variable; `None` when it is unset or empty (no
/// file, as with an empty environment variable). A path that is not UTF-8 is tried as
/// decoded; if that fails, the error names it.
pub(crate) fn overrides_path(catalog: &Catalog, vars: &dyn Vars) -> Option<PathBuf> {
    match vars.get(catalog.overrides().file_variable())? {
        Ok(path) if path.is_empty() => None,
        Ok(path) | Err(path) => Some(PathBuf::from(path)),
    }
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
    fn name(&self) -> String {
        "environment variables".to_owned()
    }

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
                        format!("value {:?} is not valid UTF-8", naming::excerpt(&lossy)),
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
        let not_overrides = [
            settings.file_variable(),
            catalog.environments().variable(),
            flags_model::REDIS_URL_VARIABLE,
        ];
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
    fn name(&self) -> String {
        "the overrides file".to_owned()
    }

    fn load(&self, catalog: &Catalog, environment: Option<usize>, vars: &dyn Vars) -> Loaded {
        let variable = catalog.overrides().file_variable();
        let Some(path) = overrides_path(catalog, vars) else {
            return Loaded::Values {
                layer: Layer::new(catalog.flags().len()),
                rejected: Vec::new(),
            };
        };
        let source = format!("overrides file {} (from {variable})", path.display());
        let text = match flags_model::file::read_text(&path) {
            Ok(text) => text,
            Err(error) => {
                return Loaded::Failed(vec![Problem::new(source, None, error.to_string())]);
            }
        };
        let file = SourceFile::new(path.display().to_string(), text);
        let problem =
            |d: &flags_model::Diagnostic| Problem::new(&source, d.flag(), d.render(&file));
        match parse_overrides(catalog, &file) {
            Err(diagnostics) => Loaded::Failed(diagnostics.iter().map(problem).collect()),
            Ok(overrides) => {
                let mut layer = Layer::new(catalog.flags().len());
                for entry in overrides.settings_in(environment) {
                    let origin = Origin::OverridesFile {
                        path: path.clone(),
                        line: entry.line,
                    };
                    layer.set_setting(entry.flag, entry.setting.clone(), origin);
                }
                layer.segments = overrides.segments().to_vec();
                // Tables of undeclared flags were skipped; the rest of the file applies.
                let rejected = overrides
                    .skipped()
                    .iter()
                    .map(|d| (None, problem(d)))
                    .collect();
                Loaded::Values { layer, rejected }
            }
        }
    }
}
