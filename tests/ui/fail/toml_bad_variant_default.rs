flags::declare!("fixtures/bad_variant_default.toml");

fn main() {}
