//! The tests shown in README.md, run as tests (doctests cannot run `#[test]` fns).

flags::declare!();

#[test]
fn checkout_with_and_without_the_redesign() {
    for (enabled, _stub) in Flags::each(FlagsStub::new_feature_enabled) {
        assert_eq!(Flags::new_feature_enabled(), enabled);
    }
}

#[test]
fn express_checkout() {
    let _stub = Flags::stub().checkout_flow(CheckoutFlow::Express);
    assert_eq!(Flags::checkout_flow(), CheckoutFlow::Express);
}

#[test]
#[flags::stub(new_feature_enabled = false)]
fn legacy_checkout() {
    assert!(!Flags::new_feature_enabled());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_worker_sees_the_stub() {
    let _stub = Flags::stub().max_upload_mb(1);
    let scope = flags::StubScope::current();
    let limit = tokio::spawn(scope.wrap(async { Flags::max_upload_mb() }))
        .await
        .unwrap();
    assert_eq!(limit, 1);
    // For a thread: std::thread::spawn(move || scope.run(|| ...)).
}
