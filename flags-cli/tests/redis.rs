//! `--redis URL` on `set`, `unset` and `list`, `flags segment` and `flags store`, against a
//! real `redis-server` of the test's own, with a process of the test following the store.

mod common;
#[path = "../../flags-runtime/tests/common/redis_server.rs"]
mod redis_server;

use std::time::{Duration, Instant};

use common::{Run, flags_with, project};
use flags_runtime::store::{FollowStatus, HeldBack, RedisFollower, RedisOptions, StoreExport};
use flags_runtime::{Context, Runtime, Value, Vars};
use redis_server::RedisServer;

#[test]
fn set_unset_list_and_segments_go_to_the_store_checked_first() {
    let Some(server) = RedisServer::start("cli_store") else {
        return;
    };
    let dir = project("clean");
    let url = server.url();
    let port = url.rsplit(':').next().expect("a port").to_owned();
    let flags = |args: &[&str]| flags_with(dir.path(), args, &[("FLAGS_REDIS_URL", &url)]);

    let set = flags(&["set", "max_upload_mb", "30", "--env", "production"]).expect(0);
    assert_eq!(
        set.stdout,
        format!(
            "set `max_upload_mb` to 30 in `production` in redis 127.0.0.1:{port} \
             (flags:v1:production:overrides field `max_upload_mb`, version 1)\n\
             processes that follow the store apply it at once; others at their next resync\n"
        )
    );
    // Without --env: the environment APP_ENV names, else the catalog's default.
    let default = flags(&["set", "checkout_flow", "express"]).expect(0);
    assert!(default.stdout.contains("in `development`"), "{default:?}");
    let staging = flags_with(
        dir.path(),
        &["set", "checkout_flow", "one_page", "--redis", &url],
        &[("APP_ENV", "staging")],
    )
    .expect(0);
    assert!(staging.stdout.contains("in `staging`"), "{staging:?}");

    // Refused before anything is written.
    let refused = flags(&["set", "max_upload_mb", "lots", "--env", "production"]).expect(1);
    assert_eq!(
        refused.stderr,
        "error: flag `max_upload_mb` cannot be set to `lots`: expected an integer, found `lots`; \
         the store is left as it was\n"
    );
    flags(&["set", "max_upload_mb", "3", "--env", "prod"]).expect(1);
    flags(&["segment", "add", "intrnal", "u-1", "--env", "production"]).expect(1);

    let added = flags(&["segment", "add", "internal", "u-9", "--env", "production"]).expect(0);
    assert!(
        added
            .stdout
            .starts_with("added `u-9` to segment `internal` in `production`"),
        "{added:?}"
    );
    flags(&[
        "segment",
        "remove",
        "internal",
        "u-8",
        "--env",
        "production",
    ])
    .expect(0);
    let keys = flags(&["segment", "list", "internal", "--env", "production"]).expect(0);
    assert_eq!(
        keys.stdout,
        "u-9  (added in the store)\nu-8  (removed in the store)\n"
    );

    // A key with an escape sequence, as a webhook may add one: shown, never obeyed.
    let hostile = "u-\u{1b}[2J\u{7}";
    let added = flags(&["segment", "add", "internal", hostile, "--env", "staging"]).expect(0);
    let listed = flags(&["segment", "list", "internal", "--env", "staging"]).expect(0);
    for shown in [&added.stdout, &listed.stdout] {
        assert!(!shown.contains(['\u{1b}', '\u{7}']), "{shown:?}");
        assert!(shown.contains("u-\\u{1b}[2J\\u{7}"), "{shown}");
    }

    let listed = flags(&["list", "--env", "production", "--format", "json"]).expect(0);
    let json = listed.json();
    assert_eq!(json["environment"], "production");
    assert_eq!(json["version"], 3, "each environment counts its own writes");
    assert_eq!(json["overrides"][0]["flag"], "max_upload_mb");
    assert_eq!(json["overrides"][0]["value"], 30);
    assert_eq!(json["segments"][0]["added"][0], "u-9");

    let unset = flags(&["unset", "max_upload_mb", "--env", "production"]).expect(0);
    assert!(
        unset
            .stdout
            .starts_with("removed the override of `max_upload_mb` in `production`"),
        "{unset:?}"
    );
    let again = flags(&["unset", "max_upload_mb", "--env", "production"]).expect(0);
    assert!(again.stdout.starts_with("nothing to unset"), "{again:?}");
    let text = flags(&["list", "--env", "production"]).expect(0);
    let identity = json["store"]
        .as_str()
        .expect("the store's identity")
        .to_owned();
    assert_eq!(json["awaiting_restore"], serde_json::Value::Null);
    assert_eq!(
        text.stdout,
        format!(
            "redis 127.0.0.1:{port}, environment `production`, store {identity}, version 4\n\
             no overrides\nsegment internal: added u-9; removed u-8\n"
        )
    );
}

#[test]
fn an_unreachable_store_breaks_the_command_and_segments_need_one() {
    let dir = project("clean");
    let down = flags_with(
        dir.path(),
        &[
            "set",
            "max_upload_mb",
            "3",
            "--redis",
            "redis://127.0.0.1:1",
        ],
        &[],
    )
    .expect(2);
    assert!(
        down.stderr.starts_with("error: Redis at 127.0.0.1:1: "),
        "{down:?}"
    );
    let no_store = flags_with(dir.path(), &["segment", "add", "internal", "u-1"], &[]).expect(1);
    assert_eq!(
        no_store.stderr,
        "error: segment changes go to the Redis store: pass --redis URL or set FLAGS_REDIS_URL\n"
    );
    // Without a store, the file is written as before.
    let file = flags_with(
        dir.path(),
        &["set", "max_upload_mb", "3"],
        &[("FLAGS_REDIS_URL", "")],
    )
    .expect(0);
    assert!(file.stdout.contains("flags.overrides.toml"), "{file:?}");
}

// ---- `flags store`: after the store came back empty, and backups. ----

/// How long a test waits for what a busy machine may delay: far longer than it takes.
const LONG: Duration = Duration::from_secs(20);

/// The variables of the following process: production.
struct Production;

impl Vars for Production {
    fn get(&self, name: &str) -> Option<Result<String, String>> {
        (name == "APP_ENV").then(|| Ok("production".to_owned()))
    }
    fn names_with_prefix(&self, _prefix: &str) -> Vec<String> {
        Vec::new()
    }
}

/// A process following the store of `production`, with the fixture's flags.toml.
fn follower(dir: &std::path::Path, url: &str) -> (&'static Runtime, RedisFollower) {
    static VARS: Production = Production;
    let text = std::fs::read_to_string(dir.join("flags.toml")).expect("the fixture");
    let runtime = Runtime::load("flags.toml", &text, &VARS).expect("a valid flags.toml");
    let follower = runtime
        .follow_redis(RedisOptions::new(url).max_backoff(Duration::from_millis(200)))
        .expect("a valid URL");
    (runtime, follower)
}

fn wait_for(follower: &RedisFollower, what: &str, condition: impl Fn(&FollowStatus) -> bool) {
    let deadline = Instant::now() + LONG;
    while !condition(&follower.status()) {
        assert!(
            Instant::now() < deadline,
            "not within {LONG:?}: {what}; {:#?}",
            follower.status()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn value(runtime: &'static Runtime, flag: &str, context: Option<&Context>) -> Value {
    let context = context.map(|c| c as &dyn flags_runtime::AnyContext);
    runtime
        .explain(flag, context)
        .expect("a declared flag")
        .value()
        .clone()
}

fn staff() -> Context {
    Context::new("u-1").with("email", "ann@example.com")
}

/// A project, a store, a follower with a kill switch set, and the store restarted without
/// its data: the follower keeps the kill switch.
struct Incident {
    dir: tempfile::TempDir,
    server: RedisServer,
    runtime: &'static Runtime,
    follower: RedisFollower,
}

impl Incident {
    fn new(test: &str) -> Option<Incident> {
        let server = RedisServer::start(test)?;
        let dir = project("clean");
        let (runtime, follower) = follower(dir.path(), &server.url());
        let mut incident = Incident {
            dir,
            server,
            runtime,
            follower,
        };
        incident
            .flags(&[
                "set",
                "new_checkout_enabled",
                "false",
                "--env",
                "production",
            ])
            .expect(0);
        incident
            .flags(&["segment", "add", "internal", "u-9", "--env", "production"])
            .expect(0);
        wait_for(&incident.follower, "applied", |s| s.version == 2);
        assert_eq!(
            value(runtime, "new_checkout_enabled", Some(&staff())),
            Value::Bool(false)
        );

        incident.server.kill();
        incident.server.restart();
        wait_for(&incident.follower, "held back", |s| {
            s.held_back == Some(HeldBack::Emptied) && s.awaiting_restore
        });
        assert_eq!(
            value(runtime, "new_checkout_enabled", Some(&staff())),
            Value::Bool(false),
            "the kill switch stays"
        );
        Some(incident)
    }

    fn flags(&self, args: &[&str]) -> Run {
        flags_with(
            self.dir.path(),
            args,
            &[("FLAGS_REDIS_URL", &self.server.url())],
        )
    }

    fn port(&self) -> String {
        self.server
            .url()
            .rsplit(':')
            .next()
            .expect("a port")
            .to_owned()
    }
}

#[test]
fn restore_recovered_puts_back_what_a_follower_kept_and_later_changes_arrive() {
    let Some(incident) = Incident::new("cli_restore_recovered") else {
        return;
    };
    let port = incident.port();
    let report: Vec<String> = incident
        .runtime
        .report()
        .problems()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(report.len(), 1, "{report:#?}");
    assert!(report[0].contains("came back empty"), "{}", report[0]);

    // What an operator sees: the store listed, and writes refused.
    let listed = incident.flags(&["list", "--env", "production"]).expect(1);
    assert!(
        listed.stdout.starts_with(&format!(
            "redis 127.0.0.1:{port}, environment `production`, store without identity (never \
             written), version 0\nTHE STORE AWAITS A RESTORE: a process that follows it found it \
             emptied, replaced or gone back, and keeps the values it held instead (the recovery \
             record flags:v1:production:recovery holds them: store "
        )) && listed.stdout.contains(
            " at version 2, 1 override(s): new_checkout_enabled); writes are refused. Put them \
             back with `flags store restore --recovered --env production`, or accept the store as \
             it is with `flags store reset --confirm --env production`"
        ),
        "{listed:#?}"
    );
    let json = incident
        .flags(&["list", "--env", "production", "--format", "json"])
        .expect(1)
        .json();
    assert_eq!(json["awaiting_restore"]["version"], 2);
    assert_eq!(
        json["awaiting_restore"]["overrides"][0],
        "new_checkout_enabled"
    );
    let refused = incident
        .flags(&["set", "max_upload_mb", "40", "--env", "production"])
        .expect(1);
    assert!(
        refused
            .stderr
            .starts_with("error: the store of `production` awaits a restore: ")
            && refused.stderr.contains("nothing was written"),
        "{refused:#?}"
    );
    let exported = incident
        .flags(&["store", "export", "--recovered", "--env", "production"])
        .expect(0);
    let record = StoreExport::parse("record", &exported.stdout).expect("a document");
    assert_eq!(record.segments[0].added, ["u-9"]);

    // A dry run first: what would change, nothing written.
    let preview = incident
        .flags(&[
            "store",
            "restore",
            "--recovered",
            "--dry-run",
            "--env",
            "production",
        ])
        .expect(0);
    assert_eq!(
        preview.stdout,
        format!(
            "would restore the store of `production` in redis 127.0.0.1:{port} from the recovery \
             record (was without identity at version 0); nothing is written (--dry-run)\n  \
             added: new_checkout_enabled\n  segment internal: added u-9 (was none); removed none \
             (was none)\n"
        )
    );
    incident.flags(&["list", "--env", "production"]).expect(1);

    let restored = incident
        .flags(&["store", "restore", "--recovered", "--env", "production"])
        .expect(0);
    let first = restored.stdout.lines().next().expect("a line");
    assert!(
        first.starts_with(&format!(
            "restored the store of `production` in redis 127.0.0.1:{port} from the recovery \
             record: store "
        )) && first.ends_with(" at version 3 (was without identity at version 0)"),
        "{restored:#?}"
    );
    assert!(
        restored.stdout.ends_with(
            "\n  added: new_checkout_enabled\n  segment internal: added u-9 (was none); removed \
             none (was none)\nthe store no longer awaits a restore: writes are accepted again\n\
             processes that follow the store apply it at once; others at their next resync\n"
        ),
        "{restored:#?}"
    );
    wait_for(&incident.follower, "followed again", |s| {
        s.held_back.is_none() && !s.awaiting_restore
    });
    assert!(incident.runtime.report().is_clean());
    assert_eq!(
        value(incident.runtime, "new_checkout_enabled", Some(&staff())),
        Value::Bool(false)
    );
    assert_eq!(
        incident.runtime.segment_keys("internal").expect("declared"),
        ["u-9"]
    );

    // Writes are accepted again and reach the follower.
    incident
        .flags(&["set", "max_upload_mb", "40", "--env", "production"])
        .expect(0);
    wait_for(&incident.follower, "a later change", |s| s.version == 4);
    assert_eq!(
        value(incident.runtime, "max_upload_mb", None),
        Value::Int(40)
    );
    incident.flags(&["list", "--env", "production"]).expect(0);
}

#[test]
fn reset_confirm_makes_followers_follow_the_store_as_it_came_back() {
    let Some(incident) = Incident::new("cli_reset_confirm") else {
        return;
    };
    let refused = incident
        .flags(&["store", "reset", "--env", "production"])
        .expect(1);
    assert!(
        refused.stderr.starts_with(
            "error: a reset accepts the store of `production` as it is (version 0, 0 \
             override(s)) as the fleet's truth: every process that follows it drops the values \
             it kept and follows the store again. The recovery record holds the values a \
             follower kept (store "
        ) && refused.stderr.ends_with(
            "To put the kept values back instead: `flags store restore --recovered --env \
             production`. To reset, run again with --confirm\n"
        ),
        "{refused:#?}"
    );
    incident.flags(&["list", "--env", "production"]).expect(1);

    let reset = incident
        .flags(&["store", "reset", "--confirm", "--env", "production"])
        .expect(0);
    assert!(
        reset.stdout.contains(" at version 1 (was without identity); every process that follows it follows it as it is\n")
            && reset.stdout.contains(" at version 2 are given up (new_checkout_enabled)\n"),
        "{reset:#?}"
    );
    // Deliberately: the kill switch and the segment member are gone.
    wait_for(&incident.follower, "followed again", |s| {
        s.held_back.is_none() && !s.awaiting_restore
    });
    assert_eq!(
        value(incident.runtime, "new_checkout_enabled", Some(&staff())),
        Value::Bool(true)
    );
    assert!(incident.runtime.report().is_clean());
    incident
        .flags(&["set", "max_upload_mb", "41", "--env", "production"])
        .expect(0);
    wait_for(&incident.follower, "a later change", |s| s.version == 2);
}

#[test]
fn export_to_a_file_and_restore_it_checked_against_flags_toml() {
    let Some(server) = RedisServer::start("cli_export_restore") else {
        return;
    };
    let dir = project("clean");
    let url = server.url();
    let flags = |args: &[&str]| flags_with(dir.path(), args, &[("FLAGS_REDIS_URL", &url)]);
    flags(&["set", "max_upload_mb", "30", "--env", "production"]).expect(0);
    flags(&["set", "checkout_flow", "express", "--env", "production"]).expect(0);
    flags(&["segment", "add", "internal", "u-1", "--env", "production"]).expect(0);

    let printed = flags(&["store", "export", "--env", "production"]).expect(0);
    let written = flags(&[
        "store",
        "export",
        "--env",
        "production",
        "--output",
        "backup.toml",
    ])
    .expect(0);
    assert!(
        written
            .stderr
            .starts_with("exported the store of `production` from redis 127.0.0.1:")
            && written.stderr.ends_with(
                ", version 3): 2 override(s), 1 segment(s) with members, to backup.toml\n"
            ),
        "{written:#?}"
    );
    let backup = std::fs::read_to_string(dir.path().join("backup.toml")).expect("written");
    assert_eq!(backup, printed.stdout);
    assert!(
        backup.contains(
            "[overrides]\ncheckout_flow = \"\"\"\n[flags.\"checkout_flow\"]\nvalue = \"express\"\n\"\"\"\n"
        ) && backup.contains("\n[segments.internal]\nadded = [\"u-1\"]\nremoved = []\n"),
        "{backup}"
    );

    // Changed since: the restore says what it puts back.
    flags(&["set", "max_upload_mb", "31", "--env", "production"]).expect(0);
    flags(&["unset", "checkout_flow", "--env", "production"]).expect(0);
    flags(&["set", "express_pay_enabled", "true", "--env", "production"]).expect(0);
    flags(&[
        "segment",
        "remove",
        "internal",
        "u-1",
        "--env",
        "production",
    ])
    .expect(0);
    let restored = flags(&["store", "restore", "backup.toml", "--env", "production"]).expect(0);
    // No recovery record: nothing about writes being accepted again.
    assert!(
        restored.stdout.contains(" at version 8 (was ")
            && restored.stdout.ends_with(
                "\n  added: checkout_flow\n  changed: max_upload_mb\n  removed: \
                 express_pay_enabled\n  segment internal: added u-1 (was none); removed none \
                 (was u-1)\nprocesses that follow the store apply it at once; others at their \
                 next resync\n"
            ),
        "{restored:#?}"
    );
    let again = flags(&["store", "export", "--env", "production"]).expect(0);
    let (before, after) = (
        StoreExport::parse("before", &backup).expect("a document"),
        StoreExport::parse("after", &again.stdout).expect("a document"),
    );
    assert_eq!(
        (&after.overrides, &after.segments),
        (&before.overrides, &before.segments)
    );

    // Refused with the line, nothing written: a value of the wrong type, and not TOML.
    let bad = backup.replace("value = 30", "value = \"lots\"");
    std::fs::write(dir.path().join("bad.toml"), &bad).expect("written");
    let line = bad
        .lines()
        .position(|l| l == "max_upload_mb = \"\"\"")
        .expect("the entry")
        + 1;
    let refused = flags(&["store", "restore", "bad.toml", "--env", "production"]).expect(1);
    assert!(
        refused.stderr.starts_with(&format!(
            "error: bad.toml cannot be restored: override of `max_upload_mb` (bad.toml:{line}): "
        )) && refused.stderr.contains("must be an integer")
            && refused.stderr.ends_with("\nnothing was written\n"),
        "{refused:#?}"
    );
    std::fs::write(
        dir.path().join("broken.toml"),
        "environment = \"production\"\nversion = \n",
    )
    .expect("written");
    let broken = flags(&["store", "restore", "broken.toml", "--env", "production"]).expect(1);
    assert!(
        broken
            .stderr
            .starts_with("error: broken.toml cannot be restored: not TOML: ")
            && broken.stderr.contains("--> broken.toml:2:"),
        "{broken:#?}"
    );
    let unchanged = flags(&["store", "export", "--env", "production"]).expect(0);
    assert_eq!(unchanged.stdout, again.stdout, "nothing was written");
    flags(&["store", "export", "--recovered", "--env", "production"]).expect(1);
    flags(&["store", "restore", "--recovered", "--env", "production"]).expect(1);
    let staging = flags(&["store", "restore", "backup.toml", "--env", "staging"]).expect(1);
    assert!(
        staging.stderr.contains("restore it with --env production"),
        "{staging:#?}"
    );
}

#[test]
fn check_with_redis_finds_leftover_and_skipped_entries_in_the_store() {
    let Some(server) = RedisServer::start("cli_check_store") else {
        return;
    };
    let dir = project("clean");
    let url = server.url();
    let flags = |args: &[&str]| flags_with(dir.path(), args, &[]);
    flags(&[
        "set",
        "max_upload_mb",
        "30",
        "--env",
        "production",
        "--redis",
        &url,
    ])
    .expect(0);
    let clean = flags(&["check", "--redis", &url, "--env", "production"]).expect(0);
    assert!(clean.stdout.contains("no problems"), "{clean:?}");

    // Written around the API, as redis-cli would: a flag removed since, and a bad value.
    let mut raw = redis::Client::open(url.as_str())
        .expect("a URL")
        .get_connection()
        .expect("connect");
    let _: () = redis::cmd("HSET")
        .arg("flags:v1:production:overrides")
        .arg("old_search_enabled")
        .arg("[flags.old_search_enabled]\nvalue = true\n")
        .arg("checkout_flow")
        .arg("[flags.checkout_flow]\nvalue = \"fastest\"\n")
        .query(&mut raw)
        .expect("HSET");
    let run = flags(&[
        "check",
        "--redis",
        &url,
        "--env",
        "production",
        "--format",
        "json",
    ])
    .expect(1);
    let findings: Vec<(String, String)> = run.json()["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["lint"].as_str().unwrap_or("error").to_owned(),
                f["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(findings.len(), 2, "{findings:#?}");
    assert_eq!(findings[0].0, "error");
    assert!(
        findings[0].1.starts_with(
            "flags:v1:production:overrides field `checkout_flow`: every process skips this entry"
        ),
        "{findings:#?}"
    );
    assert_eq!(findings[1].0, "leftover");
    assert!(
        findings[1].1.starts_with(
            "flags:v1:production:overrides field `old_search_enabled`: unknown flag `old_search_enabled`"
        ),
        "{findings:#?}"
    );
    // The leftover alone is a warning, an error with --deny warnings.
    let _: () = redis::cmd("HDEL")
        .arg("flags:v1:production:overrides")
        .arg("checkout_flow")
        .query(&mut raw)
        .expect("HDEL");
    flags(&["check", "--redis", &url, "--env", "production"]).expect(0);
    flags(&[
        "check",
        "--redis",
        &url,
        "--env",
        "production",
        "--deny",
        "warnings",
    ])
    .expect(1);
}

#[test]
fn writes_name_their_actor_and_flags_log_shows_them_newest_first() {
    let Some(server) = RedisServer::start("cli_log") else {
        return;
    };
    let dir = project("clean");
    let url = server.url();
    let flags = |args: &[&str]| {
        flags_with(
            dir.path(),
            args,
            &[("FLAGS_REDIS_URL", &url), ("FLAGS_ACTOR", "oncall-ada")],
        )
    };
    flags(&["set", "max_upload_mb", "30", "--env", "production"]).expect(0);
    flags(&["set", "max_upload_mb", "lots", "--env", "production"]).expect(1);
    flags(&["segment", "add", "internal", "u-9", "--env", "staging"]).expect(0);
    let log = flags(&["log", "--format", "json"]).expect(0);
    let json: serde_json::Value = serde_json::from_str(&log.stdout).expect("JSON");
    let entries = json["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2, "the refused write is not logged: {json}");
    assert_eq!(entries[0]["action"], "segment add");
    assert_eq!(entries[0]["environment"], "staging");
    assert_eq!(entries[1]["flag"], "max_upload_mb");
    assert_eq!(entries[1]["after"], "30");
    assert!(
        entries
            .iter()
            .all(|e| e["actor"] == "oncall-ada" && e["via"] == "cli")
    );
    let text = flags(&["log", "--flag", "max_upload_mb", "--limit", "5"]).expect(0);
    assert_eq!(text.stdout.lines().count(), 1, "{text:?}");
    assert!(
        text.stdout.contains("oncall-ada (cli)  set max_upload_mb:"),
        "{text:?}"
    );
}

#[test]
fn many_segment_keys_from_a_file_are_one_write() {
    let Some(server) = RedisServer::start("cli_segment_file") else {
        return;
    };
    let dir = project("clean");
    let url = server.url();
    let keys: String = (0..20_000).map(|i| format!("customer-{i}\n")).collect();
    std::fs::write(dir.path().join("beta.txt"), format!("{keys}\n\n")).expect("written");
    let flags = |args: &[&str]| flags_with(dir.path(), args, &[("FLAGS_REDIS_URL", &url)]);
    let added = flags(&[
        "segment",
        "add",
        "internal",
        "u-1",
        "--keys-from",
        "beta.txt",
        "--env",
        "production",
    ])
    .expect(0);
    assert!(
        added
            .stdout
            .starts_with("added 20001 keys to segment `internal` in `production`"),
        "{added:?}"
    );
    assert!(added.stdout.contains("(version 1)"), "one write: {added:?}");
    let listed = flags(&["segment", "list", "internal", "--env", "production"]).expect(0);
    assert_eq!(listed.stdout.lines().count(), 20_001, "every key listed");
    let removed = flags(&[
        "segment",
        "remove",
        "internal",
        "--keys-from",
        "beta.txt",
        "--env",
        "production",
    ])
    .expect(0);
    assert!(removed.stdout.contains("removed 20000 keys"), "{removed:?}");
    // Neither keys nor a list of them: refused by the argument parser.
    flags(&["segment", "add", "internal", "--env", "production"]).expect(2);

    // From a pipe, as `--keys-from <(cut -f1 users.tsv)` gives: read as it comes.
    #[cfg(unix)]
    {
        let fifo = dir.path().join("keys.fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("run mkfifo");
        assert!(made.success());
        let writer = std::thread::spawn({
            let fifo = fifo.clone();
            move || std::fs::write(fifo, "piped-1\npiped-2\n").expect("write the pipe")
        });
        let added = flags(&[
            "segment",
            "add",
            "internal",
            "--keys-from",
            "keys.fifo",
            "--env",
            "production",
        ])
        .expect(0);
        writer.join().expect("the writer ends");
        assert!(added.stdout.starts_with("added 2 keys"), "{added:?}");
    }
}

#[test]
fn stale_with_redis_reads_the_audit_log_and_the_evaluation_counts() {
    let Some(server) = RedisServer::start("cli_stale_store") else {
        return;
    };
    let dir = project("clean");
    let url = server.url();
    let flags = |args: &[&str]| flags_with(dir.path(), args, &[("FLAGS_REDIS_URL", &url)]);
    // Every environment now serves 25, each store's audit log saying so.
    for env in ["development", "staging", "production"] {
        flags(&["set", "max_upload_mb", "25", "--env", env]).expect(0);
    }
    // Changed just now: not stale after 30 days' quiet, stale after none.
    let run = flags(&["stale", "--format", "json"]).expect(0);
    assert_eq!(run.json()["stale"], serde_json::json!([]), "{run:?}");
    let run = flags(&["stale", "--days", "0", "--format", "json"]).expect(1);
    let stale = &run.json()["stale"];
    assert_eq!(stale.as_array().map(Vec::len), Some(1), "{run:?}");
    assert_eq!(stale[0]["flag"], "max_upload_mb");
    assert_eq!(stale[0]["reasons"][0]["source"], "audit log");
    assert_eq!(stale[0]["command"], "flags remove max_upload_mb --keep 25");

    // A process reports counts for one flag: every other flag was not evaluated.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let mut raw = redis::Client::open(url.as_str())
        .expect("a URL")
        .get_connection()
        .expect("connect");
    let _: () = redis::pipe()
        .hset(
            format!(
                "flags:v1:production:counts:hour:{}:checkout_flow",
                now / 3600
            ),
            "legacy",
            12,
        )
        .ignore()
        .hset("flags:v1:production:counts:seen", "checkout_flow", now)
        .ignore()
        .query(&mut raw)
        .expect("counts written");
    let run = flags(&["stale", "--format", "json"]).expect(1);
    let json = run.json();
    let named: Vec<&str> = json["stale"]
        .as_array()
        .expect("a list")
        .iter()
        .filter(|f| f["reasons"][0]["source"] == "evaluation counts")
        .filter_map(|f| f["flag"].as_str())
        .collect();
    assert!(!named.contains(&"checkout_flow"), "{named:?}");
    assert!(named.contains(&"new_checkout_enabled"), "{named:?}");
}
