//! The run-time side of the `flags` toolkit.
//!
//! Use it through the `flags` crate: `flags::declare!()` generates a `Flags` type whose
//! accessors read from a [`Runtime`]. This crate chooses the environment, applies
//! overrides, publishes each flag's value so that a check is a single atomic load, swaps
//! whole configurations on reload, and keeps test stubs to the thread that set them.
//!
//! Resolution, highest first: test stub, programmatic override, environment variable,
//! sources the application adds ([`Runtime::add_source`], such as the Redis store of the
//! `redis` feature, `Runtime::follow_redis`), overrides file, `flags.toml`'s value for the
//! environment, `flags.toml`'s `default`. [`Runtime::watch_overrides`] follows the overrides
//! file as it changes.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod bucket;
mod condition;
mod context;
mod descriptor;
mod each;
mod eval;
mod events;
mod feature;
mod live;
mod local;
mod marks;
mod native;
mod ops;
mod registry;
mod report;
mod resolution;
mod runtime;
mod scope;
mod slot;
mod snapshot;
mod sources;
#[cfg(feature = "redis")]
pub mod store;
mod stub;
mod sync;
mod trace;
mod watch;
mod writer;

pub use bucket::{bucket, murmur3_x86_32};
pub use context::{
    AnyContext, AsAttribute, Attribute, AttributeId, AttributeValue, Context, ContextAttributes,
    EvaluationContext, SharedContext, Timestamp, WithContext, with_context, with_context_async,
};
pub use each::{Each, EveryValue};
pub use eval::Reason;
pub use events::{
    EVALUATION_TARGET, EvaluationCount, EvaluationCounter, EvaluationEvent, EvaluationListener,
    EvaluationReason, ListenerId,
};
pub use flags_model::{
    Catalog, Date, Environments, Flag, FlagType, Input, Setting, TypeError, Value,
};
pub use live::SourceHandle;
pub use report::{
    Feature, FeatureDisabled, InitError, OverrideError, Problem, Report, SegmentError,
    UnknownVariant,
};
pub use runtime::Runtime;
pub use scope::{InScope, TaskScope};
pub use snapshot::{Evaluation, FlagInfo, Snapshot};
pub use sources::{Layer, Loaded, Origin, ProcessVars, Source, Vars};
pub use stub::{Scoped, StubGuard, StubScope};
pub use trace::{ConditionTrace, PrerequisiteTrace, RuleTrace, ServeTrace, Trace};
pub use watch::{OverridesWatch, WatchError, WatchOptions};

/// Items the generated code uses. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::descriptor::{Descriptor, FlagDescriptor, StaticValue};
    pub use crate::registry::Registry;
    pub use flags_model::Value;
    pub use std::sync::Arc;

    pub use crate::descriptor::FromValue;
    pub use crate::each::{FromStubGuard, StubValue, each};
    pub use crate::feature::{FeatureOf, FlagSet};
    pub use crate::report::GateOutput;

    /// What a `#[feature_gate]` fn returns while its flag is off, inferred from its return type.
    #[inline]
    pub fn disabled<R: GateOutput>(flag: &'static str) -> R {
        R::disabled(crate::FeatureDisabled::new(flag))
    }

    /// What compiled rules call.
    pub mod native {
        pub use crate::native::*;
    }

    /// The stub value of a variant.
    pub fn variant(index: u32, name: &'static str) -> Value {
        Value::Variant {
            index,
            name: name.into(),
        }
    }
}
