//! `declare!` on a 1,000-flag `flags.toml`: valid code for every flag, from one parse. How
//! long it takes is measured by `cargo bench -p flags-benches --bench build` (BENCHMARKS.md).

#[path = "../../benches/support/generate.rs"]
mod generate;

use quote::quote;

#[test]
fn a_thousand_flags_expand_to_an_accessor_each() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("flags.toml");
    std::fs::write(&path, generate::flags_toml(1_000)).expect("write the generated file");
    let literal = path.to_str().expect("a UTF-8 temporary path");
    let expanded = flags_codegen::declare(quote!(#literal)).to_string();
    assert!(
        !expanded.contains("compile_error"),
        "the generated file is valid: {}",
        &expanded[..expanded.len().min(2_000)]
    );
    for accessor in [
        "flag_0000_enabled",
        "limit_0005",
        "mode_0008",
        "flag_0990_enabled",
    ] {
        assert!(
            expanded.contains(&format!("fn {accessor} ()")),
            "no accessor `{accessor}`"
        );
    }
}
