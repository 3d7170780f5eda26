//! Overrides files: the model's `parse_overrides` against the fixed catalog, and a runtime
//! that reloads the file and evaluates every flag.
//!
//! Checks: no panic in the model, the reload or any evaluation; spans and rendered
//! diagnostics located within the input; every problem of the report names its source (the
//! file's path for the file's problems) and locates itself within the input; when the
//! report says the file was rejected, every flag has, for every context, the value it had
//! with the last accepted file; the runtime rejects the file exactly when the model does (or
//! when it is not UTF-8).

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use flags_model::{Catalog, SourceFile, Value, parse_overrides};
use flags_runtime::{AnyContext, Context, Report, Runtime, Vars};

use crate::guard::{Passed, Violation, catch};
use crate::locate::{check_all, check_rendered, check_span};

/// The name the model's diagnostics give the file.
const NAME: &str = "flags.overrides.toml";

/// What the runtime's report says of a file it rejected (its last good values stay).
const REJECTED: &str = "last good values stay in force";

/// The file the runtime is reset to before each input: valid, and setting something for
/// every kind of flag, so that a rejected input has values to keep.
const BASELINE: &str = "[flags.new_checkout_enabled]\nvalue = true\n\n\
[flags.checkout_flow]\nproduction = \"express\"\n\n\
[flags.max_upload_mb]\nvalue = 77\n\n\
[[flags.support_banner.value.rules]]\nwhen = [{ segment = \"beta\" }]\nserve = \"beta\"\n\n\
[segments.beta]\nkeys = [\"u-9\"]\n";

/// The environment variables the runtime sees: the environment and the file's path.
struct FuzzVars {
    environment: Mutex<String>,
    overrides: String,
}

impl Vars for FuzzVars {
    fn get(&self, name: &str) -> Option<Result<String, String>> {
        match name {
            "APP_ENV" => Some(Ok(crate::run::lock(&self.environment).clone())),
            "FLAGS_OVERRIDES" => Some(Ok(self.overrides.clone())),
            _ => None,
        }
    }

    fn names_with_prefix(&self, _prefix: &str) -> Vec<String> {
        Vec::new()
    }
}

/// One runtime for the process (a loaded runtime is leaked), its file, and the values each
/// environment has with [`BASELINE`].
struct Harness {
    runtime: &'static Runtime,
    vars: &'static FuzzVars,
    path: PathBuf,
    /// Kept so that the directory lives as long as the process.
    _dir: tempfile::TempDir,
    environment: usize,
    baselines: Vec<Option<Vec<Value>>>,
    contexts: Vec<Context>,
}

fn harness() -> &'static Mutex<Harness> {
    static HARNESS: OnceLock<Mutex<Harness>> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let dir = crate::corpus::scratch_dir();
        let path = dir.path().join(NAME);
        std::fs::write(&path, BASELINE).expect("write the overrides file");
        let vars: &'static FuzzVars = Box::leak(Box::new(FuzzVars {
            environment: Mutex::new("development".to_owned()),
            overrides: path.display().to_string(),
        }));
        let runtime = Runtime::load("catalog.toml", &crate::corpus::catalog_text(), vars)
            .expect("seeds/catalog.toml is valid");
        runtime.init().expect("the runtime starts");
        let environments = runtime.catalog().environments().names().len();
        Mutex::new(Harness {
            runtime,
            vars,
            path,
            _dir: dir,
            environment: 0,
            baselines: vec![None; environments],
            contexts: contexts(),
        })
    })
}

/// The contexts every flag is evaluated for: members of segments and not, every attribute
/// the catalog's rules read, of the right kind and of the wrong one, and no key at all.
pub(crate) fn contexts() -> Vec<Context> {
    let version = |text: &str| semver::Version::parse(text).expect("a valid version");
    let day = |seconds: u64| std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds);
    vec![
        Context::anonymous(),
        Context::new("u-1"),
        Context::new("u-9")
            .with("email", "Ada@Example.com")
            .with("plan", "pro")
            .with("seats", 12)
            .with("org", "acme")
            .with("version", version("2.3.0"))
            .with("country", "DE")
            .with("tags", ["comments", "sso"])
            .with("signed_up", day(1_700_000_000)),
        Context::new(42)
            .with("email", "bob@test.com")
            .with("plan", "free")
            .with("beta", true)
            .with("seats", f64::NAN)
            .with("version", version("1.0.0-alpha"))
            .with("trial", true)
            .with("signed_up", day(1_900_000_000)),
        Context::new("")
            .with("email", 7)
            .with("plan", true)
            .with("seats", "many")
            .with("version", "2.3")
            .with("tags", "comments")
            .with("org", ""),
    ]
}

impl Harness {
    /// Every flag's value for every context.
    fn values(&self) -> Vec<Value> {
        let catalog = self.runtime.catalog();
        let mut values = Vec::new();
        for flag in catalog.flags() {
            for context in &self.contexts {
                let info = self
                    .runtime
                    .explain(flag.key(), Some(context as &dyn AnyContext));
                if let Some(info) = info {
                    values.push(info.value().clone());
                }
            }
            // The accessor name finds the flag too, and the trace evaluates every rule.
            let _ = self.runtime.explain(flag.accessor(), None);
            let _ = self
                .runtime
                .trace(flag.key(), Some(&self.contexts[2] as &dyn AnyContext));
        }
        values
    }

    /// Puts the runtime in `environment` with the baseline file; returns the values then.
    fn reset(&mut self, environment: usize) -> Result<Vec<Value>, Violation> {
        std::fs::write(&self.path, BASELINE).expect("write the overrides file");
        if environment != self.environment {
            let name = self.runtime.catalog().environments().names()[environment].clone();
            *crate::run::lock(&self.vars.environment) = name;
            self.environment = environment;
            let runtime = self.runtime;
            let report = catch(|| runtime.reload())?;
            expect_clean(&report, "reload with the baseline file")?;
        } else {
            let runtime = self.runtime;
            let report = catch(|| runtime.reload_overrides_file())?;
            expect_clean(&report, "reload of the baseline file")?;
        }
        if let Some(values) = &self.baselines[environment] {
            return Ok(values.clone());
        }
        let values = catch(|| self.values())?;
        self.baselines[environment] = Some(values.clone());
        Ok(values)
    }
}

fn expect_clean(report: &Report, what: &str) -> Result<(), Violation> {
    match report.is_clean() {
        true => Ok(()),
        false => Err(Violation::invariant(format!(
            "the {what} has problems: {report}"
        ))),
    }
}

/// Runs one overrides file through the model and the runtime.
pub fn run(input: &[u8]) -> Result<Passed, Violation> {
    let text = String::from_utf8_lossy(input);
    let utf8 = std::str::from_utf8(input).is_ok();
    let mut harness = crate::run::lock(harness());
    let catalog: &Catalog = harness.runtime.catalog();

    // The model alone.
    let file = SourceFile::new(NAME, text.as_ref());
    let (accepted, diagnostics, rendered) = catch(|| match parse_overrides(catalog, &file) {
        // Tables for undeclared flags or segments are skipped, and reported as diagnostics.
        Ok(overrides) => {
            let skipped = overrides.skipped().to_vec();
            let rendered: Vec<String> = skipped.iter().map(|d| d.render(&file)).collect();
            (true, skipped, rendered)
        }
        Err(diagnostics) => {
            let rendered: Vec<String> = diagnostics.iter().map(|d| d.render(&file)).collect();
            (false, diagnostics, rendered)
        }
    })?;
    for diagnostic in &diagnostics {
        check_span(diagnostic, file.text())?;
    }
    for one in &rendered {
        check_rendered(one, &file)?;
    }
    let model_output: usize = rendered.iter().map(String::len).sum();

    // The runtime: from the baseline, in an environment the input picks, to the input.
    let environments = harness.baselines.len();
    let environment = (crate::corpus::hash(input) % environments as u64) as usize;
    let before = harness.reset(environment)?;
    std::fs::write(&harness.path, input).expect("write the overrides file");
    let runtime = harness.runtime;
    let report = catch(|| runtime.reload_overrides_file())?;
    let path = harness.path.display().to_string();
    let mut rejected = false;
    // The report holds the same diagnostics again: the bound is on each of the two.
    let runtime_output: usize = report.problems().iter().map(|p| p.message().len()).sum();
    let output = model_output.max(runtime_output);
    for problem in report.problems() {
        if problem.source().trim().is_empty() {
            return Err(Violation::invariant(format!(
                "a problem names no source: {problem}"
            )));
        }
        if problem.source().starts_with("overrides file") {
            if !problem.source().contains(&path) {
                return Err(Violation::invariant(format!(
                    "a problem of the overrides file does not name its path: {problem}"
                )));
            }
            rejected |= problem.message().contains(REJECTED);
            check_all(problem.message(), &[(path.as_str(), text.as_ref())], true)?;
        }
    }
    let after = catch(|| harness.values())?;
    if rejected {
        if let Some(at) = (0..before.len()).find(|&i| before.get(i) != after.get(i)) {
            let flags = catalog.flags();
            let per_flag = harness.contexts.len();
            let flag = flags.get(at / per_flag).map_or("?", |f| f.key());
            return Err(Violation::invariant(format!(
                "the file was rejected, yet flag `{flag}` (context {}) changed from {:?} to {:?}",
                at % per_flag,
                before.get(at),
                after.get(at)
            )));
        }
    }
    if utf8 && accepted && rejected {
        return Err(Violation::invariant(format!(
            "the runtime rejected a file the model accepts: {report}"
        )));
    }
    if !utf8 && !rejected {
        return Err(Violation::invariant(format!(
            "the runtime applied a file that is not UTF-8: {report}"
        )));
    }
    super::check_output(input.len(), output)?;
    Ok(Passed {
        valid: accepted && utf8,
        output,
    })
}
