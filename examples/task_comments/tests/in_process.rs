//! The same handlers in process: through `tower::ServiceExt::oneshot` with test stubs, and
//! two servers with opposite flag values serving at once.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use task_comments::{AppState, Flags, app, app_with_stubs};
use tower::ServiceExt;

async fn call(router: axum::Router, method: &str, path: &str, user: &str) -> (StatusCode, String) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("x-user-id", user)
        .header("content-type", "application/json")
        .body(Body::from(if method == "POST" {
            r#"{"text":"from a test"}"#
        } else {
            ""
        }))
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

const LINK: &str = "href=\"/tasks/1/comments\">Comments</a>";

#[tokio::test]
#[flags::stub(product_tasks_103_comments = false, flags = task_comments::Flags)]
async fn with_the_feature_stubbed_off_even_staff_get_no_link_and_404() {
    let router = app(AppState::new(None));
    let (status, tasks) = call(router.clone(), "GET", "/tasks", "u-1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!tasks.contains(LINK), "{tasks}");
    for (method, path) in [
        ("GET", "/tasks/1/comments"),
        ("GET", "/api/tasks/1/comments"),
        ("POST", "/api/tasks/1/comments"),
        ("DELETE", "/api/tasks/1/comments/1"),
    ] {
        let (status, _) = call(router.clone(), method, path, "u-1").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
    }
}

#[tokio::test]
#[flags::stub(product_tasks_103_comments = true, flags = task_comments::Flags)]
async fn with_the_feature_stubbed_on_any_user_can_comment() {
    let router = app(AppState::new(None));
    let (_, tasks) = call(router.clone(), "GET", "/tasks", "u-3").await;
    assert!(tasks.contains(LINK), "{tasks}");
    let (status, created) = call(router.clone(), "POST", "/api/tasks/1/comments", "u-3").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, list) = call(router.clone(), "GET", "/api/tasks/1/comments", "u-3").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains("from a test"), "{list}");
}

#[tokio::test]
async fn unknown_users_are_refused_and_admin_calls_need_a_configured_token() {
    let router = app(AppState::new(None));
    assert_eq!(
        call(router.clone(), "GET", "/tasks", "nobody").await.0,
        StatusCode::UNAUTHORIZED
    );
    let request = Request::post("/admin/segments/beta/members")
        .header("authorization", "Bearer anything")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"key":"u-2"}"#))
        .unwrap();
    assert_eq!(
        router.oneshot(request).await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "no ADMIN_TOKEN: every admin call is refused"
    );
}

/// Serves `router` on an ephemeral port of 127.0.0.1; returns its base URL.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_with_opposite_values_never_see_each_others() {
    let on = serve(app_with_stubs(
        AppState::new(None),
        Flags::stub().product_tasks_103_comments(true).into_scope(),
    ))
    .await;
    let off = serve(app_with_stubs(
        AppState::new(None),
        Flags::stub().product_tasks_103_comments(false).into_scope(),
    ))
    .await;
    let client = reqwest::Client::new();
    let mut requests = Vec::new();
    for round in 0..40 {
        for (base, expected) in [(&on, StatusCode::OK), (&off, StatusCode::NOT_FOUND)] {
            let client = client.clone();
            let url = format!("{base}/api/tasks/1/comments");
            // Staff and outsiders alike: the servers' own values decide.
            let user = if round % 2 == 0 { "u-1" } else { "u-2" };
            requests.push(tokio::spawn(async move {
                let status = client
                    .get(&url)
                    .header("x-user-id", user)
                    .send()
                    .await
                    .unwrap()
                    .status();
                assert_eq!(status, expected, "{url} as {user}");
            }));
        }
    }
    for request in requests {
        request.await.unwrap();
    }
}

#[tokio::test]
#[flags::stub(product_tasks_103_comments = true, flags = task_comments::Flags)]
async fn the_live_page_and_its_ofrep_answer_as_the_gate() {
    let router = app(AppState::new(None));
    let (status, page) = call(router.clone(), "GET", "/live?user=u-3", "").await;
    assert_eq!(status, StatusCode::OK);
    // Every link starts hidden; the page's script shows them as the flag says.
    assert_eq!(page.matches(" hidden>Comments</a>").count(), 3, "{page}");
    assert!(page.contains(r#""targetingKey":"u-3""#), "{page}");
    assert!(page.contains(r#""@openfeature/web-sdk": "/web/web-sdk.js""#));
    let (status, _) = call(router.clone(), "GET", "/live?user=nobody", "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Without OFREP_TOKEN, the page's own OFREP needs none; it evaluates as the gate does.
    let request = Request::builder()
        .method("POST")
        .uri("/ofrep/v1/evaluate/flags/product-TASKS-103-comments")
        .body(Body::from(r#"{"context": {"targetingKey": "u-3"}}"#))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["value"], true);
    // Only the SDK's four modules are served.
    let (status, _) = call(router.clone(), "GET", "/web/..%2F..%2FCargo.toml", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(router, "GET", "/web/package.json", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn with_ofrep_token_the_endpoints_want_it() {
    let router = app(AppState::with_store_and_ofrep(
        None,
        None,
        Some("ofrep-token-0123456789".into()),
    ));
    let (status, _) = call(router.clone(), "POST", "/ofrep/v1/evaluate/flags", "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, page) = call(router, "GET", "/live?user=u-1", "").await;
    assert!(
        page.contains(r#""token":"ofrep-token-0123456789""#),
        "{page}"
    );
}
