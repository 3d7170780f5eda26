//! The pages: flags, one flag, segments, one segment, the audit log.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Redirect, Response};
use flags_model::{Date, Flag, FlagType, Serve, Setting, Test};
use flags_runtime::store::{Actor, AuditEntry, FlagCounts, newest_first};
use flags_runtime::{Context, Trace};
use serde::Deserialize;

use crate::Console;
use crate::auth::Viewer;
use crate::chart;
use crate::explain::{describe_condition, parse_attribute};
use crate::stores::{Environment, Held};
use crate::views::{Layout, Refusal, percentage, render, setting_words, value_words};

/// How many audit log entries a page shows.
const LOG_LIMIT: usize = 200;
/// How many entries of a flag's history its page shows.
const HISTORY_LIMIT: usize = 50;

pub(crate) async fn home(State(console): State<Console>) -> Redirect {
    Redirect::to(&format!("{}/flags", console.inner().base))
}

pub(crate) async fn not_found() -> Refusal {
    Refusal::new(StatusCode::NOT_FOUND, "There is no such page.")
}

pub(crate) async fn stylesheet() -> Response {
    (
        [(CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../static/console.css"),
    )
        .into_response()
}

/// Runs blocking store I/O off the async workers.
async fn blocking<T: Send + 'static>(
    console: &Console,
    work: impl FnOnce(&Console) -> T + Send + 'static,
) -> Result<T, Refusal> {
    let console = console.clone();
    tokio::task::spawn_blocking(move || work(&console))
        .await
        .map_err(|_| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "The page failed."))
}

/// What every environment's store holds, read one after the other.
fn held_everywhere(console: &Console) -> Vec<Held> {
    let stores = &console.inner().stores;
    stores
        .environments()
        .iter()
        .map(|e| e.held(stores))
        .collect()
}

fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// One cell of the flags table: the value in force in an environment and where it is from.
struct Cell {
    value: String,
    source: String,
    class: &'static str,
}

fn cell(flag: &Flag, environment: usize, held: &Held) -> Cell {
    let file = flag.setting_in(Some(environment));
    let from_file = |class| Cell {
        value: setting_words(&file),
        source: match (&file, flag.environment_setting(environment)) {
            (Setting::Targeted(_), _) => "flags.toml targeting".to_owned(),
            (_, Some(_)) => "flags.toml".to_owned(),
            (_, None) => "flags.toml default".to_owned(),
        },
        class,
    };
    match held.overrides.get(flag.key()) {
        Some(Ok(setting)) => Cell {
            value: setting_words(setting),
            source: "override in the store".to_owned(),
            class: "override",
        },
        Some(Err(_)) => {
            let mut cell = from_file("skipped");
            cell.source = format!("{}; the store's entry is skipped", cell.source);
            cell
        }
        None => from_file(if flag.environment_setting(environment).is_some() {
            "file"
        } else {
            "default"
        }),
    }
}

struct StoreState {
    environment: String,
    identity: String,
    version: u64,
    awaiting_restore: Option<String>,
    unreachable: Option<String>,
}

struct FlagRow {
    key: String,
    description: String,
    owner: String,
    ticket: String,
    expires: String,
    expired: bool,
    stale: bool,
    evaluated: String,
    cells: Vec<Cell>,
}

#[derive(Template)]
#[template(path = "flags.html")]
struct FlagsPage {
    layout: Layout,
    file: String,
    /// Per environment: name, identity, version, awaiting a restore (what the record holds),
    /// unreachable (why).
    stores: Vec<StoreState>,
    query: String,
    environments: Vec<String>,
    rows: Vec<FlagRow>,
}

#[derive(Deserialize)]
pub(crate) struct Search {
    #[serde(default)]
    q: String,
}

/// `GET /flags`: every flag in every environment.
pub(crate) async fn flags(
    State(console): State<Console>,
    Viewer(who): Viewer,
    Query(search): Query<Search>,
) -> Result<Response, Refusal> {
    let (held, counts) = blocking(&console, |console| {
        let stores = &console.inner().stores;
        let keys: Vec<&str> = stores.catalog().flags().iter().map(Flag::key).collect();
        let counts: Vec<Option<Vec<FlagCounts>>> = stores
            .environments()
            .iter()
            .map(|environment| {
                environment
                    .status()
                    .connected
                    .then(|| {
                        stores
                            .with_store(environment, Actor::default(), |store| store.counts(&keys))
                            .ok()
                    })
                    .flatten()
            })
            .collect();
        (held_everywhere(console), counts)
    })
    .await?;
    let inner = console.inner();
    let catalog = inner.stores.catalog();
    let today = Date::today();
    let query = search.q.trim().to_lowercase();
    let counting = counts
        .iter()
        .flatten()
        .flatten()
        .any(|c| c.last_seen.is_some());
    let day_ago = now_seconds().saturating_sub(86_400);
    let rows = catalog
        .flags()
        .iter()
        .enumerate()
        .filter(|(_, flag)| {
            query.is_empty()
                || [
                    flag.key(),
                    flag.description(),
                    flag.owner().unwrap_or(""),
                    flag.ticket().unwrap_or(""),
                ]
                .iter()
                .any(|text| text.to_lowercase().contains(&query))
        })
        .map(|(index, flag)| {
            let evaluations: u64 = counts
                .iter()
                .flatten()
                .filter_map(|per_flag| per_flag.get(index))
                .map(|counts| counts.last_day().values().sum::<u64>())
                .sum();
            let seen_lately = counts
                .iter()
                .flatten()
                .filter_map(|per_flag| per_flag.get(index))
                .any(|counts| counts.last_seen.is_some_and(|seen| seen >= day_ago));
            FlagRow {
                key: flag.key().to_owned(),
                description: flag.description().to_owned(),
                owner: flag.owner().unwrap_or("-").to_owned(),
                ticket: flag.ticket().unwrap_or("-").to_owned(),
                expires: flag.expires().map_or("-".to_owned(), |d| d.to_string()),
                expired: flag.is_expired(today),
                stale: counting && !seen_lately,
                evaluated: if counting {
                    format!("≈ {evaluations}")
                } else {
                    "not counted".to_owned()
                },
                cells: held
                    .iter()
                    .enumerate()
                    .map(|(environment, held)| cell(flag, environment, held))
                    .collect(),
            }
        })
        .collect();
    let stores = catalog
        .environments()
        .names()
        .iter()
        .zip(&held)
        .map(|(name, held)| StoreState {
            environment: name.clone(),
            identity: held
                .identity
                .clone()
                .unwrap_or_else(|| "without identity (never written)".to_owned()),
            version: held.version,
            awaiting_restore: held.awaiting_restore.clone(),
            unreachable: held.unreachable.clone(),
        })
        .collect();
    Ok(render(&FlagsPage {
        layout: Layout::new(&console, &who, "Flags".to_owned()),
        file: inner.file.clone(),
        stores,
        query: search.q,
        environments: catalog.environments().names().to_vec(),
        rows,
    }))
}

/// One environment on a flag's page.
struct FlagEnvironment {
    name: String,
    value: String,
    source: String,
    overridden: bool,
    editable: bool,
    /// The share of `true` now, for a bool flag: its value, or its fallthrough's.
    percent: Option<u32>,
    /// What the rollout leaves as it is (the environment's rules), when it has rules.
    rollout_note: Option<String>,
    /// When the override in the store serves rules of its own that are not `flags.toml`'s
    /// (a copy made by the rollout control before a deploy changed them, say).
    rules_note: Option<String>,
    hour_chart: String,
    day_chart: String,
    legend: Vec<(String, &'static str, u64, u64)>,
    last_seen: String,
    unreachable: bool,
}

struct HistoryRow {
    time: String,
    environment: String,
    who: String,
    action: String,
    subject: String,
    before: String,
    after: String,
}

impl HistoryRow {
    fn of(entry: &AuditEntry) -> HistoryRow {
        let subject = match (&entry.flag, &entry.segment, &entry.key) {
            (Some(flag), _, _) => flag.clone(),
            (None, Some(segment), Some(key)) => format!("{key} in {segment}"),
            (None, Some(segment), None) => segment.clone(),
            _ => "the store".to_owned(),
        };
        HistoryRow {
            time: entry.time(),
            environment: entry.environment.clone(),
            who: format!("{} ({})", entry.actor, entry.via),
            action: entry.action.clone(),
            subject,
            before: entry.before.clone(),
            after: entry.after.clone(),
        }
    }
}

struct RuleView {
    number: usize,
    name: String,
    outcome: String,
    decided: bool,
    conditions: Vec<(bool, String)>,
}

struct ExplainView {
    environment: String,
    key: String,
    value: String,
    reason: String,
    origin: String,
    prerequisites: Vec<(bool, String)>,
    rules: Vec<RuleView>,
    fallthrough: Option<(String, bool)>,
}

impl ExplainView {
    fn of(trace: &Trace, environment: &str, key: &str) -> ExplainView {
        ExplainView {
            environment: environment.to_owned(),
            key: key.to_owned(),
            value: value_words(&trace.value),
            reason: trace.reason.to_string(),
            origin: trace.origin.to_string(),
            prerequisites: trace
                .prerequisites
                .iter()
                .map(|p| {
                    (
                        p.met,
                        format!(
                            "`{}` is {} (required: {})",
                            p.flag,
                            p.actual.to_toml(),
                            p.required.to_toml()
                        ),
                    )
                })
                .collect(),
            rules: trace
                .rules
                .iter()
                .map(|rule| RuleView {
                    number: rule.number,
                    name: rule.name.clone().unwrap_or_default(),
                    outcome: match (&rule.matched, &rule.serve.value) {
                        (true, Some(value)) => format!("matched, serves {}", value.to_toml()),
                        (true, None) => "matched, but its rollout has nothing to bucket".into(),
                        (false, _) => "no match".into(),
                    },
                    decided: rule.decided,
                    conditions: rule
                        .conditions
                        .iter()
                        .map(|c| (c.holds, describe_condition(&c.condition)))
                        .collect(),
                })
                .collect(),
            fallthrough: trace.fallthrough.as_ref().map(|f| {
                let serves = match (&f.value, f.bucket) {
                    (Some(value), Some(bucket)) => format!("{} (bucket {bucket})", value.to_toml()),
                    (Some(value), None) => value.to_toml(),
                    (None, _) => "nothing to bucket: the default".to_owned(),
                };
                (format!("{}, serves {serves}", f.serve), f.decided)
            }),
        }
    }
}

#[derive(Template)]
#[template(path = "flag.html")]
struct FlagPage {
    layout: Layout,
    key: String,
    description: String,
    owner: String,
    ticket: String,
    expires: String,
    expired: bool,
    kind: String,
    is_bool: bool,
    variants: Vec<String>,
    requires: Vec<String>,
    segments: Vec<String>,
    environments: Vec<FlagEnvironment>,
    environment_names: Vec<String>,
    explain_environment: String,
    explain_key: String,
    explain_attributes: String,
    explain: Option<ExplainView>,
    explain_error: Option<String>,
    history: Vec<HistoryRow>,
}

#[derive(Deserialize, Default)]
pub(crate) struct ExplainQuery {
    #[serde(default)]
    environment: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    attributes: String,
}

/// The segments a flag's targeting tests, in any environment of `flags.toml` or the store.
fn segments_used(flag: &Flag, environments: usize, held: &[Held]) -> Vec<String> {
    let mut names = BTreeSet::new();
    let mut add = |setting: &Setting| {
        if let Setting::Targeted(targeting) = setting {
            for rule in &targeting.rules {
                for condition in &rule.conditions {
                    if let Test::Segment { name, .. } = &condition.test {
                        names.insert(name.clone());
                    }
                }
            }
        }
    };
    for environment in 0..environments {
        add(&flag.setting_in(Some(environment)));
    }
    for held in held {
        if let Some(Ok(setting)) = held.overrides.get(flag.key()) {
            add(setting);
        }
    }
    names.into_iter().collect()
}

/// `GET /flags/{flag}`: one flag in every environment, with its controls, explain, history
/// and counts.
pub(crate) async fn flag(
    State(console): State<Console>,
    Viewer(who): Viewer,
    Path(name): Path<String>,
    Query(explain): Query<ExplainQuery>,
) -> Result<Response, Refusal> {
    let inner = console.inner();
    let catalog = inner.stores.catalog();
    let Some((_, flag)) = catalog.find(&name) else {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            catalog.unknown_flag_message(&name),
        ));
    };
    let key = flag.key().to_owned();
    let lookup = key.clone();
    let (held, counts, history) = blocking(&console, move |console| {
        let stores = &console.inner().stores;
        let mut counts = Vec::new();
        let mut logs = Vec::new();
        for environment in stores.environments() {
            let connected = environment.status().connected;
            let read = connected.then(|| {
                stores.with_store(environment, Actor::default(), |store| {
                    Ok((
                        store.counts(&[lookup.as_str()])?,
                        store.audit_log(Some(&lookup), HISTORY_LIMIT)?,
                    ))
                })
            });
            match read {
                Some(Ok((mut flag_counts, log))) => {
                    counts.push(flag_counts.pop());
                    logs.push(log);
                }
                _ => counts.push(None),
            }
        }
        (
            held_everywhere(console),
            counts,
            newest_first(logs, HISTORY_LIMIT),
        )
    })
    .await?;
    let environments: Vec<FlagEnvironment> = inner
        .stores
        .environments()
        .iter()
        .zip(&held)
        .zip(&counts)
        .map(|((environment, held), counts)| {
            flag_environment(flag, environment, held, counts.as_ref(), &who.role)
        })
        .collect();
    let names = catalog.environments().names().to_vec();
    let explain_environment = explain
        .environment
        .clone()
        .or_else(|| names.last().cloned())
        .unwrap_or_default();
    let (explained, explain_error) = match (&explain.key, &explain.environment) {
        (Some(context_key), Some(environment_name)) => {
            match explain_for(
                &console,
                &key,
                environment_name,
                context_key,
                &explain.attributes,
            ) {
                Ok(view) => (Some(view), None),
                Err(error) => (None, Some(error)),
            }
        }
        _ => (None, None),
    };
    Ok(render(&FlagPage {
        layout: Layout::new(&console, &who, key.clone()),
        description: flag.description().to_owned(),
        owner: flag.owner().unwrap_or("-").to_owned(),
        ticket: flag.ticket().unwrap_or("-").to_owned(),
        expires: flag.expires().map_or("-".to_owned(), |d| d.to_string()),
        expired: flag.is_expired(Date::today()),
        kind: match flag.flag_type() {
            FlagType::Bool => "bool".to_owned(),
            FlagType::Int => "integer".to_owned(),
            FlagType::Float => "float".to_owned(),
            FlagType::String => "string".to_owned(),
            FlagType::Variants(_) => "variant".to_owned(),
        },
        is_bool: matches!(flag.flag_type(), FlagType::Bool),
        variants: match flag.flag_type() {
            FlagType::Variants(variants) => variants.iter().map(|v| v.name().to_owned()).collect(),
            _ => Vec::new(),
        },
        requires: flag
            .requires()
            .iter()
            .map(|r| {
                let required = catalog.flags().get(r.flag).map_or("?", Flag::key);
                format!("{required} is {}", r.is.to_toml())
            })
            .collect(),
        segments: segments_used(flag, names.len(), &held),
        environments,
        environment_names: names,
        explain_environment,
        explain_key: explain.key.clone().unwrap_or_default(),
        explain_attributes: explain.attributes.clone(),
        explain: explained,
        explain_error,
        history: history.iter().map(HistoryRow::of).collect(),
        key,
    }))
}

fn flag_environment(
    flag: &Flag,
    environment: &Environment,
    held: &Held,
    counts: Option<&FlagCounts>,
    role: &crate::config::Role,
) -> FlagEnvironment {
    let cell = cell(flag, environment.index, held);
    let stored = held.overrides.get(flag.key());
    let current = match stored {
        Some(Ok(setting)) => setting.clone(),
        _ => flag.setting_in(Some(environment.index)),
    };
    let is_bool = matches!(flag.flag_type(), FlagType::Bool);
    let (percent, rollout_note) = match (&current, is_bool) {
        (_, false) => (None, None),
        (Setting::Value(flags_model::Value::Bool(on)), true) => {
            (Some(if *on { 100 } else { 0 }), None)
        }
        (Setting::Targeted(targeting), true) => {
            let share = match &targeting.fallthrough {
                Serve::Value(flags_model::Value::Bool(on)) => Some(if *on { 100 } else { 0 }),
                other => percentage(other),
            };
            let note = match targeting.rules.len() {
                0 => None,
                1 => Some(
                    "Its rule stays: this is the share of everyone it does not match.".to_owned(),
                ),
                rules => Some(format!(
                    "Its {rules} rules stay: this is the share of everyone they do not match."
                )),
            };
            (share, note)
        }
        _ => (None, None),
    };
    let values: Vec<String> = counts
        .map(|counts| {
            let mut values: Vec<String> = counts.last_day().into_keys().collect();
            values.extend(counts.last_hour().into_keys());
            values.sort();
            values.dedup();
            values
        })
        .unwrap_or_default();
    let (hour, day) = counts.map_or((BTreeMap::new(), BTreeMap::new()), |c| {
        (c.last_hour(), c.last_day())
    });
    let legend = values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            (
                value.clone(),
                chart::colour(i),
                hour.get(value).copied().unwrap_or(0),
                day.get(value).copied().unwrap_or(0),
            )
        })
        .collect();
    let name = &environment.name;
    FlagEnvironment {
        name: name.clone(),
        value: cell.value,
        source: cell.source,
        overridden: matches!(stored, Some(Ok(_))),
        editable: role.may_edit(name),
        percent,
        rollout_note,
        rules_note: rules_note(flag, environment.index, stored),
        hour_chart: counts.map_or_else(String::new, |c| {
            chart::bars(
                &format!(
                    "evaluations of {} in {name}, last hour by minute",
                    flag.key()
                ),
                &c.minutes,
                &values,
            )
        }),
        day_chart: counts.map_or_else(String::new, |c| {
            chart::bars(
                &format!("evaluations of {} in {name}, last day by hour", flag.key()),
                &c.hours,
                &values,
            )
        }),
        legend,
        last_seen: match counts.and_then(|c| c.last_seen) {
            Some(seen) => {
                let ago = now_seconds().saturating_sub(seen);
                match ago {
                    0..120 => format!("{ago} s ago"),
                    120..7200 => format!("{} min ago", ago / 60),
                    7200..172_800 => format!("{} h ago", ago / 3600),
                    _ => format!("{} days ago", ago / 86_400),
                }
            }
            None => "never counted".to_owned(),
        },
        unreachable: held.unreachable.is_some(),
    }
}

/// Explain `flag` for the context a person described, with the environment's runtime (which
/// follows its store): the same evaluation every process makes.
fn explain_for(
    console: &Console,
    flag: &str,
    environment: &str,
    key: &str,
    attributes: &str,
) -> Result<ExplainView, String> {
    let Some(environment) = console.inner().stores.environment(environment) else {
        return Err(format!("There is no environment `{environment}`."));
    };
    let mut context = if key.trim().is_empty() {
        Context::anonymous()
    } else {
        Context::new(key.trim())
    };
    for line in attributes.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (name, value) = parse_attribute(line).map_err(|why| format!("`{line}`: {why}"))?;
        context.set(&name, value);
    }
    let trace = environment
        .runtime
        .trace(flag, Some(&context))
        .ok_or_else(|| format!("There is no flag `{flag}`."))?;
    Ok(ExplainView::of(&trace, &environment.name, key.trim()))
}

struct SegmentRow {
    name: String,
    description: String,
    listed: usize,
    rules: usize,
    /// Per environment: name, how many keys are listed there.
    environments: Vec<(String, usize)>,
}

#[derive(Template)]
#[template(path = "segments.html")]
struct SegmentsPage {
    layout: Layout,
    rows: Vec<SegmentRow>,
}

/// The keys a segment lists in one environment: `flags.toml`'s, plus those added in the
/// store, less those removed; each with where it comes from.
fn members(segment: &flags_model::Segment, held: &Held) -> Vec<(String, &'static str)> {
    let stored = held.segments.iter().find(|s| s.name == segment.name);
    let mut keys: BTreeMap<String, &'static str> = segment
        .keys
        .iter()
        .map(|k| (k.clone(), "flags.toml"))
        .collect();
    if let Some(stored) = stored {
        for key in &stored.added {
            keys.insert(key.clone(), "added in the store");
        }
        for key in &stored.removed {
            keys.remove(key);
        }
    }
    keys.into_iter().collect()
}

/// `GET /segments`.
pub(crate) async fn segments(
    State(console): State<Console>,
    Viewer(who): Viewer,
) -> Result<Response, Refusal> {
    let held = blocking(&console, held_everywhere).await?;
    let inner = console.inner();
    let rows = inner
        .stores
        .catalog()
        .segments()
        .iter()
        .map(|segment| SegmentRow {
            name: segment.name.clone(),
            description: segment.description.clone(),
            listed: segment.keys.len(),
            rules: segment.rules.len(),
            environments: inner
                .stores
                .environments()
                .iter()
                .zip(&held)
                .map(|(e, held)| (e.name.clone(), members(segment, held).len()))
                .collect(),
        })
        .collect();
    Ok(render(&SegmentsPage {
        layout: Layout::new(&console, &who, "Segments".to_owned()),
        rows,
    }))
}

#[derive(Template)]
#[template(path = "segment.html")]
struct SegmentPage {
    layout: Layout,
    name: String,
    description: String,
    environment: String,
    editable: bool,
    rules: usize,
    members: Vec<(String, &'static str)>,
    flags: Vec<String>,
    history: Vec<HistoryRow>,
}

/// `GET /environments/{environment}/segments/{segment}`.
pub(crate) async fn segment(
    State(console): State<Console>,
    Viewer(who): Viewer,
    Path((environment, name)): Path<(String, String)>,
) -> Result<Response, Refusal> {
    let inner = console.inner();
    let catalog = inner.stores.catalog();
    let Some((_, segment)) = catalog.segment(&name) else {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            format!("There is no segment `{name}`."),
        ));
    };
    if inner.stores.environment(&environment).is_none() {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            format!("There is no environment `{environment}`."),
        ));
    }
    let (held, history) = {
        let (environment, name) = (environment.clone(), name.clone());
        blocking(&console, move |console| {
            let stores = &console.inner().stores;
            let Some(env) = stores.environment(&environment) else {
                return (None, Vec::new());
            };
            let history = if env.status().connected {
                stores
                    .with_store(env, Actor::default(), |store| {
                        store.audit_log(None, LOG_LIMIT)
                    })
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|entry| entry.segment.as_deref() == Some(name.as_str()))
                    .take(HISTORY_LIMIT)
                    .collect()
            } else {
                Vec::new()
            };
            (Some(env.held(stores)), history)
        })
        .await?
    };
    let held = held.ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, "No such environment."))?;
    let flags = catalog
        .flags()
        .iter()
        .filter(|flag| {
            segments_used(
                flag,
                catalog.environments().names().len(),
                std::slice::from_ref(&held),
            )
            .contains(&name)
        })
        .map(|flag| flag.key().to_owned())
        .collect();
    Ok(render(&SegmentPage {
        layout: Layout::new(&console, &who, format!("Segment {name} in {environment}")),
        description: segment.description.clone(),
        editable: who.role.may_edit(&environment),
        rules: segment.rules.len(),
        members: members(segment, &held),
        flags,
        history: history.iter().map(HistoryRow::of).collect(),
        name,
        environment,
    }))
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    flag: String,
    environment: String,
    environment_names: Vec<String>,
    rows: Vec<HistoryRow>,
    unreachable: bool,
}

#[derive(Deserialize)]
pub(crate) struct AuditQuery {
    #[serde(default)]
    flag: String,
    #[serde(default)]
    environment: String,
}

/// `GET /audit`: every change, newest first, for all flags or one, in one environment or all.
pub(crate) async fn audit(
    State(console): State<Console>,
    Viewer(who): Viewer,
    Query(query): Query<AuditQuery>,
) -> Result<Response, Refusal> {
    let (flag, environment) = (query.flag.trim().to_owned(), query.environment.clone());
    let (entries, unreachable) = {
        let (flag, environment) = (flag.clone(), environment.clone());
        blocking(&console, move |console| {
            let stores = &console.inner().stores;
            let mut logs = Vec::new();
            let mut unreachable = false;
            for env in stores.environments() {
                if !environment.is_empty() && env.name != environment {
                    continue;
                }
                let flag = (!flag.is_empty()).then_some(flag.as_str());
                match stores.with_store(env, Actor::default(), |store| {
                    store.audit_log(flag, LOG_LIMIT)
                }) {
                    Ok(log) => logs.push(log),
                    Err(_) => unreachable = true,
                }
            }
            (newest_first(logs, LOG_LIMIT), unreachable)
        })
        .await?
    };
    Ok(render(&AuditPage {
        layout: Layout::new(&console, &who, "Audit log".to_owned()),
        environment_names: console
            .inner()
            .stores
            .catalog()
            .environments()
            .names()
            .to_vec(),
        rows: entries.iter().map(HistoryRow::of).collect(),
        flag,
        environment,
        unreachable,
    }))
}

/// `GET /status`: the store's state per environment, as JSON, for monitoring (after login).
pub(crate) async fn status(
    State(console): State<Console>,
    Viewer(_): Viewer,
) -> Json<serde_json::Value> {
    let environments: Vec<serde_json::Value> = console
        .inner()
        .stores
        .environments()
        .iter()
        .map(|e| {
            let status = e.status();
            serde_json::json!({
                "environment": e.name,
                "connected": status.connected,
                "version": status.version,
                "identity": status.identity,
                "awaiting_restore": status.awaiting_restore,
                "held_back": status.held_back.map(|h| h.to_string()),
                "error": status.error,
            })
        })
        .collect();
    Json(serde_json::json!({ "environments": environments }))
}

/// Says so when the override in the store has rules, and `flags.toml`'s rules for the
/// environment are not the same (by name, conditions and what they serve).
fn rules_note(
    flag: &Flag,
    environment: usize,
    stored: Option<&Result<Setting, String>>,
) -> Option<String> {
    let Some(Ok(Setting::Targeted(held))) = stored else {
        return None;
    };
    let setting = flag.setting_in(Some(environment));
    let declared = match &setting {
        Setting::Targeted(targeting) => targeting.rules.as_slice(),
        Setting::Value(_) => &[],
    };
    let same = held.rules.len() == declared.len()
        && held.rules.iter().zip(declared).all(|(held, declared)| {
            (&held.name, &held.conditions, &held.serve)
                == (&declared.name, &declared.conditions, &declared.serve)
        });
    let count = |rules: usize| match rules {
        1 => "1 rule".to_owned(),
        rules => format!("{rules} rules"),
    };
    (!same && !held.rules.is_empty()).then(|| {
        format!(
            "The override in the store serves rules of its own ({}), not those flags.toml has \
             for this environment ({}): clear the override to serve flags.toml's.",
            count(held.rules.len()),
            count(declared.len())
        )
    })
}
