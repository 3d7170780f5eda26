use flags_model::{
    Catalog, Op, Operand, Serve, Setting, SourceFile, Test, Timestamp, Value, parse,
    parse_overrides,
};

const HEAD: &str = r#"
[environments]
names = ["development", "production"]
default = "development"

[segments.internal]
description = "Employees"
keys = ["u-1"]
[[segments.internal.rules]]
when = [{ attribute = "email", op = "ends_with", value = "@example.com", ignore_case = true }]

[segments.beta]
description = "Customers tagged as beta testers"
keys = []
"#;

fn file(flags: &str) -> SourceFile {
    SourceFile::new("flags.toml", format!("{HEAD}{flags}"))
}

fn messages(flags: &str) -> Vec<String> {
    let file = file(flags);
    parse(&file)
        .diagnostics
        .iter()
        .map(|d| d.message().to_owned())
        .collect()
}

fn one(flags: &str) -> String {
    let messages = messages(flags);
    assert_eq!(messages.len(), 1, "{messages:#?}");
    messages.into_iter().next().unwrap()
}

const COMMENTS: &str = r#"
[flags."product-TASKS-103-comments"]
description = "Comments on tasks"
default = false
development = true

[[flags."product-TASKS-103-comments".production.rules]]
name = "internal users"
when = [{ segment = "internal" }]
serve = true

[[flags."product-TASKS-103-comments".production.rules]]
name = "beta customers on a paid plan"
when = [{ segment = "beta" }, { attribute = "plan", op = "in", values = ["pro", "team"] }]
serve = true

[[flags."product-TASKS-103-comments".production.rules]]
when = [{ attribute = "country", op = "equals", value = "NZ" }]
rollout = 25
bucket_by = "org_id"

[flags.checkout_flow]
description = "Which checkout"
variants = ["legacy", "one_page", "express"]
default = "legacy"

[flags.checkout_flow.production]
rollout = [{ value = "legacy", weight = 50 }, { value = "one_page", weight = 30 }, { value = "express", weight = 20 }]

[flags.integration_enabled]
description = "The CRM integration, for entitled accounts"
default = false
requires = ["product-TASKS-103-comments"]

[[flags.integration_enabled.production.rules]]
when = [
    { attribute = "planType", op = "in", values = ["enterprise"] },
    { attribute = "integrationKey", op = "exists" },
    { attribute = "capability", op = "contains", value = "crm" },
    { attribute = "app_version", op = "semver_ge", value = "2.3.0" },
    { attribute = "seats", op = ">=", value = 10 },
    { attribute = "signed_up", op = "before", value = 2026-01-01T00:00:00Z },
    { attribute = "email", op = "matches", value = "^[a-z.]+@corp\\.example$" },
    { op = "now_after", value = 2026-06-01T09:00:00+02:00 },
    { attribute = "trial", op = "equals", value = true, negate = true },
]
serve = true
"#;

#[test]
fn reads_rules_segments_rollouts_and_requirements() {
    let catalog = Catalog::parse(&file(COMMENTS)).expect("valid");
    let segments: Vec<_> = catalog
        .segments()
        .iter()
        .map(|s| (s.name.as_str(), s.keys.len(), s.rules.len()))
        .collect();
    assert_eq!(segments, [("internal", 1, 1), ("beta", 0, 0)]);

    let (_, comments) = catalog.find("product-TASKS-103-comments").unwrap();
    assert_eq!(
        comments.setting_in(Some(0)),
        Setting::Value(Value::Bool(true))
    );
    let Setting::Targeted(production) = comments.setting_in(Some(1)) else {
        panic!("targeted")
    };
    assert_eq!(production.rules.len(), 3);
    assert_eq!(production.rules[0].name.as_deref(), Some("internal users"));
    assert_eq!(
        production.rules[0].line, 21,
        "the line of its [[...rules]] header"
    );
    assert!(
        matches!(&production.rules[1].conditions[0].test, Test::Segment { name, .. } if name == "beta")
    );
    let Serve::Rollout(rollout) = &production.rules[2].serve else {
        panic!("rollout")
    };
    assert_eq!(rollout.bucket_by.as_deref(), Some("org_id"));
    assert_eq!(
        rollout.group, "product-TASKS-103-comments",
        "salted by the flag's key"
    );
    assert_eq!(
        rollout.splits.iter().map(|s| s.weight).collect::<Vec<_>>(),
        [25, 75]
    );
    assert_eq!(
        production.fallthrough,
        Serve::Value(Value::Bool(false)),
        "no fallthrough: the default"
    );
    assert_eq!(production.summary(), "3 rules, else false");

    let (_, flow) = catalog.find("checkout_flow").unwrap();
    assert_eq!(
        flow.setting_in(Some(1)).to_string(),
        "rollout legacy 50% / one_page 30% / express 20%"
    );

    let (_, integration) = catalog.find("integration_enabled").unwrap();
    assert_eq!(integration.requires().len(), 1);
    assert_eq!(integration.requires()[0].flag, 0);
    let Setting::Targeted(production) = integration.setting_in(Some(1)) else {
        panic!("targeted")
    };
    let ops: Vec<Op> = production.rules[0]
        .conditions
        .iter()
        .map(|c| match &c.test {
            Test::Attribute { op, .. } | Test::Now { op, .. } => *op,
            Test::Segment { .. } => panic!("no segment here"),
        })
        .collect();
    assert_eq!(
        ops,
        [
            Op::In,
            Op::Exists,
            Op::Contains,
            Op::SemverGe,
            Op::Ge,
            Op::Before,
            Op::Matches,
            Op::After,
            Op::Equals
        ]
    );
    let Test::Now { at, .. } = &production.rules[0].conditions[7].test else {
        panic!("now")
    };
    assert_eq!(
        at.to_string(),
        "2026-06-01T07:00:00Z",
        "the offset is applied"
    );
    assert_eq!(
        *at,
        Timestamp {
            seconds: 1_780_297_200,
            nanos: 0
        }
    );
    assert!(production.rules[0].conditions[8].negate);
    let Test::Attribute {
        ignore_case,
        operand,
        ..
    } = &catalog.segments()[0].rules[0][0].test
    else {
        panic!()
    };
    assert!(ignore_case);
    assert_eq!(*operand, Operand::Strings(vec!["@example.com".into()]));
}

#[test]
fn unknown_operator_with_a_suggestion() {
    let message = one(
        "[flags.x]\ndescription = \"d\"\ndefault = false\n[[flags.x.production.rules]]\nwhen = [{ attribute = \"email\", op = \"end_with\", value = \"@a\" }]\nserve = true\n",
    );
    assert_eq!(
        message,
        "unknown operator `end_with`; did you mean `ends_with`?"
    );
}

#[test]
fn malformed_rules() {
    let rule = |body: &str| {
        one(&format!(
            "[flags.x]\ndescription = \"d\"\ndefault = false\n[[flags.x.production.rules]]\n{body}\n"
        ))
    };
    assert_eq!(rule("serve = true"), "rule 1 of flag `x` has no `when`");
    assert_eq!(
        rule("when = [{ attribute = \"a\", op = \"exists\" }]"),
        "a rule needs `serve = <value>` or `rollout = [...]`"
    );
    assert_eq!(
        rule("when = []\nserve = true"),
        "`when` of rule 1 of flag `x` lists no condition"
    );
    assert_eq!(
        rule("when = [{ attribute = \"a\", op = \"in\", value = \"b\" }]\nserve = true"),
        "`in` takes a list: values = [...]"
    );
    assert_eq!(
        rule("when = [{ op = \"equals\", value = \"b\" }]\nserve = true"),
        "`equals` needs the `attribute` it tests"
    );
    assert_eq!(
        rule("when = [{ attribute = \"a\", op = \">\", value = \"10\" }]\nserve = true"),
        "`>` compares with a number, found a string"
    );
    assert_eq!(
        rule("when = [{ attribute = \"v\", op = \"semver_lt\", value = \"2.x\" }]\nserve = true"),
        "`2.x` is not a semantic version: unexpected character 'x' while parsing minor version number"
    );
    assert!(
        rule("when = [{ attribute = \"e\", op = \"matches\", value = \"(\" }]\nserve = true")
            .starts_with("invalid regular expression: ")
    );
    assert_eq!(
        rule(
            "when = [{ attribute = \"e\", op = \"matches\", value = \"a\", ignore_case = true }]\nserve = true"
        ),
        "`ignore_case` applies to string comparisons, not to `matches`"
    );
    assert_eq!(
        rule("when = [{ attribute = \"d\", op = \"before\", value = 2026-01-01 }]\nserve = true"),
        "a date-time to compare with needs a time and an offset"
    );
    assert_eq!(
        rule("when = [{ attribute = \"a\", op = \"exists\", atribute = \"b\" }]\nserve = true"),
        "unknown key `atribute` in a condition; did you mean `attribute`?"
    );
    assert_eq!(
        rule("when = [{ attribute = \"a\", op = \"exists\" }]\nserve = true\nrollout = 10"),
        "give `serve` or `rollout`, not both"
    );
}

#[test]
fn values_of_the_wrong_type_in_rules() {
    let flag = "[flags.x]\ndescription = \"d\"\nvariants = [\"a\", \"b\"]\ndefault = \"a\"\n";
    assert_eq!(
        one(&format!(
            "{flag}[[flags.x.production.rules]]\nwhen = [{{ attribute = \"p\", op = \"exists\" }}]\nserve = \"c\"\n"
        )),
        "`serve` of flag `x` must be one of `a`, `b`, found `c`"
    );
    assert_eq!(
        one(&format!(
            "{flag}[flags.x.production]\nrollout = [{{ value = \"a\", weight = 50 }}, {{ value = 1, weight = 50 }}]\n"
        )),
        "rollout value of flag `x` must be one of `a`, `b`, found an integer"
    );
    assert_eq!(
        one(&format!("{flag}[flags.x.production]\nrollout = 25\n")),
        "`rollout` must be an array of { value, weight }, found an integer"
    );
}

#[test]
fn rollout_settings_need_a_rollout() {
    assert_eq!(
        one(
            "[flags.x]\ndescription = \"d\"\ndefault = false\n[flags.x.production]\nbucket_by = \"org\"\n"
        ),
        "`bucket_by` applies to a `rollout`, and there is none here"
    );
    assert_eq!(
        one(
            "[flags.x]\ndescription = \"d\"\ndefault = false\n[[flags.x.production.rules]]\nwhen = [{ attribute = \"a\", op = \"in\", values = [] }]\nserve = true\n"
        ),
        "`values` must be a non-empty array, found an empty array"
    );
}

#[test]
fn weights_must_sum_to_100() {
    assert_eq!(
        one(
            "[flags.x]\ndescription = \"d\"\ndefault = 1\n[flags.x.production]\nrollout = [{ value = 1, weight = 60 }, { value = 2, weight = 30 }]\n"
        ),
        "the weights of this rollout add up to 90, not 100"
    );
    assert_eq!(
        one(
            "[flags.x]\ndescription = \"d\"\ndefault = false\n[flags.x.production]\nrollout = 101\n"
        ),
        "a weight is a whole percentage from 0 to 100"
    );
}

#[test]
fn unknown_segments_and_segments_in_segments() {
    assert_eq!(
        one(
            "[flags.x]\ndescription = \"d\"\ndefault = false\n[[flags.x.production.rules]]\nwhen = [{ segment = \"betta\" }]\nserve = true\n"
        ),
        "unknown segment `betta`; did you mean `beta`?"
    );
    assert_eq!(
        one(
            "[segments.s]\ndescription = \"d\"\n[[segments.s.rules]]\nwhen = [{ segment = \"beta\" }]\n"
        ),
        "a segment's rules cannot refer to segments"
    );
}

#[test]
fn requirements_must_name_flags_and_fit_their_types() {
    let flags = "[flags.a]\ndescription = \"d\"\ndefault = false\n[flags.flow]\ndescription = \"d\"\nvariants = [\"x\", \"y\"]\ndefault = \"x\"\n";
    assert_eq!(
        one(&format!(
            "{flags}[flags.b]\ndescription = \"d\"\ndefault = false\nrequires = [\"c\"]\n"
        )),
        "flag `b` requires unknown flag `c`; did you mean `a`?"
    );
    assert_eq!(
        one(&format!(
            "{flags}[flags.b]\ndescription = \"d\"\ndefault = false\nrequires = [\"flow\"]\n"
        )),
        "`flow` is one of `x`, `y`, so say which value is required"
    );
    let catalog = Catalog::parse(&file(&format!(
        "{flags}[flags.b]\ndescription = \"d\"\ndefault = false\nrequires = [\"a\", {{ flag = \"flow\", is = \"y\" }}]\n"
    )))
    .expect("valid");
    let b = catalog.find("b").unwrap().1;
    assert_eq!(
        b.requires()
            .iter()
            .map(|r| (r.flag, r.is.to_string()))
            .collect::<Vec<_>>(),
        [(0, "true".into()), (1, "y".into())]
    );
}

/// `count` flags, each requiring every later one: the worst case for a search that walks
/// every path.
pub fn ladder(count: usize) -> String {
    (0..count)
        .map(|i| {
            let later: Vec<String> = (i + 1..count).map(|j| format!("\"f{j}\"")).collect();
            format!(
                "[flags.f{i}]\ndescription = \"d\"\ndefault = false\nrequires = [{}]\n",
                later.join(", ")
            )
        })
        .collect()
}

#[test]
fn a_ladder_of_requirements_validates_in_linear_time() {
    // Walking every path of 200 rungs would not end in the life of the machine.
    let file = file(&ladder(200));
    let (done, waited) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(parse(&file).diagnostics.len());
    });
    let problems = waited
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("validation of a 200-flag ladder finishes");
    // 200 rungs nest deeper than allowed: one error, at the rung where the limit is passed.
    assert_eq!(problems, 1);
    let messages = messages(&ladder(flags_model::MAX_REQUIREMENT_DEPTH + 1));
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(
        messages[0]
            .starts_with("the requirements of flag `f0` nest 65 deep, more than 64: `f0`, `f1`,"),
        "{}",
        messages[0]
    );
    assert!(messages[0].ends_with("and 55 more"), "{}", messages[0]);
    assert!(self::messages(&ladder(flags_model::MAX_REQUIREMENT_DEPTH)).is_empty());
}

#[test]
fn one_cycle_is_reported_per_group_of_flags_that_require_each_other() {
    // Every pair requires each other: one group, one error, however many cycles it holds.
    let all: Vec<String> = (0..30).map(|i| format!("\"g{i}\"")).collect();
    let flags: String = (0..30)
        .map(|i| {
            format!(
                "[flags.g{i}]\ndescription = \"d\"\ndefault = false\nrequires = [{}]\n",
                all.join(", ")
            )
        })
        .collect();
    let messages = messages(&flags);
    assert_eq!(
        messages,
        ["flags require each other in a cycle: `g0` → `g0`"],
        "{messages:#?}"
    );
}

#[test]
fn requirement_cycles_are_named() {
    let messages = messages(
        "[flags.a]\ndescription = \"d\"\ndefault = false\nrequires = [\"b\"]\n\
         [flags.b]\ndescription = \"d\"\ndefault = false\nrequires = [\"c\"]\n\
         [flags.c]\ndescription = \"d\"\ndefault = false\nrequires = [\"a\"]\n\
         [flags.d]\ndescription = \"d\"\ndefault = false\nrequires = [\"d\"]\n",
    );
    assert_eq!(
        messages,
        [
            "flags require each other in a cycle: `a` → `b` → `c` → `a`",
            "flags require each other in a cycle: `d` → `d`",
        ]
    );
}

#[test]
fn overrides_files_carry_targeting_and_segments() {
    let catalog = Catalog::parse(&file(COMMENTS)).expect("valid");
    let overrides = parse_overrides(
        &catalog,
        &SourceFile::new(
            "o.toml",
            r#"
[[flags.checkout_flow.production.rules]]
when = [{ segment = "beta" }]
serve = "express"

[segments.beta]
keys = ["u-1", "u-2"]
[[segments.beta.rules]]
when = [{ attribute = "plan", op = "equals", value = "enterprise" }]
"#,
        ),
    )
    .expect("valid overrides");
    let production = catalog.environments().position("production");
    let Setting::Targeted(targeting) = &overrides.setting_for(1, production).unwrap().setting
    else {
        panic!("targeting");
    };
    assert_eq!(targeting.summary(), "1 rule, else legacy");
    let (index, beta) = &overrides.segments()[0];
    assert_eq!((*index, beta.keys.len(), beta.rules.len()), (1, 2, 1));

    let broken = SourceFile::new(
        "o.toml",
        "[segments.betta]\nkeys = []\n\n[[flags.checkout_flow.production.rules]]\nwhen = [{ segment = \"beta\" }]\nrollout = [{ value = \"express\", weight = 50 }]\n",
    );
    let messages: Vec<String> = parse_overrides(&catalog, &broken)
        .unwrap_err()
        .iter()
        .map(|d| d.message().to_owned())
        .collect();
    // The undeclared segment alone would be skipped; the bad rollout rejects the file.
    assert_eq!(
        messages,
        ["the weights of this rollout add up to 50, not 100"]
    );
}

#[test]
fn a_rollout_override_keeps_the_flags_group_and_bucket_by() {
    let catalog = Catalog::parse(&file(
        "[flags.search_enabled]\ndescription = \"S\"\ndefault = false\n\
         [flags.search_enabled.production]\nrollout = 25\ngroup = \"w3-rollout-25\"\nbucket_by = \"org_id\"\n",
    ))
    .expect("valid");
    let production = catalog.environments().position("production");
    let rollout_of = |text: &str| {
        let overrides =
            parse_overrides(&catalog, &SourceFile::new("o.toml", text)).expect("valid overrides");
        let entry = overrides.setting_for(0, production).expect("an override");
        let rollout = entry.setting.rollout().expect("a rollout").clone();
        (rollout.splits[0].weight, rollout.group, rollout.bucket_by)
    };
    let org = Some("org_id".to_owned());
    assert_eq!(
        rollout_of("[flags.search_enabled.production]\nrollout = 50\n"),
        (50, "w3-rollout-25".to_owned(), org.clone())
    );
    // For every environment, it keeps the one rollout flags.toml has.
    assert_eq!(
        rollout_of("[flags.search_enabled.value]\nrollout = 100\n"),
        (100, "w3-rollout-25".to_owned(), org.clone())
    );
    // What the override sets is its own.
    assert_eq!(
        rollout_of("[flags.search_enabled.production]\nrollout = 50\ngroup = \"fresh\"\n"),
        (50, "fresh".to_owned(), org)
    );
    assert_eq!(
        rollout_of("[flags.search_enabled.production]\nrollout = 50\nbucket_by = \"team\"\n"),
        (50, "w3-rollout-25".to_owned(), Some("team".to_owned()))
    );
}

#[test]
fn rollout_keys_without_a_rollout_are_refused() {
    let with_serve = messages(
        "[flags.a_enabled]\ndescription = \"A\"\ndefault = false\n\
         [[flags.a_enabled.development.rules]]\nwhen = [{ attribute = \"plan\", op = \"equals\", value = \"pro\" }]\n\
         serve = true\nbucket_by = \"org\"\n",
    );
    assert!(
        with_serve
            .iter()
            .any(|m| m.contains("`bucket_by` applies to a `rollout`, not to `serve`")),
        "{with_serve:#?}"
    );
    let alone = messages(
        "[flags.a_enabled]\ndescription = \"A\"\ndefault = false\n\
         [flags.a_enabled.development]\ngroup = \"g\"\n",
    );
    assert!(
        alone
            .iter()
            .any(|m| m.contains("`group` applies to a `rollout`, and there is none here")),
        "{alone:#?}"
    );
}
