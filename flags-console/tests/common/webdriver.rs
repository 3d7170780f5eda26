// Shared by the browser tests of the console and of the task_comments example (by path).
#![allow(dead_code)]

//! Headless Chromium over WebDriver: chromedriver on a free port of 127.0.0.1 and a session
//! with the flags Chromium needs on a closed network. Without chromium and chromedriver a
//! test is skipped with a notice, unless REQUIRE_BROWSER=1 (CI), which makes it fail.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A child process, killed when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn browser_installed(test: &str) -> bool {
    let installed =
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !installed {
        assert!(
            std::env::var("REQUIRE_BROWSER").as_deref() != Ok("1"),
            "{test}: {CHROMIUM} or {CHROMEDRIVER} is missing and REQUIRE_BROWSER=1; install them (apt-get install chromium chromium-driver)"
        );
        eprintln!(
            "SKIPPED {test}: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver; REQUIRE_BROWSER=1 makes this a failure)"
        );
    }
    installed
}

/// chromedriver on a free port, and a headless Chromium session with an empty profile.
pub async fn browser(profile: &std::path::Path) -> (Process, Client) {
    let port = free_port();
    let driver = Process(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let capabilities = serde_json::json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1200,1000",
                format!("--user-data-dir={}", profile.display()),
            ]
        }
    });
    let capabilities = match capabilities {
        serde_json::Value::Object(map) => map,
        _ => unreachable!(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return (driver, client),
            Err(error) => {
                assert!(Instant::now() < deadline, "no WebDriver session: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
