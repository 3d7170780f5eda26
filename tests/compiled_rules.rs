//! The rules `declare!` compiles from `flags.toml` decide what the interpreter decides: a few
//! hundred randomly made flags (every operator, `negate`, `ignore_case`, segments with keys
//! and rules, rollouts by key and by attribute, prerequisites) are evaluated for thousands of
//! randomly made contexts both ways, by a crate generated, built by cargo and run.

#[path = "../benches/support/crates.rs"]
mod crates;
#[path = "../benches/support/generate.rs"]
mod generate;

use std::fmt::Write as _;

/// splitmix64: a small deterministic generator, so that every run checks the same cases.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const COUNTRIES: &[&str] = &["NZ", "AU", "FR", "fr", "DE", "Ü"];
const PLANS: &[&str] = &["pro", "PRO", "free", "enterprise"];
const DOMAINS: &[&str] = &[
    "@example.com",
    "@EXAMPLE.com",
    "@elsewhere.org",
    ".com",
    "@",
];
const TAGS: &[&str] = &["crm", "beta", "CRM", "vip"];

/// One condition of a rule or a segment rule.
fn condition(random: &mut Random, segments: bool) -> String {
    let negate = if random.below(5) == 0 {
        ", negate = true"
    } else {
        ""
    };
    let ignore = random.below(3) == 0;
    let case = if ignore { ", ignore_case = true" } else { "" };
    let body = match random.below(if segments { 14 } else { 13 }) {
        0 => format!(
            r#"attribute = "email", op = "ends_with", value = "{}"{case}"#,
            random.pick(DOMAINS)
        ),
        1 => format!(
            r#"attribute = "email", op = "starts_with", value = "{}"{case}"#,
            random.pick(&["ada", "Bob", "x"])
        ),
        2 => format!(
            r#"attribute = "email", op = "contains", value = "{}"{case}"#,
            random.pick(&["example", "@", "Z"])
        ),
        3 => format!(
            r#"attribute = "country", op = "in", values = ["{}", "{}"]{case}"#,
            random.pick(COUNTRIES),
            random.pick(COUNTRIES)
        ),
        4 => format!(
            r#"attribute = "country", op = "not_in", values = ["{}"]{case}"#,
            random.pick(COUNTRIES)
        ),
        5 => format!(
            r#"attribute = "plan", op = "{}", value = "{}"{case}"#,
            random.pick(&["equals", "not_equals"]),
            random.pick(PLANS)
        ),
        6 => format!(
            r#"attribute = "seats", op = "{}", value = {}"#,
            random.pick(&["<", "<=", ">", ">=", "equals", "not_equals"]),
            random.below(20)
        ),
        7 => format!(
            r#"attribute = "seats", op = "in", values = [{}, {}]"#,
            random.below(20),
            random.below(20)
        ),
        8 => format!(
            r#"attribute = "beta", op = "equals", value = {}"#,
            random.below(2) == 0
        ),
        9 => format!(
            r#"attribute = "tags", op = "contains", value = "{}"{case}"#,
            random.pick(TAGS)
        ),
        10 => format!(
            r#"attribute = "{}", op = "exists""#,
            random.pick(&["trial", "email", "seats"])
        ),
        11 => format!(
            r#"attribute = "signup", op = "{}", value = 2026-0{}-01T00:00:00Z"#,
            random.pick(&["before", "after"]),
            1 + random.below(9)
        ),
        // Left to the interpreter: the flag is not compiled, and must still agree.
        12 => format!(
            r#"attribute = "version", op = "semver_ge", value = "1.{}.0""#,
            random.below(4)
        ),
        _ => format!(r#"segment = "{}""#, random.pick(&["staff", "beta", "big"])),
    };
    format!("{{ {body}{negate} }}")
}

fn served(random: &mut Random, kind: usize) -> String {
    match kind {
        0 => (random.below(2) == 0).to_string(),
        1 => random.below(100).to_string(),
        _ => format!("\"{}\"", random.pick(&["a", "b", "c"])),
    }
}

fn rollout(random: &mut Random, kind: usize) -> String {
    let split = if kind == 0 && random.below(2) == 0 {
        format!("rollout = {}", random.below(101))
    } else {
        let first = random.below(101);
        format!(
            "rollout = [{{ value = {}, weight = {first} }}, {{ value = {}, weight = {} }}]",
            served(random, kind),
            served(random, kind),
            100 - first
        )
    };
    let by = match random.below(4) {
        0 => "\nbucket_by = \"org\"",
        1 => "\nbucket_by = \"seats\"",
        _ => "",
    };
    let group = if random.below(3) == 0 {
        "\ngroup = \"w3-rollout-25\""
    } else {
        ""
    };
    format!("{split}{by}{group}")
}

fn flags_toml(random: &mut Random, count: usize) -> (String, Vec<(String, usize)>) {
    let mut toml = String::from(
        "[environments]\nnames = [\"development\", \"production\"]\ndefault = \"production\"\n\n\
         [segments.staff]\ndescription = \"Staff\"\nkeys = [\"u-3\", \"7\"]\n\
         [[segments.staff.rules]]\nwhen = [{ attribute = \"email\", op = \"ends_with\", value = \"@example.com\", ignore_case = true }]\n\n\
         [segments.beta]\ndescription = \"Beta\"\nkeys = [\"u-5\", \"u-8\"]\n\n\
         [segments.big]\ndescription = \"Big accounts\"\n",
    );
    for rule in 0..2 {
        let _ = writeln!(
            toml,
            "[[segments.big.rules]]\nwhen = [{}]",
            condition(random, false)
        );
        let _ = rule;
    }
    let mut flags = Vec::new();
    for index in 0..count {
        let kind = random.below(3);
        let key = format!("flag_{index:03}");
        let (default, variants) = match kind {
            0 => ("false".to_owned(), ""),
            1 => ("10".to_owned(), ""),
            _ => ("\"a\"".to_owned(), "variants = [\"a\", \"b\", \"c\"]\n"),
        };
        let _ = write!(
            toml,
            "\n[flags.{key}]\ndescription = \"Flag {index}\"\n{variants}default = {default}\n"
        );
        if index > 0 && random.below(5) == 0 {
            let (required, required_kind) = &flags[random.below(flags.len())];
            let requirement = match required_kind {
                0 => format!("\"{required}\""),
                1 => format!("{{ flag = \"{required}\", is = {} }}", random.below(100)),
                _ => format!("{{ flag = \"{required}\", is = \"b\" }}"),
            };
            let _ = writeln!(toml, "requires = [{requirement}]");
        }
        let _ = writeln!(toml, "development = {}", served(random, kind));
        for _ in 0..random.below(4) {
            let conditions: Vec<String> = (0..1 + random.below(3))
                .map(|_| condition(random, true))
                .collect();
            let serve = if random.below(4) == 0 {
                rollout(random, kind)
            } else {
                format!("serve = {}", served(random, kind))
            };
            let _ = writeln!(
                toml,
                "[[flags.{key}.production.rules]]\nwhen = [{}]\n{serve}",
                conditions.join(", ")
            );
        }
        let fallthrough = match random.below(3) {
            0 => rollout(random, kind),
            1 => format!("serve = {}", served(random, kind)),
            _ => String::new(),
        };
        if !fallthrough.is_empty() {
            let _ = writeln!(toml, "[flags.{key}.production]\n{fallthrough}");
        }
        flags.push((key, kind));
    }
    (toml, flags)
}

/// The generated program: contexts made by a generator of its own, and for each flag and
/// context the compiled value against the interpreter's, in production.
fn main_rs(flags: &[(String, usize)], contexts: usize) -> String {
    let mut checks = String::new();
    for (key, _) in flags {
        let _ = writeln!(
            checks,
            "        check(&mut mismatches, {key:?}, &user, Flags::{key}_for(&user).to_string());"
        );
    }
    format!(
        r#"flags::declare!();

#[derive(flags::EvaluationContext)]
struct User {{
    #[flags(key)]
    id: Option<String>,
    email: Option<String>,
    country: Option<String>,
    plan: Option<String>,
    seats: Option<f64>,
    beta: Option<bool>,
    tags: Option<Vec<String>>,
    trial: Option<bool>,
    signup: Option<flags::Timestamp>,
    version: Option<String>,
    org: Option<String>,
}}

struct Random(u64);
impl Random {{
    fn next(&mut self) -> u64 {{
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }}
    fn below(&mut self, n: u64) -> u64 {{ self.next() % n }}
    fn maybe<T>(&mut self, value: impl FnOnce(&mut Self) -> T) -> Option<T> {{
        let value = value(self);
        if self.below(6) == 0 {{ None }} else {{ Some(value) }}
    }}
    fn pick(&mut self, items: &[&str]) -> String {{ items[self.below(items.len() as u64) as usize].to_owned() }}
}}

fn check(mismatches: &mut u64, key: &str, user: &User, compiled: String) {{
    let interpreted = Flags::runtime()
        .explain(key, Some(user))
        .map(|info| info.value().to_string())
        .unwrap_or_default();
    if compiled != interpreted {{
        *mismatches += 1;
        if *mismatches <= 10 {{
            eprintln!("{{key}} for {{:?}}: compiled {{compiled}}, interpreted {{interpreted}}", user.id);
        }}
    }}
}}

fn main() {{
    let mut random = Random(7);
    let mut mismatches = 0u64;
    for round in 0..{contexts} {{
        // Keys added at run time are seen by both, half way through.
        if round == {contexts} / 2 {{
            Flags::runtime().add_to_segment("beta", "u-11").expect("a segment");
            Flags::runtime().remove_from_segment("staff", "u-3").expect("a segment");
        }}
        let id = if random.below(8) == 0 {{ format!("{{}}", random.below(20)) }} else {{ format!("u-{{}}", random.below(30)) }};
        let user = User {{
            id: random.maybe(|_| id),
            email: random.maybe(|r| format!("{{}}{{}}", r.pick(&["ada", "bob", "Xavier"]), r.pick(&["@example.com", "@Example.COM", "@elsewhere.org"]))),
            country: random.maybe(|r| r.pick(&["NZ", "AU", "FR", "fr", "DE", "ü"])),
            plan: random.maybe(|r| r.pick(&["pro", "PRO", "free", "enterprise"])),
            seats: random.maybe(|r| r.below(20) as f64),
            beta: random.maybe(|r| r.below(2) == 0),
            tags: random.maybe(|r| vec![r.pick(&["crm", "beta", "CRM"]), r.pick(&["vip", "x"])]),
            trial: if random.below(2) == 0 {{ Some(true) }} else {{ None }},
            signup: random.maybe(|r| flags::Timestamp {{ seconds: 1_767_225_600 + r.below(300) as i64 * 86_400, nanos: 0 }}),
            version: random.maybe(|r| format!("1.{{}}.0", r.below(4))),
            org: random.maybe(|r| format!("org-{{}}", r.below(10))),
        }};
{checks}    }}
    let compiled = Flags::runtime()
        .catalog()
        .flags()
        .iter()
        .filter(|flag| Flags::runtime().runs_compiled_rules(flag.key()) == Some(true))
        .count();
    println!("{{}} flags, {{compiled}} compiled, {contexts} contexts, {{mismatches}} mismatches", {count});
}}
"#,
        count = flags.len()
    )
}

#[test]
fn compiled_rules_decide_as_the_interpreter_does() {
    let mut random = Random(2026);
    let (toml, flags) = flags_toml(&mut random, 300);
    // Most flags compile; those with versions or prerequisites of prerequisites do not.
    let directory = crates::binary_crate("compiled_rules", &toml);
    let compiled = {
        let path = directory.join("flags.toml");
        let path = path.to_str().expect("a UTF-8 path");
        flags_codegen::declare(quote::quote!(#path)).to_string()
    };
    assert!(
        !compiled.contains("compile_error"),
        "the generated flags.toml is valid"
    );
    // Each compiled flag's `_for` holds its rules as a closure.
    let compiled_count = compiled
        .matches("let compiled = | environment : u32")
        .count();
    assert!(
        compiled_count > 200 && compiled_count < flags.len(),
        "{compiled_count} of {} flags compiled",
        flags.len()
    );
    std::fs::write(directory.join("src/main.rs"), main_rs(&flags, 2_000)).expect("write main.rs");
    crates::cargo_build(&directory);
    let output = crates::run_binary(&directory, "compiled_rules");
    assert_eq!(
        output,
        format!("300 flags, {compiled_count} compiled, 2000 contexts, 0 mismatches")
    );
}
