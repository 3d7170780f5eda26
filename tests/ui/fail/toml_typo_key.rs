flags::declare!("fixtures/typo_key.toml");

fn main() {}
