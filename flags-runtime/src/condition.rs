//! Conditions and the segments they test, prepared for evaluation when a configuration is
//! built: each attribute's id (its name and hash) computed once, and each string operator's
//! test chosen once, so that testing a condition is one attribute lookup and one comparison.

use std::sync::Arc;

use flags_model::{Condition, Op, Operand, Segment, Test, Timestamp};

use crate::context::{AnyContext, Attribute, AttributeId};
use crate::ops::{self, TextTest};
use crate::sources::Membership;

/// What an evaluation reads besides the context and the clock: passed by value, two words.
#[derive(Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub(crate) segments: &'a [SegmentState],
}

/// One condition of a rule or a segment, ready to test.
#[derive(Debug)]
pub(crate) struct Check {
    kind: Kind,
    negate: bool,
}

#[derive(Debug)]
enum Kind {
    /// A string attribute compared byte for byte with one string: the usual condition
    /// (`email ends_with "@example.com"`), tested inline. An attribute of another kind is
    /// tested as [`Kind::Text`] would.
    Bytes {
        attribute: Name,
        op: Op,
        compare: ByteCompare,
        expected: Box<str>,
        /// Whether a match makes the condition false (`not_equals`, or `negate`, not both).
        flip: bool,
    },
    /// Any other string operator: a string attribute takes `test`, a list `ops::strings`.
    Text {
        attribute: Name,
        op: Op,
        test: TextTest,
        ignore_case: bool,
        strings: Box<[Box<str>]>,
    },
    /// `exists`, the one test of absence: it holds or not whether the attribute is there.
    Exists(Name),
    /// Any other comparison of an attribute.
    Compare {
        attribute: Name,
        op: Op,
        ignore_case: bool,
        operand: Operand,
    },
    /// Membership of the segment at this index.
    Segment(usize),
    /// The current time against a fixed time.
    Now { op: Op, at: Timestamp },
}

/// How a [`Kind::Bytes`] condition compares its string.
#[derive(Clone, Copy, Debug)]
enum ByteCompare {
    Equals,
    StartsWith,
    EndsWith,
}

impl ByteCompare {
    /// The byte comparison `op` makes of a string with one string, if it is one.
    fn of(op: Op) -> Option<Self> {
        match op {
            Op::Equals | Op::In | Op::NotEquals | Op::NotIn => Some(Self::Equals),
            Op::StartsWith => Some(Self::StartsWith),
            Op::EndsWith => Some(Self::EndsWith),
            _ => None,
        }
    }

    #[inline(always)]
    fn matches(self, text: &str, expected: &str) -> bool {
        match self {
            Self::Equals => ops::equals(text, expected, false),
            Self::StartsWith => ops::starts_with(text, expected, false),
            Self::EndsWith => ops::ends_with(text, expected, false),
        }
    }
}

/// An attribute's name and its hash, which a derived context matches on.
#[derive(Debug)]
struct Name {
    hash: u64,
    name: Box<str>,
}

impl Name {
    fn new(name: &str) -> Self {
        Self {
            hash: flags_model::naming::attribute_hash(name),
            name: name.into(),
        }
    }

    #[inline(always)]
    fn read<'c>(&self, context: Option<&'c dyn AnyContext>) -> Option<Attribute<'c>> {
        context?.context_attribute_by_id(AttributeId::hashed(self.hash, &self.name))
    }
}

impl Check {
    /// `condition`, prepared.
    pub(crate) fn new(condition: &Condition) -> Self {
        let kind = match &condition.test {
            Test::Now { op, at } => Kind::Now { op: *op, at: *at },
            Test::Segment { index, .. } => Kind::Segment(*index),
            Test::Attribute {
                attribute,
                op: Op::Exists,
                ..
            } => Kind::Exists(Name::new(attribute)),
            Test::Attribute {
                attribute,
                op,
                ignore_case,
                operand,
            } => {
                let attribute = Name::new(attribute);
                match (operand, TextTest::of(*op)) {
                    (Operand::Strings(strings), Some(test)) => {
                        match (strings.as_slice(), ByteCompare::of(*op)) {
                            ([only], Some(compare)) if !*ignore_case => Kind::Bytes {
                                attribute,
                                op: *op,
                                compare,
                                expected: only.as_str().into(),
                                flip: matches!(op, Op::NotEquals | Op::NotIn) != condition.negate,
                            },
                            _ => Kind::Text {
                                attribute,
                                op: *op,
                                test,
                                ignore_case: *ignore_case,
                                strings: strings.iter().map(|s| s.as_str().into()).collect(),
                            },
                        }
                    }
                    _ => Kind::Compare {
                        attribute,
                        op: *op,
                        ignore_case: *ignore_case,
                        operand: operand.clone(),
                    },
                }
            }
        };
        Self {
            kind,
            negate: condition.negate,
        }
    }

    /// Whether the condition holds. Anything that cannot be tested (no context, a missing
    /// attribute, an attribute of another kind than the operand) makes it false, `negate`
    /// or not.
    #[inline]
    pub(crate) fn holds(&self, context: Option<&dyn AnyContext>, scope: Scope<'_>) -> bool {
        self.holds_inlined(context, scope)
    }

    /// [`Check::holds`], inlined: for the walk over a targeting's rules, one function with its
    /// conditions' tests.
    #[inline(always)]
    pub(crate) fn holds_inlined(&self, context: Option<&dyn AnyContext>, scope: Scope<'_>) -> bool {
        // A string attribute tested by a string operator, the usual condition, inline (one
        // string compared byte for byte without a call); the rest out of line, so that the
        // loop over conditions stays small.
        match &self.kind {
            Kind::Bytes {
                attribute,
                compare,
                expected,
                flip,
                ..
            } => match attribute.read(context) {
                Some(Attribute::Str(text)) => compare.matches(text, expected) != *flip,
                Some(_) => self.holds_otherwise(context, scope),
                None => false,
            },
            Kind::Text {
                attribute,
                test,
                ignore_case,
                strings,
                ..
            } => match attribute.read(context) {
                Some(Attribute::Str(text)) => {
                    test.holds(text, strings, *ignore_case) != self.negate
                }
                Some(_) => self.holds_otherwise(context, scope),
                None => false,
            },
            _ => self.holds_otherwise(context, scope),
        }
    }

    /// [`Check::holds`] of any condition but a string operator's on a string attribute.
    #[inline(never)]
    fn holds_otherwise(&self, context: Option<&dyn AnyContext>, scope: Scope<'_>) -> bool {
        let result = match &self.kind {
            Kind::Bytes {
                attribute,
                op,
                expected,
                ..
            } => attribute
                .read(context)
                .and_then(|value| ops::strings(value, *op, false, std::slice::from_ref(expected))),
            Kind::Text {
                attribute,
                op,
                ignore_case,
                strings,
                ..
            } => attribute
                .read(context)
                .and_then(|value| ops::strings(value, *op, *ignore_case, strings)),
            Kind::Exists(attribute) => Some(attribute.read(context).is_some()),
            Kind::Compare {
                attribute,
                op,
                ignore_case,
                operand,
            } => attribute
                .read(context)
                .and_then(|value| compare(value, *op, *ignore_case, operand)),
            Kind::Segment(index) => context.and_then(|context| {
                let segment = scope.segments.get(*index)?;
                Some(segment.has(context, scope))
            }),
            Kind::Now { op, at } => Some(ops::now(*op, Timestamp::now(), *at)),
        };
        ops::outcome(result, self.negate)
    }
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
    rules: Arc<[Box<[Check]>]>,
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
            rules: segment
                .rules
                .iter()
                .map(|rule| rule.iter().map(Check::new).collect())
                .collect(),
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

    /// Whether `context` is in the segment: its key is listed, or one of its rules holds.
    fn has(&self, context: &dyn AnyContext, scope: Scope<'_>) -> bool {
        self.lists(context.context_key())
            || self
                .rules
                .iter()
                .any(|rule| rule.iter().all(|check| check.holds(Some(context), scope)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Context;

    fn condition(attribute: &str, op: Op, strings: &[&str], negate: bool) -> Check {
        Check::new(&Condition {
            test: Test::Attribute {
                attribute: attribute.to_owned(),
                op,
                ignore_case: false,
                operand: Operand::Strings(strings.iter().map(|s| (*s).to_owned()).collect()),
            },
            negate,
        })
    }

    fn holds(check: &Check, context: &Context) -> bool {
        check.holds(Some(context), Scope { segments: &[] })
    }

    #[test]
    fn a_string_operator_tests_strings_and_lists_and_never_a_missing_attribute() {
        let ada = Context::new("u-1")
            .with("email", "ada@example.com")
            .with("tags", &["beta", "staff"][..])
            .with("age", 36);
        let staff = condition("email", Op::EndsWith, &["@example.com"], false);
        assert!(holds(&staff, &ada));
        let not_staff = condition("email", Op::EndsWith, &["@example.com"], true);
        assert!(!holds(&not_staff, &ada));
        // A list attribute is tested item by item; a number is not a string.
        assert!(holds(&condition("tags", Op::In, &["staff"], false), &ada));
        assert!(holds(&condition("tags", Op::NotIn, &["vip"], false), &ada));
        assert!(!holds(&condition("age", Op::Equals, &["36"], false), &ada));
        // A missing attribute makes the condition false, negated or not.
        assert!(!holds(
            &condition("plan", Op::NotEquals, &["pro"], false),
            &ada
        ));
        assert!(!holds(&condition("plan", Op::Equals, &["pro"], true), &ada));
        let exists = Check::new(&Condition {
            test: Test::Attribute {
                attribute: "plan".to_owned(),
                op: Op::Exists,
                ignore_case: false,
                operand: Operand::None,
            },
            negate: true,
        });
        assert!(holds(&exists, &ada));
    }

    #[test]
    fn one_string_compared_inline_means_what_the_operator_means() {
        let ada = Context::new("u-1")
            .with("email", "ada@example.com")
            .with("plan", "Pro")
            .with("bio", "written at length, more than sixteen bytes");
        let cases: &[(&str, Op, &str, bool, bool)] = &[
            ("email", Op::Equals, "ada@example.com", false, true),
            ("email", Op::Equals, "ada@example.co", false, false),
            ("email", Op::StartsWith, "ada@", false, true),
            (
                "email",
                Op::StartsWith,
                "ada@example.com and more",
                false,
                false,
            ),
            ("email", Op::EndsWith, "example.com", false, true),
            ("email", Op::EndsWith, "example.org", false, false),
            // `not_equals` flips a match, `negate` flips it back.
            ("email", Op::NotEquals, "ada@example.com", false, false),
            ("email", Op::NotEquals, "ada@example.com", true, true),
            ("email", Op::NotIn, "bob@example.com", true, false),
            // Case matters unless ignored; longer texts are compared whole.
            ("plan", Op::Equals, "pro", false, false),
            ("plan", Op::Equals, "Pro", false, true),
            ("bio", Op::EndsWith, "more than sixteen bytes", false, true),
            (
                "bio",
                Op::Equals,
                "written at length, more than sixteen byte",
                false,
                false,
            ),
        ];
        for &(attribute, op, expected, negate, holds_for_ada) in cases {
            let check = condition(attribute, op, &[expected], negate);
            assert!(
                matches!(check.kind, Kind::Bytes { .. }),
                "{attribute} {op:?}"
            );
            assert_eq!(
                holds(&check, &ada),
                holds_for_ada,
                "{attribute} {op:?} {expected:?} negate={negate}"
            );
        }
        // Ignored case, several strings and `contains` take the general test.
        let ignoring_case = Check::new(&Condition {
            test: Test::Attribute {
                attribute: "plan".to_owned(),
                op: Op::Equals,
                ignore_case: true,
                operand: Operand::Strings(vec!["pro".to_owned()]),
            },
            negate: false,
        });
        assert!(matches!(ignoring_case.kind, Kind::Text { .. }));
        assert!(holds(&ignoring_case, &ada));
        let several = condition("plan", Op::In, &["Basic", "Pro"], false);
        assert!(matches!(several.kind, Kind::Text { .. }));
        assert!(holds(&several, &ada));
        assert!(holds(
            &condition("bio", Op::Contains, &["length"], false),
            &ada
        ));
    }
}
