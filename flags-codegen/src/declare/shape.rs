//! How each type of flag appears in the generated code: its Rust type, and how accessors,
//! snapshots and stubs read and set it. Written as text ([`super::code`]).

use flags_model::{Flag, FlagType};

use super::Generator;
use super::code::ident;

/// How one flag's type appears in the generated code.
pub(super) struct Shape {
    /// The accessors' return type.
    pub(super) rust_type: String,
    /// The plain accessor's body.
    pub(super) read: String,
    /// The `_for` accessor's body, given `context` and, for the types whose rules compile,
    /// the `compiled` rules.
    pub(super) read_for: String,
    /// Whether rules of this type compile (bools, integers, variants).
    pub(super) compiles: bool,
    /// The `_details` accessor's body, given `context`.
    pub(super) details: String,
    /// A snapshot's read.
    pub(super) snapshot_read: String,
    /// A stub setter's parameter, and the stub value made of it.
    pub(super) stub_param: String,
    pub(super) stub_value: String,
}

impl Generator<'_> {
    pub(super) fn shape(&self, index: usize, flag: &Flag) -> Shape {
        let krate = &self.krate;
        let value = format!("{krate}::__private::Value");
        let arc = "::std::sync::Arc<str>";
        let at = format!("{index}usize");
        match flag.flag_type() {
            FlagType::Bool => Shape {
                rust_type: "bool".to_owned(),
                read: format!("Self::__registry().bool({at})"),
                read_for: format!("Self::__registry().bool_for({at}, context, compiled)"),
                compiles: true,
                details: format!("Self::__registry().details::<bool>({at}, &context)"),
                snapshot_read: format!("self.inner.bool({at})"),
                stub_param: "value: bool".to_owned(),
                stub_value: format!("{value}::Bool(value)"),
            },
            FlagType::Int => Shape {
                rust_type: "i64".to_owned(),
                read: format!("Self::__registry().int({at})"),
                read_for: format!("Self::__registry().int_for({at}, context, compiled)"),
                compiles: true,
                details: format!("Self::__registry().details::<i64>({at}, &context)"),
                snapshot_read: format!("self.inner.int({at})"),
                stub_param: "value: i64".to_owned(),
                stub_value: format!("{value}::Int(value)"),
            },
            FlagType::Float => Shape {
                rust_type: "f64".to_owned(),
                read: format!("Self::__registry().float({at})"),
                read_for: format!("Self::__registry().float_for({at}, &context)"),
                compiles: false,
                details: format!("Self::__registry().details::<f64>({at}, &context)"),
                snapshot_read: format!("self.inner.float({at})"),
                stub_param: "value: f64".to_owned(),
                stub_value: format!("{value}::Float(value)"),
            },
            FlagType::String => Shape {
                rust_type: arc.to_owned(),
                read: format!("Self::__registry().string({at})"),
                read_for: format!("Self::__registry().string_for({at}, &context)"),
                compiles: false,
                details: format!("Self::__registry().details::<{arc}>({at}, &context)"),
                snapshot_read: format!("self.inner.string({at})"),
                stub_param: "value: impl ::core::convert::AsRef<str>".to_owned(),
                stub_value: format!("{value}::String(::std::sync::Arc::from(value.as_ref()))"),
            },
            FlagType::Variants(_) => {
                let enum_name = ident(flag.type_name().unwrap_or("Variant"));
                Shape {
                    rust_type: enum_name.to_string(),
                    read: format!("{enum_name}::__from_index(Self::__registry().variant({at}))"),
                    read_for: format!(
                        "{enum_name}::__from_index(Self::__registry().variant_for({at}, context, compiled))"
                    ),
                    compiles: true,
                    details: format!(
                        "let details = Self::__registry().details::<u32>({at}, &context); \
                         {krate}::Evaluation {{ value: {enum_name}::__from_index(details.value), reason: details.reason }}"
                    ),
                    snapshot_read: format!("{enum_name}::__from_index(self.inner.variant({at}))"),
                    stub_param: format!("value: {enum_name}"),
                    stub_value: format!("{krate}::__private::StubValue::stub_value(&value)"),
                }
            }
        }
    }
}
