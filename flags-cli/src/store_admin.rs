//! `flags store export|restore|reset`: backing up the Redis store, and bringing it back after
//! it came back empty (Redis restarted without its data), was replaced or went back.
//! docs/operations.md, "When the store comes back empty", is the procedure.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use flags_runtime::store::{RedisStore, Reset, RestoreSource, Restored, StoreError, StoreExport};

use crate::Failure;
use crate::output::Paint;
use crate::project::Project;
use crate::store::{FOLLOWERS, Target, failure, open};

/// Options of `flags store`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Prints (or writes to --output) the store's overrides and segment memberships as a
    /// document that `flags store restore FILE` puts back.
    Export(ExportArgs),
    /// Replaces the store's overrides and segment memberships with those of an export (or of
    /// the recovery record), after checking every entry against flags.toml.
    Restore(RestoreArgs),
    /// Accepts the store as it is as the fleet's truth after it came back empty, was
    /// replaced or went back: every process follows it again.
    Reset(ResetArgs),
}

#[derive(Debug, clap::Args)]
struct ExportArgs {
    /// Write the document to FILE (atomically, readable by you only) rather than print it.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Export the recovery record (the state a follower kept when it found the store
    /// emptied, replaced or gone back) rather than the store's contents.
    #[arg(long)]
    recovered: bool,
    #[command(flatten)]
    target: Target,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("from").required(true).args(["document", "recovered"])))]
struct RestoreArgs {
    /// The export document to restore (from `flags store export`).
    // Not `file`: the global `--file` (flags.toml) has that id.
    #[arg(value_name = "FILE")]
    document: Option<PathBuf>,
    /// Restore the recovery record: the values a follower kept when it found the store
    /// emptied, replaced or gone back.
    #[arg(long)]
    recovered: bool,
    /// Show what would change, and write nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    target: Target,
}

#[derive(Debug, clap::Args)]
struct ResetArgs {
    /// Confirm: the values followers kept are given up for the store's.
    #[arg(long)]
    confirm: bool,
    #[command(flatten)]
    target: Target,
}

/// `flags store ...`.
pub(crate) fn run(file: Option<&Path>, args: &Args) -> Result<ExitCode, Failure> {
    let target = match &args.command {
        Command::Export(a) => &a.target,
        Command::Restore(a) => &a.target,
        Command::Reset(a) => &a.target,
    };
    let Some(url) = target.redis.url() else {
        return Err(Failure::Refused(
            "`flags store` works on the Redis store: pass --redis URL or set FLAGS_REDIS_URL"
                .to_owned(),
        ));
    };
    let project = Project::open(file)?;
    let catalog = project.catalog()?;
    let (mut store, env) = open(&project, &catalog, url, target.env.as_deref())?;
    match &args.command {
        Command::Export(a) => export(&mut store, &env, a),
        Command::Restore(a) => restore(&mut store, &env, a),
        Command::Reset(a) => reset(&mut store, &env, a.confirm),
    }
}

fn export(store: &mut RedisStore, env: &str, args: &ExportArgs) -> Result<ExitCode, Failure> {
    let paint = Paint::stderr();
    let document = if args.recovered {
        store.recovery_record().map_err(failure)?.ok_or_else(|| {
            Failure::Refused(format!(
                "the store of `{env}` has no recovery record: it does not await a restore"
            ))
        })?
    } else {
        let exported = store.export().map_err(failure)?;
        for flag in &exported.invalid {
            eprintln!(
                "{}: the override of `{flag}` is exported as stored, but it is not valid for \
                 flags.toml (every process skips it): a restore refuses the document until it \
                 is fixed or removed",
                paint.warning("warning")
            );
        }
        for flag in &exported.left_out {
            eprintln!(
                "{}: the override of `{flag}` is left out: it is not UTF-8 text (every process \
                 skips it)",
                paint.warning("warning")
            );
        }
        exported.document
    };
    let text = document.to_toml();
    match &args.output {
        None => print!("{text}"),
        Some(path) => {
            write_atomically(path, &text)?;
            eprintln!(
                "exported {} of `{env}` from redis {} (store {}, version {}): {} override(s), \
                 {} segment(s) with members, to {}",
                if args.recovered {
                    "the recovery record"
                } else {
                    "the store"
                },
                store.server(),
                document.store.as_deref().unwrap_or("without identity"),
                document.version,
                document.overrides.len(),
                document
                    .segments
                    .iter()
                    .filter(|s| !s.added.is_empty() || !s.removed.is_empty())
                    .count(),
                path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn restore(store: &mut RedisStore, env: &str, args: &RestoreArgs) -> Result<ExitCode, Failure> {
    let document = match &args.document {
        Some(path) if !args.recovered => {
            let text = std::fs::read_to_string(path).map_err(|error| {
                Failure::Broken(format!("cannot read {}: {error}", path.display()))
            })?;
            let document = StoreExport::parse(&path.display().to_string(), &text)
                .map_err(|error| Failure::Refused(format!("{error}\nnothing was written")))?;
            Some(document)
        }
        _ => None,
    };
    let (source, from) = match &document {
        Some(document) => (
            RestoreSource::Document(document),
            args.document
                .as_deref()
                .map_or_else(String::new, |p| p.display().to_string()),
        ),
        None => (
            RestoreSource::RecoveryRecord,
            "the recovery record".to_owned(),
        ),
    };
    let restored = if args.dry_run {
        store.preview_restore(source)
    } else {
        store.restore(source)
    }
    .map_err(|error| match error {
        StoreError::InvalidDocument { .. } | StoreError::NoRecoveryRecord { .. } => {
            Failure::Refused(format!("{error}\nnothing was written"))
        }
        other => failure(other),
    })?;
    print_restored(store.server(), env, &from, &restored);
    Ok(ExitCode::SUCCESS)
}

fn print_restored(server: &str, env: &str, from: &str, restored: &Restored) {
    let paint = Paint::stdout();
    let before = format!(
        "{} at version {}",
        restored
            .previous_identity
            .as_deref()
            .unwrap_or("without identity"),
        restored.previous_version
    );
    match &restored.identity {
        Some(identity) => println!(
            "restored the store of `{env}` in redis {server} from {from}: store {identity} at \
             version {} (was {before})",
            restored.version
        ),
        None => println!(
            "would restore the store of `{env}` in redis {server} from {from} (was {before}); \
             nothing is written (--dry-run)"
        ),
    }
    let list = |what: &str, flags: &[String]| {
        if !flags.is_empty() {
            println!("  {what}: {}", paint.strong(&flags.join(", ")));
        }
    };
    list("added", &restored.added);
    list("changed", &restored.changed);
    list("removed", &restored.removed);
    if restored.unchanged > 0 {
        println!("  unchanged: {} override(s)", restored.unchanged);
    }
    for segment in &restored.segments {
        println!(
            "  segment {}: added {} (was {}); removed {} (was {})",
            segment.name,
            joined(&segment.added),
            joined(&segment.added_before),
            joined(&segment.removed),
            joined(&segment.removed_before)
        );
    }
    let nothing = restored.added.is_empty()
        && restored.changed.is_empty()
        && restored.removed.is_empty()
        && restored.segments.is_empty();
    if nothing {
        println!("  no override or segment membership changes");
    }
    for skipped in &restored.skipped {
        println!("  {}: {skipped}", paint.warning("skipped"));
    }
    if restored.identity.is_some() {
        if restored.recovery_cleared {
            println!("the store no longer awaits a restore: writes are accepted again");
        }
        println!("{FOLLOWERS}");
    }
}

fn reset(store: &mut RedisStore, env: &str, confirm: bool) -> Result<ExitCode, Failure> {
    if !confirm {
        let contents = store.list().map_err(failure)?;
        let held = match &contents.recovery {
            Some(Ok(record)) => format!(
                "The recovery record holds the values a follower kept (store {} at version {}, \
                 {} override(s)); they are given up. ",
                record.store.as_deref().unwrap_or("without identity"),
                record.version,
                record.overrides.len()
            ),
            Some(Err(error)) => format!("The recovery record cannot be read ({error}). "),
            None => {
                return Err(Failure::Refused(format!(
                    "the store of `{env}` does not await a restore: a reset would only give it a \
                     new identity, which every process that follows it follows (it keeps its \
                     version {} and {} override(s)). To reset, run again with --confirm",
                    contents.version,
                    contents.overrides.len()
                )));
            }
        };
        return Err(Failure::Refused(format!(
            "a reset accepts the store of `{env}` as it is (version {}, {} override(s)) as the \
             fleet's truth: every process that follows it drops the values it kept and follows \
             the store again. {held}To put the kept values back instead: `flags store restore \
             --recovered --env {env}`. To reset, run again with --confirm",
            contents.version,
            contents.overrides.len()
        )));
    }
    let reset = store.confirm_reset().map_err(failure)?;
    print_reset(store.server(), env, &reset);
    Ok(ExitCode::SUCCESS)
}

fn print_reset(server: &str, env: &str, reset: &Reset) {
    println!(
        "reset the store of `{env}` in redis {server}: store {} at version {} (was {}); every \
         process that follows it follows it as it is",
        reset.identity,
        reset.version,
        reset
            .previous_identity
            .as_deref()
            .unwrap_or("without identity")
    );
    match &reset.discarded {
        Some(Ok(record)) => println!(
            "deleted the recovery record: the values kept from store {} at version {} are given \
             up ({})",
            record.store.as_deref().unwrap_or("without identity"),
            record.version,
            if record.overrides.is_empty() {
                "no overrides".to_owned()
            } else {
                record
                    .overrides
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
        Some(Err(_)) => println!("deleted the recovery record, which could not be read"),
        None => {}
    }
    println!("{FOLLOWERS}");
}

fn joined(keys: &[String]) -> String {
    if keys.is_empty() {
        "none".to_owned()
    } else {
        keys.join(", ")
    }
}

/// Writes `text` to `path` through a temporary file beside it and a rename, so that a
/// backup is never half written.
fn write_atomically(path: &Path, text: &str) -> Result<(), Failure> {
    crate::overrides::write_file_atomically(path, text, ".flags-store-export-")
}
