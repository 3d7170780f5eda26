//! The rewrite of `flags remove` on damaged sources: the files of the remove fixture and of
//! the `task_comments` example, with a line deleted, doubled or cut short and with single
//! characters deleted, for each flag kept at each value. Whatever parses is rewritten (and
//! tidied, as `flags remove` does) without a panic, to text that still parses.

use std::collections::BTreeSet;
use std::path::Path;

use flags_model::{FlagType, SourceFile, Value};

use crate::rewrite::{Kept, Retired, rewrite};
use crate::rewrite_text::parsed_start;

/// The sources, by name.
fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = [
        "tests/fixtures/remove/src/lib.rs",
        "tests/fixtures/remove/src/web.rs",
        "tests/fixtures/remove/tests/checkout.rs",
        "../examples/task_comments/src/lib.rs",
    ];
    files
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(root.join(file))
                .unwrap_or_else(|error| panic!("{file}: {error}"));
            ((*file).to_owned(), text)
        })
        .collect()
}

/// Each source damaged in a few ways: one line in 23 deleted, doubled, or where the file is
/// cut short, and one character in 997 deleted (a rewrite takes some 50 ms in a debug build).
fn mutations(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = Vec::new();
    for at in (0..lines.len()).step_by(23) {
        let without: String = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != at)
            .map(|(_, l)| *l)
            .collect();
        out.push(without);
        let doubled: String = lines[..=at].concat() + &lines[at..].concat();
        out.push(doubled);
        out.push(lines[..at].concat());
    }
    for (at, _) in text.char_indices().step_by(997) {
        let mut cut = text.to_owned();
        cut.remove(at);
        out.push(cut);
    }
    out
}

/// The flags of the remove fixture, each kept at each of its values.
fn retirements() -> Vec<Retired> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("tests/fixtures/remove/flags.toml"))
        .expect("the fixture's flags.toml");
    let catalog = flags_model::parse(&SourceFile::new("flags.toml", text)).catalog;
    let mut retired = Vec::new();
    for flag in catalog.flags() {
        let values: Vec<Value> = match flag.flag_type().variants() {
            Some(variants) => variants
                .iter()
                .enumerate()
                .map(|(index, v)| Value::Variant {
                    index: index as u32,
                    name: v.name().into(),
                })
                .collect(),
            None => match flag.flag_type() {
                FlagType::Bool => vec![Value::Bool(false), Value::Bool(true)],
                FlagType::Int => vec![flag.default().clone(), Value::Int(25)],
                _ => vec![flag.default().clone()],
            },
        };
        for value in values {
            retired.push(Retired {
                key: flag.key().to_owned(),
                accessor: flag.accessor().to_owned(),
                marker: crate::scan::marker_name(flag),
                enum_name: flag.type_name().map(str::to_owned),
                variants: flag
                    .flag_type()
                    .variants()
                    .map(|v| v.iter().map(|v| v.ident().to_owned()).collect())
                    .unwrap_or_default(),
                kept: Kept::new(flag, &value),
                types: BTreeSet::from(["Flags".to_owned()]),
                handlers: BTreeSet::from(["express".to_owned()]),
            });
        }
    }
    retired
}

#[test]
fn damaged_sources_are_rewritten_without_a_panic_into_code_that_parses() {
    let retired = retirements();
    assert!(retired.len() >= 4, "each flag at each value");
    let (mut rewritten, mut broken) = (0, Vec::new());
    let started = std::time::Instant::now();
    for (name, text) in sources() {
        for damaged in mutations(&text) {
            let base = parsed_start(&damaged);
            let Ok(file) = syn::parse_file(&damaged[base..]) else {
                continue;
            };
            for flag in &retired {
                let result = std::panic::catch_unwind(|| {
                    let mut texts = vec![rewrite(&damaged, base, &file, flag).text];
                    crate::rewrite_cleanup::tidy(&[damaged.as_str()], &mut texts);
                    texts.pop().unwrap_or_default()
                });
                let new = result.unwrap_or_else(|_| {
                    panic!(
                        "{name} kept {:?}: the rewrite panicked on\n{damaged}",
                        flag.kept
                    )
                });
                rewritten += 1;
                if syn::parse_file(&new[parsed_start(&new)..]).is_err() {
                    broken.push(format!(
                        "{name} kept {:?}:\n{damaged}\n---\n{new}",
                        flag.kept
                    ));
                }
            }
        }
    }
    eprintln!("{rewritten} rewrites in {:?}", started.elapsed());
    assert!(rewritten > 200, "{rewritten} rewrites");
    assert!(
        broken.is_empty(),
        "{} rewrites that no longer parse; the first:\n{}",
        broken.len(),
        broken[0]
    );
}
