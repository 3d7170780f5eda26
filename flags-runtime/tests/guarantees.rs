//! What no input may do: stop the runtime, block it, cost without bound, or lose a change.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::*;
use flags_runtime::{Context, Runtime};

/// Runs `work` on a thread of its own and waits up to a minute: far beyond what linear work
/// takes, far below what exponential work or a blocked read would.
fn finishes<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, waited) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    waited
        .recv_timeout(Duration::from_secs(60))
        .expect("the work finished within a minute")
}

/// `count` flags on in development, each requiring every later one.
fn ladder(count: usize) -> String {
    let mut text =
        String::from("[environments]\nnames = [\"development\"]\ndefault = \"development\"\n");
    for i in 0..count {
        let later: Vec<String> = (i + 1..count).map(|j| format!("\"f{j}\"")).collect();
        text.push_str(&format!(
            "[flags.f{i}]\ndescription = \"d\"\ndefault = false\ndevelopment = true\nrequires = [{}]\n",
            later.join(", ")
        ));
    }
    text
}

#[test]
fn the_top_of_a_prerequisite_ladder_evaluates_each_rung_once() {
    // Re-evaluating each prerequisite on every path takes 2^63 steps for 64 rungs.
    let text = ladder(flags_model::MAX_REQUIREMENT_DEPTH);
    let (on, reason) = finishes(move || {
        let vars: &'static MapVars = Box::leak(Box::default());
        let runtime = Runtime::load("flags.toml", &text, vars).expect("a valid ladder");
        let info = runtime
            .explain("f0", Some(&Context::new("u-1")))
            .expect("f0");
        (info.value().as_bool(), info.reason().to_string())
    });
    assert_eq!(on, Some(true), "{reason}");
}

#[test]
fn an_overrides_file_naming_a_pipe_or_a_device_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("overrides.toml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(
        made.is_ok_and(|status| status.success()),
        "mkfifo made a pipe"
    );
    for path in [fifo.to_str().unwrap().to_owned(), "/dev/zero".to_owned()] {
        let report = finishes(move || {
            let (registry, _) = build::<6>(FLAGS, &[("FLAGS_OVERRIDES", &path)]);
            registry.runtime().init().expect("an environment")
        });
        let problem = &report.problems()[0];
        assert!(
            problem.message().contains("not a regular file"),
            "{problem}"
        );
    }
}

#[test]
fn an_override_of_a_removed_flag_is_skipped_and_the_others_stay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overrides.toml");
    // `search_enabled` was removed from flags.toml after the file was written.
    std::fs::write(
        &path,
        "[flags.beta_enabled]\nvalue = false   # kill switch\n\n\
         [flags.search_enabled]\nvalue = true\n\n\
         [flags.max_upload_mb]\nvalue = 99\n",
    )
    .unwrap();
    let (registry, _) = build::<6>(FLAGS, &[("FLAGS_OVERRIDES", path.to_str().unwrap())]);
    let report = registry.runtime().init().expect("an environment");
    assert!(!registry.bool(BETA), "the kill switch holds");
    assert_eq!(registry.int(UPLOAD), 99);
    let problems = report.problems();
    assert_eq!(problems.len(), 1, "{report}");
    assert_eq!(problems[0].flag(), Some("search_enabled"));
    assert!(
        problems[0].source().starts_with("overrides file "),
        "{}",
        problems[0]
    );
    assert!(
        problems[0]
            .message()
            .contains("unknown flag `search_enabled`; its table is skipped"),
        "{}",
        problems[0]
    );
    // A problem with a declared flag's value names that flag too.
    std::fs::write(&path, "[flags.max_upload_mb]\nvalue = \"lots\"\n").unwrap();
    let report = registry.runtime().reload();
    assert_eq!(
        report.problems()[0].flag(),
        Some("max_upload_mb"),
        "{report}"
    );
    assert_eq!(registry.int(UPLOAD), 99, "the last good file stays");
}

#[test]
fn the_variable_naming_the_redis_store_is_not_a_bad_override() {
    let (registry, _) = build::<6>(FLAGS, &[("FLAGS_REDIS_URL", "redis://127.0.0.1:6379")]);
    let report = registry.runtime().init().expect("an environment");
    assert!(report.is_clean(), "{report}");
    let (registry, _) = build::<6>(FLAGS, &[("FLAGS_REDIS_URLS", "redis://127.0.0.1:6379")]);
    let report = registry.runtime().init().expect("an environment");
    assert!(!report.is_clean(), "a near miss is still reported");
}

const RAMPED: &str = r#"
[environments]
names = ["development", "production"]
default = "production"

[flags.search_enabled]
description = "New search, ramped up in production"
default = false
[flags.search_enabled.production]
rollout = 10
group = "w3-rollout"
bucket_by = "org_id"
"#;

/// 2,500 users in 500 organisations, and which of them have the feature.
fn who_has_it(runtime: &'static Runtime) -> Vec<bool> {
    (0..2_500)
        .map(|i| {
            let user = Context::new(format!("u-{i}")).with("org_id", format!("org-{}", i % 500));
            runtime
                .explain("search_enabled", Some(&user))
                .and_then(|info| info.value().as_bool())
                .expect("a bool flag")
        })
        .collect()
}

#[test]
fn ramping_up_through_the_overrides_file_keeps_every_user_who_had_the_feature() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overrides.toml");
    let map: &'static MapVars = Box::leak(Box::default());
    map.set("FLAGS_OVERRIDES", path.to_str().unwrap());
    let runtime = Runtime::load("flags.toml", RAMPED, map).expect("valid");
    let mut before = who_has_it(runtime);
    for percent in [25, 50, 100] {
        std::fs::write(
            &path,
            format!("[flags.search_enabled.production]\nrollout = {percent}\n"),
        )
        .unwrap();
        assert!(runtime.reload_overrides_file().is_clean());
        let after = who_has_it(runtime);
        let lost = before
            .iter()
            .zip(&after)
            .filter(|(b, a)| **b && !**a)
            .count();
        assert_eq!(lost, 0, "users lost the feature going to {percent}%");
        let share = after.iter().filter(|on| **on).count() as f64 / after.len() as f64;
        assert!(
            (share - f64::from(percent) / 100.0).abs() < 0.12,
            "{share} of users at {percent}%"
        );
        before = after;
    }
    assert!(before.iter().all(|on| *on), "everyone at 100%");
}
