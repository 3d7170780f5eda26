//! `flags serve` with OFREP: the options refused, and the real binary answering OFREP for an
//! environment over a real redis-server.

mod common;
#[path = "../../flags-runtime/tests/common/redis_server.rs"]
mod redis_server;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use common::{flags_with, project};
use redis_server::RedisServer;

const CONSOLE_TOKENS: &str = "ada editor console-token-0123456789";
const OFREP_TOKEN: &str = "ofrep-token-0123456789";

#[test]
fn ofrep_options_are_checked_before_serving() {
    let dir = project("clean");
    let vars = [
        ("FLAGS_CONSOLE_TOKENS", CONSOLE_TOKENS),
        ("FLAGS_REDIS_URL", "redis://127.0.0.1:1"),
    ];
    let origins_alone = flags_with(
        dir.path(),
        &["serve", "--ofrep-allow-origin", "https://app.example.com"],
        &vars,
    )
    .expect(1);
    assert!(
        origins_alone
            .stderr
            .contains("--ofrep-allow-origin needs OFREP tokens"),
        "{origins_alone:?}"
    );
    let short = flags_with(
        dir.path(),
        &["serve"],
        &[vars[0], vars[1], ("FLAGS_OFREP_TOKENS", "short")],
    )
    .expect(1);
    assert!(
        short
            .stderr
            .contains("an OFREP token is shorter than 16 characters"),
        "{short:?}"
    );
}

/// The console's process, stopped when dropped (also when an assertion fails).
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request to `port`; the status line and the body.
fn request(port: u16, head: &str, body: &str) -> (String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the console listens");
    write!(
        stream,
        "{head}\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.lines().next().unwrap_or_default().to_owned();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn serve_answers_ofrep_per_environment() {
    let Some(redis) = RedisServer::start("serve_answers_ofrep_per_environment") else {
        return;
    };
    let dir = project("clean");
    let tokens = dir.path().join("ofrep-tokens");
    std::fs::write(&tokens, format!("# the front end\n{OFREP_TOKEN}\n")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port();
    let mut serving = Serving(
        Command::new(env!("CARGO_BIN_EXE_flags"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--ofrep-tokens")
            .arg(&tokens)
            .current_dir(dir.path())
            .env_clear()
            .env("FLAGS_CONSOLE_TOKENS", CONSOLE_TOKENS)
            .env("FLAGS_REDIS_URL", redis.url())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("flags serve starts"),
    );
    let mut line = String::new();
    BufReader::new(serving.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        line,
        format!("flags console listening on http://127.0.0.1:{port}\n")
    );
    let staff = r#"{"context": {"targetingKey": "u-1", "email": "ada@example.com"}}"#;
    let path = "/environments/production/ofrep/v1/evaluate/flags/new_checkout_enabled";
    let (status, body) = request(
        port,
        &format!("POST {path} HTTP/1.1\r\nAuthorization: Bearer {OFREP_TOKEN}"),
        staff,
    );
    drop(serving);
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["value"], true);
    assert_eq!(answer["reason"], "TARGETING_MATCH");
}
