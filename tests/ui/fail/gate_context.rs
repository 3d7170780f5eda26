flags::declare!("fixtures/good.toml");

struct NotAContext;

#[flags::feature_gate("new_feature_enabled", context = who)]
fn page(who: &NotAContext) -> Result<(), flags::FeatureDisabled> {
    let _ = who;
    Ok(())
}

fn main() {
    let _ = page(&NotAContext);
}
