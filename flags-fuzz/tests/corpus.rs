//! Every input that ever failed, replayed through its target: each must now pass, output
//! bounds included (among them the prerequisite ladders that were exponential and the inputs
//! whose messages were unbounded). The CLI's corpus is replayed by flags-cli/tests/fuzz.rs,
//! which has the binary.

use flags_fuzz::{Kind, Targets, corpus};

/// Replays `corpus/<kind>/`; returns how many files it holds.
fn replay(kind: Kind) -> usize {
    let targets = Targets::in_process();
    let files = corpus::corpus(kind).expect("the corpus directory is readable");
    let mut failures = Vec::new();
    for (path, input) in &files {
        if let Err(violation) = targets.run(kind, input) {
            failures.push(format!("{}: {violation}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    files.len()
}

#[test]
fn flags_toml_corpus_passes() {
    assert!(
        replay(Kind::FlagsToml) > 0,
        "the corpus has the known inputs"
    );
}

#[test]
fn overrides_corpus_passes() {
    assert!(
        replay(Kind::Overrides) > 0,
        "the corpus has the known inputs"
    );
}

#[test]
fn redis_entry_corpus_passes() {
    assert!(
        replay(Kind::RedisEntry) > 0,
        "the corpus has the known inputs"
    );
}

#[test]
fn the_catalog_is_valid_and_every_seed_passes() {
    let catalog = flags_model::SourceFile::new("catalog.toml", corpus::catalog_text());
    let diagnostics = flags_model::parse(&catalog).diagnostics;
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let targets = Targets::in_process();
    for kind in Kind::IN_PROCESS {
        let seeds = corpus::seeds(kind);
        assert!(!seeds.is_empty(), "{kind} has seeds");
        let valid = seeds
            .iter()
            .map(|seed| targets.run(kind, seed).expect("a seed passes"))
            .filter(|passed| passed.valid)
            .count();
        assert!(valid > 0, "some seeds of {kind} are valid");
    }
}
