//! `task_comments --help` says how to configure the service, and starts nothing.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Runs the binary with `args`; a run that outlives 20 s (a server that started) fails.
fn run(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_task_comments"))
        .args(args)
        // A port no test uses: were it to start, it would not take another test's.
        .env("PORT", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the example binary starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("task_comments {args:?} did not exit: it started the server");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn help_lists_every_variable_and_exits() {
    for flag in ["--help", "-h"] {
        let output = run(&[flag]);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        let help = String::from_utf8(output.stdout).expect("UTF-8");
        for variable in [
            "APP_ENV",
            "PORT",
            "ADMIN_TOKEN",
            "OFREP_TOKEN",
            "FLAGS_REDIS_URL",
            "FLAGS_OVERRIDES",
            "FLAGS_<FLAG>",
            "RUST_LOG",
        ] {
            assert!(
                help.contains(&format!("\n  {variable} ")),
                "{variable}:\n{help}"
            );
        }
        assert!(help.starts_with("task_comments: "), "{help}");
        assert!(!help.contains("listening"), "{help}");
    }
}

#[test]
fn an_unknown_argument_is_refused() {
    let output = run(&["--port", "8080"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let error = String::from_utf8(output.stderr).expect("UTF-8");
    assert!(error.contains("unknown argument \"--port\""), "{error}");
    assert!(output.stdout.is_empty());
}
