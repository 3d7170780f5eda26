//! The rules `declare!` compiles allocate nothing either (flags-runtime/tests/allocations.rs
//! counts the interpreter's): the same workloads, checked through the generated accessors
//! for the application's own user type.

#[path = "../flags-runtime/tests/common/counting.rs"]
mod counting;

use counting::allocations;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

flags::declare!("tests/fixtures/allocations.toml");

#[derive(flags::EvaluationContext)]
struct User {
    #[flags(key)]
    id: String,
    email: String,
    country: String,
    plan: String,
}

fn user(id: &str, email: &str) -> User {
    User {
        id: id.into(),
        email: email.into(),
        country: "FR".into(),
        plan: "PRO".into(),
    }
}

#[test]
fn compiled_rules_allocate_nothing() {
    let insider = user("u-1", "ada@example.com");
    let outsider = user("u-2", "bob@elsewhere.org");
    let keys: Vec<User> = (0..1_024)
        .map(|i| user(&format!("user-{i}"), "x@y.z"))
        .collect();
    let beta = user("u-7", "x@y.z");
    let mut next = 0;
    for flag in ["internal_enabled", "rollout_enabled", "combined_enabled"] {
        assert_eq!(
            Flags::runtime().runs_compiled_rules(flag),
            Some(true),
            "{flag}"
        );
    }
    assert_eq!(
        allocations(|| assert!(Flags::plain_enabled_for(&insider))),
        0
    );
    assert_eq!(
        allocations(|| assert!(Flags::internal_enabled_for(&insider))),
        0,
        "a matching rule"
    );
    assert_eq!(
        allocations(|| assert!(!Flags::internal_enabled_for(&outsider))),
        0,
        "a rule that does not match"
    );
    let rollout = allocations(|| {
        next = (next + 1) % keys.len();
        let _ = Flags::rollout_enabled_for(&keys[next]);
    });
    assert_eq!(rollout, 0, "a rollout over rotating keys");
    assert_eq!(
        allocations(|| assert!(Flags::combined_enabled_for(&beta))),
        0,
        "rules, a segment, a rollout and a prerequisite"
    );
    // Keys added at run time are found the same way.
    Flags::runtime()
        .add_to_segment("beta", "u-2")
        .expect("a declared segment");
    assert_eq!(
        allocations(|| assert!(Flags::combined_enabled_for(&outsider))),
        0,
        "a key added to the segment at run time"
    );
}
