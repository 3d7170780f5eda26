#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

/// Generates a `Flags` type from `flags.toml`: one typed accessor per flag.
///
/// Invoke it once, at the crate root:
///
/// - `flags::declare!()` reads `flags.toml` next to `Cargo.toml`;
/// - `flags::declare!("../flags.toml")` reads another file, relative to `Cargo.toml`;
/// - `flags::declare!("flags.toml", name = AppFlags)` names the type `AppFlags`;
/// - `crate = path` names this crate when it is re-exported under another name;
/// - `export` declares the flags for the crates that depend on this one, `#[feature_gate]`
///   included (at the root of a library crate).
///
/// It generates:
///
/// - `Flags`, with `Flags::<flag>()` per flag, documented with the flag's description,
///   owner, ticket, expiry and per-environment values; and `init()`, `reload()`,
///   `runtime()`, `stub()`, `each(FlagsStub::x)`, `each_of(FlagsStub::x, values)` and
///   `snapshot()`;
/// - an enum per variant flag (`checkout_flow` → `CheckoutFlow`), with `ALL`, `as_str`,
///   `Display`, `FromStr` and `Default` (the flag's default);
/// - `FlagsStub` and `FlagsSnapshot`, returned by `stub()` and `snapshot()`.
///
/// Every mistake in the file is a compile error naming the file, line and column, and the
/// crate is rebuilt whenever the file changes. Accessors of a flag past its `expires` date
/// are `#[deprecated]`, so every use warns.
///
/// ```
/// flags::declare!();
///
/// fn main() {
///     let limit: i64 = Flags::max_upload_mb();
///     let flow: CheckoutFlow = Flags::checkout_flow();
///     println!("{limit} MB, {flow} checkout");
/// }
/// ```
pub use flags_macros::declare;

/// Runs a fn only while its bool flag is on.
///
/// `#[feature_gate("name")]` puts a check at the top of the fn. While the flag is off the fn
/// returns `Err(E::from(FeatureDisabled))`, so it must return a `Result` (or an alias of one)
/// whose error type implements `From<FeatureDisabled>`. With `fallback = other_fn`, it returns
/// `other_fn(same arguments)` instead (`.await`ed for an async fn; for a method, write
/// `fallback = Self::other`), and may return anything.
///
/// The name is checked at compile time against the file `declare!` read: an unknown name, or
/// a flag that is not a bool, is an error on the string. The fn's signature, attributes and
/// docs stay as written. The gate finds `Flags` at `crate::Flags`; when `declare!` is
/// elsewhere, say so with `flags = crate::path::Flags`.
///
/// ```
/// use flags::{FeatureDisabled, feature_gate};
///
/// flags::declare!();
///
/// #[feature_gate("product-TASKS-103-comments")]
/// fn comments(task: u32) -> Result<Vec<String>, FeatureDisabled> {
///     Ok(vec![format!("first comment on task {task}")])
/// }
///
/// fn main() {
///     let _stub = Flags::stub().product_tasks_103_comments(false);
///     assert_eq!(comments(1).unwrap_err().flag(), "product-TASKS-103-comments");
/// }
/// ```
pub use flags_macros::feature_gate;

/// Stubs flags for a whole test fn: `#[flags::stub(new_feature_enabled = true)]`.
///
/// Each `name = value` calls `Flags::stub().name(value)` at the top of the fn, so names and
/// value types are checked by the compiler; the stubs last for the whole body, also an async
/// one and also when it panics. Put it above or below `#[test]` or `#[tokio::test]`. `Flags`
/// is taken from `crate::Flags`; give another path with `flags = path::Flags`.
///
/// ```
/// flags::declare!();
///
/// #[flags::stub(new_feature_enabled = false, checkout_flow = CheckoutFlow::Express)]
/// fn legacy_express() -> (bool, CheckoutFlow) {
///     (Flags::new_feature_enabled(), Flags::checkout_flow())
/// }
///
/// fn main() {
///     assert_eq!(legacy_express(), (false, CheckoutFlow::Express));
/// }
/// ```
pub use flags_macros::stub;

/// Makes an application's own type an evaluation context, so flags can be evaluated for it
/// directly: `Flags::beta_enabled_for(&user)`.
///
/// Each named field is an attribute under its name, read in place (nothing is copied when a
/// flag is evaluated). `#[flags(key)]` marks the field rollouts bucket and segments list;
/// `#[flags(rename = "planType")]` gives an attribute another name; `#[flags(skip)]` leaves a
/// field out. Fields can be strings, numbers, bools, `Vec<String>`, `semver::Version`,
/// `SystemTime`, options of these, or any type implementing [`AsAttribute`].
///
/// ```
/// #[derive(flags::EvaluationContext)]
/// struct User {
///     #[flags(key)]
///     id: String,
///     email: String,
///     #[flags(rename = "planType")]
///     plan: String,
///     seats: u32,
///     #[flags(skip)]
///     password_hash: String,
/// }
///
/// use flags::{Attribute, EvaluationContext};
/// let user = User { id: "u-1".into(), email: "ada@example.com".into(), plan: "pro".into(), seats: 3, password_hash: String::new() };
/// assert_eq!(user.key(), Some(Attribute::Str("u-1")));
/// assert_eq!(user.attribute("planType"), Some(Attribute::Str("pro")));
/// assert_eq!(user.attribute("password_hash"), None);
/// ```
pub use flags_macros::EvaluationContext;

pub use flags_runtime::{
    AnyContext, AsAttribute, Attribute, AttributeId, AttributeValue, Catalog, Context,
    ContextAttributes, Date, EVALUATION_TARGET, Each, Environments, Evaluation, EvaluationContext,
    EvaluationCount, EvaluationCounter, EvaluationEvent, EvaluationListener, EvaluationReason,
    EveryValue, Feature, FeatureDisabled, Flag, FlagInfo, FlagType, InScope, InitError, Input,
    Layer, ListenerId, Loaded, Origin, OverrideError, OverridesWatch, Problem, Reason, Report,
    Runtime, Scoped, SegmentError, Setting, SharedContext, Snapshot, Source, SourceHandle,
    StubGuard, StubScope, TaskScope, Timestamp, TypeError, UnknownVariant, Value, Vars, WatchError,
    WatchOptions, WithContext, bucket, with_context, with_context_async,
};

/// axum integration (feature `axum`): a layer that evaluates flags for each request's user,
/// feature gates for routers, the [`axum::Enabled`] extractor, per-server flag values.
#[cfg(feature = "axum")]
pub use flags_axum as axum;

/// OpenFeature (feature `openfeature`): [`openfeature::FlagsProvider`], a provider for
/// applications written against the `open-feature` SDK, over `Flags::runtime()`.
/// `docs/openfeature.md` documents the mappings of reasons, error codes and contexts.
#[cfg(feature = "openfeature")]
pub use flags_openfeature as openfeature;

/// The Redis store of overrides and segment memberships that every process of a fleet follows
/// (feature `redis`): [`store::RedisStore`] writes, `Flags::runtime().follow_redis(...)`
/// follows. `docs/operations.md` documents the key layout and each fault.
#[cfg(feature = "redis")]
pub use flags_runtime::store;

/// The web console (feature `console`): flags, segments and the audit log in a browser, over
/// the Redis store, as an axum `Router` to mount ([`console::Console::router`]) or a server of
/// its own (`flags serve`). `docs/console.md` documents it.
#[cfg(feature = "console")]
pub use flags_console as console;

/// Items the generated code uses. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use flags_macros::feature_gate_expand as feature_gate;
    pub use flags_runtime::__private::*;
}
