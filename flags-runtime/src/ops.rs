//! What each operator of a condition means. The interpreter and the code that `declare!`
//! generates for `flags.toml`'s rules both call these, so that a rule means the same thing
//! whichever of them evaluates it. Each returns `None` when the attribute cannot be compared
//! with the operand (another kind of value): the condition is then false, `negate` or not.

use flags_model::{Op, Timestamp};

use crate::context::Attribute;

/// A condition's result from its test: false when the test could not be made, else the test
/// inverted by `negate`.
#[inline(always)]
pub fn outcome(test: Option<bool>, negate: bool) -> bool {
    // A match, not a closure: the compiled rules' conditions inline this at every call.
    match test {
        Some(result) => result != negate,
        None => false,
    }
}

/// An attribute compared with strings (`equals`, `in`, `starts_with`, `ends_with`,
/// `contains` and their negations; a list attribute with `contains`, `in`, `equals`). The
/// strings are lowercased already when `ignore_case` is set.
#[inline(always)]
pub fn strings<S: AsRef<str>>(
    value: Attribute<'_>,
    op: Op,
    ignore_case: bool,
    strings: &[S],
) -> Option<bool> {
    match value {
        Attribute::Str(text) => Some(TextTest::of(op)?.holds(text, strings, ignore_case)),
        Attribute::List(items) => {
            let any_item_in = || {
                items.iter().any(|item| {
                    strings
                        .iter()
                        .any(|s| equals(item, s.as_ref(), ignore_case))
                })
            };
            match op {
                Op::Contains | Op::In | Op::Equals => Some(any_item_in()),
                Op::NotIn | Op::NotEquals => Some(!any_item_in()),
                _ => None,
            }
        }
        _ => None,
    }
}

/// What a string operator tests a string attribute for, chosen once: the interpreter keeps
/// one per condition of several strings or ignoring case, compiled rules fold it away.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TextTest {
    test: fn(&str, &str, bool) -> bool,
    /// `not_equals` and `not_in`: true when no string matches.
    negated: bool,
}

impl TextTest {
    /// The test of `op`, when it is a string operator.
    #[inline(always)]
    pub(crate) fn of(op: Op) -> Option<Self> {
        let test: fn(&str, &str, bool) -> bool = match op {
            Op::Equals | Op::In | Op::NotEquals | Op::NotIn => equals,
            Op::StartsWith => starts_with,
            Op::EndsWith => ends_with,
            Op::Contains => contains,
            _ => return None,
        };
        Some(Self {
            test,
            negated: matches!(op, Op::NotEquals | Op::NotIn),
        })
    }

    /// Whether `text` passes against the one string `expected`.
    #[inline(always)]
    fn holds_one(self, text: &str, expected: &str, ignore_case: bool) -> bool {
        (self.test)(text, expected, ignore_case) != self.negated
    }

    /// Whether `text` passes against `strings`. Each test is called directly, in a plain
    /// loop, so that compiled rules inline it with their operands.
    #[inline(always)]
    pub(crate) fn holds<S: AsRef<str>>(self, text: &str, strings: &[S], ignore_case: bool) -> bool {
        // One string, the usual operand: no loop.
        if let [only] = strings {
            return self.holds_one(text, only.as_ref(), ignore_case);
        }
        let mut any = false;
        for expected in strings {
            if (self.test)(text, expected.as_ref(), ignore_case) {
                any = true;
                break;
            }
        }
        any != self.negated
    }
}

/// A number attribute compared with numbers (`equals`, `in`, their negations, and `<`,
/// `<=`, `>`, `>=` with the first).
#[inline(always)]
pub fn numbers(value: Attribute<'_>, op: Op, numbers: &[f64]) -> Option<bool> {
    let Attribute::Number(n) = value else {
        return None;
    };
    match op {
        Op::Equals | Op::In => Some(numbers.contains(&n)),
        Op::NotEquals | Op::NotIn => Some(!numbers.contains(&n)),
        Op::Lt => numbers.first().map(|x| n < *x),
        Op::Le => numbers.first().map(|x| n <= *x),
        Op::Gt => numbers.first().map(|x| n > *x),
        Op::Ge => numbers.first().map(|x| n >= *x),
        _ => None,
    }
}

/// A bool attribute compared with a bool.
#[inline(always)]
pub fn boolean(value: Attribute<'_>, op: Op, expected: bool) -> Option<bool> {
    let Attribute::Bool(b) = value else {
        return None;
    };
    match op {
        Op::Equals | Op::In => Some(b == expected),
        Op::NotEquals | Op::NotIn => Some(b != expected),
        _ => None,
    }
}

/// A time attribute, or a string holding an RFC 3339 date-time with an offset (what JSON
/// and OFREP clients send), compared with a time (`before`, `after`).
#[inline(always)]
pub fn time(value: Attribute<'_>, op: Op, at: Timestamp) -> Option<bool> {
    let time = match value {
        Attribute::Time(time) => time,
        Attribute::Str(text) => Timestamp::parse(text)?,
        _ => return None,
    };
    match op {
        Op::Before => Some(time < at),
        Op::After => Some(time > at),
        _ => None,
    }
}

/// The current time compared with a time (`now_before`, `now_after`).
#[inline]
pub fn now(op: Op, now: Timestamp, at: Timestamp) -> bool {
    if op == Op::Before { now < at } else { now > at }
}

/// A version attribute, or a string holding one, compared with a version.
pub fn semver(value: Attribute<'_>, op: Op, expected: &semver::Version) -> Option<bool> {
    match value {
        Attribute::Semver(version) => semver_compare(version, op, expected),
        Attribute::Str(text) => semver::Version::parse(text)
            .ok()
            .and_then(|version| semver_compare(&version, op, expected)),
        _ => None,
    }
}

/// A string attribute matched against a regular expression.
pub fn regex(value: Attribute<'_>, pattern: &::regex::Regex) -> Option<bool> {
    match value {
        Attribute::Str(text) => Some(pattern.is_match(text)),
        _ => None,
    }
}

fn semver_compare(version: &semver::Version, op: Op, expected: &semver::Version) -> Option<bool> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let ordering = version.cmp_precedence(expected);
    match op {
        Op::SemverEq => Some(ordering == Equal),
        Op::SemverLt => Some(ordering == Less),
        Op::SemverLe => Some(ordering != Greater),
        Op::SemverGt => Some(ordering == Greater),
        Op::SemverGe => Some(ordering != Less),
        _ => None,
    }
}

// String tests. `expected` is already lowercased when `ignore_case` is set.

/// Byte equality, with operands of 8 to 16 bytes (e-mail domains, plans, countries' names)
/// compared as two overlapping words rather than through a `memcmp` call, which costs more
/// than the comparison at these lengths.
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let length = a.len();
    if length != b.len() {
        return false;
    }
    if (8..=16).contains(&length) {
        let word = |bytes: &[u8], at: usize| {
            bytes
                .get(at..at + 8)
                .and_then(|w| <[u8; 8]>::try_from(w).ok())
                .map(u64::from_ne_bytes)
        };
        return word(a, 0) == word(b, 0) && word(a, length - 8) == word(b, length - 8);
    }
    a == b
}

#[inline(always)]
pub(crate) fn equals(text: &str, expected: &str, ignore_case: bool) -> bool {
    if !ignore_case {
        return same_bytes(text.as_bytes(), expected.as_bytes());
    }
    if text.is_ascii() {
        return text.eq_ignore_ascii_case(expected);
    }
    text.chars()
        .flat_map(char::to_lowercase)
        .eq(expected.chars())
}

#[inline(always)]
pub(crate) fn starts_with(text: &str, expected: &str, ignore_case: bool) -> bool {
    if !ignore_case {
        return match text.as_bytes().get(..expected.len()) {
            Some(start) => same_bytes(start, expected.as_bytes()),
            None => false,
        };
    }
    if text.is_ascii() {
        return text.len() >= expected.len()
            && text.as_bytes()[..expected.len()].eq_ignore_ascii_case(expected.as_bytes());
    }
    let mut lowered = text.chars().flat_map(char::to_lowercase);
    expected.chars().all(|c| lowered.next() == Some(c))
}

#[inline(always)]
pub(crate) fn ends_with(text: &str, expected: &str, ignore_case: bool) -> bool {
    if !ignore_case {
        return match text.len().checked_sub(expected.len()) {
            Some(from) => same_bytes(&text.as_bytes()[from..], expected.as_bytes()),
            None => false,
        };
    }
    if text.is_ascii() {
        let from = text.len().checked_sub(expected.len());
        return from
            .is_some_and(|from| text.as_bytes()[from..].eq_ignore_ascii_case(expected.as_bytes()));
    }
    lowercase(text).ends_with(expected)
}

/// Lowercased character by character, as operands are when `flags.toml` is read, so that a
/// text always matches itself whatever its script.
fn lowercase(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

#[inline(always)]
fn contains(text: &str, expected: &str, ignore_case: bool) -> bool {
    if !ignore_case {
        return text.contains(expected);
    }
    if text.is_ascii() {
        let needle = expected.as_bytes();
        return needle.is_empty()
            || text
                .as_bytes()
                .windows(needle.len())
                .any(|window| window.eq_ignore_ascii_case(needle));
    }
    lowercase(text).contains(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_compare_as_times_also_when_written_as_text() {
        let at = Timestamp::parse("2026-05-01T10:00:00Z").expect("a date-time");
        let text = |text: &'static str, op| time(Attribute::Str(text), op, at);
        assert_eq!(text("2026-05-01T09:59:59Z", Op::Before), Some(true));
        assert_eq!(text("2026-05-01T12:00:00+02:00", Op::Before), Some(false));
        assert_eq!(text("2026-05-01T12:00:00+02:00", Op::After), Some(false));
        assert_eq!(text(" 2026-05-01T10:00:00.5Z ", Op::After), Some(true));
        assert_eq!(text("2026-05-01 10:00:01Z", Op::After), Some(true));
        for not_a_time in [
            "2026-05-01",
            "2026-05-01T10:00:00",
            "soon",
            "",
            "2026-13-01T00:00:00Z",
        ] {
            assert_eq!(text(not_a_time, Op::Before), None, "{not_a_time:?}");
        }
        assert_eq!(time(Attribute::Number(1e9), Op::Before, at), None);
        assert_eq!(time(Attribute::Time(at), Op::Before, at), Some(false));
    }

    #[test]
    fn byte_equality_at_every_length() {
        let text = b"0123456789abcdefghij";
        for length in 0..=text.len() {
            let a = &text[..length];
            assert!(same_bytes(a, a));
            for at in 0..length {
                let mut b = a.to_vec();
                b[at] ^= 1;
                assert!(!same_bytes(a, &b), "length {length}, byte {at}");
            }
            assert!(!same_bytes(a, &text[..length.saturating_sub(1)]) || length == 0);
        }
        assert!(ends_with("ada@example.com", "@example.com", false));
        assert!(!ends_with("ada@example.co", "@example.com", false));
        assert!(!ends_with("a.com", "@example.com", false));
        assert!(starts_with("pro-plan", "pro", false));
        assert!(!starts_with("pr", "pro", false));
    }

    #[test]
    fn strings_compare_with_and_without_case() {
        assert!(ends_with("ada@Example.COM", "@example.com", true));
        assert!(!ends_with("ada@Example.COM", "@example.com", false));
        assert!(starts_with("Ünïcode", "ünï", true));
        assert!(equals("ÉCOLE", "école", true));
        assert!(contains("Big CRM Suite", "crm", true));
        assert!(!contains("a", "ab", true));
        assert!(ends_with("ÉCOLE@EXAMPLE.COM", "@example.com", true));
        // Operands are lowercased the same way, so a word matches itself (final sigma included).
        let operand: String = "ΟΔΟΣ".chars().flat_map(char::to_lowercase).collect();
        for test in [equals, starts_with, ends_with, contains] {
            assert!(test("ΟΔΟΣ", &operand, true));
        }
    }
}
