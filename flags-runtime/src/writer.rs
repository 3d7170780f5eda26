//! Building the next configuration: the sources in order of precedence, each one's last good
//! layer and problems, the program's own overrides and segment changes, and the resolution of
//! every flag from them. The runtime owns one writer behind a lock; readers never see it.

use std::sync::Arc;

use flags_model::{Catalog, Setting, Value};

use crate::condition::SegmentState;
use crate::descriptor::Descriptor;
use crate::eval::Program;
use crate::report::{InitError, Problem};
use crate::resolution::{Resolution, Resolved};
use crate::sources::{
    EnvVarSource, Layer, Loaded, Membership, Origin, OverridesFileSource, Source, SourceId, Vars,
    panic_message,
};

/// Everything needed to build the next configuration; one writer at a time.
pub(crate) struct Writer {
    /// Whether the catalog matches the compiled flags (it always does unless the program
    /// was built inconsistently); when it does not, only defaults are served.
    consistent: bool,
    /// Highest first: environment variables, added sources (first added highest), the
    /// overrides file.
    sources: Vec<SourceState>,
    pub(crate) programmatic: Layer,
    /// The program's own changes to each segment's keys.
    segments: Vec<SegmentChanges>,
    /// What the last configuration resolved every flag and segment to: a change of segment
    /// keys alone makes the next configuration from these, sharing the flags.
    last_resolved: Arc<[Resolved]>,
    last_segments: Box<[SegmentState]>,
    /// Whether `last_segments` must be made again: a source's segments or the sources
    /// themselves changed. Making them costs what they hold (millions of keys, perhaps), so
    /// a change of flags alone (a kill switch) shares them.
    segments_stale: bool,
    environment: Option<usize>,
    environment_error: Option<InitError>,
    /// What was wrong with the environment variable at the last full read.
    environment_problems: Vec<Problem>,
    problems: Arc<[Problem]>,
    generation: u64,
    /// The id the next added source gets.
    next_source: u64,
}

struct SourceState {
    id: SourceId,
    source: Box<dyn Source>,
    last_good: Layer,
    /// What was wrong at its last read; kept until it is read again, so that reading one
    /// source does not hide another's problems.
    problems: Vec<Problem>,
}

/// Keys added to and removed from a segment at run time by the program.
type SegmentChanges = Membership;

/// The environment variables' source.
const ENV_VARS: SourceId = SourceId(0);
/// The overrides file's source.
pub(crate) const OVERRIDES_FILE: SourceId = SourceId(1);

impl Writer {
    /// A writer with no values read yet: environment variables and the overrides file as its
    /// sources, unless the catalog does not match the compiled flags (then it has none).
    pub(crate) fn new(consistent: bool, flags: usize, segments: usize) -> Self {
        let sources: Vec<(SourceId, Box<dyn Source>)> = if consistent {
            vec![
                (ENV_VARS, Box::new(EnvVarSource)),
                (OVERRIDES_FILE, Box::new(OverridesFileSource)),
            ]
        } else {
            Vec::new()
        };
        Writer {
            consistent,
            sources: sources
                .into_iter()
                .map(|(id, source)| SourceState {
                    id,
                    source,
                    last_good: Layer::new(flags),
                    problems: Vec::new(),
                })
                .collect(),
            programmatic: Layer::new(flags),
            segments: vec![SegmentChanges::default(); segments],
            last_resolved: Arc::new([]),
            last_segments: Box::default(),
            segments_stale: true,
            environment: None,
            environment_error: None,
            environment_problems: Vec::new(),
            problems: Arc::new([]),
            generation: 0,
            next_source: OVERRIDES_FILE.0 + 1,
        }
    }

    /// Adds `source` below the environment variables and the sources added before it, above
    /// the overrides file, and reads it.
    pub(crate) fn add_source(
        &mut self,
        source: Box<dyn Source>,
        catalog: &Catalog,
        vars: &dyn Vars,
    ) -> SourceId {
        let id = SourceId(self.next_source);
        self.next_source += 1;
        let position = self
            .sources
            .iter()
            .position(|s| s.id == OVERRIDES_FILE)
            .unwrap_or(self.sources.len());
        self.sources.insert(
            position,
            SourceState {
                id,
                source,
                last_good: Layer::new(catalog.flags().len()),
                problems: Vec::new(),
            },
        );
        if self.consistent {
            self.load(position, catalog, vars);
        }
        self.segments_stale = true;
        id
    }

    /// Removes source `id` and what it set; false when there is no such source.
    pub(crate) fn remove_source(&mut self, id: SourceId) -> bool {
        let before = self.sources.len();
        self.sources.retain(|s| s.id != id);
        self.segments_stale = true;
        self.sources.len() != before
    }

    /// Reads source `id` again (the overrides file with [`OVERRIDES_FILE`]), for the
    /// environment in use; false when there is no such source.
    pub(crate) fn reread_source(
        &mut self,
        id: SourceId,
        catalog: &Catalog,
        vars: &dyn Vars,
    ) -> bool {
        match self.sources.iter().position(|s| s.id == id) {
            Some(position) if self.consistent => {
                self.load(position, catalog, vars);
                true
            }
            Some(_) => true,
            None => false,
        }
    }

    /// Builds the next configuration; with `reread`, first reads the environment and every
    /// source again.
    pub(crate) fn refresh(
        &mut self,
        descriptor: &Descriptor,
        vars: &dyn Vars,
        catalog: &Catalog,
        reread: bool,
    ) -> Resolution {
        if reread && self.consistent {
            self.reread(catalog, vars);
        }
        self.gather_problems(descriptor);
        self.resolve_all(descriptor, catalog);
        if self.segments_stale {
            self.last_segments = self.segments(catalog);
            self.segments_stale = false;
        }
        self.next_resolution()
    }

    /// The problems of the configuration: the environment's and every source's.
    fn gather_problems(&mut self, descriptor: &Descriptor) {
        self.problems = if self.consistent {
            self.environment_problems
                .iter()
                .chain(self.sources.iter().flat_map(|s| &s.problems))
                .cloned()
                .collect()
        } else {
            Arc::new([Problem::new(
                descriptor.path,
                None,
                "the flags compiled into this program do not match the flags.toml embedded in it; \
                 every flag serves its compiled default. Rebuild the program.",
            )])
        };
    }

    fn resolve_all(&mut self, descriptor: &Descriptor, catalog: &Catalog) {
        self.last_resolved = (0..descriptor.flags.len())
            .map(|index| self.resolve(descriptor, catalog, index))
            .collect();
    }

    /// Sets flag `index` to `entry` (takes its setting away when `None`) in source `id`'s
    /// last good layer, as valid (a store's follower applying one announced override), and
    /// builds the next configuration from the last one: every flag resolved again, the
    /// segments shared, so that the cost does not grow with their keys. The source's
    /// problems about the flag go. `None` when there is no such source.
    #[cfg(feature = "redis")]
    pub(crate) fn change_source_setting(
        &mut self,
        id: SourceId,
        descriptor: &Descriptor,
        catalog: &Catalog,
        index: usize,
        entry: Option<(Setting, Origin)>,
    ) -> Option<Resolution> {
        let source = self.sources.iter_mut().find(|s| s.id == id)?;
        match entry {
            Some((setting, origin)) => source.last_good.set_setting(index, setting, origin),
            None => source.last_good.clear(index),
        }
        let key = catalog.flags().get(index).map(|flag| flag.key());
        source.problems.retain(|problem| problem.flag() != key);
        self.gather_problems(descriptor);
        self.resolve_all(descriptor, catalog);
        Some(self.next_resolution())
    }

    /// Adds `keys` to (`add`) or removes them from segment `index` as the program's own
    /// changes, which rank above every source's, and builds the next configuration from the
    /// last one: the flags are shared, and the segment's set changes by these keys only.
    pub(crate) fn change_segment(
        &mut self,
        index: usize,
        keys: &[Arc<str>],
        add: bool,
    ) -> Resolution {
        if let Some(changes) = self.segments.get_mut(index) {
            for key in keys {
                if add {
                    changes.add(key);
                } else {
                    changes.remove(key);
                }
            }
        }
        if let Some(state) = self.last_segments.get_mut(index) {
            for key in keys {
                if add {
                    state.add(key);
                } else {
                    state.remove(key);
                }
            }
        }
        self.next_resolution()
    }

    /// Adds `keys` to (`add`) or removes them from segment `index` in source `id`'s last
    /// good layer (a store's follower applying one announced change), and builds the next
    /// configuration from the last one, the segment's set changed by these keys only: each
    /// key ends as the highest of the program's changes, the sources' and `flags.toml`'s
    /// says. `None` when there is no such source.
    pub(crate) fn change_source_segment(
        &mut self,
        id: SourceId,
        catalog: &Catalog,
        index: usize,
        keys: &[Arc<str>],
        add: bool,
    ) -> Option<Resolution> {
        let position = self.sources.iter().position(|s| s.id == id)?;
        self.sources[position]
            .last_good
            .change_membership(index, keys, add);
        let declared = self
            .sources
            .iter()
            .find_map(|s| s.last_good.segment(index))
            .or_else(|| catalog.segments().get(index));
        for key in keys {
            let program = self.segments.get(index).and_then(|changes| {
                if changes.added.contains(key) {
                    Some(true)
                } else if changes.removed.contains(key) {
                    Some(false)
                } else {
                    None
                }
            });
            // Sources are highest first.
            let listed = program
                .or_else(|| {
                    self.sources
                        .iter()
                        .find_map(|source| source.last_good.member(index, key))
                })
                .unwrap_or_else(|| {
                    declared.is_some_and(|segment| segment.keys.iter().any(|k| **k == **key))
                });
            if let Some(state) = self.last_segments.get_mut(index) {
                if listed {
                    state.add(key);
                } else {
                    state.remove(key);
                }
            }
        }
        Some(self.next_resolution())
    }

    fn next_resolution(&mut self) -> Resolution {
        self.generation += 1;
        Resolution {
            generation: self.generation,
            environment: self.environment,
            environment_error: self.environment_error.clone(),
            resolved: Arc::clone(&self.last_resolved),
            segments: self.last_segments.clone(),
            problems: Arc::clone(&self.problems),
        }
    }

    /// Highest first: programmatic override, each source's last good setting, then
    /// `flags.toml`'s setting for the environment, else its default. An overriding value is
    /// final (no targeting, no prerequisites); an overriding targeting replaces the environment's
    /// setting, prerequisites included.
    fn resolve(&self, descriptor: &Descriptor, catalog: &Catalog, index: usize) -> Resolved {
        let flag = match catalog.flags().get(index) {
            Some(flag) if self.consistent => flag,
            _ => {
                return Resolved::Static {
                    value: descriptor.default_value(index),
                    origin: Origin::Default,
                    overridden: false,
                };
            }
        };
        let layers =
            std::iter::once(&self.programmatic).chain(self.sources.iter().map(|s| &s.last_good));
        let overriding = layers.filter_map(|layer| layer.get(index)).next();
        let mut native = None;
        let (setting, origin) = match overriding {
            Some((Setting::Value(value), origin)) => {
                return Resolved::Static {
                    value: value.clone(),
                    origin: origin.clone(),
                    overridden: true,
                };
            }
            Some((setting, origin)) => (setting.clone(), origin.clone()),
            None => {
                let origin = match self
                    .environment
                    .filter(|&e| flag.environment_setting(e).is_some())
                {
                    Some(environment) => {
                        Origin::Environment(catalog.environments().names()[environment].clone())
                    }
                    None => Origin::Default,
                };
                let setting = flag.setting_in(self.environment);
                native = self
                    .environment
                    .filter(|&e| self.compiled_rules_apply(descriptor, index, e, &setting));
                (setting, origin)
            }
        };
        let requires: Vec<(usize, Value)> = flag
            .requires()
            .iter()
            .map(|r| (r.flag, r.is.clone()))
            .collect();
        let default = flag.default().clone();
        let program = match setting {
            Setting::Value(value) if requires.is_empty() => {
                return Resolved::Static {
                    value,
                    origin,
                    overridden: false,
                };
            }
            Setting::Value(value) => Program::new(None, value, origin, requires, default),
            Setting::Targeted(targeting) => {
                Program::new(Some(targeting), default.clone(), origin, requires, default)
            }
        };
        Resolved::Dynamic(program.with_native(native))
    }

    /// Whether the code the macro compiled for flag `index` in `environment` evaluates
    /// `setting` (`flags.toml`'s there): it was compiled for that environment, and no source
    /// redefines a segment it tests (keys added to segments are read at run time, so they do
    /// not matter).
    fn compiled_rules_apply(
        &self,
        descriptor: &Descriptor,
        index: usize,
        environment: usize,
        setting: &Setting,
    ) -> bool {
        let compiled = descriptor
            .flags
            .get(index)
            .is_some_and(|flag| environment < 64 && flag.native & (1 << environment) != 0);
        compiled
            && setting.segments_tested().all(|segment| {
                self.sources
                    .iter()
                    .all(|source| source.last_good.segment(segment).is_none())
            })
    }

    /// Each segment as the highest source that redefines it says, with the run-time changes.
    fn segments(&self, catalog: &Catalog) -> Box<[SegmentState]> {
        if !self.consistent {
            return Box::default();
        }
        catalog
            .segments()
            .iter()
            .enumerate()
            .zip(&self.segments)
            .map(|((index, declared), changes)| {
                let segment = self
                    .sources
                    .iter()
                    .find_map(|s| s.last_good.segment(index))
                    .unwrap_or(declared);
                // Lowest source first, so that a higher one's additions and removals win; the
                // program's own changes last.
                let mut membership = Membership::default();
                for source in self.sources.iter().rev() {
                    if let Some(changes) = source.last_good.membership_of(index) {
                        membership.apply(changes);
                    }
                }
                membership.apply(changes);
                SegmentState::new(segment, &membership)
            })
            .collect()
    }

    fn reread(&mut self, catalog: &Catalog, vars: &dyn Vars) {
        let mut problems = Vec::new();
        match select_environment(catalog, vars) {
            Ok(environment) => {
                self.environment = environment;
                self.environment_error = None;
            }
            Err(error) => {
                let consequence = match self.environment {
                    Some(kept) => format!(
                        "keeping environment `{}`",
                        catalog.environments().names()[kept]
                    ),
                    None => "every flag uses its default, plus overrides".to_owned(),
                };
                problems.push(Problem::new(
                    format!("environment variable {}", catalog.environments().variable()),
                    None,
                    format!("{error}; {consequence}"),
                ));
                self.environment_error = Some(error);
            }
        }
        warn(&problems);
        self.environment_problems = problems;
        for position in 0..self.sources.len() {
            self.load(position, catalog, vars);
        }
    }

    /// Reads the source at `position`: its new layer, or its last good one with the problems
    /// that kept the new one out.
    fn load(&mut self, position: usize, catalog: &Catalog, vars: &dyn Vars) {
        let environment = self.environment;
        let Some(source) = self.sources.get_mut(position) else {
            return;
        };
        let mut problems = Vec::new();
        // A source's bug must not stop the runtime, nor the thread that asked for the read.
        let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            source.source.load(catalog, environment, vars)
        }))
        .unwrap_or_else(|payload| {
            Loaded::Failed(vec![Problem::new(
                source.source.name(),
                None,
                format!("reading it panicked: {}", panic_message(&*payload)),
            )])
        });
        match loaded {
            Loaded::Values {
                mut layer,
                mut rejected,
            } => {
                rejected.extend(layer.take_mistyped(catalog));
                for (flag, problem) in rejected {
                    let kept =
                        flag.and_then(|index| Some((index, source.last_good.get(index)?.clone())));
                    let consequence = match kept {
                        Some((index, (setting, origin))) => {
                            let text = format!("keeping its previous value `{setting}`");
                            layer.set_setting(index, setting, origin);
                            text
                        }
                        None if flag.is_some() => "it is ignored".to_owned(),
                        None => String::new(),
                    };
                    problems.push(with_consequence(problem, &consequence));
                }
                if !layer.same_segments(&source.last_good) {
                    self.segments_stale = true;
                }
                source.last_good = layer;
            }
            Loaded::Failed(failures) => {
                problems.extend(
                    failures.into_iter().map(|p| {
                        with_consequence(p, "the source's last good values stay in force")
                    }),
                );
            }
        }
        warn(&problems);
        source.problems = problems;
    }
}

/// Logs each problem as a warning.
fn warn(problems: &[Problem]) {
    for problem in problems {
        tracing::warn!(
            source = problem.source(),
            flag = problem.flag(),
            "{}",
            problem.message()
        );
    }
}

fn with_consequence(problem: Problem, consequence: &str) -> Problem {
    if consequence.is_empty() {
        return problem;
    }
    let message = format!("{}; {consequence}", problem.message());
    Problem::new(problem.source(), problem.flag(), message)
}

/// The environment named by the selecting variable, or the default when it is unset or empty.
fn select_environment(catalog: &Catalog, vars: &dyn Vars) -> Result<Option<usize>, InitError> {
    let environments = catalog.environments();
    let variable = environments.variable().to_owned();
    let allowed = || environments.names().to_vec();
    match vars.get(&variable) {
        Some(Ok(value)) if !value.is_empty() => match environments.position(&value) {
            Some(index) => Ok(Some(index)),
            None => Err(InitError::UnknownEnvironment {
                variable,
                value,
                allowed: allowed(),
            }),
        },
        Some(Err(lossy)) => Err(InitError::UnknownEnvironment {
            variable,
            value: lossy,
            allowed: allowed(),
        }),
        _ => match environments.default() {
            Some(index) => Ok(Some(index)),
            None => Err(InitError::MissingEnvironment {
                variable,
                allowed: allowed(),
            }),
        },
    }
}
