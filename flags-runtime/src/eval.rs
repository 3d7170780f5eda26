//! Evaluating targeting for a context: rules in order, segments, rollouts and prerequisites.
//!
//! Everything is borrowed from the configuration being read, so an evaluation allocates
//! nothing (the one exception: strings compared ignoring case that are not ASCII).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use flags_model::{Rollout, Serve, Targeting, Test, Value};

use crate::bucket::{self, GroupHash};
use crate::condition::{Check, Scope};
use crate::context::{AnyContext, AttributeId};
use crate::sources::Origin;

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
    /// Each rule of `targeting`, prepared: conditions ready to test, rollout groups hashed.
    rules: Box<[PreparedRule]>,
    /// `targeting`'s fallthrough, prepared (`value` when there is no targeting).
    fallthrough: PreparedServe,
    /// The usual targeting, one rule of one condition serving a value and a value otherwise,
    /// kept together: a check then reads no array of rules or conditions. Boxed, so that
    /// every flag's entry in a configuration stays as small as before.
    one_rule: Option<Box<OneRule>>,
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
        let rules = targeting.as_ref().map_or_else(Box::default, |targeting| {
            targeting
                .rules
                .iter()
                .map(|rule| PreparedRule {
                    checks: rule.conditions.iter().map(Check::new).collect(),
                    serve: PreparedServe::new(&rule.serve),
                })
                .collect()
        });
        let fallthrough = match &targeting {
            Some(targeting) => PreparedServe::new(&targeting.fallthrough),
            None => PreparedServe::Value(value.clone()),
        };
        let one_rule = targeting.as_deref().and_then(OneRule::of).map(Box::new);
        Self {
            targeting,
            value,
            origin,
            requires,
            default,
            rules,
            fallthrough,
            one_rule,
            native: None,
        }
    }

    /// The program, evaluated by the compiled rules of `environment` when it is `Some`.
    pub(crate) fn with_native(mut self, environment: Option<usize>) -> Self {
        self.native = environment;
        self
    }

    /// The conditions of rule `position` (from 0), prepared.
    pub(crate) fn checks(&self, position: usize) -> &[Check] {
        self.rules.get(position).map_or(&[], |rule| &rule.checks)
    }
}

/// A targeting of one rule with one condition, serving a value, and a value otherwise.
#[derive(Debug)]
struct OneRule {
    check: Check,
    then: Value,
    otherwise: Value,
}

impl OneRule {
    fn of(targeting: &Targeting) -> Option<Self> {
        let [rule] = &targeting.rules[..] else {
            return None;
        };
        let [condition] = &rule.conditions[..] else {
            return None;
        };
        match (&rule.serve, &targeting.fallthrough) {
            (Serve::Value(then), Serve::Value(otherwise)) => Some(Self {
                check: Check::new(condition),
                then: then.clone(),
                otherwise: otherwise.clone(),
            }),
            _ => None,
        }
    }
}

/// A rule ready to evaluate.
#[derive(Debug)]
struct PreparedRule {
    checks: Box<[Check]>,
    serve: PreparedServe,
}

/// What a rule or a fallthrough serves, ready to evaluate: a rollout's group and the name of
/// the attribute it buckets by hashed once.
#[derive(Debug)]
enum PreparedServe {
    Value(Value),
    Rollout(Box<PreparedRollout>),
}

#[derive(Debug)]
struct PreparedRollout {
    rollout: Rollout,
    group: GroupHash,
    bucket_by: u64,
}

impl PreparedServe {
    fn new(serve: &Serve) -> Self {
        match serve {
            Serve::Value(value) => Self::Value(value.clone()),
            Serve::Rollout(rollout) => Self::Rollout(Box::new(PreparedRollout {
                rollout: rollout.clone(),
                group: GroupHash::new(&rollout.group),
                bucket_by: bucket_by_hash(rollout),
            })),
        }
    }

    #[inline(always)]
    fn served(&self, context: Option<&dyn AnyContext>) -> Served<'_> {
        match self {
            Self::Value(value) => Served::Value(value, None),
            Self::Rollout(prepared) => prepared.served(context),
        }
    }
}

impl PreparedRollout {
    /// Out of line, so that a walk over rules serving values keeps a small frame.
    #[inline(never)]
    fn served(&self, context: Option<&dyn AnyContext>) -> Served<'_> {
        rolled_out(&self.rollout, &self.group, self.bucket_by, context)
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

impl Program {
    /// Evaluates the targeting (requirements are checked by the caller, who can read other
    /// flags).
    pub(crate) fn evaluate<'a>(
        &'a self,
        context: Option<&dyn AnyContext>,
        scope: Scope<'_>,
    ) -> Outcome<'a> {
        let (value, why) = self.decide(context, scope);
        Outcome {
            value: Cow::Borrowed(value),
            why,
        }
    }

    /// The value the targeting gives `context`, and why, all borrowed from the program.
    #[inline]
    pub(crate) fn decide<'a>(
        &'a self,
        context: Option<&dyn AnyContext>,
        scope: Scope<'_>,
    ) -> (&'a Value, Why<'a>) {
        let Some(targeting) = &self.targeting else {
            return (&self.value, Why::Static(&self.origin));
        };
        match self.walk(context, scope) {
            Decided::Rule(position, value, bucket) => match targeting.rules.get(position) {
                Some(rule) => (
                    value,
                    Why::Rule {
                        number: position + 1,
                        rule,
                        bucket,
                    },
                ),
                // Rules are prepared from `targeting`: always there.
                None => (value, Why::Fallthrough { bucket }),
            },
            Decided::Fallthrough(value, bucket) => (value, Why::Fallthrough { bucket }),
            Decided::NoKey(rollout) => (&self.default, Why::NoBucketKey(rollout)),
        }
    }

    /// The value [`Program::decide`] gives, without the reason: what a check that nobody
    /// asks the reason of needs.
    #[inline(always)]
    pub(crate) fn value_for<'a>(
        &'a self,
        context: Option<&dyn AnyContext>,
        scope: Scope<'_>,
    ) -> &'a Value {
        if let Some(one) = &self.one_rule {
            return match one.check.holds(context, scope) {
                true => &one.then,
                false => &one.otherwise,
            };
        }
        self.value_walked(context, scope)
    }

    /// [`Program::value_for`] of any targeting but one rule of one condition: out of line, so
    /// that the usual check keeps a small frame.
    #[inline(never)]
    fn value_walked<'a>(&'a self, context: Option<&dyn AnyContext>, scope: Scope<'_>) -> &'a Value {
        match self.walk(context, scope) {
            Decided::Rule(_, value, _) | Decided::Fallthrough(value, _) => value,
            Decided::NoKey(_) => &self.default,
        }
    }

    /// The rules in order, then the fallthrough: the one evaluation of prepared targeting,
    /// which both [`Program::decide`] and [`Program::value_for`] read.
    #[inline(always)]
    fn walk<'a>(&'a self, context: Option<&dyn AnyContext>, scope: Scope<'_>) -> Decided<'a> {
        // Plain loops, not `all` with a closure: the closure would be a function of its own,
        // outside the specialisation of this walk for the caller's context type.
        'rules: for (position, rule) in self.rules.iter().enumerate() {
            for check in &rule.checks {
                if !check.holds_inlined(context, scope) {
                    continue 'rules;
                }
            }
            match rule.serve.served(context) {
                Served::Value(value, bucket) => return Decided::Rule(position, value, bucket),
                // A rule whose rollout has no value to bucket does not apply to this context.
                Served::NoKey(_) => continue,
            }
        }
        match self.fallthrough.served(context) {
            Served::Value(value, bucket) => Decided::Fallthrough(value, bucket),
            Served::NoKey(rollout) => Decided::NoKey(rollout),
        }
    }
}

/// What decided a value: the rule at a position (from 0), the fallthrough (each with the
/// context's bucket when it rolled out), or a fallthrough rollout with nothing to bucket.
enum Decided<'a> {
    Rule(usize, &'a Value, Option<u32>),
    Fallthrough(&'a Value, Option<u32>),
    NoKey(&'a Rollout),
}

/// What a `serve` or `rollout` gives a context.
pub(crate) enum Served<'a> {
    /// The value, and the context's bucket when it is a rollout.
    Value(&'a Value, Option<u32>),
    /// A rollout with nothing to bucket for this context.
    NoKey(&'a Rollout),
}

/// What `serve` gives a context (its rollout's group hashed on the spot: for `explain`).
pub(crate) fn serve<'a>(serve: &'a Serve, context: Option<&dyn AnyContext>) -> Served<'a> {
    match serve {
        Serve::Value(value) => Served::Value(value, None),
        Serve::Rollout(rollout) => rolled_out(
            rollout,
            &GroupHash::new(&rollout.group),
            bucket_by_hash(rollout),
            context,
        ),
    }
}

/// The hash of the attribute `rollout` buckets by (0 when it buckets by key).
fn bucket_by_hash(rollout: &Rollout) -> u64 {
    rollout
        .bucket_by
        .as_deref()
        .map_or(0, flags_model::naming::attribute_hash)
}

/// What `rollout`, whose group hashes to `group` and whose `bucket_by` to `bucket_by`, gives
/// a context.
fn rolled_out<'a>(
    rollout: &'a Rollout,
    group: &GroupHash,
    bucket_by: u64,
    context: Option<&dyn AnyContext>,
) -> Served<'a> {
    let value = context.and_then(|context| match &rollout.bucket_by {
        Some(attribute) => {
            context.context_attribute_by_id(AttributeId::hashed(bucket_by, attribute))
        }
        None => context.context_key(),
    });
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

#[cfg(test)]
mod tests {
    use flags_model::{Condition, Op, Operand, Rule};

    use super::*;
    use crate::Context;

    fn rule(conditions: Vec<Condition>, serve: bool) -> Rule {
        Rule {
            name: None,
            conditions,
            serve: Serve::Value(Value::Bool(serve)),
            line: 1,
        }
    }

    fn ends_with(attribute: &str, suffix: &str, negate: bool) -> Condition {
        Condition {
            test: Test::Attribute {
                attribute: attribute.to_owned(),
                op: Op::EndsWith,
                ignore_case: false,
                operand: Operand::Strings(vec![suffix.to_owned()]),
            },
            negate,
        }
    }

    fn program(rules: Vec<Rule>) -> Program {
        let targeting = Targeting {
            rules,
            fallthrough: Serve::Value(Value::Bool(false)),
            line: 1,
        };
        Program::new(
            Some(Arc::new(targeting)),
            Value::Bool(false),
            Origin::Programmatic,
            Vec::new(),
            Value::Bool(false),
        )
    }

    #[test]
    fn one_rule_of_one_condition_is_kept_in_place_and_serves_what_the_walk_serves() {
        let staff = [
            program(vec![rule(
                vec![ends_with("email", "@example.com", false)],
                true,
            )]),
            program(vec![rule(
                vec![ends_with("email", "@example.com", true)],
                true,
            )]),
        ];
        assert!(staff.iter().all(|p| p.one_rule.is_some()));
        // Two conditions, or two rules, take the walk.
        let two = program(vec![rule(
            vec![
                ends_with("email", "@example.com", false),
                ends_with("email", ".com", false),
            ],
            true,
        )]);
        assert!(two.one_rule.is_none());
        let scope = Scope { segments: &[] };
        let contexts = [
            Some(Context::new("u-1").with("email", "ada@example.com")),
            Some(Context::new("u-2").with("email", "bob@elsewhere.org")),
            Some(Context::new("u-3")),
            None,
        ];
        for program in staff.iter().chain([&two]) {
            for context in &contexts {
                let context = context.as_ref().map(|c| c as &dyn AnyContext);
                let (decided, _) = program.decide(context, scope);
                assert_eq!(program.value_for(context, scope), decided);
            }
        }
        let ada = Context::new("u-1").with("email", "ada@example.com");
        assert_eq!(staff[0].value_for(Some(&ada), scope), &Value::Bool(true));
        assert_eq!(staff[1].value_for(Some(&ada), scope), &Value::Bool(false));
    }
}
