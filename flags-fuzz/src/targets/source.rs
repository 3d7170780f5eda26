//! The `flags` binary's scanner and rewriter, as a subprocess, on one Rust source file.
//!
//! An input is the `src/lib.rs` of a crate whose other files are fixed: the `flags.toml`
//! (four flags: two bools, a variant and an integer) and the overrides file of
//! [`source_fixture`](crate::corpus::source_fixture). In a directory holding the crate, it runs
//! `flags refs NAME`, `flags remove NAME --keep VALUE --dry-run`, `flags remove NAME --keep
//! VALUE` and `flags check`, the flag and the value picked from the input.
//!
//! Checks, for every command: it ends within the time limit, with exit code 0, 1 or 2 (never
//! 101 nor a signal); its standard error never says "panicked"; its output is bounded. And
//! `--dry-run` writes nothing: every file of the crate is as it was.

use std::cell::RefCell;
use std::path::Path;

use super::cli::Cli;
use crate::guard::{Passed, Violation};

/// The flags of the fixed crate, with the values `remove --keep` is given for each.
const FLAGS: &[(&str, &[&str])] = &[
    ("new_checkout_enabled", &["on", "off"]),
    ("express_pay_enabled", &["on", "off"]),
    ("checkout_flow", &["legacy", "one_page", "express"]),
    ("max_upload_mb", &["25", "10"]),
];

/// The crate's files besides the input, as the fixture has them.
struct Project {
    flags_toml: Vec<u8>,
    overrides: Vec<u8>,
}

impl Project {
    fn read() -> Self {
        let dir = crate::corpus::source_fixture();
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path)
                .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
        };
        Self {
            flags_toml: read("flags.toml"),
            overrides: read("flags.overrides.toml"),
        }
    }

    /// Writes the crate into `dir`, with `source` as its `src/lib.rs`.
    fn write(&self, dir: &Path, source: &[u8]) {
        std::fs::create_dir_all(dir.join("src")).expect("create src/");
        std::fs::write(dir.join("flags.toml"), &self.flags_toml).expect("write flags.toml");
        std::fs::write(dir.join("flags.overrides.toml"), &self.overrides)
            .expect("write the overrides file");
        std::fs::write(dir.join("src/lib.rs"), source).expect("write src/lib.rs");
    }
}

thread_local! {
    /// A crate directory and the fixed files per thread, reused for every input.
    static CRATE: RefCell<Option<(tempfile::TempDir, Project)>> = const { RefCell::new(None) };
}

/// Runs every command on one input, with the binary of `cli`.
pub fn run(cli: &Cli, input: &[u8]) -> Result<Passed, Violation> {
    CRATE.with(|slot| {
        let mut slot = slot.borrow_mut();
        let (dir, project) =
            slot.get_or_insert_with(|| (crate::corpus::scratch_dir(), Project::read()));
        run_in(cli, dir.path(), project, input)
    })
}

fn run_in(cli: &Cli, dir: &Path, project: &Project, input: &[u8]) -> Result<Passed, Violation> {
    let hash = crate::corpus::hash(input);
    let (flag, values) = FLAGS[(hash % FLAGS.len() as u64) as usize];
    let keep = values[((hash >> 8) % values.len() as u64) as usize];
    let commands: [&[&str]; 4] = [
        &["refs", flag],
        &["remove", flag, "--keep", keep, "--dry-run"],
        &["remove", flag, "--keep", keep],
        &["check"],
    ];
    let mut output = 0;
    let mut valid = false;
    for (number, command) in commands.iter().enumerate() {
        // Every command starts from the input and the fixed files.
        project.write(dir, input);
        let command: Vec<String> = command.iter().map(|word| (*word).to_owned()).collect();
        let ran = cli.command(dir, &command)?;
        ran.ended_normally(&command)?;
        let shown = || format!("`flags {}`", command.join(" "));
        let code = ran.status.code();
        if number == 1 {
            unchanged(dir, project, input)
                .map_err(|v| Violation::invariant(format!("{}: {}", shown(), v.message)))?;
        }
        if number == 2 {
            valid = code == Some(0);
        }
        output = output.max(ran.stdout.len() + ran.stderr.len());
    }
    super::check_output(input.len(), output)?;
    Ok(Passed { valid, output })
}

/// Every file of the crate is as it was written.
fn unchanged(dir: &Path, project: &Project, input: &[u8]) -> Result<(), Violation> {
    let files: [(&str, &[u8]); 3] = [
        ("flags.toml", &project.flags_toml),
        ("flags.overrides.toml", &project.overrides),
        ("src/lib.rs", input),
    ];
    for (name, written) in files {
        let now = std::fs::read(dir.join(name)).unwrap_or_default();
        if now != written {
            return Err(Violation::invariant(format!(
                "a dry run changed {name} ({} bytes written, {} bytes now)",
                written.len(),
                now.len()
            )));
        }
    }
    Ok(())
}
