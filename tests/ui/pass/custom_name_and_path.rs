//! A custom file path, type name and module: the gate reads the same file as declare!.
//! Generated items are documented and lint-clean, even under strict crate lints.
#![deny(missing_docs, warnings, unreachable_pub, unused_qualifications)]

/// Where the flags are declared.
pub mod config {
    flags::declare!("fixtures/good.toml", name = AppFlags);
}

use config::{AppFlags, CheckoutFlow};

#[flags::feature_gate("new_feature_enabled", flags = crate::config::AppFlags)]
fn checkout() -> Result<(), flags::FeatureDisabled> {
    Ok(())
}

#[flags::stub(new_feature_enabled = false, checkout_flow = CheckoutFlow::Express, flags = crate::config::AppFlags)]
fn stubbed() -> (bool, CheckoutFlow) {
    (AppFlags::new_feature_enabled(), AppFlags::checkout_flow())
}

fn main() {
    assert_eq!(AppFlags::runtime().environment(), Some("development"));
    assert!(AppFlags::new_feature_enabled());
    assert!(checkout().is_ok());
    assert_eq!(stubbed(), (false, CheckoutFlow::Express));
    assert_eq!(AppFlags::checkout_flow(), CheckoutFlow::Legacy);
    assert_eq!("one_page".parse::<CheckoutFlow>(), Ok(CheckoutFlow::OnePage));
    let error = "fast".parse::<CheckoutFlow>().unwrap_err();
    assert_eq!(error.to_string(), "`fast` is not a variant of flag `checkout_flow`; expected one of: legacy, one_page, express");
    assert_eq!(CheckoutFlow::default(), CheckoutFlow::Legacy);
    assert_eq!(CheckoutFlow::ALL.len(), 3);
    let _stub = AppFlags::stub().max_upload_mb(99);
    assert_eq!(AppFlags::snapshot().max_upload_mb(), 99);
}
