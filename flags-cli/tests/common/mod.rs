//! Runs the built `flags` binary on temporary copies of the fixture projects.
#![allow(dead_code)] // Each test file uses its own part of these helpers.

use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

/// 2026-01-01T00:00:00Z: "today" for every run, so expiry does not depend on the day.
const TODAY: &str = "1767225600";

/// A copy of `tests/fixtures/<name>`, removed when dropped.
pub fn project(name: &str) -> TempDir {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let dir = tempfile::tempdir().expect("a temporary directory");
    copy(&from, dir.path());
    dir
}

fn copy(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("a fixture directory") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("create a directory");
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// What a run printed, and its exit code.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Standard output as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("not JSON ({error}):\n{}", self.stdout))
    }

    /// Asserts the exit code, showing the output when it differs.
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(self.code, code, "exit code; the run printed:\n{self:#?}");
        self
    }
}

/// Runs `flags args` in `dir` with no environment variables but `vars`.
pub fn flags_with(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_flags"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("SOURCE_DATE_EPOCH", TODAY)
        .envs(vars.iter().copied())
        .output()
        .expect("the flags binary runs");
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 output"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 errors"),
    };
    // Not a terminal: never colour.
    assert!(
        !run.stdout.contains('\u{1b}') && !run.stderr.contains('\u{1b}'),
        "colour codes in output that is not a terminal: {run:#?}"
    );
    run
}

/// Runs `flags args` in `dir`.
pub fn flags(dir: &Path, args: &[&str]) -> Run {
    flags_with(dir, args, &[])
}

/// Runs `flags` with the arguments in `line`, split at spaces, in `dir`.
pub fn run(dir: &Path, line: &str) -> Run {
    flags(dir, &line.split_whitespace().collect::<Vec<_>>())
}
