//! axum integration of the `flags` toolkit (the `axum` feature of the `flags` crate, as
//! `flags::axum`).
//!
//! - [`FlagsLayer`] makes every flag check inside a request evaluate for the requesting user,
//!   with one configuration for the whole request: `Flags::x()` in a handler, in a
//!   `#[feature_gate]` fn and in anything they call.
//! - [`FeatureGate`] closes a whole router (every route of a resource) while a flag is off:
//!   404 by default, 403 or a response of your own on request.
//! - [`Enabled`] is the same gate for one handler, as an extractor; `FeatureDisabled` is a
//!   404 response, so `#[feature_gate]` handlers can return `Result<_, FeatureDisabled>`.
//! - [`FlagsLayer::with_stubs`] gives one server its own flag values, for tests that run
//!   several servers at once.
//! - `ofrep` (feature `ofrep`) serves OFREP, OpenFeature's remote evaluation protocol, for
//!   OpenFeature's providers in other languages and in the browser.
//!
//! ```
//! use axum::{Router, http::request::Parts, routing::get};
//! use flags::Context;
//! use flags_axum::{Enabled, FeatureGate, FlagsLayer};
//!
//! flags::declare!("../flags.toml");
//!
//! /// The requesting user, here from a header (an application reads its session).
//! fn user(parts: &Parts) -> Option<Context> {
//!     let email = parts.headers.get("x-email")?.to_str().ok()?;
//!     Some(Context::new(email).with("email", email))
//! }
//!
//! async fn tasks() -> String {
//!     // Evaluated for the requesting user.
//!     let link = if Flags::product_tasks_103_comments() { " [Comments]" } else { "" };
//!     format!("Write the release notes{link}")
//! }
//!
//! async fn export(_: Enabled<NewFeatureEnabledFeature>) -> &'static str {
//!     "one handler, gated by an extractor"
//! }
//!
//! let comments = Router::new()
//!     .route("/tasks/{task}/comments", get(|| async { "comments" }))
//!     .layer(FeatureGate::new::<ProductTasks103CommentsFeature>()); // 404 while off
//! let app: Router = Router::new()
//!     .route("/tasks", get(tasks))
//!     .route("/export", get(export))
//!     .merge(comments)
//!     .layer(FlagsLayer::from_fn(Flags::runtime(), user));
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "ofrep")]
pub mod ofrep;

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use flags_runtime::{
    EvaluationContext, Feature, FeatureDisabled, Runtime, SharedContext, StubScope, TaskScope,
};
use http::request::Parts;
use http::{Request, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Where a request's evaluation context comes from: the application's own user.
pub trait UserSource: Clone + Send + Sync + 'static {
    /// The context for the request, or `None` for an anonymous request (rules on
    /// attributes do not match, rollouts by key serve the default).
    fn context(&self, parts: &mut Parts) -> impl Future<Output = Option<SharedContext>> + Send;
}

/// A [`UserSource`] that calls a function of the request's head.
#[derive(Clone)]
pub struct FromFn<F>(F);

impl<F, C> UserSource for FromFn<F>
where
    F: Fn(&Parts) -> Option<C> + Clone + Send + Sync + 'static,
    C: EvaluationContext + Send + Sync + 'static,
{
    fn context(&self, parts: &mut Parts) -> impl Future<Output = Option<SharedContext>> + Send {
        let context = (self.0)(parts).map(|c| Arc::new(c) as SharedContext);
        std::future::ready(context)
    }
}

/// A [`UserSource`] that runs the application's extractor `U` (its current-user type): a
/// request it rejects is anonymous.
pub struct FromExtractor<U, S> {
    state: S,
    _user: PhantomData<fn() -> U>,
}

impl<U, S: Clone> Clone for FromExtractor<U, S> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            _user: PhantomData,
        }
    }
}

impl<U, S> UserSource for FromExtractor<U, S>
where
    U: FromRequestParts<S> + EvaluationContext + Send + Sync + 'static,
    S: Clone + Send + Sync + 'static,
{
    async fn context(&self, parts: &mut Parts) -> Option<SharedContext> {
        U::from_request_parts(parts, &self.state)
            .await
            .ok()
            .map(|user| Arc::new(user) as SharedContext)
    }
}

/// Makes every flag check inside a request evaluate for the requesting user, and against
/// one configuration for the whole request (a reload halfway through a request is seen by
/// the requests that start after it).
///
/// The request's [`TaskScope`] is also put in its extensions: a handler that spawns a task
/// can carry the scope into it with `Extension<TaskScope>` and `scope.wrap(task)`.
pub struct FlagsLayer<U> {
    runtime: &'static Runtime,
    users: U,
    stubs: Option<StubScope>,
}

impl<U: Clone> Clone for FlagsLayer<U> {
    fn clone(&self) -> Self {
        Self {
            runtime: self.runtime,
            users: self.users.clone(),
            stubs: self.stubs.clone(),
        }
    }
}

/// The constructors: `FlagsLayer::from_fn(..)`, `FlagsLayer::from_extractor::<User>(..)`.
impl FlagsLayer<()> {
    /// The context of each request is `user(&parts)` (`None`: anonymous).
    ///
    /// ```
    /// # use axum::http::request::Parts;
    /// # use flags::Context;
    /// # use flags_axum::FlagsLayer;
    /// # flags::declare!("../flags.toml");
    /// let layer = FlagsLayer::from_fn(Flags::runtime(), |parts: &Parts| {
    ///     let email = parts.headers.get("x-email")?.to_str().ok()?;
    ///     Some(Context::new(email).with("email", email))
    /// });
    /// # let _: axum::Router = axum::Router::new().layer(layer);
    /// ```
    pub fn from_fn<F, C>(runtime: &'static Runtime, user: F) -> FlagsLayer<FromFn<F>>
    where
        F: Fn(&Parts) -> Option<C> + Clone + Send + Sync + 'static,
        C: EvaluationContext + Send + Sync + 'static,
    {
        FlagsLayer {
            runtime,
            users: FromFn(user),
            stubs: None,
        }
    }

    /// The context of each request is the application's extractor `U` (a current-user type
    /// deriving `flags::EvaluationContext`); a request it rejects is anonymous.
    pub fn from_extractor<U>(runtime: &'static Runtime) -> FlagsLayer<FromExtractor<U, ()>>
    where
        U: FromRequestParts<()> + EvaluationContext + Send + Sync + 'static,
    {
        Self::from_extractor_with_state(runtime, ())
    }

    /// Like [`FlagsLayer::from_extractor`], for an extractor that needs the application's
    /// state (a session store, a user table).
    pub fn from_extractor_with_state<U, S>(
        runtime: &'static Runtime,
        state: S,
    ) -> FlagsLayer<FromExtractor<U, S>>
    where
        U: FromRequestParts<S> + EvaluationContext + Send + Sync + 'static,
        S: Clone + Send + Sync + 'static,
    {
        FlagsLayer {
            runtime,
            users: FromExtractor {
                state,
                _user: PhantomData,
            },
            stubs: None,
        }
    }
}

impl<U> FlagsLayer<U> {
    /// Gives this server its own flag values: every request it serves sees `stubs`, and no
    /// other server or test does. Made with `Flags::stub().x(value).into_scope()`.
    ///
    /// Test stubs cannot reach a server running on other tasks; this can, so that several
    /// test servers with different values run at once in one process.
    pub fn with_stubs(mut self, stubs: StubScope) -> Self {
        self.stubs = Some(stubs);
        self
    }
}

impl<S, U: Clone> Layer<S> for FlagsLayer<U> {
    type Service = FlagsService<S, U>;

    fn layer(&self, inner: S) -> Self::Service {
        FlagsService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`FlagsLayer`].
pub struct FlagsService<S, U> {
    inner: S,
    layer: FlagsLayer<U>,
}

impl<S: Clone, U: Clone> Clone for FlagsService<S, U> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S, U, B> Service<Request<B>> for FlagsService<S, U>
where
    S: Service<Request<B>> + Clone + Send + 'static,
    S::Future: Send,
    U: UserSource,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone is not ready; the ready one goes with this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let mut scope = TaskScope::new().with_configuration_of(layer.runtime);
            if let Some(context) = layer.users.context(&mut parts).await {
                scope = scope.with_shared_context(context);
            }
            if let Some(stubs) = layer.stubs {
                scope = scope.with_stubs(stubs);
            }
            parts.extensions.insert(scope.clone());
            let request = Request::from_parts(parts, body);
            // `call` itself runs inside the scope too: services below may check flags there.
            scope.wrap(async move { inner.call(request).await }).await
        })
    }
}

/// What a [`FeatureGate`] answers while its feature is off.
type OnDisabled = Arc<dyn Fn(FeatureDisabled) -> Response + Send + Sync>;

/// Closes every route below it while a feature is off, like a controller's before-hook: put
/// it on the router of a resource (`.layer(FeatureGate::new::<CommentsFeature>())`) and
/// nobody reaches the resource by typing its URL.
///
/// Answers 404 Not Found by default (the feature does not exist for this user); see
/// [`FeatureGate::status`] and [`FeatureGate::respond_with`]. The flag is evaluated for the
/// request's user when a [`FlagsLayer`] is above the gate.
pub struct FeatureGate {
    key: &'static str,
    enabled: fn() -> bool,
    on_disabled: OnDisabled,
}

impl Clone for FeatureGate {
    fn clone(&self) -> Self {
        Self {
            key: self.key,
            enabled: self.enabled,
            on_disabled: Arc::clone(&self.on_disabled),
        }
    }
}

impl FeatureGate {
    /// A gate on feature `F` (generated by `declare!` for each bool flag:
    /// `ProductTasks103CommentsFeature`).
    pub fn new<F: Feature>() -> Self {
        Self {
            key: F::KEY,
            enabled: F::enabled,
            on_disabled: Arc::new(IntoResponse::into_response),
        }
    }

    /// Answers `status` (with an empty body) while the feature is off: 403 Forbidden, say,
    /// for a feature users know of but may not use yet.
    pub fn status(self, status: StatusCode) -> Self {
        self.respond_with(move |_| {
            let mut response = Response::new(axum_core::body::Body::empty());
            *response.status_mut() = status;
            response
        })
    }

    /// Answers `respond(disabled)` while the feature is off: a page of the application's
    /// own, a redirect, an error in the API's format.
    pub fn respond_with<R: IntoResponse>(
        mut self,
        respond: impl Fn(FeatureDisabled) -> R + Send + Sync + 'static,
    ) -> Self {
        self.on_disabled = Arc::new(move |disabled| respond(disabled).into_response());
        self
    }
}

impl std::fmt::Debug for FeatureGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeatureGate")
            .field("flag", &self.key)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for FeatureGate {
    type Service = GateService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GateService {
            inner,
            gate: self.clone(),
        }
    }
}

/// The service made by [`FeatureGate`].
#[derive(Clone)]
pub struct GateService<S> {
    inner: S,
    gate: FeatureGate,
}

impl<S, B> Service<Request<B>> for GateService<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gate = self.gate.clone();
        Box::pin(async move {
            // Checked in the future, which runs inside the request's scope.
            if (gate.enabled)() {
                inner.call(request).await
            } else {
                Ok((gate.on_disabled)(FeatureDisabled::new(gate.key)))
            }
        })
    }
}

/// An extractor that lets a handler run only while feature `F` is on; otherwise the
/// request is answered 404 ([`FeatureDisabled`]).
///
/// ```
/// # use flags_axum::Enabled;
/// # flags::declare!("../flags.toml");
/// async fn checkout(_: Enabled<NewFeatureEnabledFeature>) -> &'static str {
///     "the redesigned checkout"
/// }
/// # let _: axum::Router = axum::Router::new().route("/checkout", axum::routing::get(checkout));
/// ```
pub struct Enabled<F>(PhantomData<fn() -> F>);

impl<F> std::fmt::Debug for Enabled<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enabled")
    }
}

impl<F: Feature, S: Send + Sync> FromRequestParts<S> for Enabled<F> {
    type Rejection = FeatureDisabled;

    fn from_request_parts(
        _parts: &mut Parts,
        _state: &S,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
        std::future::ready(F::require().map(|()| Enabled(PhantomData)))
    }
}
