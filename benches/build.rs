//! What a large `flags.toml` costs at build time: reading and validating it, expanding
//! `declare!`, and rebuilding a crate that uses it with cargo. Also what a long ladder of
//! prerequisites costs to validate and to evaluate.
//!
//! `cargo bench -p flags-benches --bench build`

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use quote::quote;

#[path = "support/crates.rs"]
mod crates;
#[path = "support/generate.rs"]
mod generate;

fn validation(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate");
    for (name, text) in [
        ("1,000 flags", generate::flags_toml(1_000)),
        ("ladder of 28 prerequisites", generate::ladder_toml(28)),
        ("ladder of 64 prerequisites", generate::ladder_toml(64)),
    ] {
        let file = flags_model::SourceFile::new("flags.toml", text);
        group.bench_function(name, |b| {
            b.iter(|| {
                let parsed = flags_model::parse(black_box(&file));
                assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
            });
        });
    }
    group.finish();
}

fn ladder_evaluation(c: &mut Criterion) {
    let vars: &'static NoVars = &NoVars;
    let runtime = flags::Runtime::load("flags.toml", &generate::ladder_toml(64), vars)
        .expect("a valid ladder");
    let user = flags::Context::new("u-1");
    c.bench_function("evaluate the top of a ladder of 64 prerequisites", |b| {
        b.iter(|| runtime.explain(black_box("rung_0"), Some(&user)));
    });
}

/// No environment variables: the flags' own values.
struct NoVars;

impl flags::Vars for NoVars {
    fn get(&self, _name: &str) -> Option<Result<String, String>> {
        None
    }

    fn names_with_prefix(&self, _prefix: &str) -> Vec<String> {
        Vec::new()
    }
}

fn expansion(c: &mut Criterion) {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let mut group = c.benchmark_group("declare! expansion");
    // The macro keeps parses by text: each expansion gets a file of its own.
    let run = AtomicUsize::new(0);
    for count in [10, 1_000] {
        let text = generate::flags_toml(count);
        group.bench_function(format!("{count} flags"), |b| {
            b.iter_batched(
                || {
                    let run = run.fetch_add(1, Ordering::Relaxed);
                    let path = directory.path().join(format!("flags-{count}-{run}.toml"));
                    std::fs::write(&path, format!("# run {run}\n{text}")).expect("written");
                    path.to_str().expect("a UTF-8 path").to_owned()
                },
                |path| flags_codegen::declare(quote!(#path)),
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

fn rebuild(c: &mut Criterion) {
    let mut group = c.benchmark_group("cargo build after an edit");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(30));
    let small = crates::generated_crate(10);
    let large = crates::generated_crate(1_000);
    let mut run = 0;
    let mut rebuild = |directory: &std::path::Path| {
        run += 1;
        crates::write_main(directory, run);
        crates::cargo_build(directory)
    };
    rebuild(&small);
    rebuild(&large);
    for (name, directory) in [("10", &small), ("1000", &large)] {
        group.bench_function(format!("crate with {name} flags"), |b| {
            b.iter_custom(|builds| (0..builds).map(|_| rebuild(directory)).sum());
        });
    }
    // The layout for a large file: the flags in a library of their own, the edit in the
    // binary that uses them.
    let split = crates::split_workspace(1_000);
    crates::cargo_build(&split);
    let mut split_run = 0;
    group.bench_function("1000 flags declared in a crate of their own", |b| {
        b.iter_custom(|builds| {
            (0..builds)
                .map(|_| {
                    split_run += 1;
                    crates::write_app_main(&split, 1_000, split_run);
                    crates::cargo_build(&split)
                })
                .sum()
        });
    });
    // The budget's figure: each 1,000-flag rebuild right after a 10-flag one, so that both
    // see the machine in the same state (its speed drifts by a fifth over an hour), and the
    // difference of the two summed.
    group.bench_function("1000 flags over 10, interleaved", |b| {
        b.iter_custom(|builds| {
            (0..builds)
                .map(|_| {
                    let small = rebuild(&small);
                    rebuild(&large).saturating_sub(small)
                })
                .sum()
        });
    });
    group.finish();
}

criterion_group!(benches, validation, ladder_evaluation, expansion, rebuild);
criterion_main!(benches);
