//! Stubs never leak between tests running at the same time.
//!
//! `cargo test` runs the tests below as threads of one process, several at once; each holds
//! its own stubs, opposite to its neighbours', and checks many times, yielding in between so
//! that the tests interleave, that it only ever sees its own values. A leak would show up as
//! one test seeing another's value. (nextest runs each test in its own process, where
//! isolation is given.)

flags::declare!();

const ROUNDS: usize = 2_000;

fn hold_stubs_and_check(test: usize) {
    let enabled = test % 2 == 0;
    let flow = CheckoutFlow::ALL[test % CheckoutFlow::ALL.len()];
    let limit = test as i64;
    for round in 0..ROUNDS {
        // A new stub every round, so guards are created and dropped while others run.
        let _stub = Flags::stub()
            .new_feature_enabled(enabled)
            .checkout_flow(flow)
            .max_upload_mb(limit);
        for _ in 0..4 {
            assert_eq!(
                Flags::new_feature_enabled(),
                enabled,
                "test {test}, round {round}"
            );
            assert_eq!(Flags::checkout_flow(), flow, "test {test}, round {round}");
            assert_eq!(Flags::max_upload_mb(), limit, "test {test}, round {round}");
            std::thread::yield_now();
        }
    }
}

macro_rules! isolated_tests {
    ($($name:ident = $test:expr;)*) => {
        $(
            #[test]
            fn $name() {
                hold_stubs_and_check($test);
            }
        )*
    };
}

isolated_tests! {
    stubs_00 = 0; stubs_01 = 1; stubs_02 = 2; stubs_03 = 3; stubs_04 = 4; stubs_05 = 5;
    stubs_06 = 6; stubs_07 = 7; stubs_08 = 8; stubs_09 = 9; stubs_10 = 10; stubs_11 = 11;
    stubs_12 = 12; stubs_13 = 13; stubs_14 = 14; stubs_15 = 15; stubs_16 = 16; stubs_17 = 17;
    stubs_18 = 18; stubs_19 = 19; stubs_20 = 20; stubs_21 = 21; stubs_22 = 22; stubs_23 = 23;
}

/// The same as a single test, whatever the number of test threads: sixteen threads behave
/// like sixteen tests started together.
#[test]
fn sixteen_tests_started_together_see_only_their_own_stubs() {
    let start = std::sync::Arc::new(std::sync::Barrier::new(16));
    let threads: Vec<_> = (100..116)
        .map(|test| {
            let start = std::sync::Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                hold_stubs_and_check(test);
            })
        })
        .collect();
    for thread in threads {
        thread
            .join()
            .expect("a test thread saw another test's stub");
    }
}

/// A test that sets no stub sees the real value, even while the others hold theirs.
#[test]
fn a_test_without_stubs_sees_the_configuration() {
    let configured = Flags::runtime()
        .explain("max_upload_mb", None)
        .expect("flag")
        .value()
        .clone();
    for _ in 0..ROUNDS {
        assert_eq!(flags::Value::Int(Flags::max_upload_mb()), configured);
        std::thread::yield_now();
    }
}
