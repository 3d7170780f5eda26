flags::declare!("fixtures/requirement_depth.toml");

fn main() {}
