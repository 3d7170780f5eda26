//! `flags set` and `flags unset`: edit the overrides file the runtime reads, keeping its
//! comments and order, validating the result, and replacing it whole or not at all.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use flags_model::{ALL_ENVIRONMENTS_KEY, Catalog, SourceFile, Value, parse_overrides};
use toml_edit::{DocumentMut, Item, Table, TableLike};

use crate::Failure;
use crate::list::environment;
use crate::output::Paint;
use crate::project::{Project, find_flag};
use crate::store::{self, RedisOption};

/// The overrides file's name when neither `--overrides` nor the file variable says otherwise.
const DEFAULT_FILE_NAME: &str = "flags.overrides.toml";

/// The first lines of an overrides file that `flags set` creates.
const NEW_FILE_HEADER: &str = "# Overrides of flags.toml, read at run time when the variable named in its [overrides]\n\
# file_variable (FLAGS_OVERRIDES by default) holds this file's path. Written by `flags set`;\n\
# edit freely: comments and order are kept. Format: docs/flags-toml.md, \"Overrides file\".\n\n";

/// Options of `flags set`.
#[derive(Debug, clap::Args)]
pub(crate) struct SetArgs {
    /// The flag: its key or accessor name.
    name: String,
    /// The value, read as the flag's type: true/false (or yes/no, on/off, 1/0), a number, a
    /// variant's name, any text.
    value: String,
    /// Override it only in this environment [default: every environment; with --redis, the
    /// environment $APP_ENV names, else the catalog's default].
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
    #[command(flatten)]
    file: OverridesOption,
    #[command(flatten)]
    redis: RedisOption,
}

/// Options of `flags unset`.
#[derive(Debug, clap::Args)]
pub(crate) struct UnsetArgs {
    /// The flag: its key or accessor name (or the name used in the overrides file).
    name: String,
    /// Remove its override for this environment [default: the one for every environment].
    #[arg(long, value_name = "NAME", conflicts_with = "all")]
    env: Option<String>,
    /// Remove every override of the flag.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    file: OverridesOption,
    #[command(flatten)]
    redis: RedisOption,
}

/// `--overrides PATH`, shared by the commands that read or write the overrides file.
#[derive(Debug, clap::Args)]
pub(crate) struct OverridesOption {
    /// The overrides file [default: the path in $FLAGS_OVERRIDES (the catalog's
    /// file_variable), else flags.overrides.toml beside flags.toml].
    #[arg(long = "overrides", value_name = "PATH")]
    path: Option<PathBuf>,
}

/// Which overrides file, and how it was chosen.
#[derive(Debug)]
pub(crate) struct OverridesPath {
    /// The file.
    pub(crate) path: PathBuf,
    /// The variable the runtime reads the file's path from.
    pub(crate) variable: String,
    /// Whether that variable already holds this path.
    pub(crate) from_variable: bool,
}

impl OverridesOption {
    /// `--overrides`, else the file variable's path, else `flags.overrides.toml` beside
    /// flags.toml.
    pub(crate) fn resolve(&self, project: &Project, catalog: &Catalog) -> OverridesPath {
        let variable = catalog.overrides().file_variable().to_owned();
        let from_environment = std::env::var_os(&variable)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let (path, from_variable) = match (&self.path, from_environment) {
            (Some(path), from) => (path.clone(), from.as_ref() == Some(path)),
            (None, Some(path)) => (path, true),
            (None, None) => (project.dir.join(DEFAULT_FILE_NAME), false),
        };
        let path = path
            .strip_prefix(".")
            .map_or(path.clone(), Path::to_path_buf);
        OverridesPath {
            path,
            variable,
            from_variable,
        }
    }
}

impl OverridesPath {
    /// Says which file was written and how the runtime comes to read it.
    fn how_the_runtime_reads_it(&self) -> String {
        if self.from_variable {
            return format!(
                "the runtime reads it: {} points at it; a running program sees the change at its next Flags::reload()",
                self.variable
            );
        }
        let absolute = std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone());
        format!(
            "the runtime reads it when {} points at it: {}={}",
            self.variable,
            self.variable,
            absolute.display()
        )
    }
}

pub(crate) fn set(file: Option<&Path>, args: &SetArgs) -> Result<ExitCode, Failure> {
    if let Some(url) = args.redis.url() {
        return store::set(file, url, &args.name, &args.value, args.env.as_deref());
    }
    let project = Project::open(file)?;
    let catalog = project.catalog()?;
    let (index, flag) = find_flag(&catalog, &project, &args.name)?;
    let env_key = environment_key(&catalog, &project, args.env.as_deref())?;
    let target = args.file.resolve(&project, &catalog);
    let value = flag.flag_type().parse_text(&args.value).map_err(|error| {
        Failure::Refused(format!(
            "flag `{}` cannot be set to `{}`: {error}; {} is left as it was",
            flag.key(),
            args.value,
            target.path.display()
        ))
    })?;
    let old = read_existing(&target.path)?;
    let mut document = parse_document(&catalog, &target.path, old.as_deref().unwrap_or(""))?;
    let flags = flags_table(&mut document, &target.path)?;
    let table_key = table_key(&catalog, flags, index).unwrap_or_else(|| flag.key().to_owned());
    let entry = flags
        .entry(&table_key)
        .or_insert_with(|| Item::Table(Table::new()));
    let Some(entry) = entry.as_table_like_mut() else {
        return Err(Failure::Refused(format!(
            "`flags.{table_key}` in {} is not a table; fix the file first",
            target.path.display()
        )));
    };
    let replaced_targeting = entry
        .get(env_key)
        .is_some_and(|item| !item.is_value() || item.as_inline_table().is_some());
    put_value(entry, env_key, &value);
    let mut text = document.to_string();
    if old.as_deref().is_none_or(|t| t.trim().is_empty()) {
        text.insert_str(0, NEW_FILE_HEADER);
    }
    let written = validate(&catalog, &target.path, &text)?;
    if old.as_deref() != Some(text.as_str()) {
        write_atomically(&target.path, &text)?;
    }
    let line = written
        .entries()
        .iter()
        .find(|e| e.flag == index && e.environment == catalog.environments().position(env_key))
        .map_or(String::new(), |e| format!(":{}", e.line));
    let paint = Paint::stdout();
    let scope = match &args.env {
        Some(env) => format!("in `{env}`"),
        None => "in every environment".to_owned(),
    };
    println!(
        "set `{}` to {} {scope} in {}{line}",
        flag.key(),
        paint.strong(&value.to_toml()),
        target.path.display(),
    );
    if replaced_targeting {
        println!("it replaces the targeting the file had there");
    }
    if args.env.is_none() {
        // An environment's own override wins over `value` in that environment.
        for entry in written.entries().iter().filter(|e| e.flag == index) {
            if let Some(environment) = entry.environment {
                println!(
                    "{}: in `{}`, the file's own override (line {}) still wins",
                    paint.warning("note"),
                    catalog.environments().names()[environment],
                    entry.line
                );
            }
        }
    }
    println!("{}", target.how_the_runtime_reads_it());
    let env_var = catalog.env_var(flag);
    if std::env::var_os(&env_var).is_some() {
        println!(
            "{}: {env_var} is set in this environment; where a program sees it too, it wins over the file",
            paint.warning("note")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn unset(file: Option<&Path>, args: &UnsetArgs) -> Result<ExitCode, Failure> {
    if let Some(url) = args.redis.url() {
        // The store holds one override per flag and environment: `--all` is the same.
        return store::unset(file, url, &args.name, args.env.as_deref());
    }
    let project = Project::open(file)?;
    let catalog = project.catalog()?;
    // A flag removed from flags.toml can still be unset by the name the file gives it.
    let flag = catalog.find(&args.name);
    let env_key = environment_key(&catalog, &project, args.env.as_deref())?;
    let target = args.file.resolve(&project, &catalog);
    let paint = Paint::stdout();
    let what = match (args.all, &args.env) {
        (true, _) => "every override".to_owned(),
        (false, Some(env)) => format!("the override in `{env}`"),
        (false, None) => "the override for every environment".to_owned(),
    };
    let nothing = |why: String| {
        println!("nothing to unset: {why}");
        Ok(ExitCode::SUCCESS)
    };
    let Some(old) = read_existing(&target.path)? else {
        return nothing(format!("{} does not exist", target.path.display()));
    };
    let mut document = parse_document(&catalog, &target.path, &old)?;
    let flags = flags_table(&mut document, &target.path)?;
    let table_key = match flag {
        Some((index, _)) => table_key(&catalog, flags, index),
        None => flags.contains_key(&args.name).then(|| args.name.clone()),
    };
    let Some(table_key) = table_key else {
        return match flag {
            Some((_, flag)) => nothing(format!(
                "{} has no override of `{}`",
                target.path.display(),
                flag.key()
            )),
            None => Err(Failure::Refused(format!(
                "{}, and {} has no table for it",
                catalog.unknown_flag_message(&args.name),
                target.path.display()
            ))),
        };
    };
    let removed = if args.all {
        flags.remove(&table_key).is_some()
    } else {
        let entry = flags.get_mut(&table_key).and_then(Item::as_table_like_mut);
        let removed = entry.is_some_and(|entry| entry.remove(env_key).is_some());
        if flags
            .get(&table_key)
            .and_then(Item::as_table_like)
            .is_some_and(TableLike::is_empty)
        {
            flags.remove(&table_key);
        }
        removed
    };
    let key = flag.map_or(args.name.as_str(), |(_, f)| f.key());
    if !removed {
        return nothing(format!(
            "{} has no {} of `{key}`",
            target.path.display(),
            what.trim_start_matches("the ")
        ));
    }
    let text = document.to_string();
    validate(&catalog, &target.path, &text)?;
    write_atomically(&target.path, &text)?;
    println!(
        "removed {what} of `{}` from {}",
        paint.strong(key),
        target.path.display()
    );
    println!("{}", target.how_the_runtime_reads_it());
    Ok(ExitCode::SUCCESS)
}

/// The key of an override: an environment's name, or `value` for every environment.
fn environment_key<'a>(
    catalog: &Catalog,
    project: &Project,
    env: Option<&'a str>,
) -> Result<&'a str, Failure> {
    match env {
        Some(name) => environment(catalog, project, name).map(|_| name),
        None => Ok(ALL_ENVIRONMENTS_KEY),
    }
}

/// The file's text, or `None` when there is no file yet.
pub(crate) fn read_existing(path: &Path) -> Result<Option<String>, Failure> {
    match flags_model::file::read_text(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(Failure::Broken(format!("{} {error}", path.display()))),
    }
}

/// The file as an editable document; a file that is not TOML is refused with its line.
pub(crate) fn parse_document(
    catalog: &Catalog,
    path: &Path,
    text: &str,
) -> Result<DocumentMut, Failure> {
    text.parse::<DocumentMut>().map_err(|error| {
        // The model's reader says where, with the line, like every other message.
        match parse_overrides(catalog, &SourceFile::new(path.display().to_string(), text)) {
            Err(diagnostics) => refused_file(path, text, &diagnostics),
            Ok(_) => Failure::Refused(format!("{} is not valid TOML: {error}", path.display())),
        }
    })
}

/// The `[flags]` table, created (implicit, so no empty `[flags]` header is written) when
/// missing.
pub(crate) fn flags_table<'d>(
    document: &'d mut DocumentMut,
    path: &Path,
) -> Result<&'d mut Table, Failure> {
    let flags = document.entry("flags").or_insert_with(|| {
        let mut table = Table::new();
        table.set_implicit(true);
        Item::Table(table)
    });
    flags.as_table_mut().ok_or_else(|| {
        Failure::Refused(format!(
            "`flags` in {} is not a table of [flags.<name>] tables; fix the file first",
            path.display()
        ))
    })
}

/// The key under which the file already overrides flag `index` (by key or by accessor).
pub(crate) fn table_key(catalog: &Catalog, flags: &Table, index: usize) -> Option<String> {
    flags
        .iter()
        .map(|(key, _)| key)
        .find(|key| catalog.find(key).is_some_and(|(i, _)| i == index))
        .map(str::to_owned)
}

/// Sets `key = value` in `table`, keeping the comments around an earlier value.
fn put_value(table: &mut dyn TableLike, key: &str, value: &Value) {
    let mut new = match value {
        Value::Bool(b) => toml_edit::Value::from(*b),
        Value::Int(i) => toml_edit::Value::from(*i),
        Value::Float(f) => toml_edit::Value::from(*f),
        Value::String(s) | Value::Variant { name: s, .. } => toml_edit::Value::from(s.as_ref()),
    };
    match table.get_mut(key) {
        Some(Item::Value(old)) if !old.is_inline_table() => {
            let decor = old.decor().clone();
            *new.decor_mut() = decor;
            *old = new;
        }
        _ => {
            table.insert(key, Item::Value(new));
        }
    }
}

/// Checks the new text as the runtime will read it; on any problem nothing is written.
pub(crate) fn validate(
    catalog: &Catalog,
    path: &Path,
    text: &str,
) -> Result<flags_model::OverridesFile, Failure> {
    parse_overrides(catalog, &SourceFile::new(path.display().to_string(), text))
        .map_err(|diagnostics| refused_file(path, text, &diagnostics))
}

fn refused_file(path: &Path, text: &str, diagnostics: &[flags_model::Diagnostic]) -> Failure {
    let file = SourceFile::new(path.display().to_string(), text);
    let rendered: Vec<String> = diagnostics.iter().map(|d| d.render(&file)).collect();
    Failure::Refused(format!(
        "{} would not be a valid overrides file, so it is left as it was:\n\n{}",
        path.display(),
        rendered.join("\n\n")
    ))
}

/// Replaces the file whole: a temporary file in the same directory, synced, then renamed
/// over it, so that a reader sees the old file or the new one, never half of one.
pub(crate) fn write_atomically(path: &Path, text: &str) -> Result<(), Failure> {
    write_file_atomically(path, text, ".flags-overrides-")
}

/// Replaces the file at `path` whole with `text` (see [`write_atomically`]), through a
/// temporary file named `prefix…` beside it.
pub(crate) fn write_file_atomically(path: &Path, text: &str, prefix: &str) -> Result<(), Failure> {
    let broken = |what: &str, error: std::io::Error| {
        Failure::Broken(format!("cannot {what} {}: {error}", path.display()))
    };
    // Write through a symbolic link to the file it points at, not over the link.
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut temporary = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| broken("create a temporary file beside", e))?;
    temporary
        .write_all(text.as_bytes())
        .and_then(|()| temporary.as_file().sync_all())
        .map_err(|e| broken("write", e))?;
    if let Ok(metadata) = std::fs::metadata(&path) {
        // Keep the file's permissions rather than the temporary file's private ones.
        std::fs::set_permissions(temporary.path(), metadata.permissions())
            .map_err(|e| broken("keep the permissions of", e))?;
    }
    temporary
        .persist(&path)
        .map_err(|e| broken("replace", e.error))?;
    Ok(())
}
