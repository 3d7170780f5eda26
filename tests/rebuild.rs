//! Editing `flags.toml` rebuilds the crate that declares its flags: plain `cargo build`, no
//! `touch`, no build script. Checked on a real crate built by a real cargo.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const MAIN: &str = r#"
flags::declare!();

fn main() {
    println!("limit = {}", Flags::max_upload_mb());
}
"#;

fn flags_toml(limit: i64) -> String {
    format!(
        "[environments]\nnames = [\"development\"]\ndefault = \"development\"\n\n\
         [flags.max_upload_mb]\ndescription = \"Upload limit\"\ndefault = {limit}\n"
    )
}

struct Project {
    dir: PathBuf,
}

impl Project {
    /// A crate depending on this checkout of `flags`, kept under the target directory so
    /// that its build is reused by later runs.
    fn create() -> Project {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rebuild-probe");
        std::fs::create_dir_all(dir.join("src")).expect("create the probe crate");
        let flags = Path::new(env!("CARGO_MANIFEST_DIR"));
        let manifest = format!(
            "[package]\nname = \"rebuild-probe\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\nflags = {{ path = {:?} }}\n\n[workspace]\n",
            flags.display().to_string()
        );
        std::fs::write(dir.join("Cargo.toml"), manifest).expect("write Cargo.toml");
        std::fs::write(dir.join("src/main.rs"), MAIN).expect("write main.rs");
        // The same dependency versions as this workspace, so the build needs no network.
        std::fs::copy(flags.join("Cargo.lock"), dir.join("Cargo.lock")).expect("copy Cargo.lock");
        Project { dir }
    }

    fn write_flags(&self, text: &str) {
        // Let the clock move past the last build, as it does between a build and an edit.
        std::thread::sleep(Duration::from_millis(1_100));
        std::fs::write(self.dir.join("flags.toml"), text).expect("write flags.toml");
    }

    fn build(&self) -> Output {
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--offline", "--quiet", "--message-format=short"])
            .arg("--target-dir")
            .arg(self.dir.join("target"))
            .env_remove("RUSTFLAGS")
            .current_dir(&self.dir)
            .output()
            .expect("run cargo")
    }

    /// Builds and runs, returning the program's output; `rebuilt` tells whether the probe
    /// crate itself was compiled again.
    fn build_and_run(&self) -> (String, bool) {
        let binary = self
            .dir
            .join("target/debug")
            .join(format!("rebuild-probe{}", std::env::consts::EXE_SUFFIX));
        let before = std::fs::metadata(&binary).and_then(|m| m.modified()).ok();
        let output = self.build();
        assert!(
            output.status.success(),
            "build failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let after = std::fs::metadata(&binary).and_then(|m| m.modified()).ok();
        let run = Command::new(&binary)
            .env_clear()
            .output()
            .expect("run the probe");
        (
            String::from_utf8_lossy(&run.stdout).trim().to_owned(),
            before != after,
        )
    }
}

#[test]
fn editing_flags_toml_rebuilds_the_crate() {
    let project = Project::create();
    project.write_flags(&flags_toml(10));
    let (output, _) = project.build_and_run();
    assert_eq!(output, "limit = 10");

    let (output, rebuilt) = project.build_and_run();
    assert_eq!(output, "limit = 10");
    assert!(!rebuilt, "nothing changed, so nothing should be rebuilt");

    project.write_flags(&flags_toml(42));
    let (output, rebuilt) = project.build_and_run();
    assert!(rebuilt, "editing flags.toml must rebuild the crate");
    assert_eq!(output, "limit = 42");

    project
        .write_flags(&flags_toml(42).replace("default = 42", "default = \"many\"\nproduction = 1"));
    let failed = project.build();
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        !failed.status.success(),
        "a broken flags.toml must fail the build"
    );
    assert!(
        stderr.contains("unknown key `production` in flag `max_upload_mb`"),
        "{stderr}"
    );
    assert!(stderr.contains("--> flags.toml:8:1"), "{stderr}");

    project.write_flags(&flags_toml(7));
    let (output, _) = project.build_and_run();
    assert_eq!(output, "limit = 7");
}
