//! What can go wrong at run time, said so that a person can act on it.

use std::fmt;

use flags_model::TypeError;

/// A problem with one source of values: a bad override, an unreadable file, an unknown
/// environment. Problems never stop the process; what was good stays in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    source: String,
    flag: Option<String>,
    message: String,
}

impl Problem {
    /// A problem with `source` (what a person would look at: `overrides file /etc/app.toml`),
    /// about `flag` when it concerns one flag.
    pub fn new(source: impl Into<String>, flag: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            flag: flag.map(str::to_owned),
            message: message.into(),
        }
    }

    /// Where the bad input came from: `environment variable FLAGS_BETA_ENABLED`,
    /// `overrides file /etc/app/flags.toml`.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The flag it is about, when it is about one.
    pub fn flag(&self) -> Option<&str> {
        self.flag.as_deref()
    }

    /// What is wrong and what happened instead.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.source)?;
        if let Some(flag) = &self.flag {
            write!(f, "flag `{flag}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// The outcome of loading the configuration: the environment in use and every problem found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub(crate) environment: Option<String>,
    pub(crate) problems: Vec<Problem>,
}

impl Report {
    /// The environment whose values are in use; `None` when it could not be determined (then
    /// every flag has its `default`, plus overrides).
    pub fn environment(&self) -> Option<&str> {
        self.environment.as_deref()
    }

    /// Every problem found, in the order sources were read.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Whether everything loaded without a problem.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.environment {
            Some(environment) => write!(f, "environment `{environment}`")?,
            None => f.write_str("no environment (flag defaults in use)")?,
        }
        if self.problems.is_empty() {
            return f.write_str(", no problems");
        }
        write!(f, ", {} problem(s):", self.problems.len())?;
        for problem in &self.problems {
            write!(f, "\n- {problem}")?;
        }
        Ok(())
    }
}

/// Why the environment could not be chosen. The runtime then serves each flag's `default`
/// (plus overrides) rather than guess an environment.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitError {
    /// The variable names an environment that `flags.toml` does not declare.
    UnknownEnvironment {
        /// The variable read (`APP_ENV`).
        variable: String,
        /// Its value.
        value: String,
        /// The environments `flags.toml` declares.
        allowed: Vec<String>,
    },
    /// The variable is unset and `flags.toml` names no default environment.
    MissingEnvironment {
        /// The variable read (`APP_ENV`).
        variable: String,
        /// The environments `flags.toml` declares.
        allowed: Vec<String>,
    },
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::UnknownEnvironment {
                variable,
                value,
                allowed,
            } => {
                write!(
                    f,
                    "{variable}={value:?} is not an environment declared in flags.toml; expected one of: {}",
                    allowed.join(", ")
                )?;
                if let Some(suggestion) =
                    flags_model::naming::suggest(value, allowed.iter().map(String::as_str))
                {
                    write!(f, " (did you mean `{suggestion}`?)")?;
                }
                Ok(())
            }
            InitError::MissingEnvironment { variable, allowed } => write!(
                f,
                "{variable} is not set and flags.toml has no [environments] default; set {variable} to one of: {}",
                allowed.join(", ")
            ),
        }
    }
}

impl std::error::Error for InitError {}

/// Why a programmatic override was refused. Nothing changes when one is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OverrideError {
    /// No flag has that name.
    UnknownFlag {
        /// The name given.
        name: String,
        /// The closest flag name, if any is close.
        suggestion: Option<String>,
    },
    /// The value does not fit the flag's type.
    WrongType {
        /// The flag's key.
        flag: String,
        /// What was expected and found.
        error: TypeError,
    },
}

impl fmt::Display for OverrideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OverrideError::UnknownFlag {
                name,
                suggestion: Some(s),
            } => {
                write!(f, "unknown flag `{name}`; did you mean `{s}`?")
            }
            OverrideError::UnknownFlag {
                name,
                suggestion: None,
            } => write!(f, "unknown flag `{name}`"),
            OverrideError::WrongType { flag, error } => write!(f, "flag `{flag}`: {error}"),
        }
    }
}

impl std::error::Error for OverrideError {}

/// Why a segment change was refused. Nothing changes when one is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SegmentError {
    /// No segment has that name.
    UnknownSegment {
        /// The name given.
        name: String,
        /// The closest segment name, if any is close.
        suggestion: Option<String>,
    },
}

impl fmt::Display for SegmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SegmentError::UnknownSegment {
                name,
                suggestion: Some(s),
            } => {
                write!(f, "unknown segment `{name}`; did you mean `{s}`?")
            }
            SegmentError::UnknownSegment {
                name,
                suggestion: None,
            } => write!(f, "unknown segment `{name}`"),
        }
    }
}

impl std::error::Error for SegmentError {}

/// A name that is not one of a variant flag's variants (from the generated enums' `FromStr`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownVariant {
    flag: &'static str,
    value: String,
    variants: &'static [&'static str],
}

impl UnknownVariant {
    /// `value` is not among `variants` of `flag`.
    pub fn new(flag: &'static str, value: &str, variants: &'static [&'static str]) -> Self {
        Self {
            flag,
            value: value.to_owned(),
            variants,
        }
    }

    /// The flag's key.
    pub fn flag(&self) -> &'static str {
        self.flag
    }
}

impl fmt::Display for UnknownVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a variant of flag `{}`; expected one of: {}",
            self.value,
            self.flag,
            self.variants.join(", ")
        )?;
        if let Some(s) = flags_model::naming::suggest(&self.value, self.variants.iter().copied()) {
            write!(f, " (did you mean `{s}`?)")?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownVariant {}

/// The error a `#[feature_gate]` fn returns when its flag is off.
///
/// Convert it into your own error type with `From<FeatureDisabled>`; its message is
/// "feature `name` is not enabled".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FeatureDisabled {
    flag: &'static str,
}

impl FeatureDisabled {
    /// The error for flag `flag` (its key in `flags.toml`).
    pub const fn new(flag: &'static str) -> Self {
        Self { flag }
    }

    /// The key of the flag that is off.
    pub const fn flag(&self) -> &'static str {
        self.flag
    }
}

impl fmt::Display for FeatureDisabled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "feature `{}` is not enabled", self.flag)
    }
}

impl std::error::Error for FeatureDisabled {}

/// An axum response for a disabled feature: 404 Not Found, as if the route did not exist,
/// so that nobody learns of a feature by probing for it.
#[cfg(feature = "axum")]
impl axum_core::response::IntoResponse for FeatureDisabled {
    fn into_response(self) -> axum_core::response::Response {
        let mut response = axum_core::response::Response::new(axum_core::body::Body::empty());
        *response.status_mut() = http::StatusCode::NOT_FOUND;
        response
    }
}

/// A bool flag as a type: `declare!` generates one per bool flag (`product-TASKS-103-comments`
/// gives `ProductTasks103CommentsFeature`), for extractors and layers that take a feature as a
/// type parameter.
pub trait Feature: Send + Sync + 'static {
    /// The flag's key in `flags.toml`.
    const KEY: &'static str;

    /// Whether the flag is on (for the context in scope).
    fn enabled() -> bool;

    /// `Ok(())` when on, else the error saying which flag is off.
    fn require() -> Result<(), FeatureDisabled> {
        if Self::enabled() {
            Ok(())
        } else {
            Err(FeatureDisabled::new(Self::KEY))
        }
    }
}

/// Return types a `#[feature_gate]` fn can have without a `fallback`: those that can say
/// "disabled". Implemented for every `Result<T, E>` whose `E: From<FeatureDisabled>`, so type
/// aliases such as `AppResult<T>` work too.
#[diagnostic::on_unimplemented(
    message = "#[feature_gate] cannot return `{Self}` when its flag is off",
    label = "the gated fn returns `{Self}`",
    note = "return `Result<T, E>` where `E: From<flags::FeatureDisabled>`, or add `fallback = other_fn` to call `other_fn` with the same arguments instead"
)]
pub trait GateOutput: Sized {
    /// The value for a disabled feature.
    fn disabled(flag: FeatureDisabled) -> Self;
}

impl<T, E: From<FeatureDisabled>> GateOutput for Result<T, E> {
    fn disabled(flag: FeatureDisabled) -> Self {
        Err(E::from(flag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_source_flag_and_allowed_values() {
        let problem = Problem::new(
            "environment variable FLAGS_X",
            Some("x"),
            "expected a bool, found `yes`",
        );
        assert_eq!(
            problem.to_string(),
            "environment variable FLAGS_X: flag `x`: expected a bool, found `yes`"
        );
        let error = InitError::UnknownEnvironment {
            variable: "APP_ENV".into(),
            value: "prod".into(),
            allowed: vec!["development".into(), "production".into()],
        };
        assert_eq!(
            error.to_string(),
            "APP_ENV=\"prod\" is not an environment declared in flags.toml; expected one of: development, production (did you mean `production`?)"
        );
        assert_eq!(
            FeatureDisabled::new("beta_enabled").to_string(),
            "feature `beta_enabled` is not enabled"
        );
    }
}
