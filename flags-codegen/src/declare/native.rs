//! `flags.toml`'s targeting compiled into Rust: for each flag, a function that evaluates its
//! rules, segments, rollouts and prerequisites in each environment for a context of a
//! concrete type, reading attributes by id. The runtime runs it while nothing replaces the
//! flag's targeting; it calls the runtime's own operators, so it means what the interpreter
//! means. What it cannot compile (regular expressions, versions, prerequisites that have
//! prerequisites) it leaves to the interpreter, for that flag.

use flags_model::{
    Catalog, Condition, Flag, FlagType, Op, Operand, Rollout, Serve, Setting, Targeting, Test,
    Value,
};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::Generator;
use super::rust_ident;

/// A flag's compiled rules: the function's name and code, and the environments it covers
/// (bit `e` for environment `e`).
pub(super) struct Compiled {
    pub(super) function: syn::Ident,
    pub(super) code: TokenStream,
    pub(super) environments: u64,
}

/// Whether a rule of the flag leaves the interpreter to decide.
struct Unsupported;

impl Generator<'_> {
    /// The compiled rules of `flag`, if any environment has rules to compile and all of them
    /// can be compiled.
    pub(super) fn compile(&self, flag: &Flag, left_out: &[String]) -> Option<Compiled> {
        let rust_type = match flag.flag_type() {
            FlagType::Bool => quote!(bool),
            FlagType::Int => quote!(i64),
            FlagType::Variants(_) => quote!(u32),
            // Floats and strings are read from the configuration (a string is a shared one).
            FlagType::Float | FlagType::String => return None,
        };
        let prerequisites = self.prerequisites(flag, left_out).ok()?;
        let default = value(flag.default());
        let mut arms = Vec::new();
        let mut environments = 0u64;
        for environment in 0..self.catalog.environments().names().len().min(64) {
            let setting = flag.setting_in(Some(environment));
            let body = match &setting {
                Setting::Targeted(targeting) => match self.targeting(targeting, &default) {
                    Ok(body) => body,
                    Err(Unsupported) => return None,
                },
                Setting::Value(served) if !flag.requires().is_empty() => {
                    let served = value(served);
                    quote!(Some(#served))
                }
                // One value for everyone: published in the flag's word, never evaluated.
                Setting::Value(_) => continue,
            };
            let environment_literal = Literal::u32_unsuffixed(environment as u32);
            arms.push(quote! {
                #environment_literal => {
                    #prerequisites
                    #body
                }
            });
            environments |= 1 << environment;
        }
        if arms.is_empty() {
            return None;
        }
        let krate = &self.args.krate;
        let function = format_ident!("__compiled_{}", flag.accessor());
        let code = quote! {
            #[doc(hidden)]
            #[inline]
            #[allow(unused_variables, unreachable_code, clippy::all)]
            fn #function<C: #krate::EvaluationContext + ?::core::marker::Sized>(
                environment: u32,
                context: &C,
            ) -> ::core::option::Option<#rust_type> {
                // Short names for what every rule returns; the user's own `Some` cannot shadow them.
                use #krate::__private::native;
                use ::core::option::Option::{None, Some};
                match environment {
                    #(#arms)*
                    _ => None,
                }
            }
        };
        Some(Compiled {
            function,
            code,
            environments,
        })
    }

    /// The checks of the flag's prerequisites, each through the required flag's own `_for`
    /// accessor (its stubs, overrides and rules apply); a required flag that has prerequisites
    /// itself is left to the interpreter, which evaluates each flag once.
    fn prerequisites(&self, flag: &Flag, left_out: &[String]) -> Result<TokenStream, Unsupported> {
        let default = value(flag.default());
        let mut checks = Vec::new();
        for requirement in flag.requires() {
            let required = self
                .catalog
                .flags()
                .get(requirement.flag)
                .ok_or(Unsupported)?;
            if !required.requires().is_empty() || left_out.iter().any(|k| k == required.key()) {
                return Err(Unsupported);
            }
            let accessor = format_ident!("{}_for", required.accessor());
            let is = match (&requirement.is, required.flag_type()) {
                (Value::Variant { index, .. }, FlagType::Variants(variants)) => {
                    let enum_name = rust_ident(required.type_name().ok_or(Unsupported)?);
                    let variant = variants.get(*index as usize).ok_or(Unsupported)?;
                    let variant = rust_ident(variant.ident());
                    quote!(#enum_name::#variant)
                }
                (Value::String(text), _) => {
                    let text: &str = text;
                    quote!(#text)
                }
                (other, _) => value(other),
            };
            let actual = match required.flag_type() {
                FlagType::String => quote!(&*Self::#accessor(context)),
                _ => quote!(Self::#accessor(context)),
            };
            checks.push(quote! {
                if #actual != #is {
                    return Some(#default);
                }
            });
        }
        Ok(quote!(#(#checks)*))
    }

    /// Rules in order, then the fallthrough.
    fn targeting(
        &self,
        targeting: &Targeting,
        default: &TokenStream,
    ) -> Result<TokenStream, Unsupported> {
        let mut rules = Vec::new();
        for rule in &targeting.rules {
            let conditions = rule
                .conditions
                .iter()
                .map(|condition| self.condition(condition))
                .collect::<Result<Vec<_>, _>>()?;
            let matched = quote!(true #(&& #conditions)*);
            // A rule whose rollout has no value to bucket does not apply to this context.
            let serve = self.serve(&rule.serve, quote!({}))?;
            rules.push(quote! {
                if #matched {
                    #serve
                }
            });
        }
        let fallthrough = self.serve(&targeting.fallthrough, quote!({ return Some(#default); }))?;
        Ok(quote! {
            #(#rules)*
            #fallthrough
            None
        })
    }

    /// Returns the served value; with a rollout and nothing to bucket, runs `no_bucket`.
    fn serve(&self, serve: &Serve, no_bucket: TokenStream) -> Result<TokenStream, Unsupported> {
        let rollout = match serve {
            Serve::Value(served) => {
                let served = value(served);
                return Ok(quote!(return Some(#served);));
            }
            Serve::Rollout(rollout) => rollout,
        };
        let bucketed = self.bucketed(rollout);
        let group = &rollout.group;
        let mut cumulative = 0u32;
        let mut choices = Vec::new();
        for split in &rollout.splits {
            cumulative += split.weight;
            let served = value(&split.value);
            let limit = Literal::u32_unsuffixed(cumulative);
            choices.push(quote!(if bucket <= #limit { return Some(#served); }));
        }
        // Weights sum to 100 (checked when flags.toml is read): the last value is the answer.
        let last = rollout
            .splits
            .last()
            .map(|split| value(&split.value))
            .ok_or(Unsupported)?;
        Ok(quote! {{
            const GROUP: native::GroupHash = native::GroupHash::new(#group);
            match native::bucket(&GROUP, #bucketed) {
                Some(bucket) => {
                    #(#choices)*
                    return Some(#last);
                }
                None => #no_bucket,
            }
        }})
    }

    /// What a rollout buckets: the context key, or the `bucket_by` attribute.
    fn bucketed(&self, rollout: &Rollout) -> TokenStream {
        match &rollout.bucket_by {
            Some(attribute) => self.attribute_of(attribute),
            None => {
                let krate = &self.args.krate;
                quote!(#krate::EvaluationContext::key(context))
            }
        }
    }

    fn condition(&self, condition: &Condition) -> Result<TokenStream, Unsupported> {
        let negate = condition.negate;
        let test = match &condition.test {
            Test::Now { op, at } => {
                let op = op_tokens(*op);
                let at = timestamp(at);
                quote!(Some(native::now(#op, native::Timestamp::now(), #at)))
            }
            Test::Segment { index, .. } => {
                let segment = self.catalog.segments().get(*index).ok_or(Unsupported)?;
                let rules = segment
                    .rules
                    .iter()
                    .map(|rule| {
                        let conditions = rule
                            .iter()
                            .map(|condition| self.condition(condition))
                            .collect::<Result<Vec<_>, _>>()?;
                        Ok(quote!((true #(&& #conditions)*)))
                    })
                    .collect::<Result<Vec<_>, Unsupported>>()?;
                let krate = &self.args.krate;
                quote! {
                    Some(
                        false #(|| #rules)*
                            || Self::__registry()
                                .runtime()
                                .segment_lists(#index, #krate::EvaluationContext::key(context))
                    )
                }
            }
            Test::Attribute {
                attribute,
                op: Op::Exists,
                ..
            } => {
                let read = self.attribute_of(attribute);
                quote!(Some(#read.is_some()))
            }
            Test::Attribute {
                attribute,
                op,
                ignore_case,
                operand,
            } => {
                let read = self.attribute_of(attribute);
                let op = op_tokens(*op);
                let compare = match operand {
                    Operand::None => return Err(Unsupported),
                    Operand::Strings(strings) => {
                        quote!(native::strings(value, #op, #ignore_case, &[#(#strings),*]))
                    }
                    Operand::Numbers(numbers) => {
                        let numbers = numbers.iter().map(|n| Literal::f64_suffixed(*n));
                        quote!(native::numbers(value, #op, &[#(#numbers),*]))
                    }
                    Operand::Bool(expected) => quote!(native::boolean(value, #op, #expected)),
                    Operand::Time(at) => {
                        let at = timestamp(at);
                        quote!(native::time(value, #op, #at))
                    }
                    Operand::Regex(_) | Operand::Semver(_) => return Err(Unsupported),
                };
                quote!(#read.and_then(|value| #compare))
            }
        };
        Ok(quote!(native::outcome(#test, #negate)))
    }
}

impl Generator<'_> {
    /// Reading attribute `name` of the context, by its id.
    fn attribute_of(&self, name: &str) -> TokenStream {
        let krate = &self.args.krate;
        quote! {{
            const ID: native::AttributeId<'static> = native::AttributeId::new(#name);
            #krate::EvaluationContext::attribute_by_id(context, ID)
        }}
    }
}

fn op_tokens(op: Op) -> TokenStream {
    let variant = format_ident!("{op:?}");
    quote!(native::Op::#variant)
}

fn timestamp(at: &flags_model::Timestamp) -> TokenStream {
    let (seconds, nanos) = (at.seconds, at.nanos);
    quote!(native::Timestamp { seconds: #seconds, nanos: #nanos })
}

/// A value as the compiled function returns it: a bool, an `i64`, a variant's index.
fn value(value: &Value) -> TokenStream {
    match value {
        Value::Bool(b) => quote!(#b),
        Value::Int(i) => {
            let literal = Literal::i64_suffixed(*i);
            quote!(#literal)
        }
        Value::Variant { index, .. } => {
            let literal = Literal::u32_suffixed(*index);
            quote!(#literal)
        }
        Value::Float(f) => {
            let literal = Literal::f64_suffixed(*f);
            quote!(#literal)
        }
        Value::String(text) => {
            let text: &str = text;
            quote!(#text)
        }
    }
}

/// The attributes `flag` reads in any environment, with where: its rules' conditions, the
/// rules of the segments they test, its rollouts' `bucket_by`, and those of the flags it
/// requires, in file order and each once.
pub(super) fn attributes_read(catalog: &Catalog, flag: &Flag, file: &str) -> Vec<(String, String)> {
    let mut read: Vec<(String, String)> = Vec::new();
    let mut visited = vec![false; catalog.flags().len()];
    collect(catalog, flag, file, &mut read, &mut visited);
    read
}

fn collect(
    catalog: &Catalog,
    flag: &Flag,
    file: &str,
    read: &mut Vec<(String, String)>,
    visited: &mut [bool],
) {
    let mut add = |name: &str, line: usize| {
        if !read.iter().any(|(seen, _)| seen == name) {
            read.push((name.to_owned(), format!("{file}:{line}")));
        }
    };
    for environment in 0..catalog.environments().names().len() {
        let Some(Setting::Targeted(targeting)) = flag.environment_setting(environment) else {
            continue;
        };
        for rule in &targeting.rules {
            conditions_read(catalog, &rule.conditions, rule.line, &mut add);
            if let Some(rollout) = rule.serve.rollout() {
                if let Some(attribute) = &rollout.bucket_by {
                    add(attribute, rule.line);
                }
            }
        }
        if let Some(attribute) = targeting
            .fallthrough
            .rollout()
            .and_then(|r| r.bucket_by.as_ref())
        {
            add(attribute, targeting.line);
        }
    }
    for requirement in flag.requires() {
        if let Some(required) = catalog.flags().get(requirement.flag) {
            if !std::mem::replace(&mut visited[requirement.flag], true) {
                collect(catalog, required, file, read, visited);
            }
        }
    }
}

fn conditions_read(
    catalog: &Catalog,
    conditions: &[Condition],
    line: usize,
    add: &mut impl FnMut(&str, usize),
) {
    for condition in conditions {
        match &condition.test {
            Test::Attribute { attribute, .. } => add(attribute, line),
            Test::Segment { index, .. } => {
                if let Some(segment) = catalog.segments().get(*index) {
                    for rule in &segment.rules {
                        conditions_read(catalog, rule, line, add);
                    }
                }
            }
            Test::Now { .. } => {}
        }
    }
}
