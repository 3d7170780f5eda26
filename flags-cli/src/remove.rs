//! `flags remove`: retires a flag in one command. The crate's code is rewritten as if the
//! flag always had the kept value, then the flag leaves flags.toml (and the `requires` of
//! other flags) and the overrides file. What cannot be rewritten is listed with its line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use flags_model::{Catalog, SourceFile};
use proc_macro2::{TokenStream, TokenTree};
use toml_edit::{DocumentMut, Item, Table};

use crate::output::Paint;
use crate::overrides::{self, OverridesOption};
use crate::project::Project;
use crate::rewrite::{self, Kept, NoteKind, Retired};
use crate::rewrite_text::parsed_start;
use crate::scan::{self, Scan};
use crate::{EXIT_PROBLEMS, Failure};

/// Options of `flags remove`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The flag: its key, accessor name or marker type.
    name: String,
    /// The value the code keeps: on or off (true/false) for a bool flag, a variant's name,
    /// a number, any text for a string flag.
    #[arg(long, value_name = "VALUE")]
    keep: String,
    /// Show the changes as a unified diff and write nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    overrides: OverridesOption,
}

/// A file to change: which, where, as shown, and its text before and after.
struct Change {
    file: FileKind,
    path: PathBuf,
    shown: String,
    old: String,
    new: String,
}

/// A place to tell about: `file:line`, what it needs, and why.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Told {
    kind: Kind,
    file: String,
    line: usize,
    message: String,
}

/// What a changed file is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Source,
    Overrides,
    Catalog,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// Must be changed by hand: it still names the flag.
    Left,
    /// Removed with the flag: look at it.
    Removed,
    /// Names the flag in a string: look at it.
    Mention,
    /// Kept as written to keep its side effects: look at it.
    Kept,
}

/// Runs `flags remove`.
pub(crate) fn run(file: Option<&Path>, args: &Args) -> Result<ExitCode, Failure> {
    let project = Project::open(file)?;
    let catalog = project.catalog()?;
    let (index, flag) = scan::find_any(&catalog, &args.name).ok_or_else(|| {
        Failure::Refused(format!(
            "{} in {}",
            catalog.unknown_flag_message(&args.name),
            project.file.name()
        ))
    })?;
    let value = flag.flag_type().parse_text(&args.keep).map_err(|error| {
        Failure::Refused(format!(
            "flag `{}` cannot keep `{}`: {error}; nothing was changed",
            flag.key(),
            args.keep
        ))
    })?;
    let kept = Kept::new(flag, &value);
    let scan = scan::scan(&project.dir, &project.path);
    let parsed: Vec<Option<syn::File>> = scan
        .files
        .iter()
        .map(|file| {
            let text = file.text();
            scan::parse_file(&text[parsed_start(text)..]).ok()
        })
        .collect();
    let marker = scan::marker_name(flag);
    let mut handlers = BTreeSet::new();
    if let (Kept::Bool(false), Some(marker)) = (&kept, &marker) {
        for file in parsed.iter().flatten() {
            handlers.extend(rewrite::enabled_handlers(file, marker));
        }
    }
    let variants = flag
        .flag_type()
        .variants()
        .map(|v| v.iter().map(|v| v.ident().to_owned()).collect())
        .unwrap_or_default();
    let retired = Retired {
        key: flag.key().to_owned(),
        accessor: flag.accessor().to_owned(),
        marker,
        enum_name: flag.type_name().map(str::to_owned),
        variants,
        kept,
        types: scan.types.clone(),
        handlers,
    };

    // Notes by original offset, per file: places left are shown at their line after the
    // rewrite, places removed at their line before it.
    let mut notes = Vec::new();
    let mut new_texts = Vec::new();
    for (position, source) in scan.files.iter().enumerate() {
        let text = source.text();
        let Some(file) = &parsed[position] else {
            new_texts.push(text.to_owned());
            continue;
        };
        let rewritten = rewrite::rewrite(text, parsed_start(text), file, &retired);
        notes.push((position, rewritten.notes));
        new_texts.push(rewritten.text);
    }
    let old_texts: Vec<&str> = scan.files.iter().map(SourceFile::text).collect();
    let tidied = crate::rewrite_cleanup::tidy(&old_texts, &mut new_texts);
    let mut told = Vec::new();
    for (position, notes) in notes {
        let source = &scan.files[position];
        let lines = LineMap::new(source.text(), &new_texts[position]);
        for note in notes {
            let line = source.location(note.offset).line;
            let (kind, line) = match note.kind {
                NoteKind::Left => (Kind::Left, lines.after(line)),
                NoteKind::Removed => (Kind::Removed, line),
                NoteKind::Kept => (Kind::Kept, lines.after(line)),
            };
            told.push(Told {
                kind,
                file: source.name().to_owned(),
                line,
                message: note.message,
            });
        }
    }
    for (position, names) in tidied.iter().enumerate() {
        let source = &scan.files[position];
        for name in names {
            let line = source
                .text()
                .lines()
                .position(|l| {
                    l.contains(&format!("fn {name}(")) || l.contains(&format!("fn {name}<"))
                })
                .map_or(0, |l| l + 1);
            told.push(Told {
                kind: Kind::Removed,
                file: source.name().to_owned(),
                line,
                message: format!("removed fn `{name}`: only the removed code called it"),
            });
        }
    }
    for unreadable in &scan.unreadable {
        let mentions = unreadable
            .text
            .as_deref()
            .is_some_and(|text| mentions_flag(text, &retired));
        if mentions {
            told.push(Told {
                kind: Kind::Left,
                file: unreadable.path.clone(),
                line: unreadable.position.map_or(0, |(line, _)| line),
                message: format!(
                    "{}; it names the flag and was not rewritten",
                    unreadable.message
                ),
            });
        }
    }
    still_named(
        &project, &catalog, index, &scan, &new_texts, &retired, &mut told,
    );

    let mut changes: Vec<Change> = scan
        .files
        .iter()
        .zip(&scan.paths)
        .zip(new_texts)
        .filter(|((file, _), new)| file.text() != new)
        .map(|((file, path), new)| Change {
            file: FileKind::Source,
            path: path.clone(),
            shown: file.name().to_owned(),
            old: file.text().to_owned(),
            new,
        })
        .collect();
    let (catalog_text, requirers) = without_flag(&project, &catalog, index)?;
    let new_file = SourceFile::new(project.file.name(), catalog_text.clone());
    let new_catalog = Catalog::parse(&new_file).map_err(|diagnostics| {
        let rendered: Vec<String> = diagnostics.iter().map(|d| d.render(&new_file)).collect();
        Failure::Refused(format!(
            "without the flag, {} would not be valid, so nothing was changed:\n\n{}",
            project.file.name(),
            rendered.join("\n\n")
        ))
    })?;
    let target = args.overrides.resolve(&project, &catalog);
    if let Some(old) = overrides::read_existing(&target.path)? {
        let mut document = overrides::parse_document(&catalog, &target.path, &old)?;
        let flags = overrides::flags_table(&mut document, &target.path)?;
        if let Some(key) = overrides::table_key(&catalog, flags, index) {
            remove_table(flags, &key);
            let new = document.to_string();
            overrides::validate(&new_catalog, &target.path, &new)?;
            changes.push(Change {
                file: FileKind::Overrides,
                path: target.path.clone(),
                shown: target.path.display().to_string(),
                old,
                new,
            });
        }
    }
    changes.push(Change {
        file: FileKind::Catalog,
        path: project.path.clone(),
        shown: project.file.name().to_owned(),
        old: project.file.text().to_owned(),
        new: catalog_text,
    });

    if args.dry_run {
        for change in &changes {
            let diff = similar::TextDiff::from_lines(&change.old, &change.new);
            print!(
                "{}",
                diff.unified_diff().context_radius(3).header(
                    &format!("a/{}", change.shown),
                    &format!("b/{}", change.shown)
                )
            );
        }
    } else {
        // The sources first: should a write fail, flags.toml still declares the flag.
        for change in &changes {
            overrides::write_atomically(&change.path, &change.new)?;
        }
    }
    told.sort();
    told.dedup();
    report(&project, args, &retired, &changes, &requirers, &told);
    Ok(if told.iter().any(|t| t.kind == Kind::Left) {
        ExitCode::from(EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    })
}

/// What was done and what is left, on standard output (standard error with `--dry-run`,
/// whose output is the diff).
fn report(
    project: &Project,
    args: &Args,
    retired: &Retired,
    changes: &[Change],
    requirers: &[String],
    told: &[Told],
) {
    let paint = if args.dry_run {
        Paint::stderr()
    } else {
        Paint::stdout()
    };
    let mut lines = Vec::new();
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    lines.push(format!(
        "{verb} flag `{}` from {}, keeping {}",
        paint.strong(&retired.key),
        project.file.name(),
        paint.strong(&retired.kept.shown())
    ));
    let shown = |kind: FileKind| {
        changes
            .iter()
            .filter(move |c| c.file == kind)
            .map(|c| c.shown.as_str())
    };
    let sources: Vec<&str> = shown(FileKind::Source).collect();
    let rewritten = if args.dry_run {
        "would rewrite"
    } else {
        "rewrote"
    };
    if sources.is_empty() {
        lines.push("no code to rewrite".to_owned());
    } else {
        lines.push(format!("{rewritten} {}", sources.join(", ")));
    }
    for requirer in requirers {
        lines.push(format!(
            "flag `{requirer}` no longer requires it (its `requires` in {})",
            project.file.name()
        ));
    }
    for overrides in shown(FileKind::Overrides) {
        lines.push(format!("its overrides left {overrides}"));
    }
    let section = |kind: Kind, title: &str, lines: &mut Vec<String>| {
        let items: Vec<&Told> = told.iter().filter(|t| t.kind == kind).collect();
        if items.is_empty() {
            return;
        }
        lines.push(title.to_owned());
        for item in items {
            let at = if item.line > 0 {
                format!("{}:{}", item.file, item.line)
            } else {
                item.file.clone()
            };
            lines.push(format!("  {at}: {}", item.message));
        }
    };
    section(
        Kind::Removed,
        &paint.strong("removed with it (look at them):"),
        &mut lines,
    );
    section(
        Kind::Kept,
        &paint.strong("kept as written, to keep what runs before the flag (look at them):"),
        &mut lines,
    );
    section(
        Kind::Mention,
        &paint.strong("names it in a string or a comment (look at them):"),
        &mut lines,
    );
    section(
        Kind::Left,
        &paint.error("left to change by hand (the code does not build until they are):"),
        &mut lines,
    );
    if !args.dry_run {
        lines.push("next: cargo check --all-targets && cargo test".to_owned());
    }
    for line in lines {
        if args.dry_run {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
}

/// What still names the flag once rewritten: references (the rewrite missed or left them),
/// its enum and marker type, and strings holding its key or accessor.
fn still_named(
    project: &Project,
    catalog: &Catalog,
    index: usize,
    scan: &Scan,
    new_texts: &[String],
    retired: &Retired,
    told: &mut Vec<Told>,
) {
    let sources: Vec<(PathBuf, String)> = scan
        .paths
        .iter()
        .cloned()
        .zip(new_texts.iter().cloned())
        .collect();
    let after = scan::scan_sources(Scan::default(), &project.dir, &project.path, sources);
    let noted: BTreeSet<(String, usize)> = told
        .iter()
        .filter(|t| t.kind == Kind::Left)
        .map(|t| (t.file.clone(), t.line))
        .collect();
    let mut left = Vec::new();
    for reference in &after.references {
        if reference.resolve(catalog).is_some_and(|(i, _)| i == index) {
            let file = after.file(reference.at).name().to_owned();
            if !noted.contains(&(file.clone(), reference.at.line)) {
                left.push(Told {
                    kind: Kind::Left,
                    file,
                    line: reference.at.line,
                    message: format!("still names the flag: `{}`", after.line_text(reference.at)),
                });
            }
        }
    }
    for file in &after.files {
        for (number, line) in file.text().lines().enumerate() {
            let gone: Vec<&String> = [&retired.enum_name, &retired.marker]
                .into_iter()
                .flatten()
                .filter(|name| rewrite::mentions(line, name))
                .collect();
            let at = (file.name().to_owned(), number + 1);
            if let Some(name) = gone.first() {
                if !noted.contains(&at)
                    && !left.iter().any(|t: &Told| (t.file.clone(), t.line) == at)
                {
                    left.push(Told {
                        kind: Kind::Left,
                        file: at.0.clone(),
                        line: at.1,
                        message: format!(
                            "uses `{name}`, which goes away with the flag: `{}`",
                            line.trim()
                        ),
                    });
                }
            }
        }
        for line in string_mentions(file.text(), retired) {
            told.push(Told {
                kind: Kind::Mention,
                file: file.name().to_owned(),
                line,
                message: file.line_text(line).trim().to_owned(),
            });
        }
    }
    told.extend(left);
}

/// Lines with a string literal or a doc comment that names the flag's key or accessor.
fn string_mentions(text: &str, retired: &Retired) -> Vec<usize> {
    fn walk(tokens: TokenStream, wanted: &[String], lines: &mut Vec<usize>) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        for (index, token) in tokens.iter().enumerate() {
            // What a rewritten gate returns, `FeatureDisabled::new("x")`, names the flag
            // as the gate did.
            let disabled = index >= 4
                && matches!(&tokens[index - 4], TokenTree::Ident(i) if i == "FeatureDisabled")
                && matches!(&tokens[index - 1], TokenTree::Ident(i) if i == "new");
            match token {
                TokenTree::Group(_) if disabled => {}
                TokenTree::Group(group) => walk(group.stream(), wanted, lines),
                TokenTree::Literal(literal)
                    if wanted.iter().any(|w| names(&literal.to_string(), w)) =>
                {
                    lines.push(literal.span().start().line);
                }
                _ => {}
            }
        }
    }
    // Doc comments are literals too, once lexed.
    let wanted = [retired.key.clone(), retired.accessor.clone()];
    let base = parsed_start(text);
    let skipped = text[..base].matches('\n').count();
    let mut lines = Vec::new();
    // Deeper text was not parsed, so it holds nothing rewritten.
    if let Ok(tokens) = text[base..].parse::<TokenStream>() {
        if scan::nested_too_deep(tokens.clone()).is_none() {
            walk(tokens, &wanted, &mut lines);
        }
    }
    lines.iter_mut().for_each(|line| *line += skipped);
    lines
}

/// Whether `text` holds `name` whole (not inside a longer name).
fn names(text: &str, name: &str) -> bool {
    let part = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    text.match_indices(name)
        .any(|(at, _)| !text[..at].ends_with(part) && !text[at + name.len()..].starts_with(part))
}

/// Whether `text` names the flag at all (for files that cannot be parsed).
fn mentions_flag(text: &str, retired: &Retired) -> bool {
    [
        Some(&retired.accessor),
        Some(&retired.key),
        retired.marker.as_ref(),
    ]
    .into_iter()
    .flatten()
    .any(|name| text.contains(name.as_str()))
}

/// flags.toml without the flag's tables, nor the `requires` entries that name it; and the
/// flags that required it.
fn without_flag(
    project: &Project,
    catalog: &Catalog,
    index: usize,
) -> Result<(String, Vec<String>), Failure> {
    let mut document: DocumentMut = project.file.text().parse().map_err(|error| {
        Failure::Refused(format!("{} cannot be edited: {error}", project.file.name()))
    })?;
    let Some(flags) = document.get_mut("flags").and_then(Item::as_table_mut) else {
        return Err(Failure::Refused(format!(
            "{} has no [flags] table to remove the flag from",
            project.file.name()
        )));
    };
    let names_it = |name: &str| catalog.find(name).is_some_and(|(i, _)| i == index);
    let key = flags
        .iter()
        .map(|(key, _)| key.to_owned())
        .find(|key| names_it(key));
    if let Some(key) = key {
        remove_table(flags, &key);
    }
    let mut requirers = Vec::new();
    for (key, item) in flags.iter_mut() {
        let Some(table) = item.as_table_like_mut() else {
            continue;
        };
        let Some(requires) = table.get_mut("requires").and_then(Item::as_array_mut) else {
            continue;
        };
        let before = requires.len();
        requires.retain(|requirement| {
            let name = match requirement {
                toml_edit::Value::String(name) => Some(name.value().as_str()),
                toml_edit::Value::InlineTable(table) => table.get("flag").and_then(|f| f.as_str()),
                _ => None,
            };
            !name.is_some_and(names_it)
        });
        if requires.len() < before {
            requires.fmt();
            // A flag whose only requirement was this one requires nothing.
            if requires.is_empty() {
                table.remove("requires");
            }
            requirers.push(key.get().to_owned());
        }
    }
    Ok((document.to_string(), requirers))
}

/// Which line of the rewritten text a line of the original became.
struct LineMap<'a> {
    /// (old lines, new lines) of each stretch of the diff, from 0.
    ops: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
    old: Vec<&'a str>,
    new: Vec<&'a str>,
}

impl<'a> LineMap<'a> {
    fn new(old: &'a str, new: &'a str) -> LineMap<'a> {
        let diff = similar::TextDiff::from_lines(old, new);
        let ops = diff
            .ops()
            .iter()
            .map(|op| (op.old_range(), op.new_range()))
            .collect();
        LineMap {
            ops,
            old: old.lines().collect(),
            new: new.lines().collect(),
        }
    }

    /// The line (from 1) that line `old` (from 1) is at after the rewrite; for a changed
    /// line, the most similar line of what replaced it (edits next to it, such as an import
    /// removed above, fall in the same stretch of the diff).
    fn after(&self, old: usize) -> usize {
        let index = old.saturating_sub(1);
        for (before, after) in &self.ops {
            if before.contains(&index) {
                if before.len() == after.len() {
                    return after.start + (index - before.start) + 1;
                }
                let line = self.old.get(index).copied().unwrap_or("");
                let closest = after.clone().max_by(|&a, &b| {
                    let similarity = |at: usize| {
                        similar::TextDiff::from_chars(line, self.new.get(at).copied().unwrap_or(""))
                            .ratio()
                    };
                    similarity(a).total_cmp(&similarity(b)).then(b.cmp(&a))
                });
                return closest.unwrap_or(after.start) + 1;
            }
        }
        old
    }
}

/// Removes table `key` of `flags`, keeping the comments above its header that a blank line
/// parts from it: they speak of what follows (a file's first lines, a section), and go to
/// the table after it.
fn remove_table(flags: &mut Table, key: &str) {
    let first = |item: &Item| match item {
        Item::Table(table) => Some(table.clone()),
        Item::ArrayOfTables(tables) => tables.get(0).cloned(),
        _ => None,
    };
    let Some(removed) = flags.remove(key).as_ref().and_then(first) else {
        return;
    };
    let prefix = removed
        .decor()
        .prefix()
        .and_then(|p| p.as_str())
        .unwrap_or("");
    let lines: Vec<&str> = prefix.split_inclusive('\n').collect();
    let Some(blank) = lines.iter().rposition(|line| line.trim().is_empty()) else {
        return;
    };
    let detached = lines[..=blank].concat();
    let (Some(position), true) = (removed.position(), detached.contains('#')) else {
        return;
    };
    let next = flags
        .iter()
        .filter_map(|(key, item)| Some((first(item)?.position()?, key.to_owned())))
        .filter(|(p, _)| *p > position)
        .min();
    let Some((_, next)) = next else {
        return;
    };
    let table = match flags.get_mut(&next) {
        Some(Item::Table(table)) => Some(table),
        Some(Item::ArrayOfTables(tables)) => tables.get_mut(0),
        _ => None,
    };
    if let Some(table) = table {
        let own = table
            .decor()
            .prefix()
            .and_then(|p| p.as_str())
            .unwrap_or("");
        let own = own.trim_start_matches(['\n', '\r']).to_owned();
        table.decor_mut().set_prefix(format!("{detached}{own}"));
    }
}
