//! The layer, gate and extractor, driven in process with `tower::ServiceExt::oneshot`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flags::{Context, EvaluationContext, FeatureDisabled, TaskScope, feature_gate};
use flags_axum::{Enabled, FeatureGate, FlagsLayer};
use tower::ServiceExt;

flags::declare!("../tests/fixtures/targeting.toml");

/// The user, from an `x-email` header: staff have `@example.com`.
fn user_of(parts: &Parts) -> Option<Context> {
    let email = parts.headers.get("x-email")?.to_str().ok()?;
    Some(Context::new(email).with("email", email))
}

type UserFn = fn(&Parts) -> Option<Context>;

fn layer() -> FlagsLayer<flags_axum::FromFn<UserFn>> {
    FlagsLayer::from_fn(Flags::runtime(), user_of as UserFn)
}

fn request(path: &str, email: Option<&str>) -> Request<Body> {
    let mut request = Request::builder().uri(path);
    if let Some(email) = email {
        request = request.header("x-email", email);
    }
    request.body(Body::empty()).unwrap()
}

async fn call(app: &Router, path: &str, email: Option<&str>) -> (StatusCode, String) {
    let response = app.clone().oneshot(request(path, email)).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

const STAFF: Option<&str> = Some("ada@example.com");
const CUSTOMER: Option<&str> = Some("bob@customer.test");

#[tokio::test]
async fn handlers_and_what_they_call_evaluate_for_the_requesting_user() {
    fn deep_inside() -> bool {
        Flags::comments_enabled()
    }
    let app = Router::new()
        .route("/", get(|| async { deep_inside().to_string() }))
        .layer(layer());
    assert_eq!(call(&app, "/", STAFF).await.1, "true");
    assert_eq!(call(&app, "/", CUSTOMER).await.1, "false");
    assert_eq!(call(&app, "/", None).await.1, "false", "anonymous");
    assert!(!Flags::comments_enabled(), "nothing left behind");
}

fn gated(gate: FeatureGate) -> Router {
    Router::new()
        .merge(
            Router::new()
                .route("/comments", get(|| async { "page" }))
                .route(
                    "/api/comments",
                    get(|| async { "list" }).post(|| async { "created" }),
                )
                .layer(gate),
        )
        .route("/tasks", get(|| async { "tasks" }))
        .layer(layer())
}

#[tokio::test]
async fn a_gate_closes_every_route_of_its_router_with_404() {
    let app = gated(FeatureGate::new::<CommentsEnabledFeature>());
    for path in ["/comments", "/api/comments"] {
        assert_eq!(call(&app, path, STAFF).await.0, StatusCode::OK, "{path}");
        assert_eq!(
            call(&app, path, CUSTOMER).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let post = Request::post("/api/comments")
        .header("x-email", "bob@customer.test")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app.clone().oneshot(post).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&app, "/tasks", CUSTOMER).await,
        (StatusCode::OK, "tasks".into())
    );
}

#[tokio::test]
async fn a_gate_answers_403_or_the_applications_own_response() {
    let forbidden =
        gated(FeatureGate::new::<CommentsEnabledFeature>().status(StatusCode::FORBIDDEN));
    assert_eq!(
        call(&forbidden, "/comments", CUSTOMER).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(call(&forbidden, "/comments", STAFF).await.0, StatusCode::OK);

    let own = gated(
        FeatureGate::new::<CommentsEnabledFeature>()
            .respond_with(|disabled: FeatureDisabled| (StatusCode::GONE, disabled.to_string())),
    );
    assert_eq!(
        call(&own, "/api/comments", CUSTOMER).await,
        (
            StatusCode::GONE,
            "feature `comments_enabled` is not enabled".into()
        )
    );
}

/// An application's error type, which a disabled feature converts into.
#[derive(Debug)]
enum AppError {
    Disabled(FeatureDisabled),
}

impl From<FeatureDisabled> for AppError {
    fn from(disabled: FeatureDisabled) -> Self {
        AppError::Disabled(disabled)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::Disabled(disabled) => (
                StatusCode::NOT_FOUND,
                format!("no such page ({})", disabled.flag()),
            )
                .into_response(),
        }
    }
}

#[feature_gate("comments_enabled")]
async fn gated_handler() -> Result<&'static str, FeatureDisabled> {
    Ok("gated")
}

#[feature_gate("comments_enabled")]
async fn gated_with_app_error() -> Result<&'static str, AppError> {
    Ok("app")
}

async fn extracted(_: Enabled<CommentsEnabledFeature>) -> &'static str {
    "extracted"
}

#[tokio::test]
async fn the_extractor_and_gated_handlers_refuse_with_404() {
    let app = Router::new()
        .route("/gated", get(gated_handler))
        .route("/app", get(gated_with_app_error))
        .route("/extracted", get(extracted))
        .layer(layer());
    assert_eq!(
        call(&app, "/gated", STAFF).await,
        (StatusCode::OK, "gated".into())
    );
    assert_eq!(
        call(&app, "/gated", CUSTOMER).await,
        (StatusCode::NOT_FOUND, String::new())
    );
    assert_eq!(
        call(&app, "/app", STAFF).await,
        (StatusCode::OK, "app".into())
    );
    assert_eq!(
        call(&app, "/app", CUSTOMER).await,
        (
            StatusCode::NOT_FOUND,
            "no such page (comments_enabled)".into()
        )
    );
    assert_eq!(
        call(&app, "/extracted", STAFF).await,
        (StatusCode::OK, "extracted".into())
    );
    assert_eq!(
        call(&app, "/extracted", CUSTOMER).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
#[flags::stub(comments_enabled = true)]
async fn stubs_of_the_test_reach_handlers_it_calls_in_process() {
    let app = gated(FeatureGate::new::<CommentsEnabledFeature>());
    assert_eq!(call(&app, "/comments", CUSTOMER).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_servers_own_stubs_reach_its_requests_only() {
    let stubs = Flags::stub().comments_enabled(true).into_scope();
    let app = Router::new()
        .merge(
            Router::new()
                .route("/comments", get(|| async { "page" }))
                .layer(FeatureGate::new::<CommentsEnabledFeature>()),
        )
        .layer(layer().with_stubs(stubs));
    assert_eq!(call(&app, "/comments", CUSTOMER).await.0, StatusCode::OK);
    assert!(!Flags::comments_enabled_for(
        &Context::new("bob").with("email", "bob@customer.test")
    ));
}

/// The application's current-user extractor: a rejected request is anonymous for flags.
struct CurrentUser {
    email: String,
}

impl EvaluationContext for CurrentUser {
    fn key(&self) -> Option<flags::Attribute<'_>> {
        Some(flags::Attribute::Str(&self.email))
    }
    fn attribute(&self, name: &str) -> Option<flags::Attribute<'_>> {
        (name == "email").then_some(flags::Attribute::Str(&self.email))
    }
}

impl FromRequestParts<()> for CurrentUser {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, _: &()) -> Result<Self, StatusCode> {
        let email = parts
            .headers
            .get("x-email")
            .and_then(|value| value.to_str().ok())
            .ok_or(StatusCode::UNAUTHORIZED)?;
        Ok(CurrentUser {
            email: email.to_owned(),
        })
    }
}

#[tokio::test]
async fn the_context_can_come_from_the_applications_extractor() {
    let app = Router::new()
        .route("/", get(|| async { Flags::comments_enabled().to_string() }))
        .layer(FlagsLayer::from_extractor::<CurrentUser>(Flags::runtime()));
    assert_eq!(call(&app, "/", STAFF).await.1, "true");
    assert_eq!(call(&app, "/", CUSTOMER).await.1, "false");
    assert_eq!(
        call(&app, "/", None).await,
        (StatusCode::OK, "false".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_spawned_with_the_requests_scope_evaluate_for_its_user() {
    let app = Router::new()
        .route(
            "/",
            get(|Extension(scope): Extension<TaskScope>| async move {
                let spawned = tokio::spawn(scope.wrap(async { Flags::comments_enabled() }));
                spawned.await.unwrap().to_string()
            }),
        )
        .layer(layer());
    assert_eq!(call(&app, "/", STAFF).await.1, "true");
    assert_eq!(call(&app, "/", CUSTOMER).await.1, "false");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_sees_one_configuration_whatever_changes_meanwhile() {
    let runtime = Flags::runtime();
    let (changed_tx, changed_rx) = tokio::sync::oneshot::channel::<()>();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let channels = Arc::new(std::sync::Mutex::new(Some((started_tx, changed_rx))));
    let app = Router::new()
        .route(
            "/",
            get(move || {
                let channels = Arc::clone(&channels);
                async move {
                    let (started, changed) = channels.lock().unwrap().take().unwrap();
                    let before = Flags::layout();
                    started.send(()).unwrap();
                    changed.await.unwrap();
                    let after = Flags::layout();
                    format!("{before} {after}")
                }
            }),
        )
        .layer(layer());
    runtime.set_override("layout", "classic").unwrap();
    let pending = tokio::spawn(app.oneshot(request("/", STAFF)));
    started_rx.await.unwrap();
    runtime.set_override("layout", "compact").unwrap();
    assert_eq!(Flags::layout(), Layout::Compact, "the change is in force");
    changed_tx.send(()).unwrap();
    let response = pending.await.unwrap().unwrap();
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    assert_eq!(&body[..], b"classic classic");
    runtime.clear_override("layout").unwrap();
}
