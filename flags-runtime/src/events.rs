//! Evaluation events: a `tracing` event per evaluation, with OpenTelemetry's
//! `feature_flag.*` field names, and listeners an application registers to count
//! evaluations (analytics, exposure logging).
//!
//! Neither carries the evaluation context: no user id or attribute reaches a log field or a
//! metric label through them.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use flags_model::Value;

use crate::eval::{Reason, Why};

/// The `tracing` target of evaluation events: `RUST_LOG=flags::evaluation=debug` shows them.
pub const EVALUATION_TARGET: &str = "flags::evaluation";

/// How a value was decided, as OpenTelemetry's `feature_flag.result.reason` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EvaluationReason {
    /// The same value for everyone: `flags.toml`'s value for the environment, an override,
    /// or a test stub.
    Static,
    /// `flags.toml`'s `default`, or the fallthrough value when no rule matched.
    Default,
    /// A targeting rule matched.
    TargetingMatch,
    /// A percentage rollout put the context in its bucket.
    Split,
    /// A prerequisite flag was off, so the flag's default was served.
    Disabled,
    /// The flag could not be evaluated; its default was served.
    Error,
}

impl EvaluationReason {
    /// OpenTelemetry's name: `static`, `default`, `targeting_match`, `split`, `disabled`,
    /// `error`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EvaluationReason::Static => "static",
            EvaluationReason::Default => "default",
            EvaluationReason::TargetingMatch => "targeting_match",
            EvaluationReason::Split => "split",
            EvaluationReason::Disabled => "disabled",
            EvaluationReason::Error => "error",
        }
    }

    /// The kind of an evaluation's reason, without making the reason: what
    /// `EvaluationReason::from(&reason)` gives for the reason `why` becomes.
    pub(crate) fn of(why: &Why<'_>) -> Self {
        match why {
            Why::Stub | Why::Override(_) => EvaluationReason::Static,
            Why::Static(crate::sources::Origin::Default) => EvaluationReason::Default,
            Why::Static(_) => EvaluationReason::Static,
            Why::Rule {
                bucket: Some(_), ..
            }
            | Why::Fallthrough { bucket: Some(_) } => EvaluationReason::Split,
            Why::Rule { .. } => EvaluationReason::TargetingMatch,
            Why::Fallthrough { bucket: None } => EvaluationReason::Default,
            Why::PrerequisiteOff(_) => EvaluationReason::Disabled,
            // Each is a `Reason::Error`: the kind of a reason is the same from either.
            Why::NoBucketKey(_) | Why::Missing => EvaluationReason::Error,
        }
    }
}

impl From<&Reason> for EvaluationReason {
    /// The kind of a reason, as evaluation events report it: what OpenFeature's providers and
    /// the OFREP endpoints answer too, so that one mapping serves them all.
    fn from(reason: &Reason) -> Self {
        match reason {
            Reason::Stub | Reason::Override { .. } => EvaluationReason::Static,
            Reason::Static {
                origin: crate::sources::Origin::Default,
            } => EvaluationReason::Default,
            Reason::Static { .. } => EvaluationReason::Static,
            Reason::Rule {
                bucket: Some(_), ..
            }
            | Reason::Fallthrough { bucket: Some(_) } => EvaluationReason::Split,
            Reason::Rule { .. } => EvaluationReason::TargetingMatch,
            Reason::Fallthrough { bucket: None } => EvaluationReason::Default,
            Reason::PrerequisiteOff { .. } => EvaluationReason::Disabled,
            Reason::Error { .. } => EvaluationReason::Error,
        }
    }
}

impl fmt::Display for EvaluationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One evaluation, as listeners see it: the flag, the value served and why. It holds no
/// part of the context evaluated for.
#[derive(Clone, Copy, Debug)]
pub struct EvaluationEvent<'a> {
    pub(crate) flag: &'static str,
    pub(crate) value: &'a Value,
    pub(crate) reason: EvaluationReason,
    pub(crate) generation: u64,
}

impl<'a> EvaluationEvent<'a> {
    /// The flag's key, as written in `flags.toml`.
    pub fn flag(&self) -> &'static str {
        self.flag
    }

    /// The value served.
    pub fn value(&self) -> &'a Value {
        self.value
    }

    /// Why it was served.
    pub fn reason(&self) -> EvaluationReason {
        self.reason
    }

    /// The generation of the configuration evaluated with (OpenTelemetry's
    /// `feature_flag.version`).
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

/// Receives every evaluation of a runtime's flags while registered with
/// [`Runtime::add_listener`](crate::Runtime::add_listener).
///
/// Called on the thread that evaluates, inside the check: keep it short and never block
/// (count, or send to a channel). A closure `Fn(&EvaluationEvent)` is a listener.
pub trait EvaluationListener: Send + Sync {
    /// One flag was evaluated.
    fn on_evaluation(&self, event: &EvaluationEvent<'_>);
}

impl<F: Fn(&EvaluationEvent<'_>) + Send + Sync> EvaluationListener for F {
    fn on_evaluation(&self, event: &EvaluationEvent<'_>) {
        self(event)
    }
}

/// Identifies a registered listener, to remove it with
/// [`Runtime::remove_listener`](crate::Runtime::remove_listener).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

type Registered = Box<[(ListenerId, Arc<dyn EvaluationListener>)]>;

/// A runtime's listeners: read without a lock on evaluation, changed under one.
pub(crate) struct Listeners {
    current: ArcSwapOption<Registered>,
    /// The next id; held while the list is replaced, so that changes do not race.
    next_id: Mutex<u64>,
    any: AtomicBool,
}

impl Listeners {
    pub(crate) const fn new() -> Self {
        Self {
            current: ArcSwapOption::const_empty(),
            next_id: Mutex::new(0),
            any: AtomicBool::new(false),
        }
    }

    /// Whether any listener is registered.
    #[inline]
    pub(crate) fn any(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// Adds `listener`; says whether the list was empty before.
    pub(crate) fn add(&self, listener: Arc<dyn EvaluationListener>) -> (ListenerId, bool) {
        let mut next_id = crate::sync::lock(&self.next_id);
        let id = ListenerId(*next_id);
        *next_id += 1;
        let mut list = self.registered();
        let was_empty = list.is_empty();
        list.push((id, listener));
        self.current.store(Some(Arc::new(list.into_boxed_slice())));
        self.any.store(true, Ordering::Release);
        (id, was_empty)
    }

    /// Removes listener `id`; says whether the list is empty now.
    pub(crate) fn remove(&self, id: ListenerId) -> bool {
        let _writing = crate::sync::lock(&self.next_id);
        let mut list = self.registered();
        list.retain(|(registered, _)| *registered != id);
        let empty = list.is_empty();
        self.current
            .store((!empty).then(|| Arc::new(list.into_boxed_slice())));
        self.any.store(!empty, Ordering::Release);
        empty
    }

    /// A copy of the registered listeners, to change and store back.
    fn registered(&self) -> Vec<(ListenerId, Arc<dyn EvaluationListener>)> {
        self.current
            .load()
            .as_deref()
            .map(|list| list.to_vec())
            .unwrap_or_default()
    }

    /// Whether an evaluation has anyone to be reported to: a listener, or a `tracing`
    /// subscriber that may want debug events (two relaxed loads; the callsite's own filter
    /// decides after that).
    #[inline]
    pub(crate) fn wanted(&self) -> bool {
        self.any() || debug_wanted()
    }

    /// Reports `event` as a `tracing` event, and to every listener.
    pub(crate) fn report(&self, event: &EvaluationEvent<'_>) {
        trace_event(event);
        if !self.any() {
            return;
        }
        if let Some(list) = self.current.load().as_deref() {
            for (_, listener) in list.iter() {
                listener.on_evaluation(event);
            }
        }
    }
}

/// Whether a `tracing` subscriber may want debug events (one relaxed load).
#[inline(always)]
pub(crate) fn debug_wanted() -> bool {
    tracing::level_enabled!(tracing::Level::DEBUG)
}

/// The `tracing` event (named `feature_flag.evaluation`, at debug level) for one evaluation.
fn trace_event(event: &EvaluationEvent<'_>) {
    match event.value {
        Value::Variant { name, .. } => tracing::event!(
            name: "feature_flag.evaluation",
            target: EVALUATION_TARGET,
            tracing::Level::DEBUG,
            feature_flag.key = event.flag,
            feature_flag.provider.name = "flags",
            feature_flag.result.variant = &**name,
            feature_flag.result.value = &**name,
            feature_flag.result.reason = event.reason.as_str(),
            feature_flag.version = event.generation,
        ),
        value => tracing::event!(
            name: "feature_flag.evaluation",
            target: EVALUATION_TARGET,
            tracing::Level::DEBUG,
            feature_flag.key = event.flag,
            feature_flag.provider.name = "flags",
            feature_flag.result.value = %value,
            feature_flag.result.reason = event.reason.as_str(),
            feature_flag.version = event.generation,
        ),
    }
}

/// A listener that counts evaluations per flag and value: the figures behind "how many
/// checks served the new checkout today". Register it with `Arc::clone`, read it any time.
///
/// ```
/// # use flags_runtime::{EvaluationCounter, Value};
/// let counter = std::sync::Arc::new(EvaluationCounter::new());
/// // Flags::runtime().add_listener(counter.clone());
/// assert_eq!(counter.count("new-checkout", &Value::Bool(true)), 0);
/// ```
#[derive(Debug, Default)]
pub struct EvaluationCounter {
    /// Per flag, each value seen and how often: few values per flag, so a short list
    /// compared in place beats hashing (and needs no allocation once a value is known).
    counts: Mutex<HashMap<&'static str, Vec<(Value, u64)>>>,
}

/// How many times a flag served a value; from [`EvaluationCounter::counts`].
#[derive(Clone, Debug, PartialEq)]
pub struct EvaluationCount {
    /// The flag's key.
    pub flag: &'static str,
    /// The value served.
    pub value: Value,
    /// How many evaluations served it.
    pub count: u64,
}

impl EvaluationCounter {
    /// A counter with nothing counted.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many evaluations of `flag` served `value` so far.
    pub fn count(&self, flag: &str, value: &Value) -> u64 {
        crate::sync::lock(&self.counts)
            .get(flag)
            .and_then(|values| values.iter().find(|(v, _)| v == value))
            .map_or(0, |(_, count)| *count)
    }

    /// Every flag and value counted, sorted by flag, then by value as text.
    pub fn counts(&self) -> Vec<EvaluationCount> {
        sorted(&crate::sync::lock(&self.counts))
    }

    /// Forgets every count (at the end of a reporting period), returning them.
    pub fn take(&self) -> Vec<EvaluationCount> {
        let taken = std::mem::take(&mut *crate::sync::lock(&self.counts));
        sorted(&taken)
    }
}

fn sorted(counts: &HashMap<&'static str, Vec<(Value, u64)>>) -> Vec<EvaluationCount> {
    let mut counts: Vec<EvaluationCount> = counts
        .iter()
        .flat_map(|(flag, values)| {
            values.iter().map(|(value, count)| EvaluationCount {
                flag,
                value: value.clone(),
                count: *count,
            })
        })
        .collect();
    counts.sort_by(|a, b| (a.flag, a.value.to_string()).cmp(&(b.flag, b.value.to_string())));
    counts
}

impl EvaluationListener for EvaluationCounter {
    fn on_evaluation(&self, event: &EvaluationEvent<'_>) {
        let mut counts = crate::sync::lock(&self.counts);
        let values = counts.entry(event.flag).or_default();
        match values.iter_mut().find(|(v, _)| v == event.value) {
            Some((_, count)) => *count += 1,
            None => values.push((event.value.clone(), 1)),
        }
    }
}
