flags::declare!("fixtures/good.toml");

// An integer flag has too many values to run a test with each: `each_of` names them.
fn main() {
    for (_limit, _stub) in Flags::each(FlagsStub::max_upload_mb) {}
}
