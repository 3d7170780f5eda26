//! A bounded, fixed-seed run of each in-process kind: the same inputs every time, no panic,
//! crash or violation allowed. Slow and oversized inputs (known problems) are printed, not
//! failed. Sized to stay well under a minute in a debug build on two cores.

use flags_fuzz::run::{Limits, run_in_process};
use flags_fuzz::{Kind, Mutator, Targets};

const SEED: u64 = 20_290_228;

fn bounded(kind: Kind, inputs: u64) {
    // Prerequisite ladders stay short: their cost is exponential while that problem stands.
    let mutator = Mutator::for_kind(kind).max_ladder(12);
    let limits = Limits {
        slow: std::time::Duration::from_secs(5),
        strict: false,
    };
    let stats = run_in_process(&Targets::in_process(), &mutator, SEED, 0..inputs, &limits);
    eprintln!("{}", stats.summary());
    let failures: Vec<String> = stats
        .findings()
        .filter(|f| !f.violation.class.is_known_problem())
        .map(|f| format!("#{} ({} bytes): {}", f.index, f.len, f.violation))
        .collect();
    assert!(
        failures.is_empty(),
        "{} failing inputs of seed {SEED}; replay one with its number:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert_eq!(stats.inputs, inputs);
    assert!(
        stats.valid > 0 && stats.valid < inputs,
        "{}",
        stats.summary()
    );
}

#[test]
fn flags_toml() {
    bounded(Kind::FlagsToml, 1_500);
}

#[test]
fn overrides() {
    bounded(Kind::Overrides, 3_000);
}

#[test]
fn redis_entry() {
    bounded(Kind::RedisEntry, 4_000);
}

#[test]
fn env_vars() {
    bounded(Kind::EnvVars, 3_000);
}
