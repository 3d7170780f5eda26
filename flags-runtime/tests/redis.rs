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
use flags_runtime::store::{Keys, RedisOptions, RedisStore, StoreError};
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
"#;

const UPLOAD: usize = 0;
const COMMENTS: usize = 1;
const FLOW: usize = 2;

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
/// serves changes, and `problem ...` for each problem the runtime reports. Ends when its
/// standard input is closed.
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
    let (registry, _) = build::<3>(FLAGS_TOML, &[]);
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
            "state upload={} comments_u123={} flow={}",
            registry.int(UPLOAD),
            registry.bool_for(COMMENTS, &beta_user),
            registry.variant(FLOW),
        );
        if state != last_state {
            let _ = writeln!(out, "{state}");
            let _ = out.flush();
            last_state = state;
        }
        if tick % 20 == 0 {
            let problems: String = runtime
                .report()
                .problems()
                .iter()
                .map(|p| format!("problem {p}\n"))
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

    /// The lines printed within `wait`, and the state then.
    fn drain(&mut self, wait: Duration) -> Vec<String> {
        let deadline = Instant::now() + wait;
        let mut lines = Vec::new();
        while let Ok((_, line)) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if line.starts_with("state ") {
                self.last_state = line.clone();
            }
            lines.push(line);
        }
        lines
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
        follower.wait_for("comments_u123=true", Duration::from_secs(1));
    }
    store
        .segment_remove("beta", "u-123")
        .expect("a declared segment");
    for follower in &mut followers {
        follower.wait_for("comments_u123=false", Duration::from_secs(1));
    }
}

#[test]
fn redis_killed_and_restarted_loses_no_change_made_after_the_restart() {
    let Some(mut server) = RedisServer::start("redis_restarted") else {
        return;
    };
    let mut followers: Vec<Follower> = (0..2).map(|_| Follower::spawn(&server.url())).collect();
    store(&server)
        .set("max_upload_mb", "21")
        .expect("a valid value");
    for follower in &mut followers {
        follower.wait_for("upload=21", Duration::from_secs(20));
    }

    server.kill();
    for follower in &mut followers {
        // The outage is reported; the last values read stay.
        follower.wait_for("problem redis 127.0.0.1", Duration::from_secs(5));
        follower.drain(Duration::from_millis(300));
        assert!(
            follower.last_state.contains("upload=21"),
            "{}",
            follower.last_state
        );
    }

    // Restarted empty (nothing is saved); a change made right away arrives everywhere.
    server.restart();
    let mut store = store(&server);
    store.set("checkout_flow", "express").expect("a variant");
    store.set("max_upload_mb", "22").expect("a valid value");
    for follower in &mut followers {
        follower.wait_for(
            "upload=22 comments_u123=false flow=1",
            Duration::from_secs(5),
        );
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
    let (registry, _) = build::<3>(FLAGS_TOML, &[]);
    let runtime = registry.runtime();
    let follower = runtime
        .follow_redis(RedisOptions::new(&server.url()))
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
    // Then a valid change, announced: it applies; the bad entries do not.
    store.set("comments_enabled", "true").expect("a bool");
    wait_until(|| registry.bool(COMMENTS));
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
