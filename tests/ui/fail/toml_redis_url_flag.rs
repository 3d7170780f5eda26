flags::declare!("fixtures/redis_url_flag.toml");

fn main() {}
