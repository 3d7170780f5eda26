flags::declare!("fixtures/same_accessor.toml");

fn main() {}
