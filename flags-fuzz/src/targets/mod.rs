//! One target per kind of input: each runs an input through the project's code, catching
//! panics, and checks what must hold for any input.

pub mod cli;
pub mod env_vars;
pub mod flags_toml;
pub mod overrides;
pub mod redis_entry;
pub mod source;

use std::path::PathBuf;

use crate::Kind;
use crate::guard::{Passed, Violation};

/// The most output one input may produce, in bytes, for an input under
/// [`MAX_LEN`](crate::mutate::MAX_LEN): a generous bound, four times the input's largest size.
pub const MAX_OUTPUT: usize = 64 * 1024;

/// The targets of a run.
#[derive(Clone, Debug, Default)]
pub struct Targets {
    cli: Option<cli::Cli>,
}

impl Targets {
    /// The in-process targets only.
    pub fn in_process() -> Self {
        Self::default()
    }

    /// Every target, the CLI's running the `flags` binary at `flags_bin`.
    pub fn with_flags_bin(flags_bin: impl Into<PathBuf>) -> Self {
        Self {
            cli: Some(cli::Cli::new(flags_bin)),
        }
    }

    fn flags_bin(&self) -> &cli::Cli {
        self.cli
            .as_ref()
            .expect("this target needs the path of the flags binary")
    }

    /// The CLI target, when there is one.
    pub fn cli(&self) -> Option<&cli::Cli> {
        self.cli.as_ref()
    }

    /// Runs `input` through the target of `kind`.
    ///
    /// # Panics
    ///
    /// For [`Kind::Cli`] and [`Kind::Source`] when these targets have no `flags` binary (a
    /// mistake of the caller).
    pub fn run(&self, kind: Kind, input: &[u8]) -> Result<Passed, Violation> {
        match kind {
            Kind::FlagsToml => flags_toml::run(input),
            Kind::Overrides => overrides::run(input),
            Kind::RedisEntry => redis_entry::run(input),
            Kind::EnvVars => env_vars::run(input),
            Kind::Cli => self.flags_bin().run(input),
            Kind::Source => source::run(self.flags_bin(), input),
        }
    }
}

/// An [`Oversized`](crate::Class::Oversized) violation when `output` bytes exceed the bound
/// for an input of `input` bytes.
pub(crate) fn check_output(input: usize, output: usize) -> Result<(), Violation> {
    if input <= crate::mutate::MAX_LEN && output > MAX_OUTPUT {
        return Err(Violation::oversized(output, input));
    }
    Ok(())
}
