//! The cost of a flag check, against the floor: a relaxed `AtomicBool` load.
//!
//! `cargo bench --bench flag_check`

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use criterion::{Criterion, criterion_group, criterion_main};

flags::declare!();

fn flag_check(c: &mut Criterion) {
    let mut group = c.benchmark_group("flag check");
    let baseline = AtomicBool::new(true);
    group.bench_function("baseline: relaxed AtomicBool load", |b| {
        b.iter(|| black_box(&baseline).load(Ordering::Relaxed))
    });

    Flags::init().expect("a valid environment");
    group.bench_function("bool accessor", |b| {
        b.iter(|| black_box(Flags::new_feature_enabled()))
    });
    group.bench_function("variant accessor", |b| {
        b.iter(|| black_box(Flags::checkout_flow()))
    });
    group.bench_function("integer accessor", |b| {
        b.iter(|| black_box(Flags::max_upload_mb()))
    });

    // A stub of the same flag, held by another thread (another test), for the whole run.
    let (stubbed, stubbed_rx) = mpsc::channel();
    let (done, done_rx) = mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let _stub = Flags::stub().new_feature_enabled(false);
        stubbed.send(()).expect("signal the stub");
        let _ = done_rx.recv();
    });
    stubbed_rx.recv().expect("the stub is active");
    group.bench_function("bool accessor, stub active in another thread", |b| {
        b.iter(|| black_box(Flags::new_feature_enabled()))
    });
    let _ = done.send(());
    holder.join().expect("the stub holder ends");

    group.bench_function("string accessor (Arc clone from the snapshot)", |b| {
        b.iter(|| black_box(Flags::support_banner()))
    });
    group.finish();
}

criterion_group!(benches, flag_check);
criterion_main!(benches);
