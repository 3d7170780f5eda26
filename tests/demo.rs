//! The demo example run as a real process under different environments and overrides.

use std::path::PathBuf;
use std::process::Command;

/// The demo example's binary, brought up to date by cargo once per test run (a no-op when
/// `cargo test` has just built it), so that a test never runs a stale example.
fn demo() -> Command {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let binary = BUILT.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("target profile directory");
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args(["build", "--quiet", "--example", "demo"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_dir.ends_with("release") {
            cargo.arg("--release");
        }
        let output = cargo.output().expect("run cargo");
        assert!(
            output.status.success(),
            "building the demo failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        profile_dir
            .join("examples")
            .join(format!("demo{}", std::env::consts::EXE_SUFFIX))
    });
    let mut command = Command::new(binary);
    // Only what each test sets: nothing from the developer's shell.
    command.env_clear();
    command
}

struct Run {
    stdout: String,
    stderr: String,
}

impl Run {
    /// The table row of `flag`, split into cells: flag, development, test, staging,
    /// production, now, decided by.
    fn row(&self, flag: &str) -> Vec<String> {
        let line = self
            .stdout
            .lines()
            .find(|line| line.split_whitespace().next() == Some(flag))
            .unwrap_or_else(|| panic!("no row for {flag} in:\n{}", self.stdout));
        let mut cells: Vec<String> = line
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect();
        if cells.len() > 7 {
            let decided_by = cells.split_off(6).join(" ");
            cells.push(decided_by);
        }
        cells
    }

    fn now(&self, flag: &str) -> String {
        self.row(flag)[5].clone()
    }

    fn decided_by(&self, flag: &str) -> String {
        self.row(flag)[6].clone()
    }

    fn line(&self, prefix: &str) -> &str {
        self.stdout
            .lines()
            .find(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{}", self.stdout))
    }

    fn problems(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with("problem: "))
            .collect()
    }
}

fn run(vars: &[(&str, &str)]) -> Run {
    let output = demo()
        .envs(vars.iter().copied())
        .output()
        .expect("run the demo");
    let run = Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        output.status.success(),
        "demo failed: {}\n{}",
        run.stdout,
        run.stderr
    );
    run
}

#[test]
fn development_is_the_default_environment() {
    let run = run(&[]);
    assert_eq!(run.line("environment:"), "environment: development");
    assert_eq!(
        run.row("new_feature_enabled"),
        [
            "new_feature_enabled",
            "true",
            "true",
            "true",
            "false",
            "true",
            "flags.toml value for `development`"
        ]
    );
    assert_eq!(run.now("product-TASKS-103-comments"), "true");
    assert_eq!(run.now("search_sample_rate"), "1.0");
    assert_eq!(
        run.line("checkout:"),
        "checkout: new checkout (legacy flow), total 42"
    );
    assert!(run.line("task comments:").contains("looks good"));
    assert_eq!(
        run.line("comments for bob@customer.io:"),
        "comments for bob@customer.io: true (flags.toml value for `development`)"
    );
    assert!(run.problems().is_empty(), "{}", run.stdout);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn each_environment_gets_its_values() {
    let production = run(&[("APP_ENV", "production")]);
    assert_eq!(production.line("environment:"), "environment: production");
    assert_eq!(production.now("new_feature_enabled"), "false");
    assert_eq!(
        production.decided_by("new_feature_enabled"),
        "flags.toml default"
    );
    assert_eq!(production.now("max_upload_mb"), "25");
    assert_eq!(
        production.decided_by("max_upload_mb"),
        "flags.toml value for `production`"
    );
    assert_eq!(
        production.line("checkout:"),
        "checkout: legacy checkout, total 42"
    );
    assert_eq!(
        production.line("task comments:"),
        "task comments: feature `product-TASKS-103-comments` is not enabled"
    );

    assert_eq!(
        production.row("product-TASKS-103-comments")[4],
        "2 rules, else false",
        "production targets the flag"
    );
    assert_eq!(
        production.line("comments for ada@example.com:"),
        "comments for ada@example.com: true (rule 1 (staff) matched, segment `internal`)"
    );
    assert_eq!(
        production.line("comments for bob@customer.io:"),
        "comments for bob@customer.io: false (no rule matched: fallthrough)"
    );

    let staging = run(&[("APP_ENV", "staging")]);
    assert_eq!(staging.now("checkout_flow"), "one_page");
    assert_eq!(
        staging.now("support_banner"),
        "Staging data is reset every night"
    );
    assert_eq!(
        staging.line("checkout:"),
        "checkout: new checkout (one_page flow), total 42"
    );
}

#[test]
fn environment_variables_override_flags_toml() {
    let run = run(&[
        ("APP_ENV", "production"),
        ("FLAGS_NEW_FEATURE_ENABLED", "on"),
        ("FLAGS_CHECKOUT_FLOW", "express"),
        ("FLAGS_PRODUCT_TASKS_103_COMMENTS", "true"),
    ]);
    assert_eq!(run.now("new_feature_enabled"), "true");
    assert_eq!(
        run.decided_by("new_feature_enabled"),
        "environment variable FLAGS_NEW_FEATURE_ENABLED"
    );
    assert_eq!(
        run.line("checkout:"),
        "checkout: new checkout (express flow), total 42"
    );
    assert!(run.line("task comments:").contains("shipped"));
}

fn overrides_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("overrides.toml");
    std::fs::write(&path, text).expect("write overrides file");
    (dir, path)
}

#[test]
fn an_overrides_file_applies_below_environment_variables() {
    let (_dir, path) = overrides_file(
        "[flags.new_feature_enabled]\nvalue = true\n\n[flags.max_upload_mb]\nproduction = 100\nvalue = 1\n",
    );
    let path_text = path.to_str().expect("UTF-8 path");
    let run = run(&[
        ("APP_ENV", "production"),
        ("FLAGS_OVERRIDES", path_text),
        ("FLAGS_NEW_FEATURE_ENABLED", "false"),
    ]);
    assert!(run.problems().is_empty(), "{}", run.stdout);
    assert_eq!(run.now("max_upload_mb"), "100");
    assert_eq!(
        run.decided_by("max_upload_mb"),
        format!("overrides file {path_text}:5")
    );
    assert_eq!(
        run.now("new_feature_enabled"),
        "false",
        "the environment variable outranks the file"
    );
    assert_eq!(
        run.decided_by("new_feature_enabled"),
        "environment variable FLAGS_NEW_FEATURE_ENABLED"
    );
}

#[test]
fn bad_overrides_are_reported_and_change_nothing_else() {
    let run = run(&[
        ("APP_ENV", "production"),
        ("FLAGS_MAX_UPLOAD_MB", "lots"),
        ("FLAGS_NEW_FEATUR_ENABLED", "true"),
        ("FLAGS_CHECKOUT_FLOW", "express"),
    ]);
    assert_eq!(
        run.problems(),
        [
            "problem: environment variable FLAGS_MAX_UPLOAD_MB: flag `max_upload_mb`: expected an integer, found `lots`; it is ignored",
            "problem: environment variable FLAGS_NEW_FEATUR_ENABLED: no flag is overridden by this variable; did you mean `FLAGS_NEW_FEATURE_ENABLED`?",
        ]
    );
    assert_eq!(run.now("max_upload_mb"), "25");
    assert_eq!(
        run.now("checkout_flow"),
        "express",
        "a good variable still applies"
    );
    assert_eq!(run.now("new_feature_enabled"), "false");
}

#[test]
fn a_broken_overrides_file_is_rejected_whole() {
    let (_dir, path) = overrides_file(
        "[flags.new_feature_enabled]\nvalue = true\n\n[flags.max_upload_mb]\nproduction = \"100\"\n",
    );
    let path_text = path.to_str().expect("UTF-8 path");
    let run = run(&[("APP_ENV", "production"), ("FLAGS_OVERRIDES", path_text)]);
    let problem = run.line("problem:");
    assert!(
        problem.contains(&format!(
            "overrides file {path_text} (from FLAGS_OVERRIDES)"
        )),
        "{problem}"
    );
    assert!(
        run.stdout
            .contains("`production` of flag `max_upload_mb` must be an integer, like its `default`; found a string"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("--> {path_text}:5:14")),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.now("new_feature_enabled"),
        "false",
        "no part of a broken file applies"
    );
    assert_eq!(run.now("max_upload_mb"), "25");
}

#[test]
fn an_unknown_environment_is_an_error_and_defaults_are_served() {
    let run = run(&[("APP_ENV", "prod")]);
    assert_eq!(
        run.line("error:"),
        "error: APP_ENV=\"prod\" is not an environment declared in flags.toml; expected one of: \
         development, test, staging, production (did you mean `production`?)"
    );
    assert_eq!(run.now("new_feature_enabled"), "false");
    assert_eq!(run.decided_by("max_upload_mb"), "flags.toml default");
    assert_eq!(
        run.now("max_upload_mb"),
        "10",
        "not production's 25: no environment is guessed"
    );
}
