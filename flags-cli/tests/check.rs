//! `flags check`: nothing on a clean project, each lint on its fixture, configuration in
//! `[lints]`, errors of flags.toml, and exit codes.

mod common;

use common::{Run, flags, project};

fn check(fixture: &str, args: &[&str]) -> Run {
    let dir = project(fixture);
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    flags(dir.path(), &all)
}

/// `(lint, file, line)` of each finding in `check --format json`.
fn findings(run: &Run) -> Vec<(String, String, u64)> {
    run.json()["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["lint"].as_str().unwrap_or("error").to_owned(),
                f["file"].as_str().unwrap_or_default().to_owned(),
                f["line"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn a_clean_project_has_nothing_to_report() {
    let run = check("clean", &[]).expect(0);
    assert_eq!(
        run.stdout,
        "flags.toml: no problems (2 source files scanned)\n"
    );
    let run = check("clean", &["--deny", "warnings", "--format", "json"]).expect(0);
    assert_eq!(findings(&run), []);
    assert_eq!(run.json()["source_files"], 2);
}

#[test]
fn each_lint_is_found_on_its_fixture() {
    // (fixture, its findings as (lint, file, line), a message it prints)
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str, u64)],
        &'static str,
    );
    let cases: [Case; 6] = [
        (
            "bool_naming",
            &[("bool_naming", "flags.toml", 6)],
            "bool flag `dark_mode` is not named `*_enabled`",
        ),
        (
            "ownership",
            &[("ownership", "flags.toml", 6)],
            "flag `beta_search_enabled` has no owner or ticket",
        ),
        (
            "expired",
            &[("expired", "flags.toml", 6)],
            "flag `old_banner_enabled` is past its `expires` date, 2020-01-31 (owner: growth, ticket: GROW-7)",
        ),
        (
            "unused",
            &[("unused", "flags.toml", 12)],
            "flag `legacy_export_enabled` is declared but never used",
        ),
        (
            "undeclared",
            &[
                ("undeclared", "src/main.rs", 8),
                ("undeclared", "src/main.rs", 16),
            ],
            "`Flags::new_chekout_enabled` names no flag of flags.toml; did you mean `new_checkout_enabled`?",
        ),
        (
            "nested_gate",
            &[
                ("nested_gate", "src/main.rs", 11),
                ("nested_gate", "src/main.rs", 16),
            ],
            "`#[feature_gate(\"express_pay_enabled\")]` fn `express_pay` is called only inside the code path of flag `new_checkout_enabled` (src/main.rs:7:8)",
        ),
    ];
    for (fixture, expected, message) in cases {
        let run = check(fixture, &["--format", "json"]);
        let expected: Vec<(String, String, u64)> = expected
            .iter()
            .map(|(lint, file, line)| ((*lint).into(), (*file).into(), *line))
            .collect();
        assert_eq!(findings(&run), expected, "{fixture}");
        let text = check(fixture, &[]);
        assert!(text.stdout.contains(message), "{fixture}: {}", text.stdout);
        // An undeclared name would not compile: an error. The others warn.
        if fixture == "undeclared" {
            text.expect(1);
            assert_eq!(run.json()["errors"], 2);
        } else {
            assert!(
                text.stdout.contains(&format!("warning[{fixture}]: ")),
                "{}",
                text.stdout
            );
            text.expect(0);
            let denied = check(fixture, &["--deny", "warnings"]).expect(1);
            assert!(
                denied.stdout.contains(&format!("error[{fixture}]: ")),
                "{}",
                denied.stdout
            );
            assert!(
                denied.stdout.contains("(warnings denied)"),
                "{}",
                denied.stdout
            );
        }
    }
}

#[test]
fn findings_point_at_the_file_and_line() {
    let run = check("undeclared", &[]).expect(1);
    assert!(
        run.stdout.contains(
            "  --> src/main.rs:16:15\n   |\n16 |     if Flags::new_chekout_enabled() {\n   |               ^^^^^^^^^^^^^^^^^^^"
        ),
        "{}",
        run.stdout
    );
    let run = check("nested_gate", &[]);
    assert!(
        run.stdout.contains("requires = [\"new_checkout_enabled\"]"),
        "{}",
        run.stdout
    );
}

#[test]
fn lints_are_configured_in_flags_toml() {
    let configure = |fixture: &str, lints: &str, args: &[&str]| {
        let dir = project(fixture);
        let path = dir.path().join("flags.toml");
        let text = std::fs::read_to_string(&path).expect("flags.toml");
        std::fs::write(&path, format!("[lints]\n{lints}\n\n{text}")).expect("write flags.toml");
        let mut all = vec!["check", "--format", "json"];
        all.extend_from_slice(args);
        flags(dir.path(), &all)
    };
    let run = configure(
        "bool_naming",
        "bool_naming = \"allow\"",
        &["--deny", "warnings"],
    )
    .expect(0);
    assert_eq!(findings(&run), []);
    let run = configure(
        "bool_naming",
        "bool_suffix = \"_mode\"",
        &["--deny", "warnings"],
    )
    .expect(0);
    assert_eq!(findings(&run), []);
    // A pattern of the whole key accepts names of another convention, besides the suffix.
    let run = configure(
        "bool_naming",
        "bool_patterns = ['dark_[a-z]+']",
        &["--deny", "warnings"],
    )
    .expect(0);
    assert_eq!(findings(&run), []);
    let run = configure("bool_naming", "bool_patterns = ['dark', 'x-.*']", &[]).expect(0);
    assert_eq!(
        run.json()["findings"][0]["message"],
        "bool flag `dark_mode` is not named `*_enabled` and does not match `dark` or `x-.*`"
    );
    // The convention applies to every bool flag: `*_enabled` is now wrong.
    let run = configure("ownership", "bool_suffix = \"_on\"", &[]).expect(0);
    assert_eq!(
        findings(&run)
            .iter()
            .map(|f| f.0.as_str())
            .collect::<Vec<_>>(),
        ["bool_naming", "ownership"]
    );
    let run = configure("expired", "expired = \"deny\"", &[]).expect(1);
    assert_eq!(run.json()["findings"][0]["severity"], "error");
    configure("undeclared", "undeclared = \"warn\"", &[]).expect(0);
    configure("unused", "unused = \"allow\"", &["--deny", "warnings"]).expect(0);
    configure(
        "nested_gate",
        "nested_gate = \"allow\"",
        &["--deny", "warnings"],
    )
    .expect(0);
    configure(
        "ownership",
        "ownership = \"allow\"",
        &["--deny", "warnings"],
    )
    .expect(0);

    // A mistake in [lints] is an error of flags.toml like any other.
    let run = configure("clean", "unsued = \"allow\"", &[]).expect(1);
    let finding = &run.json()["findings"][0];
    assert_eq!(
        finding["message"],
        "unknown key `unsued` in [lints]; did you mean `unused`?"
    );
    assert_eq!(finding["line"], 2);
}

#[test]
fn errors_of_flags_toml_are_all_reported_with_file_and_line() {
    let run = check("invalid", &[]).expect(1);
    for expected in [
        "error: `production` of flag `new_checkout_enabled` must be a bool, like its `default`; found a string\n  --> flags.toml:11:14",
        "error: flag `dark_mode_enabled` has no `description`\n  --> flags.toml:13:8",
        "error: unknown key `descrption` in flag `dark_mode_enabled`; did you mean `description`?\n  --> flags.toml:14:1",
        "flags.toml: 3 errors, 0 warnings",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected}\nin:\n{}",
            run.stdout
        );
    }
    let run = check("invalid", &["--format", "json"]).expect(1);
    assert_eq!(run.json()["errors"], 3);
}

#[test]
fn a_source_file_that_does_not_parse_is_a_warning() {
    let dir = project("clean");
    std::fs::write(dir.path().join("src/broken.rs"), "fn broken( {\n").expect("write");
    let run = flags(dir.path(), &["check"]).expect(0);
    assert!(
        run.stdout.contains("warning: cannot be parsed"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("--> src/broken.rs:1:"),
        "{}",
        run.stdout
    );
    flags(dir.path(), &["check", "--deny", "warnings"]).expect(1);
}

#[test]
fn leftover_overrides_of_removed_flags_are_found() {
    let dir = project("clean");
    std::fs::write(
        dir.path().join("flags.overrides.toml"),
        "# Written by `flags set` over the months.\n[flags.max_upload_mb]\nproduction = 99\n\n\
         [flags.old_search_enabled]\nvalue = true\n",
    )
    .unwrap();
    let run = flags(dir.path(), &["check", "--format", "json"]).expect(0);
    assert_eq!(
        findings(&run),
        [("leftover".to_owned(), "flags.overrides.toml".to_owned(), 5)]
    );
    let text = flags(dir.path(), &["check"]).expect(0);
    assert!(
        text.stdout
            .contains("warning[leftover]: unknown flag `old_search_enabled`; its table is skipped"),
        "{}",
        text.stdout
    );
    flags(dir.path(), &["check", "--deny", "warnings"]).expect(1);
    // An override the runtime would reject makes the whole file an error.
    std::fs::write(
        dir.path().join("flags.overrides.toml"),
        "[flags.max_upload_mb]\nproduction = \"lots\"\n",
    )
    .unwrap();
    let run = flags(dir.path(), &["check"]).expect(1);
    assert!(
        run.stdout.contains("rejects flags.overrides.toml whole"),
        "{}",
        run.stdout
    );
}
