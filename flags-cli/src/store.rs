//! The Redis store from the command line: `--redis URL` on `set`, `unset` and `list`, and
//! `flags segment`. Every change is checked against flags.toml before it is written. (`flags
//! store`, to export, restore and reset the store, is in store_admin.rs.)

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use flags_model::{Catalog, Setting};
use flags_runtime::OverrideError;
use flags_runtime::store::{Actor, Keys, RedisStore, StoreContents, StoreError, StoreExport};
use serde_json::json;

use crate::Failure;
use crate::list::environment;
use crate::output::{Format, Paint, json_value, print_json, printable};
use crate::project::Project;

/// `--redis URL`, shared by the commands that can use the Redis store.
#[derive(Debug, clap::Args)]
pub(crate) struct RedisOption {
    /// Use the Redis store at URL (redis://host:port/db) rather than the overrides file.
    #[arg(long = "redis", env = "FLAGS_REDIS_URL", value_name = "URL")]
    url: Option<String>,
}

impl RedisOption {
    /// The URL, unless none or an empty one was given (an empty variable means no store).
    pub(crate) fn url(&self) -> Option<&str> {
        self.url.as_deref().filter(|url| !url.is_empty())
    }
}

/// Options of `flags segment`.
#[derive(Debug, clap::Args)]
pub(crate) struct SegmentArgs {
    #[command(subcommand)]
    command: SegmentCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SegmentCommand {
    /// Adds a context key to a segment, in every process that follows the store.
    Add(Membership),
    /// Removes a context key from a segment (also one flags.toml lists).
    Remove(Membership),
    /// The keys a segment lists: those of flags.toml with the store's changes.
    List(SegmentList),
}

#[derive(Debug, clap::Args)]
struct Membership {
    /// The segment, as declared in flags.toml.
    segment: String,
    /// The context keys (user ids, organisations...).
    #[arg(required_unless_present = "keys_from")]
    keys: Vec<String>,
    /// Also every line of this file (`-`: standard input; a pipe such as `<(cut -f1 x)` too),
    /// for many keys at once; blank lines are skipped. All of them are one write.
    #[arg(long, value_name = "PATH")]
    keys_from: Option<PathBuf>,
    #[command(flatten)]
    target: Target,
}

impl Membership {
    /// The keys given, then those of `--keys-from`.
    fn all_keys(&self) -> Result<Vec<String>, Failure> {
        let mut keys = self.keys.clone();
        let Some(path) = &self.keys_from else {
            return Ok(keys);
        };
        // Not a flags file: a list of keys may be larger, and come from a pipe the user
        // started, which the command rightly waits for.
        if path.as_os_str() == "-" {
            read_keys(std::io::stdin().lock(), "standard input", LIMITS, &mut keys)?;
        } else {
            let shown = path.display().to_string();
            let file = std::fs::File::open(path)
                .map_err(|error| Failure::Broken(format!("cannot open {shown}: {error}")))?;
            read_keys(file, &shown, LIMITS, &mut keys)?;
        }
        Ok(keys)
    }
}

/// The most `--keys-from` reads, in bytes and in keys: room for millions of keys in one
/// write, not for a runaway pipe (`yes |`), which would otherwise fill the memory.
const LIMITS: (u64, usize) = (256 << 20, 10_000_000);

/// Appends the keys of `source` (called `shown` in errors), one a line, trimmed, blank lines
/// skipped, to `keys`; more than `limits` (bytes, keys) allow are refused.
fn read_keys(
    source: impl std::io::Read,
    shown: &str,
    (limit, most): (u64, usize),
    keys: &mut Vec<String>,
) -> Result<(), Failure> {
    use std::io::BufRead as _;
    let mut reader = std::io::BufReader::new(source.take(limit.saturating_add(1)));
    let mut line = Vec::new();
    let (mut number, mut read) = (0usize, 0u64);
    loop {
        line.clear();
        let length = reader.read_until(b'\n', &mut line).map_err(|error| {
            Failure::Broken(format!("cannot read the keys from {shown}: {error}"))
        })?;
        if length == 0 {
            return Ok(());
        }
        number += 1;
        read += length as u64;
        if read > limit {
            return Err(Failure::Broken(format!(
                "{shown} holds more than {limit} bytes of keys: give them in several writes"
            )));
        }
        let text = std::str::from_utf8(&line).map_err(|_| {
            Failure::Broken(format!(
                "{shown}:{number}: the line is not UTF-8 text; a key is text"
            ))
        })?;
        let key = text.trim();
        if key.is_empty() {
            continue;
        }
        if keys.len() >= most {
            return Err(Failure::Broken(format!(
                "{shown}: more than {most} keys for one write: give them in several writes"
            )));
        }
        keys.push(key.to_owned());
    }
}

#[derive(Debug, clap::Args)]
struct SegmentList {
    /// The segment, as declared in flags.toml.
    segment: String,
    #[command(flatten)]
    target: Target,
}

/// Which store and which environment.
#[derive(Debug, clap::Args)]
pub(crate) struct Target {
    /// The environment [default: the one $APP_ENV (the catalog's variable) names, else the
    /// catalog's default].
    #[arg(long, value_name = "NAME")]
    pub(crate) env: Option<String>,
    #[command(flatten)]
    pub(crate) redis: RedisOption,
}

/// The store at `url` for environment `env` (else the environment the runtime would choose).
pub(crate) fn open(
    project: &Project,
    catalog: &Catalog,
    url: &str,
    env: Option<&str>,
) -> Result<(RedisStore, String), Failure> {
    let variable = catalog.environments().variable();
    let from_variable = std::env::var(variable).ok().filter(|v| !v.is_empty());
    let default = catalog
        .environments()
        .default()
        .and_then(|index| catalog.environments().names().get(index).cloned());
    let Some(name) = env.map(str::to_owned).or(from_variable).or(default) else {
        return Err(Failure::Refused(format!(
            "the store holds overrides per environment: name one with --env (or {variable})"
        )));
    };
    environment(catalog, project, &name)?;
    let store = RedisStore::connect(url, catalog, &name)
        .map_err(failure)?
        .with_actor(actor());
    Ok((store, name))
}

/// Who the audit log names for the command's changes: `FLAGS_ACTOR`, else the user running
/// it (`USER`, `LOGNAME`), through `cli`.
fn actor() -> Actor {
    let name = ["FLAGS_ACTOR", "USER", "LOGNAME"]
        .iter()
        .find_map(|variable| {
            std::env::var(variable)
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    Actor::new(name.trim(), "cli")
}

/// A store error as the command reports it: Redis out of reach breaks the command; anything
/// else is a refusal.
pub(crate) fn failure(error: StoreError) -> Failure {
    match error {
        StoreError::Redis { .. } => Failure::Broken(error.to_string()),
        other => Failure::Refused(other.to_string()),
    }
}

/// `flags set NAME VALUE --redis URL`.
pub(crate) fn set(
    file: Option<&Path>,
    url: &str,
    name: &str,
    value: &str,
    env: Option<&str>,
) -> Result<ExitCode, Failure> {
    let project = Project::open(file)?;
    let catalog = project.catalog()?;
    let (mut store, env) = open(&project, &catalog, url, env)?;
    let (index, checked) = store.checked_value(name, value).map_err(|error| {
        Failure::Refused(match error {
            StoreError::Override(OverrideError::WrongType { flag, error }) => format!(
                "flag `{flag}` cannot be set to `{value}`: {error}; the store is left as it was"
            ),
            other => format!("{other}; the store is left as it was"),
        })
    })?;
    let version = store.set(name, value).map_err(failure)?;
    let key = catalog.flags()[index].key();
    let paint = Paint::stdout();
    println!(
        "set `{key}` to {} in `{env}` in redis {} ({} field `{key}`, version {version})",
        paint.strong(&checked.to_toml()),
        store.server(),
        store.keys().overrides(),
    );
    println!("{}", FOLLOWERS);
    Ok(ExitCode::SUCCESS)
}

/// What every change says last.
pub(crate) const FOLLOWERS: &str =
    "processes that follow the store apply it at once; others at their next resync";

/// `flags unset NAME --redis URL`.
pub(crate) fn unset(
    file: Option<&Path>,
    url: &str,
    name: &str,
    env: Option<&str>,
) -> Result<ExitCode, Failure> {
    let project = Project::open(file)?;
    let catalog = project.catalog()?;
    let (mut store, env) = open(&project, &catalog, url, env)?;
    let key = catalog.find(name).map_or(name, |(_, flag)| flag.key());
    let (removed, version) = store.unset(name).map_err(failure)?;
    if removed {
        println!(
            "removed the override of `{}` in `{env}` from redis {} (version {version})",
            Paint::stdout().strong(key),
            store.server()
        );
        println!("{FOLLOWERS}");
    } else {
        println!(
            "nothing to unset: redis {} has no override of `{key}` in `{env}`",
            store.server()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `flags list --redis URL`: what the store holds for one environment.
pub(crate) fn list(
    file: Option<&Path>,
    url: &str,
    env: Option<&str>,
    format: Format,
) -> Result<ExitCode, Failure> {
    let project = Project::open(file)?;
    let catalog = project.catalog()?;
    let (mut store, env) = open(&project, &catalog, url, env)?;
    let contents = store.list().map_err(failure)?;
    match format {
        Format::Json => print_json(&contents_json(store.server(), &env, &contents)),
        Format::Text => print_contents(store.server(), &env, &contents),
    }
    let skipped = contents
        .overrides
        .iter()
        .any(|entry| entry.setting.is_err());
    // Awaiting a restore is a problem to act on: scripts see it in the exit code.
    Ok(if skipped || contents.recovery.is_some() {
        ExitCode::from(crate::EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    })
}

fn setting_text(setting: &Setting) -> String {
    match setting {
        Setting::Value(value) => value.to_toml(),
        Setting::Targeted(targeting) => targeting.summary(),
    }
}

fn print_contents(server: &str, env: &str, contents: &StoreContents) {
    let paint = Paint::stdout();
    println!(
        "redis {server}, environment `{env}`, store {}, version {}",
        contents
            .identity
            .as_deref()
            .unwrap_or("without identity (never written)"),
        contents.version
    );
    if let Some(record) = &contents.recovery {
        println!(
            "{}",
            paint.error(&format!(
                "THE STORE AWAITS A RESTORE: {}",
                awaiting_restore(env, record)
            ))
        );
    }
    if contents.overrides.is_empty() {
        println!("no overrides");
    } else {
        println!("overrides:");
    }
    for entry in &contents.overrides {
        match &entry.setting {
            Ok(setting) => println!(
                "  {} = {}",
                printable(&entry.flag),
                paint.strong(&printable(&setting_text(setting)))
            ),
            Err(problem) => println!(
                "  {} {}: {}",
                printable(&entry.flag),
                paint.error("skipped by every process"),
                printable(problem).replace('\n', "\n    ")
            ),
        }
    }
    for segment in &contents.segments {
        if segment.added.is_empty() && segment.removed.is_empty() {
            continue;
        }
        println!(
            "segment {}: added {}; removed {}",
            segment.name,
            printable(&joined(&segment.added)),
            printable(&joined(&segment.removed))
        );
    }
}

fn joined(keys: &[String]) -> String {
    if keys.is_empty() {
        "none".to_owned()
    } else {
        keys.join(", ")
    }
}

fn contents_json(server: &str, env: &str, contents: &StoreContents) -> serde_json::Value {
    let overrides: Vec<serde_json::Value> = contents
        .overrides
        .iter()
        .map(|entry| match &entry.setting {
            Ok(Setting::Value(value)) => {
                json!({ "flag": entry.flag, "text": entry.text, "value": json_value(value) })
            }
            Ok(Setting::Targeted(targeting)) => {
                json!({ "flag": entry.flag, "text": entry.text, "targeting": targeting.summary() })
            }
            Err(problem) => json!({ "flag": entry.flag, "text": entry.text, "error": problem }),
        })
        .collect();
    let segments: Vec<serde_json::Value> = contents
        .segments
        .iter()
        .map(|s| json!({ "name": s.name, "added": s.added, "removed": s.removed }))
        .collect();
    let recovery = contents.recovery.as_ref().map(|record| match record {
        Ok(record) => json!({
            "store": record.store,
            "version": record.version,
            "overrides": record.overrides.keys().collect::<Vec<_>>(),
            "message": awaiting_restore(env, &Ok(record.clone())),
        }),
        Err(error) => json!({ "error": error.to_string() }),
    });
    json!({
        "server": server,
        "environment": env,
        "store": contents.identity,
        "version": contents.version,
        "awaiting_restore": recovery,
        "overrides": overrides,
        "segments": segments,
    })
}

/// What `flags list --redis` says of a store that awaits a restore.
fn awaiting_restore(env: &str, record: &Result<StoreExport, StoreError>) -> String {
    let held = match record {
        Ok(record) => format!(
            "store {} at version {}, {} override(s){}",
            record.store.as_deref().unwrap_or("without identity"),
            record.version,
            record.overrides.len(),
            if record.overrides.is_empty() {
                String::new()
            } else {
                format!(
                    ": {}",
                    record
                        .overrides
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ),
        Err(error) => format!("which cannot be read: {error}"),
    };
    format!(
        "a process that follows it found it emptied, replaced or gone back, and keeps the values \
         it held instead (the recovery record {} holds them: {held}); writes are refused. Put \
         them back with `flags store restore --recovered --env {env}`, or accept the store as it \
         is with `flags store reset --confirm --env {env}` (docs/operations.md, \"When the store \
         comes back empty\")",
        Keys::new(env).recovery()
    )
}

/// `flags segment add|remove|list`.
pub(crate) fn segment(file: Option<&Path>, args: &SegmentArgs) -> Result<ExitCode, Failure> {
    let project = Project::open(file)?;
    let catalog = project.catalog()?;
    let (name, target) = match &args.command {
        SegmentCommand::Add(m) | SegmentCommand::Remove(m) => (&m.segment, &m.target),
        SegmentCommand::List(l) => (&l.segment, &l.target),
    };
    let Some((_, declared)) = catalog.segment(name) else {
        let names = catalog.segments().iter().map(|s| s.name.as_str());
        return Err(Failure::Refused(format!(
            "{} declares no segment `{name}`{}",
            project.file.name(),
            flags_model::naming::did_you_mean(name, names)
        )));
    };
    let Some(url) = target.redis.url() else {
        if let SegmentCommand::List(_) = args.command {
            print_keys(&declared.keys, &[], &[]);
            return Ok(ExitCode::SUCCESS);
        }
        return Err(Failure::Refused(
            "segment changes go to the Redis store: pass --redis URL or set FLAGS_REDIS_URL"
                .to_owned(),
        ));
    };
    let (mut store, env) = open(&project, &catalog, url, target.env.as_deref())?;
    let paint = Paint::stdout();
    match &args.command {
        SegmentCommand::Add(m) | SegmentCommand::Remove(m) => {
            let adding = matches!(args.command, SegmentCommand::Add(_));
            let keys = m.all_keys()?;
            let borrowed: Vec<&str> = keys.iter().map(String::as_str).collect();
            let (version, done) = if adding {
                (store.segment_add_many(name, &borrowed), "added")
            } else {
                (store.segment_remove_many(name, &borrowed), "removed")
            };
            let version = version.map_err(failure)?;
            let to = if adding { "to" } else { "from" };
            let what = match keys.as_slice() {
                [key] => format!("`{}`", paint.strong(&printable(key))),
                keys => format!("{} keys", keys.len()),
            };
            println!(
                "{done} {what} {to} segment `{name}` in `{env}` in redis {} (version {version})",
                store.server()
            );
            println!("{FOLLOWERS}");
        }
        SegmentCommand::List(_) => {
            let contents = store.list().map_err(failure)?;
            let stored = contents.segments.iter().find(|s| &s.name == name);
            let (added, removed) = stored.map_or((&[][..], &[][..]), |s| {
                (s.added.as_slice(), s.removed.as_slice())
            });
            print_keys(&declared.keys, added, removed);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The keys listed now, sorted, each with where it comes from.
fn print_keys(declared: &[String], added: &[String], removed: &[String]) {
    let mut keys: Vec<(&str, &str)> = declared
        .iter()
        .filter(|key| !removed.contains(key) && !added.contains(key))
        .map(|key| (key.as_str(), "flags.toml"))
        .chain(added.iter().map(|key| (key.as_str(), "added in the store")))
        .collect();
    keys.sort();
    for (key, from) in &keys {
        println!("{}  ({from})", printable(key));
    }
    for key in removed {
        println!("{}  (removed in the store)", printable(key));
    }
    if keys.is_empty() && removed.is_empty() {
        println!("no keys (rules may still match contexts)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of(input: &[u8], limit: u64) -> Result<Vec<String>, String> {
        limited(input, (limit, 100))
    }

    fn limited(input: &[u8], limits: (u64, usize)) -> Result<Vec<String>, String> {
        let mut keys = vec!["given".to_owned()];
        match read_keys(input, "keys.txt", limits, &mut keys) {
            Ok(()) => Ok(keys),
            Err(Failure::Broken(message) | Failure::Refused(message)) => Err(message),
        }
    }

    #[test]
    fn keys_are_lines_trimmed_after_those_given() {
        assert_eq!(
            keys_of(b"u-1\r\n  u-2 \n\n\t\nu-3", 100),
            Ok(vec![
                "given".into(),
                "u-1".into(),
                "u-2".into(),
                "u-3".into()
            ])
        );
        assert_eq!(keys_of(b"", 100), Ok(vec!["given".into()]));
    }

    #[test]
    fn any_bytes_give_clean_keys_or_an_error_that_names_the_source() {
        // Seeded, so that a failure repeats.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"ab-1 \t\r\n\n\n\xff\xc3\xa9\x00";
        for _ in 0..2_000 {
            let length = (next() % 64) as usize;
            let input: Vec<u8> = (0..length)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            match limited(&input, (48, 12)) {
                Ok(keys) => {
                    for key in &keys[1..] {
                        assert!(
                            !key.is_empty() && key.trim() == key && !key.contains('\n'),
                            "{key:?} from {input:?}"
                        );
                    }
                }
                Err(message) => assert!(message.starts_with("keys.txt"), "{message}"),
            }
        }
    }

    #[test]
    fn a_line_that_is_not_text_is_refused_with_its_number() {
        assert_eq!(
            keys_of(b"u-1\nu-\xff\n", 100),
            Err("keys.txt:2: the line is not UTF-8 text; a key is text".into())
        );
    }

    #[test]
    fn more_than_the_limit_is_refused_however_it_is_cut() {
        assert_eq!(keys_of(b"u-1\nu-2\n", 8).map(|k| k.len()), Ok(3));
        let refused =
            Err("keys.txt holds more than 7 bytes of keys: give them in several writes".into());
        assert_eq!(keys_of(b"u-1\nu-2\n", 7), refused);
        // One line longer than the limit, without a line break.
        assert_eq!(keys_of(&[b'x'; 20], 7), refused);
        // As many keys as allowed, counting those given, and one more.
        assert_eq!(limited(b"u-1\n\nu-2\n", (100, 3)).map(|k| k.len()), Ok(3));
        assert_eq!(
            limited(b"u-1\nu-2\nu-3\n", (100, 3)),
            Err("keys.txt: more than 3 keys for one write: give them in several writes".into())
        );
    }
}
