//! The service as users meet it: the real binary started on an ephemeral port of 127.0.0.1,
//! driven over HTTP.

#[path = "../../../flags-runtime/tests/common/redis_server.rs"]
mod redis_server;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

const TOKEN: &str = "test-admin-token";
const STAFF: &str = "u-1";
const OUTSIDER: &str = "u-2";
const OTHER_OUTSIDER: &str = "u-3";

/// A running service, stopped when dropped.
struct Service {
    child: Child,
    base: String,
    client: reqwest::Client,
}

impl Service {
    /// Starts the binary in `environment`, with no flag setting from the shell running the
    /// tests, and reads the address it prints.
    fn start(environment: &str) -> Service {
        Service::start_with(environment, &[])
    }

    /// Like [`Service::start`], with more environment variables.
    fn start_with(environment: &str, vars: &[(&str, &str)]) -> Service {
        let mut command = Command::new(env!("CARGO_BIN_EXE_task_comments"));
        command
            .env_remove("FLAGS_REDIS_URL")
            .envs(vars.iter().copied());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("FLAGS_") {
                command.env_remove(&name);
            }
        }
        let mut child = command
            .env("APP_ENV", environment)
            .env("PORT", "0")
            .env("ADMIN_TOKEN", TOKEN)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the example binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the service prints its address");
        let expected_end = format!(" (environment: {environment})\n");
        assert!(
            line.starts_with("task_comments listening on http://127.0.0.1:")
                && line.ends_with(&expected_end),
            "unexpected first line: {line:?}"
        );
        let base =
            line["task_comments listening on ".len()..line.len() - expected_end.len()].to_owned();
        Service {
            child,
            base,
            client: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, user: &str, path: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(self.url(path))
            .header("x-user-id", user)
            .send()
            .await
            .expect("request");
        (response.status(), response.text().await.expect("body"))
    }

    async fn post_comment(&self, user: &str, task: u64, text: &str) -> (StatusCode, String) {
        let response = self
            .client
            .post(self.url(&format!("/api/tasks/{task}/comments")))
            .header("x-user-id", user)
            .json(&json!({ "text": text }))
            .send()
            .await
            .expect("request");
        (response.status(), response.text().await.expect("body"))
    }

    async fn delete_comment(&self, user: &str, task: u64, comment: u64) -> StatusCode {
        self.client
            .delete(self.url(&format!("/api/tasks/{task}/comments/{comment}")))
            .header("x-user-id", user)
            .send()
            .await
            .expect("request")
            .status()
    }

    async fn add_to_beta(&self, token: Option<&str>, key: &str) -> StatusCode {
        let mut request = self
            .client
            .post(self.url("/admin/segments/beta/members"))
            .json(&json!({ "key": key }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request").status()
    }

    /// Whether `user` has comments: the link on the task list, and every route of the
    /// resource; asserts they agree.
    async fn has_comments(&self, user: &str) -> bool {
        let (status, tasks) = self.get(user, "/tasks").await;
        assert_eq!(status, StatusCode::OK);
        let link = tasks.contains("href=\"/tasks/1/comments\">Comments</a>");
        let page = self.get(user, "/tasks/1/comments").await.0;
        let list = self.get(user, "/api/tasks/1/comments").await.0;
        let expected = if link {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(
            (page, list),
            (expected, expected),
            "user {user}, link {link}"
        );
        link
    }

    /// Creates, lists and deletes a comment as `user`, asserting each step succeeds.
    async fn comment_round_trip(&self, user: &str) {
        let (status, body) = self.post_comment(user, 2, "Looks <good>").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let created: Value = serde_json::from_str(&body).expect("JSON comment");
        let id = created["id"].as_u64().expect("an id");
        assert_eq!(created["text"], "Looks <good>");

        let (status, list) = self.get(user, "/api/tasks/2/comments").await;
        assert_eq!(status, StatusCode::OK);
        let list: Value = serde_json::from_str(&list).expect("JSON list");
        assert!(list.as_array().unwrap().iter().any(|c| c["id"] == id));
        let (_, page) = self.get(user, "/tasks/2/comments").await;
        assert!(
            page.contains("Looks &lt;good&gt;"),
            "escaped on the page: {page}"
        );

        assert_eq!(
            self.delete_comment(user, 2, id).await,
            StatusCode::NO_CONTENT
        );
        let (_, list) = self.get(user, "/api/tasks/2/comments").await;
        let list: Value = serde_json::from_str(&list).expect("JSON list");
        assert!(!list.as_array().unwrap().iter().any(|c| c["id"] == id));
        assert_eq!(
            self.delete_comment(user, 2, id).await,
            StatusCode::NOT_FOUND
        );
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn in_production_only_staff_have_comments_and_outsiders_get_404_everywhere() {
    let service = Service::start("production");
    assert!(!service.has_comments(OUTSIDER).await);
    let (status, _) = service.post_comment(OUTSIDER, 1, "hello").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        service.delete_comment(OUTSIDER, 1, 1).await,
        StatusCode::NOT_FOUND
    );

    assert!(service.has_comments(STAFF).await);
    service.comment_round_trip(STAFF).await;
}

#[tokio::test]
async fn in_development_everyone_has_comments() {
    let service = Service::start("development");
    assert!(service.has_comments(OUTSIDER).await);
    service.comment_round_trip(OUTSIDER).await;
    assert!(service.has_comments(STAFF).await);
}

#[tokio::test]
async fn the_admin_webhook_needs_the_token_and_takes_effect_on_the_next_request() {
    let service = Service::start("production");
    assert!(!service.has_comments(OUTSIDER).await);

    assert_eq!(
        service.add_to_beta(None, OUTSIDER).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        service.add_to_beta(Some("wrong-token"), OUTSIDER).await,
        StatusCode::FORBIDDEN
    );
    assert!(
        !service.has_comments(OUTSIDER).await,
        "a refused call changes nothing"
    );

    assert_eq!(
        service.add_to_beta(Some(TOKEN), OUTSIDER).await,
        StatusCode::NO_CONTENT
    );
    assert!(service.has_comments(OUTSIDER).await, "no restart needed");
    service.comment_round_trip(OUTSIDER).await;
    assert!(
        !service.has_comments(OTHER_OUTSIDER).await,
        "only the user added"
    );

    let unknown = service
        .client
        .post(service.url("/admin/segments/betta/members"))
        .bearer_auth(TOKEN)
        .json(&json!({ "key": OUTSIDER }))
        .send()
        .await
        .expect("request");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(
        unknown
            .text()
            .await
            .unwrap()
            .contains("did you mean `beta`?")
    );

    // The counts name flags and values, never users.
    let counts = service
        .client
        .get(service.url("/admin/flag-counts"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request")
        .text()
        .await
        .unwrap();
    let counts: Value = serde_json::from_str(&counts).expect("JSON counts");
    let count_of = |value: &str| {
        counts
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["flag"] == "product-TASKS-103-comments" && c["value"] == value)
            .and_then(|c| c["count"].as_u64())
            .unwrap_or(0)
    };
    assert!(count_of("true") > 0 && count_of("false") > 0, "{counts}");
    assert!(!counts.to_string().contains("u-"), "{counts}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_redis_store_the_webhook_reaches_every_process() {
    let Some(redis) = redis_server::RedisServer::start("task_comments webhook through Redis")
    else {
        return;
    };
    let url = redis.url();
    let first = Service::start_with("production", &[("FLAGS_REDIS_URL", &url)]);
    let second = Service::start_with("production", &[("FLAGS_REDIS_URL", &url)]);
    assert!(!first.has_comments(OUTSIDER).await);
    assert!(!second.has_comments(OUTSIDER).await);

    assert_eq!(
        first.add_to_beta(Some(TOKEN), OUTSIDER).await,
        StatusCode::NO_CONTENT
    );
    assert!(
        first.has_comments(OUTSIDER).await,
        "the process that wrote it, on the next request"
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    while !second.has_comments(OUTSIDER).await {
        assert!(
            Instant::now() < deadline,
            "the other process never followed the store"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!second.has_comments(OTHER_OUTSIDER).await);
}
