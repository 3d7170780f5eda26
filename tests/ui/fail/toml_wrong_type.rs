flags::declare!("fixtures/wrong_type.toml");

fn main() {}
