//! How flag keys and variant names become Rust names, and "did you mean" suggestions.

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};

/// Rust keywords that can be written as raw identifiers (`r#type`).
const RAW_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Keywords that cannot be identifiers even in raw form.
const FORBIDDEN: &[&str] = &["self", "Self", "super", "crate", "_"];

/// Names the generated types already use (`Flags::init()`, `FlagsSnapshot::generation()`...),
/// so no flag may take them.
pub const RESERVED_ACCESSORS: &[&str] = &[
    "init",
    "reload",
    "runtime",
    "stub",
    "each",
    "each_of",
    "snapshot",
    "environment",
    "generation",
    "into_scope",
];

/// Each flag generates `Flags::<accessor>()` and these: `<accessor>_for(&context)` and
/// `<accessor>_details(&context)`.
pub const ACCESSOR_SUFFIXES: &[&str] = &["_for", "_details"];

/// The snake_case function name of a flag key: `product-TASKS-103-comments` →
/// `product_tasks_103_comments`. Errors say why the key cannot be a Rust name.
pub fn accessor_name(key: &str) -> Result<String, String> {
    // Most keys are snake_case already, and are their own accessor: finding their words
    // again would cost more than the rest of reading the flag.
    if is_snake_case(key) {
        return rust_name(key, key);
    }
    rust_name(key, &key.to_snake_case())
}

/// The UpperCamelCase type or variant name of a key: `one_page` → `OnePage`.
pub fn type_name(key: &str) -> Result<String, String> {
    rust_name(key, &key.to_upper_camel_case())
}

/// The environment variable that overrides a flag: prefix + SHOUTY_SNAKE of its accessor.
pub fn env_var_name(prefix: &str, accessor: &str) -> String {
    // An accessor is already snake_case: its SHOUTY_SNAKE is its upper case, which costs far
    // less than finding its words again (this runs twice per flag in every build).
    if is_snake_case(accessor) {
        format!("{prefix}{}", accessor.to_ascii_uppercase())
    } else {
        format!("{prefix}{}", accessor.to_shouty_snake_case())
    }
}

/// Whether `name` is lowercase ASCII words of letters and digits joined by single `_`, as
/// [`accessor_name`] makes them: a name each case conversion splits into the same words.
fn is_snake_case(name: &str) -> bool {
    !name.is_empty()
        && name.split('_').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// Whether a name must be written `r#name` in Rust source.
pub fn needs_raw(name: &str) -> bool {
    RAW_KEYWORDS.contains(&name)
}

fn rust_name(original: &str, converted: &str) -> Result<String, String> {
    if converted.is_empty() {
        return Err(format!(
            "`{original}` has no letters or digits to make a Rust name from"
        ));
    }
    if !converted.is_ascii() {
        return Err(format!(
            "`{original}` would become `{converted}`, which is not ASCII; use ASCII letters, digits, `_` or `-`"
        ));
    }
    if !converted.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(format!(
            "`{original}` would become `{converted}`, which does not start with a letter"
        ));
    }
    if FORBIDDEN.contains(&converted) {
        return Err(format!(
            "`{original}` would become `{converted}`, a Rust keyword that cannot be a name"
        ));
    }
    Ok(converted.to_owned())
}

/// The 64-bit FNV-1a hash of an attribute's name: the id by which `declare!`'s generated
/// rules and `#[derive(EvaluationContext)]` agree on an attribute, so that finding one is an
/// integer `match` rather than a comparison of names.
pub const fn attribute_hash(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut at = 0;
    while at < bytes.len() {
        hash ^= bytes[at] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        at += 1;
    }
    hash
}

/// Names longer than this get no suggestion and are never suggested: the distance costs the
/// product of the two lengths, and no typo of a real name is that long.
pub const MAX_SUGGESTED_LEN: usize = 100;

/// The candidate closest to `input`, if it is close enough to be a likely typo.
///
/// Uses optimal string alignment distance (Levenshtein plus transpositions), so `nmae`
/// suggests `name`; Jaro-Winkler is avoided because flag names share long prefixes. An
/// abbreviation of three or more characters (`prod`) suggests the name it starts.
///
/// The cost is bounded: a candidate whose length alone puts it too far is skipped without
/// computing a distance, and names longer than [`MAX_SUGGESTED_LEN`] are not compared.
pub fn suggest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let input_length = input.chars().count();
    if input_length > MAX_SUGGESTED_LEN {
        return None;
    }
    let input = input.to_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let length = candidate.chars().count();
        if length > MAX_SUGGESTED_LEN {
            continue;
        }
        let allowed = (length.max(input_length) / 3).max(1);
        // The distance is at least the difference in length.
        let close_enough = length.abs_diff(input_length) <= allowed;
        let abbreviation = input_length >= 3 && length > input_length;
        if !close_enough && !abbreviation {
            continue;
        }
        let lower = candidate.to_lowercase();
        let distance = if close_enough {
            strsim::osa_distance(&input, &lower)
        } else {
            usize::MAX
        };
        let rank = if distance <= allowed {
            distance
        } else if abbreviation && lower.starts_with(&input) {
            // Ranked after every real typo match.
            usize::MAX
        } else {
            continue;
        };
        if best.is_none_or(|(best_rank, _)| rank < best_rank) {
            best = Some((rank, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// `; did you mean `x`?` when there is a close candidate, else nothing.
pub fn did_you_mean<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    suggest(input, candidates)
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}

/// The most names a message lists; the others are counted.
pub const MAX_LISTED: usize = 10;

/// `a, b, c`: at most [`MAX_LISTED`] names, then `and 12 more`, so that a message stays
/// short however many flags, environments or variants a file declares.
pub fn list<T: std::fmt::Display>(names: impl IntoIterator<Item = T>) -> String {
    use std::fmt::Write as _;
    let mut shown = String::new();
    let mut more = 0usize;
    for (position, name) in names.into_iter().enumerate() {
        if position < MAX_LISTED {
            let separator = if position > 0 { ", " } else { "" };
            let _ = write!(shown, "{separator}{name}");
        } else {
            more += 1;
        }
    }
    if more > 0 {
        let _ = write!(shown, " and {more} more");
    }
    shown
}

/// The most characters of an input a message repeats.
pub const MAX_EXCERPT: usize = 80;

/// `text` as a message repeats it: whole when short, else its first [`MAX_EXCERPT`]
/// characters and `…`.
pub fn excerpt(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(MAX_EXCERPT) {
        None => std::borrow::Cow::Borrowed(text),
        Some((cut, _)) => std::borrow::Cow::Owned(format!("{}…", &text[..cut])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_taken_as_they_are_are_those_the_case_conversion_gives() {
        // A snake_case key taken as its accessor, and the upper case of an accessor taken as
        // its variable, must be what the case conversion gives, for keys of every shape.
        let pieces = [
            "a",
            "b2",
            "2b",
            "v2api",
            "x1y2",
            "api",
            "API",
            "Api",
            "aB",
            "0",
            "99",
            "-",
            "_",
            "__",
            "--",
            ".",
            " ",
            "new",
            "Feature",
            "HTTPServer",
            "ümlaut",
            "k8s",
            "s3Bucket",
            "",
            "é",
        ];
        let mut checked = 0;
        for first in pieces {
            for second in pieces {
                for third in ["", "_x", "-7", "Y", "9z"] {
                    let key = format!("{first}{second}{third}");
                    let Ok(accessor) = accessor_name(&key) else {
                        continue;
                    };
                    assert_eq!(accessor, rust_name(&key, &key.to_snake_case()).unwrap());
                    assert_eq!(
                        env_var_name("FLAGS_", &accessor),
                        format!("FLAGS_{}", accessor.to_shouty_snake_case()),
                        "key `{key}`, accessor `{accessor}`"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 1_000, "only {checked} keys made accessors");
        assert_eq!(env_var_name("P_", "Not_Snake"), "P_NOT_SNAKE");
    }

    #[test]
    fn keys_become_snake_case_accessors() {
        assert_eq!(
            accessor_name("product-TASKS-103-comments").unwrap(),
            "product_tasks_103_comments"
        );
        assert_eq!(
            accessor_name("newFeatureEnabled").unwrap(),
            "new_feature_enabled"
        );
        assert_eq!(accessor_name("type").unwrap(), "type");
        assert!(needs_raw("type"));
        assert!(!needs_raw("new_feature_enabled"));
    }

    #[test]
    fn keys_that_cannot_be_names_say_why() {
        assert!(
            accessor_name("103-comments")
                .unwrap_err()
                .contains("start with a letter")
        );
        assert!(accessor_name("--").unwrap_err().contains("no letters"));
        assert!(accessor_name("größe").unwrap_err().contains("ASCII"));
        assert!(accessor_name("self").unwrap_err().contains("keyword"));
    }

    #[test]
    fn variants_become_camel_case() {
        assert_eq!(type_name("one_page").unwrap(), "OnePage");
        assert_eq!(type_name("checkout_flow").unwrap(), "CheckoutFlow");
        assert!(type_name("2x").is_err());
    }

    #[test]
    fn env_vars_are_shouty() {
        assert_eq!(
            env_var_name("FLAGS_", "new_feature_enabled"),
            "FLAGS_NEW_FEATURE_ENABLED"
        );
    }

    #[test]
    fn suggestions_catch_typos_but_not_unrelated_names() {
        let names = [
            "name",
            "new_feature_enabled",
            "new_feature_x_enabled",
            "checkout_flow",
        ];
        assert_eq!(suggest("nmae", names), Some("name"));
        assert_eq!(
            suggest("new_feature_enabld", names),
            Some("new_feature_enabled")
        );
        assert_eq!(
            suggest("new_featur_x_enabled", names),
            Some("new_feature_x_enabled")
        );
        assert_eq!(suggest("checkout", names), Some("checkout_flow"));
        assert_eq!(
            suggest("prod", ["development", "production"]),
            Some("production")
        );
        assert_eq!(suggest("ch", names), None);
        assert_eq!(suggest("zzz", names), None);
        assert_eq!(
            did_you_mean("descrption", ["description"]),
            "; did you mean `description`?"
        );
    }

    #[test]
    fn lists_and_excerpts_are_bounded() {
        let names: Vec<String> = (0..25).map(|i| format!("n{i}")).collect();
        let listed = list(names.iter().map(String::as_str));
        assert!(listed.starts_with("n0, n1,"), "{listed}");
        assert!(listed.ends_with("n9 and 15 more"), "{listed}");
        assert_eq!(list(["a", "b"]), "a, b");
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(1000);
        assert_eq!(excerpt(&long).chars().count(), MAX_EXCERPT + 1);
    }

    #[test]
    fn suggesting_among_many_long_names_stays_cheap() {
        let names: Vec<String> = (0..10_000)
            .map(|i| format!("flag_{i:05}_enabled"))
            .collect();
        let huge = "x".repeat(100_000);
        assert_eq!(suggest(&huge, names.iter().map(String::as_str)), None);
        assert_eq!(
            suggest("flag_00042_enabld", names.iter().map(String::as_str)),
            Some("flag_00042_enabled")
        );
    }
}
