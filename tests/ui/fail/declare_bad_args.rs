flags::declare!("fixtures/good.toml", nmae = AppFlags);

fn main() {}
