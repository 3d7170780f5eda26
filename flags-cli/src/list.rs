//! `flags list`: every flag in every environment, with who owns it and until when.

use std::path::Path;
use std::process::ExitCode;

use flags_model::{Catalog, Date, Flag, Serve, Setting, Targeting, Value};
use serde_json::json;

use crate::Failure;
use crate::output::{Format, Paint, json_value, pad, print_json, printable};
use crate::project::Project;
use crate::store::RedisOption;

/// Options of `flags list`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Show only this environment.
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// List what the Redis store at URL holds for one environment (--env, else the one
    /// $APP_ENV names, else the catalog's default) instead.
    #[command(flatten)]
    redis: RedisOption,
}

pub(crate) fn run(file: Option<&Path>, args: &Args) -> Result<ExitCode, Failure> {
    if let Some(url) = args.redis.url() {
        return crate::store::list(file, url, args.env.as_deref(), args.format);
    }
    let project = Project::open(file)?;
    let catalog = project.catalog()?;
    let environments: Vec<(usize, &str)> = match &args.env {
        Some(name) => vec![(environment(&catalog, &project, name)?, name.as_str())],
        None => catalog
            .environments()
            .names()
            .iter()
            .map(String::as_str)
            .enumerate()
            .collect(),
    };
    let today = Date::today();
    match args.format {
        Format::Json => print_json(&list_json(&project, &catalog, &environments, today)),
        Format::Text => print_table(&catalog, &environments, today),
    }
    Ok(ExitCode::SUCCESS)
}

/// The index of environment `name`, or an error listing the environments.
pub(crate) fn environment(
    catalog: &Catalog,
    project: &Project,
    name: &str,
) -> Result<usize, Failure> {
    let names = catalog.environments().names();
    catalog.environments().position(name).ok_or_else(|| {
        let suggestion = flags_model::naming::suggest(name, names.iter().map(String::as_str))
            .map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
        Failure::Refused(format!(
            "{} declares no environment `{name}`{suggestion}; its environments are: {}",
            project.file.name(),
            names.join(", ")
        ))
    })
}

/// What a flag serves in one environment, in a few words: `true`, `2 rules, else false`.
fn summary(flag: &Flag, environment: usize) -> (String, bool) {
    match flag.setting_in(Some(environment)) {
        // An empty string would be an empty cell.
        Setting::Value(Value::String(s)) if s.is_empty() => ("\"\"".to_owned(), false),
        Setting::Value(value) => (value.to_string(), false),
        Setting::Targeted(targeting) => (targeting_summary(&targeting), true),
    }
}

/// `rules (2), else false`; a rollout alone as `rollout true 25% / false 75%`.
fn targeting_summary(targeting: &Targeting) -> String {
    match targeting.rules.len() {
        0 => targeting.summary(),
        rules => format!("rules ({rules}), else {}", targeting.fallthrough),
    }
}

fn print_table(catalog: &Catalog, environments: &[(usize, &str)], today: Date) {
    let paint = Paint::stdout();
    let mut header: Vec<String> = vec!["FLAG".into()];
    header.extend(environments.iter().map(|(_, name)| name.to_string()));
    header.extend(["OWNER", "TICKET", "EXPIRES"].map(String::from));
    // Each cell: (styled, plain), so colour does not upset the widths.
    let mut rows: Vec<Vec<(String, String)>> = Vec::new();
    for flag in catalog.flags() {
        let key = printable(flag.key()).into_owned();
        let mut row = vec![(paint.strong(&key), key)];
        for (index, _) in environments {
            let (text, targeted) = summary(flag, *index);
            let text = printable(&text).into_owned();
            let inherited = flag.environment_setting(*index).is_none();
            let styled = if targeted {
                paint.targeted(&text)
            } else if inherited {
                // The default, not a value set for this environment.
                paint.dim(&text)
            } else {
                text.clone()
            };
            row.push((styled, text));
        }
        for value in [flag.owner(), flag.ticket()] {
            let text = printable(value.unwrap_or("-")).into_owned();
            row.push((text.clone(), text));
        }
        let expires = match flag.expires() {
            Some(date) if flag.is_expired(today) => {
                let text = format!("{date} (expired)");
                (paint.error(&text), text)
            }
            Some(date) => (date.to_string(), date.to_string()),
            None => ("-".to_owned(), "-".to_owned()),
        };
        row.push(expires);
        rows.push(row);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            rows.iter()
                .map(|row| row[column].1.chars().count())
                .chain([header[column].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<(String, String)>| {
        let last = cells.len() - 1;
        let text: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(column, (styled, plain))| {
                if column == last {
                    styled.clone()
                } else {
                    pad(styled, plain, widths[column])
                }
            })
            .collect();
        println!("{}", text.join("  ").trim_end());
    };
    line(
        header
            .iter()
            .map(|h| (paint.strong(h), h.clone()))
            .collect(),
    );
    for row in rows {
        line(row);
    }
    if catalog.flags().is_empty() {
        println!("{}", paint.dim("(no flags)"));
    }
}

fn list_json(
    project: &Project,
    catalog: &Catalog,
    environments: &[(usize, &str)],
    today: Date,
) -> serde_json::Value {
    let flags: Vec<serde_json::Value> = catalog
        .flags()
        .iter()
        .map(|flag| {
            let settings: serde_json::Map<String, serde_json::Value> = environments
                .iter()
                .map(|(index, name)| ((*name).to_owned(), setting_json(flag, *index)))
                .collect();
            json!({
                "key": flag.key(),
                "accessor": flag.accessor(),
                "type": flag.flag_type().rust_type(),
                "variants": flag.flag_type().variants().map(|v| v.iter().map(|v| v.name()).collect::<Vec<_>>()),
                "description": flag.description(),
                "owner": flag.owner(),
                "ticket": flag.ticket(),
                "expires": flag.expires().map(|d| d.to_string()),
                "expired": flag.is_expired(today),
                "default": json_value(flag.default()),
                "requires": flag.requires().iter().map(|r| json!({
                    "flag": catalog.flags().get(r.flag).map(Flag::key),
                    "is": json_value(&r.is),
                })).collect::<Vec<_>>(),
                "line": flag.line(),
                "environments": settings,
            })
        })
        .collect();
    json!({
        "file": project.file.name(),
        "environments": environments.iter().map(|(_, name)| name).collect::<Vec<_>>(),
        "flags": flags,
    })
}

/// One environment's setting: `{"kind": "value", "value": true, "set": true}` or
/// `{"kind": "rules", "rules": 2, "fallthrough": ..., "summary": "..."}`.
fn setting_json(flag: &Flag, environment: usize) -> serde_json::Value {
    let set = flag.environment_setting(environment).is_some();
    match flag.setting_in(Some(environment)) {
        Setting::Value(value) => json!({
            "kind": "value",
            "value": json_value(&value),
            "set": set,
        }),
        Setting::Targeted(targeting) => json!({
            "kind": "rules",
            "rules": targeting.rules.len(),
            "fallthrough": match &targeting.fallthrough {
                Serve::Value(value) => json!({ "value": json_value(value) }),
                Serve::Rollout(rollout) => json!({
                    "rollout": rollout.splits.iter().map(|s| json!({
                        "value": json_value(&s.value),
                        "weight": s.weight,
                    })).collect::<Vec<_>>(),
                }),
            },
            "summary": targeting_summary(&targeting),
            "set": set,
        }),
    }
}
