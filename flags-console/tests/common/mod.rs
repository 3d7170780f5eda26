// Shared by the test binaries, each of which uses part of it.
#![allow(dead_code)]

//! A console of a test's own: a real redis-server, the console on a free port of 127.0.0.1,
//! and a client that logs in the way a browser does.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use flags_console::{Console, ConsoleConfig, Intercom, Role, Token};
use hmac_sign::sign;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

#[path = "../../../flags-runtime/tests/common/redis_server.rs"]
mod redis_server;
pub use redis_server::RedisServer;

pub const EDITOR: &str = "editor-token-0123456789";
pub const VIEWER: &str = "viewer-token-0123456789";
pub const STAGING_EDITOR: &str = "staging-token-0123456789";
pub const INTERCOM_SECRET: &str = "intercom-client-secret";
pub const WEBHOOK_TOKEN: &str = "webhook-token-0123456789";
pub const OFREP_TOKEN: &str = "ofrep-token-0123456789";

/// The project's own flags.toml (the task_comments example's).
pub fn flags_toml() -> (String, String) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../flags.toml").to_owned();
    let text = std::fs::read_to_string(&path).expect("the project's flags.toml");
    (path, text)
}

/// A console over `redis`, served on a free port; returns its base URL.
pub async fn start_console(redis: &RedisServer) -> String {
    start_console_with(redis, |config| config).await
}

/// Like [`start_console`], with more of the configuration from `more`.
pub async fn start_console_with(
    redis: &RedisServer,
    more: impl FnOnce(ConsoleConfig) -> ConsoleConfig,
) -> String {
    let (path, text) = flags_toml();
    let config = ConsoleConfig::new(&path, &text, &redis.url())
        .token(Token::new("ada", Role::Editor, EDITOR).unwrap())
        .token(Token::new("bob", Role::Viewer, VIEWER).unwrap())
        .token(
            Token::new(
                "carol",
                Role::EditorOf(vec!["staging".into()]),
                STAGING_EDITOR,
            )
            .unwrap(),
        )
        .intercom(
            Intercom::new(INTERCOM_SECRET, "production")
                .tag("Beta: comments", "beta")
                .max_age(Duration::from_secs(600)),
        )
        .webhook_token(WEBHOOK_TOKEN);
    let console = Console::new(more(config)).expect("a valid console");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = console
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let base = format!("http://{address}");
    // Until the console's followers have read the store once.
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = client();
    loop {
        if client.get(format!("{base}/login")).send().await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the console does not answer");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    base
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A logged-in session: its cookie and CSRF token.
pub struct Session {
    pub base: String,
    pub cookie: String,
    pub csrf: String,
    pub client: reqwest::Client,
}

/// The login form as a browser gets it: its CSRF value, and the cookie that carries it.
pub async fn login_form(client: &reqwest::Client, base: &str) -> (String, String) {
    let response = client.get(format!("{base}/login")).send().await.unwrap();
    let cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("flags_console_login="))
        .expect("the login form's cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = response.text().await.unwrap();
    (cookie, csrf_of(&page))
}

/// The CSRF value of the first form on `page`.
pub fn csrf_of(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a form with a CSRF token") + marker.len();
    page[start..start + 64].to_owned()
}

/// Logs in with `token` as a browser does: the form's page, then the form.
pub async fn post_login(client: &reqwest::Client, base: &str, token: &str) -> reqwest::Response {
    let (cookie, csrf) = login_form(client, base).await;
    client
        .post(format!("{base}/login"))
        .header(COOKIE, cookie)
        .form(&[("token", token), ("csrf", &csrf)])
        .send()
        .await
        .unwrap()
}

impl Session {
    pub async fn login(base: &str, token: &str) -> Session {
        let client = client();
        let response = post_login(&client, base, token).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        let mut session = Session {
            base: base.to_owned(),
            cookie,
            csrf: String::new(),
            client,
        };
        let page = session.get("/flags").await.1;
        session.csrf = csrf_of(&page);
        session
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// Posts a form with the CSRF token; the status and where it sends (or the page).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let mut form: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        form.extend_from_slice(fields);
        self.post_raw(path, &form).await
    }

    pub async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_owned());
        let body = response.text().await.unwrap();
        (status, location.unwrap_or(body))
    }
}

/// An Intercom notification as Intercom sends it: `topic` for user `user_id`, tag `tag`.
pub fn intercom_notification(
    id: &str,
    topic: &str,
    tag: &str,
    user_id: &str,
    created_at: u64,
) -> String {
    serde_json::json!({
        "type": "notification_event",
        "app_id": "abc123",
        "data": {
            "type": "notification_event_data",
            "item": {
                "type": "user_tag",
                "user": {
                    "type": "user",
                    "id": "5ee3d479d1cf3dedbee23d68",
                    "user_id": user_id,
                    "email": format!("{user_id}@customer.test"),
                    "name": "A customer",
                },
                "tag": { "type": "tag", "id": "4399420", "name": tag },
                "created_at": created_at,
                "admin": { "type": "admin" },
            }
        },
        "links": {},
        "id": id,
        "topic": topic,
        "delivery_status": "pending",
        "delivery_attempts": 1,
        "delivered_at": 0,
        "first_sent_at": created_at,
        "created_at": created_at,
        "self": null,
    })
    .to_string()
}

/// Posts `body` to the Intercom webhook, signed with `secret`.
pub async fn post_intercom(base: &str, body: &str, secret: &str) -> (StatusCode, String) {
    let response = client()
        .post(format!("{base}/webhooks/intercom"))
        .header("content-type", "application/json")
        .header("x-hub-signature", sign(secret, body))
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// HMAC-SHA1 signatures as Intercom makes them, with the crates the console uses.
mod hmac_sign {
    use hmac::{Hmac, KeyInit, Mac};

    pub fn sign(secret: &str, body: &str) -> String {
        let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        let digest = mac.finalize().into_bytes();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha1={hex}")
    }
}
