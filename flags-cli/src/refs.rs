//! `flags refs`: every place that names a flag, as the checklist for removing it.

use std::path::Path;
use std::process::ExitCode;

use flags_model::{SourceFile, naming, parse_overrides};
use serde_json::json;

use crate::output::{Format, Paint, print_json};
use crate::overrides::OverridesOption;
use crate::project::Project;
use crate::scan::{self, Reference};
use crate::{EXIT_PROBLEMS, Failure};

/// Options of `flags refs`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The flag: its key, accessor name or marker type (also one no longer in flags.toml).
    name: String,
    #[command(flatten)]
    file: OverridesOption,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// A place to change: `file:line[:column]`, what it is, and the code there.
struct Place {
    file: String,
    line: usize,
    column: Option<usize>,
    kind: &'static str,
    text: String,
}

impl Place {
    /// Line `line` of a TOML file.
    fn whole_line(file: &SourceFile, line: usize, kind: &'static str) -> Place {
        Place {
            file: file.name().to_owned(),
            line,
            column: None,
            kind,
            text: file.line_text(line).trim().to_owned(),
        }
    }
}

pub(crate) fn run(file: Option<&Path>, args: &Args) -> Result<ExitCode, Failure> {
    let project = Project::open(file)?;
    // An invalid flags.toml still lists the flags it could read: removal is often mid-edit.
    let catalog = project.parse().catalog;
    let flag = scan::find_any(&catalog, &args.name);
    let scan = scan::scan(&project.dir, &project.path);
    // Every spelling counts: key, accessor and marker type, by the flag they resolve to, or
    // compared by their words when flags.toml no longer declares the flag.
    let matches = |reference: &Reference| match flag {
        Some((index, _)) => reference.resolve(&catalog).is_some_and(|(i, _)| i == index),
        None => reference.spells(&args.name),
    };
    let mut places: Vec<Place> = scan
        .references
        .iter()
        .filter(|r| matches(r))
        .map(|r| Place {
            file: scan.file(r.at).name().to_owned(),
            line: r.at.line,
            column: Some(r.at.column + 1),
            kind: r.syntax.kind(),
            text: scan.line_text(r.at).to_owned(),
        })
        .collect();
    let in_code = places.len();
    if let Some((index, flag)) = flag {
        places.push(Place::whole_line(&project.file, flag.line(), "declaration"));
        // Flags that require it must lose the requirement too.
        for other in catalog.flags() {
            if other.requires().iter().any(|r| r.flag == index) {
                places.push(Place::whole_line(
                    &project.file,
                    other.line(),
                    "required by",
                ));
            }
        }
        let overrides = args.file.resolve(&project, &catalog);
        if let Ok(text) = flags_model::file::read_text(&overrides.path) {
            let file = SourceFile::new(overrides.path.display().to_string(), text);
            if let Ok(parsed) = parse_overrides(&catalog, &file) {
                let entries = parsed.entries().iter().filter(|e| e.flag == index);
                places.extend(entries.map(|e| Place::whole_line(&file, e.line, "override")));
            }
        }
    }
    let key = flag.map_or(args.name.as_str(), |(_, f)| f.key());
    let suggestion = if places.is_empty() {
        suggest(&catalog, &scan, &args.name)
    } else {
        None
    };
    // A file that does not parse may name the flag too: the list is not whole without it.
    let unreadable: Vec<(String, usize, &str)> = scan
        .unreadable
        .iter()
        .map(|file| {
            let line = file.position.map_or(0, |(line, _)| line);
            (file.path.clone(), line, file.message.as_str())
        })
        .collect();
    if let Format::Json = args.format {
        print_json(&json!({
            "flag": key,
            "declared": flag.is_some(),
            "suggestion": suggestion,
            "unreadable": unreadable.iter().map(|(file, line, message)| json!({
                "file": file,
                "line": (*line > 0).then_some(*line),
                "message": message,
            })).collect::<Vec<_>>(),
            "references": places.iter().map(|p| json!({
                "file": p.file,
                "line": p.line,
                "column": p.column,
                "kind": p.kind,
                "code": p.text,
            })).collect::<Vec<_>>(),
        }));
    } else {
        let paint = Paint::stdout();
        let declared = if flag.is_some() {
            String::new()
        } else {
            format!(" (not declared in {})", project.file.name())
        };
        println!(
            "flag {}{declared}: {in_code} reference{} in code",
            paint.strong(key),
            if in_code == 1 { "" } else { "s" }
        );
        for place in &places {
            let at = match place.column {
                Some(column) => format!("{}:{}:{column}", place.file, place.line),
                None => format!("{}:{}", place.file, place.line),
            };
            println!("[ ] {at}  {}  {}", paint.dim(place.kind), place.text);
        }
        for (file, line, message) in &unreadable {
            let at = match line {
                0 => file.clone(),
                line => format!("{file}:{line}"),
            };
            eprintln!(
                "{}: {at}: {message}; references in it are not listed",
                Paint::stderr().warning("warning")
            );
        }
    }
    if places.is_empty() {
        if args.format == Format::Text {
            eprintln!(
                "{}: no flag `{}` in {} and no reference to it in the code{}",
                Paint::stderr().error("error"),
                args.name,
                project.file.name(),
                suggestion.map_or(String::new(), |s| format!("; did you mean `{s}`?"))
            );
        }
        return Ok(ExitCode::from(EXIT_PROBLEMS));
    }
    Ok(ExitCode::SUCCESS)
}

/// The name closest to an unknown `name`: among the flags of flags.toml (each key, accessor
/// and marker type) and the flags the code names.
fn suggest(catalog: &flags_model::Catalog, scan: &scan::Scan, name: &str) -> Option<String> {
    let declared = catalog.flags().iter().flat_map(|flag| {
        [
            Some(flag.key().to_owned()),
            Some(flag.accessor().to_owned()),
            scan::marker_name(flag),
        ]
    });
    let in_code = scan
        .references
        .iter()
        .map(|r| Some(r.flag_name().to_owned()));
    let candidates: Vec<String> = declared.chain(in_code).flatten().collect();
    naming::suggest(name, candidates.iter().map(String::as_str)).map(str::to_owned)
}
