//! Test stubs through the generated `Flags`: scoped to the test that sets them, typed, and
//! carried into spawned threads and tasks only when asked.
//!
//! Each test sets every flag it asserts on, so the environment the tests run in (an
//! `APP_ENV` in the developer's shell) cannot change the outcome.

use flags::StubScope;

flags::declare!();

#[test]
fn a_stub_lasts_as_long_as_its_guard() {
    let baseline = Flags::new_feature_enabled();
    {
        let _stub = Flags::stub().new_feature_enabled(!baseline);
        assert_eq!(Flags::new_feature_enabled(), !baseline);
        assert_eq!(
            *Flags::runtime()
                .explain("new_feature_enabled", None)
                .unwrap()
                .reason(),
            flags::Reason::Stub
        );
    }
    assert_eq!(Flags::new_feature_enabled(), baseline);
}

#[test]
fn one_guard_holds_stubs_of_every_type() {
    let _stub = Flags::stub()
        .new_feature_enabled(true)
        .checkout_flow(CheckoutFlow::Express)
        .max_upload_mb(1_000_000_000_000)
        .search_sample_rate(0.5)
        .support_banner("maintenance tonight")
        .product_tasks_103_comments(false);
    assert!(Flags::new_feature_enabled());
    assert_eq!(Flags::checkout_flow(), CheckoutFlow::Express);
    assert_eq!(Flags::max_upload_mb(), 1_000_000_000_000);
    assert_eq!(Flags::search_sample_rate(), 0.5);
    assert_eq!(&*Flags::support_banner(), "maintenance tonight");
    assert!(!Flags::product_tasks_103_comments());
    let snapshot = Flags::snapshot();
    assert_eq!(snapshot.checkout_flow(), CheckoutFlow::Express);
    assert_eq!(&*snapshot.support_banner(), "maintenance tonight");
}

#[test]
fn the_newest_stub_wins_and_the_older_one_returns() {
    let _outer = Flags::stub().checkout_flow(CheckoutFlow::OnePage);
    {
        let _inner = Flags::stub().checkout_flow(CheckoutFlow::Legacy);
        assert_eq!(Flags::checkout_flow(), CheckoutFlow::Legacy);
    }
    assert_eq!(Flags::checkout_flow(), CheckoutFlow::OnePage);
}

#[test]
fn a_panicking_test_ends_its_stubs() {
    let _outer = Flags::stub().max_upload_mb(5);
    let outcome = std::panic::catch_unwind(|| {
        let _stub = Flags::stub().max_upload_mb(7);
        assert_eq!(Flags::max_upload_mb(), 7);
        panic!("the test fails");
    });
    assert!(outcome.is_err());
    assert_eq!(Flags::max_upload_mb(), 5);
}

#[test]
#[flags::stub(new_feature_enabled = false, checkout_flow = CheckoutFlow::OnePage)]
fn the_attribute_stubs_a_whole_test() {
    assert!(!Flags::new_feature_enabled());
    assert_eq!(Flags::checkout_flow(), CheckoutFlow::OnePage);
}

#[flags::stub(max_upload_mb = 64)]
#[tokio::test(flavor = "current_thread")]
async fn the_attribute_works_on_current_thread_tokio_tests() {
    tokio::task::yield_now().await;
    assert_eq!(Flags::max_upload_mb(), 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[flags::stub(max_upload_mb = 65)]
async fn the_attribute_works_on_multi_thread_tokio_tests() {
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    assert_eq!(Flags::max_upload_mb(), 65);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_tasks_get_stubs_only_when_carried() {
    let _stub = Flags::stub().max_upload_mb(66);
    // A worker thread does not have the test thread's stubs...
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(Flags::max_upload_mb()).unwrap());
    let on_another_thread = rx.recv().unwrap();
    assert_ne!(on_another_thread, 66);
    // ...unless the task carries them.
    let carried = tokio::spawn(StubScope::current().wrap(async {
        tokio::task::yield_now().await;
        Flags::max_upload_mb()
    }));
    assert_eq!(carried.await.unwrap(), 66);
}

#[test]
fn threads_get_stubs_only_when_carried() {
    let _stub = Flags::stub().support_banner("stubbed");
    let plain = std::thread::spawn(Flags::support_banner).join().unwrap();
    assert_ne!(&*plain, "stubbed");
    let scope = StubScope::current();
    let carried = std::thread::spawn(move || scope.run(Flags::support_banner))
        .join()
        .unwrap();
    assert_eq!(&*carried, "stubbed");
}

#[test]
fn each_covers_both_branches_of_a_bool_flag() {
    let mut seen = Vec::new();
    for (enabled, _stub) in Flags::each(FlagsStub::new_feature_enabled) {
        assert_eq!(Flags::new_feature_enabled(), enabled);
        seen.push(enabled);
    }
    assert_eq!(seen, [false, true]);
}

#[test]
fn each_covers_every_variant() {
    let mut seen = Vec::new();
    for (flow, _stub) in Flags::each(FlagsStub::checkout_flow) {
        assert_eq!(Flags::checkout_flow(), flow);
        seen.push(flow);
    }
    assert_eq!(seen, CheckoutFlow::ALL);
}

#[test]
fn each_says_how_many_values_are_left() {
    let mut each = Flags::each(FlagsStub::checkout_flow);
    assert_eq!(each.len(), CheckoutFlow::ALL.len());
    let _first = each.next();
    assert_eq!(each.len(), CheckoutFlow::ALL.len() - 1);
    assert!(format!("{each:?}").starts_with("Each { values: ["));
}

#[test]
fn each_takes_the_values_to_try_for_open_types() {
    let mut seen = Vec::new();
    for (limit, _stub) in Flags::each_of(FlagsStub::max_upload_mb, [1, 50, 500]) {
        assert_eq!(Flags::max_upload_mb(), limit);
        seen.push(limit);
    }
    assert_eq!(seen, [1, 50, 500]);
    for (banner, _stub) in Flags::each_of(FlagsStub::support_banner, ["", "hello"]) {
        assert_eq!(&*Flags::support_banner(), banner);
    }
}

#[tokio::test]
async fn each_works_in_async_tests() {
    for (enabled, _stub) in Flags::each(FlagsStub::product_tasks_103_comments) {
        tokio::task::yield_now().await;
        assert_eq!(Flags::product_tasks_103_comments(), enabled);
    }
}

#[test]
fn a_bool_flag_as_a_type_names_its_key_and_follows_its_value() {
    use flags::Feature as _;
    assert_eq!(NewFeatureEnabledFeature::KEY, "new_feature_enabled");
    assert_eq!(
        ProductTasks103CommentsFeature::KEY,
        "product-TASKS-103-comments"
    );
    assert_eq!(
        format!("{:?}", NewFeatureEnabledFeature::default()),
        "Feature(\"new_feature_enabled\")"
    );
    for (enabled, _stub) in Flags::each(FlagsStub::new_feature_enabled) {
        assert_eq!(NewFeatureEnabledFeature::enabled(), enabled);
        assert_eq!(NewFeatureEnabledFeature::require().is_ok(), enabled);
    }
}

#[test]
fn each_takes_a_closure_that_stubs_more_than_one_flag() {
    let before = Flags::checkout_flow();
    let mut seen = Vec::new();
    for (enabled, _stub) in Flags::each(|stub, on| {
        stub.new_feature_enabled(on)
            .checkout_flow(CheckoutFlow::Express)
    }) {
        assert_eq!(Flags::new_feature_enabled(), enabled);
        assert_eq!(Flags::checkout_flow(), CheckoutFlow::Express);
        seen.push(enabled);
    }
    assert_eq!(seen, [false, true]);
    assert_eq!(Flags::checkout_flow(), before);
}
