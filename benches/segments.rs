//! What a change of segment keys costs, by how many keys the segment holds and how many
//! flags the configuration has: one key added or removed, and 100,000 added at once; and
//! what turning a flag off costs beside such a segment. Also the memory each key takes.
//!
//! `cargo bench -p flags-benches --bench segments`

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

#[path = "support/generate.rs"]
mod generate;

/// Counts the bytes the process holds, to state what a segment key costs in memory.
struct Counting;

static HELD: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// No environment variables.
struct NoVars;

impl flags::Vars for NoVars {
    fn get(&self, _name: &str) -> Option<Result<String, String>> {
        None
    }

    fn names_with_prefix(&self, _prefix: &str) -> Vec<String> {
        Vec::new()
    }
}

/// A runtime over the generated file of `flags` flags, whose `beta` segment lists `members`
/// keys added at run time.
fn runtime_with(flags: usize, members: usize) -> &'static flags::Runtime {
    let text = generate::flags_toml(flags);
    let runtime = flags::Runtime::load("flags.toml", &text, &NoVars).expect("a valid file");
    let keys: Vec<String> = (0..members).map(|i| format!("member-{i:07}")).collect();
    runtime
        .add_to_segment_many("beta", keys.iter().map(String::as_str))
        .expect("a declared segment");
    runtime
}

fn one_key(c: &mut Criterion) {
    let mut group = c.benchmark_group("add and remove one segment key");
    for flags in [10, 1_000, 10_000] {
        for members in [1_000, 10_000, 100_000, 1_000_000] {
            let runtime = runtime_with(flags, members);
            let mut next = 0u64;
            group.bench_function(format!("{members} members, {flags} flags"), |b| {
                b.iter(|| {
                    next += 1;
                    let key = format!("new-{next}");
                    runtime.add_to_segment("beta", &key).expect("a segment");
                    runtime
                        .remove_from_segment("beta", &key)
                        .expect("a segment");
                })
            });
        }
    }
    group.finish();
}

/// A kill switch through the program (`Runtime::set_override`), beside segments of each size:
/// a change of flags alone shares the segments.
fn kill_switch(c: &mut Criterion) {
    let mut group = c.benchmark_group("turn a flag off and on again");
    for members in [1_000, 1_000_000] {
        let runtime = runtime_with(1_000, members);
        group.bench_function(format!("{members} members, 1000 flags"), |b| {
            b.iter(|| {
                for on in [false, true] {
                    runtime
                        .set_override("flag_0004_enabled", on)
                        .expect("a bool flag");
                }
            })
        });
    }
    group.finish();
}

fn bulk(c: &mut Criterion) {
    let mut group = c.benchmark_group("add 100,000 keys at once");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    let runtime = runtime_with(1_000, 0);
    let mut round = 0u64;
    group.bench_function("to a segment of 100,000", |b| {
        b.iter_batched(
            || {
                round += 1;
                (0..100_000)
                    .map(|i| format!("bulk-{round}-{i}"))
                    .collect::<Vec<String>>()
            },
            |keys| {
                runtime
                    .add_to_segment_many("beta", keys.iter().map(String::as_str))
                    .expect("a segment");
                runtime
                    .remove_from_segment_many("beta", keys.iter().map(String::as_str))
                    .expect("a segment");
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

/// Not a timing: what a key held in a segment costs, printed for BENCHMARKS.md.
fn memory(_: &mut Criterion) {
    let runtime = runtime_with(10, 0);
    let before = HELD.load(Ordering::Relaxed);
    let keys: Vec<String> = (0..1_000_000).map(|i| format!("member-{i:07}")).collect();
    let started = Instant::now();
    runtime
        .add_to_segment_many("beta", keys.iter().map(String::as_str))
        .expect("a segment");
    let elapsed = started.elapsed();
    drop(black_box(keys));
    // What the runtime holds now that the caller's keys are gone.
    let held = HELD.load(Ordering::Relaxed) - before;
    eprintln!(
        "segment keys: 1,000,000 keys of 14 bytes held in {:.1} MB, {} bytes per key (text \
         included), added in one call in {elapsed:?}",
        held as f64 / 1e6,
        held / 1_000_000
    );
}

criterion_group!(benches, one_key, kill_switch, bulk, memory);
criterion_main!(benches);
