flags::declare!("fixtures/good.toml");

#[flags::feature_gate("new_feature_enabld")]
fn checkout() -> Result<(), flags::FeatureDisabled> {
    Ok(())
}

#[flags::feature_gate("banner")]
fn banner() -> Result<(), flags::FeatureDisabled> {
    Ok(())
}

fn main() {
    let _ = (checkout(), banner());
}
