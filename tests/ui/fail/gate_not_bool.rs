flags::declare!("fixtures/good.toml");

#[flags::feature_gate("checkout_flow")]
fn checkout() -> Result<(), flags::FeatureDisabled> {
    Ok(())
}

fn main() {
    let _ = checkout();
}
