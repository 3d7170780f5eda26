//! Compile-time behaviour: every error the macros report, as the user sees it, and the forms
//! they accept.
//!
//! trybuild compiles each case in a scratch crate under the target directory, so the
//! fixtures are copied there and cases name them relative to it (`fixtures/good.toml`).
//! The expected output was recorded with rustc 1.95; other versions word some of rustc's
//! own messages differently, so the cases run only on that version.

use std::path::{Path, PathBuf};

const RECORDED_ON: &str = "rustc 1.95.";

#[test]
fn ui() {
    let version =
        std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .arg("--version")
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .unwrap_or_default();
    if !version.starts_with(RECORDED_ON) {
        eprintln!("skipping UI tests: recorded on {RECORDED_ON}x, this is {version}");
        return;
    }
    copy_fixtures();
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}

fn copy_fixtures() {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target directory");
    let scratch = target.join("tests/trybuild/flags/fixtures");
    std::fs::create_dir_all(&scratch).expect("create fixture directory");
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ui/fixtures");
    for entry in std::fs::read_dir(&source).expect("fixtures") {
        let path = entry.expect("fixture").path();
        let name = path.file_name().expect("file name");
        std::fs::copy(&path, scratch.join(name)).expect("copy fixture");
    }
}
