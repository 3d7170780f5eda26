//! Task scopes through the generated `Flags`: the context a task evaluates for, the
//! configuration it keeps for its whole life (also on the one-load fast path), and stubs
//! given to a task rather than to a thread.
//!
//! Overrides are process-wide and every test reads the flag they change, so the tests take
//! turns.

use std::sync::{Arc, Barrier, Mutex, MutexGuard};

use flags::{Context, TaskScope};

flags::declare!("tests/fixtures/targeting.toml");

static OVERRIDES: Mutex<()> = Mutex::new(());

fn take_turn() -> MutexGuard<'static, ()> {
    OVERRIDES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn customer(key: &str) -> Context {
    Context::new(key).with("email", format!("{key}@customer.test"))
}

#[test]
fn checks_in_a_scope_evaluate_for_its_context_in_any_thread() {
    let _turn = take_turn();
    let staff = TaskScope::new().with_context(Context::new("u-1").with("email", "ada@example.com"));
    let outsider = TaskScope::new().with_context(customer("u-2"));
    let from_thread = |scope: TaskScope| {
        std::thread::spawn(move || scope.run(Flags::comments_enabled))
            .join()
            .unwrap()
    };
    assert!(from_thread(staff.clone()));
    assert!(!from_thread(outsider));
    assert!(!Flags::comments_enabled(), "no context outside a scope");
    assert!(staff.run(Flags::comments_enabled));
}

#[test]
fn a_scope_keeps_its_configuration_while_overrides_change() {
    let _turn = take_turn();
    let runtime = Flags::runtime();
    // An override makes the flag the same for everyone: its word answers checks.
    runtime.set_override("comments_enabled", false).unwrap();
    let scope = TaskScope::new()
        .with_context(customer("u-3"))
        .with_configuration_of(runtime);
    assert!(!scope.run(Flags::comments_enabled));

    runtime.set_override("comments_enabled", true).unwrap();
    assert!(Flags::comments_enabled(), "outside, the new value");
    let elsewhere = std::thread::spawn(Flags::comments_enabled).join().unwrap();
    assert!(elsewhere, "in another thread, the new value");
    assert!(
        !scope.run(Flags::comments_enabled),
        "inside, the value the scope started with"
    );
    assert!(!scope.run(|| Flags::snapshot().comments_enabled()));
    assert_eq!(
        scope.snapshot(runtime).map(|s| s.generation()),
        Some(scope.run(|| Flags::snapshot().generation()))
    );

    // A scope made now starts from the new configuration.
    let later = TaskScope::new().with_configuration_of(runtime);
    assert!(later.run(Flags::comments_enabled));

    // Back to targeting: the kept configuration still answers with its override.
    runtime.clear_override("comments_enabled").unwrap();
    assert!(!scope.run(Flags::comments_enabled));
    assert!(later.run(Flags::comments_enabled));
    assert!(
        !TaskScope::new()
            .with_context(customer("u-3"))
            .with_configuration_of(runtime)
            .run(Flags::comments_enabled),
        "targeting again for new scopes"
    );
}

#[test]
fn segment_changes_reach_the_next_scope_not_the_running_one() {
    let _turn = take_turn();
    let runtime = Flags::runtime();
    let running = TaskScope::new()
        .with_context(customer("u-beta"))
        .with_configuration_of(runtime);
    assert!(!running.run(Flags::comments_enabled));
    runtime.add_to_segment("beta", "u-beta").unwrap();
    assert!(!running.run(Flags::comments_enabled));
    let next = TaskScope::new()
        .with_context(customer("u-beta"))
        .with_configuration_of(runtime);
    assert!(next.run(Flags::comments_enabled));
    runtime.remove_from_segment("beta", "u-beta").unwrap();
}

#[test]
fn many_threads_with_kept_configurations_never_see_each_others_values() {
    let _turn = take_turn();
    let runtime = Flags::runtime();
    runtime.set_override("comments_enabled", false).unwrap();
    let off = TaskScope::new().with_configuration_of(runtime);
    runtime.set_override("comments_enabled", true).unwrap();
    let on = TaskScope::new().with_configuration_of(runtime);
    let start = Arc::new(Barrier::new(4));
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let (scope, expected) = match i % 2 {
                0 => (off.clone(), false),
                _ => (on.clone(), true),
            };
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                for _ in 0..20_000 {
                    assert_eq!(scope.run(Flags::comments_enabled), expected);
                    // Outside any scope, the value in force now.
                    assert!(Flags::comments_enabled());
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    drop((off, on));
    runtime.clear_override("comments_enabled").unwrap();
}

#[test]
fn a_scope_carries_stubs_to_another_thread_without_leaving_them_here() {
    let _turn = take_turn();
    let stubs = Flags::stub().comments_enabled(true).into_scope();
    assert!(
        !Flags::comments_enabled(),
        "into_scope takes the stubs out of this thread"
    );
    let scope = TaskScope::new().with_stubs(stubs);
    let inside = std::thread::spawn(move || scope.run(Flags::comments_enabled))
        .join()
        .unwrap();
    assert!(inside);
}

#[test]
fn a_wrapped_future_keeps_its_scope_across_awaits_and_threads() {
    let _turn = take_turn();
    let executor = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    executor.block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let staff = i % 2 == 0;
                let context = if staff {
                    Context::new(format!("s-{i}")).with("email", "staff@example.com")
                } else {
                    customer(&format!("c-{i}"))
                };
                let scope = TaskScope::new().with_context(context);
                tokio::spawn(scope.wrap(async move {
                    for _ in 0..50 {
                        assert_eq!(Flags::comments_enabled(), staff);
                        tokio::task::yield_now().await;
                    }
                }))
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
}
