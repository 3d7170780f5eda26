//! A flag's accessors on `Flags`: the plain one (the context in scope), `_for` (a given
//! context, running the flag's compiled rules while they are in force) and `_details` (the
//! value and why). The last two check at compile time that the context type has every
//! attribute the flag's rules read.

use flags_model::Flag;

use super::Generator;
use super::code::{Code, ident, put, string};
use super::native::{self, Compiled};
use super::shape::Shape;

impl Generator<'_> {
    /// Writes the accessors of `flag` into `code`, inside `impl Flags`.
    pub(super) fn accessors(
        &self,
        code: &mut Code,
        flag: &Flag,
        shape: &Shape,
        compiled: Option<&Compiled>,
    ) {
        let (name, krate, key) = (&self.name, &self.krate, flag.key());
        let Shape {
            rust_type,
            read,
            read_for,
            details,
            compiles,
            ..
        } = shape;
        let docs = self.accessor_docs(flag);
        let deprecated = self.deprecation(flag);
        let accessor = ident(flag.accessor());
        let plain = flag.accessor();
        let for_doc = format!(
            " Flag `{key}` for `context`: its rules, segments and rollouts are evaluated for this context. \
             [`{name}::{plain}`] evaluates for the context in scope instead (see `flags::with_context`)."
        );
        let details_doc = format!(" Flag `{key}` for `context`, and why it has that value.");
        // In each accessor's own body, not a helper fn: the error's note then points at the
        // user's call (`instantiating fn Flags::x_for::<User>`), not at `declare!`.
        let check = self.attribute_check(flag).unwrap_or_default();
        let compiled_fn = match compiled {
            Some(compiled) => compiled.closure.clone(),
            None => format!("{krate}::__private::native::nothing"),
        };
        let compiled_fn = if *compiles {
            format!("let compiled = {compiled_fn};")
        } else {
            String::new()
        };
        let context = format!("C: {krate}::EvaluationContext + ?::core::marker::Sized");
        put!(
            code,
            "#[doc = {docs}] {deprecated} #[inline] pub fn {accessor}() -> {rust_type} {{ {read} }}\n\
             #[doc = {for_doc}] {deprecated} #[inline] {allow} pub fn {plain}_for<{context}>(context: &C) -> {rust_type} \
             {{ {check} {compiled_fn} {read_for} }}\n\
             #[doc = {details_doc}] {deprecated} pub fn {plain}_details<{context}>(context: &C) \
             -> {krate}::Evaluation<{rust_type}> {{ {check} {details} }}\n",
            docs = string(&docs),
            for_doc = string(&for_doc),
            details_doc = string(&details_doc),
            // What compiled rules leave after a `return` (`None`), and what they do not read.
            allow = if compiled.is_some() {
                "#[allow(unused_variables, unreachable_code, clippy::all)]"
            } else {
                ""
            },
        );
    }

    /// A `const` block that fails to compile, naming the attribute and the rule that reads it,
    /// when the context type declares its attributes (`#[derive(EvaluationContext)]`) and
    /// lacks one the flag's rules read.
    fn attribute_check(&self, flag: &Flag) -> Option<String> {
        let read = native::attributes_read(self.catalog, flag, &self.location.display);
        if read.is_empty() {
            return None;
        }
        let krate = &self.krate;
        let required: Vec<String> = read
            .iter()
            .map(|(name, at)| format!("({}, {})", string(name), string(at)))
            .collect();
        Some(format!(
            "const {{ let problem = {krate}::__private::native::require_attributes(\
             <C as {krate}::EvaluationContext>::ATTRIBUTES, {key}, &[{required}]); \
             if !problem.is_empty() {{ ::core::panic!(\"{{}}\", problem.as_str()); }} }}",
            key = string(flag.key()),
            required = required.join(", "),
        ))
    }
}
