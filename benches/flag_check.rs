//! The cost of a flag check, against the floor: a relaxed `AtomicBool` load.
//!
//! `cargo bench -p flags-benches --bench flag_check`

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use criterion::{Criterion, criterion_group, criterion_main};
use flags::{Context, EvaluationCounter, TaskScope};

// The project's own flags, those of the demo.
flags::declare!("../flags.toml");

/// The floor: a relaxed load from a fixed address, as each flag's published word is. Every
/// routine below returns its value straight to criterion, which hides it from the optimiser
/// once (`black_box`); a second `black_box` on one side only would time a store and a load
/// that the other side does not make.
static BASELINE: AtomicBool = AtomicBool::new(false);

fn flag_check(c: &mut Criterion) {
    let mut group = c.benchmark_group("flag check");
    // Stored at run time, so that the compiler cannot take the static for a constant.
    BASELINE.store(black_box(true), Ordering::Relaxed);
    group.bench_function("baseline: relaxed AtomicBool load", |b| {
        b.iter(|| BASELINE.load(Ordering::Relaxed))
    });

    Flags::init().expect("a valid environment");
    group.bench_function("bool accessor", |b| b.iter(Flags::new_feature_enabled));
    group.bench_function("variant accessor", |b| b.iter(Flags::checkout_flow));
    group.bench_function("integer accessor", |b| b.iter(Flags::max_upload_mb));

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
        b.iter(Flags::new_feature_enabled)
    });
    let _ = done.send(());
    holder.join().expect("the stub holder ends");

    group.bench_function("string accessor (Arc clone from the snapshot)", |b| {
        b.iter(Flags::support_banner)
    });

    // Inside a request's scope (what the axum layer sets up), before and after a change
    // that makes the flag differ from the configuration the scope keeps.
    let runtime = Flags::runtime();
    let scope = TaskScope::new()
        .with_context(Context::new("u-1").with("email", "ada@example.com"))
        .with_configuration_of(runtime);
    scope.run(|| {
        group.bench_function("bool accessor inside a task scope", |b| {
            b.iter(Flags::new_feature_enabled)
        });
    });
    let current = Flags::new_feature_enabled();
    runtime
        .set_override("new_feature_enabled", !current)
        .expect("a bool override");
    scope.run(|| {
        group.bench_function(
            "bool accessor inside a task scope, flag changed since the scope began",
            |b| b.iter(Flags::new_feature_enabled),
        );
    });
    group.bench_function(
        "bool accessor outside, while a scope keeps the old value",
        |b| b.iter(Flags::new_feature_enabled),
    );
    drop(scope);
    runtime
        .clear_override("new_feature_enabled")
        .expect("a declared flag");

    let counter = Arc::new(EvaluationCounter::new());
    let listener = runtime.add_listener(counter.clone());
    group.bench_function("bool accessor while an EvaluationCounter listens", |b| {
        b.iter(Flags::new_feature_enabled)
    });
    runtime.remove_listener(listener);
    group.finish();

    let mut group = c.benchmark_group("task scope");
    group.bench_function(
        "make a request's scope: context and configuration kept",
        |b| {
            b.iter(|| {
                TaskScope::new()
                    .with_context(Context::new("u-1").with("email", "ada@example.com"))
                    .with_configuration_of(runtime)
            })
        },
    );
    let scope = TaskScope::new()
        .with_context(Context::new("u-1").with("email", "ada@example.com"))
        .with_configuration_of(runtime);
    group.bench_function("enter and leave it (once per poll)", |b| {
        b.iter(|| scope.run(|| black_box(1)))
    });
    group.finish();
}

criterion_group!(benches, flag_check);
criterion_main!(benches);
