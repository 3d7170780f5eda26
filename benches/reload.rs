//! Reloading a 1,000-flag configuration while two threads evaluate flags continuously: the
//! cost of `reload()`, and what readers pay while configurations are being swapped.
//!
//! `cargo bench -p flags-benches --bench reload`

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};

flags::declare!("large.toml");

#[path = "support/user.rs"]
mod support;
use support::user;

/// Read latencies by power of two: `counts[i]` reads took less than `2^i` ns.
type Histogram = [u64; 64];

/// The latency under which `share` of the reads fell, as "< N ns".
fn percentile(histogram: &Histogram, share: f64) -> String {
    let total: u64 = histogram.iter().sum();
    let mut seen = 0;
    for (bucket, count) in histogram.iter().enumerate() {
        seen += count;
        if seen as f64 >= share * total as f64 {
            return format!("< {} ns", 1u64 << bucket);
        }
    }
    "n/a".to_owned()
}

/// Two threads reading a plain flag and a targeted one in a loop until `stop`, each timing
/// every pair of reads.
fn readers(stop: &Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<Histogram>> {
    (0..2)
        .map(|reader| {
            let stop = Arc::clone(stop);
            std::thread::spawn(move || {
                let user = user(&format!("u-{reader}"), "ada@example.com");
                let mut histogram = [0; 64];
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    black_box(Flags::flag_0004_enabled());
                    black_box(Flags::flag_0000_enabled_for(&user));
                    let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    histogram[(64 - nanos.leading_zeros() as usize).min(63)] += 1;
                }
                histogram
            })
        })
        .collect()
}

fn reload(c: &mut Criterion) {
    Flags::init().expect("a valid environment");
    let mut group = c.benchmark_group("reload, 1000 flags");

    let stop = Arc::new(AtomicBool::new(false));
    let threads = readers(&stop);
    group.bench_function("reload() while two threads evaluate", |b| {
        b.iter(|| black_box(Flags::reload()))
    });
    stop.store(true, Ordering::Relaxed);
    let mut histogram = [0; 64];
    for thread in threads {
        for (total, count) in histogram.iter_mut().zip(thread.join().unwrap_or([0; 64])) {
            *total += count;
        }
    }
    println!(
        "readers during the reloads ({} timed pairs of reads, a plain flag and a rule, \
         timer included): p50 {}, p99 {}, p99.9 {}, p99.99 {}",
        histogram.iter().sum::<u64>(),
        percentile(&histogram, 0.5),
        percentile(&histogram, 0.99),
        percentile(&histogram, 0.999),
        percentile(&histogram, 0.9999),
    );

    // A reader's cost while another thread reloads without pause.
    let stop = Arc::new(AtomicBool::new(false));
    let reloader = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut reloads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                Flags::reload();
                reloads += 1;
            }
            reloads
        })
    };
    let user = user("u-9", "ada@example.com");
    group.bench_function("bool accessor during continuous reloads", |b| {
        b.iter(|| black_box(Flags::flag_0004_enabled()))
    });
    group.bench_function("targeted rule during continuous reloads", |b| {
        b.iter(|| black_box(Flags::flag_0000_enabled_for(black_box(&user))))
    });
    stop.store(true, Ordering::Relaxed);
    let reloads = reloader.join().unwrap_or(0);
    println!("reloads meanwhile: {reloads}");
    group.finish();
}

criterion_group!(benches, reload);
criterion_main!(benches);
