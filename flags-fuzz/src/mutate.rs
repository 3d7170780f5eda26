//! Mutations of valid seed files: seeded, deterministic, on stable Rust.
//!
//! Byte-level changes (flips, inserts, deletes, duplications, truncation at every kind of
//! position, line endings, splices between seeds) and TOML-aware ones (tokens of the format
//! inserted or put in place of others, whole lines copied, long names and strings, deep
//! nesting, prerequisite ladders). Several are stacked on each input.

use fastrand::Rng;

use crate::Kind;
use crate::corpus::{CLI_SEPARATOR, cli_input, split_cli_input};

/// Tokens of the format, and values at the edges of what it can hold.
pub const DICTIONARY: &[&str] = &[
    // Syntax.
    "[",
    "]",
    "[[",
    "]]",
    "=",
    "\"",
    "'",
    "'''",
    "\"\"\"",
    "\r",
    "\r\n",
    "\n",
    "#",
    "{",
    "}",
    ",",
    ".",
    " ",
    "\t",
    "\\",
    "\\u",
    "\\U0010FFFF",
    "\\uD800",
    "\\x00",
    "\\e",
    "=\"\"",
    "[]",
    "{}",
    "[flags.",
    "[[flags.",
    "[segments.",
    "[environments]",
    "[overrides]",
    "[lints]",
    "[flags.x]",
    "[flags.\"\"]",
    "[flags.\"a.b\"]",
    "flags.",
    // Values.
    "true",
    "false",
    "0",
    "-0",
    "+0",
    "-0.0",
    "1",
    "100",
    "101",
    "-1",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "99999999999999999999999999",
    "4294967296",
    "0x7FFFFFFFFFFFFFFF",
    "0xFFFFFFFFFFFFFFFF",
    "0o777",
    "0b101",
    "1_000",
    "1e999",
    "-1e999",
    "1e-999",
    "1.7976931348623157e308",
    "5e-324",
    "nan",
    "+nan",
    "-nan",
    "inf",
    "+inf",
    "-inf",
    "0.1",
    "2029-02-30",
    "2029-02-28",
    "2024-02-29",
    "0000-01-01",
    "9999-12-31",
    "1970-01-01",
    "2029-13-01",
    "2027-01-01T09:00:00Z",
    "2027-01-01T09:00:00+01:00",
    "2027-01-01T09:00:00-23:59",
    "1979-05-27T07:32:00.999999999-07:00",
    "9999-12-31T23:59:60Z",
    "0000-01-01T00:00:00+23:59",
    "07:32:00",
    "2027-01-01T09:00:00",
    "\"\"",
    "\"x\"",
    "\"é\"",
    "\"🦀\"",
    "\"\\u0000\"",
    "\"2.3.0\"",
    "\"2.3.0-beta.1+build.5\"",
    "\"999999999999999999999.0.0\"",
    "\"(a+)+$\"",
    "\"[\"",
    "\"(?i)^x\"",
    "\"\\\\p{Greek}+\"",
    "\"a{1000}{1000}\"",
    // Unicode and control characters.
    "é",
    "🦀",
    "\u{202e}",
    "\u{feff}",
    "\u{200b}",
    "\u{0}",
    "\u{7f}",
    "\u{1b}[31m",
    "İ",
    "ß",
    "ﬃ",
    "Σ",
    // Keys of the format.
    "description",
    "owner",
    "ticket",
    "expires",
    "default",
    "variants",
    "requires",
    "flag",
    "is",
    "rules",
    "when",
    "serve",
    "rollout",
    "bucket_by",
    "group",
    "name",
    "segment",
    "segments",
    "keys",
    "attribute",
    "op",
    "value",
    "values",
    "ignore_case",
    "negate",
    "weight",
    "names",
    "variable",
    "env_prefix",
    "file_variable",
    "bool_suffix",
    "bool_naming",
    "ownership",
    "expired",
    "unused",
    "undeclared",
    "nested_gate",
    "allow",
    "warn",
    "deny",
    // Operators.
    "equals",
    "not_equals",
    "in",
    "not_in",
    "starts_with",
    "ends_with",
    "contains",
    "matches",
    "<",
    "<=",
    ">",
    ">=",
    "semver_eq",
    "semver_lt",
    "semver_le",
    "semver_gt",
    "semver_ge",
    "exists",
    "before",
    "after",
    "now_before",
    "now_after",
    // Environments and names.
    "development",
    "staging",
    "production",
    "test",
    "APP_ENV",
    "FLAGS_OVERRIDES",
    "self",
    "init",
    "type",
    "r#type",
    "Flags",
    "FlagsStub",
    "new_checkout_enabled",
    "checkout_flow",
    "max_upload_mb",
    "product-TASKS-103-comments",
    "product_tasks_103_comments",
    "internal",
    "beta",
    "u-1",
    // Whole lines.
    "\nvalue = true\n",
    "\ndefault = false\n",
    "\ndescription = \"d\"\n",
    "\nrequires = [\"a\", \"b\"]\n",
    "\nrequires = [{ flag = \"checkout_flow\", is = \"express\" }]\n",
    "\nwhen = [{ segment = \"beta\" }]\nserve = true\n",
    "\nwhen = [{ attribute = \"email\", op = \"matches\", value = \"(a|a)*$\" }]\n",
    "\nrollout = [{ value = true, weight = 100 }]\n",
    "\nrollout = 50\nbucket_by = \"org\"\ngroup = \"g\"\n",
    "\n[[flags.new_checkout_enabled.production.rules]]\n",
    "\n[flags.x]\ndescription = \"d\"\ndefault = 1\n",
    "\n[segments.beta]\nkeys = [\"u-1\"]\n",
    "\n[environments]\nnames = [\"a\"]\n",
];

/// Tokens of Rust and of the code the scanner looks for: the accessors, stubs, marker types
/// and gates of the fixed crate's flags, and the syntax around them, half of it left open.
pub const RUST_DICTIONARY: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "<",
    ">",
    "::",
    ";",
    ",",
    ".",
    "!",
    "?",
    "&",
    "|",
    "||",
    "&&",
    "=",
    "==",
    "=>",
    "->",
    "#",
    "#[",
    "#![",
    "'",
    "'a",
    "\"",
    "\\",
    "r\"",
    "r#\"",
    "\"#",
    "b\"",
    "br#\"",
    "//",
    "/*",
    "*/",
    "/**",
    "///",
    "//!",
    "\r\n",
    "\r",
    "\n",
    "\t",
    " ",
    "_",
    "é",
    "日本",
    "\u{200b}",
    "0",
    "1_000",
    "if ",
    "else ",
    "if !",
    "match ",
    "let ",
    "fn ",
    "mod ",
    "use ",
    "impl ",
    "async ",
    ".await",
    "return ",
    "=> {}",
    "else if ",
    "matches!(",
    "r#",
    "self",
    "Flags",
    "Flags::",
    "FlagsStub",
    "FlagsStub::",
    "Flags::stub()",
    "Flags::each(",
    "Flags::each_of(",
    "Flags::runtime()",
    "flags::declare!();",
    "flags::stub",
    "#[flags::stub(",
    "#[feature_gate(",
    "#[feature_gate(\"new_checkout_enabled\")]",
    "new_checkout_enabled",
    "new_checkout_enabled_for(&user)",
    "new_checkout_enabled()",
    "new-checkout-enabled",
    "NewCheckoutEnabledFeature",
    "express_pay_enabled",
    "ExpressPayEnabledFeature",
    "checkout_flow",
    "CheckoutFlow::",
    "CheckoutFlow::Express",
    "CheckoutFlow::OnePage",
    "max_upload_mb",
    "max_upload_mb_details(&user)",
    ".new_checkout_enabled(true)",
    ".checkout_flow(CheckoutFlow::Legacy)",
    "Flags::new_checkout_enabled() && ",
    "if Flags::new_checkout_enabled() {",
    "if !Flags::express_pay_enabled() { a } else { b }",
    "match Flags::checkout_flow() {",
    "CheckoutFlow::Legacy => ",
    "_ => ",
    "\n#[test]\nfn t() {\n",
    "macro_rules! m { () => {} }",
    "m!{",
    "concat!(\"a\", ",
];

/// Bytes worth setting one byte to.
const INTERESTING_BYTES: &[u8] = &[
    0x00, 0xff, 0x7f, 0x80, 0xc0, 0xc3, 0xe2, 0xed, 0xf0, 0xf4, b'\r', b'\n', b'"', b'\'', b'[',
    b']', b'=', b'.', b'#', b'\\', b' ', b'{', b'}', b',', b'0', b'-', b'+', b'_', b':',
];

/// Byte sequences that are not UTF-8, or are at its edges.
const ODD_UTF8: &[&[u8]] = &[
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xe2\x82",
    b"\x80",
    b"\xf0\x9f\xa6",
];

/// Makes inputs of one kind from its seeds.
#[derive(Clone, Debug)]
pub struct Mutator {
    kind: Kind,
    seeds: Vec<Vec<u8>>,
    /// The tokens inserted and replaced: Rust's for source files, the TOML formats' else.
    dictionary: &'static [&'static str],
    /// For a CLI input, the `flags.toml` parts and the overrides parts, to splice with.
    parts: (Vec<Vec<u8>>, Vec<Vec<u8>>),
    max_len: usize,
    max_ladder: usize,
}

/// The largest input made, in bytes.
pub const MAX_LEN: usize = 16 * 1024;

impl Mutator {
    /// A mutator of `kind` over `seeds`. Inputs are at most [`MAX_LEN`] bytes; prerequisite
    /// ladders at most 40 flags (see [`Mutator::max_ladder`]).
    pub fn new(kind: Kind, seeds: Vec<Vec<u8>>) -> Self {
        assert!(!seeds.is_empty(), "a mutator needs at least one seed");
        let parts = if kind == Kind::Cli {
            seeds
                .iter()
                .map(|seed| {
                    let (flags, overrides) = split_cli_input(seed);
                    (flags.to_vec(), overrides.to_vec())
                })
                .unzip()
        } else {
            (Vec::new(), Vec::new())
        };
        let dictionary = match kind {
            Kind::Source => RUST_DICTIONARY,
            _ => DICTIONARY,
        };
        Self {
            kind,
            seeds,
            dictionary,
            parts,
            max_len: MAX_LEN,
            max_ladder: 40,
        }
    }

    /// A mutator of `kind` over the seeds in `seeds/`.
    pub fn for_kind(kind: Kind) -> Self {
        Self::new(kind, crate::corpus::seeds(kind))
    }

    /// Caps the prerequisite ladders this mutator appends at `flags` flags. Their cost is
    /// exponential while that known problem stands, so a bounded run keeps them short.
    pub fn max_ladder(mut self, flags: usize) -> Self {
        self.max_ladder = flags;
        self
    }

    /// The kind of input made.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The seeds.
    pub fn seeds(&self) -> &[Vec<u8>] {
        &self.seeds
    }

    /// Input number `index` of the run with `seed`: the seeds themselves first, then
    /// mutations. The same arguments always give the same input.
    pub fn input(&self, seed: u64, index: u64) -> Vec<u8> {
        if let Some(seed_file) = usize::try_from(index).ok().and_then(|i| self.seeds.get(i)) {
            return seed_file.clone();
        }
        let mut rng = Rng::with_seed(mix(seed, index));
        let base = &self.seeds[rng.usize(..self.seeds.len())];
        // Mostly few mutations, so that many inputs stay close to valid.
        let count = 1 + (rng.u32(..) | 0x80).trailing_zeros() as usize;
        let mut input = match self.kind {
            Kind::Cli => {
                let (flags, overrides) = split_cli_input(base);
                let (mut flags, mut overrides) = (flags.to_vec(), overrides.to_vec());
                if rng.bool() {
                    self.mutate(&mut rng, &mut flags, &self.parts.0, count, true);
                } else {
                    self.mutate(&mut rng, &mut overrides, &self.parts.1, count, false);
                }
                // A mutation that makes the separator would split the input elsewhere.
                if crate::corpus::find(&flags, CLI_SEPARATOR).is_some() {
                    flags.truncate(crate::corpus::find(&flags, CLI_SEPARATOR).unwrap_or(0));
                }
                cli_input(&flags, &overrides)
            }
            Kind::RedisEntry => {
                let mut input = base.clone();
                if rng.u8(..4) == 0 {
                    replace_field(&mut rng, &mut input);
                }
                self.mutate(&mut rng, &mut input, &self.seeds, count, false);
                input
            }
            Kind::FlagsToml => {
                let mut input = base.clone();
                self.mutate(&mut rng, &mut input, &self.seeds, count, true);
                input
            }
            Kind::Overrides | Kind::EnvVars | Kind::Source => {
                let mut input = base.clone();
                self.mutate(&mut rng, &mut input, &self.seeds, count, false);
                input
            }
        };
        input.truncate(self.max_len);
        input
    }

    fn mutate(
        &self,
        rng: &mut Rng,
        input: &mut Vec<u8>,
        others: &[Vec<u8>],
        count: usize,
        catalog: bool,
    ) {
        for _ in 0..count {
            self.mutate_once(rng, input, others, catalog);
            if input.len() > 2 * self.max_len {
                input.truncate(self.max_len);
            }
        }
    }

    fn mutate_once(&self, rng: &mut Rng, input: &mut Vec<u8>, others: &[Vec<u8>], catalog: bool) {
        match rng.u8(..100) {
            0..=5 => flip_bit(rng, input),
            6..=10 => set_byte(rng, input),
            11..=14 => insert_random(rng, input),
            15..=21 => delete_range(rng, input),
            22..=27 => duplicate_range(rng, input),
            28..=33 => truncate(rng, input),
            34..=39 => line_endings(rng, input),
            40..=45 => splice(rng, input, others),
            46..=60 => insert_token(rng, input, self.dictionary),
            61..=72 => replace_token(rng, input, self.dictionary),
            73..=80 => line_op(rng, input, others, self.dictionary),
            81..=84 => long_text(rng, input),
            85..=87 => odd_utf8(rng, input),
            88..=89 => nesting(rng, input),
            90 if catalog => ladder(rng, input, self.max_ladder),
            93..=95 => many_names(rng, input),
            _ => insert_token(rng, input, self.dictionary),
        }
    }
}

/// A well-spread 64-bit seed for input `index` of run `seed` (SplitMix64's finalizer).
fn mix(seed: u64, index: u64) -> u64 {
    let mut z = seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A position in `0..=len`.
fn position(rng: &mut Rng, input: &[u8]) -> usize {
    rng.usize(..=input.len())
}

/// A length, mostly short, sometimes long.
fn length(rng: &mut Rng, max: usize) -> usize {
    let max = max.max(1);
    match rng.u8(..10) {
        0..=6 => rng.usize(1..=max.min(8)),
        7..=8 => rng.usize(1..=max.min(128)),
        _ => rng.usize(1..=max),
    }
}

fn flip_bit(rng: &mut Rng, input: &mut [u8]) {
    if !input.is_empty() {
        let at = rng.usize(..input.len());
        input[at] ^= 1 << rng.u8(..8);
    }
}

fn set_byte(rng: &mut Rng, input: &mut [u8]) {
    if !input.is_empty() {
        let at = rng.usize(..input.len());
        input[at] = INTERESTING_BYTES[rng.usize(..INTERESTING_BYTES.len())];
    }
}

fn insert_random(rng: &mut Rng, input: &mut Vec<u8>) {
    let at = position(rng, input);
    let bytes: Vec<u8> = (0..rng.usize(1..=8)).map(|_| rng.u8(..)).collect();
    input.splice(at..at, bytes);
}

fn delete_range(rng: &mut Rng, input: &mut Vec<u8>) {
    if input.is_empty() {
        return;
    }
    let at = rng.usize(..input.len());
    let end = (at + length(rng, input.len() - at)).min(input.len());
    input.drain(at..end);
}

fn duplicate_range(rng: &mut Rng, input: &mut Vec<u8>) {
    if input.is_empty() {
        return;
    }
    let at = rng.usize(..input.len());
    let end = (at + length(rng, (input.len() - at).min(512))).min(input.len());
    let chunk = input[at..end].to_vec();
    let times = if rng.u8(..8) == 0 {
        rng.usize(2..=64)
    } else {
        1
    };
    let to = if rng.bool() {
        end
    } else {
        position(rng, input)
    };
    let copies: Vec<u8> = chunk
        .iter()
        .copied()
        .cycle()
        .take(chunk.len() * times)
        .collect();
    input.splice(to..to, copies);
}

/// Cuts the input at a position of one kind: anywhere, after a `\r` (so between `\r` and
/// `\n`), after a newline, after a quote, an `=`, a bracket or a backslash, inside a
/// multi-byte character, or just before the end.
fn truncate(rng: &mut Rng, input: &mut Vec<u8>) {
    if input.is_empty() {
        return;
    }
    let after: &[u8] = match rng.u8(..9) {
        0 => b"\r",
        1 => b"\n",
        2 => b"\"'",
        3 => b"=",
        4 => b"[]{",
        5 => b"\\",
        6 => b",.#",
        _ => b"",
    };
    let cut = if after.is_empty() {
        match rng.u8(..3) {
            // Inside a multi-byte character, when there is one.
            0 => {
                let inside: Vec<usize> = (1..input.len())
                    .filter(|&i| input[i] & 0xc0 == 0x80)
                    .collect();
                match inside.is_empty() {
                    true => rng.usize(..input.len()),
                    false => inside[rng.usize(..inside.len())],
                }
            }
            1 => input.len() - 1,
            _ => rng.usize(..input.len()),
        }
    } else {
        let places: Vec<usize> = (0..input.len())
            .filter(|&i| after.contains(&input[i]))
            .map(|i| i + 1)
            .collect();
        match places.is_empty() {
            true => rng.usize(..input.len()),
            false => places[rng.usize(..places.len())],
        }
    };
    input.truncate(cut);
}

fn line_endings(rng: &mut Rng, input: &mut Vec<u8>) {
    let newlines: Vec<usize> = (0..input.len()).filter(|&i| input[i] == b'\n').collect();
    match rng.u8(..6) {
        // Every LF to CRLF.
        0 | 1 => {
            let mut out = Vec::with_capacity(input.len() + newlines.len());
            for (i, &byte) in input.iter().enumerate() {
                if byte == b'\n' && (i == 0 || input[i - 1] != b'\r') {
                    out.push(b'\r');
                }
                out.push(byte);
            }
            *input = out;
        }
        // One LF to CRLF, or to a lone CR.
        2 | 3 if !newlines.is_empty() => {
            let at = newlines[rng.usize(..newlines.len())];
            if rng.bool() {
                input.insert(at, b'\r');
            } else {
                input[at] = b'\r';
            }
        }
        // Every CRLF to LF.
        4 => {
            let mut out = Vec::with_capacity(input.len());
            for (i, &byte) in input.iter().enumerate() {
                if !(byte == b'\r' && input.get(i + 1) == Some(&b'\n')) {
                    out.push(byte);
                }
            }
            *input = out;
        }
        // A CR at the end.
        _ => input.push(b'\r'),
    }
}

/// A line boundary near a random position, or the position itself.
fn boundary(rng: &mut Rng, input: &[u8]) -> usize {
    let at = position(rng, input);
    if rng.bool() {
        return at;
    }
    input[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1)
}

fn splice(rng: &mut Rng, input: &mut Vec<u8>, others: &[Vec<u8>]) {
    let Some(other) = pick(rng, others) else {
        return;
    };
    let mine = boundary(rng, input);
    let theirs = boundary(rng, other);
    if rng.bool() {
        // My start, their end.
        input.truncate(mine);
        input.extend_from_slice(&other[theirs..]);
    } else {
        // A piece of theirs inserted into mine.
        let end = (theirs + length(rng, other.len() - theirs)).min(other.len());
        input.splice(mine..mine, other[theirs..end].iter().copied());
    }
}

fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> Option<&'a T> {
    match items.is_empty() {
        true => None,
        false => Some(&items[rng.usize(..items.len())]),
    }
}

fn token(rng: &mut Rng, dictionary: &'static [&'static str]) -> &'static [u8] {
    dictionary[rng.usize(..dictionary.len())].as_bytes()
}

fn insert_token(rng: &mut Rng, input: &mut Vec<u8>, dictionary: &'static [&'static str]) {
    let at = match rng.u8(..3) {
        0 => boundary(rng, input),
        // At the end of a line.
        1 => {
            let at = position(rng, input);
            input[at..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(input.len(), |i| at + i)
        }
        _ => position(rng, input),
    };
    let token = token(rng, dictionary);
    input.splice(at..at, token.iter().copied());
}

/// Bytes that make up a word or a value: keys, numbers, dates.
fn word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"_-+.:".contains(&byte)
}

fn replace_token(rng: &mut Rng, input: &mut Vec<u8>, dictionary: &'static [&'static str]) {
    if input.is_empty() {
        return insert_token(rng, input, dictionary);
    }
    let at = rng.usize(..input.len());
    let (start, end) = if word_byte(input[at]) {
        let start = input[..at]
            .iter()
            .rposition(|&b| !word_byte(b))
            .map_or(0, |i| i + 1);
        let end = input[at..]
            .iter()
            .position(|&b| !word_byte(b))
            .map_or(input.len(), |i| at + i);
        (start, end)
    } else if input[at] == b'"' {
        // A whole basic string.
        let end = input[at + 1..]
            .iter()
            .position(|&b| b == b'"' || b == b'\n')
            .map_or(input.len(), |i| at + 2 + i)
            .min(input.len());
        (at, end)
    } else {
        (at, at + 1)
    };
    let token = token(rng, dictionary);
    input.splice(start..end, token.iter().copied());
}

/// Line starts, with the end of the input.
fn lines(input: &[u8]) -> Vec<(usize, usize)> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, &byte) in input.iter().enumerate() {
        if byte == b'\n' {
            lines.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < input.len() {
        lines.push((start, input.len()));
    }
    lines
}

fn line_op(
    rng: &mut Rng,
    input: &mut Vec<u8>,
    others: &[Vec<u8>],
    dictionary: &'static [&'static str],
) {
    let mine = lines(input);
    let Some(&(start, end)) = pick(rng, &mine) else {
        return insert_token(rng, input, dictionary);
    };
    match rng.u8(..5) {
        // The line again, up to 32 times.
        0 => {
            let line = input[start..end].to_vec();
            let times = if rng.u8(..4) == 0 {
                rng.usize(2..=32)
            } else {
                1
            };
            let copies: Vec<u8> = line
                .iter()
                .copied()
                .cycle()
                .take(line.len() * times)
                .collect();
            input.splice(end..end, copies);
        }
        1 => {
            input.drain(start..end);
        }
        // Swapped with another line.
        2 => {
            let (other_start, other_end) = mine[rng.usize(..mine.len())];
            if other_start > end {
                let second = input[other_start..other_end].to_vec();
                let first = input[start..end].to_vec();
                input.splice(other_start..other_end, first);
                input.splice(start..end, second);
            }
        }
        // A line of another seed.
        _ => {
            let Some(other) = pick(rng, others) else {
                return;
            };
            let theirs = lines(other);
            if let Some(&(from, to)) = pick(rng, &theirs) {
                input.splice(start..start, other[from..to].iter().copied());
            }
        }
    }
}

fn long_text(rng: &mut Rng, input: &mut Vec<u8>) {
    let size = [64, 256, 1024, 4096, 12_000][rng.usize(..5)];
    let unit: &[u8] = match rng.u8(..4) {
        0 => b"a",
        1 => "é".as_bytes(),
        2 => b"ab_",
        _ => b"\\u00e9",
    };
    let body: Vec<u8> = unit.iter().copied().cycle().take(size).collect();
    let text = match rng.u8(..4) {
        0 => [b"\"".as_slice(), &body, b"\""].concat(),
        1 => [b"\n".as_slice(), &body, b" = 1\n"].concat(),
        2 => [
            b"\n[flags.".as_slice(),
            &body,
            b"]\ndescription = \"d\"\ndefault = true\n",
        ]
        .concat(),
        _ => body,
    };
    let at = position(rng, input);
    input.splice(at..at, text);
}

fn odd_utf8(rng: &mut Rng, input: &mut Vec<u8>) {
    let bytes = ODD_UTF8[rng.usize(..ODD_UTF8.len())];
    let at = if rng.u8(..4) == 0 {
        0
    } else {
        position(rng, input)
    };
    input.splice(at..at, bytes.iter().copied());
}

/// Deep nesting of arrays, inline tables or table headers.
fn nesting(rng: &mut Rng, input: &mut Vec<u8>) {
    let depth = [16, 256, 2048, 6000][rng.usize(..4)];
    let text: Vec<u8> = match rng.u8(..3) {
        0 => [
            b"\nx = ".as_slice(),
            &b"[".repeat(depth),
            &b"]".repeat(depth),
            b"\n",
        ]
        .concat(),
        1 => [
            b"\nx = ".as_slice(),
            &b"{a=".repeat(depth),
            b"1",
            &b"}".repeat(depth),
            b"\n",
        ]
        .concat(),
        _ => [b"\n[".as_slice(), &b"a.".repeat(depth), b"a]\n"].concat(),
    };
    let at = boundary(rng, input);
    input.splice(at..at, text);
}

/// Flags that each require the next two (or the two before them): a ladder whose validation
/// and evaluation are exponential while that known problem stands. Mostly short ladders, now
/// and then one up to `max` flags.
fn ladder(rng: &mut Rng, input: &mut Vec<u8>, max: usize) {
    if max < 2 {
        return;
    }
    let steps = match rng.u8(..8) {
        0 => rng.usize(2..=max),
        _ => rng.usize(2..=max.min(24)),
    };
    let forward = rng.bool();
    let mut text = String::new();
    for step in 0..steps {
        text.push_str(&format!(
            "\n[flags.ladder_{step}]\ndescription = \"d\"\ndefault = true\n"
        ));
        let required: Vec<usize> = match forward {
            true => (step + 1..steps).take(2).collect(),
            false => (step.saturating_sub(2)..step).rev().collect(),
        };
        if !required.is_empty() {
            let names: Vec<String> = required.iter().map(|r| format!("\"ladder_{r}\"")).collect();
            text.push_str(&format!("requires = [{}]\n", names.join(", ")));
        }
    }
    input.extend_from_slice(text.as_bytes());
}

/// Many keys no table knows, close to real ones: each asks for "did you mean".
fn many_names(rng: &mut Rng, input: &mut Vec<u8>) {
    let count = [8, 64, 400][rng.usize(..3)];
    let stem = ["descriptoin", "defualt", "productoin", "requirs", "x"][rng.usize(..5)];
    let padding = "q".repeat([0, 30, 500][rng.usize(..3)]);
    let mut text = String::from("\n");
    for i in 0..count {
        text.push_str(&format!("{stem}{padding}{i} = 1\n"));
    }
    let at = boundary(rng, input);
    input.splice(at..at, text.into_bytes());
}

/// Puts another name in place of a Redis entry's field (its first line).
fn replace_field(rng: &mut Rng, input: &mut Vec<u8>) {
    const FIELDS: &[&[u8]] = &[
        b"new_checkout_enabled",
        b"checkout_flow",
        b"max_upload_mb",
        b"search_sample_rate",
        b"support_banner",
        b"product-TASKS-103-comments",
        b"product_tasks_103_comments",
        b"max_retries",
        b"express_pay_enabled",
        b"new_checkout_enabld",
        b"",
        b"\xff\xfe",
        b"flags:v1:production:overrides",
        b"new_checkout_enabled\r",
        b"\x00",
        b"internal",
    ];
    let end = input
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(input.len());
    let field = FIELDS[rng.usize(..FIELDS.len())];
    input.splice(..end, field.iter().copied());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mutator(kind: Kind) -> Mutator {
        let seeds = vec![
            b"[environments]\nnames = [\"a\"]\r\n\n[flags.x]\ndescription = \"d\"\ndefault = 1\n"
                .to_vec(),
            b"[flags.y]\nvalue = true\n".to_vec(),
        ];
        let seeds = match kind {
            Kind::Cli => seeds.iter().map(|s| cli_input(s, &seeds[1])).collect(),
            _ => seeds,
        };
        Mutator::new(kind, seeds)
    }

    #[test]
    fn inputs_are_a_function_of_seed_and_index() {
        for kind in Kind::ALL {
            let mutator = mutator(kind);
            assert_eq!(mutator.input(1, 0), mutator.seeds()[0]);
            let first: Vec<Vec<u8>> = (2..200).map(|i| mutator.input(7, i)).collect();
            let again: Vec<Vec<u8>> = (2..200).map(|i| mutator.input(7, i)).collect();
            assert_eq!(first, again);
            assert!(first.iter().all(|input| input.len() <= MAX_LEN));
            let distinct: std::collections::HashSet<&Vec<u8>> = first.iter().collect();
            assert!(distinct.len() > 150, "{kind}: {} distinct", distinct.len());
        }
    }

    #[test]
    fn cli_inputs_keep_one_separator() {
        let mutator = mutator(Kind::Cli);
        for i in 0..500 {
            let input = mutator.input(3, i);
            let (flags, _) = split_cli_input(&input);
            assert!(crate::corpus::find(flags, CLI_SEPARATOR).is_none());
        }
    }

    #[test]
    fn truncation_reaches_between_cr_and_lf() {
        let mut rng = Rng::with_seed(5);
        let cut_after_cr = (0..2_000).any(|_| {
            let mut input = b"a = 1\r\nb = 2\r\n".to_vec();
            truncate(&mut rng, &mut input);
            input.ends_with(b"\r")
        });
        assert!(cut_after_cr);
    }
}
