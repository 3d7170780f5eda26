mod common;

use common::*;
use flags_runtime::{Context, Origin, Reason, Timestamp, Value, with_context};

const FLAGS: &str = r#"
[environments]
names = ["development", "production"]
default = "production"

[segments.internal]
description = "Employees"
keys = ["u-ceo"]
[[segments.internal.rules]]
when = [{ attribute = "email", op = "ends_with", value = "@example.com", ignore_case = true }]

[segments.beta]
description = "Customers tagged as beta testers"

[flags.comments_enabled]
description = "Comments on tasks"
default = false
development = true

[[flags.comments_enabled.production.rules]]
name = "internal users"
when = [{ segment = "internal" }]
serve = true

[[flags.comments_enabled.production.rules]]
name = "beta customers"
when = [{ segment = "beta" }]
serve = true

[flags.checkout_enabled]
description = "New checkout, 25% of users"
default = false
[flags.checkout_enabled.production]
rollout = 25

[flags.theme]
description = "Theme by organisation"
variants = ["light", "dark", "contrast"]
default = "light"
[flags.theme.production]
rollout = [{ value = "light", weight = 50 }, { value = "dark", weight = 30 }, { value = "contrast", weight = 20 }]
bucket_by = "org_id"

[flags.crm_enabled]
description = "CRM integration for entitled accounts"
default = false
requires = ["comments_enabled"]
[[flags.crm_enabled.production.rules]]
when = [
    { attribute = "planType", op = "in", values = ["enterprise", "pro"] },
    { attribute = "integrationKey", op = "exists" },
    { attribute = "capability", op = "contains", value = "crm" },
]
serve = true

[flags.checks]
description = "Operators"
default = "none"
[[flags.checks.production.rules]]
when = [{ attribute = "seats", op = ">=", value = 10 }, { attribute = "app", op = "semver_ge", value = "2.3.0" }]
serve = "big and current"
[[flags.checks.production.rules]]
when = [{ attribute = "signed_up", op = "before", value = 2020-01-01T00:00:00Z }]
serve = "early"
[[flags.checks.production.rules]]
when = [{ attribute = "plan", op = "equals", value = "free", negate = true }]
serve = "paying"
[[flags.checks.production.rules]]
when = [{ op = "now_after", value = 2000-01-01T00:00:00Z }, { op = "now_before", value = 2999-01-01T00:00:00Z }]
serve = "now"
"#;

const COMMENTS: usize = 0;
const CHECKOUT: usize = 1;
const THEME: usize = 2;
const CRM: usize = 3;
const CHECKS: usize = 4;

fn user(key: &str) -> Context {
    Context::new(key)
}

#[test]
fn internal_users_get_the_feature_in_production() {
    let (registry, _) = build::<5>(FLAGS, &[]);
    let insider = user("u-1").with("email", "ada@Example.com");
    let outsider = user("u-2").with("email", "bob@elsewhere.org");
    assert!(registry.bool_for(COMMENTS, &insider));
    assert!(!registry.bool_for(COMMENTS, &outsider));
    assert!(registry.bool_for(COMMENTS, &user("u-ceo")), "listed by key");
    assert_eq!(
        registry.evaluate(COMMENTS, &insider).reason,
        Reason::Rule {
            number: 1,
            name: Some("internal users".into()),
            segment: Some("internal".into()),
            bucket: None
        }
    );
    assert_eq!(
        registry.evaluate(COMMENTS, &outsider).reason,
        Reason::Fallthrough { bucket: None }
    );
    assert_eq!(
        registry.evaluate(COMMENTS, &insider).reason.to_string(),
        "rule 1 (internal users) matched, segment `internal`"
    );
}

#[test]
fn a_beta_tag_takes_effect_everywhere_without_a_restart() {
    let (registry, _) = build::<5>(FLAGS, &[]);
    let customer = user("u-123").with("email", "c@customer.io");
    assert!(!registry.bool_for(COMMENTS, &customer));
    registry
        .runtime()
        .add_to_segment("beta", "u-123")
        .expect("a declared segment");
    assert!(registry.bool_for(COMMENTS, &customer));
    let elsewhere = std::thread::spawn(move || registry.bool_for(COMMENTS, &user("u-123")))
        .join()
        .unwrap();
    assert!(elsewhere, "another thread sees it on its next evaluation");
    assert_eq!(registry.runtime().segment_keys("beta").unwrap(), ["u-123"]);
    registry
        .runtime()
        .remove_from_segment("beta", "u-123")
        .unwrap();
    assert!(!registry.bool_for(COMMENTS, &customer));
    registry
        .runtime()
        .remove_from_segment("internal", "u-ceo")
        .unwrap();
    assert!(
        !registry.bool_for(COMMENTS, &user("u-ceo")),
        "keys from flags.toml can be removed too"
    );
    let error = registry
        .runtime()
        .add_to_segment("betta", "u-1")
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown segment `betta`; did you mean `beta`?"
    );
}

#[test]
fn a_percentage_rollout_is_sticky_and_close_to_its_weight() {
    let (registry, _) = build::<5>(FLAGS, &[]);
    let enabled = (0..100_000)
        .filter(|i| registry.bool_for(CHECKOUT, &user(&format!("user-{i}"))))
        .count();
    assert!(
        (24_000..=26_000).contains(&enabled),
        "{enabled} of 100000 in a 25% rollout"
    );
    for i in 0..1_000 {
        let key = format!("user-{i}");
        assert_eq!(
            registry.bool_for(CHECKOUT, &user(&key)),
            registry.bool_for(CHECKOUT, &user(&key))
        );
    }
    let Reason::Fallthrough {
        bucket: Some(bucket),
    } = registry.evaluate(CHECKOUT, &user("user-1")).reason
    else {
        panic!("a rollout reports the bucket");
    };
    assert_eq!(bucket, flags_runtime::bucket("checkout_enabled", "user-1"));
    assert_eq!(registry.bool_for(CHECKOUT, &user("user-1")), bucket <= 25);
}

#[test]
fn a_rollout_by_attribute_keeps_an_organisation_together() {
    let (registry, _) = build::<5>(FLAGS, &[]);
    let theme = |key: &str, org: &str| {
        registry
            .evaluate(THEME, &user(key).with("org_id", org))
            .value
    };
    for org in ["acme", "globex", "initech"] {
        let first = theme("a", org);
        assert!(
            (0..50).all(|i| theme(&format!("member-{i}"), org) == first),
            "{org} is split"
        );
    }
    let mut counts = [0usize; 3];
    for org in 0..30_000 {
        if let Value::Variant { index, .. } = theme("x", &format!("org-{org}")) {
            counts[index as usize] += 1;
        }
    }
    for (count, weight) in counts.iter().zip([50.0, 30.0, 20.0]) {
        let percent = *count as f64 / 300.0;
        assert!((percent - weight).abs() <= 1.5, "{weight}% got {percent}%");
    }
    let no_org = registry.evaluate(THEME, &user("x"));
    assert_eq!(no_org.value.to_string(), "light", "no org: the default");
    assert_eq!(
        no_org.reason,
        Reason::Error {
            message: "the rollout is by `org_id`, which the context does not have as a string, number or bool".into()
        }
    );
}

#[test]
fn entitlement_rules_apply_in_order_behind_their_prerequisite() {
    let (registry, _) = build::<5>(FLAGS, &[]);
    let account = |plan: &str| {
        user("acct-1")
            .with("email", "it@example.com")
            .with("planType", plan)
            .with("integrationKey", "k-1")
            .with("capability", ["crm", "sso"])
    };
    assert!(registry.bool_for(CRM, &account("enterprise")));
    assert!(!registry.bool_for(CRM, &account("free")));
    assert!(!registry.bool_for(CRM, &account("pro").with("capability", ["sso"])));
    // Without comments (the prerequisite), no CRM, whatever the rules say.
    let outsider = account("enterprise").with("email", "it@customer.io");
    assert!(!registry.bool_for(CRM, &outsider));
    assert_eq!(
        registry.evaluate(CRM, &outsider).reason,
        Reason::PrerequisiteOff {
            flag: "comments_enabled".into()
        }
    );
    // A stub of the prerequisite is seen too.
    let _stub = registry.stub(COMMENTS, Value::Bool(true));
    assert!(registry.bool_for(CRM, &outsider));
}

#[test]
fn operators_and_missing_attributes() {
    let (registry, _) = build::<5>(FLAGS, &[]);
    let checks = |context: Context| registry.evaluate(CHECKS, &context).value.to_string();
    let version = semver::Version::parse("2.4.0").unwrap();
    assert_eq!(
        checks(user("a").with("seats", 12).with("app", version.clone())),
        "big and current"
    );
    assert_eq!(
        checks(user("a").with("seats", 12).with("app", "2.2.9")),
        "now"
    );
    assert_eq!(
        checks(user("a").with("seats", 9).with("app", version)),
        "now"
    );
    let early = Timestamp {
        seconds: 1_500_000_000,
        nanos: 0,
    };
    assert_eq!(checks(user("a").with("signed_up", early)), "early");
    assert_eq!(checks(user("a").with("plan", "pro")), "paying");
    assert_eq!(checks(user("a").with("plan", "free")), "now");
    assert_eq!(
        checks(user("a")),
        "now",
        "a missing attribute never matches, even negated"
    );
    // `exists` is the one test of absence: negated, it says "has no such attribute".
    let (registry, _) = build::<1>(
        "[environments]\nnames = [\"p\"]\ndefault = \"p\"\n[flags.x]\ndescription = \"d\"\ndefault = \"none\"\n\
         [[flags.x.p.rules]]\nwhen = [{ attribute = \"trial\", op = \"exists\", negate = true }]\nserve = \"no trial\"\n\
         [[flags.x.p.rules]]\nwhen = [{ attribute = \"trial\", op = \"in\", values = [true] }]\nserve = \"trial\"\n",
        &[],
    );
    let x = |context: Context| registry.evaluate(0, &context).value.to_string();
    assert_eq!(x(user("a")), "no trial");
    assert_eq!(x(user("a").with("trial", true)), "trial");
    assert_eq!(x(user("a").with("trial", false)), "none");
    assert_eq!(
        checks(user("a").with("seats", "12")),
        "now",
        "a string is not a number"
    );
}

#[test]
fn the_current_context_applies_to_plain_reads() {
    let (registry, _) = build::<5>(FLAGS, &[]);
    assert!(!registry.bool(COMMENTS), "no context: no rule can match");
    with_context(user("u-1").with("email", "ada@example.com"), || {
        assert!(registry.bool(COMMENTS));
        let inside = std::thread::spawn(move || registry.bool(COMMENTS))
            .join()
            .unwrap();
        assert!(!inside, "a context belongs to its thread");
    });
    assert!(!registry.bool(COMMENTS));
}

#[test]
fn overrides_are_final() {
    let (registry, _) = build::<5>(FLAGS, &[("FLAGS_COMMENTS_ENABLED", "true")]);
    assert!(registry.bool_for(COMMENTS, &user("nobody")));
    assert_eq!(
        registry.evaluate(COMMENTS, &user("nobody")).reason,
        Reason::Override {
            origin: Origin::EnvVar("FLAGS_COMMENTS_ENABLED".into())
        }
    );
    registry
        .runtime()
        .set_override("checkout_enabled", false)
        .unwrap();
    assert_eq!(
        (0..1_000)
            .filter(|i| registry.bool_for(CHECKOUT, &user(&i.to_string())))
            .count(),
        0
    );
}

#[test]
fn other_environments_keep_their_plain_values() {
    let (registry, _) = build::<5>(FLAGS, &[("APP_ENV", "development")]);
    assert!(registry.bool(COMMENTS));
    assert!(registry.bool_for(COMMENTS, &user("anyone")));
    assert_eq!(
        registry.evaluate(COMMENTS, &user("anyone")).reason,
        Reason::Static {
            origin: Origin::Environment("development".into())
        }
    );
}

#[test]
fn an_overrides_file_can_target_and_redefine_segments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overrides.toml");
    std::fs::write(
        &path,
        "[segments.beta]\nkeys = [\"u-42\"]\n\n[[flags.checkout_enabled.production.rules]]\nwhen = [{ segment = \"beta\" }]\nserve = true\n",
    )
    .unwrap();
    let (registry, _) = build::<5>(FLAGS, &[("FLAGS_OVERRIDES", path.to_str().unwrap())]);
    assert!(registry.runtime().init().unwrap().is_clean());
    let tester = user("u-42");
    assert!(
        registry.bool_for(COMMENTS, &tester),
        "the file's beta segment is used by flags.toml's rules"
    );
    assert!(registry.bool_for(CHECKOUT, &tester), "the file's rule");
    let reason = registry.evaluate(CHECKOUT, &tester).reason;
    assert_eq!(
        reason,
        Reason::Rule {
            number: 1,
            name: None,
            segment: Some("beta".into()),
            bucket: None
        }
    );
    assert!(
        !registry.bool_for(CHECKOUT, &user("u-43")),
        "the file's targeting has no rollout: the default"
    );

    // A broken file is rejected whole; the last good one stays.
    std::fs::write(&path, "[segments.beta]\nkeys = [\"u-42\"]\n\n[[flags.checkout_enabled.production.rules]]\nwhen = [{ segment = \"bta\" }]\nserve = true\n").unwrap();
    let report = registry.runtime().reload();
    assert!(
        report.problems()[0]
            .message()
            .contains("unknown segment `bta`; did you mean `beta`?"),
        "{report}"
    );
    assert!(registry.bool_for(CHECKOUT, &tester));
    // Run-time additions still apply on top of a redefined segment.
    registry.runtime().add_to_segment("beta", "u-43").unwrap();
    assert!(registry.bool_for(CHECKOUT, &user("u-43")));

    // The file redefines the segment again: reading the file alone changes it. A change of
    // flags alone shares the segments it does not change.
    std::fs::write(&path, "[segments.beta]\nkeys = [\"u-7\"]\n\n[[flags.checkout_enabled.production.rules]]\nwhen = [{ segment = \"beta\" }]\nserve = true\n").unwrap();
    assert!(registry.runtime().reload_overrides_file().is_clean());
    registry
        .runtime()
        .set_override("theme", "dark")
        .expect("a variant");
    assert!(
        registry.bool_for(CHECKOUT, &user("u-7")),
        "the new definition"
    );
    assert!(!registry.bool_for(CHECKOUT, &tester), "no longer listed");
    assert!(
        registry.bool_for(CHECKOUT, &user("u-43")),
        "the run-time addition stays"
    );
}

/// A context whose `plan` is itself a flag of the same runtime, which it changes on the way:
/// an evaluation inside an evaluation, with a new configuration in between.
struct PlanFromFlag {
    registry: &'static TestRegistry,
    reads: std::cell::Cell<u32>,
}

impl flags_runtime::EvaluationContext for PlanFromFlag {
    fn key(&self) -> Option<flags_runtime::Attribute<'_>> {
        Some(flags_runtime::Attribute::Str("u-1"))
    }

    fn attribute(&self, name: &str) -> Option<flags_runtime::Attribute<'_>> {
        if name != "plan" {
            return None;
        }
        self.reads.set(self.reads.get() + 1);
        let runtime = self.registry.runtime();
        let premium = runtime.read_bool(1);
        runtime
            .set_override("premium", !premium)
            .expect("a bool for a bool flag");
        let inner = self.registry.bool_for(1, &Context::new("u-2"));
        assert_eq!(
            inner, !premium,
            "the inner check sees the new configuration"
        );
        Some(flags_runtime::Attribute::Str(if premium {
            "pro"
        } else {
            "free"
        }))
    }
}

#[test]
fn an_evaluation_inside_an_evaluation_sees_each_configuration_whole() {
    let (registry, _) = build::<2>(
        r#"
[environments]
names = ["production"]
default = "production"

[flags.pro_enabled]
description = "For the pro plan"
default = false
[[flags.pro_enabled.production.rules]]
when = [{ attribute = "plan", op = "equals", value = "pro" }]
serve = true

[flags.premium]
description = "Whether the plan is premium"
default = true
"#,
        &[],
    );
    let context = PlanFromFlag {
        registry,
        reads: std::cell::Cell::new(0),
    };
    // `premium` flips at every read of `plan`: pro, free, pro...
    let served: Vec<bool> = (0..4).map(|_| registry.bool_for(0, &context)).collect();
    assert_eq!(served, [true, false, true, false]);
    assert_eq!(context.reads.get(), 4);
    let explained = registry.evaluate(0, &context);
    assert_eq!(explained.value, Value::Bool(true));
}
