//! Evaluating targeting for a context: rules in order, segments, rollouts and prerequisites.
//!
//! Everything is borrowed from the configuration being read, so an evaluation allocates
//! nothing (the one exception: strings compared ignoring case that are not ASCII).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use flags_model::{
    Condition, Op, Operand, Rollout, Segment, Serve, Targeting, Test, Timestamp, Value,
};

use crate::bucket::{self, GroupHash};
use crate::context::{AnyContext, Attribute};
use crate::ops;
use crate::sources::{Membership, Origin};

/// What a flag serves for each context when it is not a single value.
#[derive(Debug)]
pub(crate) struct Program {
    /// Rules and fallthrough, when the environment targets.
    pub(crate) targeting: Option<Arc<Targeting>>,
    /// The value served when there is no targeting (the environment's or the default).
    pub(crate) value: Value,
    /// Where that value or targeting comes from.
    pub(crate) origin: Origin,
    /// Flags that must have given values first: (index, value).
    pub(crate) requires: Vec<(usize, Value)>,
    /// Served when a requirement is not met.
    pub(crate) default: Value,
    /// Each rollout's group, hashed once: one per rule, then the fallthrough's (`None` where
    /// a single value is served).
    pub(crate) groups: Box<[Option<GroupHash>]>,
    /// The environment whose compiled rules evaluate this program, when the macro compiled
    /// them and nothing replaced them.
    pub(crate) native: Option<usize>,
}

impl Program {
    /// What a flag serves per context: `targeting`, or `value` for everyone.
    pub(crate) fn new(
        targeting: Option<Arc<Targeting>>,
        value: Value,
        origin: Origin,
        requires: Vec<(usize, Value)>,
        default: Value,
    ) -> Self {
        let group = |serve: &Serve| match serve {
            Serve::Rollout(rollout) => Some(GroupHash::new(&rollout.group)),
            Serve::Value(_) => None,
        };
        let groups = targeting.as_ref().map_or_else(Box::default, |targeting| {
            targeting
                .rules
                .iter()
                .map(|rule| group(&rule.serve))
                .chain([group(&targeting.fallthrough)])
                .collect()
        });
        Self {
            targeting,
            value,
            origin,
            requires,
            default,
            groups,
            native: None,
        }
    }

    /// The program, evaluated by the compiled rules of `environment` when it is `Some`.
    pub(crate) fn with_native(mut self, environment: Option<usize>) -> Self {
        self.native = environment;
        self
    }

    fn group(&self, position: usize) -> Option<&GroupHash> {
        self.groups.get(position).and_then(Option::as_ref)
    }
}

/// The values of the prerequisites evaluated so far in one evaluation. The first few are
/// kept in place, so that the usual evaluation (a prerequisite or two) allocates nothing;
/// past them, a table by flag index keeps an evaluation linear in the flags it reaches.
pub(crate) struct Visited<'r> {
    few: [Option<(usize, Cow<'r, Value>)>; FEW_VISITED],
    many: Vec<Option<Cow<'r, Value>>>,
}

const FEW_VISITED: usize = 8;

impl Default for Visited<'_> {
    fn default() -> Self {
        Self {
            few: [const { None }; FEW_VISITED],
            many: Vec::new(),
        }
    }
}

impl<'r> Visited<'r> {
    /// The value flag `flag` was found to have, if it was evaluated already.
    pub(crate) fn get(&self, flag: usize) -> Option<&Value> {
        let in_few = self
            .few
            .iter()
            .flatten()
            .find(|(visited, _)| *visited == flag)
            .map(|(_, value)| &**value);
        in_few.or_else(|| self.many.get(flag)?.as_deref())
    }

    /// Records that flag `flag` has `value`.
    pub(crate) fn insert(&mut self, flag: usize, value: Cow<'r, Value>) {
        if let Some(free) = self.few.iter_mut().find(|slot| slot.is_none()) {
            *free = Some((flag, value));
            return;
        }
        if self.many.len() <= flag {
            self.many.resize(flag + 1, None);
        }
        self.many[flag] = Some(value);
    }
}

/// A segment's keys: a persistent set, so that a configuration made for one added or removed
/// key shares every other key with the one before (a change costs what it changes, not what
/// the segment holds), hashed with foldhash (fast on short keys, seeded per process).
pub(crate) type SegmentKeys =
    imbl::GenericHashSet<Arc<str>, foldhash::fast::RandomState, imbl::shared_ptr::DefaultSharedPtr>;

/// A segment as evaluated: its keys (declared and added at run time) and rules. Cheap to
/// clone: both are shared.
#[derive(Clone, Debug)]
pub(crate) struct SegmentState {
    pub(crate) keys: SegmentKeys,
    pub(crate) rules: Arc<[Vec<Condition>]>,
}

impl SegmentState {
    /// `segment` as declared (or redefined by a source), with `membership`'s changes.
    pub(crate) fn new(segment: &Segment, membership: &Membership) -> Self {
        let mut keys = SegmentKeys::with_hasher(foldhash::fast::RandomState::default());
        for key in &segment.keys {
            keys.insert(Arc::from(key.as_str()));
        }
        for key in &membership.added {
            keys.insert(Arc::clone(key));
        }
        for key in &membership.removed {
            keys.remove(key);
        }
        Self {
            keys,
            rules: segment.rules.clone().into(),
        }
    }

    /// Lists `key` too.
    pub(crate) fn add(&mut self, key: &Arc<str>) {
        self.keys.insert(Arc::clone(key));
    }

    /// Lists `key` no more.
    pub(crate) fn remove(&mut self, key: &str) {
        self.keys.remove(key);
    }
}

impl SegmentState {
    /// Whether the segment lists the context key `key` (a number as written: `42`).
    pub(crate) fn lists(&self, key: Option<Attribute<'_>>) -> bool {
        match key {
            Some(Attribute::Str(key)) => self.keys.contains(key),
            Some(Attribute::Number(n)) if n.fract() == 0.0 => {
                self.keys.iter().any(|k| k.parse::<f64>() == Ok(n))
            }
            _ => false,
        }
    }
}

/// Why a flag has the value it has.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// A test stub of the current thread.
    Stub,
    /// An override (programmatic, environment variable or overrides file), which is final:
    /// targeting and prerequisites do not apply.
    Override {
        /// Which override.
        origin: Origin,
    },
    /// `flags.toml`'s value for the environment, or its default: the same for every context.
    Static {
        /// Which of the two.
        origin: Origin,
    },
    /// Rule `number` (from 1) matched.
    Rule {
        /// Its position, from 1.
        number: usize,
        /// Its name, if it has one.
        name: Option<String>,
        /// The segment it tested, if any.
        segment: Option<String>,
        /// The context's bucket, when the rule serves a rollout.
        bucket: Option<u32>,
    },
    /// No rule matched; the environment's fallthrough was served.
    Fallthrough {
        /// The context's bucket, when the fallthrough is a rollout.
        bucket: Option<u32>,
    },
    /// A required flag did not have the required value; the flag's default was served.
    PrerequisiteOff {
        /// The required flag.
        flag: String,
    },
    /// The flag could not be evaluated; its default was served.
    Error {
        /// What went wrong.
        message: String,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bucket = |f: &mut fmt::Formatter<'_>, bucket: &Option<u32>| match bucket {
            Some(bucket) => write!(f, ", rollout bucket {bucket}"),
            None => Ok(()),
        };
        match self {
            Reason::Stub => f.write_str("test stub"),
            Reason::Override { origin } => write!(f, "{origin}"),
            Reason::Static { origin } => write!(f, "{origin}"),
            Reason::Rule {
                number,
                name,
                segment,
                bucket: b,
            } => {
                write!(f, "rule {number}")?;
                if let Some(name) = name {
                    write!(f, " ({name})")?;
                }
                write!(f, " matched")?;
                if let Some(segment) = segment {
                    write!(f, ", segment `{segment}`")?;
                }
                bucket(f, b)
            }
            Reason::Fallthrough { bucket: b } => {
                f.write_str("no rule matched: fallthrough")?;
                bucket(f, b)
            }
            Reason::PrerequisiteOff { flag } => {
                write!(f, "prerequisite `{flag}` not met: default served")
            }
            Reason::Error { message } => write!(f, "error ({message}): default served"),
        }
    }
}

/// A value and why, borrowed from the configuration; turned into a [`Reason`] only when asked.
#[derive(Debug)]
pub(crate) struct Outcome<'a> {
    pub(crate) value: Cow<'a, Value>,
    pub(crate) why: Why<'a>,
}

#[derive(Debug)]
pub(crate) enum Why<'a> {
    Stub,
    Override(&'a Origin),
    Static(&'a Origin),
    Rule {
        number: usize,
        rule: &'a flags_model::Rule,
        bucket: Option<u32>,
    },
    Fallthrough {
        bucket: Option<u32>,
    },
    PrerequisiteOff(usize),
    NoBucketKey(&'a Rollout),
    /// The flag is not in the configuration (a program built inconsistently).
    Missing,
}

impl Why<'_> {
    pub(crate) fn to_reason(&self, flag_key: impl Fn(usize) -> String) -> Reason {
        match self {
            Why::Stub => Reason::Stub,
            Why::Override(origin) => Reason::Override {
                origin: (*origin).clone(),
            },
            Why::Static(origin) => Reason::Static {
                origin: (*origin).clone(),
            },
            Why::Rule {
                number,
                rule,
                bucket,
            } => Reason::Rule {
                number: *number,
                name: rule.name.clone(),
                segment: rule.conditions.iter().find_map(|c| match &c.test {
                    Test::Segment { name, .. } if !c.negate => Some(name.clone()),
                    _ => None,
                }),
                bucket: *bucket,
            },
            Why::Fallthrough { bucket } => Reason::Fallthrough { bucket: *bucket },
            Why::PrerequisiteOff(flag) => Reason::PrerequisiteOff {
                flag: flag_key(*flag),
            },
            Why::Missing => Reason::Error {
                message: "the flag is not in the configuration".to_owned(),
            },
            Why::NoBucketKey(rollout) => Reason::Error {
                message: match &rollout.bucket_by {
                    Some(attribute) => {
                        format!(
                            "the rollout is by `{attribute}`, which the context does not have as a string, number or bool"
                        )
                    }
                    None => "the rollout is by key, and the context has none".to_owned(),
                },
            },
        }
    }
}

/// What an evaluation reads besides the context.
pub(crate) struct Scope<'a> {
    pub(crate) segments: &'a [SegmentState],
    pub(crate) now: &'a dyn Fn() -> Timestamp,
}

impl Program {
    /// Evaluates the targeting (requirements are checked by the caller, who can read other
    /// flags).
    pub(crate) fn evaluate<'a>(
        &'a self,
        context: Option<&dyn AnyContext>,
        scope: &Scope<'_>,
    ) -> Outcome<'a> {
        let Some(targeting) = &self.targeting else {
            return Outcome {
                value: Cow::Borrowed(&self.value),
                why: Why::Static(&self.origin),
            };
        };
        for (position, rule) in targeting.rules.iter().enumerate() {
            if !rule
                .conditions
                .iter()
                .all(|condition| holds(condition, context, scope))
            {
                continue;
            }
            match serve(&rule.serve, self.group(position), context) {
                Served::Value(value, bucket) => {
                    return Outcome {
                        value: Cow::Borrowed(value),
                        why: Why::Rule {
                            number: position + 1,
                            rule,
                            bucket,
                        },
                    };
                }
                // A rule whose rollout has no value to bucket does not apply to this context.
                Served::NoKey(_) => continue,
            }
        }
        match serve(
            &targeting.fallthrough,
            self.group(targeting.rules.len()),
            context,
        ) {
            Served::Value(value, bucket) => Outcome {
                value: Cow::Borrowed(value),
                why: Why::Fallthrough { bucket },
            },
            Served::NoKey(rollout) => Outcome {
                value: Cow::Borrowed(&self.default),
                why: Why::NoBucketKey(rollout),
            },
        }
    }
}

/// What a `serve` or `rollout` gives a context.
pub(crate) enum Served<'a> {
    /// The value, and the context's bucket when it is a rollout.
    Value(&'a Value, Option<u32>),
    /// A rollout with nothing to bucket for this context.
    NoKey(&'a Rollout),
}

pub(crate) fn serve<'a>(
    serve: &'a Serve,
    group: Option<&GroupHash>,
    context: Option<&dyn AnyContext>,
) -> Served<'a> {
    let rollout = match serve {
        Serve::Value(value) => return Served::Value(value, None),
        Serve::Rollout(rollout) => rollout,
    };
    let value = context.and_then(|context| match &rollout.bucket_by {
        Some(attribute) => context.context_attribute(attribute),
        None => context.context_key(),
    });
    let hashed;
    let group = match group {
        Some(group) => group,
        None => {
            hashed = GroupHash::new(&rollout.group);
            &hashed
        }
    };
    let Some(bucket) = value.and_then(|value| bucket::bucket_attribute(group, value)) else {
        return Served::NoKey(rollout);
    };
    let mut cumulative = 0;
    for split in &rollout.splits {
        cumulative += split.weight;
        if bucket <= cumulative {
            return Served::Value(&split.value, Some(bucket));
        }
    }
    // Weights sum to 100 (checked when flags.toml is read); the last value is a safe answer.
    match rollout.splits.last() {
        Some(split) => Served::Value(&split.value, Some(bucket)),
        None => Served::NoKey(rollout),
    }
}

/// Whether a condition holds. Anything that cannot be tested (no context, a missing attribute,
/// an attribute of another kind than the operand) makes it false, `negate` or not.
pub(crate) fn holds(
    condition: &Condition,
    context: Option<&dyn AnyContext>,
    scope: &Scope<'_>,
) -> bool {
    let result = match &condition.test {
        Test::Now { op, at } => Some(ops::now(*op, (scope.now)(), *at)),
        Test::Segment { index, .. } => context.and_then(|context| {
            let segment = scope.segments.get(*index)?;
            Some(in_segment(segment, context, scope))
        }),
        // `exists` is the one test of absence: it holds or not whether the attribute is there.
        Test::Attribute {
            attribute,
            op: Op::Exists,
            ..
        } => Some(context.is_some_and(|context| context.context_attribute(attribute).is_some())),
        Test::Attribute {
            attribute,
            op,
            ignore_case,
            operand,
        } => context
            .and_then(|context| context.context_attribute(attribute))
            .and_then(|value| compare(value, *op, *ignore_case, operand)),
    };
    ops::outcome(result, condition.negate)
}

fn in_segment(segment: &SegmentState, context: &dyn AnyContext, scope: &Scope<'_>) -> bool {
    segment.lists(context.context_key())
        || segment.rules.iter().any(|rule| {
            rule.iter()
                .all(|condition| holds(condition, Some(context), scope))
        })
}

/// `None` when the attribute cannot be compared with the operand.
fn compare(value: Attribute<'_>, op: Op, ignore_case: bool, operand: &Operand) -> Option<bool> {
    match operand {
        Operand::None => Some(op == Op::Exists),
        Operand::Strings(strings) => ops::strings(value, op, ignore_case, strings),
        Operand::Regex(regex) => ops::regex(value, regex),
        Operand::Numbers(numbers) => ops::numbers(value, op, numbers),
        Operand::Bool(expected) => ops::boolean(value, op, *expected),
        Operand::Semver(expected) => ops::semver(value, op, expected),
        Operand::Time(at) => ops::time(value, op, *at),
    }
}
