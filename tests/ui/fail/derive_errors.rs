#[derive(flags::EvaluationContext)]
enum NotAStruct {
    A,
}

#[derive(flags::EvaluationContext)]
struct Arguments {
    #[flags(key, primary)]
    id: String,
}

#[derive(flags::EvaluationContext)]
struct TwoKeys {
    #[flags(key)]
    id: String,
    #[flags(key)]
    other_id: String,
}

#[derive(flags::EvaluationContext)]
struct SameName {
    plan: String,
    #[flags(rename = "plan")]
    tier: String,
}

struct Plan;

#[derive(flags::EvaluationContext)]
struct NotAnAttribute {
    plan: Plan,
}

fn main() {}
