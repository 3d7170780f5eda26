flags::declare!("fixtures/many_errors.toml");

fn main() {}
