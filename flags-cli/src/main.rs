//! The `flags` command-line tool: see, check, explain, set and retire the feature flags of a
//! `flags.toml`, read with the same model and validator as the `flags` macro.
//!
//! `docs/cli.md` documents every subcommand, its options and its exit codes.
#![forbid(unsafe_code)]

mod check;
mod explain;
mod list;
mod log;
mod output;
mod overrides;
mod project;
mod refs;
mod remove;
mod rewrite;
mod rewrite_cleanup;
#[cfg(test)]
mod rewrite_mutations;
mod rewrite_text;
mod scan;
mod serve;
mod stale;
mod store;
mod store_admin;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::Paint;

/// See, check, explain and retire the feature flags declared in flags.toml.
#[derive(Debug, Parser)]
#[command(name = "flags", version, about, long_about = None)]
struct Cli {
    /// The flags.toml to read [default: ./flags.toml, else the nearest one in a parent
    /// directory].
    #[arg(long, short = 'f', global = true, value_name = "PATH")]
    file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every flag in every environment, with owner, ticket and expiry.
    List(list::Args),
    /// Every error of flags.toml, plus the lints: naming, ownership, expiry, unused and
    /// undeclared flags, nested gates.
    Check(check::Args),
    /// A flag's value for one user in one environment, and why, rule by rule.
    Explain(explain::Args),
    /// Overrides a flag in the overrides file the runtime reads.
    Set(overrides::SetArgs),
    /// Removes an override from the overrides file.
    Unset(overrides::UnsetArgs),
    /// Every reference to a flag in the code: the checklist for removing it.
    Refs(refs::Args),
    /// Retires a flag: rewrites the code as if it always had one value, then removes it
    /// from flags.toml and the overrides file.
    Remove(remove::Args),
    /// The flags to remove (past their expiry date), each with the command that removes it.
    Stale(stale::Args),
    /// Adds and removes segment members in the Redis store, and lists a segment's keys.
    Segment(store::SegmentArgs),
    /// Exports, restores and resets the Redis store (after it came back empty, say).
    Store(store_admin::Args),
    /// Serves the web console over the Redis store (docs/console.md).
    Serve(serve::Args),
    /// The audit log of the Redis store: every change, who made it, before and after.
    Log(log::Args),
}

/// Why a command could not do what it was asked; the message names the file and line.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The request was refused or found problems (exit code 1).
    Refused(String),
    /// The command could not run: a file that cannot be read or written (exit code 2).
    Broken(String),
}

/// Exit code of a command that found problems or refused the request.
pub(crate) const EXIT_PROBLEMS: u8 = 1;
/// Exit code of a command that could not run.
pub(crate) const EXIT_BROKEN: u8 = 2;

/// The stack a command runs on. Parsing, visiting and printing a Rust source recurse once
/// per level of an expression, and a long chain (`a.b.c...`, `1 + 1 + ...`) nests without
/// brackets: on the main thread's 8 MiB such a source aborted `flags remove`. Only the pages
/// used are ever touched.
const STACK_SIZE: usize = 1 << 30;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = std::thread::Builder::new()
        .name("flags".to_owned())
        .stack_size(STACK_SIZE)
        .spawn(move || run(&cli));
    match command.map(std::thread::JoinHandle::join) {
        Ok(Ok(code)) => code,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(error) => {
            eprintln!("error: cannot start the command's thread: {error}");
            ExitCode::from(EXIT_BROKEN)
        }
    }
}

fn run(cli: &Cli) -> ExitCode {
    let result = match &cli.command {
        Command::List(args) => list::run(cli.file.as_deref(), args),
        Command::Check(args) => check::run(cli.file.as_deref(), args),
        Command::Explain(args) => explain::run(cli.file.as_deref(), args),
        Command::Set(args) => overrides::set(cli.file.as_deref(), args),
        Command::Unset(args) => overrides::unset(cli.file.as_deref(), args),
        Command::Refs(args) => refs::run(cli.file.as_deref(), args),
        Command::Remove(args) => remove::run(cli.file.as_deref(), args),
        Command::Stale(args) => stale::run(cli.file.as_deref(), args),
        Command::Segment(args) => store::segment(cli.file.as_deref(), args),
        Command::Store(args) => store_admin::run(cli.file.as_deref(), args),
        Command::Serve(args) => serve::run(cli.file.as_deref(), args),
        Command::Log(args) => log::run(cli.file.as_deref(), args),
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            let paint = Paint::stderr();
            let (message, code) = match failure {
                Failure::Refused(message) => (message, EXIT_PROBLEMS),
                Failure::Broken(message) => (message, EXIT_BROKEN),
            };
            eprintln!("{}: {message}", paint.error("error"));
            ExitCode::from(code)
        }
    }
}
