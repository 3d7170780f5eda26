//! OFREP as `flags serve` exposes it: per environment by path, with tokens of its own,
//! evaluated by the console's runtime of that environment, so that a change made in the
//! console is in the next answer.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const COMMENTS: &str = "product-TASKS-103-comments";

async fn evaluate(base: &str, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    let response = client()
        .post(format!("{base}{path}"))
        .header("authorization", format!("Bearer {token}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn ofrep_per_environment_follows_the_changes_made_in_the_console() {
    let Some(redis) =
        RedisServer::start("ofrep_per_environment_follows_the_changes_made_in_the_console")
    else {
        return;
    };
    let base = start_console_with(&redis, |config| {
        config
            .ofrep_token(OFREP_TOKEN)
            .ofrep_origin("http://app.test:3000")
    })
    .await;
    let customer = json!({ "context": { "targetingKey": "u-2", "email": "bob@customer.test" } });
    let production = format!("/environments/production/ofrep/v1/evaluate/flags/{COMMENTS}");
    let (status, answer) = evaluate(&base, &production, OFREP_TOKEN, customer.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["value"], false);
    // Development has comments for everyone.
    let development = format!("/environments/development/ofrep/v1/evaluate/flags/{COMMENTS}");
    let (_, answer) = evaluate(&base, &development, OFREP_TOKEN, customer.clone()).await;
    assert_eq!(answer["value"], true);
    assert_eq!(answer["reason"], "STATIC");
    let (status, bulk) = evaluate(
        &base,
        "/environments/staging/ofrep/v1/evaluate/flags",
        OFREP_TOKEN,
        customer.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bulk["metadata"]["environment"], "staging");

    // Turned on in production from the console: the next answer has it.
    let editor = Session::login(&base, EDITOR).await;
    let (status, _) = editor
        .post(
            &format!("/environments/production/flags/{COMMENTS}/value"),
            &[("value", "true")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, answer) = evaluate(&base, &production, OFREP_TOKEN, customer.clone()).await;
    assert_eq!(answer["value"], true);
    assert_eq!(answer["reason"], "STATIC");

    // An unknown environment is no route; console tokens are not OFREP tokens, nor the
    // other way round.
    let (status, _) = evaluate(
        &base,
        "/environments/prod/ofrep/v1/evaluate/flags",
        OFREP_TOKEN,
        customer.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = evaluate(&base, &production, EDITOR, customer.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let response = post_login(&client(), &base, OFREP_TOKEN).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "no login with an OFREP token"
    );

    // Pages of the origin given may call it; the console's own pages keep their headers.
    let preflight = client()
        .request(reqwest::Method::OPTIONS, format!("{base}{production}"))
        .header("origin", "http://app.test:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://app.test:3000"
    );
    let login = client().get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(login.headers()["x-frame-options"], "DENY");
    assert_eq!(login.headers().get("access-control-allow-origin"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_ofrep_tokens_there_are_no_ofrep_routes() {
    let Some(redis) = RedisServer::start("without_ofrep_tokens_there_are_no_ofrep_routes") else {
        return;
    };
    let base = start_console(&redis).await;
    let (status, _) = evaluate(
        &base,
        "/environments/production/ofrep/v1/evaluate/flags",
        OFREP_TOKEN,
        json!({ "context": {} }),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
