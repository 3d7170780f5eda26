use flags_model::{
    Catalog, Date, FlagType, Lint, LintLevel, Setting, SourceFile, Value, parse, parse_overrides,
};

const ENVIRONMENTS: &str = r#"
[environments]
names = ["development", "test", "staging", "production"]
variable = "APP_ENV"
default = "development"
"#;

fn file(flags: &str) -> SourceFile {
    SourceFile::new("flags.toml", format!("{ENVIRONMENTS}{flags}"))
}

/// Every problem in `flags`, rendered, so tests can assert on the text users see.
fn errors(flags: &str) -> Vec<String> {
    let file = file(flags);
    parse(&file)
        .diagnostics
        .iter()
        .map(|d| d.render(&file))
        .collect()
}

fn one_error(flags: &str) -> String {
    let errors = errors(flags);
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    errors.into_iter().next().unwrap()
}

#[test]
fn reads_every_kind_of_flag() {
    let catalog = Catalog::parse(&file(
        r#"
[flags.new_feature_enabled]
description = "Redesigned checkout page"
owner = "payments"
ticket = "PAY-812"
expires = 2027-03-31
default = false
development = true
test = true
staging = true

[flags."product-TASKS-103-comments"]
description = "Comments on tasks"
default = false
development = true

[flags.checkout_flow]
description = "Which checkout the user gets"
variants = ["legacy", "one_page", "express"]
default = "legacy"
staging = "one_page"

[flags.max_upload_mb]
description = "Largest upload"
default = 10
production = 50

[flags.sample_rate]
description = "Share of requests traced"
default = 0.5
production = 1

[flags.banner_text]
description = "Text of the top banner"
default = ""
staging = "Staging!"
"#,
    ))
    .unwrap();

    let envs = catalog.environments();
    assert_eq!(
        envs.names(),
        ["development", "test", "staging", "production"]
    );
    assert_eq!(envs.variable(), "APP_ENV");
    assert_eq!(envs.default(), Some(0));
    assert_eq!(catalog.overrides().env_prefix(), "FLAGS_");
    assert_eq!(catalog.overrides().file_variable(), "FLAGS_OVERRIDES");

    let keys: Vec<_> = catalog.flags().iter().map(|f| f.key()).collect();
    assert_eq!(
        keys,
        [
            "new_feature_enabled",
            "product-TASKS-103-comments",
            "checkout_flow",
            "max_upload_mb",
            "sample_rate",
            "banner_text"
        ]
    );

    let (_, feature) = catalog.find("new_feature_enabled").unwrap();
    assert_eq!(feature.owner(), Some("payments"));
    assert_eq!(feature.ticket(), Some("PAY-812"));
    assert_eq!(
        feature.expires(),
        Some(Date {
            year: 2027,
            month: 3,
            day: 31
        })
    );
    assert_eq!(feature.flag_type(), &FlagType::Bool);
    assert_eq!(
        feature.setting_in(Some(2)),
        Setting::Value(Value::Bool(true))
    );
    assert_eq!(
        feature.setting_in(Some(3)),
        Setting::Value(Value::Bool(false))
    );
    assert_eq!(feature.line(), 7);
    assert!(feature.is_expired(Date {
        year: 2027,
        month: 4,
        day: 1
    }));
    assert!(!feature.is_expired(Date {
        year: 2027,
        month: 3,
        day: 31
    }));

    let (index, comments) = catalog.find("product_tasks_103_comments").unwrap();
    assert_eq!(index, 1);
    assert_eq!(comments.accessor(), "product_tasks_103_comments");
    assert_eq!(
        catalog.env_var(comments),
        "FLAGS_PRODUCT_TASKS_103_COMMENTS"
    );

    let (_, flow) = catalog.find("checkout_flow").unwrap();
    assert_eq!(flow.type_name(), Some("CheckoutFlow"));
    let idents: Vec<_> = flow
        .flag_type()
        .variants()
        .unwrap()
        .iter()
        .map(|v| v.ident())
        .collect();
    assert_eq!(idents, ["Legacy", "OnePage", "Express"]);
    assert_eq!(flow.setting_in(Some(2)).to_string(), "one_page");
    assert!(matches!(flow.default(), Value::Variant { index: 0, .. }));

    let (_, upload) = catalog.find("max_upload_mb").unwrap();
    assert_eq!(upload.setting_in(Some(3)), Setting::Value(Value::Int(50)));
    let (_, rate) = catalog.find("sample_rate").unwrap();
    assert_eq!(rate.setting_in(Some(3)), Setting::Value(Value::Float(1.0)));
    let (_, banner) = catalog.find("banner_text").unwrap();
    assert_eq!(banner.setting_in(Some(2)).to_string(), "Staging!");
}

#[test]
fn toml_syntax_error_names_line_and_column() {
    let error = one_error("[flags.x]\ndescription = \"unterminated\ndefault = false\n");
    assert!(error.starts_with("invalid TOML: "), "{error}");
    assert!(error.contains("--> flags.toml:7:"), "{error}");
    assert!(error.contains("description = \"unterminated"), "{error}");
}

#[test]
fn generated_method_names_cannot_collide() {
    let error = one_error(
        "[flags.beta]\ndescription = \"a\"\ndefault = false\n\n[flags.beta_for]\ndescription = \"b\"\ndefault = false\n",
    );
    assert!(
        error.starts_with("flags `beta` (line 6) and `beta_for` both generate `beta_for()`"),
        "{error}"
    );
}

#[test]
fn missing_description_and_default_point_at_the_flag() {
    let error = one_error("[flags.x]\ndefault = true\n");
    assert!(
        error.starts_with("flag `x` has no `description`\n"),
        "{error}"
    );
    assert!(error.contains("--> flags.toml:6:8"), "{error}");
    assert!(error.contains("help: add description = "), "{error}");

    let error = one_error("[flags.x]\ndescription = \"d\"\n");
    assert!(error.starts_with("flag `x` has no `default`\n"), "{error}");
    assert!(error.contains("default = false"), "{error}");
}

#[test]
fn wrong_type_for_an_environment() {
    let error = one_error("[flags.x]\ndescription = \"d\"\ndefault = false\nstaging = \"yes\"\n");
    assert!(
        error.starts_with(
            "`staging` of flag `x` must be a bool, like its `default`; found a string\n"
        ),
        "{error}"
    );
    assert!(error.contains("--> flags.toml:9:11"), "{error}");
    assert!(error.contains("^^^^^"), "{error}");
    assert!(
        error.contains("help: for example staging = true"),
        "{error}"
    );
}

#[test]
fn unknown_environment_is_an_unknown_key_with_a_suggestion() {
    let error = one_error("[flags.x]\ndescription = \"d\"\ndefault = false\nprod = true\n");
    assert!(
        error.starts_with("unknown key `prod` in flag `x`; did you mean `production`?"),
        "{error}"
    );
}

#[test]
fn typo_in_a_key_is_caught() {
    let error = one_error("[flags.x]\ndescrption = \"d\"\ndescription = \"d\"\ndefault = false\n");
    assert!(
        error.starts_with("unknown key `descrption` in flag `x`; did you mean `description`?"),
        "{error}"
    );
    let error = one_error("[flag.x]\ndescription = \"d\"\ndefault = false\n");
    assert!(
        error.starts_with(
            "unknown key `flag` in the top level of flags.toml; did you mean `flags`?"
        ),
        "{error}"
    );
}

#[test]
fn two_keys_for_one_accessor() {
    let error = one_error(
        "[flags.new_feature]\ndescription = \"a\"\ndefault = false\n\n[flags.new-feature]\ndescription = \"b\"\ndefault = false\n",
    );
    assert!(
        error.starts_with(
            "flags `new_feature` (line 6) and `new-feature` both become the accessor `new_feature()`"
        ),
        "{error}"
    );
    assert!(error.contains("--> flags.toml:10:8"), "{error}");
}

#[test]
fn default_must_be_a_variant() {
    let error = one_error(
        "[flags.flow]\ndescription = \"d\"\nvariants = [\"legacy\", \"express\"]\ndefault = \"expres\"\n",
    );
    assert!(
        error.starts_with(
            "`default` of flag `flow` must be one of `legacy`, `express`, found `expres`"
        ),
        "{error}"
    );
    assert!(error.contains("help: did you mean `express`?"), "{error}");
    let error = one_error(
        "[flags.flow]\ndescription = \"d\"\nvariants = [\"a\", \"b\"]\ndefault = \"a\"\nstaging = \"c\"\n",
    );
    assert!(
        error.starts_with(
            "`staging` of flag `flow` must be one of `a`, `b`, like its `default`; found `c`"
        ),
        "{error}"
    );
}

#[test]
fn variant_problems() {
    let error = one_error(
        "[flags.flow]\ndescription = \"d\"\nvariants = [\"one_page\", \"one-page\"]\ndefault = \"one_page\"\n",
    );
    assert!(
        error
            .starts_with("variants `one_page` and `one-page` of flag `flow` both become `OnePage`"),
        "{error}"
    );
    let error =
        one_error("[flags.flow]\ndescription = \"d\"\nvariants = [\"2x\"]\ndefault = \"2x\"\n");
    assert!(error.contains("does not start with a letter"), "{error}");
}

#[test]
fn reserved_and_unnameable_keys() {
    let error = one_error("[flags.init]\ndescription = \"d\"\ndefault = false\n");
    assert!(
        error.contains(
            "would generate the accessor `init()`, a name the generated types already use"
        ),
        "{error}"
    );
    let error = one_error("[flags.generation]\ndescription = \"d\"\ndefault = false\n");
    assert!(error.contains("accessor `generation()`"), "{error}");
    let error = one_error("[flags.\"42\"]\ndescription = \"d\"\ndefault = false\n");
    assert!(error.contains("does not start with a letter"), "{error}");
    let error = one_error("[flags.overrides]\ndescription = \"d\"\ndefault = false\n");
    assert!(
        error.contains("`FLAGS_OVERRIDES`, which names the overrides file"),
        "{error}"
    );
}

#[test]
fn non_finite_floats_are_refused() {
    let error = one_error("[flags.rate]\ndescription = \"d\"\ndefault = inf\n");
    assert!(
        error.starts_with("`default` of flag `rate`: expected a float, found `inf`"),
        "{error}"
    );
    let error = one_error("[flags.rate]\ndescription = \"d\"\ndefault = 0.5\nstaging = nan\n");
    assert!(
        error.starts_with(
            "`staging` of flag `rate` must be a float, like its `default`; found `NaN`"
        ),
        "{error}"
    );
}

#[test]
fn unsupported_default_and_bad_expiry() {
    let error = one_error("[flags.x]\ndescription = \"d\"\ndefault = [1]\n");
    assert!(
        error.contains("must be a bool, integer, float or string, found an array"),
        "{error}"
    );
    let error =
        one_error("[flags.x]\ndescription = \"d\"\ndefault = true\nexpires = \"2027-01-01\"\n");
    assert!(
        error.contains("`expires` of flag `x` must be a date, found a string"),
        "{error}"
    );
    let error = one_error(
        "[flags.x]\ndescription = \"d\"\ndefault = true\nexpires = 2027-01-01T10:00:00Z\n",
    );
    assert!(error.contains("found a date-time"), "{error}");
}

#[test]
fn environments_table_is_checked() {
    let file = SourceFile::new(
        "flags.toml",
        "[flags.x]\ndescription = \"d\"\ndefault = true\n",
    );
    let diagnostics = parse(&file).diagnostics;
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(
        diagnostics[0].message(),
        "flags.toml has no [environments] table"
    );

    let file = SourceFile::new(
        "flags.toml",
        "[environments]\nnames = [\"dev\", \"dev\", \"default\"]\ndefault = \"prod\"\nvariable = \"APP ENV\"\n",
    );
    let messages: Vec<_> = parse(&file)
        .diagnostics
        .iter()
        .map(|d| d.message().to_owned())
        .collect();
    assert_eq!(
        messages,
        [
            "environment `dev` is listed twice",
            "`default` cannot name an environment: flag tables and overrides files use `default` for their own setting",
            "default environment `prod` is not in `names`",
            "`APP ENV` is not an environment variable name",
        ]
    );
}

#[test]
fn every_problem_is_reported_at_once_in_file_order() {
    let errors = errors(
        r#"
[flags.a]
default = true

[flags.b]
description = "b"
default = 1
staging = "many"

[flags.c]
description = "c"
defualt = false
"#,
    );
    let first_lines: Vec<_> = errors
        .iter()
        .map(|e| e.lines().next().unwrap().to_owned())
        .collect();
    assert_eq!(
        first_lines,
        [
            "flag `a` has no `description`",
            "`staging` of flag `b` must be an integer, like its `default`; found a string",
            "flag `c` has no `default`",
            "unknown key `defualt` in flag `c`; did you mean `default`?",
        ]
    );
}

#[test]
fn the_catalog_keeps_valid_flags_when_others_are_broken() {
    let parsed = parse(&file(
        "[flags.good]\ndescription = \"d\"\ndefault = true\n\n[flags.bad]\ndescription = \"d\"\n",
    ));
    assert_eq!(parsed.diagnostics.len(), 1);
    let keys: Vec<_> = parsed.catalog.flags().iter().map(|f| f.key()).collect();
    assert_eq!(keys, ["good"]);
}

#[test]
fn variables_that_select_the_environment_cannot_override_or_name_the_file() {
    let text = |extra: &str, flag: &str| {
        SourceFile::new(
            "flags.toml",
            format!(
                "[environments]\nnames = [\"dev\"]\nvariable = \"APP_ENV\"\n{extra}\n[flags.{flag}]\ndescription = \"d\"\ndefault = true\n"
            ),
        )
    };
    let messages = |file: SourceFile| -> Vec<String> {
        parse(&file)
            .diagnostics
            .iter()
            .map(|d| d.message().to_owned())
            .collect()
    };
    assert_eq!(
        messages(text("[overrides]\nenv_prefix = \"APP_\"", "env")),
        ["flag `env` would be overridden by `APP_ENV`, which selects the environment"]
    );
    assert_eq!(
        messages(text("[overrides]\nfile_variable = \"APP_ENV\"", "x")),
        ["`APP_ENV` cannot both select the environment and name the overrides file"]
    );
    // Reported at the line that names it, not at the top of the file.
    let clash = text("[overrides]\nfile_variable = \"APP_ENV\"", "x");
    let diagnostics = parse(&clash).diagnostics;
    let at = diagnostics[0].span().expect("a place").start;
    assert_eq!(&clash.text()[at..at + 9], "\"APP_ENV\"");
    let file = SourceFile::new(
        "flags.toml",
        "[environments]\nnames = [\"dev\", \"value\"]\n",
    );
    assert_eq!(
        messages(file),
        [
            "`value` cannot name an environment: flag tables and overrides files use `value` for their own setting"
        ]
    );
}

#[test]
fn override_settings_can_be_renamed() {
    let catalog = Catalog::parse(&SourceFile::new(
        "flags.toml",
        "[environments]\nnames = [\"dev\"]\n[overrides]\nenv_prefix = \"MYAPP_FLAG_\"\nfile_variable = \"MYAPP_FLAGS_FILE\"\n[flags.x]\ndescription = \"d\"\ndefault = true\n",
    ))
    .unwrap();
    assert_eq!(catalog.env_var(&catalog.flags()[0]), "MYAPP_FLAG_X");
    assert_eq!(catalog.overrides().file_variable(), "MYAPP_FLAGS_FILE");
    assert_eq!(catalog.environments().default(), None);
}

fn demo_catalog() -> Catalog {
    Catalog::parse(&file(
        "[flags.beta_enabled]\ndescription = \"d\"\ndefault = false\n\n[flags.flow]\ndescription = \"d\"\nvariants = [\"a\", \"b\"]\ndefault = \"a\"\n",
    ))
    .unwrap()
}

#[test]
fn overrides_apply_per_environment_over_every_environment() {
    let catalog = demo_catalog();
    let overrides = parse_overrides(
        &catalog,
        &SourceFile::new("o.toml", "[flags.beta_enabled]\nvalue = true\nproduction = false\n\n[flags.flow]\nstaging = \"b\"\n"),
    )
    .unwrap();
    assert_eq!(overrides.entries().len(), 3);
    let production = catalog.environments().position("production");
    let staging = catalog.environments().position("staging");
    assert_eq!(
        overrides.setting_for(0, production).unwrap().setting,
        Setting::Value(Value::Bool(false))
    );
    assert_eq!(
        overrides.setting_for(0, staging).unwrap().setting,
        Setting::Value(Value::Bool(true))
    );
    assert_eq!(
        overrides.setting_for(0, None).unwrap().setting,
        Setting::Value(Value::Bool(true))
    );
    assert_eq!(
        overrides
            .setting_for(1, staging)
            .unwrap()
            .setting
            .to_string(),
        "b"
    );
    assert_eq!(overrides.setting_for(1, production), None);
    assert_eq!(overrides.setting_for(0, production).unwrap().line, 3);
}

#[test]
fn bad_overrides_reject_the_whole_file_with_every_reason() {
    let catalog = demo_catalog();
    let file = SourceFile::new(
        "o.toml",
        "[flags.beta_enabld]\nvalue = true\n\n[flags.flow]\nvalue = \"c\"\ndefault = \"a\"\nstagin = \"a\"\n",
    );
    let errors: Vec<_> = parse_overrides(&catalog, &file)
        .unwrap_err()
        .iter()
        .map(|d| d.render(&file).lines().next().unwrap().to_owned())
        .collect();
    assert_eq!(
        errors,
        [
            "`value` of flag `flow` must be one of `a`, `b`, like its `default`; found `c`",
            "`default` of flag `flow` cannot be overridden",
            "unknown key `stagin` in flag `flow`; did you mean `staging`?",
        ]
    );
    let dashed = SourceFile::new(
        "flags.toml",
        format!("{ENVIRONMENTS}[flags.beta-enabled]\ndescription = \"d\"\ndefault = false\n"),
    );
    let catalog_with_dash = Catalog::parse(&dashed).unwrap();
    let twice = SourceFile::new(
        "o.toml",
        "[flags.beta-enabled]\nvalue = true\n\n[flags.beta_enabled]\nvalue = false\n",
    );
    let errors = parse_overrides(&catalog_with_dash, &twice).unwrap_err();
    assert_eq!(
        errors[0].message(),
        "flag `beta-enabled` is overridden twice (also on line 1)"
    );
    let broken = SourceFile::new("o.toml", "[flags.beta_enabled\nvalue = true\n");
    let error = parse_overrides(&catalog, &broken).unwrap_err();
    assert!(
        error[0].render(&broken).contains("--> o.toml:1:"),
        "{error:?}"
    );
}

#[test]
fn overrides_of_undeclared_flags_are_skipped_and_never_void_the_others() {
    let catalog = demo_catalog();
    let file = SourceFile::new(
        "o.toml",
        "[flags.old_search]\nvalue = true\n\n[flags.beta_enabld]\nvalue = true\n\n\
         [flags.flow]\nvalue = \"b\"\n\n[segments.gone]\nkeys = [\"u-1\"]\n",
    );
    let overrides = parse_overrides(&catalog, &file).expect("only undeclared names");
    let flow = catalog.find("flow").unwrap().0;
    assert_eq!(overrides.entries().len(), 1);
    assert_eq!(
        overrides
            .setting_for(flow, None)
            .unwrap()
            .setting
            .to_string(),
        "b"
    );
    let skipped: Vec<(Option<&str>, String)> = overrides
        .skipped()
        .iter()
        .map(|d| {
            (
                d.flag(),
                d.render(&file)
                    .lines()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join("|"),
            )
        })
        .collect();
    assert_eq!(
        skipped,
        [
            (
                Some("old_search"),
                "unknown flag `old_search`; its table is skipped| --> o.toml:1:8".to_owned()
            ),
            (
                Some("beta_enabld"),
                "unknown flag `beta_enabld`; did you mean `beta_enabled`?; its table is skipped| --> o.toml:4:8"
                    .to_owned()
            ),
            (
                None,
                "unknown segment `gone`; its table is skipped|  --> o.toml:10:11".to_owned()
            ),
        ]
    );
    // A wrong value for a declared flag still rejects the file whole, naming the flag.
    let wrong = SourceFile::new(
        "o.toml",
        "[flags.gone]\nvalue = 1\n[flags.flow]\nvalue = 1\n",
    );
    let errors = parse_overrides(&catalog, &wrong).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].flag(), Some("flow"));
}

#[test]
fn a_file_of_thousands_of_problems_reports_a_bounded_number() {
    let catalog = demo_catalog();
    let keys: String = (0..5_000).map(|i| format!("stagin{i} = 1\n")).collect();
    let file = SourceFile::new("o.toml", format!("[flags.flow]\n{keys}"));
    let errors = parse_overrides(&catalog, &file).unwrap_err();
    assert_eq!(errors.len(), flags_model::MAX_DIAGNOSTICS);
    assert_eq!(
        errors.last().unwrap().message(),
        format!(
            "… and {} more problems in this file",
            5_000 - flags_model::MAX_DIAGNOSTICS + 1
        )
    );
    let overrides_text: String = (0..5_000)
        .map(|i| format!("[flags.x{i}]\nvalue = 1\n"))
        .collect();
    let many = SourceFile::new("o.toml", overrides_text);
    let overrides = parse_overrides(&catalog, &many).expect("all undeclared");
    let skipped = overrides.skipped();
    assert_eq!(skipped.len(), flags_model::MAX_DIAGNOSTICS);
    assert_eq!(
        skipped.last().unwrap().message(),
        format!(
            "… and {} more problems in this file",
            5_000 - flags_model::MAX_DIAGNOSTICS + 1
        )
    );
    let junk = SourceFile::new("flags.toml", "= ".repeat(20_000));
    let parsed = flags_model::parse(&junk);
    assert!(parsed.diagnostics.len() <= flags_model::MAX_DIAGNOSTICS);
    let rendered: usize = parsed
        .diagnostics
        .iter()
        .map(|d| d.render(&junk).len())
        .sum();
    assert!(rendered < 64 * 1024, "{rendered} bytes of messages");
}

#[test]
fn without_a_lints_table_every_lint_has_its_default() {
    let catalog = Catalog::parse(&file("")).expect("valid");
    let lints = catalog.lints();
    assert_eq!(lints.bool_suffix(), "_enabled");
    assert_eq!(lints.level(Lint::Undeclared), LintLevel::Deny);
    for lint in Lint::ALL.into_iter().filter(|l| *l != Lint::Undeclared) {
        assert_eq!(lints.level(lint), LintLevel::Warn, "{lint}");
        assert_eq!(Lint::from_name(lint.name()), Some(lint));
    }
}

#[test]
fn the_lints_table_sets_levels_and_the_naming_convention() {
    let catalog = Catalog::parse(&file(
        "[lints]\nbool_suffix = \"_on\"\nbool_naming = \"deny\"\nunused = \"allow\"\n",
    ))
    .expect("valid");
    let lints = catalog.lints();
    assert_eq!(lints.bool_suffix(), "_on");
    assert_eq!(lints.level(Lint::BoolNaming), LintLevel::Deny);
    assert_eq!(lints.level(Lint::Unused), LintLevel::Allow);
    assert_eq!(lints.level(Lint::Expired), LintLevel::Warn);
}

#[test]
fn bool_patterns_accept_keys_of_another_naming_convention_whole() {
    let catalog = Catalog::parse(&file(
        "[lints]\nbool_patterns = ['product-[A-Z]+-[0-9]+-[a-z0-9-]+', 'beta_.*']\n",
    ))
    .expect("valid");
    let lints = catalog.lints();
    let patterns: Vec<&str> = lints.bool_patterns().iter().map(|p| p.as_str()).collect();
    assert_eq!(patterns, ["product-[A-Z]+-[0-9]+-[a-z0-9-]+", "beta_.*"]);
    let follows = |key: &str, accessor: &str| lints.follows_bool_naming(key, accessor);
    assert!(follows(
        "product-TASKS-103-comments",
        "product_tasks_103_comments"
    ));
    assert!(follows("beta_search", "beta_search"));
    assert!(
        follows("dark_mode_enabled", "dark_mode_enabled"),
        "the suffix still counts"
    );
    // The whole key must match, not a part of it.
    assert!(!follows(
        "my-product-TASKS-103-comments",
        "my_product_tasks_103_comments"
    ));
    assert!(!follows("dark_mode", "dark_mode"));

    let errors = errors("[lints]\nbool_patterns = ['(unclosed', 3, '']\n");
    let expected = [
        (
            "`(unclosed` in `bool_patterns` is not a usable regular expression: unclosed group",
            "flags.toml:7:18",
        ),
        (
            "a pattern of `bool_patterns` in [lints] must be a non-empty string, found an integer",
            "flags.toml:7:31",
        ),
        (
            "a pattern of `bool_patterns` in [lints] must be a non-empty string, found an empty string",
            "flags.toml:7:34",
        ),
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (error, (message, location)) in errors.iter().zip(expected) {
        assert!(
            error.starts_with(message) && error.contains(location),
            "{error}"
        );
    }
    assert!(
        one_error("[lints]\nbool_patterns = 'beta_.*'\n")
            .starts_with("`bool_patterns` in [lints] must be an array of strings, found a string")
    );
}

#[test]
fn mistakes_in_the_lints_table_are_reported_with_their_line() {
    let errors = errors(
        "[lints]\nunsued = \"allow\"\nexpired = \"alow\"\nbool_suffix = \"-Enabled\"\nownership = false\n",
    );
    let expected = [
        (
            "unknown key `unsued` in [lints]; did you mean `unused`?",
            "flags.toml:7:1",
        ),
        (
            "`expired` in [lints] must be `allow`, `warn` or `deny`, found `alow`; did you mean `allow`?",
            "flags.toml:8:11",
        ),
        (
            "`-Enabled` is not a usable accessor suffix",
            "flags.toml:9:15",
        ),
        (
            "`ownership` in [lints] must be a string, found a bool",
            "flags.toml:10:13",
        ),
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (error, (message, location)) in errors.iter().zip(expected) {
        assert!(
            error.starts_with(message) && error.contains(location),
            "{error}"
        );
    }
    let top_level = SourceFile::new("flags.toml", format!("lints = 3\n{ENVIRONMENTS}"));
    let diagnostics = parse(&top_level).diagnostics;
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    assert_eq!(
        diagnostics[0].message(),
        "`lints` must be a table, found an integer"
    );
    assert!(one_error("[lint]\n").contains("did you mean `lints`?"));
}
