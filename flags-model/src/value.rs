//! Flag types and values, and the one place where a value is checked against a type:
//! from `flags.toml`, an overrides file, an environment variable or a program.

use std::fmt;
use std::sync::Arc;

use toml::de::DeValue;

use crate::naming::did_you_mean;

/// One of a variant flag's closed set of values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    pub(crate) name: Arc<str>,
    pub(crate) ident: String,
}

impl Variant {
    /// The name as written in `flags.toml` (`one_page`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Rust enum variant (`OnePage`).
    pub fn ident(&self) -> &str {
        &self.ident
    }
}

/// The type of a flag, set by its `default` (and `variants`).
#[derive(Clone, Debug, PartialEq)]
pub enum FlagType {
    /// `true` or `false`.
    Bool,
    /// A 64-bit signed integer.
    Int,
    /// A 64-bit float (finite).
    Float,
    /// Any string.
    String,
    /// One of a closed set of names; becomes a Rust enum.
    Variants(Arc<[Variant]>),
}

/// A value of a flag, already checked against its type.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A bool flag's value.
    Bool(bool),
    /// An integer flag's value.
    Int(i64),
    /// A float flag's value.
    Float(f64),
    /// A string flag's value.
    String(Arc<str>),
    /// A variant flag's value: its position in `variants` and its name.
    Variant {
        /// Position in the flag's `variants` list.
        index: u32,
        /// The variant's name as written in `flags.toml`.
        name: Arc<str>,
    },
}

/// A value offered from outside (a program, a command line), not yet checked against a
/// flag's type.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// A bool.
    Bool(bool),
    /// An integer (also accepted by float flags).
    Int(i64),
    /// A float.
    Float(f64),
    /// Text, read the way an environment variable is: `true`, `42`, `1.5`, a variant name,
    /// or any string for a string flag.
    Text(String),
}

/// A value that does not fit a flag's type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeError {
    expected: String,
    found: String,
    help: Option<String>,
}

impl TypeError {
    fn new(flag_type: &FlagType, found: impl Into<String>) -> Self {
        Self {
            expected: flag_type.describe(),
            found: found.into(),
            help: None,
        }
    }

    /// What the flag's type wants: "a bool", "one of `a`, `b`".
    pub fn expected(&self) -> &str {
        &self.expected
    }

    /// What was given: "a string", "`yes`".
    pub fn found(&self) -> &str {
        &self.found
    }

    /// A hint such as "did you mean `express`?".
    pub fn help(&self) -> Option<&str> {
        self.help.as_deref()
    }
}

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {}, found {}", self.expected, self.found)?;
        if let Some(help) = &self.help {
            write!(f, " ({help})")?;
        }
        Ok(())
    }
}

impl std::error::Error for TypeError {}

impl FlagType {
    /// The type in words, for messages: "a bool", "one of `legacy`, `one_page`".
    pub fn describe(&self) -> String {
        match self {
            FlagType::Bool => "a bool".into(),
            FlagType::Int => "an integer".into(),
            FlagType::Float => "a float".into(),
            FlagType::String => "a string".into(),
            FlagType::Variants(variants) => format!("one of {}", variant_list(variants)),
        }
    }

    /// The Rust type the accessor returns, for documentation (`bool`, `i64`, ...).
    pub fn rust_type(&self) -> &'static str {
        match self {
            FlagType::Bool => "bool",
            FlagType::Int => "i64",
            FlagType::Float => "f64",
            FlagType::String => "Arc<str>",
            FlagType::Variants(_) => "enum",
        }
    }

    /// The variants of a variant flag.
    pub fn variants(&self) -> Option<&[Variant]> {
        match self {
            FlagType::Variants(variants) => Some(variants),
            _ => None,
        }
    }

    /// Checks a value as written in a TOML file. Float flags accept integers too.
    pub fn check_toml(&self, value: &DeValue<'_>) -> Result<Value, TypeError> {
        let found = || TypeError::new(self, describe_toml(value));
        match (self, value) {
            (FlagType::Bool, DeValue::Boolean(b)) => Ok(Value::Bool(*b)),
            (FlagType::Int, DeValue::Integer(i)) => i64::from_str_radix(i.as_str(), i.radix())
                .map(Value::Int)
                .map_err(|_| TypeError::new(self, "an integer outside the 64-bit range")),
            (FlagType::Float, DeValue::Integer(i)) => i64::from_str_radix(i.as_str(), i.radix())
                .map_err(|_| TypeError::new(self, "an integer outside the 64-bit range"))
                .and_then(|i| self.accept(Input::Int(i))),
            (FlagType::Float, DeValue::Float(f)) => f
                .as_str()
                .parse::<f64>()
                .map_err(|_| found())
                .and_then(|f| self.accept(Input::Float(f))),
            (FlagType::String, DeValue::String(s)) => Ok(Value::String(Arc::from(s.as_ref()))),
            (FlagType::Variants(_), DeValue::String(s)) => self.variant(s),
            _ => Err(found()),
        }
    }

    /// Reads a value from text, as found in an environment variable or on a command line.
    ///
    /// Bools accept `true`/`false`, `1`/`0`, `yes`/`no` and `on`/`off` (any case); numbers
    /// are trimmed; strings are taken as they are; variants must match a name exactly.
    pub fn parse_text(&self, text: &str) -> Result<Value, TypeError> {
        let shown = || format!("`{}`", crate::naming::excerpt(text));
        match self {
            FlagType::Bool => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(Value::Bool(true)),
                "false" | "0" | "no" | "off" => Ok(Value::Bool(false)),
                _ => Err(TypeError {
                    help: Some("use `true` or `false`".into()),
                    ..TypeError::new(self, shown())
                }),
            },
            FlagType::Int => text
                .trim()
                .parse::<i64>()
                .map(Value::Int)
                .map_err(|_| TypeError::new(self, shown())),
            FlagType::Float => text
                .trim()
                .parse::<f64>()
                .map_err(|_| TypeError::new(self, shown()))
                .and_then(|f| self.accept(Input::Float(f))),
            FlagType::String => Ok(Value::String(Arc::from(text))),
            FlagType::Variants(_) => self.variant(text),
        }
    }

    /// Checks a value offered by a program. [`Input::Text`] is read like [`Self::parse_text`].
    pub fn accept(&self, input: Input) -> Result<Value, TypeError> {
        match (self, input) {
            (FlagType::Bool, Input::Bool(b)) => Ok(Value::Bool(b)),
            (FlagType::Int, Input::Int(i)) => Ok(Value::Int(i)),
            (FlagType::Float, Input::Int(i)) => Ok(Value::Float(i as f64)),
            (FlagType::Float, Input::Float(f)) if f.is_finite() => Ok(Value::Float(f)),
            (FlagType::Float, Input::Float(f)) => Err(TypeError::new(self, format!("`{f}`"))),
            (_, Input::Text(text)) => self.parse_text(&text),
            (_, other) => Err(TypeError::new(self, other.describe())),
        }
    }

    fn variant(&self, name: &str) -> Result<Value, TypeError> {
        let FlagType::Variants(variants) = self else {
            return Err(TypeError::new(self, "a variant name"));
        };
        match variants.iter().position(|v| &*v.name == name) {
            Some(index) => Ok(Value::Variant {
                index: index as u32,
                name: Arc::clone(&variants[index].name),
            }),
            None => Err(TypeError {
                help: Some(
                    did_you_mean(name, variants.iter().map(|v| v.name()))
                        .trim_start_matches("; ")
                        .to_owned(),
                )
                .filter(|h| !h.is_empty()),
                ..TypeError::new(self, format!("`{}`", crate::naming::excerpt(name)))
            }),
        }
    }
}

impl Input {
    fn describe(&self) -> String {
        match self {
            Input::Bool(b) => format!("the bool `{b}`"),
            Input::Int(i) => format!("the integer `{i}`"),
            Input::Float(f) => format!("the float `{f}`"),
            Input::Text(t) => format!("`{t}`"),
        }
    }
}

impl From<bool> for Input {
    fn from(b: bool) -> Self {
        Input::Bool(b)
    }
}
impl From<i64> for Input {
    fn from(i: i64) -> Self {
        Input::Int(i)
    }
}
impl From<i32> for Input {
    fn from(i: i32) -> Self {
        Input::Int(i.into())
    }
}
impl From<f64> for Input {
    fn from(f: f64) -> Self {
        Input::Float(f)
    }
}
impl From<&str> for Input {
    fn from(s: &str) -> Self {
        Input::Text(s.to_owned())
    }
}
impl From<String> for Input {
    fn from(s: String) -> Self {
        Input::Text(s)
    }
}

impl Value {
    /// The value as it would be written in TOML: `true`, `42`, `1.5`, `"text"`.
    pub fn to_toml(&self) -> String {
        match self {
            Value::String(s) | Value::Variant { name: s, .. } => format!("{s:?}"),
            other => other.to_string(),
        }
    }

    /// The bool, if this is a bool value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::String(s) => f.write_str(s),
            Value::Variant { name, .. } => f.write_str(name),
        }
    }
}

/// A TOML value's kind in words, for messages.
pub(crate) fn describe_toml(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a bool",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn variant_list(variants: &[Variant]) -> String {
    /// A name in backticks, written only if the list shows it.
    struct Quoted<'a>(&'a str);
    impl fmt::Display for Quoted<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "`{}`", self.0)
        }
    }
    crate::naming::list(variants.iter().map(|v| Quoted(&v.name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variants(names: &[&str]) -> FlagType {
        FlagType::Variants(
            names
                .iter()
                .map(|n| Variant {
                    name: Arc::from(*n),
                    ident: crate::naming::type_name(n).unwrap(),
                })
                .collect(),
        )
    }

    fn toml(text: &str) -> Result<Value, TypeError> {
        let table = toml::de::DeTable::parse(text).unwrap();
        let value = table.get_ref().get("v").unwrap().get_ref();
        FlagType::Float.check_toml(value)
    }

    #[test]
    fn text_is_read_by_type() {
        assert_eq!(FlagType::Bool.parse_text(" On "), Ok(Value::Bool(true)));
        assert_eq!(FlagType::Bool.parse_text("0"), Ok(Value::Bool(false)));
        assert_eq!(FlagType::Int.parse_text("-7"), Ok(Value::Int(-7)));
        assert_eq!(FlagType::Float.parse_text("2.5"), Ok(Value::Float(2.5)));
        assert_eq!(
            FlagType::String.parse_text(" as is "),
            Ok(Value::String(" as is ".into()))
        );
        let flow = variants(&["legacy", "one_page"]);
        assert_eq!(
            flow.parse_text("one_page"),
            Ok(Value::Variant {
                index: 1,
                name: "one_page".into()
            })
        );
    }

    #[test]
    fn wrong_text_says_what_was_expected_and_suggests() {
        let err = FlagType::Bool.parse_text("yep").unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected a bool, found `yep` (use `true` or `false`)"
        );
        let err = variants(&["legacy", "one_page", "express"])
            .parse_text("expres")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected one of `legacy`, `one_page`, `express`, found `expres` (did you mean `express`?)"
        );
        assert!(FlagType::Float.parse_text("NaN").is_err());
        assert!(FlagType::Int.parse_text("1.5").is_err());
    }

    #[test]
    fn programs_get_strict_types_except_int_for_float() {
        assert_eq!(FlagType::Float.accept(Input::Int(3)), Ok(Value::Float(3.0)));
        assert!(FlagType::Int.accept(Input::Float(3.0)).is_err());
        assert!(FlagType::Bool.accept(Input::Int(1)).is_err());
        assert_eq!(FlagType::Bool.accept("true".into()), Ok(Value::Bool(true)));
    }

    #[test]
    fn toml_floats_accept_integers_and_reject_nan() {
        assert_eq!(toml("v = 2"), Ok(Value::Float(2.0)));
        assert_eq!(toml("v = 1_000.5"), Ok(Value::Float(1000.5)));
        assert!(toml("v = nan").is_err());
        assert_eq!(toml("v = \"x\"").unwrap_err().found(), "a string");
    }

    #[test]
    fn values_print_as_toml() {
        assert_eq!(Value::String("a\"b".into()).to_toml(), "\"a\\\"b\"");
        assert_eq!(Value::Float(1.0).to_toml(), "1.0");
        assert_eq!(Value::Bool(true).to_toml(), "true");
    }
}
