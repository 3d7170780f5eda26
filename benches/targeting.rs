//! The cost of targeting, each workload three ways: written by hand, evaluated by the rules
//! `declare!` compiled from `flags.toml`, and interpreted (after a source replaced the rules
//! with the same ones, as an overrides file or the store does).
//!
//! `cargo bench -p flags-benches --bench targeting`

use std::hash::Hasher as _;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use flags::AnyContext;

flags::declare!();

/// The same flags, evaluated by the interpreter: their rules are replaced at start-up.
mod interpreted {
    flags::declare!(name = Interpreted);
}
use interpreted::Interpreted;

#[path = "support/user.rs"]
mod support;
use support::{User, user};

/// `flags.toml`'s own targeting of every flag, given again by a source.
struct SameRules;

impl flags::Source for SameRules {
    fn load(
        &self,
        catalog: &flags::Catalog,
        environment: Option<usize>,
        _: &dyn flags::Vars,
    ) -> flags::Loaded {
        let mut layer = flags::Layer::new(catalog.flags().len());
        for (index, flag) in catalog.flags().iter().enumerate() {
            layer.set_setting(
                index,
                flag.setting_in(environment),
                flags::Origin::Programmatic,
            );
        }
        flags::Loaded::Values {
            layer,
            rejected: Vec::new(),
        }
    }
}

/// The flags of this file, for the hand-written baseline.
#[derive(Clone, Copy)]
enum HandWritten {
    Internal,
    RolloutSip,
    RolloutMurmur,
    Combined,
}

/// What a team writes instead of a flag library: a `match` on the flag that reads the
/// application's user directly. Not inlined, as a check in another module would not be.
#[inline(never)]
fn hand_written(flag: HandWritten, user: &User) -> bool {
    match flag {
        HandWritten::Internal => user.email.ends_with("@example.com"),
        // std's seeded SipHash-1-3 of the user's id.
        HandWritten::RolloutSip => {
            let mut hasher = std::hash::DefaultHasher::new();
            hasher.write_u64(0x5eed);
            hasher.write(user.id.as_bytes());
            hasher.finish() % 100 < 25
        }
        // MurmurHash3 of the same string the flag buckets: "rollout_enabled:{id}".
        HandWritten::RolloutMurmur => murmur3_bucket(b"rollout_enabled:", &user.id) <= 25,
        HandWritten::Combined => {
            matches!(user.country.as_str(), "NZ" | "AU")
                || user.id == "u-7"
                || (user.plan.eq_ignore_ascii_case("pro")
                    && murmur3_bucket(b"combined_enabled:", &user.id) <= 50)
        }
    }
}

/// A hand-written MurmurHash3 x86_32 of `prefix` then `id`, as a bucket from 1 to 100.
fn murmur3_bucket(prefix: &[u8], id: &str) -> u32 {
    let mut bytes = [0u8; 96];
    let length = prefix.len() + id.len().min(96 - prefix.len());
    bytes[..prefix.len()].copy_from_slice(prefix);
    bytes[prefix.len()..length].copy_from_slice(&id.as_bytes()[..length - prefix.len()]);
    let data = &bytes[..length];
    let (c1, c2) = (0xcc9e_2d51_u32, 0x1b87_3593_u32);
    let mut hash = 0u32;
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        hash ^= k.wrapping_mul(c1).rotate_left(15).wrapping_mul(c2);
        hash = hash
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let k = tail
            .iter()
            .enumerate()
            .fold(0u32, |k, (i, b)| k | u32::from(*b) << (8 * i));
        hash ^= k.wrapping_mul(c1).rotate_left(15).wrapping_mul(c2);
    }
    hash ^= length as u32;
    hash ^= hash >> 16;
    hash = hash.wrapping_mul(0x85eb_ca6b);
    hash ^= hash >> 13;
    hash = hash.wrapping_mul(0xc2b2_ae35);
    (hash ^ (hash >> 16)) % 100 + 1
}

fn targeting(c: &mut Criterion) {
    let _interpreted = Interpreted::runtime().add_source(SameRules);
    assert_eq!(
        Flags::runtime().runs_compiled_rules("internal_enabled"),
        Some(true)
    );
    assert_eq!(
        Interpreted::runtime().runs_compiled_rules("internal_enabled"),
        Some(false)
    );
    let insider = user("u-1", "ada@example.com");
    let outsider = user("u-2", "bob@elsewhere.org");
    let keys: Vec<User> = (0..1_024)
        .map(|i| user(&format!("user-{i}"), "x@y.z"))
        .collect();

    let mut group = c.benchmark_group("rule email ends_with, matching");
    group.bench_function("hand-written", |b| {
        b.iter(|| {
            black_box(hand_written(
                black_box(HandWritten::Internal),
                black_box(&insider),
            ))
        })
    });
    group.bench_function("compiled", |b| {
        b.iter(|| black_box(Flags::internal_enabled_for(black_box(&insider))))
    });
    group.bench_function("interpreted", |b| {
        b.iter(|| black_box(Interpreted::internal_enabled_for(black_box(&insider))))
    });
    group.finish();

    let mut group = c.benchmark_group("rule email ends_with, not matching");
    group.bench_function("hand-written", |b| {
        b.iter(|| {
            black_box(hand_written(
                black_box(HandWritten::Internal),
                black_box(&outsider),
            ))
        })
    });
    group.bench_function("compiled", |b| {
        b.iter(|| black_box(Flags::internal_enabled_for(black_box(&outsider))))
    });
    group.bench_function("interpreted", |b| {
        b.iter(|| black_box(Interpreted::internal_enabled_for(black_box(&outsider))))
    });
    group.finish();

    let mut group = c.benchmark_group("25% rollout over 1024 keys");
    let mut next = 0;
    let mut rotate = || {
        next = (next + 1) % keys.len();
        &keys[next]
    };
    group.bench_function("hand-written, SipHash", |b| {
        b.iter(|| black_box(hand_written(black_box(HandWritten::RolloutSip), rotate())))
    });
    group.bench_function("hand-written, MurmurHash3 of the same string", |b| {
        b.iter(|| {
            black_box(hand_written(
                black_box(HandWritten::RolloutMurmur),
                rotate(),
            ))
        })
    });
    group.bench_function("compiled", |b| {
        b.iter(|| black_box(Flags::rollout_enabled_for(rotate())))
    });
    group.bench_function("interpreted", |b| {
        b.iter(|| black_box(Interpreted::rollout_enabled_for(rotate())))
    });
    group.finish();

    let mut group = c.benchmark_group("three rules, a segment and a rollout");
    group.bench_function("hand-written", |b| {
        b.iter(|| {
            black_box(hand_written(
                black_box(HandWritten::Combined),
                black_box(&insider),
            ))
        })
    });
    group.bench_function("compiled", |b| {
        b.iter(|| black_box(Flags::combined_enabled_for(black_box(&insider))))
    });
    group.bench_function("interpreted", |b| {
        b.iter(|| black_box(Interpreted::combined_enabled_for(black_box(&insider))))
    });
    group.finish();

    // As in a web request: the user is the scope's context, the configuration is held.
    let mut group = c.benchmark_group("request scope");
    let request = flags::TaskScope::new()
        .with_context(flags::Context::new("u-1").with("email", "ada@example.com"))
        .with_configuration_of(Flags::runtime());
    request.run(|| {
        group.bench_function("rule ends_with, the context in scope", |b| {
            b.iter(|| black_box(Flags::internal_enabled()))
        });
    });
    group.finish();

    // An application's user as an evaluation context: through the derive there is nothing
    // to build (attributes are read from the struct when a rule asks); a `Context` copies.
    let mut group = c.benchmark_group("evaluation context");
    group.bench_function(
        "derive: the user itself, key and three attributes read by name",
        |b| {
            b.iter(|| {
                let context: &dyn AnyContext = black_box(&insider);
                black_box((
                    context.context_key(),
                    context.context_attribute("email"),
                    context.context_attribute("country"),
                    context.context_attribute("plan"),
                ))
            })
        },
    );
    group.bench_function(
        "Context built from the user (key and three attributes)",
        |b| {
            b.iter(|| {
                let user = black_box(&insider);
                black_box(
                    flags::Context::new(user.id.as_str())
                        .with("email", user.email.as_str())
                        .with("country", user.country.as_str())
                        .with("plan", user.plan.as_str()),
                )
            })
        },
    );
    group.finish();
}

criterion_group!(benches, targeting);
criterion_main!(benches);
