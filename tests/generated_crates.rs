//! Crates with a 10- and a 1,000-flag `flags.toml`, generated, built by cargo as a user's
//! would be, and run. How long they take to build is measured by
//! `cargo bench -p flags-benches --bench build` (BENCHMARKS.md), not asserted here: a test must
//! not depend on an idle machine.
//!
//! Also checks that `benches/large.toml` (used by `benches/reload.rs`) is what the generator
//! makes; `FLAGS_REGENERATE=1 cargo test --test generated_crates` rewrites it.

#[path = "../benches/support/crates.rs"]
mod crates;
#[path = "../benches/support/generate.rs"]
mod generate;

use std::path::Path;

#[test]
fn the_large_benchmark_file_is_generated() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/large.toml");
    let expected = generate::flags_toml(1_000);
    if std::env::var_os("FLAGS_REGENERATE").is_some() {
        std::fs::write(&path, &expected).expect("write benches/large.toml");
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "benches/large.toml is not what benches/support/generate.rs makes; \
         run `FLAGS_REGENERATE=1 cargo test --test generated_crates` to rewrite it"
    );
}

#[test]
fn crates_of_ten_and_a_thousand_flags_build_and_run() {
    for count in [10, 1_000] {
        let directory = crates::generated_crate(count);
        crates::cargo_build(&directory);
        // Production (the generated default): no targeting applies without a context, the
        // integer has its production value, the variant its default.
        assert_eq!(crates::run(&directory, count), "false 25 Basic");
    }
}

#[test]
fn flags_declared_in_a_crate_of_their_own_reach_the_crate_that_uses_them() {
    let directory = crates::split_workspace(1_000);
    crates::cargo_build(&directory);
    // The gate follows the flag, in both of `each`'s values; the stub holds in `main`.
    assert_eq!(
        crates::run_binary(&directory, "app1000"),
        "false 7 Basic [true, true]"
    );
}
