//! The runtime behind one generated `Flags` type: it starts on first use (or at
//! [`Runtime::init`]), resolves every flag, publishes the results for one-load checks, and
//! rebuilds the whole configuration on [`Runtime::reload`] or a change made through it.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use arc_swap::ArcSwap;
use flags_model::{Catalog, Flag, Input, MAX_REQUIREMENT_DEPTH, SourceFile, Value};

use crate::condition::Scope;
use crate::context::{self, AnyContext, Attribute};
use crate::descriptor::{Descriptor, FlagDescriptor, FromValue, StaticValue};
use crate::eval::{Outcome, Reason, Visited, Why};
use crate::events::{EvaluationEvent, EvaluationListener, EvaluationReason, ListenerId, Listeners};
use crate::report::{InitError, OverrideError, Report, SegmentError};
use crate::resolution::{Resolution, Resolved};
use crate::scope::{self, Held};
use crate::slot::{self, LOCAL, OBSERVED, TAG_MASK};
use crate::snapshot::{Evaluation, Snapshot};
use crate::sources::{Origin, ProcessVars, Vars, check_value, find_flag, segment_index};
use crate::stub::{self, StubGuard};
use crate::writer::Writer;

/// A flag's declaration, its value now (in the current thread and context) and why.
#[derive(Clone, Debug)]
pub struct FlagInfo {
    flag: &'static Flag,
    value: Value,
    reason: Reason,
}

impl FlagInfo {
    /// The declaration: key, description, owner, ticket, expiry, type, per-environment values.
    pub fn flag(&self) -> &'static Flag {
        self.flag
    }

    /// The value now in force (in the current thread, stubs included, for the current context).
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Why it has that value.
    pub fn reason(&self) -> &Reason {
        &self.reason
    }
}

/// The run-time side of one `flags.toml`: reached through the generated
/// `Flags::runtime()`.
pub struct Runtime {
    descriptor: &'static Descriptor,
    slots: &'static [AtomicU64],
    vars: &'static dyn Vars,
    state: OnceLock<State>,
    marks: Mutex<Marks>,
    /// Configurations kept by task scopes, with how many scopes keep each.
    held: Mutex<Vec<HeldCount>>,
    listeners: Listeners,
    explicit_init: AtomicBool,
    /// The generation of the current configuration, set after each swap: a thread that read
    /// this generation before can use the configuration it kept (see
    /// [`Runtime::with_current`]). Beside `state`, not in it, so that a check of the
    /// thread's kept configuration need not look whether `state` is set.
    generation: AtomicU64,
}

/// Why flags' words carry the `LOCAL` and `OBSERVED` bits.
struct Marks {
    /// Per flag, how many stubs exist (in any thread).
    stubs: Vec<u32>,
    /// Per flag, whether some kept configuration has another value than the current one.
    diverged: Vec<bool>,
    /// How many of `diverged` are set: none is the common case, which then costs nothing
    /// per flag (a segment change in a program with many flags).
    diverged_count: usize,
    /// Whether listeners want every check.
    observed: bool,
}

struct HeldCount {
    resolution: Arc<Resolution>,
    scopes: usize,
}

struct State {
    catalog: Catalog,
    consistent: bool,
    current: ArcSwap<Resolution>,
    writer: Mutex<Writer>,
}

thread_local! {
    /// The configuration this thread evaluated with last, and the address of its runtime.
    /// Evaluations reuse it while the runtime's generation is unchanged, which saves the
    /// shared ArcSwap's bookkeeping on every evaluation; it holds one old configuration per
    /// idle thread alive until that thread's next evaluation.
    static LAST_USED: RefCell<Option<(usize, Arc<Resolution>)>> = const { RefCell::new(None) };
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
            slots,
            vars,
            state: OnceLock::new(),
            marks: Mutex::new(Marks {
                stubs: Vec::new(),
                diverged: Vec::new(),
                diverged_count: 0,
                observed: false,
            }),
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

    /// Every flag with its declaration, current value and why (for the current context).
    pub fn flags(&'static self) -> Vec<FlagInfo> {
        let snapshot = self.snapshot();
        (0..self.catalog().flags().len())
            .filter_map(|index| self.info(&snapshot, index, None))
            .collect()
    }

    /// One flag (by key or accessor name) with its value and why, for `context` (the
    /// current context when `None`): the answer to "why does this user see the feature?".
    pub fn explain(
        &'static self,
        name: &str,
        context: Option<&dyn AnyContext>,
    ) -> Option<FlagInfo> {
        let (index, _) = self.catalog().find(name)?;
        self.info(&self.snapshot(), index, context)
    }

    /// The configuration now in force, held still for consistent reads of several flags.
    ///
    /// Inside a [`TaskScope`](crate::TaskScope) that keeps this runtime's configuration,
    /// that configuration.
    pub fn snapshot(&'static self) -> Snapshot {
        let state = self.state();
        let resolution = scope::held(self).unwrap_or_else(|| state.current.load_full());
        Snapshot {
            runtime: self,
            resolution,
        }
    }

    /// Registers `listener` to hear of every evaluation of this runtime's flags, in every
    /// thread, until removed. While any listener is registered, checks leave the one-load
    /// fast path (each costs what a targeted flag's check does), so that none is missed.
    pub fn add_listener(&'static self, listener: Arc<dyn EvaluationListener>) -> ListenerId {
        let (id, first) = self.listeners.add(listener);
        if first {
            self.set_observed(true);
        }
        id
    }

    /// Removes a listener; when it was the last, checks take the fast path again.
    pub fn remove_listener(&'static self, id: ListenerId) {
        if self.listeners.remove(id) {
            self.set_observed(false);
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
        let word = self.slots.get(index)?.load(Ordering::Relaxed);
        Some(word & slot::NATIVE_MASK == slot::NATIVE_FAST)
    }

    /// Whether segment `segment` of the configuration in force lists the context key `key`:
    /// what the rules `declare!` compiles ask, since keys change at run time (the segment's
    /// rules are compiled with the flag's).
    #[doc(hidden)]
    pub fn segment_lists(&'static self, segment: usize, key: Option<Attribute<'_>>) -> bool {
        self.with_current(|resolution| {
            resolution
                .segments
                .get(segment)
                .is_some_and(|state| state.lists(key))
        })
    }

    /// A test stub for flag `index` in the current thread. Used by the generated
    /// `Flags::stub()`, which checks the value's type at compile time.
    #[doc(hidden)]
    pub fn stub(&'static self, index: usize, value: Value) -> StubGuard {
        stub::create(self, index, value)
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

    fn info(
        &'static self,
        snapshot: &Snapshot,
        index: usize,
        context: Option<&dyn AnyContext>,
    ) -> Option<FlagInfo> {
        if !self.state().consistent {
            return None;
        }
        let flag = self.catalog().flags().get(index)?;
        let Evaluation { value, reason } = snapshot.explain(index, context);
        Some(FlagInfo {
            flag,
            value,
            reason,
        })
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
            && self.slots.len() == descriptor.flags.len()
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
        self.publish_slots(&resolution);
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
        let diverged = divergence(&held, &resolution);
        // Mark what differs from a kept configuration before its new word is visible;
        // unmark only after, so a scope never reads a word that is not its own.
        self.mark_diverged(&diverged, true);
        state.current.store(Arc::clone(&resolution));
        self.generation.store(generation, Ordering::Release);
        if flags_changed {
            self.publish_slots(&resolution);
        }
        self.mark_diverged(&diverged, false);
        drop(held);
    }

    /// Keeps the configuration now in force for a task scope, until the returned handle
    /// (and its clones) are dropped.
    pub(crate) fn hold(&'static self) -> Arc<Held> {
        let state = self.state();
        let mut held = lock(&self.held);
        let resolution = state.current.load_full();
        match held
            .iter_mut()
            .find(|h| h.resolution.generation == resolution.generation)
        {
            Some(entry) => entry.scopes += 1,
            None => held.push(HeldCount {
                resolution: Arc::clone(&resolution),
                scopes: 1,
            }),
        }
        Arc::new(Held {
            runtime: self,
            resolution,
        })
    }

    /// A task scope no longer keeps `resolution`.
    pub(crate) fn release_held(&self, resolution: &Resolution) {
        let Some(state) = self.state.get() else {
            return;
        };
        let mut held = lock(&self.held);
        let Some(position) = held
            .iter()
            .position(|h| h.resolution.generation == resolution.generation)
        else {
            return;
        };
        held[position].scopes -= 1;
        if held[position].scopes > 0 {
            return;
        }
        held.swap_remove(position);
        if resolution.generation != self.generation.load(Ordering::Acquire) {
            let diverged = divergence(&held, &state.current.load());
            self.mark_diverged(&diverged, false);
        }
    }

    /// Sets the flags' record of divergence to `diverged` (with `keep`, only adds to it)
    /// and updates their words.
    fn mark_diverged(&self, diverged: &[bool], keep: bool) {
        let mut marks = lock(&self.marks);
        if diverged.is_empty() && marks.diverged_count == 0 {
            return;
        }
        marks.diverged.resize(self.slots.len(), false);
        for index in 0..self.slots.len() {
            let now = diverged.get(index).copied().unwrap_or(false);
            let was = marks.diverged[index];
            if now != was && (now || !keep) {
                marks.diverged[index] = now;
                if now {
                    marks.diverged_count += 1;
                } else {
                    marks.diverged_count -= 1;
                }
                self.apply_marks(&marks, index);
            }
        }
    }

    fn set_observed(&self, observed: bool) {
        let mut marks = lock(&self.marks);
        marks.observed = observed;
        for index in 0..self.slots.len() {
            self.apply_marks(&marks, index);
        }
    }

    /// Sets flag `index`'s `LOCAL` and `OBSERVED` bits as `marks` say.
    fn apply_marks(&self, marks: &Marks, index: usize) {
        let Some(slot) = self.slots.get(index) else {
            return;
        };
        let local = marks.stubs.get(index).is_some_and(|&count| count > 0)
            || marks.diverged.get(index).copied().unwrap_or(false);
        let bits = if local { LOCAL } else { 0 } | if marks.observed { OBSERVED } else { 0 };
        let _ = slot.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |old| {
            Some((old & !(LOCAL | OBSERVED)) | bits)
        });
    }

    /// Runs `read` on the configuration now in force, taken from this thread's cache when it
    /// is still current. Re-entrant use (a context whose attributes read flags) and use while
    /// the thread is exiting fall back to the shared load.
    #[inline(always)]
    fn with_current<R>(&'static self, mut read: impl FnMut(&Resolution) -> R) -> R {
        let state = self.state();
        // A configuration held by this thread's task scope comes first.
        let held = if scope::none_in_this_thread() {
            None
        } else {
            scope::held_generation(self)
        };
        let generation = held.unwrap_or_else(|| self.generation.load(Ordering::Acquire));
        let me = std::ptr::from_ref(self).addr();
        // The thread's cache is borrowed, never cloned: evaluations in request threads touch
        // no shared reference count while the configuration stays the same.
        let cached = LAST_USED.try_with(|cell| {
            let kept = cell.try_borrow().ok()?;
            let (runtime, resolution) = kept.as_ref()?;
            (*runtime == me && resolution.generation == generation).then(|| read(resolution))
        });
        match cached {
            Ok(Some(result)) => result,
            _ => self.with_loaded(state, held.is_some(), me, read),
        }
    }

    /// [`Runtime::with_current`] when this thread's cache does not have the configuration:
    /// loads it, runs `read`, and keeps it for the next evaluation.
    #[inline(never)]
    fn with_loaded<R>(
        &'static self,
        state: &State,
        held: bool,
        me: usize,
        read: impl FnOnce(&Resolution) -> R,
    ) -> R {
        let resolution = held
            .then(|| scope::held(self))
            .flatten()
            .unwrap_or_else(|| state.current.load_full());
        let result = read(&resolution);
        let _ = LAST_USED.try_with(|cell| {
            // Borrowed by an evaluation this one runs inside: that one keeps its own.
            if let Ok(mut kept) = cell.try_borrow_mut() {
                *kept = Some((me, resolution));
            }
        });
        result
    }

    fn publish_slots(&self, resolution: &Resolution) {
        for (slot, resolved) in self.slots.iter().zip(resolution.resolved.iter()) {
            let word = match resolved {
                Resolved::Static { value, .. } => slot::encode(value),
                Resolved::Dynamic(program) => program.native.map_or(slot::DYNAMIC, slot::native),
            };
            // Keep the marks, which are set and cleared concurrently.
            let _ = slot.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |old| {
                Some(word | (old & (LOCAL | OBSERVED)))
            });
        }
    }

    /// Where the runtime reads environment variables from.
    pub(crate) fn vars(&self) -> &'static dyn Vars {
        self.vars
    }

    /// The compiled default of flag `index`.
    pub(crate) fn default_value(&self, index: usize) -> Value {
        self.descriptor.default_value(index)
    }

    pub(crate) fn stub_acquired(&self, index: usize) {
        let mut marks = lock(&self.marks);
        marks.stubs.resize(self.slots.len(), 0);
        if let Some(count) = marks.stubs.get_mut(index) {
            *count += 1;
            if *count == 1 {
                self.apply_marks(&marks, index);
            }
        }
    }

    pub(crate) fn stub_released(&self, index: usize) {
        let mut marks = lock(&self.marks);
        if let Some(count) = marks.stubs.get_mut(index) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.apply_marks(&marks, index);
            }
        }
    }

    /// Tells listeners (and `tracing`) of one evaluation of flag `index`.
    #[inline]
    pub(crate) fn report_evaluation(
        &self,
        index: usize,
        value: &Value,
        why: &Why<'_>,
        generation: u64,
    ) {
        if !self.listeners.wanted() {
            return;
        }
        let flag = self.descriptor.flags.get(index).map_or("", |flag| flag.key);
        self.listeners.report(&EvaluationEvent {
            flag,
            value,
            reason: EvaluationReason::of(why),
            generation,
        });
    }

    /// Flag `index` in `resolution` for `context`: a stub of this thread, else what the
    /// flag resolved to (evaluated when it targets or has prerequisites).
    pub(crate) fn outcome<'r>(
        &'static self,
        resolution: &'r Resolution,
        index: usize,
        context: Option<&dyn AnyContext>,
    ) -> Outcome<'r> {
        self.outcome_in(resolution, index, context, &mut None, 0)
    }

    /// [`Runtime::outcome`] within one evaluation: prerequisites already evaluated in it are
    /// in `visited`, so that each flag is evaluated once however many flags require it.
    fn outcome_in<'r>(
        &'static self,
        resolution: &'r Resolution,
        index: usize,
        context: Option<&dyn AnyContext>,
        // Made at the first prerequisite: most evaluations have none.
        visited: &mut Option<Visited<'r>>,
        depth: usize,
    ) -> Outcome<'r> {
        let stubbed = self
            .slots
            .get(index)
            .is_some_and(|slot| slot.load(Ordering::Relaxed) & LOCAL != 0);
        if stubbed {
            if let Some(value) = stub::lookup(self, index) {
                return Outcome {
                    value: std::borrow::Cow::Owned(value),
                    why: Why::Stub,
                };
            }
        }
        let Some(resolved) = resolution.resolved.get(index) else {
            return Outcome {
                value: std::borrow::Cow::Owned(self.default_value(index)),
                why: Why::Missing,
            };
        };
        let program = match resolved {
            Resolved::Static {
                value,
                origin,
                overridden: true,
            } => {
                return Outcome {
                    value: std::borrow::Cow::Borrowed(value),
                    why: Why::Override(origin),
                };
            }
            Resolved::Static { value, origin, .. } => {
                return Outcome {
                    value: std::borrow::Cow::Borrowed(value),
                    why: Why::Static(origin),
                };
            }
            Resolved::Dynamic(program) => program,
        };
        for (required, is) in &program.requires {
            let known = visited.as_ref().and_then(|v| v.get(*required));
            let met = match known.map(|value| value == is) {
                Some(met) => met,
                // Deeper chains are refused by flags.toml's validation; this only guards.
                None if depth < MAX_REQUIREMENT_DEPTH => {
                    let value = self
                        .outcome_in(resolution, *required, context, visited, depth + 1)
                        .value;
                    let met = *value == *is;
                    visited
                        .get_or_insert_with(Visited::default)
                        .insert(*required, value);
                    met
                }
                None => false,
            };
            if !met {
                return Outcome {
                    value: std::borrow::Cow::Borrowed(&program.default),
                    why: Why::PrerequisiteOff(*required),
                };
            }
        }
        let scope = Scope {
            segments: &resolution.segments,
        };
        program.evaluate(context, scope)
    }

    /// The public form of an outcome's reason.
    pub(crate) fn reason(&'static self, outcome: &Outcome<'_>) -> Reason {
        outcome.why.to_reason(|index| {
            self.descriptor
                .flags
                .get(index)
                .map_or_else(|| format!("#{index}"), |flag| flag.key.to_owned())
        })
    }

    /// The value of flag `index` when the fast path cannot answer: before the runtime has
    /// started, while this thread has a stub or keeps an older configuration, while
    /// listeners observe checks, for values that do not fit in the published word, and for
    /// flags evaluated per context (for the current context).
    #[cold]
    #[inline(never)]
    fn read<T: FromValue>(&'static self, index: usize, decode: fn(u64) -> T) -> T {
        let Some(slot) = self.slots.get(index) else {
            return self.typed_default(index);
        };
        let mut word = slot.load(Ordering::Acquire);
        if word & TAG_MASK == slot::UNINIT {
            self.state();
            word = slot.load(Ordering::Acquire);
        }
        let word_answers = word & TAG_MASK == slot::INLINE
            && word & OBSERVED == 0
            && (word & LOCAL == 0 || scope::none_in_this_thread());
        if word_answers {
            return decode(word);
        }
        // Typed where the value is borrowed: a check moves no `Value` around.
        self.with_current(|resolution| {
            context::with_current(|current| {
                let current = current.map(|c| c as &dyn AnyContext);
                let outcome = self.outcome(resolution, index, current);
                self.report_evaluation(index, &outcome.value, &outcome.why, resolution.generation);
                self.typed(index, &outcome.value)
            })
        })
    }

    /// Flag `index` for `context`. Out of line: one copy per value type, whatever calls it.
    #[doc(hidden)]
    #[inline(never)]
    pub fn read_for<T: FromValue>(&'static self, index: usize, context: &dyn AnyContext) -> T {
        self.with_current(|resolution| self.read_for_in(resolution, index, context))
    }

    /// Flag `index` for `context` as the interpreter's usual check makes it, inlined into the
    /// caller: when this thread's cached configuration is the one in force, no stub or held
    /// configuration applies (the caller read the flag's word unmarked), nobody asks why, and
    /// the flag requires no other flag. `None` for anything else: the caller then takes
    /// [`Runtime::read_for`]. Kept apart from it so that the usual check has a small frame.
    #[inline(always)]
    pub(crate) fn read_for_cached<T: FromValue>(
        &'static self,
        index: usize,
        context: &dyn AnyContext,
    ) -> Option<T> {
        if !scope::none_in_this_thread() {
            return None;
        }
        let generation = self.generation.load(Ordering::Acquire);
        let me = std::ptr::from_ref(self).addr();
        LAST_USED
            .try_with(|cell| {
                let kept = cell.try_borrow().ok()?;
                let (runtime, resolution) = kept.as_ref()?;
                if *runtime != me || resolution.generation != generation {
                    return None;
                }
                T::from_value(self.value_only(resolution, index, context, true)?)
            })
            .ok()
            .flatten()
    }

    /// [`Runtime::read_for`] in `resolution`: inlined into the thread cache's hit, so that a
    /// check there is one frame.
    #[inline(always)]
    fn read_for_in<T: FromValue>(
        &'static self,
        resolution: &Resolution,
        index: usize,
        context: &dyn AnyContext,
    ) -> T {
        match self.value_only(resolution, index, context, false) {
            Some(value) => self.typed(index, value),
            None => self.reported_for(resolution, index, context),
        }
    }

    /// [`Runtime::read_for`] when the value alone does not do: the whole outcome, reported.
    /// Out of line, so that the value-only check keeps a small frame.
    #[inline(never)]
    fn reported_for<T: FromValue>(
        &'static self,
        resolution: &Resolution,
        index: usize,
        context: &dyn AnyContext,
    ) -> T {
        let outcome = self.outcome(resolution, index, Some(context));
        self.report_evaluation(index, &outcome.value, &outcome.why, resolution.generation);
        self.typed(index, &outcome.value)
    }

    /// The value of flag `index` for `context` when nobody asks why (no listener, no
    /// `tracing` subscriber for evaluations), no stub can apply and the flag requires no
    /// other flag: targeting evaluated without the rest of an outcome. `unstubbed`: the
    /// caller knows no stub applies, and the flag's word need not be read again.
    #[inline]
    fn value_only<'r>(
        &self,
        resolution: &'r Resolution,
        index: usize,
        context: &dyn AnyContext,
        unstubbed: bool,
    ) -> Option<&'r Value> {
        let unmarked = unstubbed
            || self
                .slots
                .get(index)
                .is_some_and(|slot| slot.load(Ordering::Relaxed) & LOCAL == 0);
        if !unmarked || self.listeners.wanted() {
            return None;
        }
        match resolution.resolved.get(index)? {
            Resolved::Static { value, .. } => Some(value),
            Resolved::Dynamic(program) if program.requires.is_empty() => {
                let scope = Scope {
                    segments: &resolution.segments,
                };
                Some(program.value_for(Some(context), scope))
            }
            Resolved::Dynamic(_) => None,
        }
    }

    /// Flag `index` for `context` (the current context when `None`), and why.
    #[doc(hidden)]
    pub fn evaluate<T: FromValue>(
        &'static self,
        index: usize,
        context: Option<&dyn AnyContext>,
    ) -> Evaluation<T> {
        let Evaluation { value, reason } = self.snapshot().evaluate(index, context);
        Evaluation {
            value: self.typed_owned(index, value),
            reason,
        }
    }

    /// Slow path of a bool check.
    #[doc(hidden)]
    pub fn read_bool(&'static self, index: usize) -> bool {
        self.read(index, slot::payload_bool)
    }

    /// Slow path of an integer check.
    #[doc(hidden)]
    pub fn read_int(&'static self, index: usize) -> i64 {
        self.read(index, slot::payload_int)
    }

    /// Slow path of a variant check: the variant's index.
    #[doc(hidden)]
    pub fn read_variant(&'static self, index: usize) -> u32 {
        self.read(index, slot::payload_variant)
    }

    /// A float flag's value.
    #[doc(hidden)]
    pub fn read_float(&'static self, index: usize) -> f64 {
        self.read(index, |_| 0.0)
    }

    /// A string flag's value.
    #[doc(hidden)]
    pub fn read_string(&'static self, index: usize) -> Arc<str> {
        self.read(index, |_| Arc::from(""))
    }

    /// `value` as `T`, falling back to the compiled default if it is somehow of another type.
    #[inline]
    pub(crate) fn typed<T: FromValue>(&self, index: usize, value: &Value) -> T {
        T::from_value(value).unwrap_or_else(|| self.typed_default(index))
    }

    /// Like [`Runtime::typed`], taking the value.
    pub(crate) fn typed_owned<T: FromValue>(&self, index: usize, value: Value) -> T {
        T::from_owned(value).unwrap_or_else(|| self.typed_default(index))
    }

    fn typed_default<T: FromValue>(&self, index: usize) -> T {
        T::from_owned(self.default_value(index)).unwrap_or_default()
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

/// Locks a mutex, recovering from a panic elsewhere: the guarded data is always left whole.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Per flag, whether some kept configuration serves it otherwise than `current` does for
/// everyone. Flags evaluated per context always count as diverged (their words never answer
/// a check anyway). Empty when no kept configuration serves any flag otherwise, as when
/// only segments changed since (the flags are then shared, not compared one by one).
fn divergence(held: &[HeldCount], current: &Resolution) -> Vec<bool> {
    let kept: Vec<&HeldCount> = held
        .iter()
        .filter(|h| {
            h.resolution.generation != current.generation
                && !Arc::ptr_eq(&h.resolution.resolved, &current.resolved)
        })
        .collect();
    if kept.is_empty() {
        return Vec::new();
    }
    current
        .resolved
        .iter()
        .enumerate()
        .map(|(index, now)| {
            kept.iter()
                .any(|h| match (h.resolution.resolved.get(index), now) {
                    (
                        Some(Resolved::Static { value: then, .. }),
                        Resolved::Static { value: now, .. },
                    ) => then != now,
                    _ => true,
                })
        })
        .collect()
}
