//! Reading a `flags.toml` or an overrides file from disk, within bounds: only a regular file,
//! only up to [`MAX_FILE_SIZE`], and never waiting on a pipe or a device.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read as _};
use std::path::Path;

/// The largest file read as a `flags.toml` or an overrides file: 8 MiB, hundreds of times
/// what ten thousand flags take.
pub const MAX_FILE_SIZE: u64 = 8 * 1024 * 1024;

/// Why a file could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// Opening or reading it failed (it does not exist, permission denied...).
    Io(io::Error),
    /// It is not a regular file: a directory, a pipe, a socket or a device.
    NotAFile {
        /// What it is instead.
        kind: &'static str,
    },
    /// It is larger than [`MAX_FILE_SIZE`].
    TooLarge {
        /// Its size in bytes (at least), when known.
        size: u64,
    },
    /// It is not UTF-8 text.
    NotText {
        /// The offset of the first byte that is not UTF-8.
        at: usize,
    },
}

impl ReadError {
    /// Whether the file does not exist (a caller may treat that as "no file yet").
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(error) if error.kind() == io::ErrorKind::NotFound)
    }
}

impl ReadError {
    /// Why, as a phrase that follows "cannot read `path`: ".
    pub fn cause(&self) -> String {
        match self {
            ReadError::Io(error) => error.to_string(),
            ReadError::NotAFile { kind } => format!("it is {kind}, not a regular file"),
            ReadError::TooLarge { size } => format!(
                "it is {size} bytes, more than the {MAX_FILE_SIZE} (8 MiB) a flags file may have"
            ),
            ReadError::NotText { at } => format!("it is not UTF-8 text (byte {at})"),
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot be read: {}", self.cause())
    }
}

impl std::error::Error for ReadError {}

impl From<io::Error> for ReadError {
    fn from(error: io::Error) -> Self {
        ReadError::Io(error)
    }
}

/// The text of the file at `path`, read as [`read_bytes`] does.
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    let bytes = read_bytes(path)?;
    String::from_utf8(bytes).map_err(|error| ReadError::NotText {
        at: error.utf8_error().valid_up_to(),
    })
}

/// The contents of the file at `path`: refused unless it is a regular file (after following
/// symbolic links) of at most [`MAX_FILE_SIZE`] bytes. A pipe is opened without waiting for
/// a writer, so naming one fails at once instead of blocking.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, ReadError> {
    let file = open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(ReadError::NotAFile {
            kind: kind_of(&metadata.file_type()),
        });
    }
    if metadata.len() > MAX_FILE_SIZE {
        return Err(ReadError::TooLarge {
            size: metadata.len(),
        });
    }
    // The file may grow while it is read: never read more than the limit.
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

fn open(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // Opening a FIFO for reading otherwise waits for a writer; regular files read the
        // same either way.
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if file_type.is_fifo() {
            return "a named pipe";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_and_others_refused_at_once() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let file = dir.path().join("o.toml");
        std::fs::write(&file, "[flags.x]\nvalue = true\n").expect("written");
        assert_eq!(read_text(&file).expect("read"), "[flags.x]\nvalue = true\n");
        let error = read_text(dir.path()).expect_err("a directory");
        assert_eq!(
            error.to_string(),
            "cannot be read: it is a directory, not a regular file"
        );
        assert!(
            read_text(&dir.path().join("missing"))
                .unwrap_err()
                .is_not_found()
        );
        std::fs::write(&file, [b'a', 0xff]).expect("written");
        assert_eq!(
            read_text(&file).unwrap_err().to_string(),
            "cannot be read: it is not UTF-8 text (byte 1)"
        );
        let big = std::fs::File::create(&file).expect("created");
        big.set_len(MAX_FILE_SIZE + 1).expect("grown");
        assert!(matches!(read_text(&file), Err(ReadError::TooLarge { .. })));
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_pipes_are_refused_without_waiting() {
        let error = read_text(Path::new("/dev/zero")).expect_err("a device");
        assert_eq!(
            error.to_string(),
            "cannot be read: it is a device, not a regular file"
        );
        let dir = tempfile::tempdir().expect("a temporary directory");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(
            made.is_ok_and(|status| status.success()),
            "mkfifo made a pipe"
        );
        let error = read_text(&fifo).expect_err("a pipe");
        assert_eq!(
            error.to_string(),
            "cannot be read: it is a named pipe, not a regular file"
        );
    }
}
