//! The runtime through the generated `Flags`: programmatic overrides, listing, explanations
//! and lazy start-up. Programmatic overrides are process-wide, so this file holds the only
//! test that sets them.

use std::process::Command;

use flags::{Origin, OverrideError, Reason, Setting, Value};

flags::declare!();

#[test]
fn programmatic_overrides_listing_and_explanations() {
    let runtime = Flags::runtime();

    runtime
        .set_override("checkout_flow", "express")
        .expect("a valid variant");
    assert_eq!(Flags::checkout_flow(), CheckoutFlow::Express);
    let info = runtime.explain("checkout_flow", None).expect("declared");
    assert_eq!(
        *info.reason(),
        Reason::Override {
            origin: Origin::Programmatic
        }
    );
    assert_eq!(info.value().to_string(), "express");

    // By accessor name as well as by key.
    runtime
        .set_override("product_tasks_103_comments", true)
        .expect("a bool");
    assert!(Flags::product_tasks_103_comments());

    let refused = runtime.set_override("max_upload_mb", 2.5).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "flag `max_upload_mb`: expected an integer, found the float `2.5`"
    );
    let unknown = runtime.set_override("checkout_flw", "express").unwrap_err();
    assert!(
        matches!(unknown, OverrideError::UnknownFlag { suggestion: Some(ref s), .. } if s == "checkout_flow")
    );

    // A snapshot keeps its values while overrides change.
    let before = Flags::snapshot();
    runtime
        .set_override("checkout_flow", "one_page")
        .expect("a valid variant");
    let after = Flags::snapshot();
    assert_eq!(before.checkout_flow(), CheckoutFlow::Express);
    assert_eq!(after.checkout_flow(), CheckoutFlow::OnePage);
    assert!(after.generation() > before.generation());

    // Stubs outrank programmatic overrides, in this thread only.
    {
        let _stub = Flags::stub().checkout_flow(CheckoutFlow::Legacy);
        assert_eq!(Flags::checkout_flow(), CheckoutFlow::Legacy);
        let elsewhere = std::thread::spawn(Flags::checkout_flow).join().unwrap();
        assert_eq!(elsewhere, CheckoutFlow::OnePage);
    }

    runtime.clear_override("checkout_flow").expect("declared");
    assert_ne!(
        *runtime.explain("checkout_flow", None).unwrap().reason(),
        Reason::Override {
            origin: Origin::Programmatic
        }
    );
    runtime.clear_overrides();
    assert_ne!(
        *runtime
            .explain("product-TASKS-103-comments", None)
            .unwrap()
            .reason(),
        Reason::Override {
            origin: Origin::Programmatic
        }
    );

    // Every flag is listed with its declaration.
    let listed: Vec<_> = runtime
        .flags()
        .iter()
        .map(|info| info.flag().key().to_owned())
        .collect();
    assert_eq!(
        listed,
        [
            "new_feature_enabled",
            "product-TASKS-103-comments",
            "checkout_flow",
            "max_upload_mb",
            "search_sample_rate",
            "support_banner"
        ]
    );
    let feature = runtime.explain("new_feature_enabled", None).unwrap();
    let flag = feature.flag();
    assert_eq!(flag.description(), "Redesigned checkout page");
    assert_eq!(
        (flag.owner(), flag.ticket()),
        (Some("payments"), Some("PAY-812"))
    );
    assert_eq!(
        flag.expires().map(|d| d.to_string()).as_deref(),
        Some("2029-06-30")
    );
    let production = runtime.catalog().environments().position("production");
    assert_eq!(
        flag.setting_in(production),
        Setting::Value(Value::Bool(false))
    );
    assert_eq!(runtime.catalog().env_var(flag), "FLAGS_NEW_FEATURE_ENABLED");
}

const CHILD: &str = "RUNTIME_API_CHILD";

/// Run by `lazy_start_prints_problems_once`, in a child process.
#[test]
#[ignore = "run as a child process by lazy_start_prints_problems_once"]
fn child_reads_flags_without_init() {
    if std::env::var_os(CHILD).is_some() {
        println!("max_upload_mb = {}", Flags::max_upload_mb());
        println!("new_feature_enabled = {}", Flags::new_feature_enabled());
    }
}

#[test]
fn lazy_start_prints_problems_once() {
    let output = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--ignored",
            "--exact",
            "child_reads_flags_without_init",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_clear()
        .env(CHILD, "1")
        .env("APP_ENV", "prod")
        .env("FLAGS_MAX_UPLOAD_MB", "lots")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("max_upload_mb = 10"),
        "defaults are served: {stdout}"
    );
    assert!(stdout.contains("new_feature_enabled = false"), "{stdout}");
    let reported: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("flags: "))
        .collect();
    assert_eq!(
        reported,
        [
            "flags: environment variable APP_ENV: APP_ENV=\"prod\" is not an environment declared in flags.toml; \
             expected one of: development, test, staging, production (did you mean `production`?); \
             every flag uses its default, plus overrides",
            "flags: environment variable FLAGS_MAX_UPLOAD_MB: flag `max_upload_mb`: expected an integer, found `lots`; it is ignored",
        ],
        "{stderr}"
    );
}

#[test]
fn a_variant_enum_compares_orders_hashes_and_shows_as_its_variants() {
    use std::collections::{BTreeSet, HashSet};
    // Declaration order, as a derive would give.
    let [legacy, one_page, express] = CheckoutFlow::ALL;
    assert!(legacy < one_page && one_page < express);
    assert_eq!(express.cmp(&legacy), std::cmp::Ordering::Greater);
    assert_eq!(
        one_page.partial_cmp(&one_page),
        Some(std::cmp::Ordering::Equal)
    );
    fn cloned<T: Clone>(value: &T) -> T {
        value.clone()
    }
    assert_eq!(legacy, cloned(&legacy));
    assert_ne!(legacy, express);
    let sorted: Vec<_> = BTreeSet::from([express, legacy, one_page])
        .into_iter()
        .collect();
    assert_eq!(sorted, CheckoutFlow::ALL);
    let distinct: HashSet<_> = [legacy, express, legacy, one_page, express]
        .into_iter()
        .collect();
    assert_eq!(distinct.len(), 3);
    // `Debug` names the Rust variant; `Display` the name in flags.toml.
    assert_eq!(format!("{one_page:?}"), "OnePage");
    assert_eq!(one_page.to_string(), "one_page");
    assert_eq!("one_page".parse::<CheckoutFlow>().ok(), Some(one_page));
    assert_eq!(CheckoutFlow::default(), legacy);
}
