//! A web console for the flags of one `flags.toml`, over the Redis store that every process
//! of a fleet follows: a change made in the browser reaches every process in milliseconds.
//!
//! - **Flags**: every flag in every environment, the value in force and where it comes from,
//!   owner, ticket and expiry; per flag and environment a kill switch, a value, the rollout
//!   percentage, explain for one user, the flag's history and its evaluation counts.
//! - **Segments**: their members; add and remove keys, one or many.
//! - **Audit log**: every change, whoever made it (console, `flags` command, application).
//! - **Webhooks**: Intercom's `user.tag.created`/`user.tag.deleted`, and a generic JSON one.
//!
//! Pages are server-rendered HTML (askama templates, checked at compile time) with plain
//! forms, no script. Every change goes through [`RedisStore`](flags_runtime::store::RedisStore),
//! which checks it against `flags.toml` first, exactly as `flags set --redis` does.
//!
//! ```no_run
//! use flags_console::{Console, ConsoleConfig, Role, Token};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ConsoleConfig::new(
//!     "flags.toml",
//!     &std::fs::read_to_string("flags.toml")?,
//!     "redis://127.0.0.1:6379",
//! )
//! .token(Token::new("ada", Role::Editor, &std::env::var("ADA_TOKEN")?)?);
//! let console = Console::new(config)?;
//! // Mount it in an application (nested routers need `.mount_path("/flags")`)...
//! let app: axum::Router = axum::Router::new().merge(console.router());
//! # let _ = app;
//! # Ok(()) }
//! ```
//!
//! `docs/console.md` documents the pages, the options of `flags serve`, the access model and
//! the webhooks.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod auth;
mod changes;
mod chart;
mod config;
mod explain;
mod pages;
mod rollout;
mod stores;
mod views;
mod webhooks;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

pub use config::{Intercom, IntercomKey, MIN_SECRET_LEN, Role, Token};
pub use explain::{describe_condition, parse_attribute};

use crate::auth::Sessions;
use crate::stores::Stores;

/// The largest request body the console reads (forms, webhooks): a bulk add of a thousand
/// keys fits.
pub const MAX_BODY: usize = 64 * 1024;
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// What a console serves: one `flags.toml`, its Redis store, who may come in.
#[derive(Clone, Debug)]
pub struct ConsoleConfig {
    path: String,
    text: String,
    redis_url: String,
    tokens: Vec<Token>,
    intercom: Option<Intercom>,
    webhook_token: Option<String>,
    ofrep_tokens: Vec<String>,
    ofrep_origins: Vec<String>,
    mount_path: String,
}

impl ConsoleConfig {
    /// The flags of `text` (the contents of the `flags.toml` at `path`, which names it in
    /// messages) over the store at `redis_url`. Nobody gets in until a [`Token`] is added.
    pub fn new(path: &str, text: &str, redis_url: &str) -> Self {
        Self {
            path: path.to_owned(),
            text: text.to_owned(),
            redis_url: redis_url.to_owned(),
            tokens: Vec::new(),
            intercom: None,
            webhook_token: None,
            ofrep_tokens: Vec::new(),
            ofrep_origins: Vec::new(),
            mount_path: String::new(),
        }
    }

    /// Lets the holder of `token` in.
    pub fn token(mut self, token: Token) -> Self {
        self.tokens.push(token);
        self
    }

    /// Lets the holders of `tokens` in.
    pub fn tokens(mut self, tokens: impl IntoIterator<Item = Token>) -> Self {
        self.tokens.extend(tokens);
        self
    }

    /// Accepts Intercom's notifications at `POST /webhooks/intercom`.
    pub fn intercom(mut self, intercom: Intercom) -> Self {
        self.intercom = Some(intercom);
        self
    }

    /// Accepts the generic segment webhook, `POST /webhooks/segments`, with this bearer token.
    pub fn webhook_token(mut self, token: &str) -> Self {
        self.webhook_token = Some(token.to_owned());
        self
    }

    /// Serves OFREP for every environment, to the holders of `token` (repeatable):
    /// `POST /environments/{env}/ofrep/v1/evaluate/flags[/{key}]`, evaluated by the
    /// console's runtime of that environment, which follows its store. An OFREP token lets
    /// its holder evaluate flags, and nothing else: it is no console login.
    pub fn ofrep_token(mut self, token: &str) -> Self {
        self.ofrep_tokens.push(token.to_owned());
        self
    }

    /// Lets pages of `origin` (`https://app.example.com`) call the OFREP endpoints (CORS),
    /// repeatable.
    pub fn ofrep_origin(mut self, origin: &str) -> Self {
        self.ofrep_origins.push(origin.to_owned());
        self
    }

    /// Where the application mounts the router (`"/flags"` for
    /// `Router::new().nest("/flags", console.router())`), for the links and the cookie's path.
    pub fn mount_path(mut self, path: &str) -> Self {
        self.mount_path = path.trim_end_matches('/').to_owned();
        self
    }
}

/// Why a console cannot start.
#[derive(Debug)]
pub struct ConsoleError(String);

impl fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConsoleError {}

/// A running console: the store of every environment followed, ready to serve.
#[derive(Clone)]
pub struct Console {
    inner: Arc<Inner>,
}

impl fmt::Debug for Console {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Console")
            .field("file", &self.inner.file)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) file: String,
    pub(crate) stores: Stores,
    pub(crate) sessions: Sessions,
    pub(crate) intercom: Option<Intercom>,
    pub(crate) webhook_token: Option<String>,
    pub(crate) base: String,
    /// The OFREP endpoints, when tokens were given.
    ofrep: Option<OfrepAccess>,
}

/// Who may call the OFREP endpoints, and from which pages.
#[derive(Clone)]
struct OfrepAccess {
    tokens: Vec<String>,
    origins: Vec<HeaderValue>,
}

impl Console {
    /// Reads `flags.toml` (a file with problems is refused, with every problem), checks the
    /// configuration, and starts following the store of every environment. Redis need not
    /// be reachable: the console says so on every page and refuses changes until it is.
    pub fn new(config: ConsoleConfig) -> Result<Console, ConsoleError> {
        let stores =
            Stores::new(&config.path, &config.text, &config.redis_url).map_err(ConsoleError)?;
        let environments = stores.catalog().environments().names().to_vec();
        let known = |name: &str, what: &str| {
            if environments.iter().any(|e| e == name) {
                Ok(())
            } else {
                Err(ConsoleError(format!(
                    "{what} names environment `{name}`, which {} does not declare ({})",
                    config.path,
                    environments.join(", ")
                )))
            }
        };
        for token in &config.tokens {
            if let Role::EditorOf(names) = &token.role {
                for name in names {
                    known(name, &format!("token `{}`", token.name))?;
                }
            }
        }
        if let Some(intercom) = &config.intercom {
            known(&intercom.environment, "the Intercom webhook")?;
            for segment in intercom.tags.values() {
                if stores.catalog().segment(segment).is_none() {
                    return Err(ConsoleError(format!(
                        "the Intercom tag map names segment `{segment}`, which {} does not declare",
                        config.path
                    )));
                }
            }
            if intercom.secret.is_empty() {
                return Err(ConsoleError("the Intercom client secret is empty".into()));
            }
        }
        if let Some(token) = &config.webhook_token {
            if token.chars().count() < MIN_SECRET_LEN {
                return Err(ConsoleError(format!(
                    "the webhook token is shorter than {MIN_SECRET_LEN} characters"
                )));
            }
        }
        for token in &config.ofrep_tokens {
            if token.chars().count() < MIN_SECRET_LEN {
                return Err(ConsoleError(format!(
                    "an OFREP token is shorter than {MIN_SECRET_LEN} characters"
                )));
            }
        }
        let origins = config
            .ofrep_origins
            .iter()
            .map(|origin| {
                HeaderValue::from_str(origin.trim_end_matches('/')).map_err(|_| {
                    ConsoleError(format!("`{origin}` is not an origin (https://host:port)"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ofrep = (!config.ofrep_tokens.is_empty()).then(|| OfrepAccess {
            tokens: config.ofrep_tokens.clone(),
            origins,
        });
        let base = config.mount_path.clone();
        Ok(Console {
            inner: Arc::new(Inner {
                file: config.path.clone(),
                stores,
                sessions: Sessions::new(config.tokens, &base),
                intercom: config.intercom,
                webhook_token: config.webhook_token,
                base,
                ofrep,
            }),
        })
    }

    /// The console's routes, with body limits, timeouts and security headers, and the OFREP
    /// endpoints of every environment when OFREP tokens were given. Serve it with
    /// `into_make_service_with_connect_info::<SocketAddr>()` so that failed logins are
    /// counted per client address (otherwise they are counted together).
    pub fn router(&self) -> Router {
        let console = self.console_router();
        match &self.inner.ofrep {
            Some(ofrep) => console.merge(self.ofrep_router(ofrep)),
            None => console,
        }
    }

    /// OFREP per environment, by path: an OFREP client's base URL is
    /// `http://console/environments/production`. Outside the console's own layers: its
    /// answers are JSON for programs and pages of other origins, with their own limits.
    fn ofrep_router(&self, ofrep: &OfrepAccess) -> Router {
        let mut router = Router::new();
        for environment in self.inner.stores.environments() {
            let mut endpoints = flags_axum::ofrep::Ofrep::new(environment.runtime);
            for token in &ofrep.tokens {
                endpoints = endpoints.token(token);
            }
            if !ofrep.origins.is_empty() {
                endpoints = endpoints.cors(flags_axum::ofrep::cors(ofrep.origins.clone()));
            }
            // Environment names are letters, digits, `_` and `-` (flags-model checks).
            router = router.nest(
                &format!("/environments/{}", environment.name),
                endpoints.router(),
            );
        }
        router.layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
    }

    fn console_router(&self) -> Router {
        let header = |name: &'static str, value: &'static str| {
            SetResponseHeaderLayer::overriding(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            )
        };
        Router::new()
            .route("/", get(pages::home))
            .route("/login", get(auth::login_page).post(auth::login))
            .route("/logout", post(auth::logout))
            .route("/flags", get(pages::flags))
            .route("/flags/{flag}", get(pages::flag))
            .route("/segments", get(pages::segments))
            .route(
                "/environments/{environment}/segments/{segment}",
                get(pages::segment),
            )
            .route("/audit", get(pages::audit))
            .route("/status", get(pages::status))
            .route("/static/console.css", get(pages::stylesheet))
            .route(
                "/environments/{environment}/flags/{flag}/value",
                post(changes::set_value),
            )
            .route(
                "/environments/{environment}/flags/{flag}/clear",
                post(changes::clear),
            )
            .route(
                "/environments/{environment}/flags/{flag}/rollout",
                post(changes::rollout),
            )
            .route(
                "/environments/{environment}/segments/{segment}/add",
                post(changes::add_members),
            )
            .route(
                "/environments/{environment}/segments/{segment}/remove",
                post(changes::remove_member),
            )
            .route("/webhooks/intercom", post(webhooks::intercom))
            .route("/webhooks/segments", post(webhooks::segments))
            .fallback(pages::not_found)
            .with_state(self.clone())
            .layer(RequestBodyLimitLayer::new(MAX_BODY))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                REQUEST_TIMEOUT,
            ))
            .layer(header(
                "content-security-policy",
                "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'",
            ))
            .layer(header("x-frame-options", "DENY"))
            .layer(header("x-content-type-options", "nosniff"))
            .layer(header("referrer-policy", "no-referrer"))
            .layer(header("cache-control", "no-store"))
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }
}

/// Serves `console` on `address` until Ctrl-C, on a runtime of its own: what `flags serve`
/// runs. Prints the address it listens on.
pub fn serve(address: &str, console: Console) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(address).await?;
        let local = listener.local_addr()?;
        println!("flags console listening on http://{local}");
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        let app = console
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
    })
}
