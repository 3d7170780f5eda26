flags::declare!("fixtures/good.toml");

#[flags::stub(new_feature_enabld = true)]
fn typo() {}

#[flags::stub(max_upload_mb = "ten")]
fn wrong_type() {}

#[flags::stub()]
fn nothing() {}

fn main() {
    typo();
    wrong_type();
    nothing();
}
