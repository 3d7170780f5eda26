//! Adversarial inputs for every reader of the flags toolkit, on stable Rust.
//!
//! Six kinds of input, each with a target that runs it through the project's own code and
//! checks what must hold for any input (see `docs/fuzzing.md`):
//!
//! - [`Kind::FlagsToml`]: `flags_model::parse`, every diagnostic rendered, and the
//!   `declare!` expansion of `flags-codegen`;
//! - [`Kind::Overrides`]: `flags_model::parse_overrides` against a fixed catalog, and a
//!   runtime reloading the file and evaluating every flag;
//! - [`Kind::RedisEntry`]: `StoredOverride::read`, how every follower of the Redis store reads
//!   one field of its hash;
//! - [`Kind::EnvVars`]: environment variables, which a runtime reloads with before
//!   evaluating every flag;
//! - [`Kind::Cli`]: the `flags` binary, as a subprocess, on `check`, `list`, `explain`, `set`
//!   and `unset`;
//! - [`Kind::Source`]: a Rust source file of a crate, which the `flags` binary scans and
//!   rewrites on `refs`, `remove` (with and without `--dry-run`) and `check`.
//!
//! Inputs are mutations of the seed files in `seeds/`, made by [`Mutator`]: each one is a pure
//! function of a run's seed and the input's number, so a run is reproducible and any input of
//! it can be made again. [`run`] drives a run in this process (for `cargo test`) or in a
//! supervised worker process that is restarted after a crash or a hang (for long runs).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod corpus;
pub mod guard;
pub mod locate;
pub mod mutate;
pub mod run;
pub mod targets;

pub use guard::{Class, Passed, Violation};
pub use mutate::Mutator;
pub use targets::Targets;

use std::fmt;

/// The kinds of input the toolkit reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A `flags.toml`.
    FlagsToml,
    /// An overrides file, read against the fixed catalog `seeds/catalog.toml`.
    Overrides,
    /// One field of the Redis store's overrides hash: the field's name, a newline, its value.
    RedisEntry,
    /// Environment variables, `NAME=VALUE` one per line, read by a runtime of the fixed
    /// catalog.
    EnvVars,
    /// A `flags.toml` and an overrides file for the `flags` binary (see [`targets::cli`]).
    Cli,
    /// A Rust source file of a crate whose `flags.toml` is fixed, for the `flags` binary's
    /// scanner and rewriter (see [`targets::source`]).
    Source,
}

impl Kind {
    /// Every kind, in the order a run of `all` takes them.
    pub const ALL: [Kind; 6] = [
        Kind::FlagsToml,
        Kind::Overrides,
        Kind::RedisEntry,
        Kind::EnvVars,
        Kind::Cli,
        Kind::Source,
    ];

    /// The kinds that run inside this process (all but those of the `flags` binary).
    pub const IN_PROCESS: [Kind; 4] = [
        Kind::FlagsToml,
        Kind::Overrides,
        Kind::RedisEntry,
        Kind::EnvVars,
    ];

    /// The name used on the command line and for the `seeds/` and `corpus/` directories.
    pub fn name(self) -> &'static str {
        match self {
            Kind::FlagsToml => "flags_toml",
            Kind::Overrides => "overrides",
            Kind::RedisEntry => "redis_entry",
            Kind::EnvVars => "env_vars",
            Kind::Cli => "cli",
            Kind::Source => "rust_source",
        }
    }

    /// Whether this kind's target runs the `flags` binary.
    pub fn runs_flags_bin(self) -> bool {
        matches!(self, Kind::Cli | Kind::Source)
    }

    /// The kind named `name`, as [`Kind::name`] gives it.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The extension of this kind's corpus files.
    pub fn extension(self) -> &'static str {
        match self {
            Kind::FlagsToml | Kind::Overrides => "toml",
            Kind::RedisEntry => "entry",
            Kind::EnvVars => "env",
            Kind::Cli => "cli",
            Kind::Source => "rs",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
