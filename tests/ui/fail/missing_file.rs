flags::declare!("fixtures/no_such_file.toml");

fn main() {
    // No further errors: a bare `Flags` type is still generated.
    let _ = Flags;
}
