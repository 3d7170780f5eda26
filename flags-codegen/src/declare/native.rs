//! `flags.toml`'s targeting compiled into Rust: for each flag, a closure that evaluates its
//! rules, segments, rollouts and prerequisites in each environment for a context of a
//! concrete type, reading attributes by id. The runtime runs it while nothing replaces the
//! flag's targeting; it calls the runtime's own operators, so it means what the interpreter
//! means. What it cannot compile (regular expressions, versions, prerequisites that have
//! prerequisites) it leaves to the interpreter, for that flag.
//!
//! Written as text ([`super::code`]) into the flag's `_for` accessor: a closure there, with
//! whole paths and ids hashed by the macro, adds no item to the crate (no function, `use` or
//! `const` per flag), and items are what a large `flags.toml` costs to rebuild.

use std::fmt::Write as _;

use flags_model::{
    Catalog, Condition, Flag, FlagType, Op, Operand, Rollout, Serve, Setting, Targeting, Test,
    Value, naming,
};

use super::Generator;
use super::code::{ident, string};

const SOME: &str = "::core::option::Option::Some";
const NONE: &str = "::core::option::Option::None";

/// A flag's compiled rules: a closure `|environment, context| -> Option<T>` for its `_for`
/// accessor, and the environments it covers (bit `e` for environment `e`).
pub(super) struct Compiled {
    pub(super) closure: String,
    pub(super) environments: u64,
}

/// Whether a rule of the flag leaves the interpreter to decide.
struct Unsupported;

impl Generator<'_> {
    /// The runtime's operators, as generated code names them.
    fn native(&self) -> String {
        format!("{}::__private::native", self.krate)
    }

    /// The compiled rules of `flag`, if any environment has rules to compile and all of them
    /// can be compiled.
    pub(super) fn compile(&self, flag: &Flag, left_out: &[String]) -> Option<Compiled> {
        let rust_type = match flag.flag_type() {
            FlagType::Bool => "bool",
            FlagType::Int => "i64",
            FlagType::Variants(_) => "u32",
            // Floats and strings are read from the configuration (a string is a shared one).
            FlagType::Float | FlagType::String => return None,
        };
        let prerequisites = self.prerequisites(flag, left_out).ok()?;
        let default = value(flag.default());
        let mut arms = String::new();
        let mut environments = 0u64;
        for environment in 0..self.catalog.environments().names().len().min(64) {
            let setting = flag.setting_in(Some(environment));
            let body = match &setting {
                Setting::Targeted(targeting) => match self.targeting(targeting, &default) {
                    Ok(body) => body,
                    Err(Unsupported) => return None,
                },
                Setting::Value(served) if !flag.requires().is_empty() => {
                    format!("{SOME}({})", value(served))
                }
                // One value for everyone: published in the flag's word, never evaluated.
                Setting::Value(_) => continue,
            };
            let _ = write!(arms, "{environment} => {{ {prerequisites} {body} }} ");
            environments |= 1 << environment;
        }
        if arms.is_empty() {
            return None;
        }
        Some(Compiled {
            closure: format!(
                "|environment: u32, context: &C| -> ::core::option::Option<{rust_type}> {{ \
                 match environment {{ {arms} _ => {NONE}, }} }}"
            ),
            environments,
        })
    }

    /// The checks of the flag's prerequisites, each through the required flag's own `_for`
    /// accessor (its stubs, overrides and rules apply); a required flag that has prerequisites
    /// itself is left to the interpreter, which evaluates each flag once.
    fn prerequisites(&self, flag: &Flag, left_out: &[String]) -> Result<String, Unsupported> {
        let default = value(flag.default());
        let mut checks = String::new();
        for requirement in flag.requires() {
            let required = self
                .catalog
                .flags()
                .get(requirement.flag)
                .ok_or(Unsupported)?;
            if !required.requires().is_empty() || left_out.iter().any(|k| k == required.key()) {
                return Err(Unsupported);
            }
            let accessor = format!("{}_for", required.accessor());
            let is = match (&requirement.is, required.flag_type()) {
                (Value::Variant { index, .. }, FlagType::Variants(variants)) => {
                    let enum_name = ident(required.type_name().ok_or(Unsupported)?);
                    let variant = variants.get(*index as usize).ok_or(Unsupported)?;
                    format!("{enum_name}::{}", ident(variant.ident()))
                }
                (other, _) => value(other),
            };
            let actual = match required.flag_type() {
                FlagType::String => format!("&*Self::{accessor}(context)"),
                _ => format!("Self::{accessor}(context)"),
            };
            let _ = write!(
                checks,
                "if {actual} != {is} {{ return {SOME}({default}); }} "
            );
        }
        Ok(checks)
    }

    /// Rules in order, then the fallthrough.
    fn targeting(&self, targeting: &Targeting, default: &str) -> Result<String, Unsupported> {
        let mut code = String::new();
        for rule in &targeting.rules {
            let matched = self.all(&rule.conditions)?;
            // A rule whose rollout has no value to bucket does not apply to this context.
            let serve = self.serve(&rule.serve, "{}")?;
            let _ = write!(code, "if {matched} {{ {serve} }} ");
        }
        let otherwise = format!("{{ return {SOME}({default}); }}");
        // The fallthrough always returns: it ends the environment's arm.
        code.push_str(&self.serve(&targeting.fallthrough, &otherwise)?);
        Ok(code)
    }

    /// Whether every one of `conditions` holds (`true` for none).
    fn all(&self, conditions: &[Condition]) -> Result<String, Unsupported> {
        let tests = conditions
            .iter()
            .map(|condition| self.condition(condition))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if tests.is_empty() {
            "true".to_owned()
        } else {
            tests.join(" && ")
        })
    }

    /// Returns the served value; with a rollout and nothing to bucket, runs `no_bucket`.
    fn serve(&self, serve: &Serve, no_bucket: &str) -> Result<String, Unsupported> {
        let rollout = match serve {
            Serve::Value(served) => return Ok(format!("return {SOME}({});", value(served))),
            Serve::Rollout(rollout) => rollout,
        };
        let native = self.native();
        let bucketed = self.bucketed(rollout);
        let mut cumulative = 0u32;
        let mut choices = String::new();
        for split in &rollout.splits {
            cumulative += split.weight;
            let served = value(&split.value);
            let _ = write!(
                choices,
                "if bucket <= {cumulative} {{ return {SOME}({served}); }} "
            );
        }
        // Weights sum to 100 (checked when flags.toml is read): the last value is the answer.
        let last = rollout
            .splits
            .last()
            .map(|split| value(&split.value))
            .ok_or(Unsupported)?;
        Ok(format!(
            "match {native}::bucket(&const {{ {native}::GroupHash::new({group}) }}, {bucketed}) {{ \
             {SOME}(bucket) => {{ {choices} return {SOME}({last}); }} {NONE} => {no_bucket}, }}",
            group = string(&rollout.group),
        ))
    }

    /// What a rollout buckets: the context key, or the `bucket_by` attribute.
    fn bucketed(&self, rollout: &Rollout) -> String {
        match &rollout.bucket_by {
            Some(attribute) => self.attribute_of(attribute),
            None => format!("{}::EvaluationContext::key(context)", self.krate),
        }
    }

    fn condition(&self, condition: &Condition) -> Result<String, Unsupported> {
        let native = self.native();
        let negate = condition.negate;
        Ok(match &condition.test {
            Test::Now { op, at } => format!(
                "({native}::now({}, {native}::Timestamp::now(), {}) != {negate})",
                op_code(&native, *op),
                timestamp(&native, at)
            ),
            Test::Segment { index, .. } => {
                let segment = self.catalog.segments().get(*index).ok_or(Unsupported)?;
                let mut any = String::new();
                for rule in &segment.rules {
                    let _ = write!(any, "({}) || ", self.all(rule)?);
                }
                let listed = format!(
                    "Self::__registry().runtime().segment_lists({index}usize, \
                     {}::EvaluationContext::key(context))",
                    self.krate
                );
                format!("(({any}{listed}) != {negate})")
            }
            Test::Attribute {
                attribute,
                op: Op::Exists,
                ..
            } => format!(
                "{native}::exists_condition(context, {}, {negate})",
                self.attribute_args(attribute),
            ),
            Test::Attribute {
                attribute,
                op,
                ignore_case,
                operand,
            } => {
                let op = op_code(&native, *op);
                let (kind, operands) = match operand {
                    Operand::None => return Err(Unsupported),
                    Operand::Strings(strings) => {
                        let strings: Vec<String> =
                            strings.iter().map(|s| string(s).to_string()).collect();
                        (
                            "string",
                            format!("{ignore_case}, &[{}]", strings.join(", ")),
                        )
                    }
                    Operand::Numbers(numbers) => {
                        let numbers: Vec<String> =
                            numbers.iter().map(|n| format!("{n:?}f64")).collect();
                        ("number", format!("&[{}]", numbers.join(", ")))
                    }
                    Operand::Bool(expected) => ("bool", expected.to_string()),
                    Operand::Time(at) => ("time", timestamp(&native, at)),
                    Operand::Regex(_) | Operand::Semver(_) => return Err(Unsupported),
                };
                // One call per condition: no closure, no `Option` chain in the generated code.
                format!(
                    "{native}::{kind}_condition(context, {}, {op}, {operands}, {negate})",
                    self.attribute_args(attribute),
                )
            }
        })
    }

    /// Reading attribute `name` of the context, by its id (hashed here, once).
    fn attribute_of(&self, name: &str) -> String {
        format!(
            "{}::attribute(context, {})",
            self.native(),
            self.attribute_args(name)
        )
    }

    /// An attribute's hash and name, as the runtime's conditions take them.
    fn attribute_args(&self, name: &str) -> String {
        format!("{:#x}u64, {}", naming::attribute_hash(name), string(name))
    }
}

fn op_code(native: &str, op: Op) -> String {
    format!("{native}::Op::{op:?}")
}

fn timestamp(native: &str, at: &flags_model::Timestamp) -> String {
    format!(
        "{native}::Timestamp {{ seconds: {}i64, nanos: {}u32 }}",
        at.seconds, at.nanos
    )
}

/// A value as the compiled closure returns it: a bool, an `i64`, a variant's index.
fn value(value: &Value) -> String {
    match value {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => format!("{i}i64"),
        Value::Variant { index, .. } => format!("{index}u32"),
        // `{:?}` keeps the point (`1.0`).
        Value::Float(f) => format!("{f:?}f64"),
        Value::String(text) => string(text).to_string(),
    }
}

/// The attributes `flag` reads in any environment, with where: its rules' conditions, the
/// rules of the segments they test, its rollouts' `bucket_by`, and those of the flags it
/// requires, in file order and each once.
pub(super) fn attributes_read(catalog: &Catalog, flag: &Flag, file: &str) -> Vec<(String, String)> {
    let mut read: Vec<(String, String)> = Vec::new();
    let mut visited = vec![false; catalog.flags().len()];
    collect(catalog, flag, file, &mut read, &mut visited);
    read
}

fn collect(
    catalog: &Catalog,
    flag: &Flag,
    file: &str,
    read: &mut Vec<(String, String)>,
    visited: &mut [bool],
) {
    let mut add = |name: &str, line: usize| {
        if !read.iter().any(|(seen, _)| seen == name) {
            read.push((name.to_owned(), format!("{file}:{line}")));
        }
    };
    for environment in 0..catalog.environments().names().len() {
        let Some(Setting::Targeted(targeting)) = flag.environment_setting(environment) else {
            continue;
        };
        for rule in &targeting.rules {
            conditions_read(catalog, &rule.conditions, rule.line, &mut add);
            if let Some(rollout) = rule.serve.rollout() {
                if let Some(attribute) = &rollout.bucket_by {
                    add(attribute, rule.line);
                }
            }
        }
        if let Some(attribute) = targeting
            .fallthrough
            .rollout()
            .and_then(|r| r.bucket_by.as_ref())
        {
            add(attribute, targeting.line);
        }
    }
    for requirement in flag.requires() {
        if let Some(required) = catalog.flags().get(requirement.flag) {
            if !std::mem::replace(&mut visited[requirement.flag], true) {
                collect(catalog, required, file, read, visited);
            }
        }
    }
}

fn conditions_read(
    catalog: &Catalog,
    conditions: &[Condition],
    line: usize,
    add: &mut impl FnMut(&str, usize),
) {
    for condition in conditions {
        match &condition.test {
            Test::Attribute { attribute, .. } => add(attribute, line),
            Test::Segment { index, .. } => {
                if let Some(segment) = catalog.segments().get(*index) {
                    for rule in &segment.rules {
                        conditions_read(catalog, rule, line, add);
                    }
                }
            }
            Test::Now { .. } => {}
        }
    }
}
