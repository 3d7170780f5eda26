//! `flags check`: every error of flags.toml, and the lints that keep flags few and short-lived.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use clap::ValueEnum;
use flags_model::{Catalog, Date, Diagnostic, FlagType, Lint, LintLevel, SourceFile, naming};
use serde_json::json;

use crate::output::{Format, Paint, print_json};
use crate::overrides::OverridesOption;
use crate::project::Project;
use crate::scan::{self, Scan, resolve};
use crate::{EXIT_PROBLEMS, Failure};

/// Options of `flags check`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Fail on warnings too (`--deny warnings`), for CI.
    #[arg(long, value_enum, value_name = "WHAT")]
    deny: Option<Deny>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    #[command(flatten)]
    overrides: OverridesOption,
    /// Also check the Redis store's entries for this environment: leftovers of removed flags,
    /// entries every process skips, a store awaiting a restore.
    #[command(flatten)]
    store: crate::store::Target,
}

/// What `--deny` turns into failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Deny {
    /// Every warning.
    Warnings,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Severity {
    Error,
    Warning,
}

/// One problem, rendered and located.
#[derive(Debug)]
struct Finding {
    severity: Severity,
    lint: Option<Lint>,
    message: String,
    help: Option<String>,
    file: String,
    line: Option<usize>,
    column: Option<usize>,
    rendered: String,
    /// Sources after flags.toml, then by file and position.
    order: (usize, usize),
}

/// What was found, and what could not be checked.
struct Report {
    findings: Vec<Finding>,
    notes: Vec<String>,
    source_files: usize,
}

pub(crate) fn run(file: Option<&Path>, args: &Args) -> Result<ExitCode, Failure> {
    let project = Project::open(file)?;
    let mut report = check(&project, &args.overrides, Date::today());
    if let Some(url) = args.store.redis.url() {
        store_lints(&project, url, args.store.env.as_deref(), &mut report)?;
    }
    let deny_warnings = args.deny == Some(Deny::Warnings);
    let count = |severity| {
        report
            .findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    };
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    match args.format {
        Format::Json => print_json(&json!({
            "file": project.file.name(),
            "errors": errors,
            "warnings": warnings,
            "deny_warnings": deny_warnings,
            "source_files": report.source_files,
            "findings": report.findings.iter().map(|f| json!({
                "severity": match f.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "lint": f.lint.map(Lint::name),
                "message": f.message,
                "help": f.help,
                "file": f.file,
                "line": f.line,
                "column": f.column,
            })).collect::<Vec<_>>(),
            "notes": report.notes,
        })),
        Format::Text => print_text(&project, &report, deny_warnings, errors, warnings),
    }
    Ok(if errors > 0 || (deny_warnings && warnings > 0) {
        ExitCode::from(EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_text(project: &Project, report: &Report, deny: bool, errors: usize, warnings: usize) {
    let paint = Paint::stdout();
    for finding in &report.findings {
        let denied = deny && finding.severity == Severity::Warning;
        let word = if finding.severity == Severity::Error || denied {
            "error"
        } else {
            "warning"
        };
        let label = match finding.lint {
            Some(lint) => format!("{word}[{lint}]"),
            None => word.to_owned(),
        };
        let label = if word == "error" {
            paint.error(&label)
        } else {
            paint.warning(&label)
        };
        println!("{label}: {}\n", finding.rendered);
    }
    for note in &report.notes {
        println!("{}: {note}", paint.strong("note"));
    }
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let name = project.file.name();
    if errors == 0 && warnings == 0 {
        println!(
            "{}: {} ({} scanned)",
            name,
            paint.good("no problems"),
            plural(report.source_files, "source file")
        );
    } else {
        let mut summary = format!(
            "{name}: {}, {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        );
        if deny && warnings > 0 {
            summary.push_str(" (warnings denied)");
        }
        println!("{summary}");
    }
}

/// Checks flags.toml and, when it is valid, the crate's sources and the overrides file
/// against it.
fn check(project: &Project, overrides: &OverridesOption, today: Date) -> Report {
    let parsed = project.parse();
    let mut report = Report {
        findings: Vec::new(),
        notes: Vec::new(),
        source_files: 0,
    };
    for diagnostic in &parsed.diagnostics {
        report.push_in_flags_toml(project, Severity::Error, None, diagnostic.clone());
    }
    let catalog = &parsed.catalog;
    for (lint, diagnostic) in catalog_lints(catalog, today) {
        if let Some(severity) = severity(catalog, lint) {
            report.push_in_flags_toml(project, severity, Some(lint), diagnostic);
        }
    }
    if parsed.diagnostics.is_empty() {
        source_lints(project, catalog, &mut report);
        overrides_lints(project, catalog, overrides, &mut report);
    } else {
        report.notes.push(format!(
            "the sources are checked against {} once it has no errors",
            project.file.name()
        ));
    }
    report.findings.sort_by_key(|f| f.order);
    report
}

/// The overrides file as the runtime reads it: its errors (the runtime would reject it whole)
/// and its tables for flags and segments flags.toml does not declare.
fn overrides_lints(
    project: &Project,
    catalog: &Catalog,
    overrides: &OverridesOption,
    report: &mut Report,
) {
    let path = overrides.resolve(project, catalog).path;
    let text = match flags_model::file::read_text(&path) {
        Ok(text) => text,
        Err(error) if error.is_not_found() => return,
        Err(error) => {
            let diagnostic =
                Diagnostic::whole_file(format!("the overrides file {} {error}", path.display()));
            let file = SourceFile::new(path.display().to_string(), "");
            report.push(Severity::Error, None, &diagnostic, &file, (usize::MAX, 0));
            return;
        }
    };
    let file = SourceFile::new(path.display().to_string(), text);
    let order = |d: &Diagnostic| (usize::MAX, d.span().map_or(0, |s| s.start));
    match flags_model::parse_overrides(catalog, &file) {
        Err(diagnostics) => {
            for diagnostic in &diagnostics {
                report.push(Severity::Error, None, diagnostic, &file, order(diagnostic));
            }
            report.notes.push(format!(
                "a running program rejects {} whole while it has errors, and keeps its last good contents",
                file.name()
            ));
        }
        Ok(read) => {
            if let Some(severity) = severity(catalog, Lint::Leftover) {
                for diagnostic in read.skipped() {
                    let at = order(diagnostic);
                    report.push(severity, Some(Lint::Leftover), diagnostic, &file, at);
                }
            }
        }
    }
}

/// The Redis store's entries as every process reads them: each entry for an undeclared flag
/// is a `leftover` finding, each entry skipped for another reason an error, and a store that
/// awaits a restore an error.
fn store_lints(
    project: &Project,
    url: &str,
    env: Option<&str>,
    report: &mut Report,
) -> Result<(), Failure> {
    let catalog = project.catalog()?;
    let (mut store, env) = crate::store::open(project, &catalog, url, env)?;
    let contents = store.list().map_err(crate::store::failure)?;
    let place = format!("redis {} ({env})", store.server());
    let mut found = |severity, lint, message: String, help: String| {
        report.findings.push(Finding {
            severity,
            lint,
            rendered: format!("{message}\n --> {place}\n  = help: {help}"),
            message,
            help: Some(help),
            file: place.clone(),
            line: None,
            column: None,
            order: (usize::MAX, usize::MAX),
        });
    };
    if contents.recovery.is_some() {
        found(
            Severity::Error,
            None,
            "the store awaits a restore: it came back empty, replaced or older than what the processes following it hold, and writes are refused".to_owned(),
            "`flags store restore --recovered` puts back what the processes hold; `flags store reset --confirm` accepts the store as it is".to_owned(),
        );
    }
    for entry in &contents.overrides {
        let Err(why) = &entry.setting else {
            continue;
        };
        let field = format!("{} field `{}`", store.keys().overrides(), entry.flag);
        if catalog.find(&entry.flag).is_none() {
            if let Some(severity) = severity(&catalog, Lint::Leftover) {
                found(
                    severity,
                    Some(Lint::Leftover),
                    format!("{field}: {why}; every process skips it"),
                    format!(
                        "remove it: flags unset {:?} --redis URL --env {env}",
                        entry.flag
                    ),
                );
            }
        } else {
            found(
                Severity::Error,
                None,
                format!("{field}: every process skips this entry: {why}"),
                format!(
                    "set it again: flags set {:?} VALUE --redis URL --env {env}",
                    entry.flag
                ),
            );
        }
    }
    Ok(())
}

/// How `[lints]` says to report `lint`; `None` when it is allowed.
fn severity(catalog: &Catalog, lint: Lint) -> Option<Severity> {
    match catalog.lints().level(lint) {
        LintLevel::Allow => None,
        LintLevel::Warn => Some(Severity::Warning),
        LintLevel::Deny => Some(Severity::Error),
    }
}

impl Report {
    fn push_in_flags_toml(
        &mut self,
        project: &Project,
        severity: Severity,
        lint: Option<Lint>,
        diagnostic: Diagnostic,
    ) {
        let offset = diagnostic.span().map_or(0, |s| s.start);
        self.push(severity, lint, &diagnostic, &project.file, (0, offset));
    }

    fn push(
        &mut self,
        severity: Severity,
        lint: Option<Lint>,
        diagnostic: &Diagnostic,
        file: &SourceFile,
        order: (usize, usize),
    ) {
        let location = file.location(diagnostic.span().map_or(0, |s| s.start));
        self.findings.push(Finding {
            severity,
            lint,
            message: diagnostic.message().to_owned(),
            help: diagnostic.help().map(str::to_owned),
            file: file.name().to_owned(),
            line: Some(location.line),
            column: Some(location.column),
            rendered: diagnostic.render(file),
            order,
        });
    }
}

/// The lints that need only flags.toml: naming, ownership, expiry.
fn catalog_lints(catalog: &Catalog, today: Date) -> Vec<(Lint, Diagnostic)> {
    let lints = catalog.lints();
    let suffix = lints.bool_suffix();
    let patterns: Vec<String> = lints
        .bool_patterns()
        .iter()
        .map(|p| format!("`{}`", p.as_str()))
        .collect();
    let mut found = Vec::new();
    for flag in catalog.flags() {
        let key = flag.key();
        if *flag.flag_type() == FlagType::Bool && !lints.follows_bool_naming(key, flag.accessor()) {
            let like = if patterns.is_empty() {
                String::new()
            } else {
                format!(" and does not match {}", patterns.join(" or "))
            };
            found.push((
                Lint::BoolNaming,
                Diagnostic::new(
                    format!("bool flag `{key}` is not named `*{suffix}`{like}"),
                    flag.span(),
                )
                .with_help(format!(
                    "rename it, e.g. `{}{suffix}`; or change the convention in [lints]: bool_suffix = \"...\", bool_patterns = ['...'], bool_naming = \"allow\"",
                    flag.accessor()
                )),
            ));
        }
        let missing: Vec<(&str, &str)> = [
            ("owner", flag.owner(), "owner = \"team\""),
            ("ticket", flag.ticket(), "ticket = \"ABC-123\""),
        ]
        .into_iter()
        .filter(|(_, value, _)| value.is_none())
        .map(|(what, _, example)| (what, example))
        .collect();
        if !missing.is_empty() {
            let (what, examples): (Vec<&str>, Vec<&str>) = missing.into_iter().unzip();
            found.push((
                Lint::Ownership,
                Diagnostic::new(
                    format!("flag `{key}` has no {}", what.join(" or ")),
                    flag.span(),
                )
                .with_help(format!(
                    "say who removes it and where that is tracked: {}",
                    examples.join(", ")
                )),
            ));
        }
        if let (true, Some(expires)) = (flag.is_expired(today), flag.expires()) {
            found.push((
                Lint::Expired,
                Diagnostic::new(
                    format!(
                        "flag `{key}` is past its `expires` date, {expires} (owner: {}, ticket: {})",
                        flag.owner().unwrap_or("none"),
                        flag.ticket().unwrap_or("none")
                    ),
                    flag.span(),
                )
                .with_help(format!(
                    "remove it from flags.toml and from the code (`flags refs {key}` lists the code), or move the date"
                )),
            ));
        }
    }
    found
}

/// The lints that read the crate's sources: undeclared and unused flags, nested gates.
fn source_lints(project: &Project, catalog: &Catalog, report: &mut Report) {
    let scan = scan::scan(&project.dir, &project.path);
    report.source_files = scan.files.len();
    for file in &scan.unreadable {
        let diagnostic =
            Diagnostic::whole_file(format!("{}; flags used in it are not seen", file.message));
        match (&file.text, file.position) {
            (Some(text), Some((line, column))) => {
                let source = SourceFile::new(file.path.clone(), text.clone());
                let offset = scan::byte_offset(text, line, column);
                let diagnostic = Diagnostic::new(diagnostic.message(), offset..offset + 1);
                report.push(Severity::Warning, None, &diagnostic, &source, (1, 0));
            }
            _ => report.findings.push(Finding {
                severity: Severity::Warning,
                lint: None,
                message: diagnostic.message().to_owned(),
                help: None,
                file: file.path.clone(),
                line: None,
                column: None,
                rendered: format!("{}\n --> {}", diagnostic.message(), file.path),
                order: (1, 0),
            }),
        }
    }
    if !scan.other_catalogs.is_empty() {
        const SHOWN: usize = 3;
        let mut files: Vec<String> = scan
            .other_catalogs
            .iter()
            .take(SHOWN)
            .map(|(path, other)| format!("{path} ({other})"))
            .collect();
        if scan.other_catalogs.len() > SHOWN {
            files.push(format!("{} more", scan.other_catalogs.len() - SHOWN));
        }
        report.notes.push(format!(
            "{} left out, as they declare the flags of another file: {}",
            match scan.other_catalogs.len() {
                1 => "1 source file".to_owned(),
                n => format!("{n} source files"),
            },
            files.join(", ")
        ));
    }
    let markers: Vec<String> = catalog
        .flags()
        .iter()
        .filter_map(scan::marker_name)
        .collect();
    let candidates: Vec<&str> = catalog
        .flags()
        .iter()
        .flat_map(|f| [f.accessor(), f.key()])
        .chain(markers.iter().map(String::as_str))
        .collect();
    let mut used = BTreeSet::new();
    for reference in &scan.references {
        match reference.resolve(catalog) {
            Some((index, _)) => {
                used.insert(index);
            }
            None => {
                let name = reference.flag_name();
                let diagnostic = Diagnostic::new(
                    format!(
                        "`{}` names no flag of {}{}",
                        reference.shown,
                        project.file.name(),
                        naming::did_you_mean(name, candidates.iter().copied())
                    ),
                    scan.span(reference.at),
                )
                .with_help(format!(
                    "declare `{name}` in {}, or use a declared flag",
                    project.file.name()
                ));
                push_source_lint(
                    report,
                    catalog,
                    &scan,
                    Lint::Undeclared,
                    diagnostic,
                    reference.at,
                );
            }
        }
    }
    if scan.files.is_empty() {
        report.notes.push(format!(
            "no Rust sources in {}; unused flags are not looked for",
            scan::SOURCE_DIRS.join("/, ") + "/"
        ));
    } else {
        for (index, flag) in catalog.flags().iter().enumerate() {
            if !used.contains(&index) {
                let diagnostic = Diagnostic::new(
                    format!(
                        "flag `{}` is declared but never used in {}",
                        flag.key(),
                        scan::SOURCE_DIRS.map(|d| format!("{d}/")).join(", ")
                    ),
                    flag.span(),
                )
                .with_help(
                    "remove it from flags.toml; or, when other crates use it, set [lints] unused = \"allow\"",
                );
                if let Some(severity) = severity(catalog, Lint::Unused) {
                    report.push_in_flags_toml(project, severity, Some(Lint::Unused), diagnostic);
                }
            }
        }
    }
    nested_gates(catalog, &scan, report);
}

fn push_source_lint(
    report: &mut Report,
    catalog: &Catalog,
    scan: &Scan,
    lint: Lint,
    diagnostic: Diagnostic,
    at: scan::At,
) {
    if let Some(severity) = severity(catalog, lint) {
        let order = (1 + at.file, scan.span(at).start);
        report.push(severity, Some(lint), &diagnostic, scan.file(at), order);
    }
}

/// A gated fn that is called only inside another flag's code path runs only while both flags
/// are on: its flag silently depends on the other.
fn nested_gates(catalog: &Catalog, scan: &Scan, report: &mut Report) {
    for gated in &scan.gated_fns {
        let Some((index, flag)) = resolve(catalog, &gated.flag, true) else {
            continue;
        };
        let calls: Vec<_> = scan
            .calls
            .iter()
            .filter(|call| call.callee == gated.name && !call.in_test)
            .collect();
        let mut outer: Vec<(usize, &str)> = Vec::new();
        let mut places = Vec::new();
        for call in &calls {
            let other = call
                .inside
                .iter()
                .filter_map(|name| resolve(catalog, name, true))
                .find(|(other, _)| *other != index);
            let Some((other, other_flag)) = other else {
                // Reachable outside every other flag's code path.
                outer.clear();
                break;
            };
            if !outer.iter().any(|(i, _)| *i == other) {
                outer.push((other, other_flag.key()));
            }
            places.push(scan.location(call.at));
        }
        let required: Vec<usize> = flag.requires().iter().map(|r| r.flag).collect();
        if outer.is_empty() || outer.iter().all(|(other, _)| required.contains(other)) {
            continue;
        }
        let names: Vec<String> = outer.iter().map(|(_, key)| format!("`{key}`")).collect();
        let mut message = format!(
            "`#[feature_gate(\"{}\")]` fn `{}` is called only inside the code path of {} {}",
            gated.flag,
            gated.name,
            if names.len() == 1 { "flag" } else { "flags" },
            names.join(", ")
        );
        let _ = write!(message, " ({})", places.join(", "));
        let diagnostic = Diagnostic::new(message, scan.span(gated.at)).with_help(format!(
            "it runs only while both flags are on: say so with requires = [{}] on `{}`, or call it outside that code",
            outer
                .iter()
                .map(|(_, key)| format!("{key:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            flag.key()
        ));
        push_source_lint(
            report,
            catalog,
            scan,
            Lint::NestedGate,
            diagnostic,
            gated.at,
        );
    }
}
