//! OFREP, OpenFeature's remote evaluation protocol, as an axum [`Router`] (feature `ofrep`):
//! OpenFeature's providers for other languages and for the browser evaluate this service's
//! flags over HTTP.
//!
//! - `POST /ofrep/v1/evaluate/flags/{key}`: one flag, for the request's context.
//! - `POST /ofrep/v1/evaluate/flags`: every flag, for the request's context (what the web
//!   provider fetches, and polls with `If-None-Match`).
//!
//! The body is `{"context": {"targetingKey": "u-1", "email": "ada@example.com", ...}}`.
//! Evaluations are those of the runtime given, through the same mappings as the
//! in-process OpenFeature provider (`flags_openfeature`): a change the runtime applies (the
//! Redis store, an override, a segment change) is in the next response.
//!
//! ```
//! use flags_axum::ofrep::{self, Ofrep};
//!
//! flags::declare!("../flags.toml");
//!
//! let app: axum::Router = axum::Router::new().merge(
//!     Ofrep::new(Flags::runtime())
//!         .token("a-token-for-the-front-end-0123")
//!         .cors(ofrep::cors(["https://app.example.com".parse().unwrap()]))
//!         .router(),
//! );
//! # let _ = app;
//! ```
//!
//! | case | status | body |
//! | --- | --- | --- |
//! | evaluated | `200`, with an `ETag` | `{"key", "value", "reason", "variant", "metadata"}`; bulk: `{"flags": [...], "metadata"}` |
//! | `If-None-Match` has the response's `ETag` | `304` | none |
//! | no flag by that key | `404` | `{"key", "errorCode": "FLAG_NOT_FOUND", "errorDetails"}` |
//! | body not JSON, or not an object | `400` | `{"key", "errorCode": "PARSE_ERROR", "errorDetails"}` (bulk: without `key`) |
//! | context unusable: nested too deep, a value flags cannot compare, too many attributes | `400` | `{"key", "errorCode": "INVALID_CONTEXT", ...}` |
//! | the flag needs a key the context lacks (a rollout by key) | `400` | `{"key", "errorCode": "TARGETING_KEY_MISSING", ...}`; bulk: that item |
//! | `Authorization: Bearer` missing or wrong | `401`, `WWW-Authenticate: Bearer` | `{"errorDetails"}` |
//! | body over the limit (64 KiB by default) | `413` | `{"errorDetails"}` |
//!
//! `docs/openfeature.md` documents the mapping of reasons, error codes, contexts and
//! metadata, and how to serve the endpoints to browsers.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::header::{
    AUTHORIZATION, CONTENT_TYPE, ETAG, HeaderValue, IF_NONE_MATCH, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use flags_openfeature::{
    ContextBuilder, ErrorCode, Failure, Field, Resolution, Resolver, metadata,
};
use flags_runtime::{Context, Runtime, Value};
use serde_json::{Map, Value as Json, json};
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The largest request body read by default: a context of a few hundred attributes fits.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;
/// How deeply a request's JSON may nest by default: the body, the context, a list in it,
/// and room to spare (a context's attributes are flat).
pub const DEFAULT_MAX_DEPTH: usize = 8;

/// The OFREP endpoints over one runtime: who may call them, the CORS policy for browsers,
/// and the limits on what a request may send. [`Ofrep::router`] makes the routes.
#[derive(Clone, Debug)]
pub struct Ofrep {
    runtime: &'static Runtime,
    access: Access,
    cors: Option<CorsLayer>,
    max_body: usize,
    max_depth: usize,
}

/// Who may call.
#[derive(Clone, Debug)]
enum Access {
    /// The holders of these tokens, kept as digests (one length, compared in constant time).
    Tokens(Vec<[u8; 20]>),
    /// Anyone.
    Public,
}

impl Ofrep {
    /// The endpoints over `runtime`. Nobody may call them until [`Ofrep::token`] lets a
    /// token in, or [`Ofrep::public`] lets everyone in: every request is `401` until then.
    pub fn new(runtime: &'static Runtime) -> Self {
        Self {
            runtime,
            access: Access::Tokens(Vec::new()),
            cors: None,
            max_body: DEFAULT_MAX_BODY,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }

    /// Lets requests with `Authorization: Bearer <token>` in (any number of tokens). An
    /// empty token lets nobody in.
    pub fn token(mut self, token: &str) -> Self {
        let token = token.trim();
        if token.is_empty() {
            return self;
        }
        let digest = digest(token.as_bytes());
        match &mut self.access {
            Access::Tokens(tokens) => tokens.push(digest),
            Access::Public => self.access = Access::Tokens(vec![digest]),
        }
        self
    }

    /// Lets every request in, with or without a token: for endpoints that only a trusted
    /// network reaches, or a page served by the same application (what they answer is what
    /// that page would be shown anyway).
    pub fn public(mut self) -> Self {
        self.access = Access::Public;
        self
    }

    /// Answers browsers of other origins by `cors` (see [`cors`] for one that fits OFREP).
    /// Without it, no CORS header is sent: only pages of the same origin can call.
    pub fn cors(mut self, cors: CorsLayer) -> Self {
        self.cors = Some(cors);
        self
    }

    /// The largest request body read; a larger one is `413`.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// How deeply a request's JSON may nest (the body is level 1, its context level 2); a
    /// deeper one is `400` `INVALID_CONTEXT`.
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// The routes, to merge into an application's router or to serve alone. They have their
    /// own body limit, and the CORS policy if one was given.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let state = Arc::new(self.clone());
        let router = Router::new()
            .route("/ofrep/v1/evaluate/flags/{key}", post(evaluate_flag))
            .route("/ofrep/v1/evaluate/flags", post(evaluate_flags))
            .layer(DefaultBodyLimit::max(self.max_body))
            .route_layer(middleware::from_fn_with_state(state.clone(), authorize))
            .with_state(state);
        match &self.cors {
            Some(cors) => router.layer(cors.clone()),
            None => router,
        }
    }
}

/// A CORS policy for OFREP callers on `origins`: `POST` with a JSON body, the
/// `Authorization` and `If-None-Match` request headers, and the `ETag` response header
/// readable by the page (the web provider polls with it).
pub fn cors(origins: impl IntoIterator<Item = HeaderValue>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::POST])
        .allow_headers([CONTENT_TYPE, AUTHORIZATION, IF_NONE_MATCH])
        .expose_headers([ETAG])
        .max_age(std::time::Duration::from_secs(600))
}

fn digest(bytes: &[u8]) -> [u8; 20] {
    Sha1::digest(bytes).into()
}

/// Checks the bearer token before anything of the body is read.
async fn authorize(State(ofrep): State<Arc<Ofrep>>, request: Request, next: Next) -> Response {
    let tokens = match &ofrep.access {
        Access::Public => return next.run(request).await,
        Access::Tokens(tokens) => tokens,
    };
    let given = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let Some(given) = given else {
        return unauthorized("send a token: Authorization: Bearer <token>");
    };
    let given = digest(given.trim().as_bytes());
    // Every token is compared, so the time taken does not say which one was close.
    let known = tokens.iter().fold(subtle::Choice::from(0), |found, token| {
        found | token.ct_eq(&given)
    });
    if bool::from(known) {
        next.run(request).await
    } else {
        unauthorized("the token is not one of this server's")
    }
}

fn unauthorized(details: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
        axum::Json(json!({ "errorDetails": details })),
    )
        .into_response()
}

async fn evaluate_flag(
    State(ofrep): State<Arc<Ofrep>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return unreadable(rejection),
    };
    let resolver = Resolver::new(ofrep.runtime);
    let failure = |status: StatusCode, failure: Failure, flag_metadata: Option<Json>| {
        let mut body = json!({
            "key": key,
            "errorCode": failure.code.as_str(),
            "errorDetails": failure.message,
        });
        if let (Some(metadata), Json::Object(body)) = (flag_metadata, &mut body) {
            body.insert("metadata".into(), metadata);
        }
        (status, axum::Json(body)).into_response()
    };
    let context = match read_context(&body, ofrep.max_depth) {
        Ok(context) => context,
        Err(error) => return failure(StatusCode::BAD_REQUEST, error, None),
    };
    let (index, flag) = match resolver.flag(&key) {
        Ok(found) => found,
        Err(error) => return failure(StatusCode::NOT_FOUND, error, None),
    };
    let flag_metadata = metadata_json(flag);
    match resolver.resolve(index, &context) {
        Ok(resolution) => respond(&headers, &success(flag.key(), resolution, flag_metadata)),
        Err(error) => failure(StatusCode::BAD_REQUEST, error, Some(flag_metadata)),
    }
}

async fn evaluate_flags(
    State(ofrep): State<Arc<Ofrep>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return unreadable(rejection),
    };
    let context = match read_context(&body, ofrep.max_depth) {
        Ok(context) => context,
        Err(error) => {
            let body = json!({ "errorCode": error.code.as_str(), "errorDetails": error.message });
            return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        }
    };
    // One configuration for every flag of the answer.
    let resolver = Resolver::new(ofrep.runtime);
    let flags: Vec<Json> = resolver
        .flags()
        .map(|(index, flag)| {
            let flag_metadata = metadata_json(flag);
            match resolver.resolve(index, &context) {
                Ok(resolution) => success(flag.key(), resolution, flag_metadata),
                Err(error) => json!({
                    "key": flag.key(),
                    "errorCode": error.code.as_str(),
                    "errorDetails": error.message,
                    "metadata": flag_metadata,
                }),
            }
        })
        .collect();
    let mut set_metadata = Map::new();
    if let Some(environment) = resolver.environment() {
        set_metadata.insert("environment".into(), environment.into());
    }
    respond(
        &headers,
        &json!({ "flags": flags, "metadata": set_metadata }),
    )
}

fn success(key: &str, resolution: Resolution, flag_metadata: Json) -> Json {
    let mut body = json!({
        "key": key,
        "value": value_json(&resolution.value),
        "reason": resolution.reason.as_str(),
        "metadata": flag_metadata,
    });
    if let (Some(variant), Json::Object(body)) = (resolution.variant, &mut body) {
        body.insert("variant".into(), variant.into());
    }
    body
}

fn value_json(value: &Value) -> Json {
    match value {
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        // Float flags are finite (flags.toml and every override are checked).
        Value::Float(x) => serde_json::Number::from_f64(*x).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::from(&**s),
        Value::Variant { name, .. } => Json::from(&**name),
    }
}

fn metadata_json(flag: &flags_runtime::Flag) -> Json {
    Json::Object(
        metadata(flag)
            .into_iter()
            .map(|(name, value)| (name.to_owned(), Json::String(value)))
            .collect(),
    )
}

/// `200` with the body and its `ETag` (a digest of the body: the same answer, whatever
/// generation or process gave it, has the same tag), or `304` when the caller has it.
fn respond(headers: &HeaderMap, body: &Json) -> Response {
    let bytes = body.to_string().into_bytes();
    let hex: String = digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    let tag = format!("\"{hex}\"");
    let etag = HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\""));
    if headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .any(|value| matches_tag(value, &tag))
    {
        return (StatusCode::NOT_MODIFIED, [(ETAG, etag)]).into_response();
    }
    (
        StatusCode::OK,
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (ETAG, etag),
        ],
        bytes,
    )
        .into_response()
}

/// Whether an `If-None-Match` value names `tag` (weak comparison, as RFC 9110 asks of it).
fn matches_tag(value: &HeaderValue, tag: &str) -> bool {
    let Ok(value) = value.to_str() else {
        return false;
    };
    value.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == tag
    })
}

/// A body that could not be read: over the limit (`413`), or cut short.
fn unreadable(rejection: BytesRejection) -> Response {
    let status = rejection.status();
    let details = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "the request body is over this server's limit".to_owned()
    } else {
        format!(
            "the request body could not be read: {}",
            rejection.body_text()
        )
    };
    (status, axum::Json(json!({ "errorDetails": details }))).into_response()
}

/// The request's context: `{"context": {"targetingKey": "...", ...}}`. An empty body, or
/// one without `context`, is an anonymous context.
fn read_context(body: &[u8], max_depth: usize) -> Result<Context, Failure> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Context::anonymous());
    }
    let request: Json = serde_json::from_slice(body).map_err(|error| {
        Failure::new(
            ErrorCode::ParseError,
            format!("the body is not JSON: {error}"),
        )
    })?;
    if depth(&request) > max_depth {
        return Err(Failure::new(
            ErrorCode::InvalidContext,
            format!("the request nests deeper than {max_depth} levels"),
        ));
    }
    let Json::Object(mut request) = request else {
        return Err(Failure::new(
            ErrorCode::ParseError,
            r#"the body is not a JSON object: send {"context": {"targetingKey": "...", ...}}"#,
        ));
    };
    let context = match request.remove("context") {
        None | Some(Json::Null) => return Ok(Context::anonymous()),
        Some(Json::Object(context)) => context,
        Some(_) => {
            return Err(Failure::new(
                ErrorCode::InvalidContext,
                "`context` is not an object",
            ));
        }
    };
    let key = match context.get("targetingKey") {
        None | Some(Json::Null) => None,
        Some(Json::String(key)) => Some(key.as_str()),
        Some(_) => {
            return Err(Failure::new(
                ErrorCode::InvalidContext,
                "`targetingKey` is not a string",
            ));
        }
    };
    let mut builder = ContextBuilder::new(key);
    for (name, value) in &context {
        let field = match value {
            _ if name == "targetingKey" => continue,
            // JSON's null is an attribute the context does not have.
            Json::Null => continue,
            Json::Bool(b) => Field::Bool(*b),
            Json::Number(n) => Field::Number(n.as_f64().unwrap_or(f64::NAN)),
            Json::String(s) => Field::String(s),
            Json::Array(items) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<String>>>()
                .map_or(
                    Field::Unsupported("a list of other things than strings"),
                    Field::Strings,
                ),
            Json::Object(_) => Field::Unsupported("an object"),
        };
        builder.field(name, field)?;
    }
    Ok(builder.build())
}

/// How deeply `value` nests: 1 for a scalar or an empty container. Iterative, so a deep
/// value costs no stack.
fn depth(value: &Json) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 1)];
    while let Some((value, level)) = stack.pop() {
        deepest = deepest.max(level);
        match value {
            Json::Array(items) => stack.extend(items.iter().map(|item| (item, level + 1))),
            Json::Object(map) => stack.extend(map.values().map(|item| (item, level + 1))),
            _ => {}
        }
    }
    deepest
}
