//! The one model of `flags.toml`: its parser, its validator and the types they produce.
//!
//! The `flags` macro, its runtime and its command-line tool all read flag files through this
//! crate, so a file means the same thing to each of them. Reading never stops at the first
//! problem: [`parse`] returns every [`Diagnostic`], each with the file, line and column it
//! is about and what to do.
//!
//! ```
//! use flags_model::{Catalog, SourceFile};
//!
//! let file = SourceFile::new("flags.toml", r#"
//! [environments]
//! names = ["development", "production"]
//! default = "development"
//!
//! [flags.new_checkout_enabled]
//! description = "Redesigned checkout page"
//! default = false
//! development = true
//! "#);
//! let catalog = Catalog::parse(&file).expect("valid flags.toml");
//! let (_, flag) = catalog.find("new_checkout_enabled").unwrap();
//! assert_eq!(flag.setting_in(Some(0)).to_string(), "true");
//! assert_eq!(flag.setting_in(Some(1)).to_string(), "false");
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod catalog;
mod diagnostic;
pub mod file;
mod lints;
pub mod naming;
mod overrides;
mod parse;
mod source;
mod targeting;
mod value;

pub use catalog::{Catalog, Date, Environments, Flag, OverrideSettings, REDIS_URL_VARIABLE};
pub use diagnostic::{Diagnostic, SNIPPET_WIDTH};
pub use lints::{DEFAULT_BOOL_SUFFIX, Lint, LintLevel, Lints, NamePattern};
pub use overrides::{ALL_ENVIRONMENTS_KEY, OverrideEntry, OverridesFile, parse_overrides};
pub use parse::{FLAG_KEYS, MAX_DIAGNOSTICS, MAX_REQUIREMENT_DEPTH, Parsed, parse};
pub use source::{Location, SourceFile};
pub use targeting::{
    Condition, Op, Operand, Requirement, Rollout, Rule, Segment, Serve, Setting, Split, Targeting,
    Test, Timestamp,
};
pub use value::{FlagType, Input, TypeError, Value, Variant};
