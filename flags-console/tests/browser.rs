//! The console as people use it: headless Chromium over WebDriver (chromedriver), controls
//! found by their visible labels, and a real task_comments process following the same Redis.
//!
//! One browser session for the whole file, to stay fast on two cores. Without chromium and
//! chromedriver the test prints SKIPPED, unless REQUIRE_BROWSER=1 (CI), which makes it fail.
//! With CONSOLE_SCREENSHOTS=DIR it saves the screenshots of docs/console.md there.

mod common;
#[path = "../../examples/task_comments/tests/common/service.rs"]
mod service;
#[path = "common/webdriver.rs"]
mod webdriver;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use webdriver::{Process, browser, browser_installed};

/// The task_comments binary (built if needed), in production, following `redis`.
fn task_comments(redis: &RedisServer) -> (Process, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "task_comments",
            "--bin",
            "task_comments",
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .status()
        .expect("cargo runs");
    assert!(built.success(), "task_comments builds");
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").to_owned());
    let url = redis.url();
    let (child, base) = service::start(
        Path::new(&format!("{target}/debug/task_comments")),
        &[
            ("APP_ENV", "production"),
            ("PORT", "0"),
            ("ADMIN_TOKEN", "admin-token-0123456789"),
            ("FLAGS_REDIS_URL", &url),
            ("RUST_LOG", "warn"),
        ],
    );
    (Process(child), base)
}

/// Whether user `user` sees the comments link on the service's next request, waiting (a few
/// seconds at most) for it to become `expected`.
async fn sees_comments(service: &str, user: &str, expected: bool) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let page = client
            .get(format!("{service}/tasks"))
            .header("x-user-id", user)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if page.contains("Comments") == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{user} should see comments: {expected}; {page}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The input whose <label> reads `label`.
async fn field(browser: &Client, label: &str) -> fantoccini::elements::Element {
    let label_element = browser
        .find(Locator::XPath(&format!(
            "//label[normalize-space()='{label}']"
        )))
        .await
        .unwrap_or_else(|_| panic!("no label {label:?}"));
    let id = label_element
        .attr("for")
        .await
        .unwrap()
        .expect("the label names its input");
    browser.find(Locator::Id(&id)).await.unwrap()
}

async fn click(browser: &Client, button: &str) {
    browser
        .find(Locator::XPath(&format!(
            "//button[normalize-space()='{button}']"
        )))
        .await
        .unwrap_or_else(|_| panic!("no button {button:?}"))
        .click()
        .await
        .unwrap();
}

async fn has_button(browser: &Client, button: &str) -> bool {
    browser
        .find(Locator::XPath(&format!(
            "//button[normalize-space()='{button}']"
        )))
        .await
        .is_ok()
}

/// The page's visible text (read again when the page changed under the read).
async fn text(browser: &Client) -> String {
    for _ in 0..50 {
        if let Ok(body) = browser.find(Locator::Css("body")).await {
            if let Ok(text) = body.text().await {
                return text;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the page has no readable body");
}

/// Waits (5 s at most) until the page shows `needle`.
async fn shows(browser: &Client, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let page = text(browser).await;
        if page.contains(needle) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the page does not show {needle:?}: {page}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn login(browser: &Client, base: &str, token: &str) {
    browser.goto(&format!("{base}/flags")).await.unwrap();
    assert!(
        browser
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/login")
    );
    field(browser, "Access token")
        .await
        .send_keys(token)
        .await
        .unwrap();
    click(browser, "Log in").await;
    shows(browser, "Flags of").await;
}

async fn screenshot(browser: &Client, name: &str) {
    if let Ok(dir) = std::env::var("CONSOLE_SCREENSHOTS") {
        let png = browser.screenshot().await.unwrap();
        std::fs::write(format!("{dir}/{name}.png"), png).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn release_managers_flip_ramp_and_tag_in_a_real_browser() {
    let test = "console in a browser";
    if !browser_installed(test) {
        return;
    }
    let Some(redis) = RedisServer::start(test) else {
        return;
    };
    let base = start_console(&redis).await;
    let (_service_process, service) = task_comments(&redis);
    let profile = tempfile::tempdir().unwrap();
    let (_driver, browser) = browser(profile.path()).await;

    // A viewer sees, and cannot change.
    login(&browser, &base, VIEWER).await;
    browser
        .goto(&format!("{base}/flags/product-TASKS-103-comments"))
        .await
        .unwrap();
    assert!(!has_button(&browser, "Turn off in production").await);
    assert!(
        text(&browser)
            .await
            .contains("You may see production, not change it.")
    );
    click(&browser, "Log out").await;
    shows(&browser, "Access token").await;

    // The editor's session: a Secure, HttpOnly cookie that Chromium keeps for 127.0.0.1.
    login(&browser, &base, EDITOR).await;
    screenshot(&browser, "console-flags").await;
    let cookie = browser.get_named_cookie("flags_console").await.unwrap();
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(cookie.http_only(), Some(true));
    // The same session without the form's CSRF token is refused.
    let forged = client()
        .post(format!(
            "{base}/environments/production/flags/product-TASKS-103-comments/value"
        ))
        .header("cookie", format!("flags_console={}", cookie.value()))
        .form(&[("value", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let anonymous = client()
        .post(format!(
            "{base}/environments/production/flags/product-TASKS-103-comments/value"
        ))
        .form(&[("value", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    sees_comments(&service, "u-2", false).await;

    // The production kill switch: on for everyone, then off for everyone, then the rules.
    browser
        .goto(&format!("{base}/flags/product-TASKS-103-comments"))
        .await
        .unwrap();
    click(&browser, "Turn on in production").await;
    shows(
        &browser,
        "Set product-TASKS-103-comments to true in production",
    )
    .await;
    sees_comments(&service, "u-2", true).await;
    click(&browser, "Turn off in production").await;
    shows(
        &browser,
        "Set product-TASKS-103-comments to false in production",
    )
    .await;
    sees_comments(&service, "u-1", false).await;
    screenshot(&browser, "console-flag").await;
    click(&browser, "Clear the override in production").await;
    shows(&browser, "Cleared the override").await;
    sees_comments(&service, "u-1", true).await;
    sees_comments(&service, "u-3", false).await;

    // Raising a rollout.
    browser
        .goto(&format!("{base}/flags/new_feature_enabled"))
        .await
        .unwrap();
    let rollout = field(&browser, "Rollout in production (% of users)").await;
    rollout.clear().await.unwrap();
    rollout.send_keys("10").await.unwrap();
    click(&browser, "Set the rollout in production").await;
    shows(&browser, "to 10%").await;
    let rollout = field(&browser, "Rollout in production (% of users)").await;
    rollout.clear().await.unwrap();
    rollout.send_keys("40").await.unwrap();
    click(&browser, "Set the rollout in production").await;
    shows(
        &browser,
        "Set the rollout of new_feature_enabled in production to 40%",
    )
    .await;
    shows(&browser, "In force: rollout 40%").await;

    // Support adds a customer to the beta from the segments page...
    browser.goto(&format!("{base}/segments")).await.unwrap();
    browser
        .find(Locator::LinkText("beta in production"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    shows(&browser, "Segment beta in production").await;
    field(&browser, "User key to add")
        .await
        .send_keys("u-3")
        .await
        .unwrap();
    click(&browser, "Add to beta in production").await;
    shows(&browser, "Added u-3 to beta").await;
    assert!(has_button(&browser, "Remove u-3 from beta").await);
    sees_comments(&service, "u-3", true).await;
    screenshot(&browser, "console-segment").await;

    // ...and Intercom tags another one.
    let notification = intercom_notification(
        "notif_browser",
        "user.tag.created",
        "Beta: comments",
        "u-2",
        now(),
    );
    let (status, answer) = post_intercom(&base, &notification, INTERCOM_SECRET).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    sees_comments(&service, "u-2", true).await;
    browser.refresh().await.unwrap();
    shows(&browser, "Remove u-2 from beta").await;

    // Every change in the audit log, with who made it.
    browser
        .find(Locator::LinkText("Audit log"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    shows(&browser, "intercom (webhook)").await;
    let log = text(&browser).await;
    assert!(log.contains("intercom (webhook)"), "{log}");
    assert!(log.contains("ada (console)"));
    assert!(log.contains("segment add"));
    assert!(log.contains("rollout true 40% / false 60%"));
    screenshot(&browser, "console-audit").await;
    browser.close().await.unwrap();
}
