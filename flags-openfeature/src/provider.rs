//! The OpenFeature provider: the `open-feature` SDK's [`FeatureProvider`] over a runtime.

use std::time::SystemTime;

use flags_model::Value;
use flags_runtime::{Context, Runtime};
use open_feature::provider::{
    FeatureProvider, ProviderMetadata, ProviderStatus, ResolutionDetails,
};
use open_feature::{
    EvaluationContext, EvaluationContextFieldValue, EvaluationError, EvaluationErrorCode,
    EvaluationReason, EvaluationResult, FlagMetadata, StructValue, async_trait,
};

use crate::context::{ContextBuilder, Field};
use crate::resolve::{ErrorCode, Failure, ResolutionReason, Resolver, metadata};

/// An OpenFeature provider that evaluates the flags of one `flags.toml` with its runtime:
/// `FlagsProvider::new(Flags::runtime())`.
///
/// Every resolution is a fresh evaluation against the configuration in force (overrides,
/// the Redis store the runtime follows, segment changes), for the context given: the
/// targeting key is the context's key, each custom field an attribute. Errors are
/// OpenFeature's codes, and the SDK's client returns the caller's default with them:
///
/// | case | error code |
/// | --- | --- |
/// | no flag by that key in `flags.toml` | `FLAG_NOT_FOUND` |
/// | the flag is of another type than the one asked for | `TYPE_MISMATCH` |
/// | a rollout by key, and the context has no targeting key | `TARGETING_KEY_MISSING` |
/// | a field flags cannot compare (a structure), or the rollout's `bucket_by` attribute missing | `INVALID_CONTEXT` |
pub struct FlagsProvider {
    runtime: &'static Runtime,
    metadata: ProviderMetadata,
}

impl FlagsProvider {
    /// A provider over `runtime`, named `flags` in its metadata.
    pub fn new(runtime: &'static Runtime) -> Self {
        Self {
            runtime,
            metadata: ProviderMetadata::new("flags"),
        }
    }

    /// The runtime it evaluates with.
    pub fn runtime(&self) -> &'static Runtime {
        self.runtime
    }

    fn resolve<T>(
        &self,
        key: &str,
        context: &EvaluationContext,
        asked: &str,
        convert: fn(&Value) -> Option<T>,
    ) -> EvaluationResult<ResolutionDetails<T>> {
        let resolver = Resolver::new(self.runtime);
        let (index, flag) = resolver.flag(key).map_err(error)?;
        // The flag's type, from its default, before anything is evaluated.
        if convert(flag.default()).is_none() {
            return Err(error(Failure::new(
                ErrorCode::TypeMismatch,
                format!(
                    "flag `{}` is {}, not {asked}",
                    flag.key(),
                    flag.flag_type().describe()
                ),
            )));
        }
        let resolution = resolver
            .resolve(index, &runtime_context(context).map_err(error)?)
            .map_err(error)?;
        let value = convert(&resolution.value).ok_or_else(|| {
            error(Failure::new(
                ErrorCode::General,
                format!("flag `{}` served a value of another type", flag.key()),
            ))
        })?;
        let mut flag_metadata = FlagMetadata::default();
        for (name, value) in metadata(flag) {
            flag_metadata.add_value(name, value);
        }
        Ok(ResolutionDetails {
            value,
            variant: resolution.variant,
            reason: Some(sdk_reason(resolution.reason)),
            flag_metadata: Some(flag_metadata),
        })
    }
}

impl std::fmt::Debug for FlagsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlagsProvider")
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl FeatureProvider for FlagsProvider {
    /// Starts the runtime (reads the environment and overrides), if nothing has yet.
    async fn initialize(&mut self, _context: &EvaluationContext) {
        let _ = self.runtime.snapshot();
    }

    /// Always ready: the runtime starts on first use and always has values (those of
    /// `flags.toml` at worst, while a store it follows is away).
    fn status(&self) -> ProviderStatus {
        ProviderStatus::Ready
    }

    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    async fn resolve_bool_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<bool>> {
        self.resolve(
            flag_key,
            evaluation_context,
            "a bool",
            |value| match value {
                Value::Bool(b) => Some(*b),
                _ => None,
            },
        )
    }

    async fn resolve_int_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<i64>> {
        self.resolve(
            flag_key,
            evaluation_context,
            "an integer",
            |value| match value {
                Value::Int(i) => Some(*i),
                _ => None,
            },
        )
    }

    /// A float flag, or an integer flag (OpenFeature's numbers are one type).
    async fn resolve_float_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<f64>> {
        self.resolve(
            flag_key,
            evaluation_context,
            "a number",
            |value| match value {
                Value::Float(x) => Some(*x),
                Value::Int(i) => Some(*i as f64),
                _ => None,
            },
        )
    }

    /// A string flag, or a variant flag (its variant's name).
    async fn resolve_string_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<String>> {
        self.resolve(
            flag_key,
            evaluation_context,
            "a string",
            |value| match value {
                Value::String(s) => Some(s.to_string()),
                Value::Variant { name, .. } => Some(name.to_string()),
                _ => None,
            },
        )
    }

    /// Always `TYPE_MISMATCH` for a declared flag: flags have no structure values.
    async fn resolve_struct_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<StructValue>> {
        self.resolve(flag_key, evaluation_context, "a structure", |_| None)
    }
}

/// The SDK's context as the runtime's. A structure field may hold a `Vec<String>` (a list
/// attribute); any other structure is `INVALID_CONTEXT`.
fn runtime_context(context: &EvaluationContext) -> Result<Context, Failure> {
    let mut builder = ContextBuilder::new(context.targeting_key.as_deref());
    for (name, value) in &context.custom_fields {
        let field = match value {
            EvaluationContextFieldValue::Bool(b) => Field::Bool(*b),
            EvaluationContextFieldValue::Int(i) => Field::Number(*i as f64),
            EvaluationContextFieldValue::Float(x) => Field::Number(*x),
            EvaluationContextFieldValue::String(s) => Field::String(s),
            EvaluationContextFieldValue::DateTime(time) => Field::Time(SystemTime::from(*time)),
            EvaluationContextFieldValue::Struct(any) => match any.downcast_ref::<Vec<String>>() {
                Some(list) => Field::Strings(list.clone()),
                None => Field::Unsupported("a structure"),
            },
        };
        builder.field(name, field)?;
    }
    Ok(builder.build())
}

fn sdk_reason(reason: ResolutionReason) -> EvaluationReason {
    match reason {
        ResolutionReason::Static => EvaluationReason::Static,
        ResolutionReason::Default => EvaluationReason::Default,
        ResolutionReason::TargetingMatch => EvaluationReason::TargetingMatch,
        ResolutionReason::Split => EvaluationReason::Split,
        ResolutionReason::Disabled => EvaluationReason::Disabled,
        ResolutionReason::Error => EvaluationReason::Error,
        ResolutionReason::Unknown => EvaluationReason::Unknown,
    }
}

fn error(failure: Failure) -> EvaluationError {
    let code = match failure.code {
        ErrorCode::FlagNotFound => EvaluationErrorCode::FlagNotFound,
        ErrorCode::TypeMismatch => EvaluationErrorCode::TypeMismatch,
        ErrorCode::TargetingKeyMissing => EvaluationErrorCode::TargetingKeyMissing,
        ErrorCode::InvalidContext => EvaluationErrorCode::InvalidContext,
        ErrorCode::ParseError => EvaluationErrorCode::ParseError,
        ErrorCode::General => EvaluationErrorCode::General(failure.message.clone()),
    };
    EvaluationError {
        code,
        message: Some(failure.message),
    }
}
