//! The types a flag generates besides its accessors: the enum of a variant flag, and the
//! marker type of a bool flag for layers and extractors.

use flags_model::{Flag, Value};

use super::Generator;
use super::code::{Code, ident, put, string};

impl Generator<'_> {
    /// The enum of a variant flag (`CheckoutFlow::{Legacy, OnePage, Express}`), written into
    /// `code`.
    pub(super) fn variant_enum(&self, code: &mut Code, flag: &Flag) {
        let krate = &self.krate;
        let variants = flag.flag_type().variants().unwrap_or_default();
        let enum_name = ident(flag.type_name().unwrap_or("Variant"));
        let idents: Vec<_> = variants.iter().map(|v| ident(v.ident())).collect();
        let names: Vec<_> = variants
            .iter()
            .map(|v| string(v.name()).to_string())
            .collect();
        let count = variants.len();
        let default_index = match flag.default() {
            Value::Variant { index, .. } => *index as usize,
            _ => 0,
        };
        let Some(default) = idents.get(default_index).or_else(|| idents.last()).cloned() else {
            return;
        };
        let key = string(flag.key());
        let doc = format!(
            " The values of flag `{}`: {}",
            flag.key(),
            flag.description()
        );
        let mut declared = String::new();
        let (mut all, mut as_str, mut from_index, mut from_str) =
            (Vec::new(), String::new(), String::new(), String::new());
        for (i, (variant, name)) in idents.iter().zip(&names).enumerate() {
            let default_note = if i == default_index {
                " (the default)"
            } else {
                ""
            };
            let variant_doc = format!(" `{}`{default_note}", variants[i].name());
            declared.push_str(&format!("#[doc = {}] {variant},", string(&variant_doc)));
            all.push(format!("Self::{variant}"));
            as_str.push_str(&format!("Self::{variant} => {name},"));
            from_index.push_str(&format!("{i}u32 => Self::{variant},"));
            from_str.push_str(&format!(
                "{name} => ::core::result::Result::Ok(Self::{variant}),"
            ));
        }
        put!(
            code,
            "#[doc = {doc}] #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)] \
             #[allow(dead_code)] pub enum {enum_name} {{ {declared} }}\n\
             #[allow(dead_code)] impl {enum_name} {{ \
             #[doc = \" Every variant, in `flags.toml` order.\"] \
             pub const ALL: [Self; {count}usize] = [{all}]; \
             #[doc = \" The variant's name in `flags.toml`.\"] \
             pub const fn as_str(self) -> &'static str {{ match self {{ {as_str} }} }} \
             #[doc(hidden)] pub const fn __from_index(index: u32) -> Self {{ \
             match index {{ {from_index} _ => Self::{default}, }} }} }}\n\
             impl {krate}::EveryValue for {enum_name} {{ const EVERY: &'static [Self] = &Self::ALL; }}\n\
             impl {krate}::__private::StubValue for {enum_name} {{ \
             fn stub_value(&self) -> {krate}::__private::Value {{ \
             {krate}::__private::variant(*self as u32, self.as_str()) }} }}\n\
             impl ::core::default::Default for {enum_name} {{ \
             #[doc = \" The flag's `default` in `flags.toml`.\"] fn default() -> Self {{ Self::{default} }} }}\n\
             impl ::core::fmt::Display for {enum_name} {{ \
             fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {{ f.write_str(self.as_str()) }} }}\n\
             impl ::core::str::FromStr for {enum_name} {{ type Err = {krate}::UnknownVariant; \
             fn from_str(text: &str) -> ::core::result::Result<Self, Self::Err> {{ match text {{ {from_str} \
             _ => ::core::result::Result::Err({krate}::UnknownVariant::new({key}, text, &[{names}])), }} }} }}\n",
            doc = string(&doc),
            all = all.join(", "),
            names = names.join(", "),
        );
    }

    /// The marker type of a bool flag (`ProductTasks103CommentsFeature`), implementing
    /// `flags::Feature`: an alias of the runtime's one generic marker, so that a flag adds
    /// no type and no impl.
    pub(super) fn feature_marker(&self, code: &mut Code, index: usize, flag: &Flag) {
        let Some(Some(feature)) = self.features.get(index) else {
            return;
        };
        let (name, krate, key) = (&self.name, &self.krate, flag.key());
        let feature_doc = format!(
            " Flag `{key}` as a type, for extractors and layers that take a feature: \
             `flags::axum::Enabled<{feature}>`. Checks call [`{name}::{}`].",
            flag.accessor()
        );
        put!(
            code,
            "#[doc = {doc}] #[allow(dead_code)] pub type {feature} = {krate}::__private::FeatureOf<{name}, {index}usize>;\n",
            doc = string(&feature_doc),
        );
    }
}
