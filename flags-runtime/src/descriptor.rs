//! What the macro tells the runtime about the flags it generated code for, and the typed
//! values accessors return.

use std::sync::Arc;

use flags_model::Value;

/// What the macro knows about the flags it generated code for.
#[derive(Debug)]
pub struct Descriptor {
    /// The path of `flags.toml` as shown in messages.
    pub path: &'static str,
    /// The text of `flags.toml` the code was generated from.
    pub source: &'static str,
    /// The flags, in the order of their indexes.
    pub flags: &'static [FlagDescriptor],
}

/// One flag as the macro saw it.
#[derive(Debug)]
pub struct FlagDescriptor {
    /// Its key in `flags.toml`.
    pub key: &'static str,
    /// Its `default`: served if all else fails.
    pub default: StaticValue,
    /// The environments (bit `e` for environment `e`) whose targeting in `flags.toml` the
    /// macro compiled into code of the flag's `_for` accessor. That code is used while
    /// nothing replaces the targeting at run time.
    pub native: u64,
}

/// A flag value known at compile time.
#[derive(Clone, Copy, Debug)]
pub enum StaticValue {
    /// A bool.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(&'static str),
    /// A variant: its index and name.
    Variant(u32, &'static str),
}

impl StaticValue {
    pub(crate) fn to_value(self) -> Value {
        match self {
            StaticValue::Bool(b) => Value::Bool(b),
            StaticValue::Int(i) => Value::Int(i),
            StaticValue::Float(f) => Value::Float(f),
            StaticValue::Str(s) => Value::String(s.into()),
            StaticValue::Variant(index, name) => Value::Variant {
                index,
                name: name.into(),
            },
        }
    }
}

/// The Rust type an accessor returns, taken out of a [`Value`].
#[doc(hidden)]
pub trait FromValue: Default {
    /// The value as `Self`, if it is of that type.
    fn from_value(value: &Value) -> Option<Self>;

    /// Like [`FromValue::from_value`], taking the value (a string moves rather than clones).
    fn from_owned(value: Value) -> Option<Self> {
        Self::from_value(&value)
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Option<Self> {
        value.as_bool()
    }
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl FromValue for u32 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Variant { index, .. } => Some(*index),
            _ => None,
        }
    }
}

impl FromValue for f64 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
}

impl FromValue for Arc<str> {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::String(s) => Some(Arc::clone(s)),
            _ => None,
        }
    }

    fn from_owned(value: Value) -> Option<Self> {
        match value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

impl Descriptor {
    /// The compiled default of flag `index` (`false` for an index the macro did not make).
    pub(crate) fn default_value(&self, index: usize) -> Value {
        self.flags
            .get(index)
            .map_or(Value::Bool(false), |flag| flag.default.to_value())
    }
}
