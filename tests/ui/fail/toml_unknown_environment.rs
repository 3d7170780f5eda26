flags::declare!("fixtures/unknown_environment.toml");

fn main() {}
