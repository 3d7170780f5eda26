//! The Redis store against a real `redis-server` of each test's own, followed by several
//! processes (this test binary, run again as a child per process).

mod common;
#[path = "common/redis_server.rs"]
mod redis_server;

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use flags_runtime::store::{
    Actor, CountOptions, FollowStatus, HeldBack, Keys, RedisFollower, RedisOptions, RedisStore,
    RestoreSource, StoreError, StoreExport,
};
use flags_runtime::{Context, Origin, Reason, Value};
use redis_server::RedisServer;

const FLAGS_TOML: &str = r#"
[environments]
names = ["staging", "production"]
default = "production"

[segments.beta]
description = "Beta testers"
keys = []

[flags.max_upload_mb]
description = "Upload limit"
default = 10

[flags.comments_enabled]
description = "Comments"
default = false
[[flags.comments_enabled.production.rules]]
when = [{ segment = "beta" }]
serve = true

[flags.checkout_flow]
description = "Checkout"
variants = ["legacy", "express"]
default = "legacy"

[flags.search_enabled]
description = "Search: the kill switch the fault tests turn off"
default = true
"#;

const UPLOAD: usize = 0;
const COMMENTS: usize = 1;
const FLOW: usize = 2;
const SEARCH: usize = 3;

/// How long a test waits for what a busy machine may delay: far longer than it takes.
const LONG: Duration = Duration::from_secs(20);

/// The child's variable holding the Redis URL.
const CHILD_URL: &str = "FLAGS_TEST_FOLLOWER_URL";
/// What the test harness prints in the child before the child's own first line.
const HARNESS_PREFIX: &str = "test follower_child ... ";

fn store(server: &RedisServer) -> RedisStore {
    let catalog =
        flags_model::parse(&flags_model::SourceFile::new("flags.toml", FLAGS_TOML)).catalog;
    RedisStore::connect(&server.url(), &catalog, "production").expect("connect to redis-server")
}

/// Run in each child process: follows the store and prints `state ...` whenever what it
/// serves changes, and `problems N` then `problem ...` for each problem the runtime reports
/// whenever they change. Ends when its standard input is closed.
#[test]
#[ignore = "run as a child process by the tests below"]
fn follower_child() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_line(&mut String::new());
        std::process::exit(0);
    });
    let (registry, _) = build::<4>(FLAGS_TOML, &[]);
    let runtime = registry.runtime();
    let _follower = runtime
        .follow_redis(RedisOptions::new(&url).max_backoff(Duration::from_millis(500)))
        .expect("a valid URL");
    let beta_user = Context::new("u-123");
    let mut last_state = String::new();
    let mut last_problems = String::new();
    let mut out = std::io::stdout();
    for tick in 0u64.. {
        let state = format!(
            "state upload={} comments_u123={} flow={} search={}",
            registry.int(UPLOAD),
            registry.bool_for(COMMENTS, &beta_user),
            registry.variant(FLOW),
            registry.bool(SEARCH),
        );
        if state != last_state {
            let _ = writeln!(out, "{state}");
            let _ = out.flush();
            last_state = state;
        }
        if tick % 20 == 0 {
            let report = runtime.report();
            let problems: String =
                std::iter::once(format!("problems {}\n", report.problems().len()))
                    .chain(report.problems().iter().map(|p| format!("problem {p}\n")))
                    .collect();
            if problems != last_problems {
                let _ = write!(out, "{problems}");
                let _ = out.flush();
                last_problems = problems;
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A follower process and the lines it printed, each with when it arrived.
struct Follower {
    process: Child,
    _stdin: ChildStdin,
    lines: mpsc::Receiver<(Instant, String)>,
    last_state: String,
}

impl Follower {
    fn spawn(url: &str) -> Follower {
        let mut process = Command::new(std::env::current_exe().expect("the test binary"))
            .args([
                "--ignored",
                "--exact",
                "follower_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_URL, url)
            .env_remove("APP_ENV")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a follower");
        let stdin = process.stdin.take().expect("piped");
        let stdout = process.stdout.take().expect("piped");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                // The harness prints `test follower_child ... ` with no newline before the
                // child's first line: without this, a first line that already shows the store's
                // values (the follower read it before the first print) was not seen as a state.
                let line = match line.strip_prefix(HARNESS_PREFIX) {
                    Some(rest) => rest.to_owned(),
                    None => line,
                };
                if send.send((Instant::now(), line)).is_err() {
                    return;
                }
            }
        });
        Follower {
            process,
            _stdin: stdin,
            lines,
            last_state: String::new(),
        }
    }

    /// Waits for a line containing `text`; when it came, or a failure with what came.
    fn wait_for(&mut self, text: &str, timeout: Duration) -> Instant {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((at, line)) => {
                    if line.starts_with("state ") {
                        self.last_state = line.clone();
                    }
                    if line.contains(text) {
                        return at;
                    }
                    seen.push(line);
                }
                Err(_) => panic!("no line with `{text}` within {timeout:?}; got {seen:#?}"),
            }
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

#[test]
fn changes_and_segment_additions_reach_every_process_within_a_second() {
    let Some(server) = RedisServer::start("changes_reach_every_process") else {
        return;
    };
    let mut followers: Vec<Follower> = (0..3).map(|_| Follower::spawn(&server.url())).collect();
    let mut store = store(&server);
    // Each process is up and has read the (empty) store: a first change reaches it.
    store.set("max_upload_mb", "11").expect("a valid value");
    for follower in &mut followers {
        follower.wait_for("upload=11", Duration::from_secs(20));
    }
    let mut latencies = Vec::new();
    for change in 0..100 {
        let value = 1000 + change;
        let written = Instant::now();
        store
            .set("max_upload_mb", &value.to_string())
            .expect("a valid value");
        let slowest = followers
            .iter_mut()
            .map(|f| f.wait_for(&format!("upload={value} "), Duration::from_secs(5)) - written)
            .max()
            .expect("followers");
        latencies.push(slowest);
    }
    latencies.sort();
    let p50 = latencies[49];
    let p99 = latencies[98];
    println!(
        "propagation to 3 processes over 100 changes: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        latencies[99].as_secs_f64() * 1e3
    );
    assert!(p99 < Duration::from_secs(1), "p99 {p99:?}");

    store
        .segment_add("beta", "u-123")
        .expect("a declared segment");
    for follower in &mut followers {
        follower.wait_for("comments_u123=true", LONG);
    }
    store
        .segment_remove("beta", "u-123")
        .expect("a declared segment");
    for follower in &mut followers {
        follower.wait_for("comments_u123=false", LONG);
    }
}

#[test]
fn redis_restarted_without_its_data_keeps_values_until_restored_and_loses_no_later_change() {
    let Some(mut server) = RedisServer::start("redis_restarted") else {
        return;
    };
    let mut followers: Vec<Follower> = (0..2).map(|_| Follower::spawn(&server.url())).collect();
    let mut writer = store(&server);
    writer.set("max_upload_mb", "21").expect("a valid value");
    writer.set("search_enabled", "false").expect("a bool");
    for follower in &mut followers {
        follower.wait_for("upload=21 comments_u123=false flow=0 search=false", LONG);
    }

    server.kill();
    for follower in &mut followers {
        // The outage is reported; the last values read stay.
        follower.wait_for("problem redis 127.0.0.1", LONG);
        assert!(
            follower.last_state.contains("upload=21"),
            "{}",
            follower.last_state
        );
    }

    // Back without its data (nothing is saved): no process follows the empty store.
    server.restart();
    for follower in &mut followers {
        follower.wait_for("came back empty", LONG);
        assert!(
            follower.last_state.contains("upload=21")
                && follower.last_state.contains("search=false"),
            "{}",
            follower.last_state
        );
    }
    let mut writer = store(&server);
    let record = wait_for_record(&server);
    assert!(
        record.overrides.contains_key("search_enabled"),
        "{record:?}"
    );
    let refused = writer.set("max_upload_mb", "22").unwrap_err();
    assert!(
        matches!(refused, StoreError::AwaitingRestore { .. }),
        "{refused}"
    );

    // Restored from the recovery record: every process follows again, and every change
    // made after that arrives.
    let restored = writer
        .restore(RestoreSource::RecoveryRecord)
        .expect("restored");
    assert_eq!(restored.added, ["max_upload_mb", "search_enabled"]);
    for follower in &mut followers {
        follower.wait_for("problems 0", LONG);
    }
    writer.set("checkout_flow", "express").expect("a variant");
    writer.set("max_upload_mb", "22").expect("a valid value");
    for follower in &mut followers {
        follower.wait_for("upload=22 comments_u123=false flow=1 search=false", LONG);
    }
}

#[test]
fn a_process_started_while_redis_is_down_serves_local_values_then_catches_up() {
    let Some(mut server) = RedisServer::stopped("redis_down_at_start_up") else {
        return;
    };
    let mut follower = Follower::spawn(&server.url());
    follower.wait_for("state upload=10 ", Duration::from_secs(20));
    follower.wait_for("problem redis 127.0.0.1", Duration::from_secs(5));

    server.restart();
    store(&server)
        .set("max_upload_mb", "31")
        .expect("a valid value");
    follower.wait_for("upload=31", Duration::from_secs(5));
}

#[test]
fn a_malformed_entry_is_skipped_while_the_other_flags_apply() {
    let Some(server) = RedisServer::start("malformed_entry") else {
        return;
    };
    let (registry, _) = build::<4>(FLAGS_TOML, &[]);
    let runtime = registry.runtime();
    let follower = runtime
        .follow_redis(RedisOptions::new(&server.url()).resync_every(Duration::from_millis(200)))
        .expect("a valid URL");
    let mut store = store(&server);
    store.set("max_upload_mb", "20").expect("a valid value");
    wait_until(|| registry.int(UPLOAD) == 20);
    assert!(follower.status().connected);
    assert_eq!(
        runtime.explain("max_upload_mb", None).unwrap().reason(),
        &Reason::Override {
            origin: Origin::Store {
                store: format!("redis {}", store.server()),
                entry: "flags:v1:production:overrides field `max_upload_mb`".into(),
            }
        }
    );

    // The writing API refuses what does not fit, and writes nothing.
    let refused = store.set("max_upload_mb", "lots").unwrap_err();
    assert_eq!(
        refused.to_string(),
        "flag `max_upload_mb`: expected an integer, found `lots`"
    );
    let refused = store.set_entry("checkout_flow", "[flags.max_upload_mb]\nvalue = 3\n");
    assert!(
        matches!(refused, Err(StoreError::InvalidEntry { ref message, .. }) if message.contains("only its own flag")),
        "{refused:?}"
    );
    assert!(matches!(
        store.segment_add("bta", "u-1"),
        Err(StoreError::Segment(_))
    ));
    let version = store.list().expect("readable").version;

    // Another tool writes around it: one entry of the wrong type, one that is not TOML.
    let keys = Keys::new("production");
    let client = redis::Client::open(server.url()).expect("a URL");
    let mut raw = client.get_connection().expect("connect");
    let _: () = redis::pipe()
        .hset(
            keys.overrides(),
            "max_upload_mb",
            "[flags.max_upload_mb]\nvalue = \"lots\"\n",
        )
        .ignore()
        .hset(keys.overrides(), "checkout_flow", "value = {")
        .ignore()
        .query(&mut raw)
        .expect("written");
    // Then a valid change, announced: it applies as announced. The entries written around
    // the API change no version: the periodic check, which compares the overrides, reads them.
    // The bad entries do not apply.
    store.set("comments_enabled", "true").expect("a bool");
    wait_until(|| registry.bool(COMMENTS));
    wait_until(|| runtime.report().problems().len() == 2);
    assert!(registry.bool(COMMENTS));
    assert_eq!(registry.int(UPLOAD), 20, "the last good value stays");
    assert_eq!(registry.variant(FLOW), 0, "the bad entry is not applied");
    let problems: Vec<String> = runtime
        .report()
        .problems()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0].starts_with(
            "redis 127.0.0.1:"
        ) && problems[0].contains(", flags:v1:production:overrides field `checkout_flow`: flag `checkout_flow`: entry skipped: invalid TOML"),
        "{}",
        problems[0]
    );
    assert!(
        problems[1].contains("flags:v1:production:overrides field `max_upload_mb`: flag `max_upload_mb`: entry skipped: ")
            && problems[1].contains("must be an integer, like its `default`; found a string\n --> entry `max_upload_mb`:2:9")
            && problems[1].ends_with("keeping its previous value `20`"),
        "{}",
        problems[1]
    );
    let listed = store.list().expect("readable");
    assert_eq!(listed.version, version + 1);
    let bad: Vec<&str> = listed
        .overrides
        .iter()
        .filter(|o| o.setting.is_err())
        .map(|o| o.flag.as_str())
        .collect();
    assert_eq!(bad, ["checkout_flow", "max_upload_mb"]);
    let good = listed
        .overrides
        .iter()
        .find(|o| o.flag == "comments_enabled")
        .expect("listed");
    assert_eq!(
        good.setting,
        Ok(flags_runtime::Setting::Value(Value::Bool(true)))
    );
    // One entry read alone is what the listing says of it.
    for flag in ["comments_enabled", "checkout_flow", "max_upload_mb"] {
        let listed_entry = listed.overrides.iter().find(|o| o.flag == flag);
        assert_eq!(store.entry(flag).expect("readable").as_ref(), listed_entry);
    }
    assert_eq!(store.entry("search_enabled").expect("readable"), None);

    // Targeting, written as an overrides file writes it, with a segment the store extends.
    store
        .set_entry(
            "comments_enabled",
            "[[flags.comments_enabled.value.rules]]\nwhen = [{ segment = \"beta\" }]\nserve = true\n",
        )
        .expect("valid rules");
    store
        .segment_add("beta", "u-7")
        .expect("a declared segment");
    // Until then the plain `true` set above serves everyone.
    wait_until(|| !registry.bool_for(COMMENTS, &Context::new("u-8")));
    wait_until(|| registry.bool_for(COMMENTS, &Context::new("u-7")));
}

/// Waits up to 5 s for `condition`.
fn wait_until(condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "not within 5 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---- The store's identity: emptied, replaced and gone-back stores are not followed. ----

/// Waits up to [`LONG`] for `condition` on the follower's status; fails with the status.
fn wait_for_status(
    follower: &RedisFollower,
    what: &str,
    condition: impl Fn(&FollowStatus) -> bool,
) -> FollowStatus {
    let deadline = Instant::now() + LONG;
    loop {
        let status = follower.status();
        if condition(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "not within {LONG:?}: {what}; {status:#?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A connection that writes around the API, as `redis-cli` does.
fn raw(server: &RedisServer) -> redis::Connection {
    redis::Client::open(server.url())
        .expect("a URL")
        .get_connection()
        .expect("connect")
}

/// Waits for the recovery record a follower writes, and reads it.
fn wait_for_record(server: &RedisServer) -> StoreExport {
    let keys = Keys::new("production");
    let mut raw = raw(server);
    let deadline = Instant::now() + LONG;
    loop {
        let text: Option<String> = redis::cmd("GET")
            .arg(keys.recovery())
            .query(&mut raw)
            .expect("GET");
        if let Some(text) = text {
            return StoreExport::parse(&keys.recovery(), &text).expect("a readable record");
        }
        assert!(
            Instant::now() < deadline,
            "no recovery record within {LONG:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn problems(runtime: &'static flags_runtime::Runtime) -> Vec<String> {
    runtime
        .report()
        .problems()
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// `tracing` errors, as logged by every thread of this test binary.
mod logged {
    use std::fmt::Write as _;
    use std::sync::{Mutex, Once};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata};

    static ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

    struct Errors;

    struct Fields(String);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let _ = write!(self.0, "{}={value:?} ", field.name());
        }
    }

    impl tracing::Subscriber for Errors {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            *metadata.level() == Level::ERROR
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut fields = Fields(String::new());
            event.record(&mut fields);
            ERRORS.lock().unwrap().push(fields.0);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    /// Starts collecting (once per test binary: every thread logs here).
    pub fn collect() {
        static START: Once = Once::new();
        START.call_once(|| {
            tracing::subscriber::set_global_default(Errors).expect("the only subscriber");
        });
    }

    /// The errors logged so far that mention `text`.
    pub fn errors_with(text: &str) -> Vec<String> {
        ERRORS
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.contains(text))
            .cloned()
            .collect()
    }
}

#[test]
fn a_store_back_empty_is_not_followed_reported_once_and_refuses_writes_until_restored() {
    logged::collect();
    let Some(mut server) = RedisServer::start("store_back_empty") else {
        return;
    };
    let (registry, _) = build::<4>(FLAGS_TOML, &[]);
    let runtime = registry.runtime();
    // A short resync: the incident must be logged once, not at every read.
    let follower = runtime
        .follow_redis(
            RedisOptions::new(&server.url())
                .resync_every(Duration::from_millis(100))
                .max_backoff(Duration::from_millis(200)),
        )
        .expect("a valid URL");
    let mut writer = store(&server);
    writer.set("search_enabled", "false").expect("a bool");
    writer.segment_add("beta", "u-123").expect("a segment");
    let before = wait_for_status(&follower, "the kill switch applied", |s| s.version == 2);
    assert!(!registry.bool(SEARCH));
    let identity = before
        .identity
        .clone()
        .expect("the first write gave it one");
    assert_eq!(writer.identity().expect("read"), Some(identity.clone()));
    assert_eq!(
        follower.last_good().expect("read").overrides["search_enabled"],
        "[flags.\"search_enabled\"]\nvalue = false\n"
    );

    server.kill();
    server.restart();
    // Connections do not survive a restart.
    let mut writer = store(&server);
    let status = wait_for_status(&follower, "held back", |s| {
        s.held_back.is_some() && s.connected
    });
    assert_eq!(status.held_back, Some(HeldBack::Emptied));
    assert_eq!(
        (status.version, status.identity.as_deref()),
        (2, Some(identity.as_str()))
    );
    assert!(status.awaiting_restore);
    assert!(!registry.bool(SEARCH), "the kill switch stays");
    assert!(
        registry.bool_for(COMMENTS, &Context::new("u-123")),
        "so does the segment"
    );
    let reported = problems(runtime);
    assert_eq!(reported.len(), 1, "{reported:#?}");
    for part in [
        "redis 127.0.0.1:",
        "the store of `production` came back empty",
        &format!("store {identity} at version 2"),
        "left them in the recovery record flags:v1:production:recovery",
        &format!(
            "`flags store restore --recovered --env production --redis {}`",
            server.url()
        ),
        "`flags store reset --confirm --env production --redis",
        "the source's last good values stay in force",
    ] {
        assert!(reported[0].contains(part), "{part}: {}", reported[0]);
    }
    let record = wait_for_record(&server);
    assert_eq!(
        (record.store.as_deref(), record.version),
        (Some(identity.as_str()), 2)
    );
    assert_eq!(Some(record.clone()), follower.last_good());
    let log = writer.audit_log(None, 10).expect("read the audit log");
    assert_eq!(
        log.len(),
        1,
        "the incident, in the emptied store's log: {log:#?}"
    );
    assert_eq!(
        (log[0].via.as_str(), log[0].action.as_str(), log[0].version),
        ("follower", "recovery record", 0)
    );
    assert!(
        log[0]
            .before
            .contains("version 2, 1 override(s), 1 segment key(s)")
            && log[0]
                .after
                .contains("`flags store restore --recovered --env production`"),
        "{:?}",
        log[0]
    );

    let refused = writer.set("max_upload_mb", "5").unwrap_err();
    assert!(
        matches!(refused, StoreError::AwaitingRestore { .. }),
        "{refused:?}"
    );
    let message = refused.to_string();
    assert!(
        message.contains("nothing was written")
            && message.contains("`flags store restore --recovered --env production`")
            && message.contains("`flags store reset --confirm --env production`")
            && message.contains(&format!("store {identity} at version 2, 1 override(s)")),
        "{message}"
    );
    assert!(matches!(
        writer.segment_add("beta", "u-9"),
        Err(StoreError::AwaitingRestore { .. })
    ));
    assert!(matches!(
        writer.unset("search_enabled"),
        Err(StoreError::AwaitingRestore { .. })
    ));
    assert_eq!(
        writer.list().expect("read").version,
        0,
        "nothing was written"
    );

    // Many reads later, the incident was logged once.
    let reads = |status: &FollowStatus| status.held_back.is_some();
    std::thread::sleep(Duration::from_millis(500));
    wait_for_status(&follower, "still held back", reads);
    let port = server.url().rsplit(':').next().expect("a port").to_owned();
    let logged: Vec<String> = logged::errors_with(&format!("127.0.0.1:{port}"));
    assert_eq!(logged.len(), 1, "{logged:#?}");
    assert!(logged[0].contains("came back empty"), "{}", logged[0]);

    // Restored: followed again, the problem gone, and writes accepted.
    let preview = writer
        .preview_restore(RestoreSource::RecoveryRecord)
        .expect("a preview");
    assert_eq!(preview.identity, None);
    assert_eq!(
        writer.list().expect("read").version,
        0,
        "a preview writes nothing"
    );
    let restored = writer
        .restore(RestoreSource::RecoveryRecord)
        .expect("restored");
    assert_eq!(restored.added, ["search_enabled"]);
    assert_eq!(restored.segments.len(), 1);
    assert_eq!(restored.version, 3, "above the version held");
    assert!(restored.recovery_cleared);
    let status = wait_for_status(&follower, "followed again", |s| s.held_back.is_none());
    assert_eq!(status.identity, restored.identity);
    assert!(!status.awaiting_restore);
    assert!(runtime.report().is_clean(), "{:?}", problems(runtime));
    assert!(!registry.bool(SEARCH));
    writer.set("max_upload_mb", "33").expect("accepted again");
    wait_for_status(&follower, "a later change", |s| s.version == 4);
    assert_eq!(registry.int(UPLOAD), 33);
}

#[test]
fn a_confirmed_reset_makes_every_follower_follow_the_store_as_it_is() {
    let Some(mut server) = RedisServer::start("confirmed_reset") else {
        return;
    };
    let (registry, _) = build::<4>(FLAGS_TOML, &[]);
    let runtime = registry.runtime();
    let follower = runtime
        .follow_redis(RedisOptions::new(&server.url()).max_backoff(Duration::from_millis(200)))
        .expect("a valid URL");
    let mut writer = store(&server);
    writer.set("search_enabled", "false").expect("a bool");
    wait_for_status(&follower, "applied", |s| s.version == 1);

    server.kill();
    server.restart();
    wait_for_status(&follower, "held back", |s| {
        s.held_back == Some(HeldBack::Emptied)
    });
    wait_for_record(&server);
    assert!(!registry.bool(SEARCH));

    let mut writer = store(&server);
    let reset = writer.confirm_reset().expect("reset");
    let discarded = reset.discarded.expect("the record").expect("readable");
    assert!(discarded.overrides.contains_key("search_enabled"));
    assert_eq!(reset.version, 1);
    // Deliberately: the kill switch is gone with the store's data.
    let status = wait_for_status(&follower, "followed again", |s| s.held_back.is_none());
    assert_eq!(status.identity.as_deref(), Some(reset.identity.as_str()));
    assert!(!status.awaiting_restore);
    assert!(registry.bool(SEARCH));
    assert!(runtime.report().is_clean(), "{:?}", problems(runtime));
    writer.set("max_upload_mb", "12").expect("accepted");
    wait_for_status(&follower, "a later change", |s| s.version == 2);
    assert_eq!(registry.int(UPLOAD), 12);
}

#[test]
fn a_replaced_store_and_one_gone_back_are_not_followed() {
    let Some(server) = RedisServer::start("replaced_and_gone_back") else {
        return;
    };
    let (registry, _) = build::<4>(FLAGS_TOML, &[]);
    let runtime = registry.runtime();
    let follower = runtime
        .follow_redis(RedisOptions::new(&server.url()))
        .expect("a valid URL");
    let mut writer = store(&server);
    writer.set("search_enabled", "false").expect("a bool");
    writer.set("max_upload_mb", "20").expect("an integer");
    let first = wait_for_status(&follower, "applied", |s| s.version == 2);

    // Flushed, then written by another writer before any follower noticed: a store with
    // another identity, which nobody adopted.
    let mut raw = raw(&server);
    redis::cmd("FLUSHDB").exec(&mut raw).expect("FLUSHDB");
    let mut other = store(&server);
    assert_eq!(other.set("max_upload_mb", "5").expect("not refused yet"), 1);
    let status = wait_for_status(&follower, "held back", |s| s.awaiting_restore);
    let Some(HeldBack::Replaced { identity, version }) = status.held_back.clone() else {
        panic!("{status:#?}");
    };
    assert_ne!(Some(&identity), first.identity.as_ref());
    assert_eq!(version, 1);
    assert_eq!((registry.int(UPLOAD), registry.bool(SEARCH)), (20, false));
    let reported = problems(runtime);
    assert!(
        reported[0].contains(&format!(
            "was replaced: it has identity {identity} at version 1"
        )),
        "{reported:#?}"
    );
    assert!(matches!(
        other.set("max_upload_mb", "6"),
        Err(StoreError::AwaitingRestore { .. })
    ));
    let restored = other
        .restore(RestoreSource::RecoveryRecord)
        .expect("restored");
    assert_eq!(
        (restored.added.as_slice(), restored.changed.as_slice()),
        (
            &["search_enabled".to_owned()][..],
            &["max_upload_mb".to_owned()][..]
        ),
        "the write made into the replaced store is undone, and shown"
    );
    assert_eq!(restored.version, 3);
    wait_for_status(&follower, "followed again", |s| s.held_back.is_none());
    assert_eq!(registry.int(UPLOAD), 20);

    // Gone back: the store as an older snapshot had it (version 1, the older value).
    let keys = Keys::new("production");
    writer.set("max_upload_mb", "30").expect("an integer");
    wait_for_status(&follower, "applied", |s| s.version == 4);
    let _: () = redis::pipe()
        .atomic()
        .hset(
            keys.overrides(),
            "max_upload_mb",
            "[flags.max_upload_mb]\nvalue = 1\n",
        )
        .ignore()
        .set(keys.version(), 2)
        .ignore()
        .publish(keys.channel(), "changed")
        .ignore()
        .query(&mut raw)
        .expect("written");
    let status = wait_for_status(&follower, "held back", |s| s.held_back.is_some());
    assert_eq!(status.held_back, Some(HeldBack::WentBack { version: 2 }));
    assert_eq!(status.version, 4);
    assert_eq!(registry.int(UPLOAD), 30, "the newer value stays");
    assert!(problems(runtime)[0].contains("went back to version 2"));
    let record = wait_for_record(&server);
    assert_eq!(record.version, 4);
}

#[test]
fn a_process_started_while_the_store_awaits_a_restore_follows_it_and_says_so() {
    let Some(server) = RedisServer::start("awaiting_restore_at_start_up") else {
        return;
    };
    let keys = Keys::new("production");
    let mut record = StoreExport::new("production");
    record.version = 7;
    record.overrides.insert(
        "search_enabled".into(),
        "[flags.search_enabled]\nvalue = false\n".into(),
    );
    let mut raw = raw(&server);
    let _: () = redis::cmd("SET")
        .arg(keys.recovery())
        .arg(record.to_toml())
        .query(&mut raw)
        .expect("SET");
    let (registry, _) = build::<4>(FLAGS_TOML, &[]);
    let runtime = registry.runtime();
    let follower = runtime
        .follow_redis(RedisOptions::new(&server.url()))
        .expect("a valid URL");
    assert!(follower.wait_until_synced(LONG));
    let status = follower.status();
    assert!(
        status.awaiting_restore && status.held_back.is_none(),
        "{status:#?}"
    );
    assert!(registry.bool(SEARCH), "it follows the store as it is");
    let reported = problems(runtime);
    assert_eq!(reported.len(), 1, "{reported:#?}");
    assert!(
        reported[0].contains("the store of `production` awaits a restore")
            && reported[0].contains("`flags store restore --recovered --env production"),
        "{}",
        reported[0]
    );
    // Restored: it takes the recovery record's values.
    store(&server)
        .restore(RestoreSource::RecoveryRecord)
        .expect("restored");
    wait_for_status(&follower, "restored", |s| !s.awaiting_restore);
    wait_until(|| !registry.bool(SEARCH));
    assert!(runtime.report().is_clean(), "{:?}", problems(runtime));
}

#[test]
fn export_then_restore_gives_back_overrides_and_segments_byte_for_byte() {
    let Some(server) = RedisServer::start("export_restore_round_trip") else {
        return;
    };
    let mut writer = store(&server);
    let targeting = r#"# staff first
[[flags.comments_enabled.value.rules]]
name = "beta \"quoted\""
when = [{ segment = "beta" }]
serve = true

[flags.comments_enabled.value]
serve = false
"#;
    writer
        .set_entry("comments_enabled", targeting)
        .expect("valid targeting");
    writer.set("checkout_flow", "express").expect("a variant");
    writer.segment_add("beta", "u-1").expect("a segment");
    writer
        .segment_add("beta", "weird \"key\"\t")
        .expect("a segment");
    writer.segment_remove("beta", "u-2").expect("a segment");
    let keys = Keys::new("production");
    let mut raw = raw(&server);
    let hash = |raw: &mut redis::Connection| -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut fields: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL")
            .arg(keys.overrides())
            .query(raw)
            .expect("HGETALL");
        fields.sort();
        fields
    };
    let before = hash(&mut raw);

    let exported = writer.export().expect("exported");
    assert!(exported.invalid.is_empty() && exported.left_out.is_empty());
    let text = exported.document.to_toml();
    let document = StoreExport::parse("backup.toml", &text).expect("reads back");
    assert_eq!(document, exported.document);
    assert_eq!(document.version, 5);

    let _: () = redis::cmd("FLUSHDB").query(&mut raw).expect("FLUSHDB");
    let restored = writer
        .restore(RestoreSource::Document(&document))
        .expect("restored");
    assert_eq!(restored.added, ["checkout_flow", "comments_enabled"]);
    assert_eq!(restored.version, 6);
    assert_eq!(hash(&mut raw), before, "the same bytes");
    let again = writer.export().expect("exported");
    assert_eq!(again.document.overrides, document.overrides);
    assert_eq!(again.document.segments, document.segments);
    assert_eq!(again.document.store, restored.identity);

    // Restoring the same document again changes nothing but the version and identity.
    let same = writer
        .restore(RestoreSource::Document(&document))
        .expect("restored");
    assert!(same.added.is_empty() && same.changed.is_empty() && same.removed.is_empty());
    assert!(same.segments.is_empty());
    assert_eq!(same.unchanged, 2);
}

#[test]
fn a_restore_refuses_an_invalid_document_with_its_line_and_writes_nothing() {
    let Some(server) = RedisServer::start("restore_refused") else {
        return;
    };
    let mut writer = store(&server);
    writer.set("max_upload_mb", "40").expect("an integer");
    let before = writer.export().expect("exported").document;
    let text = r#"environment = "production"
version = 9

[overrides]
search_enabled = """
[flags.search_enabled]
value = false
"""
max_upload_mb = """
[flags.max_upload_mb]
value = "lots"
"""
retired_flag = "[flags.retired_flag]\nvalue = true\n"
"#;
    let document = StoreExport::parse("backup.toml", text).expect("a document");
    let refused = writer
        .restore(RestoreSource::Document(&document))
        .unwrap_err();
    let message = refused.to_string();
    assert!(
        message.starts_with(
            "backup.toml cannot be restored: override of `max_upload_mb` (backup.toml:9): "
        ) && message.contains("must be an integer"),
        "{message}"
    );
    assert_eq!(
        writer.export().expect("exported").document,
        before,
        "nothing written"
    );

    // An entry for a flag flags.toml no longer declares is skipped, and said so.
    let mut fixed = document.clone();
    fixed.overrides.insert(
        "max_upload_mb".into(),
        "[flags.max_upload_mb]\nvalue = 41\n".into(),
    );
    let restored = writer
        .restore(RestoreSource::Document(&fixed))
        .expect("restored");
    assert_eq!(restored.skipped.len(), 1, "{restored:#?}");
    assert!(restored.skipped[0].starts_with("override of `retired_flag` (backup.toml:13): "));
    assert_eq!(restored.added, ["search_enabled"]);
    assert_eq!(restored.changed, ["max_upload_mb"]);
    assert_eq!(restored.version, 10, "above the document's version");

    // A document of another environment, and no recovery record to restore.
    let mut staging = fixed.clone();
    staging.environment = "staging".into();
    let refused = writer
        .restore(RestoreSource::Document(&staging))
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("restore it with --env staging"),
        "{refused}"
    );
    assert!(matches!(
        writer.restore(RestoreSource::RecoveryRecord),
        Err(StoreError::NoRecoveryRecord { .. })
    ));
}

// ---- Ramping a rollout up through the store re-buckets nobody. ----

const RAMPED: &str = r#"
[environments]
names = ["staging", "production"]
default = "production"

[flags.search_enabled]
description = "New search, ramped up in production"
default = false
[flags.search_enabled.production]
rollout = 10
group = "w3-rollout"
bucket_by = "org_id"
"#;

#[test]
fn ramping_up_through_the_store_keeps_every_user_who_had_the_feature() {
    let Some(server) = RedisServer::start("ramping_up_through_the_store") else {
        return;
    };
    let (registry, _) = build::<1>(RAMPED, &[]);
    let runtime = registry.runtime();
    let follower = runtime
        .follow_redis(RedisOptions::new(&server.url()))
        .expect("a valid URL");
    let catalog = flags_model::parse(&flags_model::SourceFile::new("flags.toml", RAMPED)).catalog;
    let mut writer = RedisStore::connect(&server.url(), &catalog, "production").expect("connect");
    let users: Vec<Context> = (0..2_500)
        .map(|i| Context::new(format!("u-{i}")).with("org_id", format!("org-{}", i % 500)))
        .collect();
    let who_has_it = || -> Vec<bool> { users.iter().map(|u| registry.bool_for(0, u)).collect() };
    let mut before = who_has_it();
    for percent in [25, 50, 100] {
        let entry = format!("[flags.search_enabled.production]\nrollout = {percent}\n");
        let version = writer
            .set_entry("search_enabled", &entry)
            .expect("a valid entry");
        wait_for_status(&follower, "the ramp is applied", |s| s.version >= version);
        wait_until(|| runtime.report().is_clean());
        let after = who_has_it();
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

#[test]
fn every_change_is_in_the_audit_log_with_who_and_the_value_before_and_after() {
    let Some(server) = RedisServer::start("audit log") else {
        return;
    };
    let mut store = store(&server).with_actor(Actor::new("ada", "cli"));
    store.set("max_upload_mb", "30").unwrap();
    store.set("max_upload_mb", "40").unwrap();
    assert!(store.set("max_upload_mb", "lots").is_err(), "refused");
    store.unset("max_upload_mb").unwrap();
    assert!(!store.unset("max_upload_mb").unwrap().0, "nothing to unset");
    store.set_actor(Actor::new("intercom", "webhook"));
    store.segment_add("beta", "u-1").unwrap();
    store.segment_remove("beta", "u-1").unwrap();

    let log = store.audit_log(None, 50).unwrap();
    let summary: Vec<String> = log
        .iter()
        .map(|e| {
            format!(
                "{} {} {}/{} {}/{} {} -> {} v{}",
                e.actor,
                e.via,
                e.action,
                e.flag.as_deref().or(e.segment.as_deref()).unwrap_or("-"),
                e.environment,
                e.key.as_deref().unwrap_or("-"),
                e.before,
                e.after,
                e.version
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "intercom webhook segment remove/beta production/u-1 listed (added in the store) -> not listed (removed in the store) v5",
            "intercom webhook segment add/beta production/u-1 not listed -> listed (added in the store) v4",
            "ada cli unset/max_upload_mb production/- 40 -> no override (flags.toml: 10) v3",
            "ada cli set/max_upload_mb production/- 30 -> 40 v2",
            "ada cli set/max_upload_mb production/- no override (flags.toml: 10) -> 30 v1",
        ]
    );
    assert!(log.iter().all(|e| e.time_ms > 1_700_000_000_000));
    assert!(log.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert_eq!(store.audit_log(Some("max_upload_mb"), 50).unwrap().len(), 3);
    assert_eq!(store.audit_log(Some("max_upload_mb"), 2).unwrap().len(), 2);
    assert_eq!(
        store.audit_log(None, 1).unwrap()[0].action,
        "segment remove"
    );
}

#[test]
fn restores_and_resets_are_in_the_audit_log() {
    let Some(server) = RedisServer::start("audit log of restores") else {
        return;
    };
    let mut store = store(&server).with_actor(Actor::new("oncall", "cli"));
    store.set("max_upload_mb", "30").unwrap();
    let document = store.export().unwrap().document;
    store.set("max_upload_mb", "50").unwrap();
    store.set("checkout_flow", "express").unwrap();
    store.restore(RestoreSource::Document(&document)).unwrap();
    store.confirm_reset().unwrap();
    let log = store.audit_log(None, 50).unwrap();
    let actions: Vec<(&str, Option<&str>, &str, &str)> = log
        .iter()
        .take(4)
        .map(|e| {
            (
                e.action.as_str(),
                e.flag.as_deref(),
                e.before.as_str(),
                e.after.as_str(),
            )
        })
        .collect();
    assert_eq!(actions[0].0, "reset");
    assert_eq!(actions[1].0, "restore");
    assert!(actions[1].3.contains("1 changed, 1 removed"), "{actions:?}");
    let restored: Vec<_> = actions[2..].iter().map(|a| (a.1, a.2, a.3)).collect();
    assert!(
        restored.contains(&(Some("max_upload_mb"), "50", "30")),
        "{restored:?}"
    );
    assert!(
        restored.contains(&(
            Some("checkout_flow"),
            "\"express\"",
            "no override (flags.toml: \"legacy\")"
        )),
        "{restored:?}"
    );
    assert!(log.iter().all(|e| e.actor == "oncall"));
}

#[test]
fn sampled_evaluation_counts_reach_the_store_by_flag_and_value() {
    let Some(server) = RedisServer::start("evaluation counts") else {
        return;
    };
    let (registry, _) = build::<4>(FLAGS_TOML, &[("APP_ENV", "production")]);
    let runtime = registry.runtime();
    let reporter = runtime
        .report_counts(
            CountOptions::new(&server.url())
                .sample(Duration::from_millis(50), Duration::from_millis(100)),
        )
        .unwrap();
    let deadline = Instant::now() + LONG;
    let mut store = store(&server);
    loop {
        for _ in 0..1000 {
            std::hint::black_box(registry.int(UPLOAD));
        }
        std::thread::sleep(Duration::from_millis(1));
        let counts = store.counts(&["max_upload_mb", "search_enabled"]).unwrap();
        let hour = counts[0].last_hour();
        if hour.get("10").copied().unwrap_or(0) > 10_000 {
            assert_eq!(
                counts[0].last_day(),
                hour,
                "the hour's buckets and the day's agree"
            );
            assert!(counts[0].last_seen.is_some());
            assert!(
                counts[1].last_hour().is_empty(),
                "not evaluated: {counts:?}"
            );
            assert_eq!(counts[1].last_seen, None);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no counts: {:?}",
            reporter.status()
        );
    }
    assert_eq!(reporter.status().error, None);
}

#[test]
fn a_flag_checked_once_is_seen_however_rarely_counts_sample() {
    let Some(server) = RedisServer::start("evaluation presence") else {
        return;
    };
    let (registry, _) = build::<4>(FLAGS_TOML, &[("APP_ENV", "production")]);
    let runtime = registry.runtime();
    // Windows of 1 ms in 200: a single check would fall between them 199 times in 200.
    let reporter = runtime
        .report_counts(
            CountOptions::new(&server.url())
                .sample(Duration::from_millis(1), Duration::from_millis(200)),
        )
        .unwrap();
    // Once each, by the plain accessor and by the per-context one.
    assert!(registry.bool(SEARCH));
    assert!(!registry.bool_for(COMMENTS, &Context::new("u-1")));
    let mut store = store(&server);
    let deadline = Instant::now() + LONG;
    loop {
        let counts = store
            .counts(&["search_enabled", "comments_enabled", "checkout_flow"])
            .unwrap();
        if counts[0].last_seen.is_some() && counts[1].last_seen.is_some() {
            assert_eq!(counts[2].last_seen, None, "never checked: {counts:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not seen: {counts:?} {:?}",
            reporter.status()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(reporter.status().error, None);
    // One reporter at a time; another once it is gone.
    let again = runtime.report_counts(CountOptions::new(&server.url()));
    assert!(
        matches!(again, Err(StoreError::AlreadyCounting)),
        "{again:?}"
    );
    drop(reporter);
    let again = runtime.report_counts(CountOptions::new(&server.url()));
    assert!(again.is_ok(), "{again:?}");
}

// ---- Announced changes are applied as they come, not read. ----

#[test]
fn override_changes_reach_followers_as_changes() {
    let Some(server) = RedisServer::start("override_changes_as_changes") else {
        return;
    };
    let (registry, _) = build::<4>(FLAGS_TOML, &[("APP_ENV", "production")]);
    let runtime = registry.runtime();
    let follower = runtime
        .follow_redis(RedisOptions::new(&server.url()).resync_every(Duration::from_millis(200)))
        .expect("a valid URL");
    let mut writer = store(&server);
    let version = writer.segment_add("beta", "u-1").expect("a write");
    let reads = wait_for_status(&follower, "the first write is read", |s| {
        s.version >= version
    })
    .reads;

    // Set, set another, remove: each applied as announced, the segments not read again.
    let version = writer.set("max_upload_mb", "25").expect("a write");
    wait_for_status(&follower, "set", |s| s.version >= version);
    assert_eq!(registry.int(UPLOAD), 25);
    assert_eq!(
        runtime.explain("max_upload_mb", None).unwrap().reason(),
        &Reason::Override {
            origin: Origin::Store {
                store: format!("redis {}", writer.server()),
                entry: "flags:v1:production:overrides field `max_upload_mb`".into(),
            }
        }
    );
    let version = writer.set("search_enabled", "false").expect("a write");
    wait_for_status(&follower, "the kill switch", |s| s.version >= version);
    assert!(!registry.bool(SEARCH));
    let (removed, version) = writer.unset("max_upload_mb").expect("a write");
    assert!(removed);
    let status = wait_for_status(&follower, "unset", |s| s.version >= version);
    assert_eq!(registry.int(UPLOAD), 10, "flags.toml's value again");
    assert_eq!(status.reads, reads, "no read of the store: {status:#?}");
    assert_eq!(status.changes_applied, 3, "{status:#?}");
    assert!(runtime.report().is_clean(), "{}", runtime.report());

    // A valid entry written around the API changes no version: the periodic check, which
    // compares the overrides, reads it.
    let _: () = redis::cmd("HSET")
        .arg("flags:v1:production:overrides")
        .arg("max_upload_mb")
        .arg("[flags.max_upload_mb]\nvalue = 44\n")
        .query(&mut raw(&server))
        .expect("written");
    wait_until(|| registry.int(UPLOAD) == 44);
    assert_eq!(follower.status().reads, reads + 1);
    assert!(!registry.bool(SEARCH), "the rest stays");
}

#[test]
fn segment_changes_reach_followers_as_changes_and_a_lost_one_is_read() {
    let Some(server) = RedisServer::start("segment_changes_as_changes") else {
        return;
    };
    let (registry, _) = build::<4>(FLAGS_TOML, &[]);
    let runtime = registry.runtime();
    let follower = runtime
        .follow_redis(RedisOptions::new(&server.url()).resync_every(Duration::from_millis(200)))
        .expect("a valid URL");
    let mut writer = store(&server);
    // The first write gives the store its identity: read.
    let version = writer.segment_add("beta", "u-1").expect("a write");
    let first = wait_for_status(&follower, "the first write is read", |s| {
        s.version >= version
    });
    let reads = first.reads;
    let beta = |key: &str| registry.bool_for(COMMENTS, &Context::new(key));
    wait_until(|| beta("u-1"));

    // One key, then ten thousand at once: each applied as announced, without a read.
    let version = writer.segment_add("beta", "u-2").expect("a write");
    wait_for_status(&follower, "one key", |s| s.version >= version);
    let many: Vec<String> = (0..10_000).map(|i| format!("bulk-{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let version = writer.segment_add_many("beta", &many).expect("a write");
    let status = wait_for_status(&follower, "ten thousand keys", |s| s.version >= version);
    assert_eq!(status.reads, reads, "no read of the store: {status:#?}");
    assert_eq!(status.changes_applied, 2, "{status:#?}");
    assert!(beta("u-2") && beta("bulk-0") && beta("bulk-9999"));
    let version = writer
        .segment_remove_many("beta", &many[..5_000])
        .expect("a write");
    wait_for_status(&follower, "removed", |s| s.version >= version);
    assert!(!beta("bulk-0") && beta("bulk-9999"));

    // A change written around the store's API, unannounced: the periodic check reads it.
    let mut raw = raw(&server);
    let _: () = redis::pipe()
        .atomic()
        .sadd("flags:v1:production:segment:beta:added", "u-quiet")
        .ignore()
        .incr("flags:v1:production:version", 1)
        .ignore()
        .query(&mut raw)
        .expect("a write");
    wait_until(|| beta("u-quiet"));
    assert!(follower.status().reads > reads, "{:#?}", follower.status());
    // An announcement that does not follow what is applied, or that is not one: read.
    let _: () = redis::cmd("PUBLISH")
        .arg("flags:v1:production:changes")
        .arg("flags-delta 1\nsomeone-else\n999\nbeta\n+\n3:u-x")
        .query(&mut raw)
        .expect("a publish");
    let _: () = redis::cmd("PUBLISH")
        .arg("flags:v1:production:changes")
        .arg("flags-delta 1\n\u{0}garbage")
        .query(&mut raw)
        .expect("a publish");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !beta("u-x"),
        "an announcement of another store applies nothing"
    );
    assert!(runtime.report().is_clean(), "{}", runtime.report());
}

#[test]
fn a_conditional_write_checks_what_the_store_holds_when_it_writes() {
    let Some(server) = RedisServer::start("conditional_write") else {
        return;
    };
    let rules = "[flags.search_enabled.value]\nserve = false\n\
                 [[flags.search_enabled.value.rules]]\nwhen = [{ segment = \"beta\" }]\nserve = true\n";
    let rollout = "[flags.search_enabled.value]\nrollout = 50\n";
    let no_rules = |held: Option<flags_runtime::store::StoredOverride>| match held
        .and_then(|held| held.setting.ok())
    {
        Some(flags_runtime::Setting::Targeted(targeting)) if !targeting.rules.is_empty() => {
            Err("it has rules".to_owned())
        }
        _ => Ok(()),
    };

    // Nothing held: written.
    let mut store = store(&server);
    let first = store
        .set_entry_if("search_enabled", rollout, no_rules)
        .expect("no rules held");
    assert!(store.entry("search_enabled").expect("readable").is_some());

    // Another writer sets rules between this write's check and its commit: the commit fails
    // on the WATCH, the check runs again on the rules, and refuses.
    let other = std::cell::RefCell::new(self::store(&server));
    let checks = std::cell::Cell::new(0);
    let refused = store.set_entry_if("search_enabled", rollout, |held| {
        checks.set(checks.get() + 1);
        if checks.get() == 1 {
            other
                .borrow_mut()
                .set_entry("search_enabled", rules)
                .expect("the other write");
        }
        no_rules(held)
    });
    match refused {
        Err(StoreError::InvalidEntry { flag, message }) => {
            assert_eq!(flag, "search_enabled");
            assert_eq!(message, "it has rules");
        }
        other => panic!("refused on the rules the other writer set: {other:?}"),
    }
    assert_eq!(checks.get(), 2, "checked again after the other write");
    let held = store
        .entry("search_enabled")
        .expect("readable")
        .expect("held");
    assert!(
        matches!(&held.setting, Ok(flags_runtime::Setting::Targeted(t)) if !t.rules.is_empty()),
        "the other writer's rules stay: {held:?}"
    );
    let listed = store.list().expect("readable");
    assert_eq!(listed.version, first + 1, "only the other write was made");
}
