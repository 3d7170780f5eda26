//! Immutable, complete configurations, and consistent reads of several flags.

use std::sync::Arc;

use flags_model::Value;

use crate::report::{InitError, Problem};
use crate::runtime::{FromValue, Runtime};
use crate::sources::Origin;
use crate::stub;

/// One complete configuration: a value and its origin for every flag. Built whole off to
/// the side, then swapped in; never changed afterwards.
#[derive(Debug)]
pub(crate) struct Resolution {
    pub(crate) generation: u64,
    pub(crate) environment: Option<usize>,
    pub(crate) environment_error: Option<InitError>,
    pub(crate) values: Box<[Value]>,
    pub(crate) origins: Box<[Origin]>,
    pub(crate) problems: Arc<[Problem]>,
}

/// A configuration held still: every read through it sees the same values, whatever
/// reloads happen meanwhile. Test stubs of the current thread still apply.
///
/// Taken with the generated `Flags::snapshot()`, which has one typed method per flag.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub(crate) runtime: &'static Runtime,
    pub(crate) resolution: Arc<Resolution>,
}

impl Snapshot {
    /// Counts the configurations loaded so far: 1 for the first, then one more per reload
    /// or override change.
    pub fn generation(&self) -> u64 {
        self.resolution.generation
    }

    /// The environment this configuration is for.
    pub fn environment(&self) -> Option<&'static str> {
        let index = self.resolution.environment?;
        self.runtime
            .catalog()
            .environments()
            .names()
            .get(index)
            .map(String::as_str)
    }

    /// The value of flag `index`, and where it came from.
    pub fn get(&self, index: usize) -> (Value, Origin) {
        if let Some(value) = stub::lookup(self.runtime, index) {
            return (value, Origin::Stub);
        }
        match (
            self.resolution.values.get(index),
            self.resolution.origins.get(index),
        ) {
            (Some(value), Some(origin)) => (value.clone(), origin.clone()),
            _ => (self.runtime.default_value(index), Origin::Default),
        }
    }

    /// The value of flag `index`.
    pub fn value(&self, index: usize) -> Value {
        self.get(index).0
    }

    /// Bool flag `index`.
    pub fn bool(&self, index: usize) -> bool {
        self.typed(index)
    }

    /// Integer flag `index`.
    pub fn int(&self, index: usize) -> i64 {
        self.typed(index)
    }

    /// Float flag `index`.
    pub fn float(&self, index: usize) -> f64 {
        self.typed(index)
    }

    /// String flag `index`.
    pub fn string(&self, index: usize) -> Arc<str> {
        self.typed(index)
    }

    /// The variant index of variant flag `index`.
    pub fn variant(&self, index: usize) -> u32 {
        self.typed(index)
    }

    fn typed<T: FromValue>(&self, index: usize) -> T {
        self.runtime.typed(index, self.value(index))
    }
}
