//! What opting in to evaluation counts costs a flag check: nothing counted, sampled (the
//! reporter's default share of time, 2.5 %), and every check counted.
//!
//! `cargo bench -p flags-benches --bench counts`. No Redis is needed: the checks' cost does
//! not depend on whether the counts reach the store (they are sent from another thread).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use flags::store::CountOptions;

// The project's own flags, those of the demo.
flags::declare!("../flags.toml");

/// A port nothing listens on: sending fails, on the reporter's thread, and is retried.
const NOWHERE: &str = "redis://127.0.0.1:9";

fn counts(c: &mut Criterion) {
    let mut group = c.benchmark_group("evaluation counts");
    Flags::init().expect("a valid environment");
    group.bench_function("bool accessor, nothing counted", |b| {
        b.iter(|| black_box(Flags::new_feature_enabled()))
    });
    {
        // The default's share of time (250 ms every 10 s), in periods short enough that a
        // measurement spans many of them.
        let _reporter = Flags::runtime()
            .report_counts(
                CountOptions::new(NOWHERE)
                    .sample(Duration::from_millis(25), Duration::from_millis(1000)),
            )
            .expect("a Redis URL");
        group.bench_function("bool accessor, counts sampled 2.5% of the time", |b| {
            b.iter(|| black_box(Flags::new_feature_enabled()))
        });
    }
    {
        let _reporter = Flags::runtime()
            .report_counts(CountOptions::new(NOWHERE).always(Duration::from_secs(1)))
            .expect("a Redis URL");
        group.bench_function("bool accessor, every check counted", |b| {
            b.iter(|| black_box(Flags::new_feature_enabled()))
        });
    }
    group.finish();
}

criterion_group!(benches, counts);
criterion_main!(benches);
