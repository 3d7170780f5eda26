//! The fuzzer's CLI target on the built binary: a bounded fixed-seed run of mutated inputs,
//! and every CLI input that ever failed (flags-fuzz/corpus/cli/). See docs/fuzzing.md.

use flags_fuzz::run::{Limits, run_in_process};
use flags_fuzz::{Kind, Mutator, Targets, corpus};

fn targets() -> Targets {
    Targets::with_flags_bin(env!("CARGO_BIN_EXE_flags"))
}

#[test]
fn mutated_inputs_never_panic() {
    const SEED: u64 = 20_290_228;
    const INPUTS: u64 = 300;
    let mutator = Mutator::for_kind(Kind::Cli).max_ladder(12);
    let limits = Limits {
        slow: std::time::Duration::from_secs(10),
        strict: false,
    };
    let stats = run_in_process(&targets(), &mutator, SEED, 0..INPUTS, &limits);
    eprintln!("{}", stats.summary());
    let failures: Vec<String> = stats
        .findings()
        .filter(|f| !f.violation.class.is_known_problem())
        .map(|f| format!("#{} ({} bytes): {}", f.index, f.len, f.violation))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(stats.inputs, INPUTS);
}

#[test]
fn the_corpus_passes() {
    let files = corpus::corpus(Kind::Cli).expect("the corpus directory is readable");
    assert!(!files.is_empty(), "the corpus has the known inputs");
    let targets = targets();
    let mut failures = Vec::new();
    for (path, input) in &files {
        match targets.run(Kind::Cli, input) {
            Ok(_) => {}
            Err(violation) if violation.class.is_known_problem() => {
                eprintln!("{}: known problem: {violation}", path.display());
            }
            Err(violation) => failures.push(format!("{}: {violation}", path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
