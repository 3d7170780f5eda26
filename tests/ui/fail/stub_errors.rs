flags::declare!("fixtures/good.toml");

#[flags::stub(new_feature_enabld = true)]
fn typo() {}

#[flags::stub(max_upload_mb = "ten")]
fn wrong_type() {}

#[flags::stub()]
fn nothing() {}

#[flags::stub(new_feature_enabled = true, flags = 1)]
fn flags_not_a_path() {}

fn main() {
    typo();
    wrong_type();
    nothing();
    flags_not_a_path();
}
