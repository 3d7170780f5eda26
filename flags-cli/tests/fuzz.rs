//! The fuzzer's targets of the built binary, the CLI's and the scanner's: a bounded
//! fixed-seed run of mutated inputs of each, and every input of theirs that ever failed
//! (flags-fuzz/corpus/cli/ and corpus/rust_source/). See docs/fuzzing.md.

use flags_fuzz::run::{Limits, run_in_process};
use flags_fuzz::{Kind, Mutator, Targets, corpus};

fn targets() -> Targets {
    Targets::with_flags_bin(env!("CARGO_BIN_EXE_flags"))
}

/// A bounded, fixed-seed run of `inputs` inputs of `kind`: no panic, crash or violation.
fn bounded(kind: Kind, inputs: u64) {
    const SEED: u64 = 20_290_228;
    let mutator = Mutator::for_kind(kind).max_ladder(12);
    let limits = Limits {
        slow: std::time::Duration::from_secs(10),
        strict: false,
    };
    let stats = run_in_process(&targets(), &mutator, SEED, 0..inputs, &limits);
    eprintln!("{}", stats.summary());
    let failures: Vec<String> = stats
        .findings()
        .filter(|f| !f.violation.class.is_known_problem())
        .map(|f| format!("#{} ({} bytes): {}", f.index, f.len, f.violation))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(stats.inputs, inputs);
}

#[test]
fn mutated_inputs_never_panic() {
    bounded(Kind::Cli, 300);
}

#[test]
fn mutated_sources_never_panic_the_scanner_or_the_rewriter() {
    bounded(Kind::Source, 250);
}

/// Replays `corpus/<kind>/`; returns how many files it holds.
fn replay(kind: Kind) -> usize {
    let files = corpus::corpus(kind).expect("the corpus directory is readable");
    let targets = targets();
    let mut failures = Vec::new();
    for (path, input) in &files {
        match targets.run(kind, input) {
            Ok(_) => {}
            Err(violation) if violation.class.is_known_problem() => {
                eprintln!("{}: known problem: {violation}", path.display());
            }
            Err(violation) => failures.push(format!("{}: {violation}", path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    files.len()
}

#[test]
fn the_corpus_passes() {
    assert!(replay(Kind::Cli) > 0, "the corpus has the known inputs");
}

#[test]
fn the_sources_corpus_passes() {
    assert!(
        replay(Kind::Source) > 0,
        "the corpus has the source nested too deep to parse"
    );
}
