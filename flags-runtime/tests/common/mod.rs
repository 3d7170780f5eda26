//! A registry built from flags.toml text at run time, with its own environment variables,
//! the way generated code builds one at compile time.

use std::collections::HashMap;
use std::sync::Mutex;

use flags_model::{Catalog, SourceFile, Value};
use flags_runtime::__private::{Descriptor, FlagDescriptor, Registry, Slots, StaticValue};
use flags_runtime::Vars;

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

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

/// A registry of `N` flags declared in `toml`, reading variables from the returned map.
pub fn build<const N: usize>(
    toml: &str,
    vars: &[(&str, &str)],
) -> (&'static Registry<N>, &'static MapVars) {
    let catalog =
        Catalog::parse(&SourceFile::new("flags.toml", toml)).expect("valid test flags.toml");
    assert_eq!(catalog.flags().len(), N);
    let flags: Vec<FlagDescriptor> = catalog
        .flags()
        .iter()
        .map(|flag| FlagDescriptor {
            key: leak(flag.key()),
            default: match flag.default() {
                Value::Bool(b) => StaticValue::Bool(*b),
                Value::Int(i) => StaticValue::Int(*i),
                Value::Float(f) => StaticValue::Float(*f),
                Value::String(s) => StaticValue::Str(leak(s)),
                Value::Variant { index, name } => StaticValue::Variant(*index, leak(name)),
            },
        })
        .collect();
    let descriptor = Box::leak(Box::new(Descriptor {
        path: "flags.toml",
        source: leak(toml),
        flags: Box::leak(flags.into_boxed_slice()),
    }));
    let map: &'static MapVars = Box::leak(Box::default());
    for (name, value) in vars {
        map.set(name, value);
    }
    let slots: &'static Slots<N> = Box::leak(Box::new(Slots::new()));
    (
        Box::leak(Box::new(Registry::with_vars(slots, descriptor, map))),
        map,
    )
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
