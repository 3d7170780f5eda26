// Shared by several test binaries, each of which uses only part of it.
#![allow(dead_code)]

//! A runtime built from flags.toml text at run time, with its own environment variables,
//! the way generated code builds one at compile time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use flags_model::Value;
use flags_runtime::{AnyContext, Evaluation, Runtime, StubGuard, Vars};

#[derive(Default)]
pub struct MapVars(Mutex<HashMap<String, String>>);

impl MapVars {
    pub fn set(&self, name: &str, value: &str) {
        self.0
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
    }
    pub fn remove(&self, name: &str) {
        self.0.lock().unwrap().remove(name);
    }
}

impl Vars for MapVars {
    fn get(&self, name: &str) -> Option<Result<String, String>> {
        self.0.lock().unwrap().get(name).cloned().map(Ok)
    }
    fn names_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect()
    }
}

/// The typed reads generated code makes, through the runtime's out-of-line path. (Generated
/// code puts a one-load check in front of it, which needs a `static` registry given its own
/// address; a registry built at run time on the heap cannot have that.)
pub struct TestRegistry {
    runtime: &'static Runtime,
}

impl TestRegistry {
    pub fn runtime(&self) -> &'static Runtime {
        self.runtime
    }
    pub fn bool(&self, index: usize) -> bool {
        self.runtime.read_bool(index)
    }
    pub fn int(&self, index: usize) -> i64 {
        self.runtime.read_int(index)
    }
    pub fn variant(&self, index: usize) -> u32 {
        self.runtime.read_variant(index)
    }
    pub fn float(&self, index: usize) -> f64 {
        self.runtime.read_float(index)
    }
    pub fn string(&self, index: usize) -> Arc<str> {
        self.runtime.read_string(index)
    }
    pub fn stub(&self, index: usize, value: Value) -> StubGuard {
        self.runtime.stub(index, value)
    }
    pub fn bool_for(&self, index: usize, context: &dyn AnyContext) -> bool {
        self.runtime.read_for(index, context)
    }
    pub fn evaluate(&self, index: usize, context: &dyn AnyContext) -> Evaluation<Value> {
        self.runtime.snapshot().evaluate(index, Some(context))
    }
}

/// A runtime for the `N` flags declared in `toml`, reading variables from the returned map.
pub fn build<const N: usize>(
    toml: &str,
    vars: &[(&str, &str)],
) -> (&'static TestRegistry, &'static MapVars) {
    let map: &'static MapVars = Box::leak(Box::default());
    for (name, value) in vars {
        map.set(name, value);
    }
    let runtime = Runtime::load("flags.toml", toml, map).expect("valid test flags.toml");
    assert_eq!(runtime.catalog().flags().len(), N);
    (Box::leak(Box::new(TestRegistry { runtime })), map)
}

pub const FLAGS: &str = r#"
[environments]
names = ["development", "staging", "production"]
default = "development"

[flags.beta_enabled]
description = "Beta"
default = false
development = true

[flags.checkout_flow]
description = "Checkout"
variants = ["legacy", "one_page", "express"]
default = "legacy"
staging = "one_page"

[flags.max_upload_mb]
description = "Upload limit"
default = 10
production = 50

[flags.sample_rate]
description = "Sampling"
default = 0.25

[flags.banner]
description = "Banner"
default = "hello"

[flags.huge_limit]
description = "Does not fit in a word"
default = 9007199254740993
"#;

pub const BETA: usize = 0;
pub const FLOW: usize = 1;
pub const UPLOAD: usize = 2;
pub const RATE: usize = 3;
pub const BANNER: usize = 4;
pub const HUGE: usize = 5;
