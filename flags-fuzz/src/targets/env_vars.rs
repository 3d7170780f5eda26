//! Environment variables: a runtime of the fixed catalog reloading with the input's
//! variables, then evaluating every flag.
//!
//! An input is one variable per line, `NAME=VALUE` (a line without `=` sets `NAME` to the
//! empty string; a later line for the same name wins; a value that is not UTF-8 reaches the
//! runtime as such). The variables naming the overrides file and the Redis URL are left out,
//! so that an input reads no file and opens no connection. Checks: no panic in the reload or
//! any evaluation; every problem names its source, and one about a flag is the flag's own
//! variable; a flag whose variable is rejected, or not set, has the values it has without
//! the flags' variables; a flag whose variable is accepted has that value for every context.

use std::sync::{Mutex, OnceLock};

use flags_model::{Catalog, Flag, Value};
use flags_runtime::{AnyContext, Context, Runtime, Vars};

use crate::guard::{Passed, Violation, catch};
use crate::run::lock;

/// A variable as the runtime reads it: its value, or its lossy decoding when not UTF-8.
type Variable = (String, Result<String, String>);

/// The variables of the input being run.
#[derive(Default)]
struct InputVars(Mutex<Vec<Variable>>);

impl Vars for InputVars {
    fn get(&self, name: &str) -> Option<Result<String, String>> {
        lock(&self.0)
            .iter()
            .rev()
            .find(|(set, _)| set == name)
            .map(|(_, value)| value.clone())
    }

    fn names_with_prefix(&self, prefix: &str) -> Vec<String> {
        let mut names: Vec<String> = lock(&self.0)
            .iter()
            .map(|(name, _)| name.clone())
            .filter(|name| name.starts_with(prefix))
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// One runtime for the process (a loaded runtime is leaked) and its variables.
struct Harness {
    runtime: &'static Runtime,
    vars: &'static InputVars,
    contexts: Vec<Context>,
}

fn harness() -> &'static Mutex<Harness> {
    static HARNESS: OnceLock<Mutex<Harness>> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let vars: &'static InputVars = Box::leak(Box::default());
        let runtime = Runtime::load("catalog.toml", &crate::corpus::catalog_text(), vars)
            .expect("seeds/catalog.toml is valid");
        Mutex::new(Harness {
            runtime,
            vars,
            contexts: super::overrides::contexts(),
        })
    })
}

/// The input's variables, in order.
pub fn variables(input: &[u8]) -> Vec<Variable> {
    input
        .split(|&byte| byte == b'\n')
        .filter_map(|line| {
            let (name, value) = match line.iter().position(|&byte| byte == b'=') {
                Some(at) => (&line[..at], &line[at + 1..]),
                None => (line, &[][..]),
            };
            if name.is_empty() {
                return None;
            }
            let value = match std::str::from_utf8(value) {
                Ok(text) => Ok(text.to_owned()),
                Err(_) => Err(String::from_utf8_lossy(value).into_owned()),
            };
            Some((String::from_utf8_lossy(name).into_owned(), value))
        })
        .collect()
}

/// Each flag's value for each context, as text (a float's NaN equals itself then).
fn values(runtime: &'static Runtime, contexts: &[Context]) -> Vec<Vec<String>> {
    let catalog = runtime.catalog();
    catalog
        .flags()
        .iter()
        .map(|flag| {
            let mut values: Vec<String> = contexts
                .iter()
                .map(|context| {
                    runtime
                        .explain(flag.key(), Some(context as &dyn AnyContext))
                        .map_or_else(|| "no value".to_owned(), |info| shown(info.value()))
                })
                .collect();
            let _ = runtime.trace(flag.key(), Some(&contexts[2] as &dyn AnyContext));
            values.push(
                runtime
                    .explain(flag.key(), None)
                    .map_or_else(|| "no value".to_owned(), |info| shown(info.value())),
            );
            values
        })
        .collect()
}

fn shown(value: &Value) -> String {
    format!("{value:?}")
}

/// Runs one set of variables through a reload of the runtime.
pub fn run(input: &[u8]) -> Result<Passed, Violation> {
    let harness = lock(harness());
    let runtime = harness.runtime;
    let catalog: &Catalog = runtime.catalog();
    let left_out = [
        catalog.overrides().file_variable(),
        flags_model::REDIS_URL_VARIABLE,
    ];
    let variables: Vec<Variable> = variables(input)
        .into_iter()
        .filter(|(name, _)| !left_out.contains(&name.as_str()))
        .collect();

    // The values to keep: those of the input's environment without the flags' variables.
    let environment_variable = catalog.environments().variable();
    *lock(&harness.vars.0) = variables
        .iter()
        .filter(|(name, _)| name == environment_variable)
        .cloned()
        .collect();
    catch(|| runtime.reload())?;
    let before = catch(|| values(runtime, &harness.contexts))?;

    *lock(&harness.vars.0) = variables.clone();
    let report = catch(|| runtime.reload())?;
    let after = catch(|| values(runtime, &harness.contexts))?;

    let mut rejected = vec![false; catalog.flags().len()];
    let mut output = 0;
    for problem in report.problems() {
        output += problem.message().len();
        if problem.source().trim().is_empty() {
            return Err(Violation::invariant(format!(
                "a problem names no source: {problem}"
            )));
        }
        let Some(key) = problem.flag() else { continue };
        let Some((index, flag)) = catalog.find(key) else {
            return Err(Violation::invariant(format!(
                "a problem names a flag the catalog does not declare: {problem}"
            )));
        };
        let variable = catalog.env_var(flag);
        if problem.source() != format!("environment variable {variable}") {
            return Err(Violation::invariant(format!(
                "a problem of flag `{key}` does not name its variable {variable}: {problem}"
            )));
        }
        rejected[index] = true;
    }
    let set: Vec<Option<&Result<String, String>>> = catalog
        .flags()
        .iter()
        .map(|flag| {
            let variable = catalog.env_var(flag);
            variables
                .iter()
                .rev()
                .find(|(name, _)| *name == variable)
                .map(|(_, value)| value)
        })
        .collect();
    let applied: Vec<bool> = (0..set.len())
        .map(|index| matches!(set[index], Some(Ok(_))) && !rejected[index])
        .collect();
    let mut valid = report.problems().is_empty();
    for (index, flag) in catalog.flags().iter().enumerate() {
        let variable = catalog.env_var(flag);
        match set[index] {
            Some(Ok(text)) if applied[index] => {
                check_applied(flag, text, &after[index])?;
                valid = true;
            }
            // A prerequisite's variable changes the flags that require it.
            _ if requires_any(catalog, flag, &applied) => {}
            set => {
                if before[index] != after[index] {
                    return Err(Violation::invariant(format!(
                        "flag `{}` changed from {:?} to {:?}, though its variable {variable} {}",
                        flag.key(),
                        before[index],
                        after[index],
                        if set.is_some() {
                            "was rejected"
                        } else {
                            "is not set"
                        }
                    )));
                }
            }
        }
    }
    super::check_output(input.len(), output)?;
    Ok(Passed { valid, output })
}

/// Whether `flag` requires, directly or through others, a flag marked in `marked`.
fn requires_any(catalog: &Catalog, flag: &Flag, marked: &[bool]) -> bool {
    flag.requires().iter().any(|requirement| {
        marked.get(requirement.flag).copied().unwrap_or(false)
            || catalog
                .flags()
                .get(requirement.flag)
                .is_some_and(|required| requires_any(catalog, required, marked))
    })
}

/// An accepted variable overrides its flag for everyone, with the value its text has as the
/// flag's type.
fn check_applied(flag: &Flag, text: &str, values: &[String]) -> Result<(), Violation> {
    let expected = match flag.flag_type().parse_text(text) {
        Ok(value) => shown(&value),
        Err(error) => {
            return Err(Violation::invariant(format!(
                "flag `{}` took the value {text:?}, which its type rejects: {error}",
                flag.key()
            )));
        }
    };
    match values.iter().find(|value| **value != expected) {
        Some(value) => Err(Violation::invariant(format!(
            "flag `{}` is {value} for some context, not {expected} as its variable says",
            flag.key()
        ))),
        None => Ok(()),
    }
}
