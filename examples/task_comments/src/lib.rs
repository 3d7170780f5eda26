//! A small task list whose comments are being released behind the
//! `product-TASKS-103-comments` flag (see the project's `flags.toml`).
//!
//! - `GET /tasks` lists the tasks; each has a "Comments" link only for users who have the
//!   feature.
//! - The comments page (`GET /tasks/{task}/comments`) and the comments API
//!   (`GET`/`POST /api/tasks/{task}/comments`, `DELETE /api/tasks/{task}/comments/{id}`) are
//!   one router behind one [`FeatureGate`]: 404 for everyone else.
//! - `GET /live?user=u-2` is the task list again, with the Comments links shown or hidden in
//!   the browser by OpenFeature's web SDK and its OFREP web provider, which poll this
//!   service's own OFREP endpoints (`POST /ofrep/v1/evaluate/flags`): the link appears and
//!   disappears with the server-side gate, without a reload. The SDK's ES modules are
//!   served from `web/node_modules` (`npm ci` in `examples/task_comments/web`).
//! - `POST /admin/segments/{segment}/members` (bearer token) adds a user to a segment, as a
//!   support tool's webhook does when it tags a customer as a beta tester; it takes effect
//!   on the next request. `GET /admin/flag-counts` shows how often each flag served each
//!   value.
//!
//! With a Redis store (`FLAGS_REDIS_URL`), segment changes go to the store, so that every process
//! of the service follows them; without one, they change this process only.
//!
//! Users are identified by the `x-user-id` header (a stand-in for a session): `u-1` is
//! staff (`ada@example.com`), `u-2` and `u-3` are customers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::Query;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use flags::axum::ofrep::Ofrep;
use flags::axum::{FeatureGate, FlagsLayer};
use flags::store::{RedisFollower, RedisStore};
use flags::{EvaluationCounter, StubScope};
use serde::{Deserialize, Serialize};

flags::declare!("../../flags.toml");

/// The signed-in user: what flags are evaluated for.
#[derive(Clone, Debug, flags::EvaluationContext)]
pub struct CurrentUser {
    /// The user's id: what segments list and rollouts bucket.
    #[flags(key)]
    pub id: String,
    /// The user's e-mail address (staff have `@example.com`).
    pub email: String,
    /// The name shown on pages and comments.
    #[flags(skip)]
    pub name: String,
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let id = parts
            .headers
            .get("x-user-id")
            .and_then(|value| value.to_str().ok())
            .ok_or((
                StatusCode::UNAUTHORIZED,
                "sign in: send an x-user-id header\n",
            ))?;
        state
            .inner
            .users
            .get(id)
            .cloned()
            .ok_or((StatusCode::UNAUTHORIZED, "unknown user\n"))
    }
}

/// A task of the list.
#[derive(Clone, Debug, Serialize)]
pub struct Task {
    /// Its id.
    pub id: u64,
    /// What is to be done.
    pub title: String,
}

/// A comment on a task.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Comment {
    /// Its id.
    pub id: u64,
    /// Who wrote it.
    pub author: String,
    /// What they wrote.
    pub text: String,
}

/// The body of `POST /api/tasks/{task}/comments`.
#[derive(Debug, Deserialize)]
pub struct NewComment {
    /// The comment.
    pub text: String,
}

/// The body of `POST /admin/segments/{segment}/members`.
#[derive(Debug, Deserialize)]
pub struct NewMember {
    /// The user id to add.
    pub key: String,
}

/// The service's state: users, tasks and comments in memory, and the admin token.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    users: HashMap<String, CurrentUser>,
    tasks: Vec<Task>,
    comments: Mutex<HashMap<u64, Vec<Comment>>>,
    next_comment: AtomicU64,
    admin_token: Option<String>,
    evaluations: Arc<EvaluationCounter>,
    store: Option<SharedStore>,
    ofrep_token: Option<String>,
}

/// The fleet's Redis store: written by the admin endpoints, followed by this process.
pub struct SharedStore {
    url: String,
    environment: String,
    /// Connected on first use, and again after an error: the service starts, and keeps
    /// serving, while Redis is down.
    writer: Mutex<Option<RedisStore>>,
    follower: RedisFollower,
}

impl SharedStore {
    /// Writes to the store at `url` for `environment`; `follower` is this process following
    /// the same store.
    pub fn new(url: &str, environment: &str, follower: RedisFollower) -> Self {
        Self {
            url: url.to_owned(),
            environment: environment.to_owned(),
            writer: Mutex::new(None),
            follower,
        }
    }

    /// Applies a segment change to the store, then waits (up to a second) until this
    /// process has read it back, so that the caller's next request sees it.
    fn change_segment(&self, segment: &str, key: &str, add: bool) -> Result<(), String> {
        let version = {
            let mut writer = self
                .writer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let store = match writer.take() {
                Some(store) => store,
                None => {
                    RedisStore::connect(&self.url, Flags::runtime().catalog(), &self.environment)
                        .map_err(|error| error.to_string())?
                }
            };
            let store = writer.insert(store);
            let written = if add {
                store.segment_add(segment, key)
            } else {
                store.segment_remove(segment, key)
            };
            match written {
                Ok(version) => version,
                Err(error) => {
                    // Reconnect next time.
                    *writer = None;
                    return Err(error.to_string());
                }
            }
        };
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.follower.status().version < version && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }
}

impl AppState {
    /// A fresh store with three users and three tasks. Without `admin_token`, the admin
    /// endpoints refuse every call.
    pub fn new(admin_token: Option<String>) -> Self {
        Self::with_store(admin_token, None)
    }

    /// Like [`AppState::new`]; segment changes go to `store` when there is one.
    pub fn with_store(admin_token: Option<String>, store: Option<SharedStore>) -> Self {
        Self::with_store_and_ofrep(admin_token, store, None)
    }

    /// Like [`AppState::with_store`]; the OFREP endpoints want `ofrep_token` when there is
    /// one (the live page sends it). Without one, they answer any caller: what they say is
    /// what the page would show.
    pub fn with_store_and_ofrep(
        admin_token: Option<String>,
        store: Option<SharedStore>,
        ofrep_token: Option<String>,
    ) -> Self {
        let user = |id: &str, email: &str, name: &str| {
            (
                id.to_owned(),
                CurrentUser {
                    id: id.to_owned(),
                    email: email.to_owned(),
                    name: name.to_owned(),
                },
            )
        };
        let task = |id: u64, title: &str| Task {
            id,
            title: title.to_owned(),
        };
        let evaluations = Arc::new(EvaluationCounter::new());
        Self {
            inner: Arc::new(Inner {
                users: HashMap::from([
                    user("u-1", "ada@example.com", "Ada"),
                    user("u-2", "bob@customer.test", "Bob"),
                    user("u-3", "carol@customer.test", "Carol"),
                ]),
                tasks: vec![
                    task(1, "Write the release notes"),
                    task(2, "Review the checkout redesign"),
                    task(3, "Plan the beta"),
                ],
                comments: Mutex::new(HashMap::new()),
                next_comment: AtomicU64::new(1),
                admin_token: admin_token.filter(|token| !token.is_empty()),
                evaluations,
                store,
                ofrep_token: ofrep_token.filter(|token| !token.is_empty()),
            }),
        }
    }

    /// Counts every flag evaluation from now on, for `GET /admin/flag-counts`.
    pub fn count_evaluations(&self) {
        Flags::runtime().add_listener(self.inner.evaluations.clone());
    }

    fn task(&self, id: u64) -> Result<&Task, StatusCode> {
        self.inner
            .tasks
            .iter()
            .find(|task| task.id == id)
            .ok_or(StatusCode::NOT_FOUND)
    }

    fn comments(&self) -> MutexGuard<'_, HashMap<u64, Vec<Comment>>> {
        self.inner
            .comments
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A caller of the admin endpoints: a request with the admin token.
#[derive(Debug)]
pub struct Admin;

/// Why an admin call was refused.
#[derive(Debug)]
pub enum AdminRefusal {
    /// No token: 401.
    Missing,
    /// A wrong token: 403.
    Wrong,
    /// The service runs without a token: 403 to everyone.
    Disabled,
}

impl IntoResponse for AdminRefusal {
    fn into_response(self) -> Response {
        match self {
            AdminRefusal::Missing => (
                StatusCode::UNAUTHORIZED,
                [(WWW_AUTHENTICATE, "Bearer")],
                "send the admin token: Authorization: Bearer <token>\n",
            )
                .into_response(),
            AdminRefusal::Wrong => (StatusCode::FORBIDDEN, "wrong admin token\n").into_response(),
            AdminRefusal::Disabled => (
                StatusCode::FORBIDDEN,
                "the admin endpoints are off: start the service with ADMIN_TOKEN set\n",
            )
                .into_response(),
        }
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = AdminRefusal;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let given = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or(AdminRefusal::Missing)?;
        match &state.inner.admin_token {
            Some(token) if same_secret(token.as_bytes(), given.as_bytes()) => Ok(Admin),
            Some(_) => Err(AdminRefusal::Wrong),
            None => Err(AdminRefusal::Disabled),
        }
    }
}

/// Compares two secrets in time that does not depend on where they differ.
fn same_secret(expected: &[u8], given: &[u8]) -> bool {
    expected.len() == given.len()
        && expected
            .iter()
            .zip(given)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// The whole service.
pub fn app(state: AppState) -> Router {
    app_with(state, None)
}

/// The service with flag values of its own (`Flags::stub().x(value).into_scope()`), seen by
/// its requests only: for tests that run several servers at once.
pub fn app_with_stubs(state: AppState, stubs: StubScope) -> Router {
    app_with(state, Some(stubs))
}

fn app_with(state: AppState, stubs: Option<StubScope>) -> Router {
    // The whole comments resource, behind one switch.
    let comments = Router::new()
        .route("/tasks/{task}/comments", get(comments_page))
        .route(
            "/api/tasks/{task}/comments",
            get(list_comments).post(create_comment),
        )
        .route(
            "/api/tasks/{task}/comments/{comment}",
            delete(delete_comment),
        )
        .layer(FeatureGate::new::<ProductTasks103CommentsFeature>());
    let mut flags_layer =
        FlagsLayer::from_extractor_with_state::<CurrentUser, _>(Flags::runtime(), state.clone());
    if let Some(stubs) = stubs {
        flags_layer = flags_layer.with_stubs(stubs);
    }
    // OFREP for the live page: the same runtime, so it answers as the gate decides. It
    // takes the context the page sends, outside the layer that reads the user's header.
    let ofrep = match &state.inner.ofrep_token {
        Some(token) => Ofrep::new(Flags::runtime()).token(token),
        None => Ofrep::new(Flags::runtime()).public(),
    };
    Router::new()
        .route("/", get(|| async { Redirect::to("/tasks") }))
        .route("/tasks", get(tasks_page))
        .merge(comments)
        .route("/admin/segments/{segment}/members", post(add_member))
        .route(
            "/admin/segments/{segment}/members/{key}",
            delete(remove_member),
        )
        .route("/admin/flag-counts", get(flag_counts))
        .layer(flags_layer)
        .route("/live", get(live_page))
        .route("/web/{file}", get(web_module))
        .merge(ofrep.router())
        .with_state(state)
}

async fn tasks_page(State(state): State<AppState>, user: CurrentUser) -> Html<String> {
    // The ingress: the link is shown only to users who have the feature.
    let comments = Flags::product_tasks_103_comments();
    let mut page = format!(
        "<!doctype html>\n<title>Tasks</title>\n<h1>Tasks of {}</h1>\n<ul>\n",
        escape(&user.name)
    );
    for task in &state.inner.tasks {
        page.push_str(&format!("<li>{}", escape(&task.title)));
        if comments {
            page.push_str(&format!(
                " <a href=\"/tasks/{}/comments\">Comments</a>",
                task.id
            ));
        }
        page.push_str("</li>\n");
    }
    page.push_str("</ul>\n");
    Html(page)
}

/// The query of `GET /live`: who is signed in (a stand-in for a session, as `x-user-id`
/// is for the other pages: a page the browser opens cannot send that header).
#[derive(Debug, Deserialize)]
pub struct LiveQuery {
    /// The user's id.
    pub user: String,
}

/// How often the live page asks for the flags again, in milliseconds.
pub const LIVE_POLL_MS: u64 = 500;

/// The task list whose Comments links OpenFeature's web SDK shows or hides, in the browser.
async fn live_page(
    State(state): State<AppState>,
    Query(query): Query<LiveQuery>,
) -> Result<Html<String>, (StatusCode, &'static str)> {
    let user = state
        .inner
        .users
        .get(&query.user)
        .ok_or((StatusCode::UNAUTHORIZED, "unknown user\n"))?;
    let config = serde_json::json!({
        // The key as a string, as a page names it: `flags refs` and `flags remove` list it.
        "flag": "product-TASKS-103-comments",
        "context": { "targetingKey": user.id, "email": user.email },
        "token": state.inner.ofrep_token,
        "pollInterval": LIVE_POLL_MS,
    });
    // JSON inside <script>: no `<` may close the element early.
    let config = config.to_string().replace('<', "\\u003c");
    let mut tasks = String::new();
    for task in &state.inner.tasks {
        tasks.push_str(&format!(
            "<li>{} <a class=\"comments\" href=\"/tasks/{}/comments\" hidden>Comments</a></li>\n",
            escape(&task.title),
            task.id
        ));
    }
    Ok(Html(format!(
        include_str!("live.html"),
        name = escape(&user.name),
        tasks = tasks,
        config = config,
    )))
}

/// The ES modules of OpenFeature's web SDK and OFREP web provider, from `web/node_modules`
/// (installed by `npm ci` in `examples/task_comments/web`, from its lockfile). Only these
/// four files are served.
async fn web_module(Path(file): Path<String>) -> Response {
    let path = match file.as_str() {
        "core.js" => "@openfeature/core/dist/esm/index.js",
        "web-sdk.js" => "@openfeature/web-sdk/dist/esm/index.js",
        "ofrep-core.js" => "@openfeature/ofrep-core/index.esm.js",
        "ofrep-web-provider.js" => "@openfeature/ofrep-web-provider/index.esm.js",
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let modules = std::env::var("TASK_COMMENTS_NODE_MODULES")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/web/node_modules").to_owned());
    match tokio::fs::read(format!("{modules}/{path}")).await {
        Ok(bytes) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/javascript; charset=utf-8",
            )],
            bytes,
        )
            .into_response(),
        Err(error) => (
            StatusCode::NOT_FOUND,
            format!("{modules}/{path}: {error}; run `npm ci` in examples/task_comments/web\n"),
        )
            .into_response(),
    }
}

async fn comments_page(
    State(state): State<AppState>,
    Path(task): Path<u64>,
) -> Result<Html<String>, StatusCode> {
    let task = state.task(task)?;
    let comments = state.comments().get(&task.id).cloned().unwrap_or_default();
    let mut page = format!(
        "<!doctype html>\n<title>Comments</title>\n<h1>Comments on {}</h1>\n<ul>\n",
        escape(&task.title)
    );
    for comment in comments {
        page.push_str(&format!(
            "<li><b>{}</b>: {}</li>\n",
            escape(&comment.author),
            escape(&comment.text)
        ));
    }
    page.push_str("</ul>\n");
    Ok(Html(page))
}

async fn list_comments(
    State(state): State<AppState>,
    Path(task): Path<u64>,
) -> Result<Json<Vec<Comment>>, StatusCode> {
    let task = state.task(task)?;
    Ok(Json(
        state.comments().get(&task.id).cloned().unwrap_or_default(),
    ))
}

async fn create_comment(
    State(state): State<AppState>,
    Path(task): Path<u64>,
    user: CurrentUser,
    Json(new): Json<NewComment>,
) -> Result<(StatusCode, Json<Comment>), StatusCode> {
    let task = state.task(task)?;
    if new.text.trim().is_empty() {
        return Err(StatusCode::UNPROCESSABLE_ENTITY);
    }
    let comment = Comment {
        id: state.inner.next_comment.fetch_add(1, Ordering::Relaxed),
        author: user.name,
        text: new.text,
    };
    state
        .comments()
        .entry(task.id)
        .or_default()
        .push(comment.clone());
    Ok((StatusCode::CREATED, Json(comment)))
}

async fn delete_comment(
    State(state): State<AppState>,
    Path((task, comment)): Path<(u64, u64)>,
) -> StatusCode {
    let mut comments = state.comments();
    let Some(list) = comments.get_mut(&task) else {
        return StatusCode::NOT_FOUND;
    };
    let before = list.len();
    list.retain(|c| c.id != comment);
    if list.len() < before {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

async fn add_member(
    _: Admin,
    State(state): State<AppState>,
    Path(segment): Path<String>,
    Json(member): Json<NewMember>,
) -> Response {
    change_segment(state, segment, member.key, true).await
}

async fn remove_member(
    _: Admin,
    State(state): State<AppState>,
    Path((segment, key)): Path<(String, String)>,
) -> Response {
    change_segment(state, segment, key, false).await
}

/// Adds `key` to (or removes it from) `segment`: in the shared store when there is one, for
/// every process, else in this process.
async fn change_segment(state: AppState, segment: String, key: String, add: bool) -> Response {
    // An unknown segment is refused the same way with or without a store.
    if let Err(error) = Flags::runtime().segment_keys(&segment) {
        return (StatusCode::NOT_FOUND, format!("{error}\n")).into_response();
    }
    let changed = if state.inner.store.is_some() {
        // Blocking network I/O: off the async workers.
        tokio::task::spawn_blocking(move || match &state.inner.store {
            Some(store) => store.change_segment(&segment, &key, add),
            None => Ok(()),
        })
        .await
        .unwrap_or_else(|error| Err(error.to_string()))
    } else {
        let runtime = Flags::runtime();
        let result = if add {
            runtime.add_to_segment(&segment, &key)
        } else {
            runtime.remove_from_segment(&segment, &key)
        };
        result.map_err(|error| error.to_string())
    };
    match changed {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, format!("{error}\n")).into_response(),
    }
}

/// How often each flag served each value: no user appears in it.
#[derive(Debug, Serialize, Deserialize)]
pub struct FlagCount {
    /// The flag's key.
    pub flag: String,
    /// The value served, as text.
    pub value: String,
    /// How many evaluations served it.
    pub count: u64,
}

async fn flag_counts(_: Admin, State(state): State<AppState>) -> Json<Vec<FlagCount>> {
    let counts: Vec<FlagCount> = state
        .inner
        .evaluations
        .counts()
        .into_iter()
        .map(|count| FlagCount {
            flag: count.flag.to_owned(),
            value: count.value.to_string(),
            count: count.count,
        })
        .collect();
    Json(counts)
}

/// Text made safe to put in HTML.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}
