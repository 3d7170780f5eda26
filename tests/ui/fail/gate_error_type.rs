flags::declare!("fixtures/good.toml");

#[derive(Debug)]
struct AppError;

// AppError has no `From<FeatureDisabled>`.
#[flags::feature_gate("new_feature_enabled")]
fn checkout() -> Result<(), AppError> {
    Ok(())
}

fn main() {
    let _ = checkout();
}
