flags::declare!("fixtures/good.toml");

#[flags::feature_gate("new_feature_enabled")]
fn returns_nothing() {}

#[flags::feature_gate("new_feature_enabled")]
fn returns_a_number() -> u32 {
    1
}

#[flags::feature_gate("new_feature_enabled")]
fn returns_impl_trait() -> impl std::fmt::Display {
    1
}

#[flags::feature_gate("new_feature_enabled")]
fn returns_a_tuple() -> (u32, u32) {
    (1, 2)
}

fn main() {
    returns_nothing();
    let _ = (returns_a_number(), returns_impl_trait().to_string(), returns_a_tuple());
}
