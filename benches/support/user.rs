//! The application's own user type, used directly as an evaluation context.

/// A user as an application would have it.
#[derive(flags::EvaluationContext)]
pub struct User {
    #[flags(key)]
    pub id: String,
    pub email: String,
    pub country: String,
    pub plan: String,
}

/// A user in France on the pro plan.
pub fn user(id: &str, email: &str) -> User {
    User {
        id: id.into(),
        email: email.into(),
        country: "FR".into(),
        plan: "PRO".into(),
    }
}
