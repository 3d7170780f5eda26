//! Targeting through the generated `Flags`: evaluation for an application's own user type,
//! for the context in scope (also across threads in async code), in gates, with segments
//! changed at run time, and under stubs.

use flags::{EvaluationContext, FeatureDisabled, Reason, feature_gate};

flags::declare!("tests/fixtures/targeting.toml");

#[derive(Clone, EvaluationContext)]
struct User {
    #[flags(key)]
    id: String,
    email: String,
    #[flags(rename = "planType")]
    plan: Option<String>,
    org: Option<u64>,
}

fn user(id: &str, email: &str) -> User {
    User {
        id: id.into(),
        email: email.into(),
        plan: None,
        org: None,
    }
}

#[test]
fn flags_are_evaluated_for_the_applications_own_users() {
    let staff = user("u-1", "ada@EXAMPLE.com");
    let customer = user("u-2", "bob@customer.io");
    assert!(Flags::comments_enabled_for(&staff));
    assert!(!Flags::comments_enabled_for(&customer));
    let details = Flags::comments_enabled_details(&staff);
    assert!(details.value);
    assert_eq!(
        details.reason,
        Reason::Rule {
            number: 1,
            name: Some("staff".into()),
            segment: Some("internal".into()),
            bucket: None
        }
    );
    assert_eq!(
        Flags::comments_enabled_details(&customer).reason,
        Reason::Fallthrough { bucket: None }
    );
}

#[test]
fn without_a_context_no_rule_matches() {
    assert!(!Flags::comments_enabled());
}

#[test]
fn the_context_in_scope_is_used_by_plain_accessors() {
    flags::with_context(user("u-3", "cy@example.com"), || {
        assert!(Flags::comments_enabled());
        assert!(Flags::snapshot().comments_enabled());
    });
    assert!(!Flags::comments_enabled());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_context_follows_a_future_across_threads() {
    let staff = user("u-4", "dee@example.com");
    let handles: Vec<_> = (0..8)
        .map(|_| {
            tokio::spawn(flags::with_context_async(staff.clone(), async {
                let mut seen = Vec::new();
                for _ in 0..20 {
                    tokio::task::yield_now().await;
                    seen.push(Flags::comments_enabled());
                }
                seen
            }))
        })
        .collect();
    for handle in handles {
        assert!(handle.await.unwrap().into_iter().all(|enabled| enabled));
    }
    assert!(
        !Flags::comments_enabled(),
        "the test's own thread has no context"
    );
}

#[feature_gate("comments_enabled", context = user)]
fn comments_page(user: &User) -> Result<String, FeatureDisabled> {
    Ok(format!("comments for {}", user.email))
}

#[test]
fn a_gate_can_evaluate_for_an_argument() {
    assert_eq!(
        comments_page(&user("u-5", "eve@example.com")).unwrap(),
        "comments for eve@example.com"
    );
    assert_eq!(
        comments_page(&user("u-6", "fay@customer.io")).unwrap_err(),
        FeatureDisabled::new("comments_enabled")
    );
}

#[test]
fn a_beta_tag_applies_at_once_in_every_thread() {
    let tester = user("u-beta-7", "gus@customer.io");
    assert!(!Flags::comments_enabled_for(&tester));
    Flags::runtime()
        .add_to_segment("beta", "u-beta-7")
        .expect("declared segment");
    assert!(Flags::comments_enabled_for(&tester));
    let moved = tester.clone();
    assert!(
        std::thread::spawn(move || Flags::comments_enabled_for(&moved))
            .join()
            .unwrap()
    );
    assert_eq!(
        Flags::comments_enabled_details(&tester).reason,
        Reason::Rule {
            number: 2,
            name: Some("beta testers".into()),
            segment: Some("beta".into()),
            bucket: None
        }
    );
    Flags::runtime()
        .remove_from_segment("beta", "u-beta-7")
        .unwrap();
    assert!(!Flags::comments_enabled_for(&tester));
}

#[test]
fn rollouts_by_attribute_and_prerequisites() {
    let member = |id: &str, org: u64| User {
        org: Some(org),
        ..user(id, "m@customer.io")
    };
    for org in 0..20 {
        let layout = Flags::layout_for(&member("a", org));
        assert!((0..10).all(|i| Flags::layout_for(&member(&format!("m-{i}"), org)) == layout));
    }
    assert!(matches!(
        Flags::layout_details(&member("a", 1)).reason,
        Reason::Fallthrough { bucket: Some(_) }
    ));

    let pro_staff = User {
        plan: Some("pro".into()),
        ..user("u-8", "hal@example.com")
    };
    let pro_customer = User {
        plan: Some("pro".into()),
        ..user("u-9", "ivy@customer.io")
    };
    assert!(Flags::export_enabled_for(&pro_staff));
    assert!(!Flags::export_enabled_for(&pro_customer));
    assert_eq!(
        Flags::export_enabled_details(&pro_customer).reason,
        Reason::PrerequisiteOff {
            flag: "comments_enabled".into()
        }
    );
}

#[test]
fn stubs_win_over_targeting() {
    let customer = user("u-10", "jo@customer.io");
    let _stub = Flags::stub().comments_enabled(true).layout(Layout::Compact);
    assert!(Flags::comments_enabled_for(&customer));
    assert_eq!(
        Flags::comments_enabled_details(&customer).reason,
        Reason::Stub
    );
    assert_eq!(Flags::layout_for(&customer), Layout::Compact);
    for (enabled, _stub) in Flags::each(FlagsStub::comments_enabled) {
        assert_eq!(Flags::comments_enabled_for(&customer), enabled);
    }
}

/// `flags.toml`'s own targeting of every flag, given again by a source: the same rules, now
/// replacing the file's, so the runtime interprets them.
struct SameRules;

impl flags::Source for SameRules {
    fn load(
        &self,
        catalog: &flags::Catalog,
        environment: Option<usize>,
        _: &dyn flags::Vars,
    ) -> flags::Loaded {
        let mut layer = flags::Layer::new(catalog.flags().len());
        for (index, flag) in catalog.flags().iter().enumerate() {
            layer.set_setting(
                index,
                flag.setting_in(environment),
                flags::Origin::Programmatic,
            );
        }
        flags::Loaded::Values {
            layer,
            rejected: Vec::new(),
        }
    }
}

#[test]
fn compiled_rules_give_way_to_replaced_targeting_and_come_back() {
    let users = [
        user("u-1", "ada@example.com"),
        user("u-2", "bob@elsewhere.org"),
        user("u-3", "eve@EXAMPLE.com"),
    ];
    let values = || -> Vec<(bool, Layout)> {
        users
            .iter()
            .map(|u| (Flags::comments_enabled_for(u), Flags::layout_for(u)))
            .collect()
    };
    let compiled =
        || ["comments_enabled", "layout"].map(|flag| Flags::runtime().runs_compiled_rules(flag));
    let before = values();
    assert_eq!(compiled(), [Some(true); 2]);
    let source = Flags::runtime().add_source(SameRules);
    assert_eq!(
        compiled(),
        [Some(false); 2],
        "replaced targeting is interpreted"
    );
    assert_eq!(values(), before, "and decides the same");
    source.remove();
    assert_eq!(compiled(), [Some(true); 2], "the compiled rules are back");
    assert_eq!(values(), before);
}
