//! Finding and reading `flags.toml`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use flags_model::{Parsed, SourceFile};

/// The file every macro reads when not given another path.
pub const DEFAULT_FILE: &str = "flags.toml";

/// A read and parsed `flags.toml`.
pub(crate) struct Loaded {
    pub(crate) file: SourceFile,
    pub(crate) parsed: Parsed,
}

/// Where the file is: absolute (to read it) and as shown in messages (as the user wrote it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) absolute: PathBuf,
    pub(crate) display: String,
}

/// Resolves `given` (or `flags.toml`) against the crate's manifest directory.
pub(crate) fn locate(manifest_dir: &Path, given: Option<&str>) -> Location {
    let display = given.unwrap_or(DEFAULT_FILE).to_owned();
    Location {
        absolute: manifest_dir.join(&display),
        display,
    }
}

/// Reads and parses the file. Parses are kept per path and reused while the text is the
/// same: one build expands `declare!` and every `#[feature_gate]` from the same file, and
/// rust-analyzer keeps this process alive across edits. The text is compared rather than
/// the modification time, so an edit within the clock's resolution is never missed.
pub(crate) fn load(location: &Location) -> Result<Arc<Loaded>, String> {
    static CACHE: Mutex<Option<HashMap<PathBuf, Arc<Loaded>>>> = Mutex::new(None);

    let text = flags_model::file::read_text(&location.absolute).map_err(|error| {
        format!(
            "cannot read {} ({}): {}",
            location.display,
            location.absolute.display(),
            error.cause()
        )
    })?;
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let cache = cache.get_or_insert_with(HashMap::new);
    if let Some(loaded) = cache.get(&location.absolute) {
        if loaded.file.text() == text && loaded.file.name() == location.display {
            return Ok(Arc::clone(loaded));
        }
    }
    let file = SourceFile::new(location.display.clone(), text);
    let parsed = flags_model::parse(&file);
    let loaded = Arc::new(Loaded { file, parsed });
    cache.insert(location.absolute.clone(), Arc::clone(&loaded));
    Ok(loaded)
}

/// The crate being compiled's manifest directory.
pub(crate) fn manifest_dir() -> Result<PathBuf, String> {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| "CARGO_MANIFEST_DIR is not set; build with cargo".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_are_seen_even_when_the_cache_has_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let location = locate(dir.path(), Some("f.toml"));
        assert_eq!(location.display, "f.toml");
        std::fs::write(&location.absolute, "[environments]\nnames = [\"a\"]\n").unwrap();
        let first = load(&location).unwrap();
        assert!(first.parsed.diagnostics.is_empty());
        assert!(Arc::ptr_eq(&first, &load(&location).unwrap()));
        std::fs::write(&location.absolute, "[environments]\nnames = []\n").unwrap();
        assert_eq!(load(&location).unwrap().parsed.diagnostics.len(), 1);
    }

    #[test]
    fn a_missing_file_says_where_it_was_looked_for() {
        let dir = tempfile::tempdir().unwrap();
        let error = load(&locate(dir.path(), None)).err().unwrap();
        assert!(error.starts_with("cannot read flags.toml ("), "{error}");
    }
}
