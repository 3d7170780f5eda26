//! Webhooks that change segments: Intercom's tag notifications, and a generic JSON one.
//!
//! Intercom signs each notification with `X-Hub-Signature: sha1=<hex>`, the HMAC-SHA1 of the
//! raw body keyed with the app's client secret. It is checked over the raw bytes before
//! anything is parsed. A notification already applied (its `id`), or created longer ago than
//! the configured age, is a replay: refused, nothing changes. Every refusal is logged.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use flags_runtime::store::{Actor, StoreError};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::Console;
use crate::changes::{MAX_KEY_LEN, refusal};
use crate::config::IntercomKey;

/// How long a notification's id is remembered, to refuse it again: longer than Intercom
/// retries a delivery.
const SEEN_FOR: u64 = 8 * 24 * 3600;

/// A webhook's refusal: a status and a JSON body saying why. Logged.
fn refused(webhook: &str, status: StatusCode, message: String) -> Response {
    tracing::warn!(
        webhook,
        status = status.as_u16(),
        "webhook refused: {message}"
    );
    (status, Json(json!({ "changed": false, "error": message }))).into_response()
}

/// Whether `signature` (`sha1=<hex>`) is the HMAC-SHA1 of `body` under `secret`.
fn signed(secret: &str, body: &[u8], signature: &str) -> bool {
    let Some(hex) = signature.strip_prefix("sha1=") else {
        return false;
    };
    let Some(given) = decode_hex(hex.trim()) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    // Constant time.
    mac.verify_slice(&given).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// `POST /webhooks/intercom`: `user.tag.created` adds the user to the tag's segment,
/// `user.tag.deleted` removes them.
pub(crate) async fn intercom(
    State(console): State<Console>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const NAME: &str = "intercom";
    let Some(intercom) = console.inner().intercom.clone() else {
        return refused(
            NAME,
            StatusCode::NOT_FOUND,
            "the Intercom webhook is not configured (--intercom-secret)".into(),
        );
    };
    let signature = headers
        .get("x-hub-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !signed(&intercom.secret, &body, signature) {
        return refused(
            NAME,
            StatusCode::UNAUTHORIZED,
            "the X-Hub-Signature header is missing or does not match the body".into(),
        );
    }
    let Ok(notification) = serde_json::from_slice::<Value>(&body) else {
        return refused(NAME, StatusCode::BAD_REQUEST, "the body is not JSON".into());
    };
    let text = |pointer: &str| notification.pointer(pointer).and_then(Value::as_str);
    let topic = text("/topic").unwrap_or("");
    let add = match topic {
        "user.tag.created" => true,
        "user.tag.deleted" => false,
        "ping" => {
            return (
                StatusCode::OK,
                Json(json!({ "changed": false, "ping": true })),
            )
                .into_response();
        }
        other => {
            return refused(
                NAME,
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "topic `{other}` is not handled: subscribe to user.tag.created and user.tag.deleted"
                ),
            );
        }
    };
    let Some(id) = text("/id").filter(|id| !id.is_empty() && id.len() <= 200) else {
        return refused(
            NAME,
            StatusCode::UNPROCESSABLE_ENTITY,
            "the notification has no id".into(),
        );
    };
    let Some(created_at) = notification.pointer("/created_at").and_then(Value::as_u64) else {
        return refused(
            NAME,
            StatusCode::UNPROCESSABLE_ENTITY,
            "the notification has no created_at".into(),
        );
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    if now.saturating_sub(created_at) > intercom.max_age.as_secs() {
        return refused(
            NAME,
            StatusCode::CONFLICT,
            format!(
                "notification {id} was created {} s ago, more than the {} s accepted: a replay",
                now.saturating_sub(created_at),
                intercom.max_age.as_secs()
            ),
        );
    }
    let Some(tag) = text("/data/item/tag/name") else {
        return refused(
            NAME,
            StatusCode::UNPROCESSABLE_ENTITY,
            "the notification has no data.item.tag.name".into(),
        );
    };
    let Some(segment) = intercom.tags.get(tag).cloned() else {
        return refused(
            NAME,
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("tag `{tag}` is mapped to no segment (--intercom-tag)"),
        );
    };
    let (field, pointer) = match intercom.key {
        IntercomKey::UserId => ("user_id", "/data/item/user/user_id"),
        IntercomKey::Email => ("email", "/data/item/user/email"),
    };
    let Some(key) = text(pointer).filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN) else {
        return refused(
            NAME,
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the tagged user has no {field}"),
        );
    };
    let (environment, key, id) = (intercom.environment.clone(), key.to_owned(), id.to_owned());
    let worker = console.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let stores = &worker.inner().stores;
        let Some(env) = stores.environment(&environment) else {
            return Err(refusal(StoreError::UnknownEnvironment {
                name: environment,
                allowed: Vec::new(),
            }));
        };
        let seen = stores
            .with_store(env, Actor::new("intercom", "webhook"), |store| {
                store.remember(&format!("intercom:{id}"), SEEN_FOR)
            })
            .map_err(refusal)?;
        if !seen {
            return Ok(None);
        }
        let written = stores.with_store(env, Actor::new("intercom", "webhook"), |store| {
            if add {
                store.segment_add(&segment, &key)
            } else {
                store.segment_remove(&segment, &key)
            }
        });
        match written {
            Ok(version) => Ok(Some((segment, key, version, environment))),
            Err(error) => {
                // Not applied: let a retry of the same notification apply it.
                let _ = stores.with_store(env, Actor::new("intercom", "webhook"), |store| {
                    store.forget(&format!("intercom:{id}"))
                });
                Err(refusal(error))
            }
        }
    })
    .await;
    match outcome {
        Ok(Ok(Some((segment, key, version, environment)))) => {
            tracing::info!(%segment, %key, %environment, "intercom: segment changed");
            Json(json!({
                "changed": true,
                "segment": segment,
                "key": key,
                "environment": environment,
                "action": if add { "add" } else { "remove" },
                "version": version,
            }))
            .into_response()
        }
        Ok(Ok(None)) => refused(
            NAME,
            StatusCode::CONFLICT,
            "this notification was applied already: a replay".into(),
        ),
        Ok(Err(refusal)) => refused(NAME, refusal.status, refusal.message),
        Err(_) => refused(
            NAME,
            StatusCode::INTERNAL_SERVER_ERROR,
            "the change failed".into(),
        ),
    }
}

#[derive(Deserialize)]
struct SegmentChange {
    environment: String,
    segment: String,
    key: String,
    #[serde(default = "add")]
    action: String,
    #[serde(default)]
    actor: Option<String>,
}

fn add() -> String {
    "add".to_owned()
}

/// `POST /webhooks/segments` with `Authorization: Bearer <token>` and
/// `{"environment", "segment", "key", "action": "add"|"remove", "actor"}`.
pub(crate) async fn segments(
    State(console): State<Console>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const NAME: &str = "segments";
    let Some(expected) = console.inner().webhook_token.clone() else {
        return refused(
            NAME,
            StatusCode::NOT_FOUND,
            "the segment webhook is not configured (--webhook-token-file)".into(),
        );
    };
    let given = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let same =
        given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()));
    if !same {
        return refused(
            NAME,
            StatusCode::UNAUTHORIZED,
            "send the webhook token: Authorization: Bearer <token>".into(),
        );
    }
    let change: SegmentChange = match serde_json::from_slice(&body) {
        Ok(change) => change,
        Err(error) => {
            return refused(
                NAME,
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "the body is not {{\"environment\", \"segment\", \"key\", \"action\"}}: {error}"
                ),
            );
        }
    };
    let add = match change.action.as_str() {
        "add" => true,
        "remove" => false,
        other => {
            return refused(
                NAME,
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("action `{other}` is neither add nor remove"),
            );
        }
    };
    if change.key.is_empty() || change.key.len() > MAX_KEY_LEN {
        return refused(
            NAME,
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the key must have 1 to {MAX_KEY_LEN} bytes"),
        );
    }
    let actor = change
        .actor
        .clone()
        .filter(|a| !a.is_empty() && a.len() <= 100)
        .unwrap_or_else(|| "webhook".to_owned());
    let worker = console.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let stores = &worker.inner().stores;
        let env = stores.environment(&change.environment).ok_or_else(|| {
            refusal(StoreError::UnknownEnvironment {
                name: change.environment.clone(),
                allowed: stores.catalog().environments().names().to_vec(),
            })
        })?;
        stores
            .with_store(env, Actor::new(&actor, "webhook"), |store| {
                if add {
                    store.segment_add(&change.segment, &change.key)
                } else {
                    store.segment_remove(&change.segment, &change.key)
                }
            })
            .map(|version| (change, version))
            .map_err(refusal)
    })
    .await;
    match outcome {
        Ok(Ok((change, version))) => Json(json!({
            "changed": true,
            "environment": change.environment,
            "segment": change.segment,
            "key": change.key,
            "action": change.action,
            "version": version,
        }))
        .into_response(),
        Ok(Err(refusal)) => refused(NAME, refusal.status, refusal.message),
        Err(_) => refused(
            NAME,
            StatusCode::INTERNAL_SERVER_ERROR,
            "the change failed".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha1_of_the_raw_body() {
        // HMAC-SHA1("key", "The quick brown fox jumps over the lazy dog"), RFC 2104's example.
        let body = b"The quick brown fox jumps over the lazy dog";
        assert!(signed(
            "key",
            body,
            "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"
        ));
        assert!(!signed(
            "key",
            body,
            "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d8"
        ));
        assert!(!signed(
            "key",
            body,
            "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"
        ));
        assert!(!signed("key", body, "sha1=zz"));
        assert!(!signed(
            "other",
            body,
            "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"
        ));
    }
}
