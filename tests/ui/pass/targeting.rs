//! Evaluation contexts from an application's own types, and gates evaluated for an argument.
use flags::{AsAttribute, Attribute, EvaluationContext, FeatureDisabled, feature_gate};

flags::declare!("fixtures/good.toml");

/// An application enum used as an attribute.
#[derive(Clone, Copy)]
enum Plan {
    Free,
    Pro,
}

impl AsAttribute for Plan {
    fn as_attribute(&self) -> Option<Attribute<'_>> {
        Some(Attribute::Str(match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
        }))
    }
}

#[derive(EvaluationContext)]
struct Account<'a, T: AsAttribute> {
    #[flags(key)]
    id: u64,
    #[flags(rename = "planType")]
    plan: Plan,
    region: &'a str,
    extra: Option<T>,
    #[flags(skip)]
    _secret: Vec<u8>,
}

#[feature_gate("new_feature_enabled", context = account)]
fn dashboard(account: &Account<'_, bool>) -> Result<u64, FeatureDisabled> {
    Ok(account.id)
}

fn main() {
    let account = Account { id: 7, plan: Plan::Pro, region: "eu", extra: Some(true), _secret: Vec::new() };
    assert_eq!(account.key(), Some(Attribute::Number(7.0)));
    assert_eq!(account.attribute("planType"), Some(Attribute::Str("pro")));
    assert_eq!(account.attribute("region"), Some(Attribute::Str("eu")));
    assert_eq!(account.attribute("extra"), Some(Attribute::Bool(true)));
    assert_eq!(account.attribute("_secret"), None);
    let _ = Plan::Free;
    // good.toml has no targeting: development's value, for any account.
    assert_eq!(dashboard(&account), Ok(7));
    assert!(Flags::new_feature_enabled_for(&account));
    assert!(Flags::new_feature_enabled_details(&account).value);
}
