//! The live page as a person sees it: headless Chromium (over WebDriver) runs OpenFeature's
//! web SDK with the OFREP web provider against the real binary, following a real Redis. The
//! Comments link appears when support tags the customer (the admin webhook, which writes to
//! Redis) and disappears at the kill switch (a write to Redis), without a reload.
//!
//! Needs chromium, chromedriver, redis-server and the SDK's modules (`npm ci` in
//! `examples/task_comments/web`); without them the test is skipped with a notice, unless
//! REQUIRE_BROWSER=1 (CI), which makes it fail.

#[path = "../../../flags-runtime/tests/common/redis_server.rs"]
mod redis_server;
mod common {
    pub mod service;
}
#[path = "../../../flags-console/tests/common/webdriver.rs"]
mod webdriver;

use std::path::Path;
use std::time::{Duration, Instant};

use common::service;

use fantoccini::{Client, Locator};
use flags::store::RedisStore;
use redis_server::RedisServer;
use task_comments::Flags;
use webdriver::{Process, browser, browser_installed};

const ADMIN_TOKEN: &str = "admin-token-0123456789";
const OFREP_TOKEN: &str = "ofrep-token-0123456789";
const MODULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/web/node_modules/@openfeature");

/// Whether the web SDK's modules are installed; a failure without them under
/// REQUIRE_BROWSER=1.
fn modules_installed(test: &str) -> bool {
    let installed = std::path::Path::new(MODULES).join("web-sdk").exists();
    if !installed {
        assert!(
            std::env::var("REQUIRE_BROWSER").as_deref() != Ok("1"),
            "{test}: {MODULES} is missing and REQUIRE_BROWSER=1; run `npm ci` in examples/task_comments/web"
        );
        eprintln!(
            "SKIPPED {test}: {MODULES} is missing (run `npm ci` in examples/task_comments/web)"
        );
    }
    installed
}

/// The binary in production, following `redis`, with both tokens; its base URL.
fn service(redis: &RedisServer) -> (Process, String) {
    let url = redis.url();
    let (child, base) = service::start(
        Path::new(env!("CARGO_BIN_EXE_task_comments")),
        &[
            ("APP_ENV", "production"),
            ("PORT", "0"),
            ("ADMIN_TOKEN", ADMIN_TOKEN),
            ("OFREP_TOKEN", OFREP_TOKEN),
            ("FLAGS_REDIS_URL", &url),
            ("RUST_LOG", "warn"),
        ],
    );
    (Process(child), base)
}

/// The status of the comments page of task 1 for user `u-2`: what the server-side gate says.
async fn comments_for_u2(base: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .get(format!("{base}/tasks/1/comments"))
        .header("x-user-id", "u-2")
        .send()
        .await
        .unwrap()
        .status()
}

/// What the page says of the flag (`loading`, `on`, `off`, `error`), and how many Comments
/// links are shown.
async fn state(browser: &Client) -> (String, usize) {
    let status = match browser.find(Locator::Id("flags-status")).await {
        Ok(status) => status
            .attr("data-state")
            .await
            .ok()
            .flatten()
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    let mut shown = 0;
    for link in browser
        .find_all(Locator::LinkText("Comments"))
        .await
        .unwrap_or_default()
    {
        if link.is_displayed().await.unwrap_or(false) {
            shown += 1;
        }
    }
    (status, shown)
}

/// Waits (10 s at most) until the page is in `expected` state, with `links` links shown.
async fn shows(browser: &Client, expected: &str, links: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = state(browser).await;
        if now == (expected.to_owned(), links) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the page should be {expected} with {links} Comments links; it is {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_comments_link_follows_the_flag_in_the_browser() {
    let test = "the live page in a browser";
    if !browser_installed(test) || !modules_installed(test) {
        return;
    }
    let Some(redis) = RedisServer::start(test) else {
        return;
    };
    let (_service, base) = service(&redis);
    let profile = tempfile::tempdir().unwrap();
    let (_driver, browser) = browser(profile.path()).await;

    // Staff see the link; a customer does not, yet.
    browser
        .goto(&format!("{base}/live?user=u-1"))
        .await
        .unwrap();
    shows(&browser, "on", 3).await;
    browser
        .goto(&format!("{base}/live?user=u-2"))
        .await
        .unwrap();
    shows(&browser, "off", 0).await;

    // Support tags the customer as a beta tester (the admin webhook writes to Redis): the
    // link appears on the open page, as the server-side gate opens.
    let added = reqwest::Client::new()
        .post(format!("{base}/admin/segments/beta/members"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({ "key": "u-2" }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), reqwest::StatusCode::NO_CONTENT);
    shows(&browser, "on", 3).await;
    assert_eq!(comments_for_u2(&base).await, reqwest::StatusCode::OK);

    // The kill switch, written to Redis as `flags set --redis` does: gone, without a reload.
    let mut store =
        RedisStore::connect(&redis.url(), Flags::runtime().catalog(), "production").unwrap();
    store.set("product-TASKS-103-comments", "false").unwrap();
    shows(&browser, "off", 0).await;
    assert_eq!(comments_for_u2(&base).await, reqwest::StatusCode::NOT_FOUND);
    if let Ok(dir) = std::env::var("TASK_COMMENTS_SCREENSHOTS") {
        let png = browser.screenshot().await.unwrap();
        std::fs::write(format!("{dir}/task-comments-live.png"), png).unwrap();
    }
    browser.close().await.unwrap();
}
