//! Evaluating a flag allocates nothing: counted by a global allocator that counts the
//! allocations of the measuring thread only.

mod common;
#[path = "common/counting.rs"]
mod counting;

use common::*;
use counting::allocations;
use flags_runtime::Context;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

const FLAGS: &str = include_str!("../../tests/fixtures/allocations.toml");

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
