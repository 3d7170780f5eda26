//! The runtime behind one generated `Flags` type: it starts on first use (or at
//! [`Runtime::init`]), resolves every flag, publishes the results for one-load checks, and
//! rebuilds the whole configuration on [`Runtime::reload`] or a change made through it.
//!
//! Its parts, each in a file of its own: `read` answers the checks a published word cannot,
//! `outcome` evaluates a flag and reports it, `held` keeps configurations for task scopes.
//! Stubs and scopes, below it, know nothing of the runtime (`marks`, `scope::Keeper`);
//! snapshots and explanations, above it, are in `snapshot`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use arc_swap::ArcSwap;
use flags_model::{Catalog, Input, SourceFile, Value};

use crate::descriptor::{Descriptor, FlagDescriptor, StaticValue};
use crate::events::{EvaluationListener, ListenerId, Listeners};
use crate::marks::Words;
use crate::report::{InitError, OverrideError, Report, SegmentError};
use crate::resolution::Resolution;
use crate::slot;
use crate::sources::{Origin, ProcessVars, Vars, check_value, find_flag, segment_index};
use crate::stub::{self, StubGuard};
use crate::sync::lock;
use crate::writer::Writer;

mod held;
mod outcome;
mod read;

/// The run-time side of one `flags.toml`: reached through the generated
/// `Flags::runtime()`.
pub struct Runtime {
    descriptor: &'static Descriptor,
    /// Each flag's published word, and why it is marked.
    words: Words,
    vars: &'static dyn Vars,
    state: OnceLock<State>,
    /// Configurations kept by task scopes, with how many scopes keep each.
    held: Mutex<Vec<held::HeldCount>>,
    listeners: Listeners,
    explicit_init: AtomicBool,
    /// The generation of the current configuration, set after each swap: a thread that read
    /// this generation before can use the configuration it kept (see
    /// [`Runtime::with_current`]). Beside `state`, not in it, so that a check of the
    /// thread's kept configuration need not look whether `state` is set.
    generation: AtomicU64,
}

/// What the runtime has once started.
struct State {
    catalog: Catalog,
    /// Whether the compiled flags are those `flags.toml` declares.
    consistent: bool,
    current: ArcSwap<Resolution>,
    writer: Mutex<Writer>,
}

impl Runtime {
    /// A runtime for the flags in `descriptor`, publishing into `slots` (one per flag).
    pub const fn new(descriptor: &'static Descriptor, slots: &'static [AtomicU64]) -> Self {
        Self::with_vars(descriptor, slots, &ProcessVars)
    }

    /// Like [`Runtime::new`], reading environment variables from `vars`.
    pub const fn with_vars(
        descriptor: &'static Descriptor,
        slots: &'static [AtomicU64],
        vars: &'static dyn Vars,
    ) -> Self {
        Self {
            descriptor,
            words: Words::new(slots),
            vars,
            state: OnceLock::new(),
            held: Mutex::new(Vec::new()),
            listeners: Listeners::new(),
            explicit_init: AtomicBool::new(false),
            generation: AtomicU64::new(0),
        }
    }

    /// A runtime over a `flags.toml` read at run time rather than compiled in, for tools (the
    /// `flags` command explains a flag with it). `vars` supplies the environment variables it
    /// reads: the environment selector, the overrides file's path, per-flag overrides.
    ///
    /// The runtime lives as long as the process (its tables are leaked, as a generated
    /// `Flags` type's are static), so call this once per file, not per request. A file with
    /// problems is refused with every diagnostic, rendered with file, line and help.
    pub fn load(
        path: &str,
        text: &str,
        vars: &'static dyn Vars,
    ) -> Result<&'static Runtime, Vec<String>> {
        let file = SourceFile::new(path, text);
        let parsed = flags_model::parse(&file);
        if !parsed.diagnostics.is_empty() {
            return Err(parsed.diagnostics.iter().map(|d| d.render(&file)).collect());
        }
        let leak = |text: &str| -> &'static str { Box::leak(text.into()) };
        let flags: Vec<FlagDescriptor> = parsed
            .catalog
            .flags()
            .iter()
            .map(|flag| FlagDescriptor {
                key: leak(flag.key()),
                default: match flag.default() {
                    Value::Bool(b) => StaticValue::Bool(*b),
                    Value::Int(i) => StaticValue::Int(*i),
                    Value::Float(f) => StaticValue::Float(*f),
                    Value::String(s) => StaticValue::Str(leak(s)),
                    Value::Variant { index, name } => StaticValue::Variant(*index, leak(name)),
                },
                // Nothing is compiled: every rule is interpreted.
                native: 0,
            })
            .collect();
        let slots: Vec<AtomicU64> = (0..flags.len())
            .map(|_| AtomicU64::new(slot::UNINIT))
            .collect();
        let descriptor = Box::leak(Box::new(Descriptor {
            path: leak(path),
            source: leak(text),
            flags: Vec::leak(flags),
        }));
        let runtime = Runtime::with_vars(descriptor, Vec::leak(slots), vars);
        Ok(Box::leak(Box::new(runtime)))
    }

    /// Starts the runtime now rather than at the first flag check, and says how that went.
    ///
    /// An unknown or missing environment is an error: the runtime then serves each flag's
    /// `default` (plus overrides) until the environment variable is fixed and
    /// [`Runtime::reload`] is called. Other problems (a bad override) are in the report; they
    /// never stop the runtime. Started lazily instead, the runtime prints the same problems to
    /// standard error once, and logs them with `tracing`.
    pub fn init(&'static self) -> Result<Report, InitError> {
        self.explicit_init.store(true, Ordering::SeqCst);
        let resolution = self.state().current.load();
        match &resolution.environment_error {
            Some(error) if resolution.environment.is_none() => Err(error.clone()),
            _ => Ok(self.report_of(&resolution)),
        }
    }

    /// Re-reads the environment variables and the overrides file, and swaps in the new
    /// configuration whole. Readers never wait: they see the old configuration or the new
    /// one. What a source gets wrong is reported; its last good values stay.
    pub fn reload(&'static self) -> Report {
        let state = self.state();
        let mut writer = lock(&state.writer);
        let resolution = writer.refresh(self.descriptor, self.vars, &state.catalog, true);
        let report = self.report_of(&resolution);
        self.publish(state, resolution);
        report
    }

    /// The problems of the configuration now in force.
    pub fn report(&'static self) -> Report {
        self.report_of(&self.state().current.load())
    }

    /// The environment in use, if one could be chosen.
    pub fn environment(&'static self) -> Option<&'static str> {
        let index = self.state().current.load().environment?;
        self.catalog()
            .environments()
            .names()
            .get(index)
            .map(String::as_str)
    }

    /// Everything `flags.toml` declares.
    pub fn catalog(&'static self) -> &'static Catalog {
        &self.state().catalog
    }
    /// Registers `listener` to hear of every evaluation of this runtime's flags, in every
    /// thread, until removed. While any listener is registered, checks leave the one-load
    /// fast path (each costs what a targeted flag's check does), so that none is missed.
    pub fn add_listener(&'static self, listener: Arc<dyn EvaluationListener>) -> ListenerId {
        let (id, first) = self.listeners.add(listener);
        if first {
            self.words.set_observed(true);
        }
        id
    }

    /// Removes a listener; when it was the last, checks take the fast path again.
    pub fn remove_listener(&'static self, id: ListenerId) {
        if self.listeners.remove(id) {
            self.words.set_observed(false);
        }
    }

    /// Overrides a flag for the whole process (above environment variables and the overrides
    /// file; below test stubs). The value is checked against the flag's type; a refused value
    /// changes nothing. An override is final: targeting and prerequisites do not apply.
    pub fn set_override(
        &'static self,
        name: &str,
        value: impl Into<Input>,
    ) -> Result<(), OverrideError> {
        let (index, value) = check_value(self.catalog(), name, value.into())?;
        self.change(|writer| writer.programmatic.set(index, value, Origin::Programmatic));
        Ok(())
    }

    /// Removes a programmatic override.
    pub fn clear_override(&'static self, name: &str) -> Result<(), OverrideError> {
        let (index, _) = find_flag(self.catalog(), name)?;
        self.change(|writer| writer.programmatic.clear(index));
        Ok(())
    }

    /// Removes every programmatic override.
    pub fn clear_overrides(&'static self) {
        self.change(|writer| writer.programmatic.clear_all());
    }

    /// Adds the context key `key` to `segment`, in every thread from the next evaluation on
    /// (as when a support tool tags a user as a beta tester). It costs what one key costs,
    /// however many the segment lists.
    pub fn add_to_segment(&'static self, segment: &str, key: &str) -> Result<(), SegmentError> {
        self.add_to_segment_many(segment, [key])
    }

    /// Adds every key of `keys` to `segment`, in one new configuration.
    pub fn add_to_segment_many<'k>(
        &'static self,
        segment: &str,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> Result<(), SegmentError> {
        self.change_segment(segment, keys, true)
    }

    /// Removes the context key `key` from `segment` (also a key listed in `flags.toml`).
    pub fn remove_from_segment(
        &'static self,
        segment: &str,
        key: &str,
    ) -> Result<(), SegmentError> {
        self.remove_from_segment_many(segment, [key])
    }

    /// Removes every key of `keys` from `segment`, in one new configuration.
    pub fn remove_from_segment_many<'k>(
        &'static self,
        segment: &str,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> Result<(), SegmentError> {
        self.change_segment(segment, keys, false)
    }

    /// Changes segment `segment` in source `id`'s layer (see `SourceHandle::change_segment`).
    pub(crate) fn change_source_segment(
        &'static self,
        id: crate::sources::SourceId,
        segment: usize,
        keys: &[Arc<str>],
        add: bool,
    ) {
        let state = self.state();
        let mut writer = lock(&state.writer);
        if let Some(resolution) =
            writer.change_source_segment(id, &state.catalog, segment, keys, add)
        {
            self.publish_configuration(state, resolution, false);
        }
    }

    /// Sets flag `index` in source `id`'s layer (see `SourceHandle::set_entry`).
    #[cfg(feature = "redis")]
    pub(crate) fn change_source_setting(
        &'static self,
        id: crate::sources::SourceId,
        index: usize,
        entry: Option<(flags_model::Setting, crate::sources::Origin)>,
    ) {
        let state = self.state();
        let mut writer = lock(&state.writer);
        if let Some(resolution) =
            writer.change_source_setting(id, self.descriptor, &state.catalog, index, entry)
        {
            self.publish(state, resolution);
        }
    }

    fn change_segment<'k>(
        &'static self,
        segment: &str,
        keys: impl IntoIterator<Item = &'k str>,
        add: bool,
    ) -> Result<(), SegmentError> {
        let index = self.find_segment(segment)?;
        let keys: Vec<Arc<str>> = keys.into_iter().map(Arc::from).collect();
        let state = self.state();
        let mut writer = lock(&state.writer);
        let resolution = writer.change_segment(index, &keys, add);
        // Only segments changed: every flag's word stays as it is.
        self.publish_configuration(state, resolution, false);
        Ok(())
    }

    /// The keys listed in `segment` now (those of `flags.toml` with the run-time changes),
    /// sorted.
    pub fn segment_keys(&'static self, segment: &str) -> Result<Vec<String>, SegmentError> {
        let index = self.find_segment(segment)?;
        let resolution = self.state().current.load();
        let mut keys: Vec<String> = resolution
            .segments
            .get(index)
            .map(|s| s.keys.iter().map(|key| key.to_string()).collect())
            .unwrap_or_default();
        keys.sort();
        Ok(keys)
    }

    /// Whether the `_for` accessor of flag `name` (key or accessor name) runs the rules
    /// `declare!` compiled from `flags.toml` (`Some(true)`), or the runtime evaluates it
    /// (`Some(false)`: a value the same for everyone, an override of its targeting, a
    /// segment redefined, rules the macro leaves to the runtime); `None` for an unknown flag.
    /// Either way the value is the same; this says what it costs.
    pub fn runs_compiled_rules(&'static self, name: &str) -> Option<bool> {
        let (index, _) = self.catalog().find(name)?;
        let word = self.words.load(index, Ordering::Relaxed)?;
        Some(word & slot::NATIVE_MASK == slot::NATIVE_FAST)
    }

    /// A test stub for flag `index` in the current thread. Used by the generated
    /// `Flags::stub()`, which checks the value's type at compile time.
    #[doc(hidden)]
    pub fn stub(&'static self, index: usize, value: Value) -> StubGuard {
        stub::create(&self.words, index, value)
    }

    fn find_segment(&'static self, name: &str) -> Result<usize, SegmentError> {
        let index = segment_index(self.catalog(), name)?;
        if self.state().consistent {
            Ok(index)
        } else {
            // No segment is evaluated then; say so as for an unknown one.
            Err(SegmentError::UnknownSegment {
                name: name.to_owned(),
                suggestion: None,
            })
        }
    }

    /// Changes the writer's state and swaps in the configuration that results.
    fn change(&'static self, change: impl FnOnce(&mut Writer)) {
        let state = self.state();
        let mut writer = lock(&state.writer);
        change(&mut writer);
        let resolution = writer.refresh(self.descriptor, self.vars, &state.catalog, false);
        self.publish(state, resolution);
    }

    /// Runs `change` on the writer (given the catalog and the variables the runtime reads),
    /// then swaps in the configuration that results; returns what `change` returned and the
    /// report of the new configuration.
    pub(crate) fn change_writer<R>(
        &'static self,
        change: impl FnOnce(&mut Writer, &Catalog, &dyn Vars) -> R,
    ) -> (R, Report) {
        let state = self.state();
        let mut writer = lock(&state.writer);
        let result = change(&mut writer, &state.catalog, self.vars);
        let resolution = writer.refresh(self.descriptor, self.vars, &state.catalog, false);
        let report = self.report_of(&resolution);
        self.publish(state, resolution);
        (result, report)
    }

    fn report_of(&'static self, resolution: &Resolution) -> Report {
        let catalog = self.state().catalog.environments();
        Report {
            environment: resolution
                .environment
                .and_then(|index| catalog.names().get(index).cloned()),
            problems: resolution.problems.to_vec(),
        }
    }

    #[inline]
    fn state(&'static self) -> &'static State {
        self.state.get_or_init(|| self.start())
    }

    #[cold]
    fn start(&'static self) -> State {
        let descriptor = self.descriptor;
        let parsed = flags_model::parse(&SourceFile::new(descriptor.path, descriptor.source));
        let consistent = parsed.diagnostics.is_empty()
            && parsed.catalog.flags().len() == descriptor.flags.len()
            && self.words.len() == descriptor.flags.len()
            && parsed
                .catalog
                .flags()
                .iter()
                .zip(descriptor.flags)
                .all(|(flag, compiled)| flag.key() == compiled.key);
        let mut writer = Writer::new(
            consistent,
            descriptor.flags.len(),
            parsed.catalog.segments().len(),
        );
        let resolution = writer.refresh(self.descriptor, self.vars, &parsed.catalog, true);
        if !self.explicit_init.load(Ordering::SeqCst) {
            // Nobody asked for this report: make sure it is seen even without a subscriber.
            for problem in resolution.problems.iter() {
                eprintln!("flags: {problem}");
            }
        }
        let resolution = Arc::new(resolution);
        self.words.publish(&resolution);
        // Before `state` is set: no thread keeps a configuration of this runtime yet.
        self.generation
            .store(resolution.generation, Ordering::Release);
        State {
            catalog: parsed.catalog,
            consistent,
            current: ArcSwap::new(resolution),
            writer: Mutex::new(writer),
        }
    }

    fn publish(&self, state: &State, resolution: Resolution) {
        self.publish_configuration(state, resolution, true);
    }

    /// Swaps `resolution` in; with `flags_changed`, also publishes every flag's word.
    fn publish_configuration(&self, state: &State, resolution: Resolution, flags_changed: bool) {
        let resolution = Arc::new(resolution);
        let generation = resolution.generation;
        // Held while swapping, so that no scope takes the old configuration unnoticed.
        let held = lock(&self.held);
        let diverged = held::divergence(&held, &resolution);
        // Mark what differs from a kept configuration before its new word is visible;
        // unmark only after, so a scope never reads a word that is not its own.
        self.words.mark_diverged(&diverged, true);
        state.current.store(Arc::clone(&resolution));
        self.generation.store(generation, Ordering::Release);
        if flags_changed {
            self.words.publish(&resolution);
        }
        self.words.mark_diverged(&diverged, false);
        drop(held);
    }

    /// Asks for every flag's presence: each flag's next check takes the slow path once and
    /// is noted (evaluation counts sample checks, and a flag checked once a day would slip
    /// between their windows). Returns the flags checked since the previous call.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn arm_presence(&self) -> Vec<usize> {
        self.words.arm_presence()
    }

    /// Takes the asking for presence (one asker at a time); false while another has it.
    #[cfg(feature = "redis")]
    pub(crate) fn claim_presence(&self) -> bool {
        self.words.claim_presence()
    }

    /// No flag's presence is asked for any longer.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn disarm_presence(&self) {
        self.words.disarm_presence();
    }

    /// The configuration in force, whatever a task scope of this thread keeps.
    pub(crate) fn current(&'static self) -> Arc<Resolution> {
        self.state().current.load_full()
    }

    /// Whether the compiled flags are those `flags.toml` declares (they are, unless the
    /// descriptor was built by hand): only then are segments and explanations served.
    pub(crate) fn is_consistent(&'static self) -> bool {
        self.state().consistent
    }

    /// Where the runtime reads environment variables from.
    pub(crate) fn vars(&self) -> &'static dyn Vars {
        self.vars
    }

    /// The compiled default of flag `index`.
    pub(crate) fn default_value(&self, index: usize) -> Value {
        self.descriptor.default_value(index)
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("flags_toml", &self.descriptor.path)
            .field("started", &self.state.get().is_some())
            .finish_non_exhaustive()
    }
}
