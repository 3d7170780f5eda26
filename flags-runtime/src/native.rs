//! What the code `declare!` compiles from `flags.toml`'s rules calls. Each operator is the
//! interpreter's own ([`crate::ops`]), so compiled and interpreted rules always agree; a
//! rollout's group is hashed at compile time ([`GroupHash::new`] is a `const fn`); and
//! [`require_attributes`] is the compile-time check that a context type has every attribute
//! a flag's rules read. Not a public API: it changes without notice.

pub use flags_model::{Op, Timestamp};

pub use crate::bucket::{GroupHash, bucket_attribute};
pub use crate::context::{Attribute, AttributeId, ContextAttributes, EvaluationContext};
pub use crate::ops::now;
use crate::ops::{boolean, numbers, outcome, strings, time};

/// The id of attribute `name`, whose hash ([`flags_model::naming::attribute_hash`]) the
/// macro computed.
#[inline(always)]
pub const fn attribute_id(hash: u64, name: &str) -> AttributeId<'_> {
    AttributeId::hashed(hash, name)
}

/// Attribute `name` of `context`, by the id whose hash the macro computed.
#[inline(always)]
pub fn attribute<'c, C: EvaluationContext + ?Sized>(
    context: &'c C,
    hash: u64,
    name: &str,
) -> Option<Attribute<'c>> {
    context.attribute_by_id(attribute_id(hash, name))
}

/// A condition on a string attribute: one call in the compiled rules, which keeps the code
/// the macro writes short (what a large `flags.toml` costs to build), inlined into the same
/// code as the operator's own. No closure on the way: one here was left out of line, which
/// made the compiled rule four times slower.
#[inline(always)]
pub fn string_condition<C: EvaluationContext + ?Sized>(
    context: &C,
    hash: u64,
    name: &str,
    op: Op,
    ignore_case: bool,
    operands: &[&str],
    negate: bool,
) -> bool {
    match attribute(context, hash, name) {
        Some(value) => outcome(strings(value, op, ignore_case, operands), negate),
        None => false,
    }
}

/// A condition on a number attribute; see [`string_condition`].
#[inline(always)]
pub fn number_condition<C: EvaluationContext + ?Sized>(
    context: &C,
    hash: u64,
    name: &str,
    op: Op,
    operands: &[f64],
    negate: bool,
) -> bool {
    match attribute(context, hash, name) {
        Some(value) => outcome(numbers(value, op, operands), negate),
        None => false,
    }
}

/// A condition on a bool attribute; see [`string_condition`].
#[inline(always)]
pub fn bool_condition<C: EvaluationContext + ?Sized>(
    context: &C,
    hash: u64,
    name: &str,
    op: Op,
    expected: bool,
    negate: bool,
) -> bool {
    match attribute(context, hash, name) {
        Some(value) => outcome(boolean(value, op, expected), negate),
        None => false,
    }
}

/// A condition on a time attribute; see [`string_condition`].
#[inline(always)]
pub fn time_condition<C: EvaluationContext + ?Sized>(
    context: &C,
    hash: u64,
    name: &str,
    op: Op,
    at: Timestamp,
    negate: bool,
) -> bool {
    match attribute(context, hash, name) {
        Some(value) => outcome(time(value, op, at), negate),
        None => false,
    }
}

/// Whether the context has attribute `name`, negated if `negate`.
#[inline(always)]
pub fn exists_condition<C: EvaluationContext + ?Sized>(
    context: &C,
    hash: u64,
    name: &str,
    negate: bool,
) -> bool {
    attribute(context, hash, name).is_some() != negate
}

/// The compiled rules of a flag that has none: the runtime decides.
#[inline(always)]
pub fn nothing<C: ?Sized, T>(_environment: u32, _context: &C) -> Option<T> {
    None
}

/// The bucket, 1 to 100, of `value` in `group`; `None` when there is no value to bucket.
#[inline(always)]
pub fn bucket(group: &GroupHash, value: Option<Attribute<'_>>) -> Option<u32> {
    bucket_attribute(group, value?)
}

/// An attribute a flag's rules read, and where: `("planType", "flags.toml:14")`.
pub type Required = (&'static str, &'static str);

/// The longest message [`require_attributes`] writes.
const MESSAGE_CAPACITY: usize = 512;

/// A message built while the program compiles.
pub struct Message {
    bytes: [u8; MESSAGE_CAPACITY],
    len: usize,
}

impl Message {
    const fn new() -> Self {
        Self {
            bytes: [0; MESSAGE_CAPACITY],
            len: 0,
        }
    }

    const fn push(mut self, text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut at = 0;
        // Cut at a character boundary when full.
        while at < bytes.len() && self.len < MESSAGE_CAPACITY {
            self.bytes[self.len] = bytes[at];
            self.len += 1;
            at += 1;
        }
        while self.len > 0 && core::str::from_utf8(self.bytes.split_at(self.len).0).is_err() {
            self.len -= 1;
        }
        self
    }

    /// Whether there is nothing to report.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The text.
    pub const fn as_str(&self) -> &str {
        match core::str::from_utf8(self.bytes.split_at(self.len).0) {
            Ok(text) => text,
            Err(_) => "",
        }
    }
}

/// Why a context type cannot be used with a flag: the first attribute in `required` (what
/// the flag's rules, its segments' rules, its rollouts and its prerequisites read in any
/// environment) that `declared` lacks, with the closest one it has. Empty when the type does
/// not declare its attributes (they are then found at run time) or has them all. Generated
/// `_for` accessors panic with it in a `const` block, which makes it a compile error at the
/// call.
pub const fn require_attributes(
    declared: Option<&ContextAttributes>,
    flag: &str,
    required: &[Required],
) -> Message {
    let Some(declared) = declared else {
        return Message::new();
    };
    let mut position = 0;
    while position < required.len() {
        let (attribute, at) = required[position];
        if !contains(declared.names, attribute) {
            let message = Message::new()
                .push("`")
                .push(declared.type_name)
                .push("` has no attribute `")
                .push(attribute)
                .push("`, which flag `")
                .push(flag)
                .push("` reads (")
                .push(at)
                .push(")");
            return match closest(declared.names, attribute) {
                Some(close) => message.push("; did you mean `").push(close).push("`?"),
                None => message
                    .push("; add the field, or #[flags(rename = \"")
                    .push(attribute)
                    .push("\")] on the field that holds it"),
            };
        }
        position += 1;
    }
    Message::new()
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut at = 0;
    while at < a.len() {
        if a[at] != b[at] {
            return false;
        }
        at += 1;
    }
    true
}

const fn contains(names: &[&str], name: &str) -> bool {
    let mut at = 0;
    while at < names.len() {
        if same(names[at], name) {
            return true;
        }
        at += 1;
    }
    false
}

/// Names up to this long are compared for a suggestion.
const SUGGESTED: usize = 64;

/// The name closest to `name` within a third of its length (Levenshtein distance over
/// ASCII-lowercased bytes), as the model's suggestions allow.
const fn closest<'a>(names: &[&'a str], name: &str) -> Option<&'a str> {
    let mut best: Option<&'a str> = None;
    let mut best_distance = usize::MAX;
    let mut at = 0;
    while at < names.len() {
        if let Some(distance) = distance(names[at].as_bytes(), name.as_bytes()) {
            let longer = if names[at].len() > name.len() {
                names[at].len()
            } else {
                name.len()
            };
            let allowed = if longer / 3 > 1 { longer / 3 } else { 1 };
            if distance <= allowed && distance < best_distance {
                best = Some(names[at]);
                best_distance = distance;
            }
        }
        at += 1;
    }
    best
}

const fn distance(a: &[u8], b: &[u8]) -> Option<usize> {
    if a.len() > SUGGESTED || b.len() > SUGGESTED {
        return None;
    }
    let mut previous = [0usize; SUGGESTED + 1];
    let mut current = [0usize; SUGGESTED + 1];
    let mut j = 0;
    while j <= b.len() {
        previous[j] = j;
        j += 1;
    }
    let mut i = 1;
    while i <= a.len() {
        current[0] = i;
        let mut j = 1;
        while j <= b.len() {
            let cost = if a[i - 1].eq_ignore_ascii_case(&b[j - 1]) {
                0
            } else {
                1
            };
            let mut best = previous[j - 1] + cost;
            if previous[j] + 1 < best {
                best = previous[j] + 1;
            }
            if current[j - 1] + 1 < best {
                best = current[j - 1] + 1;
            }
            current[j] = best;
            j += 1;
        }
        previous = current;
        i += 1;
    }
    Some(previous[b.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: ContextAttributes = ContextAttributes {
        type_name: "User",
        names: &["email", "planType", "country"],
    };

    #[test]
    fn a_missing_attribute_is_named_with_the_closest_one() {
        let required: &[Required] = &[("email", "flags.toml:9"), ("planTyp", "flags.toml:14")];
        assert_eq!(
            require_attributes(Some(&USER), "crm_enabled", required).as_str(),
            "`User` has no attribute `planTyp`, which flag `crm_enabled` reads (flags.toml:14); \
             did you mean `planType`?"
        );
        let unrelated: &[Required] = &[("seats", "flags.toml:3")];
        assert!(
            require_attributes(Some(&USER), "x", unrelated)
                .as_str()
                .ends_with(
                    "add the field, or #[flags(rename = \"seats\")] on the field that holds it"
                )
        );
        assert!(require_attributes(Some(&USER), "x", &[("country", "f:1")]).is_empty());
        assert!(require_attributes(None, "x", required).is_empty());
    }

    #[test]
    fn long_messages_are_cut_at_a_character() {
        let message = Message::new().push(&"é".repeat(400));
        assert_eq!(message.as_str().chars().count(), MESSAGE_CAPACITY / 2);
    }
}
