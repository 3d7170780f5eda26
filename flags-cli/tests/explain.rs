//! `flags explain`: value and reason, rule by rule, for a context given by options only.

mod common;

use common::{flags, flags_with, project, run};

/// Staff, on a pro plan: rule 1 decides.
const STAFF: &str = "explain new_checkout_enabled --env production --key u-1 --attr email=ada@Example.com --attr plan=pro";

#[test]
fn the_value_and_every_rule_with_each_condition() {
    let dir = project("clean");
    let run = run(dir.path(), STAFF).expect(0);
    for expected in [
        "flag new_checkout_enabled in production, for key u-1",
        "value:   true",
        "reason:  rule 1 (staff) matched, segment `internal`",
        "setting: flags.toml value for `production`",
        "  rule 1 (staff), flags.toml:21: matched, serves true  <- decided",
        "    yes in segment `internal`",
        "  rule 2 (large pro accounts), flags.toml:26: no match",
        "    yes plan equals \"pro\"",
        "    no  seats >= 10",
        "  otherwise: serves false",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} in:\n{}",
            run.stdout
        );
    }
}

#[test]
fn json_for_a_context_that_no_rule_matches() {
    let dir = project("clean");
    let json = run(
        dir.path(),
        "explain new_checkout_enabled --env production --key u-2 --attr plan=pro --attr seats:num=3 --format json",
    )
    .expect(0)
    .json();
    assert_eq!(json["flag"], "new_checkout_enabled");
    assert_eq!(json["environment"], "production");
    assert_eq!(json["value"], false);
    assert_eq!(json["reason"], "no rule matched: fallthrough");
    let rules = json["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0]["matched"], false);
    assert_eq!(rules[1]["name"], "large pro accounts");
    let holds: Vec<bool> = rules[1]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .map(|c| c["holds"].as_bool().expect("a bool"))
        .collect();
    assert_eq!(holds, [true, false]);
    assert_eq!(json["fallthrough"]["decided"], true);
    assert_eq!(json["fallthrough"]["serves"], false);
}

#[test]
fn prerequisites_are_shown_with_the_values_they_had() {
    let dir = project("clean");
    let run = run(
        dir.path(),
        "explain express_pay_enabled --env production --key u-9",
    )
    .expect(0);
    for expected in [
        "reason:  prerequisite `new_checkout_enabled` not met: default served",
        "no  `new_checkout_enabled` is false (required: true)",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} in:\n{}",
            run.stdout
        );
    }
}

#[test]
fn the_callers_environment_variables_change_nothing() {
    let dir = project("clean");
    let args = "explain new_checkout_enabled --env production --key u-2 --format json";
    let shell = [
        ("APP_ENV", "development"),
        ("FLAGS_NEW_CHECKOUT_ENABLED", "true"),
    ];
    let args: Vec<&str> = args.split_whitespace().collect();
    let json = flags_with(dir.path(), &args, &shell).expect(0).json();
    assert_eq!(json["value"], false);
    assert_eq!(json["environment"], "production");
    // Without --env: flags.toml's default environment, not APP_ENV's.
    let args = ["explain", "checkout_flow", "--format", "json"];
    let json = flags_with(dir.path(), &args, &[("APP_ENV", "staging")])
        .expect(0)
        .json();
    assert_eq!(json["environment"], "development");
    assert_eq!(json["value"], "legacy");
}

#[test]
fn the_overrides_file_written_by_set_is_read() {
    let dir = project("clean");
    run(
        dir.path(),
        "set new_checkout_enabled false --env production",
    )
    .expect(0);
    let explained = run(dir.path(), STAFF).expect(0);
    for expected in [
        "value:   false",
        "reason:  overrides file flags.overrides.toml:6",
    ] {
        assert!(
            explained.stdout.contains(expected),
            "{expected:?} in:\n{}",
            explained.stdout
        );
    }
    let ignored = run(dir.path(), &format!("{STAFF} --no-overrides")).expect(0);
    assert!(
        ignored.stdout.contains("value:   true"),
        "{}",
        ignored.stdout
    );
}

#[test]
fn mistakes_in_the_options_are_refused() {
    let dir = project("clean");
    for (line, message) in [
        (
            "explain new_checkout_enabld",
            "unknown flag `new_checkout_enabld`; did you mean `new_checkout_enabled`?",
        ),
        (
            "explain checkout_flow --env prod",
            "did you mean `production`?",
        ),
        (
            "explain checkout_flow --attr plan",
            "--attr plan: write name=value",
        ),
        ("explain checkout_flow --attr n:num=many", "not a number"),
    ] {
        let refused = run(dir.path(), line).expect(1);
        assert!(
            refused.stderr.contains(message),
            "{line}: {}",
            refused.stderr
        );
    }
    // A usage error is clap's: exit code 2.
    flags(dir.path(), &["explain"]).expect(2);
}
