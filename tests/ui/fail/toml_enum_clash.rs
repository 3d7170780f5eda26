flags::declare!("fixtures/enum_clash.toml");

fn main() {}
