//! What OpenFeature costs on top of a flag check: in process, through `FlagsProvider` and the
//! `open-feature` SDK's client, against the runtime's own evaluation of the same flag and
//! against the SDK over its `NoOpProvider` (OpenFeature's own cost per call, the floor under
//! any provider); and over HTTP, OFREP requests to a real server on 127.0.0.1.
//!
//! `cargo bench -p flags-benches --bench openfeature`
//!
//! The flags are those of `benches/flags.toml` in production: `internal_enabled` (a rule,
//! `email ends_with "@example.com"`, which matches) and `untargeted_enabled` (no targeting,
//! `true` in production). The context is the targeting key `u-1` and `email` =
//! `ada@example.com`: a `flags::Context` for the runtime, an `EvaluationContext` for
//! OpenFeature, `{"context": {"targetingKey": "u-1", "email": "ada@example.com"}}` over OFREP.
//!
//! **In process** (group `openfeature provider`), the async calls run on a current-thread
//! tokio runtime through criterion's `to_async`: one `block_on` per batch of iterations, each
//! iteration one call awaited in the batch's loop. So the figures are the calls themselves
//! (the boxed future of `async_trait`, the SDK's locks, clones and hooks), without the cost
//! of entering a runtime per call, which an application that is already async does not pay.
//! The calls never wait for anything: the SDK's locks are uncontended.
//!
//! **Over loopback** (group `ofrep over loopback`), the server is `axum::serve` of
//! `Ofrep::new(runtime).public().router()` on a tokio runtime of its own (one worker
//! thread), on a random port of 127.0.0.1, with `TCP_NODELAY` as axum recommends. The client
//! is `reqwest` (HTTP/1.1) on a current-thread runtime, again through `to_async`: requests
//! one after another on one kept-alive connection (the bench checks that the server accepted
//! exactly one), each answer read to its end and its status checked (`200`, or `304`), so a
//! broken server cannot give a fast figure. Throughput is one request per iteration, so
//! criterion reports requests per second. Each request wakes the server's thread, then the
//! client's: where idle cores sleep (a VM's vCPUs especially), that wake-up latency can be
//! most of the figure, which is then lower on a busy machine than on a quiet one. The bulk
//! answer holds the 4 flags of `benches/flags.toml`; the `304` is the bulk request with
//! `If-None-Match` of its `ETag`.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::serve::ListenerExt as _;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flags::axum::ofrep::Ofrep;
use flags::openfeature::FlagsProvider;
use open_feature::provider::{FeatureProvider, NoOpProvider};
use open_feature::{EvaluationContext, EvaluationReason, OpenFeature};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use tokio::runtime::Runtime;

flags::declare!();

/// The flag with a rule.
const RULE: &str = "internal_enabled";
/// The flag without targeting.
const UNTARGETED: &str = "untargeted_enabled";
/// How many flags `benches/flags.toml` declares: the bulk answer lists them all.
const FLAG_COUNT: usize = 4;
/// The OFREP request body: the same context as in process.
const BODY: &str = r#"{"context":{"targetingKey":"u-1","email":"ada@example.com"}}"#;

/// A current-thread runtime, for the calls measured (and the HTTP client).
fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread tokio runtime")
}

fn provider(c: &mut Criterion) {
    Flags::init().expect("a valid environment");
    let runtime = Flags::runtime();
    let executor = current_thread();

    let context = flags::Context::new("u-1").with("email", "ada@example.com");
    let evaluation_context = EvaluationContext::default()
        .with_targeting_key("u-1")
        .with_custom_field("email", "ada@example.com");

    let provider = FlagsProvider::new(runtime);
    let client = executor.block_on(async {
        let mut api = OpenFeature::default();
        api.set_provider(FlagsProvider::new(runtime)).await;
        api.create_client()
    });
    let no_op_client = executor.block_on(async {
        let mut api = OpenFeature::default();
        api.set_provider(NoOpProvider::default()).await;
        api.create_client()
    });

    // Every path gives the same answer before anything is measured.
    let snapshot = runtime.snapshot();
    for (key, reason) in [
        (RULE, EvaluationReason::TargetingMatch),
        (UNTARGETED, EvaluationReason::Static),
    ] {
        let (index, _) = runtime.catalog().find(key).expect("a declared flag");
        assert_eq!(
            snapshot.evaluate(index, Some(&context)).value,
            flags::Value::Bool(true)
        );
        let details = executor
            .block_on(provider.resolve_bool_value(key, &evaluation_context))
            .expect("the provider resolves the flag");
        assert!(details.value);
        assert_eq!(details.reason, Some(reason));
        let value = executor.block_on(client.get_bool_value(key, Some(&evaluation_context), None));
        assert_eq!(value, Ok(true), "the SDK's client over FlagsProvider");
    }
    assert!(Flags::internal_enabled_for(&context));
    assert!(Flags::untargeted_enabled_for(&context));
    assert!(
        executor
            .block_on(no_op_client.get_bool_value(RULE, Some(&evaluation_context), None))
            .is_err(),
        "NoOpProvider answers every flag with an error (PROVIDER_NOT_READY)"
    );

    let mut group = c.benchmark_group("openfeature provider");
    group.bench_function(format!("{RULE}: Flags::{RULE}_for(&context)"), |b| {
        b.iter(|| black_box(Flags::internal_enabled_for(black_box(&context))))
    });
    group.bench_function(
        format!("{UNTARGETED}: Flags::{UNTARGETED}_for(&context)"),
        |b| b.iter(|| black_box(Flags::untargeted_enabled_for(black_box(&context)))),
    );
    for key in [RULE, UNTARGETED] {
        let (index, _) = runtime.catalog().find(key).expect("a declared flag");
        group.bench_function(
            format!("{key}: runtime.snapshot().evaluate(index, Some(&context))"),
            |b| {
                b.iter(|| {
                    black_box(
                        runtime
                            .snapshot()
                            .evaluate(black_box(index), Some(black_box(&context))),
                    )
                })
            },
        );
        group.bench_function(
            format!("{key}: FlagsProvider::resolve_bool_value (no SDK client)"),
            |b| {
                b.to_async(&executor).iter(|| {
                    provider.resolve_bool_value(black_box(key), black_box(&evaluation_context))
                })
            },
        );
        group.bench_function(
            format!("{key}: SDK client get_bool_value over FlagsProvider"),
            |b| {
                b.to_async(&executor).iter(|| {
                    client.get_bool_value(
                        black_box(key),
                        Some(black_box(&evaluation_context)),
                        None,
                    )
                })
            },
        );
    }
    group.bench_function(
        format!("{RULE}: SDK client get_bool_value over NoOpProvider (an error)"),
        |b| {
            b.to_async(&executor).iter(|| {
                no_op_client.get_bool_value(
                    black_box(RULE),
                    Some(black_box(&evaluation_context)),
                    None,
                )
            })
        },
    );
    group.finish();
}

/// One POST of [`BODY`] to `url`, its answer read to the end: the status, the `ETag`, the
/// body.
async fn post(
    client: &reqwest::Client,
    url: &str,
    if_none_match: Option<&str>,
) -> reqwest::Result<(StatusCode, Option<String>, String)> {
    let mut request = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .body(BODY);
    if let Some(tag) = if_none_match {
        request = request.header(IF_NONE_MATCH, tag);
    }
    let response = request.send().await?;
    let status = response.status();
    let etag = response
        .headers()
        .get(ETAG)
        .and_then(|tag| tag.to_str().ok())
        .map(str::to_owned);
    Ok((status, etag, response.text().await?))
}

/// The status of one request, its body read to the end (as a client does, and so that the
/// connection can carry the next request).
async fn status(request: reqwest::RequestBuilder) -> reqwest::Result<StatusCode> {
    let response = request.send().await?;
    let status = response.status();
    response.bytes().await?;
    Ok(status)
}

fn ofrep(c: &mut Criterion) {
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime for the server");
    let connections = Arc::new(AtomicUsize::new(0));
    let accepted = connections.clone();
    let listener = server
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a free port on 127.0.0.1");
    let address = listener.local_addr().expect("the listener's address");
    let listener = listener.tap_io(move |stream| {
        accepted.fetch_add(1, Ordering::Relaxed);
        stream.set_nodelay(true).expect("TCP_NODELAY");
    });
    let router = Ofrep::new(Flags::runtime()).public().router();
    server.spawn(async move { axum::serve(listener, router).await });

    let executor = current_thread();
    let client = reqwest::Client::new();
    let one = format!("http://{address}/ofrep/v1/evaluate/flags/{RULE}");
    let bulk = format!("http://{address}/ofrep/v1/evaluate/flags");

    // The answers are right before anything is measured, and the bulk answer's ETag is kept.
    let (code, _, body) = executor
        .block_on(post(&client, &one, None))
        .expect("the single-flag request is answered");
    assert_eq!(code, StatusCode::OK, "{body}");
    assert!(
        body.contains(r#""value":true"#) && body.contains(r#""reason":"TARGETING_MATCH""#),
        "{body}"
    );
    let (code, etag, body) = executor
        .block_on(post(&client, &bulk, None))
        .expect("the bulk request is answered");
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body.matches(r#""key":"#).count(), FLAG_COUNT, "{body}");
    let etag = etag.expect("the bulk answer has an ETag");
    let (code, _, _) = executor
        .block_on(post(&client, &bulk, Some(&etag)))
        .expect("the conditional bulk request is answered");
    assert_eq!(code, StatusCode::NOT_MODIFIED);

    let request = |url: &str| {
        client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(BODY)
    };
    let mut group = c.benchmark_group("ofrep over loopback");
    group.throughput(Throughput::Elements(1));
    group.bench_function(format!("POST /ofrep/v1/evaluate/flags/{RULE} (200)"), |b| {
        b.to_async(&executor).iter(|| async {
            let answer = status(request(&one)).await;
            assert!(matches!(answer, Ok(StatusCode::OK)), "{answer:?}");
        })
    });
    group.bench_function(
        format!("POST /ofrep/v1/evaluate/flags, {FLAG_COUNT} flags (200)"),
        |b| {
            b.to_async(&executor).iter(|| async {
                let answer = status(request(&bulk)).await;
                assert!(matches!(answer, Ok(StatusCode::OK)), "{answer:?}");
            })
        },
    );
    group.bench_function(
        "POST /ofrep/v1/evaluate/flags, If-None-Match its ETag (304)",
        |b| {
            b.to_async(&executor).iter(|| async {
                let answer = status(request(&bulk).header(IF_NONE_MATCH, &etag)).await;
                assert!(matches!(answer, Ok(StatusCode::NOT_MODIFIED)), "{answer:?}");
            })
        },
    );
    group.finish();

    let accepted = connections.load(Ordering::Relaxed);
    assert_eq!(
        accepted, 1,
        "every request went over one kept-alive connection"
    );
}

criterion_group!(benches, provider, ofrep);
criterion_main!(benches);
