flags::declare!("fixtures/targeting_errors.toml");

fn main() {}
