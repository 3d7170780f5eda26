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

#[test]
fn a_removed_flag_is_found_by_any_of_its_spellings() {
    let dir = project("retired");
    let expected = [
        "[ ] src/main.rs:7:23  feature_gate  #[flags::feature_gate(\"product-TASKS-103-comments\")]",
        "[ ] src/main.rs:12:35  marker type  async fn comment_count(_: Enabled<ProductTasks103CommentsFeature>) -> String {",
        "[ ] src/main.rs:17:15  accessor  if Flags::product_tasks_103_comments() {",
        "[ ] src/main.rs:20:36  marker type  let _gate = FeatureGate::new::<ProductTasks103CommentsFeature>();",
        "[ ] src/main.rs:26:15  stub attribute  #[flags::stub(product_tasks_103_comments = true)]",
        "[ ] src/main.rs:28:31  stub  let _stub = Flags::stub().product_tasks_103_comments(false);",
    ];
    for name in [
        "product-TASKS-103-comments",
        "product_tasks_103_comments",
        "ProductTasks103CommentsFeature",
    ] {
        let out = run(dir.path(), &format!("refs {name}")).expect(0);
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(
            lines[0],
            format!("flag {name} (not declared in flags.toml): 6 references in code")
        );
        assert_eq!(lines[1..], expected, "{name}");
    }
}

#[test]
fn a_declared_flag_is_found_by_its_marker_type_and_an_unknown_name_gets_the_closest() {
    let dir = project("retired");
    // Declared again: found by the marker type too, and resolved to its key.
    let path = dir.path().join("flags.toml");
    let text = std::fs::read_to_string(&path).expect("flags.toml");
    std::fs::write(
        &path,
        format!("{text}\n[flags.\"product-TASKS-103-comments\"]\ndescription = \"Comments\"\ndefault = false\n"),
    )
    .expect("write flags.toml");
    let json = run(
        dir.path(),
        "refs ProductTasks103CommentsFeature --format json",
    )
    .expect(0)
    .json();
    assert_eq!(json["flag"], "product-TASKS-103-comments");
    assert_eq!(json["declared"], true);
    let kinds: Vec<&str> = json["references"]
        .as_array()
        .expect("references")
        .iter()
        .map(|r| r["kind"].as_str().expect("a kind"))
        .collect();
    assert_eq!(
        kinds,
        [
            "feature_gate",
            "marker type",
            "accessor",
            "marker type",
            "stub attribute",
            "stub",
            "declaration"
        ]
    );

    let out = run(dir.path(), "refs new_chekout_enabled").expect(1);
    assert!(
        out.stderr.contains(
            "no flag `new_chekout_enabled` in flags.toml and no reference to it in the code; did you mean `new_checkout_enabled`?"
        ),
        "{}",
        out.stderr
    );
    let json = run(
        dir.path(),
        "refs ProductTasks103ComentsFeature --format json",
    )
    .expect(1)
    .json();
    assert_eq!(json["suggestion"], "ProductTasks103CommentsFeature");
}

#[test]
fn a_file_that_does_not_parse_is_named_as_not_listed() {
    let dir = project("clean");
    std::fs::write(
        dir.path().join("src/broken.rs"),
        "fn f() { Flags::new_checkout_enabled(; }\n",
    )
    .expect("write src/broken.rs");
    let out = run(dir.path(), "refs new_checkout_enabled").expect(0);
    assert!(
        out.stdout.contains("4 references in code"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("warning: src/broken.rs:1: cannot be parsed: ")
            && out.stderr.contains("references in it are not listed"),
        "{}",
        out.stderr
    );
    let json = run(dir.path(), "refs new_checkout_enabled --format json")
        .expect(0)
        .json();
    let unreadable = json["unreadable"].as_array().expect("unreadable");
    assert_eq!(unreadable.len(), 1, "{json}");
    assert_eq!(unreadable[0]["file"], "src/broken.rs");
    assert_eq!(unreadable[0]["line"], 1);
}

#[test]
fn brackets_nested_thousands_deep_are_refused_not_a_stack_overflow() {
    let dir = project("clean");
    let depth = 5_000;
    let deep = format!(
        "fn f() -> u32 {{ {}Flags::new_checkout_enabled() as u32{} }}\n",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    std::fs::write(dir.path().join("src/deep.rs"), deep).expect("write src/deep.rs");
    let out = run(dir.path(), "refs new_checkout_enabled").expect(0);
    assert!(
        out.stderr
            .contains("src/deep.rs:1: cannot be parsed: brackets nest more than 128 deep"),
        "{}",
        out.stderr
    );
    let removed = run(
        dir.path(),
        "remove new_checkout_enabled --keep on --dry-run",
    );
    assert!(
        removed
            .stderr
            .contains("src/deep.rs:1: cannot be parsed: brackets nest"),
        "{}",
        removed.stderr
    );
    assert!(matches!(removed.code, 0 | 1), "{}", removed.stderr);
    let checked = run(dir.path(), "check");
    assert!(
        checked.stderr.contains("brackets nest more than 128 deep")
            || checked.stdout.contains("brackets nest more than 128 deep"),
        "{}{}",
        checked.stdout,
        checked.stderr
    );
}
