//! `flags set` and `flags unset`: validated, atomic edits of the overrides file that keep
//! its comments and order.

mod common;

use std::path::Path;

use common::{flags, flags_with, project, run};

const OVERRIDES: &str = "\
# Production incident 2024-05: keep the old checkout.
[flags.new_checkout_enabled]
production = false   # until PAY-900 is fixed

# Staging tries the express flow.
[flags.checkout_flow]
staging = \"express\"
";

fn with_overrides(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("flags.overrides.toml");
    std::fs::write(&path, OVERRIDES).expect("write the overrides file");
    path
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("the overrides file")
}

#[test]
fn a_refused_value_leaves_the_file_byte_for_byte_unchanged() {
    let dir = project("clean");
    let path = with_overrides(dir.path());
    let before = std::fs::read(&path).expect("bytes");
    let refused = [
        (
            &["set", "max_upload_mb", "lots"][..],
            "flag `max_upload_mb` cannot be set to `lots`: expected an integer, found `lots`",
        ),
        (
            &["set", "checkout_flow", "expres"][..],
            "found `expres` (did you mean `express`?)",
        ),
        (
            &[
                "set",
                "new_checkout_enabled",
                "maybe",
                "--env",
                "production",
            ][..],
            "expected a bool, found `maybe` (use `true` or `false`)",
        ),
        (
            &["set", "new_checkout_enabld", "true"][..],
            "unknown flag `new_checkout_enabld`; did you mean `new_checkout_enabled`?",
        ),
        (
            &["set", "new_checkout_enabled", "true", "--env", "prod"][..],
            "declares no environment `prod`",
        ),
    ];
    for (args, message) in refused {
        let out = flags(dir.path(), args).expect(1);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
        assert_eq!(std::fs::read(&path).expect("bytes"), before, "{args:?}");
    }
    // A file the runtime would reject is not made worse: nothing is written.
    let broken = "[flags.new_checkout_enabled]\nproduction = \"no\"\n";
    std::fs::write(&path, broken).expect("write");
    let out = run(dir.path(), "set max_upload_mb 50").expect(1);
    assert!(
        out.stderr.contains("--> flags.overrides.toml:2:14"),
        "{}",
        out.stderr
    );
    assert_eq!(read(&path), broken);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn set_then_unset_keeps_comments_and_order() {
    let dir = project("clean");
    let path = with_overrides(dir.path());
    let out = run(dir.path(), "set max_upload_mb 50 --env staging").expect(0);
    assert!(
        out.stdout
            .contains("set `max_upload_mb` to 50 in `staging` in flags.overrides.toml:10"),
        "{}",
        out.stdout
    );
    run(dir.path(), "set new_checkout_enabled yes --env production").expect(0);
    assert_eq!(
        read(&path),
        OVERRIDES.replace("production = false", "production = true")
            + "\n[flags.max_upload_mb]\nstaging = 50\n"
    );
    let out = run(dir.path(), "unset max_upload_mb --env staging").expect(0);
    assert!(
        out.stdout.contains(
            "removed the override in `staging` of `max_upload_mb` from flags.overrides.toml"
        ),
        "{}",
        out.stdout
    );
    run(
        dir.path(),
        "set new_checkout_enabled false --env production",
    )
    .expect(0);
    assert_eq!(read(&path), OVERRIDES);

    // Unsetting what is not there changes nothing.
    let out = run(dir.path(), "unset max_upload_mb").expect(0);
    assert!(out.stdout.starts_with("nothing to unset"), "{}", out.stdout);
    assert_eq!(read(&path), OVERRIDES);
}

#[test]
fn flags_are_found_by_key_or_accessor_and_unset_whole() {
    let dir = project("clean");
    let path = with_overrides(dir.path());
    run(dir.path(), "set product_tasks_103_comments_enabled on").expect(0);
    assert!(
        read(&path).ends_with("[flags.product-TASKS-103-comments-enabled]\nvalue = true\n"),
        "{}",
        read(&path)
    );
    let out = run(dir.path(), "set new_checkout_enabled true").expect(0);
    assert!(
        out.stdout
            .contains("note: in `production`, the file's own override (line 3) still wins"),
        "{}",
        out.stdout
    );
    run(dir.path(), "unset new_checkout_enabled --all").expect(0);
    run(dir.path(), "unset product-TASKS-103-comments-enabled").expect(0);
    // A removed table takes the comment above it along; the rest stays as it was.
    assert_eq!(
        read(&path),
        "\n# Staging tries the express flow.\n[flags.checkout_flow]\nstaging = \"express\"\n"
    );
}

#[test]
fn the_file_is_chosen_by_option_variable_or_default() {
    let dir = project("clean");
    let out = run(dir.path(), "set checkout_flow express").expect(0);
    let default = dir.path().join("flags.overrides.toml");
    let text = read(&default);
    assert!(text.starts_with("# Overrides of flags.toml"), "{text}");
    assert!(
        text.ends_with("[flags.checkout_flow]\nvalue = \"express\"\n"),
        "{text}"
    );
    assert!(
        out.stdout
            .contains("the runtime reads it when FLAGS_OVERRIDES points at it: FLAGS_OVERRIDES="),
        "{}",
        out.stdout
    );

    let out = run(dir.path(), "set max_upload_mb 1 --overrides custom.toml").expect(0);
    assert!(out.stdout.contains("in custom.toml:"), "{}", out.stdout);
    assert!(read(&dir.path().join("custom.toml")).contains("value = 1"));

    let out = flags_with(
        dir.path(),
        &["set", "max_upload_mb", "2"],
        &[("FLAGS_OVERRIDES", "from-variable.toml")],
    )
    .expect(0);
    assert!(
        out.stdout
            .contains("the runtime reads it: FLAGS_OVERRIDES points at it"),
        "{}",
        out.stdout
    );
    assert!(read(&dir.path().join("from-variable.toml")).contains("value = 2"));
    // Where the shell overrides the flag itself, the set value would not be seen.
    let out = flags_with(
        dir.path(),
        &["set", "max_upload_mb", "3"],
        &[("FLAGS_MAX_UPLOAD_MB", "9")],
    )
    .expect(0);
    assert!(
        out.stdout.contains("FLAGS_MAX_UPLOAD_MB is set"),
        "{}",
        out.stdout
    );
}

#[cfg(unix)]
#[test]
fn the_files_permissions_are_kept() {
    use std::os::unix::fs::PermissionsExt;
    let dir = project("clean");
    let path = with_overrides(dir.path());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    run(dir.path(), "set max_upload_mb 50").expect(0);
    let mode = std::fs::metadata(&path)
        .expect("metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
}
