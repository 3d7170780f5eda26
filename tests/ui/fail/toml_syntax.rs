flags::declare!("fixtures/syntax.toml");

fn main() {}
