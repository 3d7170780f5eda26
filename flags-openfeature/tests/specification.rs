//! The provider against the requirements of the OpenFeature specification that apply to
//! providers (sections 2 and 3), each test named after the requirement it checks, through
//! the `open-feature` SDK's own `FeatureProvider` trait and client.
//!
//! Every test has a runtime of its own, loaded from `tests/fixtures/flags.toml`, so that
//! overrides made by one are seen by no other.

use std::time::{Duration, SystemTime};

use flags_openfeature::{FlagsProvider, MAX_ATTRIBUTES};
use flags_runtime::Runtime;
use open_feature::provider::{FeatureProvider, ProviderStatus, ResolutionDetails};
use open_feature::{
    EvaluationContext, EvaluationContextFieldValue, EvaluationErrorCode, EvaluationReason,
    FlagMetadataValue, OpenFeature,
};

#[path = "common/environment.rs"]
mod environment;

use environment::runtime_in;

const FLAGS: &str = include_str!("fixtures/flags.toml");
const COMMENTS: &str = "product-TASKS-103-comments";

fn runtime(environment: &'static str) -> &'static Runtime {
    runtime_in(environment, FLAGS)
}

fn production() -> FlagsProvider {
    FlagsProvider::new(runtime("production"))
}

fn staff() -> EvaluationContext {
    EvaluationContext::default()
        .with_targeting_key("u-1")
        .with_custom_field("email", "ada@Example.com")
}

fn customer() -> EvaluationContext {
    EvaluationContext::default()
        .with_targeting_key("u-2")
        .with_custom_field("email", "bob@customer.test")
}

#[tokio::test]
async fn requirement_2_1_1_metadata_names_the_provider() {
    assert_eq!(production().metadata().name, "flags");
}

#[tokio::test]
async fn requirement_2_2_1_and_2_2_2_1_typed_resolution_of_bool_number_string() {
    let provider = production();
    let context = staff();
    let comments = provider
        .resolve_bool_value(COMMENTS, &context)
        .await
        .unwrap();
    assert!(comments.value);
    let upload = provider
        .resolve_int_value("max_upload_mb", &context)
        .await
        .unwrap();
    assert_eq!(upload.value, 25);
    let rate = provider
        .resolve_float_value("search_sample_rate", &context)
        .await
        .unwrap();
    assert_eq!(rate.value, 0.5);
    let banner = provider
        .resolve_string_value("support_banner", &context)
        .await
        .unwrap();
    assert_eq!(banner.value, "Maintenance tonight");
    // A variant flag is a string whose variant is its name.
    let flow = provider
        .resolve_string_value("checkout_flow", &context)
        .await
        .unwrap();
    assert_eq!(flow.value, "express");
    // OpenFeature's numbers are one type: an integer flag reads as a float too.
    let upload = provider
        .resolve_float_value("max_upload_mb", &context)
        .await
        .unwrap();
    assert_eq!(upload.value, 25.0);
}

#[tokio::test]
async fn requirement_2_2_3_normal_resolution_has_the_value_served() {
    let provider = production();
    let runtime = provider.runtime();
    for (context, expected) in [(staff(), true), (customer(), false)] {
        let details = provider
            .resolve_bool_value(COMMENTS, &context)
            .await
            .unwrap();
        assert_eq!(details.value, expected);
    }
    // What the runtime itself serves for the same context.
    let ada = flags_runtime::Context::new("u-1").with("email", "ada@Example.com");
    let served = runtime.explain(COMMENTS, Some(&ada)).unwrap();
    assert_eq!(served.value(), &flags_runtime::Value::Bool(true));
}

#[tokio::test]
async fn requirement_2_2_4_variant_identifies_the_value() {
    let provider = production();
    let context = customer();
    let flow = provider
        .resolve_string_value("checkout_flow", &context)
        .await
        .unwrap();
    assert_eq!(flow.variant.as_deref(), Some("express"));
    let comments = provider
        .resolve_bool_value(COMMENTS, &context)
        .await
        .unwrap();
    assert_eq!(comments.variant.as_deref(), Some("false"));
    let upload = provider
        .resolve_int_value("max_upload_mb", &context)
        .await
        .unwrap();
    assert_eq!(upload.variant.as_deref(), Some("25"));
    // A string names itself.
    let banner = provider
        .resolve_string_value("support_banner", &context)
        .await
        .unwrap();
    assert_eq!(banner.variant, None);
}

#[tokio::test]
async fn requirement_2_2_5_reason_says_why() {
    let provider = production();
    let reason = |details: ResolutionDetails<bool>| details.reason.unwrap();
    // A rule matched.
    assert_eq!(
        reason(
            provider
                .resolve_bool_value(COMMENTS, &staff())
                .await
                .unwrap()
        ),
        EvaluationReason::TargetingMatch
    );
    // No rule matched: the fallthrough, which is the default.
    assert_eq!(
        reason(
            provider
                .resolve_bool_value(COMMENTS, &customer())
                .await
                .unwrap()
        ),
        EvaluationReason::Default
    );
    // A rollout bucket.
    assert_eq!(
        reason(
            provider
                .resolve_bool_value("new_search_enabled", &customer())
                .await
                .unwrap()
        ),
        EvaluationReason::Split
    );
    // A prerequisite off.
    assert_eq!(
        reason(
            provider
                .resolve_bool_value("comment_reactions_enabled", &customer())
                .await
                .unwrap()
        ),
        EvaluationReason::Disabled
    );
    // The environment's value; then flags.toml's default, in development.
    let upload = provider
        .resolve_int_value("max_upload_mb", &customer())
        .await
        .unwrap();
    assert_eq!(upload.reason, Some(EvaluationReason::Static));
    let development = FlagsProvider::new(runtime("development"));
    let upload = development
        .resolve_int_value("max_upload_mb", &customer())
        .await
        .unwrap();
    assert_eq!(upload.reason, Some(EvaluationReason::Default));
    // An override, such as a kill switch, is the same for everyone.
    provider.runtime().set_override(COMMENTS, false).unwrap();
    let killed = provider
        .resolve_bool_value(COMMENTS, &staff())
        .await
        .unwrap();
    assert!(!killed.value);
    assert_eq!(killed.reason, Some(EvaluationReason::Static));
}

#[tokio::test]
async fn requirement_2_2_6_and_2_3_2_normal_resolution_has_no_error() {
    // The SDK's resolution details have no error field: normal execution is `Ok`.
    let provider = production();
    for key in [COMMENTS, "new_search_enabled", "comment_reactions_enabled"] {
        assert!(
            provider.resolve_bool_value(key, &staff()).await.is_ok(),
            "{key}"
        );
    }
}

#[tokio::test]
async fn requirement_2_2_7_abnormal_resolution_is_an_error_with_its_code() {
    let provider = production();
    let code = |result: Result<_, open_feature::EvaluationError>| {
        result
            .map(|_: ResolutionDetails<bool>| ())
            .unwrap_err()
            .code
    };
    assert_eq!(
        code(
            provider
                .resolve_bool_value("new_serch_enabled", &staff())
                .await
        ),
        EvaluationErrorCode::FlagNotFound
    );
    // A rollout by key, for a context without one.
    let anonymous = EvaluationContext::default().with_custom_field("email", "x@customer.test");
    assert_eq!(
        code(
            provider
                .resolve_bool_value("new_search_enabled", &anonymous)
                .await
        ),
        EvaluationErrorCode::TargetingKeyMissing
    );
    // A rollout by organisation, for a context without one.
    assert_eq!(
        code(
            provider
                .resolve_bool_value("org_reports_enabled", &staff())
                .await
        ),
        EvaluationErrorCode::InvalidContext
    );
    // With the organisation, the same flag resolves.
    let member = staff().with_custom_field("org_id", "org-7");
    let reports = provider
        .resolve_bool_value("org_reports_enabled", &member)
        .await
        .unwrap();
    assert_eq!(reports.reason, Some(EvaluationReason::Split));
    // A structure the flags cannot compare.
    let structured = staff().with_custom_field(
        "address",
        EvaluationContextFieldValue::new_struct(("Main St", 1)),
    );
    assert_eq!(
        code(provider.resolve_bool_value(COMMENTS, &structured).await),
        EvaluationErrorCode::InvalidContext
    );
}

#[tokio::test]
async fn requirement_2_2_7_type_mismatch_for_every_other_type() {
    let provider = production();
    let context = staff();
    let code = |error: open_feature::EvaluationError| error.code;
    let mismatch = EvaluationErrorCode::TypeMismatch;
    let p = &provider;
    let c = &context;
    let cases = [
        (
            COMMENTS,
            "int",
            p.resolve_int_value(COMMENTS, c)
                .await
                .map(|_| ())
                .map_err(code),
        ),
        (
            "max_upload_mb",
            "bool",
            p.resolve_bool_value("max_upload_mb", c)
                .await
                .map(|_| ())
                .map_err(code),
        ),
        // A float is no integer.
        (
            "search_sample_rate",
            "int",
            p.resolve_int_value("search_sample_rate", c)
                .await
                .map(|_| ())
                .map_err(code),
        ),
        (
            COMMENTS,
            "string",
            p.resolve_string_value(COMMENTS, c)
                .await
                .map(|_| ())
                .map_err(code),
        ),
        (
            "checkout_flow",
            "float",
            p.resolve_float_value("checkout_flow", c)
                .await
                .map(|_| ())
                .map_err(code),
        ),
        // Flags have no structures.
        (
            COMMENTS,
            "struct",
            p.resolve_struct_value(COMMENTS, c)
                .await
                .map(|_| ())
                .map_err(code),
        ),
    ];
    for (flag, asked, result) in cases {
        assert_eq!(result, Err(mismatch.clone()), "{flag} as {asked}");
    }
    // An unknown flag is not found before anything else.
    assert_eq!(
        code(p.resolve_struct_value("nothing", c).await.unwrap_err()),
        EvaluationErrorCode::FlagNotFound
    );
}

#[tokio::test]
async fn requirement_2_3_3_error_message_says_what_is_wrong() {
    let provider = production();
    let message = |error: open_feature::EvaluationError| error.message.unwrap_or_default();
    let unknown = provider
        .resolve_bool_value("new_serch_enabled", &staff())
        .await
        .unwrap_err();
    assert_eq!(
        message(unknown),
        "unknown flag `new_serch_enabled`; did you mean `new_search_enabled`?"
    );
    let mismatch = provider
        .resolve_string_value("max_upload_mb", &staff())
        .await
        .unwrap_err();
    assert_eq!(
        message(mismatch),
        "flag `max_upload_mb` is an integer, not a string"
    );
    let no_key = provider
        .resolve_bool_value("new_search_enabled", &EvaluationContext::default())
        .await
        .unwrap_err();
    assert_eq!(
        message(no_key),
        "error (the rollout is by key, and the context has none): default served"
    );
    let big = (0..=MAX_ATTRIBUTES).fold(staff(), |context, n| {
        context.with_custom_field(format!("a{n}"), n as i64)
    });
    let too_many = provider
        .resolve_bool_value(COMMENTS, &big)
        .await
        .unwrap_err();
    assert_eq!(too_many.code, EvaluationErrorCode::InvalidContext);
    assert!(message(too_many).contains("more than 256 attributes"));
}

#[tokio::test]
async fn requirement_2_2_8_1_resolution_details_are_typed() {
    let provider = production();
    let details: ResolutionDetails<i64> = provider
        .resolve_int_value("max_upload_mb", &staff())
        .await
        .unwrap();
    assert_eq!(details.value, 25_i64);
}

#[tokio::test]
async fn requirement_2_2_9_and_2_2_10_flag_metadata_owner_ticket_expiry() {
    let provider = production();
    let details = provider
        .resolve_bool_value(COMMENTS, &staff())
        .await
        .unwrap();
    let metadata = details.flag_metadata.unwrap().values;
    assert_eq!(
        metadata.get("owner"),
        Some(&FlagMetadataValue::String("tasks".into()))
    );
    assert_eq!(
        metadata.get("ticket"),
        Some(&FlagMetadataValue::String("TASKS-103".into()))
    );
    assert_eq!(
        metadata.get("expires"),
        Some(&FlagMetadataValue::String("2029-06-30".into()))
    );
    // What a flag does not declare is left out.
    let upload = provider
        .resolve_int_value("max_upload_mb", &staff())
        .await
        .unwrap();
    assert!(upload.flag_metadata.unwrap().values.is_empty());
}

#[tokio::test]
async fn requirement_2_3_1_provider_hooks_none() {
    assert!(production().hooks().is_empty());
}

#[tokio::test]
async fn requirement_2_4_1_initialize_starts_the_runtime_and_status_is_ready() {
    let mut provider = production();
    provider.initialize(&EvaluationContext::default()).await;
    assert_eq!(provider.runtime().environment(), Some("production"));
    assert_eq!(provider.status(), ProviderStatus::Ready);
}

#[tokio::test]
async fn requirement_3_1_1_targeting_key_is_the_context_key() {
    let provider = production();
    // Segment `beta` lists keys; the targeting key is what it is compared with.
    provider.runtime().add_to_segment("beta", "u-2").unwrap();
    let beta = provider
        .resolve_bool_value(COMMENTS, &customer())
        .await
        .unwrap();
    assert!(beta.value);
    assert_eq!(beta.reason, Some(EvaluationReason::TargetingMatch));
    // The same user under another key is not in the segment.
    let other = customer().with_targeting_key("u-3");
    assert!(
        !provider
            .resolve_bool_value(COMMENTS, &other)
            .await
            .unwrap()
            .value
    );
    // An empty key is no key.
    let empty = customer().with_targeting_key("");
    assert_eq!(
        provider
            .resolve_bool_value("new_search_enabled", &empty)
            .await
            .unwrap_err()
            .code,
        EvaluationErrorCode::TargetingKeyMissing
    );
}

#[tokio::test]
async fn requirement_3_1_2_fields_of_every_kind_are_attributes() {
    let toml = r#"
[environments]
names = ["production"]
variable = "APP_ENV"
default = "production"

[flags.everything_enabled]
description = "On for a context with every kind of attribute"
default = false

[[flags.everything_enabled.production.rules]]
when = [
    { attribute = "plan", op = "equals", value = "pro" },
    { attribute = "seats", op = ">=", value = 10 },
    { attribute = "ratio", op = "<", value = 0.5 },
    { attribute = "verified", op = "equals", value = true },
    { attribute = "signed_up", op = "before", value = 2030-01-01T00:00:00Z },
    { attribute = "roles", op = "contains", value = "admin" },
    { attribute = "app_version", op = "semver_ge", value = "2.1.0" },
]
serve = true
"#;
    let provider = FlagsProvider::new(runtime_in("production", toml));
    let signed_up = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let context = EvaluationContext::default()
        .with_targeting_key("acct-1")
        .with_custom_field("plan", "pro")
        .with_custom_field("seats", 12_i64)
        .with_custom_field("ratio", 0.25)
        .with_custom_field("verified", true)
        .with_custom_field(
            "signed_up",
            EvaluationContextFieldValue::DateTime(signed_up.into()),
        )
        .with_custom_field(
            "roles",
            EvaluationContextFieldValue::new_struct(vec!["admin".to_owned(), "billing".to_owned()]),
        )
        .with_custom_field("app_version", "2.3.1");
    let details = provider
        .resolve_bool_value("everything_enabled", &context)
        .await
        .unwrap();
    assert!(details.value, "every condition holds");
    assert_eq!(details.reason, Some(EvaluationReason::TargetingMatch));
    // A date-time as RFC 3339 text, as JSON clients send one, is a date-time; other text is not.
    for (text, matches) in [
        ("2023-11-14T22:13:20Z", true),
        ("2023-11-15T00:13:20+02:00", true),
        ("2031-01-01T00:00:00Z", false),
        ("2023-11-14", false),
        ("last week", false),
    ] {
        let signed_up = context.clone().with_custom_field("signed_up", text);
        let value = provider
            .resolve_bool_value("everything_enabled", &signed_up)
            .await
            .unwrap()
            .value;
        assert_eq!(value, matches, "signed_up = {text:?}");
    }
    // One attribute of another kind than its condition's: the rule does not match.
    let fewer_seats = context.clone().with_custom_field("seats", "12");
    assert!(
        !provider
            .resolve_bool_value("everything_enabled", &fewer_seats)
            .await
            .unwrap()
            .value
    );
}

#[tokio::test]
async fn configuration_changes_reach_the_next_resolution() {
    let provider = production();
    let before = provider
        .resolve_int_value("max_upload_mb", &staff())
        .await
        .unwrap();
    assert_eq!(before.value, 25);
    provider
        .runtime()
        .set_override("max_upload_mb", 100)
        .unwrap();
    let after = provider
        .resolve_int_value("max_upload_mb", &staff())
        .await
        .unwrap();
    assert_eq!(after.value, 100);
    assert_eq!(after.reason, Some(EvaluationReason::Static));
}

/// Through the SDK's client, as an application calls it: values with the details, and the
/// application's default on every error (requirement 1.4.10 of the client, with this
/// provider's errors).
#[tokio::test]
async fn the_sdk_client_over_the_provider() {
    let mut api = OpenFeature::default();
    api.set_provider(production()).await;
    let client = api.create_client();
    let ada = staff();
    assert!(
        client
            .get_bool_value(COMMENTS, Some(&ada), None)
            .await
            .unwrap()
    );
    let details = client
        .get_string_details("checkout_flow", Some(&ada), None)
        .await
        .unwrap();
    assert_eq!(details.value, "express");
    assert_eq!(details.variant.as_deref(), Some("express"));
    assert_eq!(details.reason, Some(EvaluationReason::Static));
    assert_eq!(
        details.flag_metadata.values.get("owner"),
        Some(&FlagMetadataValue::String("payments".into()))
    );
    let unknown = client
        .get_bool_value("nothing_enabled", Some(&ada), None)
        .await;
    assert_eq!(
        unknown.clone().unwrap_err().code,
        EvaluationErrorCode::FlagNotFound
    );
    assert!(unknown.unwrap_or(true), "the application's default");
    let wrong = client.get_int_value(COMMENTS, Some(&ada), None).await;
    assert_eq!(
        wrong.clone().unwrap_err().code,
        EvaluationErrorCode::TypeMismatch
    );
    assert_eq!(wrong.unwrap_or(7), 7);
    // The global context, merged by the client, is the context too.
    let mut api = OpenFeature::default();
    api.set_evaluation_context(customer()).await;
    api.set_provider(production()).await;
    let client = api.create_client();
    assert!(!client.get_bool_value(COMMENTS, None, None).await.unwrap());
}
