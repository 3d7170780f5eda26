//! Who is in: tokens, sessions, CSRF tokens, the rate limit on failed logins, and the two
//! extractors that every handler takes, [`Viewer`] (pages) and [`Change`] (every change).
//! Roles are checked there, and only there.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use askama::Template;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::config::{Role, Token};
use crate::stores::lock;
use crate::views::{Refusal, render};
use crate::{Console, Inner};

/// The session cookie's name.
pub(crate) const COOKIE_NAME: &str = "flags_console";
/// The login form's CSRF cookie: the form carries the same random value, so that another
/// site cannot log a browser in (with the attacker's token) behind its user's back.
const LOGIN_COOKIE_NAME: &str = "flags_console_login";
/// How long a login form stays usable.
const LOGIN_FORM_LIFE: Duration = Duration::from_secs(3600);
/// How long a session lasts.
const SESSION_LIFE: Duration = Duration::from_secs(12 * 3600);
/// Failed logins allowed from one client address per window, before it must wait.
const MAX_FAILURES: u32 = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Sessions kept at most (the oldest go first): a flood of logins cannot grow memory.
const MAX_SESSIONS: usize = 10_000;

struct Session {
    name: String,
    role: Role,
    csrf: String,
    expires: Instant,
    flash: Option<String>,
}

/// Whoever holds a session: their name (for the audit log), role and CSRF token.
#[derive(Clone, Debug)]
pub(crate) struct Who {
    pub(crate) name: String,
    pub(crate) role: Role,
    pub(crate) csrf: String,
    pub(crate) flash: Option<String>,
}

pub(crate) struct Sessions {
    tokens: Vec<(Token, [u8; 20])>,
    /// Secrets are compared as HMACs under this random key: fixed-length digests, compared
    /// in constant time, tell nothing of a secret's length either.
    key: [u8; 32],
    sessions: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<String, (Instant, u32)>>,
    cookie_path: String,
}

impl Sessions {
    pub(crate) fn new(tokens: Vec<Token>, base: &str) -> Self {
        let mut key = [0u8; 32];
        random(&mut key);
        let tokens = tokens
            .into_iter()
            .map(|token| {
                let digest = digest(&key, token.secret().as_bytes());
                (token, digest)
            })
            .collect();
        Self {
            tokens,
            key,
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            cookie_path: if base.is_empty() {
                "/".to_owned()
            } else {
                base.to_owned()
            },
        }
    }

    /// The token whose secret is `given`; every token is compared, in constant time.
    fn find(&self, given: &str) -> Option<&Token> {
        let given = digest(&self.key, given.as_bytes());
        let mut found = None;
        for (token, digest) in &self.tokens {
            if bool::from(digest.ct_eq(&given)) {
                found = Some(token);
            }
        }
        found
    }

    /// Whether `client` may try to log in now.
    fn may_try(&self, client: &str) -> bool {
        let mut failures = lock(&self.failures);
        failures.retain(|_, (since, _)| since.elapsed() < FAILURE_WINDOW);
        failures
            .get(client)
            .is_none_or(|(_, count)| *count < MAX_FAILURES)
    }

    fn failed(&self, client: &str) {
        let mut failures = lock(&self.failures);
        let entry = failures
            .entry(client.to_owned())
            .or_insert((Instant::now(), 0));
        entry.1 += 1;
    }

    fn open(&self, token: &Token) -> String {
        let id = random_text();
        let mut sessions = lock(&self.sessions);
        sessions.retain(|_, session| session.expires > Instant::now());
        if sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(id, _)| id.clone())
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(
            id.clone(),
            Session {
                name: token.name.clone(),
                role: token.role.clone(),
                csrf: random_text(),
                expires: Instant::now() + SESSION_LIFE,
                flash: None,
            },
        );
        id
    }

    /// The holder of session `id`, taking the message left for them.
    fn who(&self, id: &str, take_flash: bool) -> Option<Who> {
        let mut sessions = lock(&self.sessions);
        let session = sessions.get_mut(id)?;
        if session.expires <= Instant::now() {
            sessions.remove(id);
            return None;
        }
        Some(Who {
            name: session.name.clone(),
            role: session.role.clone(),
            csrf: session.csrf.clone(),
            flash: if take_flash {
                session.flash.take()
            } else {
                None
            },
        })
    }

    /// Leaves `message` for the next page session `id` sees.
    pub(crate) fn flash(&self, id: &str, message: String) {
        if let Some(session) = lock(&self.sessions).get_mut(id) {
            session.flash = Some(message);
        }
    }

    fn close(&self, id: &str) {
        lock(&self.sessions).remove(id);
    }

    /// The cookie that holds session `id` (or, with `None`, removes it). `Secure`: sent over
    /// HTTPS only, except to localhost, which browsers treat as secure.
    fn cookie(&self, id: Option<&str>) -> HeaderValue {
        match id {
            Some(id) => self.set_cookie(COOKIE_NAME, id, SESSION_LIFE),
            None => self.set_cookie(COOKIE_NAME, "", Duration::ZERO),
        }
    }

    /// A `Set-Cookie` value for `name`, as every cookie of the console is set.
    fn set_cookie(&self, name: &str, value: &str, life: Duration) -> HeaderValue {
        let cookie = format!(
            "{name}={value}; Path={}; Max-Age={}; Secure; HttpOnly; SameSite=Strict",
            self.cookie_path,
            life.as_secs()
        );
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

fn digest(key: &[u8], secret: &[u8]) -> [u8; 20] {
    match <Hmac<Sha1> as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(secret);
            mac.finalize().into_bytes().into()
        }
        // HMAC takes keys of any length; this does not happen.
        Err(_) => [0; 20],
    }
}

fn random(bytes: &mut [u8]) {
    if getrandom::fill(bytes).is_err() {
        // No system random source: refuse to make guessable ids, by making none usable.
        panic_free_fallback(bytes);
    }
}

/// Without a random source (it does not fail on supported systems) the ids are made from the
/// clock and a counter, hashed: unique, though not secret; the failure is logged.
fn panic_free_fallback(bytes: &mut [u8]) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    tracing::error!("the system's random source failed: session ids are not secret");
    let seed = format!(
        "{:?}{}",
        std::time::SystemTime::now(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let digest = digest(seed.as_bytes(), b"flags-console");
    for (byte, value) in bytes.iter_mut().zip(digest.iter().cycle()) {
        *byte = *value;
    }
}

/// 32 random bytes as hex.
fn random_text() -> String {
    let mut bytes = [0u8; 32];
    random(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The session id the request's cookie holds.
fn session_id(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, COOKIE_NAME)
}

/// The value of the request's cookie `wanted`, when it has one that is not empty.
fn cookie_value(headers: &HeaderMap, wanted: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

/// The client a failed login is counted for: its address, when the server knows it.
fn client(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "every client".to_owned(), |info| info.0.ip().to_string())
}

/// Whoever may see the pages: anyone with a session. Without one, a page sends to the login.
pub(crate) struct Viewer(pub(crate) Who);

impl FromRequestParts<Console> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, console: &Console) -> Result<Self, Response> {
        let inner = console.inner();
        session_id(&parts.headers)
            .and_then(|id| inner.sessions.who(&id, true))
            .map(Viewer)
            .ok_or_else(|| Redirect::to(&format!("{}/login", inner.base)).into_response())
    }
}

/// Every change: a session (401 without), the CSRF token of its form (403 when missing or
/// wrong), the editor role for the environment in the path (403), and the form itself (422
/// when it does not parse). The one place where access is decided.
pub(crate) struct Change<F> {
    pub(crate) who: Who,
    pub(crate) session: String,
    pub(crate) form: F,
}

#[derive(Deserialize)]
struct CsrfField {
    csrf: Option<String>,
}

impl<F: DeserializeOwned + Send> FromRequest<Console> for Change<F> {
    type Rejection = Refusal;

    async fn from_request(request: Request, console: &Console) -> Result<Self, Refusal> {
        let inner = console.inner();
        let (mut parts, body) = request.into_parts();
        let session = session_id(&parts.headers).ok_or_else(|| {
            Refusal::new(
                StatusCode::UNAUTHORIZED,
                "You are not logged in: log in first; nothing was changed.",
            )
        })?;
        let who = inner.sessions.who(&session, false).ok_or_else(|| {
            Refusal::new(
                StatusCode::UNAUTHORIZED,
                "Your session has ended: log in again; nothing was changed.",
            )
        })?;
        let params: Path<HashMap<String, String>> = Path::from_request_parts(&mut parts, console)
            .await
            .map_err(|_| Refusal::new(StatusCode::NOT_FOUND, "No such page."))?;
        if let Some(environment) = params.get("environment") {
            if inner.stores.environment(environment).is_none() {
                return Err(Refusal::new(
                    StatusCode::NOT_FOUND,
                    format!("There is no environment `{environment}`; nothing was changed."),
                ));
            }
            if !who.role.may_edit(environment) {
                return Err(Refusal::new(
                    StatusCode::FORBIDDEN,
                    format!(
                        "{} ({}) may not change `{environment}`; nothing was changed.",
                        who.name, who.role
                    ),
                ));
            }
        }
        let request = Request::from_parts(parts, body);
        let bytes = Bytes::from_request(request, console)
            .await
            .map_err(|rejection| Refusal::new(rejection.status(), rejection.body_text()))?;
        let given = serde_urlencoded::from_bytes::<CsrfField>(&bytes)
            .ok()
            .and_then(|field| field.csrf)
            .unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(who.csrf.as_bytes())) {
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "The form's security token is missing or out of date: reload the page and try \
                 again; nothing was changed.",
            ));
        }
        let form = serde_urlencoded::from_bytes::<F>(&bytes).map_err(|error| {
            Refusal::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("The form is incomplete: {error}; nothing was changed."),
            )
        })?;
        Ok(Change { who, session, form })
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    base: &'a str,
    message: Option<&'a str>,
    csrf: &'a str,
}

/// The login form with `message`, and a fresh CSRF value in the form and in its cookie.
fn login_form(inner: &Inner, status: StatusCode, message: Option<&str>) -> Response {
    let csrf = random_text();
    let mut response = render(&LoginPage {
        base: &inner.base,
        message,
        csrf: &csrf,
    });
    *response.status_mut() = status;
    response.headers_mut().append(
        SET_COOKIE,
        inner
            .sessions
            .set_cookie(LOGIN_COOKIE_NAME, &csrf, LOGIN_FORM_LIFE),
    );
    response
}

pub(crate) async fn login_page(State(console): State<Console>) -> Response {
    login_form(console.inner(), StatusCode::OK, None)
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    token: String,
    csrf: Option<String>,
}

/// `POST /login`: a token for a session cookie, then the flags page.
pub(crate) async fn login(State(console): State<Console>, request: Request) -> Response {
    let inner: &Inner = console.inner();
    let (parts, body) = request.into_parts();
    let client = client(&parts);
    let expected = cookie_value(&parts.headers, LOGIN_COOKIE_NAME);
    let refuse = |status: StatusCode, message: &str| login_form(inner, status, Some(message));
    if !inner.sessions.may_try(&client) {
        tracing::warn!(%client, "console login refused: too many failed logins");
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed logins: wait a minute before trying again.",
        );
    }
    let bytes = match Bytes::from_request(Request::from_parts(parts, body), &console).await {
        Ok(bytes) => bytes,
        Err(rejection) => return refuse(rejection.status(), "The login form was not readable."),
    };
    let Ok(form) = serde_urlencoded::from_bytes::<LoginForm>(&bytes) else {
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, "Give your access token.");
    };
    let given = form.csrf.unwrap_or_default();
    let from_this_form =
        expected.is_some_and(|expected| bool::from(expected.as_bytes().ct_eq(given.as_bytes())));
    if !from_this_form {
        tracing::warn!(%client, "console login refused: the form's CSRF token is missing or wrong");
        return refuse(
            StatusCode::FORBIDDEN,
            "The login form's security token is missing or out of date: log in again from \
             this page.",
        );
    }
    match inner.sessions.find(form.token.trim()) {
        Some(token) => {
            let id = inner.sessions.open(token);
            tracing::info!(name = %token.name, "console login");
            let mut response = Redirect::to(&format!("{}/flags", inner.base)).into_response();
            let headers = response.headers_mut();
            headers.insert(SET_COOKIE, inner.sessions.cookie(Some(&id)));
            // The login form's value is spent: a second login needs a new form.
            headers.append(
                SET_COOKIE,
                inner
                    .sessions
                    .set_cookie(LOGIN_COOKIE_NAME, "", Duration::ZERO),
            );
            response
        }
        None => {
            inner.sessions.failed(&client);
            tracing::warn!(%client, "console login failed: unknown token");
            refuse(StatusCode::UNAUTHORIZED, "That token is not valid.")
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct NoFields {}

/// `POST /logout`.
pub(crate) async fn logout(State(console): State<Console>, change: Change<NoFields>) -> Response {
    let inner = console.inner();
    inner.sessions.close(&change.session);
    let mut response = Redirect::to(&format!("{}/login", inner.base)).into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, inner.sessions.cookie(None));
    response
}
