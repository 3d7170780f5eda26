//! How long `declare!` takes to expand a 1,000-flag `flags.toml` (budget: 100 ms), against
//! a 10-flag one. Measured on this crate as the compiler runs it: proc macros are built
//! without optimisation in the dev profile, as this test is.

#[path = "../../benches/support/generate.rs"]
mod generate;

use std::time::{Duration, Instant};

use quote::quote;

/// The fastest of a few expansions of a fresh file (the macro caches parses by text, so each
/// run gets its own file contents: a comment naming the run).
fn expansion_time(count: usize) -> (Duration, usize) {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let mut fastest = Duration::MAX;
    let mut tokens = 0;
    for run in 0..5 {
        let path = directory.path().join(format!("flags-{count}-{run}.toml"));
        let text = format!("# run {run}\n{}", generate::flags_toml(count));
        std::fs::write(&path, text).expect("write the generated file");
        let literal = path.to_str().expect("a UTF-8 temporary path");
        let started = Instant::now();
        let expanded = flags_codegen::declare(quote!(#literal));
        fastest = fastest.min(started.elapsed());
        let text = expanded.to_string();
        assert!(
            !text.contains("compile_error"),
            "the generated file is valid: {}",
            &text[..text.len().min(2_000)]
        );
        tokens = text.len();
    }
    (fastest, tokens)
}

/// The budget: 100 ms with the macro compiled optimised (`cargo test --release`, or a user's
/// `[profile.dev.build-override] opt-level = 3`). Built without optimisation, as cargo builds
/// proc macros by default, parsing and generating run about five times slower: there the
/// test guards against regressions only (see BENCHMARKS.md).
const BUDGET: Duration = if cfg!(debug_assertions) {
    Duration::from_millis(400)
} else {
    Duration::from_millis(100)
};

#[test]
fn a_thousand_flags_expand_within_budget() {
    let text = generate::flags_toml(1_000);
    let started = Instant::now();
    let parsed = flags_model::parse(&flags_model::SourceFile::new("large.toml", text));
    let parse = started.elapsed();
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let (small, small_size) = expansion_time(10);
    let (large, large_size) = expansion_time(1_000);
    println!(
        "declare! expansion ({} build): 10 flags {small:?} ({small_size} bytes of code), \
         1,000 flags {large:?} ({large_size} bytes of code), of which parsing {parse:?}",
        if cfg!(debug_assertions) {
            "unoptimised"
        } else {
            "optimised"
        }
    );
    assert!(
        large < BUDGET,
        "1,000 flags took {large:?} to expand; the budget is {BUDGET:?}"
    );
}
