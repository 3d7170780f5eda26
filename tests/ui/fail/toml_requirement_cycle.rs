flags::declare!("fixtures/requirement_cycle.toml");

fn main() {}
