//! The code behind the `flags` macros, as a plain library: each entry point takes and returns
//! `proc_macro2` tokens, so everything here can be unit-tested without a compiler. The
//! `flags-macros` crate only forwards to these functions.
//!
//! Every phase reports all the problems it finds, each at the smallest span that explains
//! it, and still expands to something usable, so one mistake does not cascade.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod args;
mod declare;
mod derive;
mod errors;
mod gate;
mod item;
mod load;
mod stub_attr;

pub use declare::{declare, declare_in};
pub use derive::evaluation_context;
pub use gate::{feature_gate, feature_gate_expand};
pub use load::DEFAULT_FILE;
pub use stub_attr::stub;

#[cfg(test)]
mod tests;
