//! OpenFeature's evaluation context as the runtime's [`Context`]: the targeting key is the
//! key, and each field an attribute of the kind flags compare.

use std::sync::Arc;
use std::time::SystemTime;

use flags_runtime::{AttributeValue, Context, Timestamp};

use crate::resolve::{ErrorCode, Failure};

/// The most attributes a context may have: far more than targeting uses, and few enough
/// that building one stays cheap whatever a request sends.
pub const MAX_ATTRIBUTES: usize = 256;

/// A field of an OpenFeature context, as read from the SDK's value or from JSON.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Field<'a> {
    /// A bool.
    Bool(bool),
    /// A number (OpenFeature's integers and floats alike).
    Number(f64),
    /// A string.
    String(&'a str),
    /// A list of strings (for `in`, `contains` and list attributes).
    Strings(Vec<String>),
    /// A date and time.
    Time(SystemTime),
    /// A value flags cannot compare: a structure, a list of other things. Named by its
    /// kind, for the message.
    Unsupported(&'static str),
}

/// Builds the runtime's [`Context`] from an OpenFeature context, field by field.
///
/// ```
/// use flags_openfeature::{ContextBuilder, Field};
/// use flags_runtime::{Attribute, EvaluationContext};
///
/// let mut builder = ContextBuilder::new(Some("u-1"));
/// builder.field("email", Field::String("ada@example.com")).unwrap();
/// builder.field("seats", Field::Number(3.0)).unwrap();
/// let context = builder.build();
/// assert_eq!(context.key(), Some(Attribute::Str("u-1")));
/// assert_eq!(context.attribute("seats"), Some(Attribute::Number(3.0)));
/// ```
#[derive(Debug)]
pub struct ContextBuilder {
    context: Context,
    attributes: usize,
}

impl ContextBuilder {
    /// A context whose key is `targeting_key`. An empty key is no key: it would put every
    /// anonymous caller in one rollout bucket.
    pub fn new(targeting_key: Option<&str>) -> Self {
        let context = match targeting_key.filter(|key| !key.is_empty()) {
            Some(key) => Context::new(key),
            None => Context::anonymous(),
        };
        Self {
            context,
            attributes: 0,
        }
    }

    /// Adds attribute `name`. A value flags cannot compare, a number that is not finite, or
    /// one attribute too many is `INVALID_CONTEXT`, naming the attribute.
    pub fn field(&mut self, name: &str, field: Field<'_>) -> Result<(), Failure> {
        let invalid = |why: String| Failure::new(ErrorCode::InvalidContext, why);
        if self.attributes >= MAX_ATTRIBUTES {
            return Err(invalid(format!(
                "the context has more than {MAX_ATTRIBUTES} attributes"
            )));
        }
        let value = match field {
            Field::Bool(b) => AttributeValue::Bool(b),
            Field::Number(n) if n.is_finite() => AttributeValue::Number(n),
            Field::Number(n) => {
                return Err(invalid(format!(
                    "attribute `{name}` is {n}, not a finite number"
                )));
            }
            Field::String(s) => AttributeValue::Str(Arc::from(s)),
            Field::Strings(list) => AttributeValue::List(list.into()),
            Field::Time(time) => AttributeValue::Time(Timestamp::from(time)),
            Field::Unsupported(kind) => {
                return Err(invalid(format!(
                    "attribute `{name}` is {kind}; flags compare strings, numbers, bools, lists of strings and times"
                )));
            }
        };
        self.context.set(name, value);
        self.attributes += 1;
        Ok(())
    }

    /// The context.
    pub fn build(self) -> Context {
        self.context
    }
}
