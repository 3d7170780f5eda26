flags::declare!("fixtures/attributes.toml");

#[derive(flags::EvaluationContext)]
struct User {
    #[flags(key)]
    id: String,
    email: String,
    #[flags(rename = "planType")]
    plan: String,
}

fn main() {
    let user = User { id: "u-1".into(), email: "ada@example.com".into(), plan: "pro".into() };
    // A derived context declares its attributes: the typo in flags.toml is found here.
    let _ = Flags::crm_enabled_for(&user);
    // The error names each call that needs the attribute.
    let _ = Flags::crm_enabled_details(&user);
    // A context built at run time is checked at run time: no error.
    let _ = Flags::crm_enabled_for(&flags::Context::new("u-2"));
}
