//! Targeting: per-environment rules, segments, rollouts and prerequisites, and the reading
//! and checking of them (shared by `flags.toml` and overrides files).

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use crate::diagnostic::Diagnostic;
use crate::naming::{self, did_you_mean};
use crate::parse::Reader;
use crate::source::SourceFile;
use crate::value::{FlagType, Value, describe_toml};

/// A key and its value, as `DeTable::get_key_value` gives them.
type TableEntry<'t, 's> = (
    &'t Spanned<std::borrow::Cow<'s, str>>,
    &'t Spanned<DeValue<'s>>,
);

/// What a flag serves in one environment: a value, or rules evaluated per context.
#[derive(Clone, Debug, PartialEq)]
pub enum Setting {
    /// The same value for everyone.
    Value(Value),
    /// Rules evaluated for each evaluation context.
    Targeted(Arc<Targeting>),
}

/// Ordered rules (first match wins) and what to serve when none matches.
#[derive(Clone, Debug, PartialEq)]
pub struct Targeting {
    /// The rules, in order.
    pub rules: Vec<Rule>,
    /// Served when no rule matches.
    pub fallthrough: Serve,
    /// Where the targeting is written (`flags.toml:12`).
    pub line: usize,
}

/// One rule: when all its conditions hold, it serves its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// An optional name, shown in evaluation reasons.
    pub name: Option<String>,
    /// All must hold.
    pub conditions: Vec<Condition>,
    /// What the rule serves.
    pub serve: Serve,
    /// The line the rule starts on.
    pub line: usize,
}

/// A value, or a split of values by percentage.
#[derive(Clone, Debug, PartialEq)]
pub enum Serve {
    /// One value.
    Value(Value),
    /// Values by weight, sticky per context.
    Rollout(Rollout),
}

/// A weighted split of values. A context's bucket (1 to 100) picks the first value whose
/// cumulative weight reaches it.
#[derive(Clone, Debug, PartialEq)]
pub struct Rollout {
    /// The values and their weights, summing to 100.
    pub splits: Vec<Split>,
    /// The attribute whose value is bucketed; the context's key when `None`.
    pub bucket_by: Option<String>,
    /// The hash salt: the flag's key unless set (to keep another system's buckets).
    pub group: String,
}

/// One value of a rollout and its weight in percent.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// The value served.
    pub value: Value,
    /// Its share, in percent.
    pub weight: u32,
}

/// One test of a rule or segment rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// What is tested.
    pub test: Test,
    /// Inverts the result when the test could be made (a missing attribute stays false).
    pub negate: bool,
}

/// What a condition tests.
#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    /// An attribute of the context.
    Attribute {
        /// The attribute's name.
        attribute: String,
        /// The comparison.
        op: Op,
        /// Compare strings ignoring case (operands are stored lowercased).
        ignore_case: bool,
        /// What the attribute is compared with.
        operand: Operand,
    },
    /// Membership of a segment.
    Segment {
        /// The segment's name.
        name: String,
        /// Its position among the catalog's segments, so evaluation finds it without
        /// comparing names.
        index: usize,
    },
    /// The current time against a fixed time.
    Now {
        /// `Before` or `After`.
        op: Op,
        /// The time.
        at: Timestamp,
    },
}

/// A comparison of an attribute with an operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Equal to the value (or to any of the values).
    Equals,
    /// Equal to none of the values.
    NotEquals,
    /// One of the values.
    In,
    /// None of the values.
    NotIn,
    /// Starts with the value (or any of them).
    StartsWith,
    /// Ends with the value (or any of them).
    EndsWith,
    /// Contains the value (a substring of a string; an element of a list).
    Contains,
    /// Matches the regular expression.
    Matches,
    /// Number less than.
    Lt,
    /// Number at most.
    Le,
    /// Number greater than.
    Gt,
    /// Number at least.
    Ge,
    /// Version equal (semantic versioning).
    SemverEq,
    /// Version lower.
    SemverLt,
    /// Version at most.
    SemverLe,
    /// Version higher.
    SemverGt,
    /// Version at least.
    SemverGe,
    /// The attribute is present.
    Exists,
    /// Date-time before.
    Before,
    /// Date-time after.
    After,
}

const OPS: &[(&str, Op)] = &[
    ("equals", Op::Equals),
    ("not_equals", Op::NotEquals),
    ("in", Op::In),
    ("not_in", Op::NotIn),
    ("starts_with", Op::StartsWith),
    ("ends_with", Op::EndsWith),
    ("contains", Op::Contains),
    ("matches", Op::Matches),
    ("<", Op::Lt),
    ("<=", Op::Le),
    (">", Op::Gt),
    (">=", Op::Ge),
    ("semver_eq", Op::SemverEq),
    ("semver_lt", Op::SemverLt),
    ("semver_le", Op::SemverLe),
    ("semver_gt", Op::SemverGt),
    ("semver_ge", Op::SemverGe),
    ("exists", Op::Exists),
    ("before", Op::Before),
    ("after", Op::After),
    ("now_before", Op::Before),
    ("now_after", Op::After),
];

impl Op {
    /// The operator as written in `flags.toml`.
    pub fn name(self) -> &'static str {
        OPS.iter()
            .find(|(_, op)| *op == self)
            .map_or("?", |(name, _)| name)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an attribute is compared with.
#[derive(Clone, Debug)]
pub enum Operand {
    /// Nothing (`exists`).
    None,
    /// Strings (lowercased when the condition ignores case).
    Strings(Vec<String>),
    /// Numbers.
    Numbers(Vec<f64>),
    /// A bool.
    Bool(bool),
    /// A regular expression.
    Regex(regex::Regex),
    /// A version.
    Semver(semver::Version),
    /// A date-time.
    Time(Timestamp),
}

impl PartialEq for Operand {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Operand::None, Operand::None) => true,
            (Operand::Strings(a), Operand::Strings(b)) => a == b,
            (Operand::Numbers(a), Operand::Numbers(b)) => a == b,
            (Operand::Bool(a), Operand::Bool(b)) => a == b,
            (Operand::Regex(a), Operand::Regex(b)) => a.as_str() == b.as_str(),
            (Operand::Semver(a), Operand::Semver(b)) => a == b,
            (Operand::Time(a), Operand::Time(b)) => a == b,
            _ => false,
        }
    }
}

/// A point in time: seconds and nanoseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Whole seconds since the epoch (negative before it).
    pub seconds: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

impl Timestamp {
    /// The current time.
    pub fn now() -> Timestamp {
        Timestamp::from(std::time::SystemTime::now())
    }

    /// An RFC 3339 date-time with an offset (`2026-05-01T10:00:00Z`, `2026-05-01 12:00:00+02:00`),
    /// as `flags.toml` writes one; `None` for anything else, a bare date or a local date-time
    /// included.
    pub fn parse(text: &str) -> Option<Timestamp> {
        timestamp(&text.trim().parse::<toml_datetime::Datetime>().ok()?)
    }
}

impl From<std::time::SystemTime> for Timestamp {
    fn from(time: std::time::SystemTime) -> Self {
        match time.duration_since(std::time::UNIX_EPOCH) {
            Ok(after) => Timestamp {
                seconds: after.as_secs() as i64,
                nanos: after.subsec_nanos(),
            },
            Err(before) => {
                let before = before.duration();
                let (seconds, nanos) = (before.as_secs() as i64, before.subsec_nanos());
                if nanos == 0 {
                    Timestamp {
                        seconds: -seconds,
                        nanos: 0,
                    }
                } else {
                    Timestamp {
                        seconds: -seconds - 1,
                        nanos: 1_000_000_000 - nanos,
                    }
                }
            }
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Setting::Value(value) => write!(f, "{value}"),
            Setting::Targeted(targeting) => f.write_str(&targeting.summary()),
        }
    }
}

impl Targeting {
    /// A one-line summary: "2 rules, else false".
    pub fn summary(&self) -> String {
        let rules = match self.rules.len() {
            0 => String::new(),
            1 => "1 rule, else ".to_owned(),
            n => format!("{n} rules, else "),
        };
        format!("{rules}{}", self.fallthrough)
    }
}

impl fmt::Display for Serve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Serve::Value(value) => write!(f, "{value}"),
            Serve::Rollout(rollout) => {
                let parts: Vec<String> = rollout
                    .splits
                    .iter()
                    .map(|s| format!("{} {}%", s.value, s.weight))
                    .collect();
                write!(f, "rollout {}", parts.join(" / "))
            }
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let date = crate::Date::from_days_since_epoch(self.seconds.div_euclid(86_400));
        let second_of_day = self.seconds.rem_euclid(86_400);
        write!(
            f,
            "{date}T{:02}:{:02}:{:02}Z",
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60
        )
    }
}

/// A named set of contexts: listed keys, and contexts matching any of its rules.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    /// The segment's name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Context keys that are members.
    pub keys: Vec<String>,
    /// A context matching all conditions of any rule is a member.
    pub rules: Vec<Vec<Condition>>,
    /// Where the name is written.
    pub span: Range<usize>,
}

/// A flag that must have a value for another flag to be evaluated (a prerequisite).
#[derive(Clone, Debug, PartialEq)]
pub struct Requirement {
    /// Index of the required flag.
    pub flag: usize,
    /// The value it must have.
    pub is: Value,
}

/// Keys of an environment's targeting table and of a rule.
const TARGETING_KEYS: &[&str] = &["rules", "serve", "rollout", "bucket_by", "group"];
const RULE_KEYS: &[&str] = &["name", "when", "serve", "rollout", "bucket_by", "group"];
const CONDITION_KEYS: &[&str] = &[
    "attribute",
    "op",
    "value",
    "values",
    "ignore_case",
    "negate",
    "segment",
];
const SEGMENT_KEYS: &[&str] = &["description", "keys", "rules"];

/// What a setting is read against: the flag's key and type, and the segments there are.
pub(crate) struct SettingContext<'a> {
    pub(crate) flag: &'a str,
    pub(crate) flag_type: &'a FlagType,
    pub(crate) default: &'a Value,
    pub(crate) segments: &'a [String],
    pub(crate) file: &'a SourceFile,
    /// The rollout whose `group` and `bucket_by` a rollout takes when it sets neither: in an
    /// overrides file, the flag's own in `flags.toml`, so that ramping up re-buckets nobody.
    pub(crate) bucketing: Option<&'a Rollout>,
}

impl Setting {
    /// The segments (by index) the setting's rules test.
    pub fn segments_tested(&self) -> impl Iterator<Item = usize> + '_ {
        let rules = match self {
            Setting::Targeted(targeting) => targeting.rules.as_slice(),
            Setting::Value(_) => &[],
        };
        rules
            .iter()
            .flat_map(|rule| &rule.conditions)
            .filter_map(|condition| match condition.test {
                Test::Segment { index, .. } => Some(index),
                _ => None,
            })
    }

    /// The rollout that decides most contexts: the fallthrough's, else the first rule's.
    pub fn rollout(&self) -> Option<&Rollout> {
        let Setting::Targeted(targeting) = self else {
            return None;
        };
        targeting
            .fallthrough
            .rollout()
            .or_else(|| targeting.rules.iter().find_map(|rule| rule.serve.rollout()))
    }
}

impl Serve {
    /// The rollout served, if it is one.
    pub fn rollout(&self) -> Option<&Rollout> {
        match self {
            Serve::Rollout(rollout) => Some(rollout),
            Serve::Value(_) => None,
        }
    }
}

impl Reader {
    /// `development = true`, or a table of rules.
    pub(crate) fn setting(
        &mut self,
        key: &str,
        value: &Spanned<DeValue<'_>>,
        cx: &SettingContext<'_>,
    ) -> Option<Setting> {
        if let DeValue::Table(table) = value.get_ref() {
            return self
                .targeting(table, value.span(), key, cx)
                .map(|t| Setting::Targeted(Arc::new(t)));
        }
        match cx.flag_type.check_toml(value.get_ref()) {
            Ok(checked) => Some(Setting::Value(checked)),
            Err(error) => {
                let example = crate::parse::example_of(cx.flag_type)
                    .map(|e| format!("for example {key} = {e}"));
                self.error(
                    Diagnostic::new(
                        format!(
                            "`{key}` of flag `{}` must be {}, like its `default`; found {}",
                            cx.flag,
                            error.expected(),
                            error.found()
                        ),
                        value.span(),
                    )
                    .with_optional_help(error.help().map(str::to_owned).or(example)),
                );
                None
            }
        }
    }

    fn targeting(
        &mut self,
        table: &DeTable<'_>,
        span: Range<usize>,
        key: &str,
        cx: &SettingContext<'_>,
    ) -> Option<Targeting> {
        let errors = self.errors();
        self.reject_unknown_keys(
            table,
            TARGETING_KEYS,
            &format!("`{key}` of flag `{}`", cx.flag),
        );
        let mut rules = Vec::new();
        if let Some((_, value)) = table.get_key_value("rules") {
            match value.get_ref() {
                DeValue::Array(array) => {
                    for (position, rule) in array.into_iter().enumerate() {
                        if let Some(rule) = self.rule(rule, position + 1, cx) {
                            rules.push(rule);
                        }
                    }
                }
                other => self.error(
                    Diagnostic::new(
                        format!(
                            "`rules` must be an array of tables, found {}",
                            describe_toml(other)
                        ),
                        value.span(),
                    )
                    .with_help(format!(
                        "write each rule as [[flags.{}.{key}.rules]]",
                        cx.flag
                    )),
                ),
            }
        }
        let fallthrough = self.serve(table, span.clone(), cx, false)?;
        (self.errors() == errors).then(|| Targeting {
            rules,
            fallthrough,
            line: cx.file.location(span.start).line,
        })
    }

    fn rule(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        position: usize,
        cx: &SettingContext<'_>,
    ) -> Option<Rule> {
        let context = format!("rule {position} of flag `{}`", cx.flag);
        let table = self.table(value, &context, "a table")?;
        self.reject_unknown_keys(table, RULE_KEYS, &context);
        let name = table
            .get_key_value("name")
            .and_then(|(_, v)| self.text(v, &format!("`name` of {context}"), false))
            .map(str::to_owned);
        // Each part is checked even when another is wrong, so every problem is reported.
        let conditions = match table.get_key_value("when") {
            Some((_, when)) => self.conditions(when, &context, cx.segments, true),
            None => {
                self.error(
                    Diagnostic::new(format!("{context} has no `when`"), value.span())
                        .with_help("give its conditions: when = [{ attribute = \"email\", op = \"ends_with\", value = \"@example.com\" }]"),
                );
                None
            }
        };
        let serve = self.serve(table, value.span(), cx, true);
        Some(Rule {
            name,
            conditions: conditions?,
            serve: serve?,
            line: cx.file.location(value.span().start).line,
        })
    }

    /// `serve = value` or `rollout = [...]`; required in a rule, optional (the flag's default)
    /// for an environment's fallthrough.
    fn serve(
        &mut self,
        table: &DeTable<'_>,
        span: Range<usize>,
        cx: &SettingContext<'_>,
        required: bool,
    ) -> Option<Serve> {
        let serve = table.get_key_value("serve");
        let rollout = table.get_key_value("rollout");
        let bucket_by = table.get_key_value("bucket_by");
        let group = table.get_key_value("group");
        match (serve, rollout) {
            (Some((key, _)), Some(_)) => {
                self.error(Diagnostic::new(
                    "give `serve` or `rollout`, not both",
                    key.span(),
                ));
                None
            }
            (Some((_, value)), None) => {
                self.reject_rollout_keys([bucket_by, group], "not to `serve`");
                match cx.flag_type.check_toml(value.get_ref()) {
                    Ok(checked) => Some(Serve::Value(checked)),
                    Err(error) => {
                        self.error(
                            Diagnostic::new(
                                format!(
                                    "`serve` of flag `{}` must be {}, found {}",
                                    cx.flag,
                                    error.expected(),
                                    error.found()
                                ),
                                value.span(),
                            )
                            .with_optional_help(error.help().map(str::to_owned)),
                        );
                        None
                    }
                }
            }
            (None, Some((_, value))) => self
                .rollout(value, bucket_by.map(|(_, v)| v), group.map(|(_, v)| v), cx)
                .map(Serve::Rollout),
            (None, None) if required => {
                self.error(
                    Diagnostic::new("a rule needs `serve = <value>` or `rollout = [...]`", span)
                        .with_help("for example serve = true"),
                );
                None
            }
            // An environment without `serve` or `rollout` falls through to the flag's default.
            (None, None) => {
                self.reject_rollout_keys([bucket_by, group], "and there is none here");
                Some(Serve::Value(cx.default.clone()))
            }
        }
    }

    /// Reports each rollout-only key given where no rollout is served.
    fn reject_rollout_keys(&mut self, keys: [Option<TableEntry<'_, '_>>; 2], why: &str) {
        for (key, _) in keys.into_iter().flatten() {
            self.error(Diagnostic::new(
                format!("`{}` applies to a `rollout`, {why}", key.get_ref()),
                key.span(),
            ));
        }
    }

    fn rollout(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        bucket_by: Option<&Spanned<DeValue<'_>>>,
        group: Option<&Spanned<DeValue<'_>>>,
        cx: &SettingContext<'_>,
    ) -> Option<Rollout> {
        let errors = self.errors();
        let splits = match value.get_ref() {
            DeValue::Integer(_) if *cx.flag_type == FlagType::Bool => {
                let percent = self.percent(value)?;
                vec![
                    Split {
                        value: Value::Bool(true),
                        weight: percent,
                    },
                    Split {
                        value: Value::Bool(false),
                        weight: 100 - percent,
                    },
                ]
            }
            DeValue::Array(array) => self.splits(array, cx),
            other => {
                let shorthand = if *cx.flag_type == FlagType::Bool {
                    "a percentage (rollout = 25) or "
                } else {
                    ""
                };
                self.error(
                    Diagnostic::new(format!("`rollout` must be {shorthand}an array of {{ value, weight }}, found {}", describe_toml(other)), value.span())
                        .with_help("for example rollout = [{ value = \"a\", weight = 50 }, { value = \"b\", weight = 50 }]"),
                );
                return None;
            }
        };
        let total: u32 = splits.iter().map(|s| s.weight).sum();
        if self.errors() == errors && total != 100 {
            self.error(
                Diagnostic::new(
                    format!("the weights of this rollout add up to {total}, not 100"),
                    value.span(),
                )
                .with_help("weights are percentages of contexts; make them sum to 100"),
            );
        }
        let mut text = |v: Option<&Spanned<DeValue<'_>>>, what: &str| match v {
            None => Some(None),
            Some(v) => self.text(v, what, true).map(|t| Some(t.to_owned())),
        };
        let bucket_by = text(bucket_by, "`bucket_by`")?;
        let group = text(group, "`group`")?;
        // Each key not written is kept from the flag's own rollout, when there is one.
        let (group, bucket_by) = match cx.bucketing {
            Some(own) => (
                group.unwrap_or_else(|| own.group.clone()),
                bucket_by.or_else(|| own.bucket_by.clone()),
            ),
            None => (group.unwrap_or_else(|| cx.flag.to_owned()), bucket_by),
        };
        (self.errors() == errors).then_some(Rollout {
            splits,
            bucket_by,
            group,
        })
    }

    fn splits(&mut self, array: &DeArray<'_>, cx: &SettingContext<'_>) -> Vec<Split> {
        let mut splits = Vec::new();
        for item in array {
            let Some(table) = self.table(
                item,
                "a rollout entry",
                "a table: { value = ..., weight = ... }",
            ) else {
                continue;
            };
            self.reject_unknown_keys(table, &["value", "weight"], "a rollout entry");
            let (Some((_, value)), Some((_, weight))) =
                (table.get_key_value("value"), table.get_key_value("weight"))
            else {
                self.error(Diagnostic::new(
                    "a rollout entry needs `value` and `weight`",
                    item.span(),
                ));
                continue;
            };
            let weight = self.percent(weight);
            match (cx.flag_type.check_toml(value.get_ref()), weight) {
                (Ok(value), Some(weight)) => splits.push(Split { value, weight }),
                (Err(error), _) => self.error(
                    Diagnostic::new(
                        format!(
                            "rollout value of flag `{}` must be {}, found {}",
                            cx.flag,
                            error.expected(),
                            error.found()
                        ),
                        value.span(),
                    )
                    .with_optional_help(error.help().map(str::to_owned)),
                ),
                _ => {}
            }
        }
        splits
    }

    fn percent(&mut self, value: &Spanned<DeValue<'_>>) -> Option<u32> {
        if let DeValue::Integer(i) = value.get_ref() {
            if let Ok(n) = u32::from_str_radix(i.as_str(), i.radix()) {
                if n <= 100 {
                    return Some(n);
                }
            }
        }
        self.error(Diagnostic::new(
            "a weight is a whole percentage from 0 to 100",
            value.span(),
        ));
        None
    }

    /// `when = [ { ... }, ... ]`: one or more conditions.
    pub(crate) fn conditions(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        context: &str,
        segments: &[String],
        segments_allowed: bool,
    ) -> Option<Vec<Condition>> {
        let errors = self.errors();
        let DeValue::Array(array) = value.get_ref() else {
            self.error(Diagnostic::new(
                format!(
                    "`when` of {context} must be an array of conditions, found {}",
                    describe_toml(value.get_ref())
                ),
                value.span(),
            ));
            return None;
        };
        let mut conditions = Vec::new();
        for item in array {
            if let Some(condition) = self.condition(item, segments, segments_allowed) {
                conditions.push(condition);
            }
        }
        if conditions.is_empty() && self.errors() == errors {
            self.error(Diagnostic::new(
                format!("`when` of {context} lists no condition"),
                value.span(),
            ));
        }
        (self.errors() == errors).then_some(conditions)
    }

    fn condition(
        &mut self,
        item: &Spanned<DeValue<'_>>,
        segments: &[String],
        segments_allowed: bool,
    ) -> Option<Condition> {
        let table = self.table(
            item,
            "a condition",
            "a table such as { attribute = \"plan\", op = \"equals\", value = \"pro\" }",
        )?;
        self.reject_unknown_keys(table, CONDITION_KEYS, "a condition");
        let negate = match table.get_key_value("negate") {
            Some((_, v)) => self.boolean(v, "`negate`")?,
            None => false,
        };
        if let Some((key, value)) = table.get_key_value("segment") {
            for other in ["attribute", "op", "value", "values", "ignore_case"] {
                if let Some((extra, _)) = table.get_key_value(other) {
                    self.error(Diagnostic::new(
                        format!("a `segment` condition takes no `{other}`"),
                        extra.span(),
                    ));
                }
            }
            if !segments_allowed {
                self.error(Diagnostic::new(
                    "a segment's rules cannot refer to segments",
                    key.span(),
                ));
                return None;
            }
            let name = self.text(value, "`segment`", true)?;
            let Some(index) = segments.iter().position(|s| s == name) else {
                let known = if segments.is_empty() {
                    "none are declared".to_owned()
                } else {
                    format!(
                        "declared: {}",
                        naming::list(segments.iter().map(String::as_str))
                    )
                };
                self.error(
                    Diagnostic::new(
                        format!(
                            "unknown segment `{name}`{}",
                            did_you_mean(name, segments.iter().map(String::as_str))
                        ),
                        value.span(),
                    )
                    .with_help(format!(
                        "segments are declared as [segments.<name>]; {known}"
                    )),
                );
                return None;
            };
            return Some(Condition {
                test: Test::Segment {
                    name: name.to_string(),
                    index,
                },
                negate,
            });
        }

        let Some((op_key, op_value)) = table.get_key_value("op") else {
            self.error(
                Diagnostic::new("a condition needs `op` (or `segment`)", item.span())
                    .with_help("for example { attribute = \"plan\", op = \"in\", values = [\"pro\", \"team\"] }"),
            );
            return None;
        };
        let op_name = self.text(op_value, "`op`", true)?;
        let Some(&(_, op)) = OPS.iter().find(|(name, _)| *name == op_name) else {
            let names: Vec<&str> = OPS.iter().map(|(name, _)| *name).collect();
            self.error(
                Diagnostic::new(
                    format!(
                        "unknown operator `{op_name}`{}",
                        did_you_mean(op_name, names.iter().copied())
                    ),
                    op_value.span(),
                )
                .with_help(format!("operators are: {}", names.join(", "))),
            );
            return None;
        };
        let now = op_name.starts_with("now_");
        let attribute = match (table.get_key_value("attribute"), now) {
            (Some((key, _)), true) => {
                self.error(Diagnostic::new(
                    format!("`{op_name}` compares the current time; it takes no `attribute`"),
                    key.span(),
                ));
                return None;
            }
            (None, true) => None,
            (Some((_, v)), false) => Some(self.text(v, "`attribute`", true)?.to_owned()),
            (None, false) => {
                self.error(Diagnostic::new(
                    format!("`{op_name}` needs the `attribute` it tests"),
                    op_key.span(),
                ));
                return None;
            }
        };
        let ignore_case = match table.get_key_value("ignore_case") {
            Some((key, v)) => {
                match (v.get_ref(), op) {
                    (
                        DeValue::Boolean(b),
                        Op::Equals
                        | Op::NotEquals
                        | Op::In
                        | Op::NotIn
                        | Op::StartsWith
                        | Op::EndsWith
                        | Op::Contains,
                    ) => *b,
                    (DeValue::Boolean(_), _) => {
                        self.error(
                        Diagnostic::new(format!("`ignore_case` applies to string comparisons, not to `{op_name}`"), key.span())
                            .with_optional_help((op == Op::Matches).then(|| "start the pattern with (?i) instead".to_owned())),
                    );
                        return None;
                    }
                    (other, _) => {
                        self.error(Diagnostic::new(
                            format!(
                                "`ignore_case` must be a bool, found {}",
                                describe_toml(other)
                            ),
                            v.span(),
                        ));
                        return None;
                    }
                }
            }
            None => false,
        };
        let operand = self.operand(table, item.span(), op, op_name, ignore_case)?;
        let test = match (attribute, operand) {
            (None, Operand::Time(at)) => Test::Now { op, at },
            (Some(attribute), operand) => Test::Attribute {
                attribute,
                op,
                ignore_case,
                operand,
            },
            (None, _) => return None,
        };
        Some(Condition { test, negate })
    }

    /// The `value` or `values` an operator needs, of the kind it compares.
    fn operand(
        &mut self,
        table: &DeTable<'_>,
        span: Range<usize>,
        op: Op,
        op_name: &str,
        ignore_case: bool,
    ) -> Option<Operand> {
        let value = table.get_key_value("value");
        let values = table.get_key_value("values");
        let lists = matches!(
            op,
            Op::Equals
                | Op::NotEquals
                | Op::In
                | Op::NotIn
                | Op::StartsWith
                | Op::EndsWith
                | Op::Contains
        );
        let items: Vec<&Spanned<DeValue<'_>>> = match (value, values, op) {
            (None, None, Op::Exists) => return Some(Operand::None),
            (Some((key, _)), _, Op::Exists) | (_, Some((key, _)), Op::Exists) => {
                self.error(Diagnostic::new("`exists` takes no value", key.span()));
                return None;
            }
            (Some((key, _)), Some(_), _) => {
                self.error(Diagnostic::new(
                    "give `value` or `values`, not both",
                    key.span(),
                ));
                return None;
            }
            (Some((_, v)), None, Op::In | Op::NotIn) => {
                self.error(Diagnostic::new(
                    format!("`{op_name}` takes a list: values = [...]"),
                    v.span(),
                ));
                return None;
            }
            (Some((_, v)), None, _) => vec![v],
            (None, Some((_, v)), _) if lists => match v.get_ref() {
                DeValue::Array(array) if array.into_iter().next().is_some() => {
                    array.into_iter().collect()
                }
                other => {
                    self.error(Diagnostic::new(
                        format!(
                            "`values` must be a non-empty array, found {}",
                            if matches!(other, DeValue::Array(_)) {
                                "an empty array"
                            } else {
                                describe_toml(other)
                            }
                        ),
                        v.span(),
                    ));
                    return None;
                }
            },
            (None, Some((key, _)), _) => {
                self.error(Diagnostic::new(
                    format!("`{op_name}` compares with one `value`, not a list"),
                    key.span(),
                ));
                return None;
            }
            (None, None, _) => {
                let key = if matches!(op, Op::In | Op::NotIn) {
                    "values = [...]"
                } else {
                    "value = ..."
                };
                self.error(Diagnostic::new(format!("`{op_name}` needs {key}"), span));
                return None;
            }
        };
        let first = items[0];
        match op {
            Op::Equals | Op::NotEquals | Op::In | Op::NotIn => match first.get_ref() {
                DeValue::String(_) => {
                    self.strings(&items, ignore_case, op_name, "strings (all of one kind)")
                }
                DeValue::Integer(_) | DeValue::Float(_) if !ignore_case => {
                    let numbers: Option<Vec<f64>> = items
                        .iter()
                        .map(|i| self.number(i, op_name, "numbers (all of one kind)"))
                        .collect();
                    numbers.map(Operand::Numbers)
                }
                DeValue::Boolean(b) if items.len() == 1 && !ignore_case => Some(Operand::Bool(*b)),
                DeValue::Boolean(_) if !ignore_case => {
                    self.error(Diagnostic::new(
                        format!("`{op_name}` compares a bool with one value: value = true"),
                        span.clone(),
                    ));
                    None
                }
                _ => self.wrong_operand(first, op_name, "a string, a number or a bool"),
            },
            Op::StartsWith | Op::EndsWith | Op::Contains => {
                self.strings(&items, ignore_case, op_name, "strings")
            }
            Op::Matches => match first.get_ref() {
                DeValue::String(pattern) => match regex::Regex::new(pattern) {
                    Ok(regex) => Some(Operand::Regex(regex)),
                    Err(error) => {
                        let detail = error.to_string();
                        let detail = detail
                            .lines()
                            .last()
                            .unwrap_or_default()
                            .trim()
                            .trim_start_matches("error: ")
                            .to_owned();
                        self.error(Diagnostic::new(
                            format!("invalid regular expression: {detail}"),
                            first.span(),
                        ));
                        None
                    }
                },
                _ => self.wrong_operand(first, op_name, "a regular expression, as a string"),
            },
            Op::Lt | Op::Le | Op::Gt | Op::Ge => self
                .number(first, op_name, "a number")
                .map(|n| Operand::Numbers(vec![n])),
            Op::SemverEq | Op::SemverLt | Op::SemverLe | Op::SemverGt | Op::SemverGe => {
                match first.get_ref() {
                    DeValue::String(text) => match semver::Version::parse(text) {
                        Ok(version) => Some(Operand::Semver(version)),
                        Err(error) => {
                            self.error(
                            Diagnostic::new(format!("`{text}` is not a semantic version: {error}"), first.span())
                                .with_help("write MAJOR.MINOR.PATCH, such as \"2.3.0\" or \"2.3.0-beta.1\""),
                        );
                            None
                        }
                    },
                    _ => self.wrong_operand(first, op_name, "a version string such as \"2.3.0\""),
                }
            }
            Op::Before | Op::After => match first.get_ref() {
                DeValue::Datetime(datetime) => match timestamp(datetime) {
                    Some(at) => Some(Operand::Time(at)),
                    None => {
                        self.error(
                            Diagnostic::new("a date-time to compare with needs a time and an offset", first.span())
                                .with_help("write an offset date-time such as 2027-01-01T09:00:00Z or 2027-01-01T09:00:00+01:00"),
                        );
                        None
                    }
                },
                _ => self.wrong_operand(first, op_name, "a date-time such as 2027-01-01T09:00:00Z"),
            },
            Op::Exists => Some(Operand::None),
        }
    }

    fn strings(
        &mut self,
        items: &[&Spanned<DeValue<'_>>],
        ignore_case: bool,
        op_name: &str,
        wanted: &str,
    ) -> Option<Operand> {
        let mut strings = Vec::with_capacity(items.len());
        for item in items {
            match item.get_ref() {
                DeValue::String(s) if ignore_case => {
                    // Character by character, as the runtime lowercases what it compares.
                    strings.push(s.chars().flat_map(char::to_lowercase).collect())
                }
                DeValue::String(s) => strings.push(s.to_string()),
                _ => return self.wrong_operand(item, op_name, wanted),
            }
        }
        Some(Operand::Strings(strings))
    }

    fn number(&mut self, item: &Spanned<DeValue<'_>>, op_name: &str, wanted: &str) -> Option<f64> {
        let parsed = match item.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|i| i as f64),
            DeValue::Float(f) => f.as_str().parse::<f64>().ok().filter(|f| f.is_finite()),
            _ => None,
        };
        if parsed.is_none() {
            return self.wrong_operand(item, op_name, wanted);
        }
        parsed
    }

    /// Reports an operand of the wrong kind for `op_name`; always `None`.
    fn wrong_operand<T>(
        &mut self,
        item: &Spanned<DeValue<'_>>,
        op_name: &str,
        wanted: &str,
    ) -> Option<T> {
        self.error(Diagnostic::new(
            format!(
                "`{op_name}` compares with {wanted}, found {}",
                describe_toml(item.get_ref())
            ),
            item.span(),
        ));
        None
    }

    /// `[segments.<name>]` tables.
    pub(crate) fn segments(&mut self, root: &DeTable<'_>) -> Vec<Segment> {
        let Some((_, value)) = root.get_key_value("segments") else {
            return Vec::new();
        };
        let Some(table) = self.table(value, "`segments`", "[segments.<name>] tables") else {
            return Vec::new();
        };
        table
            .into_iter()
            .filter_map(|(key, value)| self.segment(key, value, true))
            .collect()
    }

    /// One `[segments.<name>]` table; `description` is required in `flags.toml` only.
    pub(crate) fn segment(
        &mut self,
        key: &Spanned<toml::de::DeString<'_>>,
        value: &Spanned<DeValue<'_>>,
        description_required: bool,
    ) -> Option<Segment> {
        let name = key.get_ref().as_ref();
        let context = format!("segment `{name}`");
        let table = self.table(value, &context, &format!("a table: [segments.{name}]"))?;
        self.reject_unknown_keys(table, SEGMENT_KEYS, &context);
        let description = match table.get_key_value("description") {
            Some((_, v)) => self
                .text(v, &format!("`description` of {context}"), true)
                .unwrap_or_default()
                .to_owned(),
            None if description_required => {
                self.error(
                    Diagnostic::new(format!("{context} has no `description`"), key.span())
                        .with_help("add description = \"who is in it\""),
                );
                String::new()
            }
            None => String::new(),
        };
        let mut keys = Vec::new();
        if let Some((_, v)) = table.get_key_value("keys") {
            match v.get_ref() {
                DeValue::Array(array) => {
                    for item in array {
                        if let Some(key) = self.text(item, "a segment key", false) {
                            keys.push(key.to_owned());
                        }
                    }
                }
                other => self.error(Diagnostic::new(
                    format!(
                        "`keys` of {context} must be an array of strings, found {}",
                        describe_toml(other)
                    ),
                    v.span(),
                )),
            }
        }
        let mut rules = Vec::new();
        if let Some((_, v)) = table.get_key_value("rules") {
            match v.get_ref() {
                DeValue::Array(array) => {
                    for (position, rule) in array.into_iter().enumerate() {
                        let rule_context = format!("rule {} of {context}", position + 1);
                        let Some(rule_table) = self.table(rule, &rule_context, "a table") else {
                            continue;
                        };
                        self.reject_unknown_keys(rule_table, &["when"], &rule_context);
                        match rule_table.get_key_value("when") {
                            Some((_, when)) => {
                                if let Some(conditions) =
                                    self.conditions(when, &rule_context, &[], false)
                                {
                                    rules.push(conditions);
                                }
                            }
                            None => self.error(Diagnostic::new(
                                format!("{rule_context} has no `when`"),
                                rule.span(),
                            )),
                        }
                    }
                }
                other => self.error(Diagnostic::new(
                    format!(
                        "`rules` of {context} must be an array of tables, found {}",
                        describe_toml(other)
                    ),
                    v.span(),
                )),
            }
        }
        Some(Segment {
            name: name.to_owned(),
            description,
            keys,
            rules,
            span: key.span(),
        })
    }

    /// `requires = ["flag", { flag = "other", is = value }]`, checked once all flags are known.
    /// `keys` are the flag keys in file order, so that suggestions do not depend on hashing.
    pub(crate) fn requirements(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        flag: &str,
        flags: &HashMap<String, (usize, FlagType)>,
        keys: &[&str],
    ) -> Vec<Requirement> {
        let DeValue::Array(array) = value.get_ref() else {
            self.error(Diagnostic::new(
                format!(
                    "`requires` of flag `{flag}` must be an array, found {}",
                    describe_toml(value.get_ref())
                ),
                value.span(),
            ));
            return Vec::new();
        };
        let mut requirements = Vec::new();
        for item in array {
            let (name, name_span, is) = match item.get_ref() {
                DeValue::String(name) => (name.to_string(), item.span(), None),
                DeValue::Table(table) => {
                    self.reject_unknown_keys(table, &["flag", "is"], "a requirement");
                    match (table.get_key_value("flag"), table.get_key_value("is")) {
                        (Some((_, f)), Some((_, is))) => match self.text(f, "`flag`", true) {
                            Some(name) => (name.to_owned(), f.span(), Some(is)),
                            None => continue,
                        },
                        _ => {
                            self.error(Diagnostic::new(
                                "a requirement table needs `flag` and `is`",
                                item.span(),
                            ));
                            continue;
                        }
                    }
                }
                other => {
                    self.error(Diagnostic::new(
                        format!(
                            "a requirement is a flag name or {{ flag = ..., is = ... }}, found {}",
                            describe_toml(other)
                        ),
                        item.span(),
                    ));
                    continue;
                }
            };
            let Some((index, flag_type)) = flags.get(&name) else {
                self.error(Diagnostic::new(
                    format!(
                        "flag `{flag}` requires unknown flag `{name}`{}",
                        did_you_mean(&name, keys.iter().copied().filter(|k| *k != flag))
                    ),
                    name_span,
                ));
                continue;
            };
            let value = match is {
                None if *flag_type == FlagType::Bool => Value::Bool(true),
                None => {
                    self.error(
                        Diagnostic::new(
                            format!(
                                "`{name}` is {}, so say which value is required",
                                flag_type.describe()
                            ),
                            name_span,
                        )
                        .with_help(format!("write {{ flag = \"{name}\", is = ... }}")),
                    );
                    continue;
                }
                Some(is) => match flag_type.check_toml(is.get_ref()) {
                    Ok(value) => value,
                    Err(error) => {
                        self.error(Diagnostic::new(
                            format!(
                                "`is` for flag `{name}` must be {}, found {}",
                                error.expected(),
                                error.found()
                            ),
                            is.span(),
                        ));
                        continue;
                    }
                },
            };
            requirements.push(Requirement {
                flag: *index,
                is: value,
            });
        }
        requirements
    }
}

/// Seconds since the epoch of an offset date-time (`None` without a time or an offset).
fn timestamp(datetime: &toml_datetime::Datetime) -> Option<Timestamp> {
    let (date, time, offset) = (datetime.date?, datetime.time?, datetime.offset?);
    let offset_minutes = match offset {
        toml_datetime::Offset::Z => 0,
        toml_datetime::Offset::Custom { minutes } => i64::from(minutes),
    };
    let days = crate::Date {
        year: date.year,
        month: date.month,
        day: date.day,
    }
    .days_since_epoch();
    let seconds = days * 86_400
        + i64::from(time.hour) * 3_600
        + i64::from(time.minute) * 60
        + i64::from(time.second.unwrap_or(0))
        - offset_minutes * 60;
    Some(Timestamp {
        seconds,
        nanos: time.nanosecond.unwrap_or(0),
    })
}
