//! The seed files inputs are made from, and the corpus of inputs that once failed.
//!
//! Layout, under this crate's directory:
//!
//! - `seeds/<kind>/`: valid (and a few invalid) files of each kind; `seeds/catalog.toml` is the
//!   catalog overrides, Redis entries and the CLI's overrides are read against;
//!   the sources' seeds and fixed crate are flags-cli's fixtures (see [`source_fixture`]);
//! - `corpus/<kind>/`: every input that ever failed (a panic, a crash, a broken invariant, a
//!   slow input, an oversized output), named by a hash of its content; `tests/corpus.rs` and
//!   flags-cli's `tests/fuzz.rs` replay them all.

use std::io;
use std::path::{Path, PathBuf};

use crate::Kind;

/// This crate's directory, where `seeds/` and `corpus/` are.
pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A temporary directory for the files a target writes for each input: in memory
/// (`/dev/shm`) where there is one, since rewriting a file on ext4 flushes it to disk each time.
pub fn scratch_dir() -> tempfile::TempDir {
    let memory = Path::new("/dev/shm");
    let dir = match memory.is_dir() {
        true => tempfile::tempdir_in(memory).or_else(|_| tempfile::tempdir()),
        false => tempfile::tempdir(),
    };
    dir.expect("a temporary directory")
}

/// The catalog that overrides files, Redis entries and the CLI's overrides are read against.
pub fn catalog_text() -> String {
    let path = crate_dir().join("seeds/catalog.toml");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// Between the `flags.toml` and the overrides file of a CLI input.
pub const CLI_SEPARATOR: &[u8] = b"\n#~~~~ flags.overrides.toml ~~~~\n";

/// The files in `dir`, sorted by name, with their contents; none when it does not exist.
pub fn read_dir(dir: &Path) -> io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with('.'));
        if path.is_file() && !hidden {
            let bytes = std::fs::read(&path)?;
            files.push((path, bytes));
        }
    }
    files.sort();
    Ok(files)
}

/// The seeds of `kind`. A CLI input is a `flags.toml` and an overrides file: the seeds are each
/// `flags.toml` seed with the first overrides seed, and the catalog with each overrides seed.
pub fn seeds(kind: Kind) -> Vec<Vec<u8>> {
    let dir = |name: &str| -> Vec<Vec<u8>> {
        let path = crate_dir().join("seeds").join(name);
        read_dir(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
            .into_iter()
            .map(|(_, bytes)| bytes)
            .collect()
    };
    let catalog = catalog_text().into_bytes();
    match kind {
        Kind::FlagsToml => {
            let mut seeds = dir("flags_toml");
            seeds.push(catalog);
            seeds
        }
        Kind::Overrides => dir("overrides"),
        Kind::RedisEntry => dir("redis_entry"),
        Kind::EnvVars => dir("env_vars"),
        Kind::Source => source_seeds(),
        Kind::Cli => {
            let overrides = dir("overrides");
            let first = overrides.first().cloned().unwrap_or_default();
            let mut seeds: Vec<Vec<u8>> = dir("flags_toml")
                .into_iter()
                .map(|flags| cli_input(&flags, &first))
                .collect();
            seeds.extend(overrides.iter().map(|o| cli_input(&catalog, o)));
            seeds
        }
    }
}

/// The crate whose `src/lib.rs` each source input is: flags-cli's `remove` fixture (two
/// bool flags, a variant flag and an integer flag), whose `flags.toml` and overrides file a
/// source input is scanned with.
pub fn source_fixture() -> PathBuf {
    crate_dir().join("../flags-cli/tests/fixtures/remove")
}

/// The seeds of source inputs: the Rust files of flags-cli's `remove` and `nested_gate`
/// fixtures, read where they are so that they follow the fixtures.
fn source_seeds() -> Vec<Vec<u8>> {
    let fixtures = crate_dir().join("../flags-cli/tests/fixtures");
    ["remove/src", "remove/tests", "nested_gate/src"]
        .iter()
        .flat_map(|dir| {
            let path = fixtures.join(dir);
            read_dir(&path)
                .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
        })
        .filter(|(path, _)| path.extension().is_some_and(|extension| extension == "rs"))
        .map(|(_, bytes)| bytes)
        .collect()
}

/// A CLI input from its two files.
pub fn cli_input(flags_toml: &[u8], overrides: &[u8]) -> Vec<u8> {
    [flags_toml, CLI_SEPARATOR, overrides].concat()
}

/// A CLI input's `flags.toml` and overrides file (empty when it has no separator).
pub fn split_cli_input(input: &[u8]) -> (&[u8], &[u8]) {
    match find(input, CLI_SEPARATOR) {
        Some(at) => (&input[..at], &input[at + CLI_SEPARATOR.len()..]),
        None => (input, &[]),
    }
}

/// The first position of `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The corpus directory of `kind`.
pub fn corpus_dir(kind: Kind) -> PathBuf {
    crate_dir().join("corpus").join(kind.name())
}

/// Every corpus file of `kind`.
pub fn corpus(kind: Kind) -> io::Result<Vec<(PathBuf, Vec<u8>)>> {
    read_dir(&corpus_dir(kind))
}

/// 64-bit FNV-1a: a stable hash of an input, naming its corpus file.
pub fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Saves `input` of `kind` in `dir` as `<hash>.<extension>`; returns its path (an input
/// already there is left as it is).
pub fn save(dir: &Path, kind: Kind, input: &[u8]) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{:016x}.{}", hash(input), kind.extension()));
    if !path.exists() {
        std::fs::write(&path, input)?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_inputs_split_back_into_their_files() {
        let input = cli_input(b"[environments]\r", b"[flags.x]\nvalue = 1\n");
        assert_eq!(
            split_cli_input(&input),
            (&b"[environments]\r"[..], &b"[flags.x]\nvalue = 1\n"[..])
        );
        assert_eq!(split_cli_input(b"a = 1"), (&b"a = 1"[..], &b""[..]));
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
    }
}
