flags::declare!("fixtures/good.toml");

#[flags::feature_gate]
fn no_name() -> Result<(), flags::FeatureDisabled> {
    Ok(())
}

#[flags::feature_gate(new_feature_enabled)]
fn name_not_a_string() -> Result<(), flags::FeatureDisabled> {
    Ok(())
}

#[flags::feature_gate("new_feature_enabled", fallbak = other)]
fn unknown_argument() -> Result<(), flags::FeatureDisabled> {
    Ok(())
}

fn main() {
    let _ = (no_name(), name_not_a_string(), unknown_argument());
}
