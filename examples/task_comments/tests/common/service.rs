// Shared by the example's browser test and the console's (by path).
#![allow(dead_code)]

//! The task_comments binary as a process of a test's own: no `FLAGS_*` variable of the shell
//! running the tests, the variables given, and the address it prints on its first line.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Starts `binary` with `vars` (`PORT=0` among them, for a free port); the child and the
/// service's base URL (`http://127.0.0.1:PORT`).
pub fn start(binary: &Path, vars: &[(&str, &str)]) -> (Child, String) {
    let mut command = Command::new(binary);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("FLAGS_") {
            command.env_remove(&name);
        }
    }
    let mut child = command
        .envs(vars.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("task_comments starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("the service prints its address");
    let base = line
        .trim()
        .strip_prefix("task_comments listening on ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (child, base)
}
