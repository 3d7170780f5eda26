//! The cost of targeting, against hand-written code doing the same work.
//!
//! `cargo bench --bench targeting`

use std::hash::Hasher as _;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use flags::AnyContext;

flags::declare!("benches/flags.toml");

#[path = "support/user.rs"]
mod support;
use support::{User, user};

/// The flags of this file, for the hand-written baseline.
#[derive(Clone, Copy)]
enum HandWritten {
    Internal,
    Rollout,
}

/// What a team writes instead of a flag library: a `match` on the flag that reads the
/// application's user directly, and a rollout on a seeded hash of the user's id. Not
/// inlined, as a check in another module would not be.
#[inline(never)]
fn hand_written(flag: HandWritten, user: &User) -> bool {
    match flag {
        HandWritten::Internal => user.email.ends_with("@example.com"),
        HandWritten::Rollout => {
            let mut hasher = std::hash::DefaultHasher::new();
            hasher.write_u64(0x5eed);
            hasher.write(user.id.as_bytes());
            hasher.finish() % 100 < 25
        }
    }
}

fn targeting(c: &mut Criterion) {
    let mut group = c.benchmark_group("targeting");
    let insider = user("u-1", "ada@example.com");
    let outsider = user("u-2", "bob@elsewhere.org");
    let keys: Vec<User> = (0..1_024)
        .map(|i| user(&format!("user-{i}"), "x@y.z"))
        .collect();

    group.bench_function("baseline: hand-written match, ends_with", |b| {
        b.iter(|| {
            black_box(hand_written(
                black_box(HandWritten::Internal),
                black_box(&insider),
            ))
        })
    });
    group.bench_function("rule email ends_with, matching", |b| {
        b.iter(|| black_box(Flags::internal_enabled_for(black_box(&insider))))
    });
    group.bench_function("rule email ends_with, not matching", |b| {
        b.iter(|| black_box(Flags::internal_enabled_for(black_box(&outsider))))
    });
    // As in a web request: the user is the scope's context, the configuration is held.
    let request = flags::TaskScope::new()
        .with_context(flags::Context::new("u-1").with("email", "ada@example.com"))
        .with_configuration_of(Flags::runtime());
    request.run(|| {
        group.bench_function("same rule inside a request's task scope", |b| {
            b.iter(|| black_box(Flags::internal_enabled()))
        });
    });

    let mut next = 0;
    group.bench_function("baseline: hand-written match, 25% rollout", |b| {
        b.iter(|| {
            next = (next + 1) % keys.len();
            black_box(hand_written(black_box(HandWritten::Rollout), &keys[next]))
        })
    });
    group.bench_function("Unleash-compatible bucket alone", |b| {
        b.iter(|| {
            next = (next + 1) % keys.len();
            black_box(flags::bucket("rollout_enabled", &keys[next].id) <= 25)
        })
    });
    group.bench_function("25% rollout over 1024 keys", |b| {
        b.iter(|| {
            next = (next + 1) % keys.len();
            black_box(Flags::rollout_enabled_for(&keys[next]))
        })
    });
    group.bench_function("three rules, a segment and a rollout", |b| {
        b.iter(|| black_box(Flags::combined_enabled_for(black_box(&insider))))
    });
    group.finish();

    // An application's user as an evaluation context: through the derive there is nothing
    // to build (attributes are read from the struct when a rule asks); a `Context` copies.
    let mut group = c.benchmark_group("evaluation context");
    group.bench_function(
        "derive: the user itself, key and three attributes read",
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
