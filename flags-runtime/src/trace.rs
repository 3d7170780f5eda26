//! One flag's evaluation for one context, step by step, for tools that explain a value
//! (`flags explain`): which prerequisites held, which conditions of each rule held, which rule
//! or fallthrough decided. It reuses the evaluation code, so it cannot disagree with it.

use flags_model::{Condition, Rule, Serve, Value};

use crate::condition::{Check, Scope};
use crate::context::{self, AnyContext};
use crate::eval::{Reason, Served, Why, serve};
use crate::resolution::Resolved;
use crate::runtime::Runtime;
use crate::snapshot::Snapshot;
use crate::sources::Origin;

/// How a flag was evaluated for one context: its value, why, and each step on the way.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Trace {
    /// The flag's key in `flags.toml`.
    pub key: String,
    /// The environment of the configuration, if one could be chosen.
    pub environment: Option<String>,
    /// The value served.
    pub value: Value,
    /// Why, as [`Runtime::explain`] says it.
    pub reason: Reason,
    /// Where the flag's setting comes from: `flags.toml`'s value for the environment, its
    /// default, or an override.
    pub origin: Origin,
    /// Whether the setting is an overriding value, which is final: no prerequisites, no rules.
    pub overridden: bool,
    /// Each prerequisite, in the order listed, whether or not evaluation reached it.
    pub prerequisites: Vec<PrerequisiteTrace>,
    /// Each rule of the setting, in order; empty when the setting is a plain value.
    pub rules: Vec<RuleTrace>,
    /// What the setting serves when no rule matches; `None` when it is a plain value.
    pub fallthrough: Option<ServeTrace>,
}

/// A prerequisite and whether the context met it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct PrerequisiteTrace {
    /// The required flag's key.
    pub flag: String,
    /// The value it must have.
    pub required: Value,
    /// The value it has for this context.
    pub actual: Value,
    /// Whether `actual` is `required`.
    pub met: bool,
}

/// One rule: each condition's result, whether it matched and whether it decided.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RuleTrace {
    /// Its position, from 1.
    pub number: usize,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// The line it starts on, in the file its setting comes from.
    pub line: usize,
    /// Each condition, in order, with whether it holds for the context.
    pub conditions: Vec<ConditionTrace>,
    /// Whether every condition holds.
    pub matched: bool,
    /// What the rule serves this context (when it matches).
    pub serve: ServeTrace,
    /// Whether this rule decided the value.
    pub decided: bool,
}

/// A condition and whether it holds for the context.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ConditionTrace {
    /// The condition as read from the file.
    pub condition: Condition,
    /// Whether it holds.
    pub holds: bool,
}

/// A `serve` or `rollout` and what it gives the context.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ServeTrace {
    /// The value or rollout, as read from the file.
    pub serve: Serve,
    /// The value it gives this context; `None` for a rollout with nothing to bucket.
    pub value: Option<Value>,
    /// The context's bucket, for a rollout.
    pub bucket: Option<u32>,
    /// Whether it decided the value (for a fallthrough).
    pub decided: bool,
}

impl Runtime {
    /// Flag `name` (key or accessor name) evaluated for `context` (the current context when
    /// `None`), step by step: each prerequisite, each rule with each of its conditions, the
    /// fallthrough, and which of them decided. `None` for an unknown flag.
    ///
    /// Evaluation stops at the deciding step; the trace also evaluates the steps after it, so
    /// that a tool can show every rule a context matches.
    pub fn trace(&'static self, name: &str, context: Option<&dyn AnyContext>) -> Option<Trace> {
        let (index, _) = self.catalog().find(name)?;
        let snapshot = self.snapshot();
        match context {
            Some(context) => self.trace_in(&snapshot, index, Some(context)),
            None => context::with_current(|current| {
                self.trace_in(&snapshot, index, current.map(|c| c as &dyn AnyContext))
            }),
        }
    }

    fn trace_in(
        &'static self,
        snapshot: &Snapshot,
        index: usize,
        context: Option<&dyn AnyContext>,
    ) -> Option<Trace> {
        let resolution = &*snapshot.resolution;
        let catalog = self.catalog();
        let key = catalog.flags().get(index)?.key().to_owned();
        let outcome = self.outcome(resolution, index, context);
        let reason = self.reason(&outcome);
        let mut trace = Trace {
            key,
            environment: snapshot.environment().map(str::to_owned),
            value: outcome.value.clone().into_owned(),
            reason,
            origin: Origin::Default,
            overridden: false,
            prerequisites: Vec::new(),
            rules: Vec::new(),
            fallthrough: None,
        };
        let program = match resolution.resolved.get(index)? {
            Resolved::Static {
                origin, overridden, ..
            } => {
                trace.origin = origin.clone();
                trace.overridden = *overridden;
                return Some(trace);
            }
            Resolved::Dynamic(program) => program,
        };
        trace.origin = program.origin.clone();
        trace.prerequisites = program
            .requires
            .iter()
            .map(|(required, is)| {
                let actual = self
                    .outcome(resolution, *required, context)
                    .value
                    .into_owned();
                PrerequisiteTrace {
                    flag: catalog
                        .flags()
                        .get(*required)
                        .map_or_else(|| format!("#{required}"), |f| f.key().to_owned()),
                    required: is.clone(),
                    met: actual == *is,
                    actual,
                }
            })
            .collect();
        let Some(targeting) = &program.targeting else {
            return Some(trace);
        };
        let scope = Scope {
            segments: &resolution.segments,
        };
        let deciding_rule = match outcome.why {
            Why::Rule { number, .. } => Some(number),
            _ => None,
        };
        trace.rules = targeting
            .rules
            .iter()
            .enumerate()
            .map(|(position, rule)| {
                let checks = program.checks(position);
                trace_rule(position + 1, rule, checks, context, scope, deciding_rule)
            })
            .collect();
        let mut fallthrough = serve_trace(&targeting.fallthrough, context);
        fallthrough.decided = matches!(outcome.why, Why::Fallthrough { .. } | Why::NoBucketKey(_));
        trace.fallthrough = Some(fallthrough);
        Some(trace)
    }
}

fn trace_rule(
    number: usize,
    rule: &Rule,
    checks: &[Check],
    context: Option<&dyn AnyContext>,
    scope: Scope<'_>,
    deciding_rule: Option<usize>,
) -> RuleTrace {
    let conditions: Vec<ConditionTrace> = rule
        .conditions
        .iter()
        .zip(checks)
        .map(|(condition, check)| ConditionTrace {
            condition: condition.clone(),
            holds: check.holds(context, scope),
        })
        .collect();
    RuleTrace {
        number,
        name: rule.name.clone(),
        line: rule.line,
        matched: conditions.iter().all(|c| c.holds),
        conditions,
        serve: serve_trace(&rule.serve, context),
        decided: deciding_rule == Some(number),
    }
}

fn serve_trace(what: &Serve, context: Option<&dyn AnyContext>) -> ServeTrace {
    let (value, bucket) = match serve(what, context) {
        Served::Value(value, bucket) => (Some(value.clone()), bucket),
        Served::NoKey(_) => (None, None),
    };
    ServeTrace {
        serve: what.clone(),
        value,
        bucket,
        decided: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Context, Vars};

    /// Environment variables given by the test, none from the process.
    struct FixedVars(&'static [(&'static str, &'static str)]);

    impl Vars for FixedVars {
        fn get(&self, name: &str) -> Option<Result<String, String>> {
            self.0
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| Ok((*v).to_owned()))
        }

        fn names_with_prefix(&self, prefix: &str) -> Vec<String> {
            self.0
                .iter()
                .filter(|(n, _)| n.starts_with(prefix))
                .map(|(n, _)| (*n).to_owned())
                .collect()
        }
    }

    static PRODUCTION: FixedVars = FixedVars(&[("APP_ENV", "production")]);
    static OVERRIDDEN: FixedVars = FixedVars(&[
        ("APP_ENV", "production"),
        ("FLAGS_COMMENTS_ENABLED", "false"),
    ]);

    const FLAGS: &str = r#"
[environments]
names = ["development", "production"]
default = "development"

[segments.internal]
description = "Staff"
[[segments.internal.rules]]
when = [{ attribute = "email", op = "ends_with", value = "@example.com" }]

[flags.comments_enabled]
description = "Comments"
default = false

[[flags.comments_enabled.production.rules]]
name = "staff"
when = [{ segment = "internal" }]
serve = true

[[flags.comments_enabled.production.rules]]
name = "pro plans"
when = [{ attribute = "plan", op = "equals", value = "pro" }, { attribute = "seats", op = ">", value = 10 }]
serve = true

[[flags.comments_enabled.production.rules]]
name = "half of the rest"
when = [{ attribute = "plan", op = "exists" }]
rollout = 50

[flags.mentions_enabled]
description = "Mentions in comments"
default = false
requires = ["comments_enabled"]
production = true

[flags.max_upload_mb]
description = "Upload limit"
default = 10
production = 25
"#;

    fn runtime(vars: &'static FixedVars) -> &'static Runtime {
        Runtime::load("flags.toml", FLAGS, vars).expect("valid flags.toml")
    }

    fn trace(runtime: &'static Runtime, name: &str, context: &Context) -> Trace {
        runtime.trace(name, Some(context)).expect("a declared flag")
    }

    #[test]
    fn every_rule_and_condition_is_traced_and_the_first_match_decides() {
        let runtime = runtime(&PRODUCTION);
        let ada = Context::new("u-1")
            .with("email", "ada@example.com")
            .with("plan", "pro")
            .with("seats", 3);
        let trace = trace(runtime, "comments_enabled", &ada);
        assert_eq!(trace.value, Value::Bool(true));
        assert_eq!(trace.environment.as_deref(), Some("production"));
        assert_eq!(trace.origin, Origin::Environment("production".into()));
        assert_eq!(trace.rules.len(), 3);
        let [staff, pro, rest] = &trace.rules[..] else {
            unreachable!()
        };
        assert!(staff.matched && staff.decided);
        assert_eq!(staff.name.as_deref(), Some("staff"));
        assert_eq!(staff.line, 15);
        assert_eq!(
            pro.conditions.iter().map(|c| c.holds).collect::<Vec<_>>(),
            [true, false]
        );
        assert!(!pro.matched && !pro.decided);
        // Evaluation stopped at rule 1; the trace still shows that rule 3 matches too.
        assert!(rest.matched && !rest.decided);
        assert!(rest.serve.bucket.is_some());
        let fallthrough = trace.fallthrough.expect("targeting has a fallthrough");
        assert!(!fallthrough.decided);
        assert_eq!(
            trace.reason,
            runtime
                .explain("comments_enabled", Some(&ada))
                .unwrap()
                .reason()
                .clone()
        );
    }

    #[test]
    fn the_fallthrough_decides_when_no_rule_matches() {
        let runtime = runtime(&PRODUCTION);
        let bob = Context::new("u-2").with("email", "bob@elsewhere.org");
        let trace = trace(runtime, "comments_enabled", &bob);
        assert_eq!(trace.value, Value::Bool(false));
        assert!(trace.rules.iter().all(|r| !r.matched && !r.decided));
        let fallthrough = trace.fallthrough.expect("fallthrough");
        assert!(fallthrough.decided);
        assert_eq!(fallthrough.value, Some(Value::Bool(false)));
        assert_eq!(trace.reason, Reason::Fallthrough { bucket: None });
    }

    #[test]
    fn a_rollout_without_a_key_serves_nothing_and_does_not_decide() {
        let runtime = runtime(&PRODUCTION);
        let anonymous = Context::anonymous().with("plan", "free");
        let trace = trace(runtime, "comments_enabled", &anonymous);
        let rest = &trace.rules[2];
        assert!(rest.matched);
        assert_eq!(rest.serve.value, None);
        assert!(!rest.decided);
        assert!(trace.fallthrough.is_some_and(|f| f.decided));
    }

    #[test]
    fn prerequisites_are_traced_with_the_values_they_had() {
        let runtime = runtime(&PRODUCTION);
        let bob = Context::new("u-2");
        let trace = trace(runtime, "mentions_enabled", &bob);
        assert_eq!(trace.value, Value::Bool(false));
        assert_eq!(
            trace.prerequisites,
            [PrerequisiteTrace {
                flag: "comments_enabled".into(),
                required: Value::Bool(true),
                actual: Value::Bool(false),
                met: false,
            }]
        );
        assert_eq!(
            trace.reason,
            Reason::PrerequisiteOff {
                flag: "comments_enabled".into()
            }
        );
        assert!(trace.rules.is_empty() && trace.fallthrough.is_none());
    }

    #[test]
    fn plain_values_and_overrides_have_no_steps() {
        let runtime = runtime(&PRODUCTION);
        let trace = trace(runtime, "max_upload_mb", &Context::new("u-1"));
        assert_eq!(trace.value, Value::Int(25));
        assert!(!trace.overridden && trace.rules.is_empty() && trace.fallthrough.is_none());

        let runtime = self::runtime(&OVERRIDDEN);
        let trace = self::trace(runtime, "comments_enabled", &Context::new("u-1"));
        assert!(trace.overridden);
        assert_eq!(trace.value, Value::Bool(false));
        assert_eq!(
            trace.origin,
            Origin::EnvVar("FLAGS_COMMENTS_ENABLED".into())
        );
        assert!(runtime.trace("comments_enabld", None).is_none());
    }
}
