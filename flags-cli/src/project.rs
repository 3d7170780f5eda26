//! Finding and reading `flags.toml`, with the crate around it.

use std::path::{Path, PathBuf};

use flags_model::{Catalog, Flag, Parsed, SourceFile};

use crate::Failure;

/// The file looked for when no path is given.
const FILE_NAME: &str = "flags.toml";

/// A `flags.toml` and the directory of the crate it belongs to.
#[derive(Debug)]
pub(crate) struct Project {
    /// The file, as shown in messages (relative to the working directory when it was found).
    pub(crate) file: SourceFile,
    /// The path it was read from.
    pub(crate) path: PathBuf,
    /// The directory holding it: the crate whose sources are scanned.
    pub(crate) dir: PathBuf,
}

impl Project {
    /// Reads `path`, or `./flags.toml`, or the nearest `flags.toml` in a parent directory.
    pub(crate) fn open(path: Option<&Path>) -> Result<Project, Failure> {
        let path = match path {
            Some(path) => path.to_path_buf(),
            None => find()?,
        };
        let text = flags_model::file::read_text(&path)
            .map_err(|error| Failure::Broken(format!("{} {error}", path.display())))?;
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok(Project {
            file: SourceFile::new(display(&path), text),
            path,
            dir,
        })
    }

    /// Reads flags.toml, keeping every problem.
    pub(crate) fn parse(&self) -> Parsed {
        flags_model::parse(&self.file)
    }

    /// The valid catalog, or every problem rendered with file, line and column.
    pub(crate) fn catalog(&self) -> Result<Catalog, Failure> {
        Catalog::parse(&self.file).map_err(|diagnostics| {
            let rendered: Vec<String> = diagnostics.iter().map(|d| d.render(&self.file)).collect();
            Failure::Refused(format!(
                "{} is not valid; fix it first (`flags check` lists every problem):\n\n{}",
                self.file.name(),
                rendered.join("\n\n")
            ))
        })
    }
}

/// A flag by key or accessor name, or an error with the closest name.
pub(crate) fn find_flag<'c>(
    catalog: &'c Catalog,
    project: &Project,
    name: &str,
) -> Result<(usize, &'c Flag), Failure> {
    catalog.find(name).ok_or_else(|| {
        Failure::Refused(format!(
            "{} in {}",
            catalog.unknown_flag_message(name),
            project.file.name()
        ))
    })
}

/// `./flags.toml`, else the nearest `flags.toml` above the working directory, as a path
/// relative to it (`../flags.toml`) so that messages stay short.
fn find() -> Result<PathBuf, Failure> {
    let here = std::env::current_dir()
        .map_err(|error| Failure::Broken(format!("cannot read the working directory: {error}")))?;
    let mut relative = PathBuf::new();
    for dir in here.ancestors() {
        if dir.join(FILE_NAME).is_file() {
            return Ok(relative.join(FILE_NAME));
        }
        relative.push("..");
    }
    Err(Failure::Broken(format!(
        "no {FILE_NAME} in {} or any parent directory; give its path with --file",
        here.display()
    )))
}

/// A path as shown in messages: without a leading `./`.
fn display(path: &Path) -> String {
    let path = path.strip_prefix(".").unwrap_or(path);
    path.display().to_string()
}
