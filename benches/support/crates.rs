//! Crates generated around a `flags.toml` of many flags, built by cargo as a user's would be
//! (dev profile, sharing this workspace's target directory so dependencies are already
//! built): for the build-time benchmark and for the test that they build and run.

// Each user of this file calls part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::generate;

/// The workspace's root, where the `flags` crate and `Cargo.lock` are: the including crate's
/// directory (the `flags` crate's tests) or the one above it (the benches' crate).
fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|directory| directory.join("Cargo.lock").is_file())
        .expect("a Cargo.lock above the crate")
}

/// The target directory above the running binary (`target/<profile>/deps/<binary>`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the binary's path");
    exe.ancestors()
        .nth(3)
        .expect("target directory above target/<profile>/deps")
        .to_path_buf()
}

/// A binary crate whose `flags.toml` declares `count` flags; its main prints three of them.
pub fn generated_crate(count: usize) -> PathBuf {
    let directory = binary_crate(&format!("flags{count}"), &generate::flags_toml(count));
    write_main(&directory, 0);
    directory
}

/// A binary crate `name` using the `flags` crate with `flags_toml`, under the target
/// directory; its `src/main.rs` is the caller's to write.
pub fn binary_crate(name: &str, flags_toml: &str) -> PathBuf {
    let directory = target_dir().join("build-time").join(name);
    std::fs::create_dir_all(directory.join("src")).expect("create the crate");
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\nflags = {{ path = {root:?} }}\n\n[workspace]\n",
        root = workspace_root()
    );
    std::fs::write(directory.join("Cargo.toml"), manifest).expect("write Cargo.toml");
    std::fs::write(directory.join("flags.toml"), flags_toml).expect("write flags.toml");
    // The workspace's lock file, so the same dependency versions are used (and none fetched).
    std::fs::copy(
        workspace_root().join("Cargo.lock"),
        directory.join("Cargo.lock"),
    )
    .expect("copy Cargo.lock");
    directory
}

/// A workspace where a library crate declares `count` flags for the binary crate beside it
/// (`declare!(export)`), the layout for a large `flags.toml`: an edit to the binary does not
/// expand `declare!` again. The binary, `app{count}`, uses an accessor, a gate, `each` and a
/// stub through the library; its `src/main.rs` is written by [`write_app_main`].
pub fn split_workspace(count: usize) -> PathBuf {
    let directory = target_dir()
        .join("build-time")
        .join(format!("split{count}"));
    let library = format!("decl{count}");
    let root = workspace_root();
    for (member, manifest) in [
        (
            library.clone(),
            format!(
                "[package]\nname = \"{library}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
                 [dependencies]\nflags = {{ path = {root:?} }}\n"
            ),
        ),
        (
            format!("app{count}"),
            format!(
                "[package]\nname = \"app{count}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
                 [dependencies]\nflags = {{ path = {root:?} }}\n{library} = {{ path = \"../{library}\" }}\n"
            ),
        ),
    ] {
        std::fs::create_dir_all(directory.join(&member).join("src")).expect("create the crate");
        std::fs::write(directory.join(&member).join("Cargo.toml"), manifest)
            .expect("write Cargo.toml");
    }
    std::fs::write(
        directory.join("Cargo.toml"),
        format!("[workspace]\nmembers = [\"{library}\", \"app{count}\"]\nresolver = \"3\"\n"),
    )
    .expect("write the workspace's Cargo.toml");
    std::fs::write(
        directory.join(&library).join("flags.toml"),
        generate::flags_toml(count),
    )
    .expect("write flags.toml");
    std::fs::write(
        directory.join(&library).join("src/lib.rs"),
        "//! The flags, for the binary beside this crate.\nflags::declare!(export);\n",
    )
    .expect("write lib.rs");
    std::fs::copy(root.join("Cargo.lock"), directory.join("Cargo.lock")).expect("copy Cargo.lock");
    write_app_main(&directory, count, 0);
    directory
}

/// Rewrites the binary's `main.rs` of [`split_workspace`] with `run` in a comment.
pub fn write_app_main(directory: &Path, count: usize, run: usize) {
    let main = format!(
        "// build {run}\nuse decl{count}::{{Flags, FlagsStub}};\n\n\
         #[flags::feature_gate(\"flag_0000_enabled\", flags = decl{count}::Flags)]\n\
         fn gated() -> Result<(), flags::FeatureDisabled> {{\n    Ok(())\n}}\n\n\
         fn main() {{\n    \
         let each: Vec<bool> = Flags::each(FlagsStub::flag_0000_enabled).map(|(on, _stub)| on == gated().is_ok()).collect();\n    \
         let _stub = Flags::stub().limit_0005(7);\n    \
         println!(\"{{}} {{}} {{:?}} {{:?}}\", Flags::flag_0000_enabled(), Flags::limit_0005(), Flags::mode_0008(), each);\n}}\n"
    );
    std::fs::write(directory.join(format!("app{count}/src/main.rs")), main).expect("write main.rs");
}

/// Rewrites `main.rs` with `run` in a comment, so that the next build compiles it again.
pub fn write_main(directory: &Path, run: usize) {
    let main = format!(
        "// build {run}\nflags::declare!();\n\nfn main() {{\n    \
         println!(\"{{}} {{}} {{:?}}\", Flags::flag_0000_enabled(), Flags::limit_0005(), Flags::mode_0008());\n}}\n"
    );
    std::fs::write(directory.join("src/main.rs"), main).expect("write main.rs");
}

/// Builds the crate in `directory` with cargo; how long it took.
pub fn cargo_build(directory: &Path) -> Duration {
    let started = Instant::now();
    let output = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--offline"])
        .current_dir(directory)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .expect("run cargo");
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "building {} failed:\n{}",
        directory.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

/// Runs the binary the crate of `count` flags built; what it printed.
pub fn run(directory: &Path, count: usize) -> String {
    run_binary(directory, &format!("flags{count}"))
}

/// Runs the binary `name` a crate built; what it printed.
pub fn run_binary(directory: &Path, name: &str) -> String {
    let binary = target_dir()
        .join("debug")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let output = Command::new(&binary)
        .env_clear()
        .current_dir(directory)
        .output()
        .unwrap_or_else(|error| panic!("run {}: {error}", binary.display()));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
