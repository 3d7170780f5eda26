#![deny(deprecated)]

flags::declare!("fixtures/good.toml");

#[flags::feature_gate("old_banner_enabled")]
fn banner() -> Result<(), flags::FeatureDisabled> {
    Ok(())
}

fn main() {
    let _ = banner();
    if Flags::old_banner_enabled() {
        println!("banner");
    }
}
