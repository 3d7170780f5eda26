//! `flags list`: the table, JSON for tools, one environment, and refusals.

mod common;

use common::{flags, project};

#[test]
fn the_table_shows_every_flag_in_every_environment() {
    let dir = project("clean");
    let run = flags(dir.path(), &["list"]).expect(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "FLAG",
            "development",
            "staging",
            "production",
            "OWNER",
            "TICKET",
            "EXPIRES"
        ]
    );
    let row = |key: &str| -> Vec<&str> {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no row for {key}:\n{}", run.stdout));
        line.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect()
    };
    assert_eq!(
        row("new_checkout_enabled"),
        [
            "new_checkout_enabled",
            "true",
            "true",
            "rules (2), else false",
            "payments",
            "PAY-812",
            "2099-12-31"
        ]
    );
    assert_eq!(
        row("checkout_flow"),
        [
            "checkout_flow",
            "legacy",
            "one_page",
            "legacy",
            "payments",
            "PAY-790",
            "-"
        ]
    );
    assert_eq!(row("max_upload_mb")[1..4], ["10", "10", "25"]);
    assert!(run.stdout.contains("product-TASKS-103-comments-enabled"));
}

#[test]
fn json_has_each_flag_with_its_setting_per_environment() {
    let dir = project("clean");
    let json = flags(dir.path(), &["list", "--format", "json"])
        .expect(0)
        .json();
    assert_eq!(json["file"], "flags.toml");
    assert_eq!(
        json["environments"],
        serde_json::json!(["development", "staging", "production"])
    );
    let flags = json["flags"].as_array().expect("an array of flags");
    let keys: Vec<&str> = flags.iter().filter_map(|f| f["key"].as_str()).collect();
    assert_eq!(
        keys,
        [
            "new_checkout_enabled",
            "express_pay_enabled",
            "checkout_flow",
            "max_upload_mb",
            "product-TASKS-103-comments-enabled"
        ]
    );
    let checkout = &flags[0];
    assert_eq!(checkout["type"], "bool");
    assert_eq!(checkout["owner"], "payments");
    assert_eq!(checkout["ticket"], "PAY-812");
    assert_eq!(checkout["expires"], "2099-12-31");
    assert_eq!(checkout["expired"], false);
    assert_eq!(checkout["default"], false);
    assert_eq!(checkout["line"], 12);
    let environments = &checkout["environments"];
    assert_eq!(
        environments["development"],
        serde_json::json!({ "kind": "value", "value": true, "set": true })
    );
    assert_eq!(environments["production"]["kind"], "rules");
    assert_eq!(environments["production"]["rules"], 2);
    assert_eq!(environments["production"]["fallthrough"]["value"], false);
    let express = &flags[1];
    assert_eq!(
        express["requires"],
        serde_json::json!([{ "flag": "new_checkout_enabled", "is": true }])
    );
    // Not set in staging: the default, marked as such.
    assert_eq!(
        express["environments"]["staging"],
        serde_json::json!({ "kind": "value", "value": false, "set": false })
    );
    let flow = &flags[2];
    assert_eq!(flow["type"], "enum");
    assert_eq!(
        flow["variants"],
        serde_json::json!(["legacy", "one_page", "express"])
    );
    assert_eq!(flow["environments"]["staging"]["value"], "one_page");
    assert_eq!(flags[3]["environments"]["production"]["value"], 25);
    assert_eq!(flags[4]["accessor"], "product_tasks_103_comments_enabled");
}

#[test]
fn one_environment_and_unknown_environments() {
    let dir = project("clean");
    let json = flags(
        dir.path(),
        &["list", "--env", "production", "--format", "json"],
    )
    .expect(0)
    .json();
    assert_eq!(json["environments"], serde_json::json!(["production"]));
    let settings = json["flags"][0]["environments"].as_object().expect("a map");
    assert_eq!(settings.keys().collect::<Vec<_>>(), ["production"]);

    let run = flags(dir.path(), &["list", "--env", "staging"]).expect(0);
    assert!(!run.stdout.contains("production"), "{}", run.stdout);

    let run = flags(dir.path(), &["list", "--env", "prod"]).expect(1);
    assert!(
        run.stderr
            .contains("declares no environment `prod` (did you mean `production`?)"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_invalid_flags_toml_is_refused_with_file_and_line() {
    let dir = project("invalid");
    let run = flags(dir.path(), &["list"]).expect(1);
    assert!(
        run.stderr.contains("--> flags.toml:11:14"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn flags_toml_is_found_upward_or_given_with_file() {
    let dir = project("clean");
    let run = flags(&dir.path().join("src"), &["list", "--format", "json"]).expect(0);
    assert_eq!(run.json()["file"], "../flags.toml");

    let elsewhere = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("flags.toml");
    let path = path.to_str().expect("a UTF-8 path");
    flags(elsewhere.path(), &["--file", path, "list"]).expect(0);
    flags(elsewhere.path(), &["list", "-f", path]).expect(0);

    let run = flags(elsewhere.path(), &["list"]).expect(2);
    assert!(run.stderr.contains("no flags.toml in"), "{}", run.stderr);
    let run = flags(elsewhere.path(), &["list", "--file", "missing.toml"]).expect(2);
    assert!(
        run.stderr.contains("missing.toml cannot be read"),
        "{}",
        run.stderr
    );
}

#[test]
fn text_from_the_file_reaches_the_terminal_shown_not_obeyed() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        dir.path().join("flags.toml"),
        "[environments]\nnames = [\"production\"]\ndefault = \"production\"\n\n\
         [flags.banner]\ndescription = \"Banner\"\nowner = \"ops\\u0007\"\n\
         default = \"\\u001b[31mred\\u001b[0m \\u202etxt.exe\"\n",
    )
    .expect("write flags.toml");
    let run = flags(dir.path(), &["list"]).expect(0);
    assert!(
        !run.stdout.contains(['\u{1b}', '\u{7}', '\u{202e}']),
        "{:?}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("\\u{1b}[31mred\\u{1b}[0m \\u{202e}txt.exe  ops\\u{7}"),
        "{}",
        run.stdout
    );
}
