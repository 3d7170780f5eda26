//! `flags remove`: the real binary on copies of `tests/fixtures/remove` (a shop with every
//! form of flag use), compared with the snapshots in `tests/fixtures/remove.expected`, and
//! rewritten crates built by cargo: the fixture kept on and off, and the project's own
//! `examples/task_comments` with its comments released to everyone.
//!
//! `FLAGS_REGENERATE=1 cargo test -p flags-cli --test remove` rewrites the snapshots.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{flags, project, run};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/remove")
}

/// Every file below `dir`, relative to it, in path order.
fn files(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("a directory")
            .map(|e| e.expect("an entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .expect("below the root")
                        .to_path_buf(),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Asserts that every file of `dir` is the snapshot of `case`, or the fixture's when the
/// snapshot has none; with FLAGS_REGENERATE, writes the snapshot instead.
fn assert_snapshot(dir: &Path, case: &str) {
    let expected = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/remove.expected")
        .join(case);
    let regenerate = std::env::var_os("FLAGS_REGENERATE").is_some();
    if regenerate {
        let _ = std::fs::remove_dir_all(&expected);
    }
    assert_eq!(files(dir), files(&fixture()), "the same files");
    for file in files(dir) {
        let actual = read(&dir.join(&file));
        let snapshot = expected.join(&file);
        if regenerate {
            if actual != read(&fixture().join(&file)) {
                std::fs::create_dir_all(snapshot.parent().expect("a parent")).expect("mkdir");
                std::fs::write(&snapshot, &actual).expect("write the snapshot");
            }
            continue;
        }
        let wanted = if snapshot.exists() {
            read(&snapshot)
        } else {
            read(&fixture().join(&file))
        };
        assert!(
            actual == wanted,
            "{case}: {} is not as expected ({}):\n{actual}",
            file.display(),
            snapshot.display()
        );
    }
}

#[test]
fn every_form_is_rewritten_as_the_snapshots_say() {
    let cases = [
        ("new_checkout_enabled", "on", "on"),
        ("NewCheckoutEnabledFeature", "off", "off"),
        ("checkout_flow", "express", "express"),
        ("checkout_flow", "legacy", "legacy"),
        ("max_upload_mb", "25", "max_upload_25"),
    ];
    for (name, keep, case) in cases {
        let dir = project("remove");
        // A dry run shows the diff and writes nothing.
        let dry = flags(dir.path(), &["remove", name, "--keep", keep, "--dry-run"]).expect(0);
        assert!(dry.stdout.starts_with("--- a/"), "{case}: {}", dry.stdout);
        assert!(
            dry.stdout.contains("\n+++ b/flags.toml\n"),
            "{case}: {}",
            dry.stdout
        );
        assert!(
            dry.stderr.contains("would remove flag"),
            "{case}: {}",
            dry.stderr
        );
        for file in files(dir.path()) {
            assert_eq!(read(&dir.path().join(&file)), read(&fixture().join(&file)));
        }
        let out = flags(dir.path(), &["remove", name, "--keep", keep]).expect(0);
        assert!(
            out.stdout.starts_with("removed flag `"),
            "{case}: {}",
            out.stdout
        );
        assert_snapshot(dir.path(), case);
    }
}

#[test]
fn the_report_names_what_went_with_the_flag() {
    let dir = project("remove");
    let out = run(dir.path(), "remove new_checkout_enabled --keep off").expect(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "removed flag `new_checkout_enabled` from flags.toml, keeping false",
            "rewrote src/lib.rs, src/web.rs, tests/checkout.rs",
            "flag `express_pay_enabled` no longer requires it (its `requires` in flags.toml)",
            "its overrides left flags.overrides.toml",
            "removed with it (look at them):",
            "  src/lib.rs:135: removed test `the_new_checkout_counts_double`: it stubs the flag to `true`",
            "  src/web.rs:13: removed fn `new_page`: only the removed code called it",
            "  src/web.rs:17: removed handler `express`: it takes `Enabled<NewCheckoutEnabledFeature>`, which no request has any more; its routes go too",
            "  tests/checkout.rs:9: removed test `the_new_checkout_takes_a_fee_off`: it asserts the flag is not false",
            "  tests/checkout.rs:31: removed test `gated_fns_follow_the_flag`: it stubs the flag to `true`",
            "next: cargo check --all-targets && cargo test",
        ]
    );
}

#[test]
fn what_cannot_be_rewritten_is_listed_with_its_line_and_fails() {
    let dir = project("remove");
    std::fs::write(
        dir.path().join("src/kept.rs"),
        "use crate::{CheckoutFlow, Flags};\n\npub fn flow() -> CheckoutFlow {\n    Flags::checkout_flow()\n}\n\npub fn explain() {\n    let _ = Flags::runtime().explain(\"checkout_flow\", None);\n}\n",
    )
    .expect("write a source");
    let out = run(dir.path(), "remove checkout_flow --keep express").expect(1);
    assert!(
        out.stdout.contains(
            "left to change by hand (the code does not build until they are):\n  src/kept.rs:1: uses `CheckoutFlow`, which goes away with the flag: `use crate::{CheckoutFlow, Flags};`\n  src/kept.rs:3: uses `CheckoutFlow`, which goes away with the flag: `pub fn flow() -> CheckoutFlow {`\n  src/kept.rs:4: holds a value of `CheckoutFlow`, which goes away with the flag\n  src/kept.rs:8: still names the flag: `let _ = Flags::runtime().explain(\"checkout_flow\", None);`"
        ),
        "{}",
        out.stdout
    );
    // What could be rewritten was, and the flag left flags.toml.
    assert!(!read(&dir.path().join("flags.toml")).contains("checkout_flow"));
    assert!(!read(&dir.path().join("src/lib.rs")).contains("CheckoutFlow"));
}

#[test]
fn what_runs_before_the_flag_is_kept() {
    let dir = project("remove");
    let source = "use crate::Flags;\n\n\
        pub fn audited(log: &mut Vec<&'static str>, staff: bool) -> (bool, bool) {\n    \
        (record(log) && Flags::new_checkout_enabled(), staff && Flags::new_checkout_enabled())\n}\n\n\
        fn record(log: &mut Vec<&'static str>) -> bool {\n    log.push(\"checked\");\n    true\n}\n";
    std::fs::write(dir.path().join("src/effects.rs"), source).expect("write a source");
    let out = run(dir.path(), "remove new_checkout_enabled --keep off").expect(0);
    assert!(
        out.stdout.contains(
            "kept as written, to keep what runs before the flag (look at them):\n  src/effects.rs:2: is always `false` now, but `record(log)` runs first and may have side effects: kept as written"
        ),
        "{}",
        out.stdout
    );
    let rewritten = read(&dir.path().join("src/effects.rs"));
    assert!(
        rewritten.contains("(record(log) && false, false)"),
        "the call still runs; a plain variable is simplified away:\n{rewritten}"
    );
}

#[test]
fn a_request_that_cannot_be_carried_out_changes_nothing() {
    let dir = project("remove");
    let unchanged = || {
        for file in files(dir.path()) {
            assert_eq!(read(&dir.path().join(&file)), read(&fixture().join(&file)));
        }
    };
    let out = run(dir.path(), "remove new_chekout_enabled --keep on").expect(1);
    assert!(
        out.stderr.contains(
            "unknown flag `new_chekout_enabled`; did you mean `new_checkout_enabled`? in flags.toml"
        ),
        "{}",
        out.stderr
    );
    let out = run(dir.path(), "remove max_upload_mb --keep lots").expect(1);
    assert!(
        out.stderr
            .contains("flag `max_upload_mb` cannot keep `lots`: expected an integer"),
        "{}",
        out.stderr
    );
    let out = run(dir.path(), "remove checkout_flow --keep expres").expect(1);
    assert!(
        out.stderr.contains("did you mean `express`?"),
        "{}",
        out.stderr
    );
    unchanged();
    let out = flags(dir.path(), &["remove", "new_checkout_enabled"]).expect(2);
    assert!(out.stderr.contains("--keep"), "{}", out.stderr);
    unchanged();
}

/// The target directory of this build: crates built here share its dependencies.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .to_path_buf()
}

/// Runs cargo in `dir`, offline, sharing this build's target directory.
fn cargo(dir: &Path, args: &[&str]) -> Output {
    let (command, rest) = args.split_first().expect("a cargo command");
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([command, "--offline"])
        .args(rest)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("APP_ENV")
        .output()
        .expect("run cargo");
    assert!(
        output.status.success(),
        "cargo {args:?} in {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn the_fixture_kept_on_and_kept_off_builds_without_warnings() {
    let workspace = tempfile::tempdir().expect("a temporary directory");
    let removals: [(&str, &[(&str, &str)]); 3] = [
        ("original", &[]),
        (
            "on",
            &[
                ("new_checkout_enabled", "on"),
                ("checkout_flow", "express"),
                ("max_upload_mb", "25"),
            ],
        ),
        (
            "off",
            &[
                ("new_checkout_enabled", "off"),
                ("checkout_flow", "legacy"),
                ("max_upload_mb", "10"),
            ],
        ),
    ];
    for (member, steps) in removals {
        let dir = workspace.path().join(member);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let copy = project("remove");
        for file in files(copy.path()) {
            std::fs::create_dir_all(dir.join(&file).parent().expect("a parent")).expect("mkdir");
            std::fs::copy(copy.path().join(&file), dir.join(&file)).expect("copy");
        }
        for (name, keep) in steps {
            flags(&dir, &["remove", name, "--keep", keep]).expect(0);
        }
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"shop_{member}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
                 [lib]\nname = \"shop\"\n\n[dependencies]\naxum = {{ version = \"0.8\", default-features = false }}\n\
                 flags = {{ path = {ROOT:?}, features = [\"axum\"] }}\ntokio = {{ version = \"1\", features = [\"macros\", \"rt\"] }}\n"
            ),
        )
        .expect("write Cargo.toml");
    }
    let on = read(&workspace.path().join("on/flags.toml"));
    assert!(on.contains("[flags.express_pay_enabled]") && !on.contains("checkout_flow"));
    std::fs::write(
        workspace.path().join("Cargo.toml"),
        "[workspace]\nmembers = [\"original\", \"on\", \"off\"]\nresolver = \"3\"\n",
    )
    .expect("write the workspace");
    std::fs::copy(
        Path::new(ROOT).join("Cargo.lock"),
        workspace.path().join("Cargo.lock"),
    )
    .expect("copy Cargo.lock");
    let output = cargo(
        workspace.path(),
        &[
            "check",
            "--workspace",
            "--all-targets",
            "--message-format=short",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning")).collect();
    assert!(warnings.is_empty(), "{stderr}");
}

/// What a plain HTTP/1.1 GET of `path` as `user` answers: the status line and the body.
fn get(address: &str, path: &str, user: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connect to the service");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nx-user-id: {user}\r\nConnection: close\r\n\r\n"
    )
    .expect("send a request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    let status = response.lines().next().unwrap_or_default().to_owned();
    (status, response)
}

/// The project's own service, its comments flag retired with `--keep on`: it builds, its
/// tests pass, and in production every user has comments.
#[test]
fn task_comments_with_comments_for_everyone() {
    let example = Path::new(ROOT).join("examples/task_comments");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let copy = dir.path().join("task_comments");
    for file in files(&example) {
        let target = copy.join(&file);
        std::fs::create_dir_all(target.parent().expect("a parent")).expect("mkdir");
        std::fs::copy(example.join(&file), &target).expect("copy");
    }
    // A crate of its own: the workspace's flags.toml beside it, the workspace's crates by
    // absolute path, and a binary of another name, so that it does not replace the
    // workspace's own in the shared target directory.
    std::fs::copy(Path::new(ROOT).join("flags.toml"), copy.join("flags.toml"))
        .expect("copy flags.toml");
    std::fs::copy(Path::new(ROOT).join("Cargo.lock"), copy.join("Cargo.lock"))
        .expect("copy Cargo.lock");
    let edit = |file: &str, from: &str, to: &str| {
        let path = copy.join(file);
        let text = read(&path);
        assert!(text.contains(from), "{file} has `{from}`");
        std::fs::write(&path, text.replace(from, to)).expect("edit the copy");
    };
    let manifest = read(&copy.join("Cargo.toml"));
    let manifest = manifest
        .replace(
            "name = \"task_comments\"",
            "name = \"task_comments_retired\"",
        )
        .replace(".workspace = true", " = \"0.1.0\"")
        .replace("edition = \"0.1.0\"", "edition = \"2024\"")
        .replace("rust-version = \"0.1.0\"", "rust-version = \"1.85\"")
        .replace("license = \"0.1.0\"", "license = \"MIT OR Apache-2.0\"")
        .replace("path = \"../..\"", &format!("path = {ROOT:?}"));
    std::fs::write(
        copy.join("Cargo.toml"),
        format!("{manifest}\n[lib]\nname = \"task_comments\"\n\n[workspace]\n"),
    )
    .expect("write Cargo.toml");
    edit(
        "src/lib.rs",
        "flags::declare!(\"../../flags.toml\");",
        "flags::declare!();",
    );
    let redis_server = Path::new(ROOT).join("flags-runtime/tests/common/redis_server.rs");
    edit(
        "tests/http.rs",
        "\"../../../flags-runtime/tests/common/redis_server.rs\"",
        &format!("{:?}", redis_server.display().to_string()),
    );
    edit(
        "tests/browser.rs",
        "\"../../../flags-runtime/tests/common/redis_server.rs\"",
        &format!("{:?}", redis_server.display().to_string()),
    );
    let webdriver = Path::new(ROOT).join("flags-console/tests/common/webdriver.rs");
    edit(
        "tests/browser.rs",
        "\"../../../flags-console/tests/common/webdriver.rs\"",
        &format!("{:?}", webdriver.display().to_string()),
    );
    for test in ["tests/http.rs", "tests/help.rs", "tests/browser.rs"] {
        edit(
            test,
            "CARGO_BIN_EXE_task_comments",
            "CARGO_BIN_EXE_task_comments_retired",
        );
    }

    let out = run(&copy, "remove product-TASKS-103-comments --keep on").expect(0);
    assert!(
        out.stdout
            .contains("rewrote src/lib.rs, tests/in_process.rs"),
        "{}",
        out.stdout
    );
    for expected in [
        "removed test `with_the_feature_stubbed_off_even_staff_get_no_link_and_404`",
        "removed test `two_servers_with_opposite_values_never_see_each_others`",
        "removed fn `serve`",
        "names it in a string or a comment (look at them):\n  src/lib.rs:2: //! `product-TASKS-103-comments` flag",
        "  tests/http.rs:267: .find(|c| c[\"flag\"] == \"product-TASKS-103-comments\"",
    ] {
        assert!(out.stdout.contains(expected), "{expected}:\n{}", out.stdout);
    }
    let lib = read(&copy.join("src/lib.rs"));
    assert!(
        !lib.contains(".layer(FeatureGate") && !lib.contains("Flags::product_tasks_103_comments"),
        "{lib}"
    );
    assert!(!read(&copy.join("flags.toml")).contains("product-TASKS-103-comments"));

    let output = cargo(&copy, &["check", "--all-targets", "--message-format=short"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.lines().any(|l| l.contains("warning")), "{stderr}");
    // tests/http.rs asserts how the release went in production: outsiders had no comments
    // until added to `beta`. That is the behaviour the removal ends, so those tests are
    // left out; the one that needs Redis too.
    cargo(
        &copy,
        &[
            "test",
            "--",
            "--skip",
            "in_production_only_staff_have_comments",
            "--skip",
            "the_admin_webhook_needs_the_token",
            "--skip",
            "with_a_redis_store",
            // The live page's link follows the flag in the browser, through OFREP by the
            // flag's key: that too ends with the flag (the removal lists the key's strings).
            "--skip",
            "the_comments_link_follows_the_flag_in_the_browser",
            "--skip",
            "the_live_page_and_its_ofrep_answer_as_the_gate",
        ],
    );

    let binary = target_dir().join("debug").join(format!(
        "task_comments_retired{}",
        std::env::consts::EXE_SUFFIX
    ));
    let mut service = Command::new(&binary)
        .env_clear()
        .env("APP_ENV", "production")
        .env("PORT", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the service starts");
    let mut line = String::new();
    let stdout = service.stdout.take().expect("its output");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
        .expect("it prints its address");
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .map(str::to_owned);
    let results = address.map(|address| {
        ["u-1", "u-2", "u-3"].map(|user| {
            let (_, tasks) = get(&address, "/tasks", user);
            let (status, _) = get(&address, "/api/tasks/1/comments", user);
            (user, tasks.contains("Comments</a>"), status)
        })
    });
    let _ = service.kill();
    let _ = service.wait();
    let results = results.unwrap_or_else(|| panic!("no address in {line:?}"));
    for (user, link, status) in results {
        assert!(link, "{user} has the Comments link in production");
        assert_eq!(
            status, "HTTP/1.1 200 OK",
            "{user} reads the comments in production"
        );
    }
}

#[test]
fn a_long_chain_of_fields_is_rewritten_without_running_out_of_stack() {
    // 3,500 fields nest 3,500 expressions deep without a bracket: printing them recursed past
    // the main thread's stack in a debug build.
    let dir = project("remove");
    let chain = format!(
        "pub fn chained(x: &Deep) -> bool {{ Flags::new_checkout_enabled() && x{}.on }}\n",
        ".next".repeat(3_500)
    );
    std::fs::write(dir.path().join("src/chain.rs"), chain).expect("write src/chain.rs");
    let out = run(
        dir.path(),
        "remove new_checkout_enabled --keep on --dry-run",
    );
    assert!(
        !out.stderr.contains("overflow"),
        "exit {}: {}",
        out.code,
        out.stderr
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("+++ b/src/chain.rs"), "{}", out.stdout);
}
