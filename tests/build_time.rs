//! Build time of a crate using a 1,000-flag `flags.toml`, against a 10-flag one: the
//! difference must stay under 2 s. The crates are generated, built by cargo as a user's
//! would be (dev profile, sharing this workspace's target directory so dependencies are
//! already built), and their binaries run.
//!
//! Also checks that `benches/large.toml` (used by `benches/reload.rs`) is what the generator
//! makes; `FLAGS_REGENERATE=1 cargo test --test build_time` rewrites it.

#[path = "../benches/support/generate.rs"]
mod generate;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn the_large_benchmark_file_is_generated() {
    let path = Path::new(ROOT).join("benches/large.toml");
    let expected = generate::flags_toml(1_000);
    if std::env::var_os("FLAGS_REGENERATE").is_some() {
        std::fs::write(&path, &expected).expect("write benches/large.toml");
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "benches/large.toml is not what benches/support/generate.rs makes; \
         run `FLAGS_REGENERATE=1 cargo test --test build_time` to rewrite it"
    );
}

/// The directory of the test binary's profile (`target/debug`), and the target directory.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .expect("target directory above target/<profile>/deps")
        .to_path_buf()
}

/// A binary crate whose `flags.toml` declares `count` flags; its main prints three of them.
fn generated_crate(count: usize) -> PathBuf {
    let directory = target_dir()
        .join("build-time")
        .join(format!("flags{count}"));
    std::fs::create_dir_all(directory.join("src")).expect("create the crate");
    let manifest = format!(
        "[package]\nname = \"flags{count}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\nflags = {{ path = {ROOT:?} }}\n\n[workspace]\n"
    );
    std::fs::write(directory.join("Cargo.toml"), manifest).expect("write Cargo.toml");
    std::fs::write(directory.join("flags.toml"), generate::flags_toml(count))
        .expect("write flags.toml");
    // The workspace's lock file, so the same dependency versions are used (and none fetched).
    std::fs::copy(
        Path::new(ROOT).join("Cargo.lock"),
        directory.join("Cargo.lock"),
    )
    .expect("copy Cargo.lock");
    write_main(&directory, 0);
    directory
}

fn write_main(directory: &Path, run: usize) {
    let main = format!(
        "// build {run}\nflags::declare!();\n\nfn main() {{\n    \
         println!(\"{{}} {{}} {{:?}}\", Flags::flag_0000_enabled(), Flags::limit_0005(), Flags::mode_0008());\n}}\n"
    );
    std::fs::write(directory.join("src/main.rs"), main).expect("write main.rs");
}

fn cargo_build(directory: &Path) -> Duration {
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

/// The fastest of three rebuilds after an edit of `main.rs` (dependencies already built).
fn rebuild_time(directory: &Path) -> Duration {
    cargo_build(directory);
    (1..=3)
        .map(|run| {
            write_main(directory, run);
            cargo_build(directory)
        })
        .min()
        .unwrap_or_default()
}

fn run(directory: &Path, count: usize) -> String {
    let binary = target_dir()
        .join("debug")
        .join(format!("flags{count}{}", std::env::consts::EXE_SUFFIX));
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

#[test]
fn a_thousand_flags_build_within_two_seconds_of_ten() {
    let small = generated_crate(10);
    let large = generated_crate(1_000);
    let small_time = rebuild_time(&small);
    let large_time = rebuild_time(&large);
    // Production (the generated default): no targeting applies without a context, the
    // integer has its production value, the variant its default.
    assert_eq!(run(&small, 10), "false 25 Basic");
    assert_eq!(run(&large, 1_000), "false 25 Basic");
    let extra = large_time.saturating_sub(small_time);
    println!(
        "cargo build after an edit: 10 flags {small_time:?}, 1,000 flags {large_time:?} \
         (+{extra:?}; budget +2 s)"
    );
    assert!(
        extra < Duration::from_secs(2),
        "the 1,000-flag crate took {extra:?} longer to build than the 10-flag one; the budget is 2 s"
    );
}
