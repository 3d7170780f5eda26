//! The `flags` binary, as a subprocess, on a `flags.toml` and an overrides file.
//!
//! An input is a `flags.toml`, then [`CLI_SEPARATOR`](crate::corpus::CLI_SEPARATOR) and an
//! overrides file (without the separator, no overrides file). In a directory holding the two
//! files, with `FLAGS_OVERRIDES` naming the second, it runs `flags check`, `flags list`,
//! `flags explain NAME --env E --key K`, `flags set NAME VALUE`, `flags unset NAME` and
//! `flags stale`, all with `-f flags.toml` (`check`, `list`, `explain` and `stale` with
//! `--format json` for a third of the inputs); the flag, environment and value are picked
//! from the input.
//!
//! Checks, for every command: it ends within the time limit, with exit code 0, 1 or 2 (never
//! 101 nor a signal); its standard error never says "panicked"; every `--> file:line:column`
//! it prints names one of the two files and a place in it; `--format json` prints one JSON
//! document, whose findings are at places `flags.toml` has; its output is bounded.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::corpus::split_cli_input;
use crate::guard::{Class, Passed, Violation};
use crate::locate::{Extent, check_all, locations};

/// How long one command may take before it is killed and reported.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// "Today" for every command (2026-01-01), so that expiry does not depend on the day.
const TODAY: &str = "1767225600";

/// The target: the `flags` binary and how long a command may take.
#[derive(Clone, Debug)]
pub struct Cli {
    bin: PathBuf,
    timeout: Duration,
}

thread_local! {
    /// A project directory per thread, reused for every input.
    static PROJECT: RefCell<Option<tempfile::TempDir>> = const { RefCell::new(None) };
}

/// What one command did.
#[derive(Debug)]
pub(crate) struct Ran {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Ran {
    /// A panic (exit code 101, or "panicked" on standard error) or a crash (any exit code but
    /// 0, 1 and 2, or a signal) of `flags command`, as a violation.
    pub(crate) fn ended_normally(&self, command: &[String]) -> Result<(), Violation> {
        let shown = || format!("`flags {}`", command.join(" "));
        let code = self.status.code();
        if self.stderr.contains("panicked") || code == Some(101) {
            return Err(Violation::new(
                Class::Panic,
                format!("{} panicked (exit {code:?}):\n{}", shown(), self.stderr),
            ));
        }
        if !matches!(code, Some(0..=2)) {
            return Err(Violation::new(
                Class::Crash,
                format!("{} ended with {}:\n{}", shown(), self.status, self.stderr),
            ));
        }
        Ok(())
    }
}

impl Cli {
    /// Runs the binary at `bin`, killing a command after [`TIMEOUT`].
    pub fn new(bin: impl Into<PathBuf>) -> Self {
        let bin = bin.into();
        // Commands run in the project's directory, so a relative path would not be found.
        let bin = std::path::absolute(&bin).unwrap_or(bin);
        Self {
            bin,
            timeout: TIMEOUT,
        }
    }

    /// Kills a command after `timeout` instead.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The binary run.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Runs every command on one input.
    pub fn run(&self, input: &[u8]) -> Result<Passed, Violation> {
        PROJECT.with(|project| {
            let mut project = project.borrow_mut();
            if project.is_none() {
                *project = Some(crate::corpus::scratch_dir());
            }
            let dir = project.as_ref().expect("just created").path();
            self.run_in(dir, input)
        })
    }

    fn run_in(&self, dir: &Path, input: &[u8]) -> Result<Passed, Violation> {
        let (flags_toml, overrides) = split_cli_input(input);
        std::fs::write(dir.join("flags.toml"), flags_toml).expect("write flags.toml");
        let flags_text = String::from_utf8_lossy(flags_toml).into_owned();
        let overrides_text = String::from_utf8_lossy(overrides).into_owned();
        let pick = Picks::new(input, &flags_text, &overrides_text);

        let format: &[&str] = match pick.json {
            true => &["--format", "json"],
            false => &[],
        };
        let mut commands: Vec<Vec<String>> = vec![
            [args(&["check", "-f", "flags.toml"]), args(format)].concat(),
            [args(&["list", "-f", "flags.toml"]), args(format)].concat(),
        ];
        let mut explain = args(&["explain", &pick.flag, "--env", &pick.environment]);
        explain.extend(args(format));
        explain.extend(args(&["--key", &pick.key]));
        for attribute in &pick.attributes {
            explain.extend(args(&["--attr", attribute]));
        }
        explain.extend(args(&["-f", "flags.toml"]));
        commands.push(explain);
        let mut set = args(&["set", &pick.flag, &pick.value]);
        if pick.by_environment {
            set.extend(args(&["--env", &pick.environment]));
        }
        set.extend(args(&["-f", "flags.toml"]));
        commands.push(set);
        let mut unset = args(&["unset", &pick.flag]);
        match pick.unset_all {
            true => unset.push("--all".into()),
            false if pick.by_environment => unset.extend(args(&["--env", &pick.environment])),
            false => {}
        }
        unset.extend(args(&["-f", "flags.toml"]));
        commands.push(unset);
        commands.push([args(&["stale", "-f", "flags.toml"]), args(format)].concat());

        let mut output = 0;
        let mut valid = false;
        for (number, command) in commands.iter().enumerate() {
            if command.iter().any(|arg| arg.contains('\0')) {
                continue;
            }
            // Every command starts from the input's overrides file.
            std::fs::write(dir.join("flags.overrides.toml"), overrides)
                .expect("write the overrides file");
            let ran = self.command(dir, command)?;
            let shown = || format!("`flags {}`", command.join(" "));
            ran.ended_normally(command)?;
            let code = ran.status.code();
            if number == 0 {
                valid = code == Some(0);
            }
            let files = [
                ("flags.toml", flags_text.as_str()),
                ("flags.overrides.toml", overrides_text.as_str()),
            ];
            for stream in [&ran.stdout, &ran.stderr] {
                let checked = match number {
                    // `set` and `unset` show the problems of the text they would write, the
                    // input with one change: its lines are checked, with a few lines' slack.
                    3 | 4 => check_lines(stream, &files, 8),
                    _ => check_all(stream, &files, true),
                };
                checked.map_err(|v| Violation::invariant(format!("{}: {}", shown(), v.message)))?;
            }
            // Every command but `set` and `unset` prints JSON when asked.
            if pick.json && !matches!(number, 3 | 4) && !ran.stdout.is_empty() {
                check_json(&ran.stdout, number == 0, &flags_text)
                    .map_err(|v| Violation::invariant(format!("{}: {}", shown(), v.message)))?;
            }
            output = output.max(ran.stdout.len() + ran.stderr.len());
        }
        super::check_output(input.len(), output)?;
        Ok(Passed { valid, output })
    }

    /// Runs `flags args` in `dir` with only the variables the test sets, killing it after the
    /// timeout. Its output goes to files, so that a command printing a lot never blocks.
    pub(crate) fn command(&self, dir: &Path, args: &[String]) -> Result<Ran, Violation> {
        let out_path = dir.join(".stdout");
        let err_path = dir.join(".stderr");
        let stdout = std::fs::File::create(&out_path).expect("create the stdout file");
        let stderr = std::fs::File::create(&err_path).expect("create the stderr file");
        let mut child = Command::new(&self.bin)
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("SOURCE_DATE_EPOCH", TODAY)
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "1")
            .env("FLAGS_OVERRIDES", "flags.overrides.toml")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", self.bin.display()));
        let started = Instant::now();
        let mut pause = Duration::from_micros(100);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for the flags binary") {
                break status;
            }
            if started.elapsed() > self.timeout {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Violation::new(
                    Class::Slow,
                    format!(
                        "`flags {}` did not finish within {:?}; killed",
                        args.join(" "),
                        self.timeout
                    ),
                ));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(5));
        };
        let read = |path: &Path| {
            String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
        };
        Ok(Ran {
            status,
            stdout: read(&out_path),
            stderr: read(&err_path),
        })
    }
}

/// `--format json` prints one JSON document; `check`'s findings in `flags.toml` are at places
/// it has.
fn check_json(stdout: &str, check: bool, flags_toml: &str) -> Result<(), Violation> {
    let document: serde_json::Value = serde_json::from_str(stdout)
        .map_err(|error| Violation::invariant(format!("the output is not JSON ({error})")))?;
    if !check {
        return Ok(());
    }
    let findings = document["findings"].as_array().cloned().unwrap_or_default();
    for finding in findings {
        if finding["file"] != "flags.toml" {
            continue;
        }
        let number = |key: &str| finding[key].as_u64().and_then(|n| usize::try_from(n).ok());
        let (Some(line), Some(column)) = (number("line"), number("column")) else {
            return Err(Violation::invariant(format!(
                "a finding in flags.toml has no line and column: {finding}"
            )));
        };
        let location = crate::locate::Location {
            name: "flags.toml",
            line,
            column,
        };
        crate::locate::check_location(&location, flags_toml)?;
    }
    Ok(())
}

/// Every location of `output` names one of `files` and a line at most `slack` past its end.
fn check_lines(output: &str, files: &[(&str, &str)], slack: usize) -> Result<(), Violation> {
    for location in locations(output) {
        let Some((_, text)) = files.iter().find(|(name, _)| *name == location.name) else {
            return Err(Violation::invariant(format!(
                "a message locates a problem in {:?}, which is none of the inputs",
                location.name
            )));
        };
        let lines = Extent::of(text).lines() + slack;
        if location.line == 0 || location.line > lines || location.column == 0 {
            return Err(Violation::invariant(format!(
                "location {}:{}:{} is outside the text written ({lines} lines at most)",
                location.name, location.line, location.column
            )));
        }
    }
    Ok(())
}

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|word| (*word).to_owned()).collect()
}

/// What the commands are asked about, picked from the input so that each input asks the
/// same: a flag it names, an environment it declares, a value of a kind its flag may have.
struct Picks {
    flag: String,
    environment: String,
    value: String,
    by_environment: bool,
    unset_all: bool,
    json: bool,
    key: String,
    attributes: Vec<String>,
}

impl Picks {
    fn new(input: &[u8], flags_toml: &str, overrides: &str) -> Self {
        let hash = crate::corpus::hash(input);
        let mut names = flag_names(flags_toml);
        names.extend(flag_names(overrides));
        let flag = match names.is_empty() {
            true => "new_checkout_enabled".to_owned(),
            false => names[(hash % names.len() as u64) as usize].clone(),
        };
        let environments = environment_names(flags_toml);
        let environment = match environments.is_empty() {
            true => "production".to_owned(),
            false => environments[((hash >> 8) % environments.len() as u64) as usize].clone(),
        };
        const VALUES: &[&str] = &[
            "true",
            "off",
            "maybe",
            "7",
            "-0",
            "99999999999999999999",
            "0.5",
            "nan",
            "1e999",
            "express",
            "legacy",
            "",
            "é\r\n",
            "\"quoted\"",
        ];
        Self {
            flag,
            environment,
            value: VALUES[((hash >> 16) % VALUES.len() as u64) as usize].to_owned(),
            by_environment: (hash >> 24) % 2 == 0,
            unset_all: (hash >> 25) % 4 == 0,
            json: (hash >> 28) % 3 == 0,
            key: KEYS[((hash >> 32) % KEYS.len() as u64) as usize].to_owned(),
            attributes: ATTRIBUTES
                .iter()
                .enumerate()
                .filter(|(i, _)| (hash >> (36 + i)) & 1 == 1)
                .map(|(_, attribute)| (*attribute).to_owned())
                .collect(),
        }
    }
}

/// Context keys for `explain --key`.
const KEYS: &[&str] = &["u-9", "u-1", "", "🦀", "-", "u-staff\r\n"];

/// Attributes for `explain --attr`, each given or not as the input's hash says: well-formed,
/// typed, of the wrong kind, and malformed.
const ATTRIBUTES: &[&str] = &[
    "plan=pro",
    "seats:num=12",
    "email=ada@example.com",
    "version=2.3.0",
    "tags:list=comments,sso",
    "signed_up=2020-01-01T00:00:00Z",
    "seats:num=nan",
    "beta:bool=maybe",
    "trial:list=",
    "=x",
    "plan",
    "org:str=",
    "country:nope=de",
    "x:num=1e999",
];

/// The keys of `[flags.KEY]` and `[[flags.KEY...` headers, as written (quotes removed).
fn flag_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim_start_matches('[').trim_start();
        let Some(rest) = line.strip_prefix("flags.") else {
            continue;
        };
        let name = match rest.strip_prefix('"') {
            Some(quoted) => quoted.split('"').next().unwrap_or_default(),
            None => rest.split(['.', ']', ' ', '=']).next().unwrap_or_default(),
        };
        if !name.is_empty() && !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    names
}

/// The names in an `names = [...]` line.
fn environment_names(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.trim_start().strip_prefix("names"))
        .flat_map(|rest| {
            rest.split('"')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_come_from_the_input() {
        let toml = "[environments]\nnames = [\"dev\", \"prod\"]\n[flags.\"a-b\"]\n[[flags.c.prod.rules]]\n";
        assert_eq!(flag_names(toml), ["a-b", "c"]);
        assert_eq!(environment_names(toml), ["dev", "prod"]);
    }
}
