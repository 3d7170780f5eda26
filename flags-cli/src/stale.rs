//! `flags stale`: the flags that have done their job, each with the `flags remove` command
//! that retires it.
//!
//! Staleness is learnt from sources, each a [`Source`]: [`Expired`] reads `expires` in
//! flags.toml; with the Redis store, [`Unchanged`] reads its audit log (a flag that served one
//! value in every environment, unchanged for `--days`) and [`NeverEvaluated`] its evaluation
//! counts (a flag no process reported evaluating in the last day). Everything else (merging,
//! suggested values, output) is shared.

use std::path::Path;
use std::process::ExitCode;

use flags_model::{Catalog, Date, Flag, Setting, Value};
use serde_json::json;

use flags_runtime::store::RedisStore;

use crate::output::{Format, Paint, print_json};
use crate::project::Project;
use crate::store::RedisOption;
use crate::{EXIT_PROBLEMS, Failure};

/// Options of `flags stale`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// With the store: a flag serving one value in every environment, unchanged in the audit
    /// log for this many days, is stale.
    #[arg(long, value_name = "N", default_value_t = 30)]
    days: u64,
    #[command(flatten)]
    redis: RedisOption,
}

/// A flag a source finds stale.
#[derive(Debug)]
pub(crate) struct Stale {
    /// The flag's index in the catalog.
    pub(crate) flag: usize,
    /// Why, for people: "past its `expires` date, 2020-01-31".
    pub(crate) reason: String,
    /// The value to keep when the source knows it (the one value served everywhere);
    /// otherwise the one the flag serves in its last environment is suggested.
    pub(crate) keep: Option<Value>,
}

/// Where staleness is learnt.
pub(crate) trait Source {
    /// Its name in listings and JSON: `expired`.
    fn name(&self) -> &'static str;

    /// The stale flags it finds; an error when it cannot be read (a store out of reach).
    fn find(&self, catalog: &Catalog) -> Result<Vec<Stale>, Failure>;
}

/// Flags past their `expires` date, as the `expired` lint of `flags check` sees them.
pub(crate) struct Expired {
    /// "Today": the current UTC date, or `SOURCE_DATE_EPOCH`'s.
    pub(crate) today: Date,
}

impl Source for Expired {
    fn name(&self) -> &'static str {
        "expired"
    }

    fn find(&self, catalog: &Catalog) -> Result<Vec<Stale>, Failure> {
        Ok(catalog
            .flags()
            .iter()
            .enumerate()
            .filter(|(_, flag)| flag.is_expired(self.today))
            .filter_map(|(index, flag)| {
                Some(Stale {
                    flag: index,
                    reason: format!(
                        "past its `expires` date, {} (owner: {}, ticket: {})",
                        flag.expires()?,
                        flag.owner().unwrap_or("none"),
                        flag.ticket().unwrap_or("none")
                    ),
                    keep: None,
                })
            })
            .collect())
    }
}

/// The sources the options ask for: the store's with `--redis`.
fn sources<'p>(args: &Args, project: &'p Project) -> Vec<Box<dyn Source + 'p>> {
    let mut sources: Vec<Box<dyn Source + 'p>> = vec![Box::new(Expired {
        today: Date::today(),
    })];
    if let Some(url) = args.redis.url() {
        sources.push(Box::new(Unchanged {
            project,
            url: url.to_owned(),
            days: args.days,
        }));
        sources.push(Box::new(NeverEvaluated {
            project,
            url: url.to_owned(),
        }));
    }
    sources
}

/// Every environment's store, each connected.
fn stores(project: &Project, catalog: &Catalog, url: &str) -> Result<Vec<RedisStore>, Failure> {
    catalog
        .environments()
        .names()
        .iter()
        .map(|env| crate::store::open(project, catalog, url, Some(env)).map(|(store, _)| store))
        .collect()
}

/// Flags that serve one value in every environment (an override in the store, else
/// flags.toml's value; no rules anywhere) and that the audit log shows unchanged for `days`.
struct Unchanged<'p> {
    project: &'p Project,
    url: String,
    days: u64,
}

impl Source for Unchanged<'_> {
    fn name(&self) -> &'static str {
        "audit log"
    }

    fn find(&self, catalog: &Catalog) -> Result<Vec<Stale>, Failure> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64);
        let since_ms = now_ms.saturating_sub(self.days * 86_400_000);
        let mut stores = stores(self.project, catalog, &self.url)?;
        // Per environment: what the store overrides, and whether its log reaches back far
        // enough to vouch for a flag it does not mention.
        let mut environments = Vec::new();
        for store in &mut stores {
            let contents = store.list().map_err(crate::store::failure)?;
            let log = store
                .audit_log(None, flags_runtime::store::AUDIT_MAXLEN)
                .map_err(crate::store::failure)?;
            let covers = log.last().is_some_and(|oldest| oldest.time_ms <= since_ms);
            environments.push((contents, covers));
        }
        let mut stale = Vec::new();
        for (index, flag) in catalog.flags().iter().enumerate() {
            let mut served: Option<Value> = None;
            let mut one_value = true;
            for (position, (contents, _)) in environments.iter().enumerate() {
                let stored = contents
                    .overrides
                    .iter()
                    .find(|o| o.flag == flag.key())
                    .and_then(|o| o.setting.clone().ok());
                let value = match stored.unwrap_or_else(|| flag.setting_in(Some(position))) {
                    Setting::Value(value) => value,
                    Setting::Targeted(_) => {
                        one_value = false;
                        break;
                    }
                };
                if served.as_ref().is_some_and(|first| *first != value) {
                    one_value = false;
                    break;
                }
                served = Some(value);
            }
            let Some(value) = served.filter(|_| one_value) else {
                continue;
            };
            let mut unchanged = true;
            for (store, (_, covers)) in stores.iter_mut().zip(&environments) {
                let last = store
                    .audit_log(Some(flag.key()), 1)
                    .map_err(crate::store::failure)?;
                unchanged &= match last.first() {
                    Some(entry) => entry.time_ms <= since_ms,
                    None => *covers,
                };
            }
            if unchanged {
                stale.push(Stale {
                    flag: index,
                    reason: format!(
                        "serves `{value}` in every environment, unchanged in the store's audit log for {} days",
                        self.days
                    ),
                    keep: Some(value),
                });
            }
        }
        Ok(stale)
    }
}

/// Flags that no process reported evaluating in the last day, when some process reports
/// evaluation counts to the store at all.
struct NeverEvaluated<'p> {
    project: &'p Project,
    url: String,
}

impl Source for NeverEvaluated<'_> {
    fn name(&self) -> &'static str {
        "evaluation counts"
    }

    fn find(&self, catalog: &Catalog) -> Result<Vec<Stale>, Failure> {
        let keys: Vec<&str> = catalog.flags().iter().map(Flag::key).collect();
        let mut evaluated = vec![false; keys.len()];
        let mut reported = false;
        for mut store in stores(self.project, catalog, &self.url)? {
            let counts = store.counts(&keys).map_err(crate::store::failure)?;
            for (index, counts) in counts.iter().enumerate() {
                reported |= counts.last_seen.is_some();
                if counts.last_day().values().any(|count| *count > 0) {
                    evaluated[index] = true;
                }
            }
        }
        if !reported {
            // No process reports counts: silence says nothing.
            return Ok(Vec::new());
        }
        Ok(evaluated
            .iter()
            .enumerate()
            .filter(|(_, evaluated)| !**evaluated)
            .map(|(index, _)| Stale {
                flag: index,
                reason: "no process that reports evaluation counts evaluated it in the last day"
                    .to_owned(),
                keep: None,
            })
            .collect())
    }
}

/// One flag to remove: every reason given for it, and the value to keep.
struct Finding<'c> {
    flag: &'c Flag,
    reasons: Vec<(&'static str, String)>,
    keep: Option<Value>,
    /// What decided `keep`.
    keep_why: String,
}

/// Runs `flags stale`.
pub(crate) fn run(file: Option<&Path>, args: &Args) -> Result<ExitCode, Failure> {
    let project = Project::open(file)?;
    let catalog = project.catalog()?;
    let mut findings: Vec<(usize, Finding<'_>)> = Vec::new();
    for source in sources(args, &project) {
        for stale in source.find(&catalog)? {
            let Some(flag) = catalog.flags().get(stale.flag) else {
                continue;
            };
            let at = match findings.iter().position(|(i, _)| *i == stale.flag) {
                Some(at) => at,
                None => {
                    let (keep, keep_why) = suggested_keep(&catalog, flag);
                    findings.push((
                        stale.flag,
                        Finding {
                            flag,
                            reasons: Vec::new(),
                            keep,
                            keep_why,
                        },
                    ));
                    findings.len() - 1
                }
            };
            let finding = &mut findings[at].1;
            finding.reasons.push((source.name(), stale.reason));
            if let Some(keep) = stale.keep {
                finding.keep_why = format!("what {} says it serves", source.name());
                finding.keep = Some(keep);
            }
        }
    }
    findings.sort_by_key(|(index, _)| *index);
    let command = |finding: &Finding<'_>| {
        let keep = finding
            .keep
            .as_ref()
            .map_or_else(|| "VALUE".to_owned(), keep_argument);
        format!(
            "flags remove {} --keep {keep}",
            shell_word(finding.flag.key())
        )
    };
    match args.format {
        Format::Json => print_json(&json!({
            "file": project.file.name(),
            "stale": findings.iter().map(|(_, f)| json!({
                "flag": f.flag.key(),
                "reasons": f.reasons.iter().map(|(source, reason)| json!({
                    "source": source,
                    "reason": reason,
                })).collect::<Vec<_>>(),
                "keep": f.keep.as_ref().map(crate::output::json_value),
                "keep_why": f.keep_why,
                "command": command(f),
            })).collect::<Vec<_>>(),
        })),
        Format::Text => {
            let paint = Paint::stdout();
            if findings.is_empty() {
                println!("{}: {}", project.file.name(), paint.good("no stale flags"));
            }
            for (_, finding) in &findings {
                println!("{}", paint.strong(finding.flag.key()));
                for (source, reason) in &finding.reasons {
                    println!("  {}: {reason}", paint.dim(source));
                }
                println!(
                    "  {}  {}",
                    command(finding),
                    paint.dim(&format!("# {}", finding.keep_why))
                );
            }
        }
    }
    Ok(if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PROBLEMS)
    })
}

/// The value to keep when no source knows it: the one every environment serves, else the
/// one the last environment serves (by convention production), when that is one value.
fn suggested_keep(catalog: &Catalog, flag: &Flag) -> (Option<Value>, String) {
    let names = catalog.environments().names();
    let values: Vec<Option<Value>> = (0..names.len())
        .map(|index| match flag.setting_in(Some(index)) {
            Setting::Value(value) => Some(value),
            Setting::Targeted(_) => None,
        })
        .collect();
    if let Some(Some(first)) = values.first() {
        if values.iter().all(|v| v.as_ref() == Some(first)) {
            return (
                Some(first.clone()),
                "served in every environment".to_owned(),
            );
        }
    }
    match (names.last(), values.last()) {
        (Some(last), Some(Some(value))) => (Some(value.clone()), format!("served in `{last}`")),
        (Some(last), _) => (
            None,
            format!("targeted in `{last}`: choose the value to keep"),
        ),
        (None, _) => (None, "choose the value to keep".to_owned()),
    }
}

/// A value as `--keep` takes it.
fn keep_argument(value: &Value) -> String {
    match value {
        Value::Bool(true) => "on".to_owned(),
        Value::Bool(false) => "off".to_owned(),
        other => shell_word(&other.to_string()),
    }
}

/// `text` quoted for a POSIX shell when it needs to be.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@+=,".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}
