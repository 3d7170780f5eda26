//! Typed, compile-checked feature flags from one `flags.toml`.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use flags_macros::{declare, feature_gate, stub};
pub use flags_runtime::{
    Catalog, Date, Environments, FeatureDisabled, Flag, FlagInfo, FlagType, InitError, Input,
    Origin, OverrideError, Problem, Report, Runtime, Scoped, Snapshot, StubGuard, StubScope,
    TypeError, UnknownVariant, Value,
};

/// Items the generated code uses. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use flags_macros::feature_gate_expand as feature_gate;
    pub use flags_runtime::__private::*;
}
