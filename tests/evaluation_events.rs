//! Evaluation events through the generated `Flags`: listeners hear of every check (the
//! one-load ones too) while registered, `tracing` gets OpenTelemetry's field names, and
//! neither carries anything of the user.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use flags::{Context, EvaluationCounter, EvaluationReason, Value};

flags::declare!("tests/fixtures/targeting.toml");

/// Listeners and overrides are process-wide: the tests take turns.
static TURN: Mutex<()> = Mutex::new(());

fn take_turn() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn staff() -> Context {
    Context::new("u-secret-1").with("email", "ada@example.com")
}

fn customer() -> Context {
    Context::new("u-secret-2").with("email", "bob@customer.test")
}

#[test]
fn a_counter_counts_each_flag_and_value_while_registered() {
    let _turn = take_turn();
    let runtime = Flags::runtime();
    let counter = Arc::new(EvaluationCounter::new());
    let id = runtime.add_listener(counter.clone());

    for _ in 0..3 {
        assert!(Flags::comments_enabled_for(&staff()));
    }
    assert!(!Flags::comments_enabled_for(&customer()));
    // A flag the same for everyone is read from its word: still counted.
    runtime.set_override("export_enabled", true).unwrap();
    for _ in 0..5 {
        assert!(Flags::export_enabled());
    }
    assert_eq!(counter.count("comments_enabled", &Value::Bool(true)), 3);
    assert_eq!(counter.count("comments_enabled", &Value::Bool(false)), 1);
    assert_eq!(counter.count("export_enabled", &Value::Bool(true)), 5);

    runtime.remove_listener(id);
    assert!(Flags::export_enabled());
    assert!(Flags::comments_enabled_for(&staff()));
    assert_eq!(
        counter.count("export_enabled", &Value::Bool(true)),
        5,
        "not counted once removed"
    );
    assert_eq!(counter.count("comments_enabled", &Value::Bool(true)), 3);

    let taken = counter.take();
    assert_eq!(taken.len(), 3, "{taken:?}");
    assert!(counter.counts().is_empty());
    runtime.clear_override("export_enabled").unwrap();
}

#[test]
fn listeners_hear_the_reason_and_never_the_user() {
    let _turn = take_turn();
    let runtime = Flags::runtime();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&heard);
    let id = runtime.add_listener(Arc::new(move |event: &flags::EvaluationEvent<'_>| {
        sink.lock()
            .unwrap()
            .push((event.flag(), event.value().clone(), event.reason()));
    }));
    Flags::comments_enabled_for(&staff());
    Flags::comments_enabled_for(&customer());
    Flags::layout_for(&Context::new("u-9").with("org", "acme"));
    // The rollout is by `org`, which this context lacks: the default, as an error.
    Flags::layout_for(&Context::new("u-10"));
    runtime.remove_listener(id);

    let heard = heard.lock().unwrap();
    assert_eq!(
        heard[..2],
        [
            (
                "comments_enabled",
                Value::Bool(true),
                EvaluationReason::TargetingMatch
            ),
            (
                "comments_enabled",
                Value::Bool(false),
                EvaluationReason::Default
            ),
        ]
    );
    assert_eq!(heard[2].0, "layout");
    assert_eq!(heard[2].2, EvaluationReason::Split);
    assert_eq!(EvaluationReason::Split.as_str(), "split");
    assert_eq!(
        heard[3],
        (
            "layout",
            Value::Variant {
                index: 0,
                name: "classic".into()
            },
            EvaluationReason::Error
        )
    );
}

/// Records the fields of every event of the evaluation target.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<Vec<(String, String)>>>,
    spans: AtomicUsize,
}

struct Fields(Vec<(String, String)>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == flags::EVALUATION_TARGET
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(self.spans.fetch_add(1, Ordering::Relaxed) as u64 + 1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        assert_eq!(*event.metadata().level(), tracing::Level::DEBUG);
        assert_eq!(event.metadata().name(), "feature_flag.evaluation");
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        self.events.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn tracing_events_use_open_telemetry_field_names() {
    let _turn = take_turn();
    let recorder = Arc::new(Recorder::default());
    tracing::subscriber::with_default(Arc::clone(&recorder), || {
        Flags::comments_enabled_for(&staff());
        Flags::layout_for(&Context::new("u-9").with("org", "acme"));
    });
    let events = recorder.events.lock().unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    let field = |event: &[(String, String)], name: &str| {
        event
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no field {name} in {event:?}"))
    };
    assert_eq!(field(&events[0], "feature_flag.key"), "comments_enabled");
    assert_eq!(field(&events[0], "feature_flag.provider.name"), "flags");
    assert_eq!(field(&events[0], "feature_flag.result.value"), "true");
    assert_eq!(
        field(&events[0], "feature_flag.result.reason"),
        "targeting_match"
    );
    assert!(
        field(&events[0], "feature_flag.version")
            .parse::<u64>()
            .is_ok()
    );
    assert_eq!(field(&events[1], "feature_flag.key"), "layout");
    let variant = field(&events[1], "feature_flag.result.variant");
    assert!(
        ["classic", "compact"].contains(&variant.as_str()),
        "{variant}"
    );
    assert_eq!(field(&events[1], "feature_flag.result.reason"), "split");
    for event in events.iter() {
        for (name, value) in event {
            assert!(
                !value.contains("u-secret") && !value.contains("example.com"),
                "{name} = {value} leaks the user"
            );
        }
    }
}
