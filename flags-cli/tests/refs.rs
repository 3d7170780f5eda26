//! `flags refs`: every reference, `file:line`, as the checklist for removing a flag.

mod common;

use common::{project, run};

#[test]
fn every_reference_in_code_then_the_declaration_and_overrides() {
    let dir = project("clean");
    run(dir.path(), "set new_checkout_enabled false --env staging").expect(0);
    let out = run(dir.path(), "refs new_checkout_enabled").expect(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "flag new_checkout_enabled: 4 references in code",
            "[ ] src/main.rs:7:16  feature_gate  #[feature_gate(\"new_checkout_enabled\")]",
            "[ ] src/main.rs:21:15  accessor  if Flags::new_checkout_enabled() {",
            "[ ] tests/checkout.rs:4:15  stub attribute  #[flags::stub(new_checkout_enabled = true)]",
            "[ ] tests/checkout.rs:6:20  accessor  assert!(Flags::new_checkout_enabled());",
            "[ ] flags.toml:12  declaration  [flags.new_checkout_enabled]",
            "[ ] flags.toml:34  required by  [flags.express_pay_enabled]",
            "[ ] flags.overrides.toml:6  override  staging = false",
        ]
    );
}

#[test]
fn json_and_names_by_accessor() {
    let dir = project("clean");
    let json = run(
        dir.path(),
        "refs product_tasks_103_comments_enabled --format json",
    )
    .expect(0)
    .json();
    assert_eq!(json["flag"], "product-TASKS-103-comments-enabled");
    assert_eq!(json["declared"], true);
    let references = json["references"].as_array().expect("references");
    assert_eq!(references.len(), 2);
    assert_eq!(references[0]["file"], "src/main.rs");
    assert_eq!(references[0]["line"], 28);
    assert_eq!(references[0]["kind"], "accessor");
    assert_eq!(
        references[0]["code"],
        "let comments = Flags::product_tasks_103_comments_enabled_details(&user);"
    );
    assert_eq!(references[1]["kind"], "declaration");
    assert_eq!(references[1]["file"], "flags.toml");
}

#[test]
fn a_flag_already_gone_from_flags_toml_is_still_found_in_code() {
    let dir = project("undeclared");
    let out = run(dir.path(), "refs new_chekout_enabled").expect(0);
    assert!(
        out.stdout.starts_with(
            "flag new_chekout_enabled (not declared in flags.toml): 1 reference in code"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("[ ] src/main.rs:16:15"),
        "{}",
        out.stdout
    );

    let out = run(dir.path(), "refs nothing_like_it").expect(1);
    assert!(
        out.stderr
            .contains("no flag `nothing_like_it` in flags.toml and no reference to it"),
        "{}",
        out.stderr
    );
}
