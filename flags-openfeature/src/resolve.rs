//! A flag evaluated for OpenFeature: the runtime's value and reason, in OpenFeature's terms.

use std::fmt;

use flags_model::{Flag, Value};
use flags_runtime::{Context, EvaluationContext, EvaluationReason, Reason, Runtime, Snapshot};

/// Why a flag has its value, in OpenFeature's words (its `reason` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResolutionReason {
    /// The same value for every context: `flags.toml`'s value for the environment, an
    /// override (environment variable, overrides file, the Redis store, the program, a
    /// kill switch) or a test stub.
    Static,
    /// `flags.toml`'s `default`, or the fallthrough value when no rule matched.
    Default,
    /// A targeting rule matched.
    TargetingMatch,
    /// A percentage rollout put the context in its bucket (in a rule or the fallthrough).
    Split,
    /// A prerequisite flag did not have the required value, so the default was served.
    Disabled,
    /// The flag could not be evaluated for the context.
    Error,
    /// A reason this crate does not know yet (`flags::Reason` is non-exhaustive).
    Unknown,
}

impl ResolutionReason {
    /// The runtime's reason in OpenFeature's terms: the runtime's own mapping, the one its
    /// evaluation events report (`feature_flag.result.reason`).
    pub fn of(reason: &Reason) -> Self {
        match EvaluationReason::from(reason) {
            EvaluationReason::Static => Self::Static,
            EvaluationReason::Default => Self::Default,
            EvaluationReason::TargetingMatch => Self::TargetingMatch,
            EvaluationReason::Split => Self::Split,
            EvaluationReason::Disabled => Self::Disabled,
            EvaluationReason::Error => Self::Error,
            _ => Self::Unknown,
        }
    }

    /// OpenFeature's name: `STATIC`, `DEFAULT`, `TARGETING_MATCH`, `SPLIT`, `DISABLED`,
    /// `ERROR`, `UNKNOWN`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Static => "STATIC",
            Self::Default => "DEFAULT",
            Self::TargetingMatch => "TARGETING_MATCH",
            Self::Split => "SPLIT",
            Self::Disabled => "DISABLED",
            Self::Error => "ERROR",
            Self::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for ResolutionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// OpenFeature's error codes, those this crate and OFREP answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `flags.toml` declares no flag by that key.
    FlagNotFound,
    /// The flag's type is not the one asked for (a bool flag read as a string).
    TypeMismatch,
    /// The flag needs a targeting key for this context (a rollout by key) and it has none.
    TargetingKeyMissing,
    /// The context cannot be evaluated: an attribute of a kind flags cannot compare, a
    /// targeting key that is not a string, a rollout's `bucket_by` attribute missing.
    InvalidContext,
    /// The request could not be read (OFREP: a body that is not JSON, or not an object).
    ParseError,
    /// Anything else.
    General,
}

impl ErrorCode {
    /// OpenFeature's name: `FLAG_NOT_FOUND`, `TYPE_MISMATCH`, `TARGETING_KEY_MISSING`,
    /// `INVALID_CONTEXT`, `PARSE_ERROR`, `GENERAL`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FlagNotFound => "FLAG_NOT_FOUND",
            Self::TypeMismatch => "TYPE_MISMATCH",
            Self::TargetingKeyMissing => "TARGETING_KEY_MISSING",
            Self::InvalidContext => "INVALID_CONTEXT",
            Self::ParseError => "PARSE_ERROR",
            Self::General => "GENERAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A flag that could not be resolved: the code, and a message that says why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// OpenFeature's error code.
    pub code: ErrorCode,
    /// What went wrong, for a person: `` unknown flag `x`; did you mean `y`? ``.
    pub message: String,
}

impl Failure {
    /// A failure with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Failure {}

/// A flag resolved for a context.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolution {
    /// The value served, of the flag's type.
    pub value: Value,
    /// Which value it is (see [`variant`]).
    pub variant: Option<String>,
    /// Why, in OpenFeature's words.
    pub reason: ResolutionReason,
    /// The runtime's own reason, for logs (`` rule 1 (staff) matched, segment `internal` ``).
    pub detail: Reason,
}

/// The variant OpenFeature reports for `value`: a variant flag's variant name, `true`/`false`
/// for a bool, the number for a number, none for a string (the value itself says it).
pub fn variant(value: &Value) -> Option<String> {
    match value {
        Value::String(_) => None,
        other => Some(other.to_string()),
    }
}

/// The flag's metadata, as OpenFeature's flag metadata (string values): `owner`, `ticket`
/// and `expires` (`2029-06-30`), those the flag declares.
pub fn metadata(flag: &Flag) -> Vec<(&'static str, String)> {
    let mut metadata = Vec::new();
    if let Some(owner) = flag.owner() {
        metadata.push(("owner", owner.to_owned()));
    }
    if let Some(ticket) = flag.ticket() {
        metadata.push(("ticket", ticket.to_owned()));
    }
    if let Some(expires) = flag.expires() {
        metadata.push(("expires", expires.to_string()));
    }
    metadata
}

/// Resolves flags against one configuration of a runtime, held still: every flag of a bulk
/// evaluation sees the same configuration, whatever changes arrive meanwhile.
///
/// Evaluations go through the runtime's own [`Snapshot::evaluate`], so they are what
/// `Flags::x_for(&context)` serves, and evaluation listeners (and counts) hear of them.
#[derive(Clone, Debug)]
pub struct Resolver {
    runtime: &'static Runtime,
    snapshot: Snapshot,
}

impl Resolver {
    /// A resolver over the configuration `runtime` has in force now.
    pub fn new(runtime: &'static Runtime) -> Self {
        Self {
            runtime,
            snapshot: runtime.snapshot(),
        }
    }

    /// The configuration's generation: it changes with every change to the configuration.
    pub fn generation(&self) -> u64 {
        self.snapshot.generation()
    }

    /// The environment the configuration is for.
    pub fn environment(&self) -> Option<&'static str> {
        self.snapshot.environment()
    }

    /// Every flag `flags.toml` declares, in file order.
    pub fn flags(&self) -> impl Iterator<Item = (usize, &'static Flag)> + use<> {
        self.runtime.catalog().flags().iter().enumerate()
    }

    /// The flag by its key (or accessor name); `FLAG_NOT_FOUND` with the closest name.
    pub fn flag(&self, key: &str) -> Result<(usize, &'static Flag), Failure> {
        let catalog = self.runtime.catalog();
        catalog
            .find(key)
            .ok_or_else(|| Failure::new(ErrorCode::FlagNotFound, catalog.unknown_flag_message(key)))
    }

    /// Flag `index` (from [`Resolver::flag`] or [`Resolver::flags`]) for `context`.
    ///
    /// When the runtime could not evaluate the flag for the context (it then serves the
    /// flag's default), the failure is `TARGETING_KEY_MISSING` if the context has no key,
    /// else `INVALID_CONTEXT`, with the runtime's reason as the message.
    pub fn resolve(&self, index: usize, context: &Context) -> Result<Resolution, Failure> {
        let evaluation = self.snapshot.evaluate(index, Some(context));
        let reason = ResolutionReason::of(&evaluation.reason);
        if reason == ResolutionReason::Error {
            let code = if context.key().is_none() {
                ErrorCode::TargetingKeyMissing
            } else {
                ErrorCode::InvalidContext
            };
            return Err(Failure::new(code, evaluation.reason.to_string()));
        }
        Ok(Resolution {
            variant: variant(&evaluation.value),
            value: evaluation.value,
            reason,
            detail: evaluation.reason,
        })
    }
}
