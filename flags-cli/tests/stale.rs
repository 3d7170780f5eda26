//! `flags stale`: the flags to remove, each with the `flags remove` command that does it.

mod common;

use common::{project, run};

#[test]
fn an_expired_flag_is_listed_with_the_command_that_removes_it() {
    let dir = project("expired");
    let out = run(dir.path(), "stale").expect(1);
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        [
            "old_banner_enabled",
            "  expired: past its `expires` date, 2020-01-31 (owner: growth, ticket: GROW-7)",
            "  flags remove old_banner_enabled --keep on  # served in `production`",
        ]
    );
    // The command does what it says.
    let command = out.stdout.lines().nth(2).expect("the command").trim();
    let command = command.split("  #").next().expect("the command");
    let removed = run(dir.path(), command.trim_start_matches("flags ")).expect(0);
    assert!(
        removed.stdout.contains("keeping true"),
        "{}",
        removed.stdout
    );
    run(dir.path(), "stale").expect(0);
}

#[test]
fn json_and_flags_whose_value_is_targeted_or_the_same_everywhere() {
    let dir = project("clean");
    let out = run(dir.path(), "stale").expect(0);
    assert_eq!(out.stdout, "flags.toml: no stale flags\n");

    let path = dir.path().join("flags.toml");
    let text = std::fs::read_to_string(&path).expect("flags.toml");
    let text = text.replace("expires = 2099-12-31", "expires = 2021-03-01");
    let text = text.replace(
        "ticket = \"PAY-790\"\n",
        "ticket = \"PAY-790\"\nexpires = 2025-12-31\n",
    );
    std::fs::write(&path, text).expect("write flags.toml");
    let json = run(dir.path(), "stale --format json").expect(1).json();
    let stale = json["stale"].as_array().expect("stale flags");
    assert_eq!(stale.len(), 2, "{json:#}");
    assert_eq!(stale[0]["flag"], "new_checkout_enabled");
    assert_eq!(stale[0]["reasons"][0]["source"], "expired");
    assert_eq!(stale[0]["keep"], serde_json::Value::Null);
    assert_eq!(
        stale[0]["keep_why"],
        "targeted in `production`: choose the value to keep"
    );
    assert_eq!(
        stale[0]["command"],
        "flags remove new_checkout_enabled --keep VALUE"
    );
    assert_eq!(stale[1]["flag"], "checkout_flow");
    assert_eq!(stale[1]["keep"], "legacy");
    assert_eq!(stale[1]["keep_why"], "served in `production`");
    assert_eq!(
        stale[1]["command"],
        "flags remove checkout_flow --keep legacy"
    );
}
