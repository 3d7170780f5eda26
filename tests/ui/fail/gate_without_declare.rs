mod flags_here {
    flags::declare!("fixtures/good.toml");
}

// `Flags` is not at the crate root, and no `flags = path::Flags` says where it is.
#[flags::feature_gate("new_feature_enabled")]
fn checkout() -> Result<(), flags::FeatureDisabled> {
    Ok(())
}

fn main() {
    let _ = checkout();
}
