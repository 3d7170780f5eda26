//! The OFREP endpoints over loopback: a real axum server on 127.0.0.1, called by clients
//! nobody here wrote (the official `open-feature-ofrep` provider of OpenFeature's Rust SDK,
//! and a plain HTTP client for what that provider does not do: bulk evaluation, ETags and
//! bad input), with the runtime following a real redis-server as a service's does.

#[path = "../../flags-openfeature/tests/common/environment.rs"]
mod environment;
#[path = "../../flags-runtime/tests/common/redis_server.rs"]
mod redis_server;

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use environment::runtime_in;
use flags_axum::ofrep::{self, Ofrep};
use flags_runtime::Runtime;
use flags_runtime::store::{RedisFollower, RedisOptions, RedisStore};
use open_feature::provider::FeatureProvider;
use open_feature::{EvaluationContext, EvaluationErrorCode};
use open_feature_ofrep::{OfrepOptions, OfrepProvider};
use redis_server::RedisServer;
use serde_json::{Value, json};

const TOKEN: &str = "ofrep-token-0123456789";
const COMMENTS: &str = "product-TASKS-103-comments";
/// The project's flags, those of the task_comments example.
const PROJECT_FLAGS: &str = include_str!("../../flags.toml");
/// Flags of every reason and error (shared with flags-openfeature's tests).
const FIXTURE_FLAGS: &str = include_str!("../../flags-openfeature/tests/fixtures/flags.toml");

/// A runtime of the test's own, in production.
fn production(flags: &str) -> &'static Runtime {
    runtime_in("production", flags)
}

/// `router` served on a free port of 127.0.0.1; its base URL.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{address}")
}

/// The project's flags in production, following `redis`, served with the token.
async fn following(redis: &RedisServer) -> (&'static Runtime, RedisFollower, String) {
    let runtime = production(PROJECT_FLAGS);
    let follower = runtime
        .follow_redis(RedisOptions::new(&redis.url()).environment("production"))
        .unwrap();
    assert!(follower.wait_until_synced(Duration::from_secs(10)));
    let base = serve(Ofrep::new(runtime).token(TOKEN).router()).await;
    (runtime, follower, base)
}

/// Adds `key` to segment `segment` in the store, as the example's webhook or `flags segment
/// add` do, and waits until `follower` has applied it.
fn segment_add(
    redis: &RedisServer,
    runtime: &'static Runtime,
    follower: &RedisFollower,
    key: &str,
) {
    let mut store = RedisStore::connect(&redis.url(), runtime.catalog(), "production").unwrap();
    let version = store.segment_add("beta", key).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while follower.status().version < version {
        assert!(std::time::Instant::now() < deadline, "the change arrives");
        std::thread::sleep(Duration::from_millis(5));
    }
}

async fn ofrep_provider(base: &str) -> OfrepProvider {
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {TOKEN}")).unwrap(),
    );
    OfrepProvider::new(OfrepOptions {
        base_url: base.to_owned(),
        headers,
        connect_timeout: Duration::from_secs(5),
        ..Default::default()
    })
    .await
    .unwrap()
}

fn user(key: &str, email: &str) -> EvaluationContext {
    EvaluationContext::default()
        .with_targeting_key(key)
        .with_custom_field("email", email)
}

/// POSTs `body` to `path` with the token; the status, the ETag and the JSON body (`Null`
/// when there is none).
async fn post(
    base: &str,
    path: &str,
    body: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Option<String>, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if !extra.iter().any(|(name, _)| *name == "authorization") {
        request = request.header("authorization", format!("Bearer {TOKEN}"));
    }
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let etag = response
        .headers()
        .get("etag")
        .map(|tag| tag.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, etag, json)
}

const BULK: &str = "/ofrep/v1/evaluate/flags";

#[tokio::test(flavor = "multi_thread")]
async fn the_official_ofrep_provider_evaluates_over_loopback() {
    let Some(redis) = RedisServer::start("the_official_ofrep_provider_evaluates_over_loopback")
    else {
        return;
    };
    let (runtime, follower, base) = following(&redis).await;
    let provider = ofrep_provider(&base).await;
    let staff = user("u-1", "ada@example.com");
    let customer = user("u-2", "bob@customer.test");

    // The comments flag: staff by rule 1, a customer not.
    let comments = provider.resolve_bool_value(COMMENTS, &staff).await.unwrap();
    assert!(comments.value);
    assert_eq!(comments.variant.as_deref(), Some("true"));
    assert!(
        !provider
            .resolve_bool_value(COMMENTS, &customer)
            .await
            .unwrap()
            .value
    );

    // A variant flag, a number and a float.
    let flow = provider
        .resolve_string_value("checkout_flow", &customer)
        .await
        .unwrap();
    assert_eq!(flow.value, "legacy");
    assert_eq!(flow.variant.as_deref(), Some("legacy"));
    let upload = provider
        .resolve_int_value("max_upload_mb", &customer)
        .await
        .unwrap();
    assert_eq!(upload.value, 25);
    let rate = provider
        .resolve_float_value("search_sample_rate", &customer)
        .await
        .unwrap();
    assert_eq!(rate.value, 0.05);

    // An unknown flag.
    let unknown = provider
        .resolve_bool_value("product-TASKS-104-likes", &staff)
        .await
        .unwrap_err();
    assert_eq!(unknown.code, EvaluationErrorCode::FlagNotFound);

    // A wrong type: OFREP carries no type, so the client finds the value is not an
    // integer (this provider reports it as PARSE_ERROR).
    let wrong = provider
        .resolve_int_value(COMMENTS, &staff)
        .await
        .unwrap_err();
    assert_eq!(wrong.code, EvaluationErrorCode::ParseError);

    // Support tags the customer as a beta tester, through Redis: the next evaluation sees it.
    segment_add(&redis, runtime, &follower, "u-2");
    assert!(
        provider
            .resolve_bool_value(COMMENTS, &customer)
            .await
            .unwrap()
            .value
    );

    // A kill switch in the store: off for staff too.
    let mut store = RedisStore::connect(&redis.url(), runtime.catalog(), "production").unwrap();
    let version = store.set(COMMENTS, "false").unwrap();
    while follower.status().version < version {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        !provider
            .resolve_bool_value(COMMENTS, &staff)
            .await
            .unwrap()
            .value
    );
}

/// The official provider does only single-flag evaluation: bulk evaluation and its ETag
/// are checked with a plain HTTP client, as the web provider uses them.
#[tokio::test(flavor = "multi_thread")]
async fn bulk_evaluation_is_304_until_something_changes() {
    let Some(redis) = RedisServer::start("bulk_evaluation_is_304_until_something_changes") else {
        return;
    };
    let (runtime, follower, base) = following(&redis).await;
    let body = r#"{"context": {"targetingKey": "u-2", "email": "bob@customer.test"}}"#;
    let (status, etag, flags) = post(&base, BULK, body, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let etag = etag.expect("an ETag");
    let comments = &flags["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|flag| flag["key"] == COMMENTS)
        .unwrap()
        .clone();
    assert_eq!(
        comments,
        &json!({
            "key": COMMENTS,
            "value": false,
            "reason": "DEFAULT",
            "variant": "false",
            "metadata": { "owner": "tasks", "ticket": "TASKS-103" },
        })
    );
    assert_eq!(flags["flags"].as_array().unwrap().len(), 6);
    assert_eq!(flags["metadata"], json!({ "environment": "production" }));

    // Nothing changed: 304, no body.
    let (status, again, body_304) = post(&base, BULK, body, &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(again.as_deref(), Some(etag.as_str()));
    assert_eq!(body_304, Value::Null);
    // A change for someone else changes nothing for this context.
    segment_add(&redis, runtime, &follower, "u-3");
    let (status, _, _) = post(&base, BULK, body, &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    // A change for this context: a new answer, with a new ETag.
    segment_add(&redis, runtime, &follower, "u-2");
    let (status, changed, flags) = post(&base, BULK, body, &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(changed.as_deref(), Some(etag.as_str()));
    let comments = flags["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|flag| flag["key"] == COMMENTS)
        .unwrap();
    assert_eq!(comments["value"], true);
    assert_eq!(comments["reason"], "TARGETING_MATCH");

    // One flag has an ETag too, and 304 the same way.
    let path = format!("/ofrep/v1/evaluate/flags/{COMMENTS}");
    let (status, tag, one) = post(&base, &path, body, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["value"], true);
    let tag = tag.unwrap();
    let weak = format!("W/{tag}, \"other\"");
    let (status, _, _) = post(&base, &path, body, &[("if-none-match", &weak)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn errors_have_the_status_and_body_of_the_openapi_document() {
    let base = serve(Ofrep::new(production(FIXTURE_FLAGS)).token(TOKEN).router()).await;
    let anonymous = r#"{"context": {"email": "x@customer.test"}}"#;

    let (status, etag, body) = post(
        &base,
        "/ofrep/v1/evaluate/flags/new_serch_enabled",
        anonymous,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(etag, None);
    assert_eq!(
        body,
        json!({
            "key": "new_serch_enabled",
            "errorCode": "FLAG_NOT_FOUND",
            "errorDetails": "unknown flag `new_serch_enabled`; did you mean `new_search_enabled`?",
        })
    );

    // A rollout by key, without a key.
    let (status, _, body) = post(
        &base,
        "/ofrep/v1/evaluate/flags/new_search_enabled",
        anonymous,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["key"], "new_search_enabled");
    assert_eq!(body["errorCode"], "TARGETING_KEY_MISSING");
    assert_eq!(
        body["errorDetails"],
        "error (the rollout is by key, and the context has none): default served"
    );

    // In bulk, the same failure is that flag's item; the others are evaluated.
    let (status, _, body) = post(&base, BULK, anonymous, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let flags = body["flags"].as_array().unwrap();
    let item = |key: &str| {
        flags
            .iter()
            .find(|flag| flag["key"] == key)
            .unwrap()
            .clone()
    };
    assert_eq!(
        item("new_search_enabled")["errorCode"],
        "TARGETING_KEY_MISSING"
    );
    assert_eq!(
        item("org_reports_enabled")["errorCode"],
        "TARGETING_KEY_MISSING"
    );
    assert_eq!(item("checkout_flow")["value"], "express");
    assert_eq!(item("checkout_flow")["reason"], "STATIC");
    assert_eq!(item("max_upload_mb")["value"], 25);
    assert_eq!(item("search_sample_rate")["value"], 0.5);
    assert_eq!(item("support_banner")["value"], "Maintenance tonight");
    assert_eq!(item("support_banner").get("variant"), None);
    assert_eq!(item("comment_reactions_enabled")["reason"], "DISABLED");
    assert_eq!(
        item(COMMENTS)["metadata"],
        json!({ "owner": "tasks", "ticket": "TASKS-103", "expires": "2029-06-30" })
    );
    let keyed = r#"{"context": {"targetingKey": "u-9"}}"#;
    let (_, _, body) = post(&base, BULK, keyed, &[]).await;
    let flags = body["flags"].as_array().unwrap();
    let org = flags
        .iter()
        .find(|flag| flag["key"] == "org_reports_enabled")
        .unwrap();
    assert_eq!(org["errorCode"], "INVALID_CONTEXT");
    let split = flags
        .iter()
        .find(|flag| flag["key"] == "new_search_enabled")
        .unwrap();
    assert_eq!(split["reason"], "SPLIT");
}

#[tokio::test]
async fn bad_input_is_a_clear_4xx() {
    let base = serve(Ofrep::new(production(PROJECT_FLAGS)).token(TOKEN).router()).await;
    let one = format!("/ofrep/v1/evaluate/flags/{COMMENTS}");
    let good = r#"{"context": {"targetingKey": "u-1"}}"#;

    // Oversized body.
    let huge = format!(
        r#"{{"context": {{"targetingKey": "u-1", "note": "{}"}}}}"#,
        "x".repeat(70 * 1024)
    );
    for path in [one.as_str(), BULK] {
        let (status, _, body) = post(&base, path, &huge, &[]).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_eq!(
            body["errorDetails"],
            "the request body is over this server's limit"
        );
    }

    // A context nested past the limit, and past what the JSON reader takes at all.
    let deep = format!(
        r#"{{"context": {{"targetingKey": "u-1", "roles": {}"admin"{}}}}}"#,
        "[".repeat(20),
        "]".repeat(20)
    );
    let (status, _, body) = post(&base, &one, &deep, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errorCode"], "INVALID_CONTEXT");
    assert_eq!(
        body["errorDetails"],
        "the request nests deeper than 8 levels"
    );
    let deeper = format!(
        r#"{{"context": {}1{}}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let (status, _, body) = post(&base, BULK, &deeper, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errorCode"], "PARSE_ERROR");

    // Not JSON; not an object; a context that is not an object; a targeting key that is not
    // a string; an attribute flags cannot compare.
    let cases = [
        (r#"{"context": {"targetingKey": "u-1""#, "PARSE_ERROR"),
        ("[1, 2]", "PARSE_ERROR"),
        (r#"{"context": "u-1"}"#, "INVALID_CONTEXT"),
        (r#"{"context": {"targetingKey": 42}}"#, "INVALID_CONTEXT"),
        (
            r#"{"context": {"targetingKey": "u-1", "address": {"city": "Oslo"}}}"#,
            "INVALID_CONTEXT",
        ),
        (
            r#"{"context": {"targetingKey": "u-1", "ids": [1, 2]}}"#,
            "INVALID_CONTEXT",
        ),
    ];
    for (body, code) in cases {
        let (status, _, answer) = post(&base, &one, body, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["errorCode"], code, "{body}");
        assert_eq!(answer["key"], COMMENTS, "{body}");
        let (status, _, answer) = post(&base, BULK, body, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "bulk {body}");
        assert_eq!(answer["errorCode"], code, "bulk {body}");
        assert_eq!(answer.get("key"), None, "bulk {body}");
    }

    // No token, a wrong token, another scheme.
    for authorization in [
        "",
        "Bearer wrong-token-0123456789",
        &format!("Basic {TOKEN}"),
    ] {
        let (status, _, body) = post(&base, &one, good, &[("authorization", authorization)]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert!(body["errorDetails"].is_string());
    }
    let response = reqwest::Client::new()
        .post(format!("{base}{BULK}"))
        .body(good)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");

    // Another method.
    let response = reqwest::Client::new()
        .get(format!("{base}{BULK}"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);

    // An empty body is an anonymous context; the right token gets through.
    let (status, _, body) = post(&base, &one, "", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["value"], false);
    let (status, _, body) = post(
        &base,
        &one,
        r#"{"context": {"targetingKey": "u-1", "email": "ada@example.com", "plan": null}}"#,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["reason"], "TARGETING_MATCH");
}

#[tokio::test]
async fn closed_until_a_token_or_public_and_cors_for_the_origins_given() {
    let runtime = production(PROJECT_FLAGS);
    let closed = serve(Ofrep::new(runtime).router()).await;
    let good = r#"{"context": {"targetingKey": "u-1"}}"#;
    let (status, _, _) = post(&closed, BULK, good, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // An empty token is no token: `Bearer ` with nothing after it gets nowhere.
    let empty = serve(Ofrep::new(runtime).token(" ").router()).await;
    let (status, _, _) = post(&empty, BULK, good, &[("authorization", "Bearer ")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let open = serve(Ofrep::new(runtime).public().router()).await;
    let (status, _, _) = post(&open, BULK, good, &[("authorization", "")]).await;
    assert_eq!(status, StatusCode::OK);

    let app = "http://app.test:3000";
    let browsers = serve(
        Ofrep::new(runtime)
            .token(TOKEN)
            .cors(ofrep::cors([HeaderValue::from_static(app)]))
            .router(),
    )
    .await;
    let client = reqwest::Client::new();
    // The preflight needs no token.
    let preflight = |origin: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, format!("{browsers}{BULK}"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type,if-none-match",
            )
            .send()
    };
    let allowed = preflight(app).await.unwrap();
    assert!(allowed.status().is_success());
    assert_eq!(allowed.headers()["access-control-allow-origin"], app);
    let allowed_headers = allowed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(allowed_headers.contains("authorization") && allowed_headers.contains("if-none-match"));
    let other = preflight("http://elsewhere.test").await.unwrap();
    assert_eq!(other.headers().get("access-control-allow-origin"), None);
    // The answer lets the page read its ETag.
    let (status, _, _) = post(&browsers, BULK, good, &[("origin", app)]).await;
    assert_eq!(status, StatusCode::OK);
    let response = client
        .post(format!("{browsers}{BULK}"))
        .header("origin", app)
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(good)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-expose-headers"], "etag");
}
