//! A runtime of a test's own, over a flags.toml read as text, in one environment: what it
//! sets in one test no other test sees. Shared with flags-axum's OFREP tests (by path).

use flags_runtime::{Runtime, Vars};

/// The environment a test's runtime is in, and no other variable.
struct Environment(&'static str);

impl Vars for Environment {
    fn get(&self, name: &str) -> Option<Result<String, String>> {
        (name == "APP_ENV").then(|| Ok(self.0.to_owned()))
    }

    fn names_with_prefix(&self, _prefix: &str) -> Vec<String> {
        Vec::new()
    }
}

/// A runtime over `flags` (the text of a flags.toml whose variable is `APP_ENV`) in
/// `environment`.
pub fn runtime_in(environment: &'static str, flags: &str) -> &'static Runtime {
    let vars: &'static Environment = Box::leak(Box::new(Environment(environment)));
    Runtime::load("flags.toml", flags, vars).expect("valid flags")
}
