flags::declare!("fixtures/too_many_errors.toml");

fn main() {}
