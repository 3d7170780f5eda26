//! `flags log`: the audit log of the Redis store, every change with who, when and the value
//! before and after.

use std::path::Path;
use std::process::ExitCode;

use flags_runtime::store::{AuditEntry, newest_first};
use serde_json::json;

use crate::Failure;
use crate::output::{Format, Paint, print_json, printable};
use crate::project::Project;
use crate::store::{RedisOption, failure, open};

/// Options of `flags log`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only the changes of this flag (key or accessor).
    #[arg(long, value_name = "NAME")]
    flag: Option<String>,
    /// Only this environment [default: every environment].
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
    /// How many changes, newest first.
    #[arg(long, value_name = "N", default_value_t = 50)]
    limit: usize,
    #[command(flatten)]
    redis: RedisOption,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub(crate) fn run(file: Option<&Path>, args: &Args) -> Result<ExitCode, Failure> {
    let project = Project::open(file)?;
    let catalog = project.catalog()?;
    let Some(url) = args.redis.url() else {
        return Err(Failure::Refused(
            "the audit log is in the Redis store: give --redis URL (or FLAGS_REDIS_URL)".into(),
        ));
    };
    let flag = args.flag.as_ref().map(|name| {
        catalog
            .find(name)
            .map_or_else(|| name.clone(), |(_, flag)| flag.key().to_owned())
    });
    let environments: Vec<String> = match &args.env {
        Some(name) => vec![name.clone()],
        None => catalog.environments().names().to_vec(),
    };
    let mut logs = Vec::new();
    for environment in &environments {
        let (mut store, _) = open(&project, &catalog, url, Some(environment))?;
        logs.push(
            store
                .audit_log(flag.as_deref(), args.limit)
                .map_err(failure)?,
        );
    }
    let entries = newest_first(logs, args.limit);
    match args.format {
        Format::Json => print_json(&json!({
            "entries": entries.iter().map(entry_json).collect::<Vec<_>>(),
        })),
        Format::Text => {
            let paint = Paint::stdout();
            if entries.is_empty() {
                println!("no change recorded");
            }
            for entry in &entries {
                let subject = match (&entry.flag, &entry.segment, &entry.key) {
                    (Some(flag), _, _) => flag.clone(),
                    (None, Some(segment), Some(key)) => format!("{key} in {segment}"),
                    _ => "the store".to_owned(),
                };
                println!(
                    "{}  {}  {} ({})  {} {}: {} -> {}  (version {})",
                    entry.time(),
                    printable(&entry.environment),
                    paint.strong(&printable(&entry.actor)),
                    printable(&entry.via),
                    printable(&entry.action),
                    printable(&subject),
                    printable(&entry.before),
                    printable(&entry.after),
                    entry.version
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn entry_json(entry: &AuditEntry) -> serde_json::Value {
    json!({
        "id": entry.id,
        "time": entry.time(),
        "time_ms": entry.time_ms,
        "environment": entry.environment,
        "actor": entry.actor,
        "via": entry.via,
        "action": entry.action,
        "flag": entry.flag,
        "segment": entry.segment,
        "key": entry.key,
        "before": entry.before,
        "after": entry.after,
        "version": entry.version,
    })
}
