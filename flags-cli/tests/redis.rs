//! `--redis URL` on `set`, `unset` and `list`, and `flags segment`, against a real
//! `redis-server` of the test's own.

mod common;
#[path = "../../flags-runtime/tests/common/redis_server.rs"]
mod redis_server;

use common::{flags_with, project};
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
    assert_eq!(
        text.stdout,
        format!(
            "redis 127.0.0.1:{port}, environment `production`, version 4\nno overrides\n\
             segment internal: added u-9; removed u-8\n"
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
