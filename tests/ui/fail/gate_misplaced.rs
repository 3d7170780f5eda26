flags::declare!("fixtures/good.toml");

#[flags::feature_gate("new_feature_enabled")]
struct Checkout;

#[flags::feature_gate("new_feature_enabled")]
const fn constant() -> Result<(), flags::FeatureDisabled> {
    Ok(())
}

fn main() {
    let _ = (Checkout, constant());
}
