//! Every change a person makes in the console: a flag's value or kill switch, its rollout,
//! its override cleared, segment members added and removed. Each is checked and written by
//! `RedisStore`, exactly as `flags set --redis` does, and lands in the audit log with the
//! person's name.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use flags_model::Setting;
use flags_runtime::OverrideError;
use flags_runtime::store::{Actor, RedisStore, StoreError};
use serde::Deserialize;

use crate::auth::Change;
use crate::views::Refusal;
use crate::{Console, rollout};

/// The most keys one bulk add takes.
pub(crate) const MAX_KEYS: usize = 1000;
/// The longest context key accepted.
pub(crate) const MAX_KEY_LEN: usize = 256;

/// How a store's refusal reads, with its status: nothing was written.
pub(crate) fn refusal(error: StoreError) -> Refusal {
    let status = match &error {
        StoreError::UnknownEnvironment { .. } | StoreError::Segment(_) => StatusCode::NOT_FOUND,
        StoreError::Override(OverrideError::UnknownFlag { .. }) => StatusCode::NOT_FOUND,
        StoreError::Override(_) | StoreError::InvalidEntry { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        StoreError::AwaitingRestore { .. } => StatusCode::CONFLICT,
        StoreError::Redis { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    Refusal::new(status, format!("Not changed: {error}."))
}

/// Runs `write` on `environment`'s store in the name of `who`, off the async workers; then
/// waits until this console's runtime has the change, leaves `done(version)` for the next
/// page, and sends there.
async fn write<T: Send + 'static>(
    console: &Console,
    change_of: (&str, &str),
    environment: String,
    back_to: String,
    write: impl FnOnce(&mut RedisStore) -> Result<(T, u64), StoreError> + Send + 'static,
    done: impl FnOnce(T, u64) -> String + Send + 'static,
) -> Result<Response, Refusal> {
    let (name, session) = (change_of.0.to_owned(), change_of.1.to_owned());
    let worker = console.clone();
    let message = tokio::task::spawn_blocking(move || {
        let inner = worker.inner();
        let env = inner.stores.environment(&environment).ok_or_else(|| {
            Refusal::new(
                StatusCode::NOT_FOUND,
                format!("There is no environment `{environment}`."),
            )
        })?;
        let (result, version) = inner
            .stores
            .with_store(env, Actor::new(&name, "console"), write)
            .map_err(refusal)?;
        env.wait_for(version);
        Ok::<String, Refusal>(done(result, version))
    })
    .await
    .map_err(|_| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "The change failed."))??;
    console.inner().sessions.flash(session.as_str(), message);
    Ok(Redirect::to(&back_to).into_response())
}

fn flag_page(console: &Console, flag: &str, environment: &str) -> String {
    format!(
        "{}/flags/{}#env-{environment}",
        console.inner().base,
        encode(flag)
    )
}

/// A path segment, percent-encoded.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The flag's key, or a 404 for a flag `flags.toml` does not declare.
fn declared(console: &Console, name: &str) -> Result<String, Refusal> {
    let catalog = console.inner().stores.catalog();
    catalog
        .find(name)
        .map(|(_, flag)| flag.key().to_owned())
        .ok_or_else(|| {
            Refusal::new(
                StatusCode::NOT_FOUND,
                format!("Not changed: {}.", catalog.unknown_flag_message(name)),
            )
        })
}

#[derive(Deserialize)]
pub(crate) struct ValueForm {
    value: String,
}

/// `POST /environments/{environment}/flags/{flag}/value`: the kill switch (`true`/`false`)
/// and any value of the flag's type.
pub(crate) async fn set_value(
    State(console): State<Console>,
    Path((environment, flag)): Path<(String, String)>,
    change: Change<ValueForm>,
) -> Result<Response, Refusal> {
    let key = declared(&console, &flag)?;
    let back = flag_page(&console, &key, &environment);
    let value = change.form.value;
    let shown = environment.clone();
    write(
        &console,
        (&change.who.name, &change.session),
        environment,
        back,
        move |store| {
            let (_, checked) = store.checked_value(&key, &value)?;
            let version = store.set(&key, &value)?;
            Ok(((key, checked.to_toml()), version))
        },
        move |(key, value), version| {
            format!("Set {key} to {value} in {shown} (store version {version}).")
        },
    )
    .await
}

/// `POST /environments/{environment}/flags/{flag}/clear`: back to what `flags.toml` says.
pub(crate) async fn clear(
    State(console): State<Console>,
    Path((environment, flag)): Path<(String, String)>,
    change: Change<crate::auth::NoFields>,
) -> Result<Response, Refusal> {
    let key = declared(&console, &flag)?;
    let back = flag_page(&console, &key, &environment);
    let shown = environment.clone();
    let cleared = key.clone();
    write(
        &console,
        (&change.who.name, &change.session),
        environment,
        back,
        move |store| store.unset(&key),
        move |removed, version| {
            if removed {
                format!(
                    "Cleared the override of {cleared} in {shown}: flags.toml decides again \
                     (store version {version})."
                )
            } else {
                format!("{cleared} had no override in {shown}: nothing to clear.")
            }
        },
    )
    .await
}

#[derive(Deserialize)]
pub(crate) struct RolloutForm {
    percent: String,
}

/// `POST /environments/{environment}/flags/{flag}/rollout`: a bool flag's share of `true`
/// among everyone its rules do not match. The override keeps the environment's rules (of
/// the override in the store, else of `flags.toml`) and its `group` and `bucket_by`, so
/// nobody changes bucket: raising it only adds users.
pub(crate) async fn rollout(
    State(console): State<Console>,
    Path((environment, flag)): Path<(String, String)>,
    change: Change<RolloutForm>,
) -> Result<Response, Refusal> {
    let key = declared(&console, &flag)?;
    let percent: u32 = match change.form.percent.trim().parse() {
        Ok(percent) if percent <= 100 => percent,
        _ => {
            return Err(Refusal::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "Not changed: a rollout is a whole percentage from 0 to 100, not `{}`.",
                    change.form.percent
                ),
            ));
        }
    };
    let catalog = console.inner().stores.catalog();
    let Some(index) = console
        .inner()
        .stores
        .environment(&environment)
        .map(|e| e.index)
    else {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            format!("Not changed: there is no environment `{environment}`."),
        ));
    };
    if catalog
        .find(&key)
        .is_some_and(|(_, f)| !matches!(f.flag_type(), flags_model::FlagType::Bool))
    {
        return Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Not changed: {key} is not a bool flag; set its value instead."),
        ));
    }
    let back = flag_page(&console, &key, &environment);
    let shown = environment.clone();
    let source = console.inner().stores.source().to_owned();
    let named = key.clone();
    let tables = ["value".to_owned(), environment.clone()];
    write(
        &console,
        (&change.who.name, &change.session),
        environment,
        back,
        move |store| {
            let held = store.entry(&named)?;
            let tables = [tables[0].as_str(), tables[1].as_str()];
            let text = match held.as_ref().map(|entry| (&entry.text, &entry.setting)) {
                // The store's targeting, rules, group and all, with the new share.
                Some((text, Ok(Setting::Targeted(_)))) => {
                    rollout::keeping_rules(text, &named, &tables, percent)
                }
                Some((_, Ok(Setting::Value(_)))) => Ok(rollout::plain(&named, percent)),
                // No override every process uses: flags.toml's setting decides.
                _ => match catalog.find(&named).map(|(_, f)| f.setting_in(Some(index))) {
                    Some(Setting::Targeted(targeting)) if !targeting.rules.is_empty() => {
                        rollout::keeping_rules(&source, &named, &tables[1..], percent)
                    }
                    _ => Ok(rollout::plain(&named, percent)),
                },
            }
            .map_err(|message| StoreError::InvalidEntry {
                flag: named.clone(),
                message: format!("its setting cannot be changed here, as {message}"),
            })?;
            // Written over what it was made from only: a change made meanwhile is kept.
            let basis = held.map(|entry| entry.text);
            let version = store.set_entry_if(&named, &text, |now| {
                if now.map(|entry| entry.text) == basis {
                    Ok(())
                } else {
                    Err(
                        "it was changed meanwhile; load the page and set the rollout again"
                            .to_owned(),
                    )
                }
            })?;
            Ok(((), version))
        },
        move |(), version| {
            format!("Set the rollout of {key} in {shown} to {percent}% (store version {version}).")
        },
    )
    .await
}

#[derive(Deserialize)]
pub(crate) struct KeysForm {
    keys: String,
}

/// `POST /environments/{environment}/segments/{segment}/add`: one key, or many pasted (one
/// per line, or separated by commas or spaces).
pub(crate) async fn add_members(
    State(console): State<Console>,
    Path((environment, segment)): Path<(String, String)>,
    change: Change<KeysForm>,
) -> Result<Response, Refusal> {
    let keys = keys_of(&change.form.keys)?;
    change_members(&console, &change, environment, segment, keys, true).await
}

#[derive(Deserialize)]
pub(crate) struct KeyForm {
    key: String,
}

/// `POST /environments/{environment}/segments/{segment}/remove`.
pub(crate) async fn remove_member(
    State(console): State<Console>,
    Path((environment, segment)): Path<(String, String)>,
    change: Change<KeyForm>,
) -> Result<Response, Refusal> {
    let keys = keys_of(&change.form.key)?;
    change_members(&console, &change, environment, segment, keys, false).await
}

/// The keys of a form: split on lines, commas and spaces; each checked.
pub(crate) fn keys_of(text: &str) -> Result<Vec<String>, Refusal> {
    let mut keys: Vec<String> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|key| !key.is_empty())
        .map(str::to_owned)
        .collect();
    keys.dedup();
    if keys.is_empty() {
        return Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not changed: give at least one key.",
        ));
    }
    if keys.len() > MAX_KEYS {
        return Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "Not changed: {} keys at once is more than the {MAX_KEYS} allowed.",
                keys.len()
            ),
        ));
    }
    if let Some(long) = keys.iter().find(|key| key.len() > MAX_KEY_LEN) {
        return Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "Not changed: the key `{}…` is longer than {MAX_KEY_LEN} bytes.",
                long.chars().take(20).collect::<String>()
            ),
        ));
    }
    Ok(keys)
}

async fn change_members<F>(
    console: &Console,
    change: &Change<F>,
    environment: String,
    segment: String,
    keys: Vec<String>,
    add: bool,
) -> Result<Response, Refusal> {
    if console.inner().stores.catalog().segment(&segment).is_none() {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            format!("Not changed: there is no segment `{segment}`."),
        ));
    }
    let back = format!(
        "{}/environments/{environment}/segments/{}",
        console.inner().base,
        encode(&segment)
    );
    let (shown, named) = (environment.clone(), segment.clone());
    write(
        console,
        (&change.who.name, &change.session),
        environment,
        back,
        move |store| {
            // However many, one write: one version, one entry of the audit log.
            let borrowed: Vec<&str> = keys.iter().map(String::as_str).collect();
            let version = if add {
                store.segment_add_many(&segment, &borrowed)?
            } else {
                store.segment_remove_many(&segment, &borrowed)?
            };
            Ok((keys, version))
        },
        move |keys, version| {
            let listed = match &keys[..] {
                [one] => one.clone(),
                many => format!("{} keys", many.len()),
            };
            if add {
                format!("Added {listed} to {named} in {shown} (store version {version}).")
            } else {
                format!("Removed {listed} from {named} in {shown} (store version {version}).")
            }
        },
    )
    .await
}
