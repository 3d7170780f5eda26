//! One complete configuration, as the writer builds it and readers share it.

use std::sync::Arc;

use flags_model::Value;

use crate::condition::SegmentState;
use crate::eval::Program;
use crate::report::{InitError, Problem};
use crate::sources::Origin;

/// What one flag resolved to in a configuration.
#[derive(Debug)]
pub(crate) enum Resolved {
    /// The same value for every context.
    Static {
        value: Value,
        origin: Origin,
        /// Set by an override (final: no targeting, no prerequisites).
        overridden: bool,
    },
    /// Evaluated per context: targeting, prerequisites or both.
    Dynamic(Program),
}

/// One complete configuration: every flag resolved, and the segments. Built whole off to the
/// side, then swapped in; never changed afterwards.
#[derive(Debug)]
pub(crate) struct Resolution {
    pub(crate) generation: u64,
    pub(crate) environment: Option<usize>,
    pub(crate) environment_error: Option<InitError>,
    /// Shared with the configuration before when only segments changed.
    pub(crate) resolved: Arc<[Resolved]>,
    pub(crate) segments: Box<[SegmentState]>,
    pub(crate) problems: Arc<[Problem]>,
}
