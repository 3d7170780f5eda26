//! Evaluating a flag allocates nothing: counted by a global allocator that counts the
//! allocations of the measuring thread only.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use flags_runtime::Context;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static MEASURING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if MEASURING.try_with(Cell::get).unwrap_or(false) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if MEASURING.try_with(Cell::get).unwrap_or(false) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations made by `f`, run 1000 times after a warm-up run.
fn allocations(mut f: impl FnMut()) -> usize {
    f();
    ALLOCATIONS.store(0, Ordering::Relaxed);
    MEASURING.with(|m| m.set(true));
    for _ in 0..1_000 {
        f();
    }
    MEASURING.with(|m| m.set(false));
    ALLOCATIONS.load(Ordering::Relaxed)
}

const FLAGS: &str = r#"
[environments]
names = ["production"]
default = "production"

[segments.beta]
description = "Beta testers"
keys = ["u-7"]

[flags.plain_enabled]
description = "No targeting"
default = true

[flags.internal_enabled]
description = "email ends_with @example.com"
default = false
[[flags.internal_enabled.production.rules]]
when = [{ attribute = "email", op = "ends_with", value = "@example.com" }]
serve = true

[flags.rollout_enabled]
description = "25% rollout"
default = false
[flags.rollout_enabled.production]
rollout = 25

[flags.combined_enabled]
description = "Three rules, a segment and a rollout"
default = false
requires = ["plain_enabled"]
[[flags.combined_enabled.production.rules]]
when = [{ attribute = "country", op = "in", values = ["NZ", "AU"] }]
serve = true
[[flags.combined_enabled.production.rules]]
when = [{ segment = "beta" }]
serve = true
[[flags.combined_enabled.production.rules]]
when = [{ attribute = "plan", op = "equals", value = "pro", ignore_case = true }]
rollout = 50
"#;

#[test]
fn evaluations_allocate_nothing() {
    let (registry, _) = build::<4>(FLAGS, &[]);
    let insider = Context::new("u-1")
        .with("email", "ada@example.com")
        .with("plan", "PRO")
        .with("country", "FR");
    let outsider = Context::new("u-2").with("email", "bob@elsewhere.org");
    let keys: Vec<Context> = (0..1_024)
        .map(|i| Context::new(format!("user-{i}")))
        .collect();
    let mut next = 0;

    assert_eq!(
        allocations(|| assert!(registry.bool(0))),
        0,
        "a flag without targeting"
    );
    // The same while another thread (another test) holds a stub of that flag.
    let (stubbed, stubbed_rx) = std::sync::mpsc::channel();
    let (done, done_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let _stub = registry.stub(0, flags_runtime::Value::Bool(false));
        stubbed.send(()).expect("signal the stub");
        let _ = done_rx.recv();
    });
    stubbed_rx.recv().expect("the stub is active");
    assert_eq!(
        allocations(|| assert!(registry.bool(0))),
        0,
        "a flag without targeting, stubbed in another thread"
    );
    done.send(()).expect("release the stub");
    holder.join().expect("the stub holder ends");
    assert_eq!(
        allocations(|| assert!(registry.bool_for(1, &insider))),
        0,
        "a matching rule"
    );
    assert_eq!(
        allocations(|| assert!(!registry.bool_for(1, &outsider))),
        0,
        "a rule that does not match"
    );
    let rollout = allocations(|| {
        next = (next + 1) % keys.len();
        let _ = registry.bool_for(2, &keys[next]);
    });
    assert_eq!(rollout, 0, "a rollout over rotating keys");
    assert_eq!(
        allocations(|| {
            let _ = registry.bool_for(3, &insider);
        }),
        0,
        "rules, a segment, a rollout and a prerequisite"
    );
    assert_eq!(
        allocations(|| {
            let _ = registry.bool_for(3, &Context::new("u-7"));
        }),
        1_000,
        "building a context allocates, evaluating it does not"
    );
}
