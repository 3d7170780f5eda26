//! What every page shares: the layout (who is in, the store's state), refusals, and how
//! settings are put in words.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use flags_model::{Serve, Setting, Targeting, Value};

use crate::Console;
use crate::auth::Who;

/// The frame of every page after login.
pub(crate) struct Layout {
    pub(crate) base: String,
    pub(crate) title: String,
    pub(crate) who: String,
    pub(crate) role: String,
    pub(crate) csrf: String,
    pub(crate) flash: Option<String>,
    /// The store's state, when it is not simply followed: Redis away, awaiting a restore.
    pub(crate) warnings: Vec<String>,
}

impl Layout {
    pub(crate) fn new(console: &Console, who: &Who, title: String) -> Layout {
        let inner = console.inner();
        let mut warnings = Vec::new();
        let environments = inner.stores.environments();
        let away: Vec<&str> = environments
            .iter()
            .filter(|e| !e.status().connected)
            .map(|e| e.name.as_str())
            .collect();
        if !away.is_empty() {
            let error = environments
                .iter()
                .find_map(|e| e.status().error)
                .unwrap_or_else(|| "not connected yet".to_owned());
            warnings.push(format!(
                "Redis at {} is unreachable ({error}). The values shown for {} are the last ones \
                 read; changes are refused until Redis is back.",
                inner.stores.server(),
                away.join(", ")
            ));
        }
        for environment in environments {
            let status = environment.status();
            if status.awaiting_restore {
                warnings.push(format!(
                    "The store of `{0}` awaits a restore: a process found it emptied, replaced or \
                     gone back and keeps its last good values. Changes to `{0}` are refused until \
                     an operator runs `flags store restore --recovered --env {0}` (or `flags store \
                     reset --confirm --env {0}`).",
                    environment.name
                ));
            }
            if let Some(held_back) = status.held_back {
                warnings.push(format!(
                    "The store of `{}` {held_back}: this console shows the values it read last.",
                    environment.name
                ));
            }
        }
        Layout {
            base: inner.base.clone(),
            title,
            who: who.name.clone(),
            role: who.role.to_string(),
            csrf: who.csrf.clone(),
            flash: who.flash.clone(),
            warnings,
        }
    }
}

/// A request refused, with the status and what to tell the person.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
        }
    }
}

#[derive(Template)]
#[template(path = "refused.html")]
struct RefusedPage<'a> {
    status: u16,
    reason: &'a str,
    message: &'a str,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = render(&RefusedPage {
            status: self.status.as_u16(),
            reason: self.status.canonical_reason().unwrap_or("Refused"),
            message: &self.message,
        });
        *response.status_mut() = self.status;
        response
    }
}

/// The page `template` renders, or a 500 that says the page could not be made.
pub(crate) fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "console page not rendered");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be made",
            )
                .into_response()
        }
    }
}

/// A value as `flags.toml` writes it, an empty string included.
pub(crate) fn value_words(value: &Value) -> String {
    value.to_toml()
}

/// A setting in a few words: `true`, `rollout 25%`, `rules (2), else false`.
pub(crate) fn setting_words(setting: &Setting) -> String {
    match setting {
        Setting::Value(value) => value_words(value),
        Setting::Targeted(targeting) => targeting_words(targeting),
    }
}

fn targeting_words(targeting: &Targeting) -> String {
    let fallthrough = match &targeting.fallthrough {
        Serve::Rollout(rollout) => match percentage(&targeting.fallthrough) {
            Some(percent) => format!("rollout {percent}%"),
            None => Serve::Rollout(rollout.clone()).to_string(),
        },
        other => other.to_string(),
    };
    match targeting.rules.len() {
        0 => fallthrough,
        rules => format!("rules ({rules}), else {fallthrough}"),
    }
}

/// The share of `true` in a bool rollout.
pub(crate) fn percentage(serve: &Serve) -> Option<u32> {
    match serve {
        Serve::Rollout(rollout) => {
            let bools = rollout
                .splits
                .iter()
                .all(|split| matches!(split.value, Value::Bool(_)));
            bools.then(|| {
                rollout
                    .splits
                    .iter()
                    .filter(|split| split.value == Value::Bool(true))
                    .map(|split| split.weight)
                    .sum()
            })
        }
        Serve::Value(_) => None,
    }
}
