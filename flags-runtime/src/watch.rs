//! Following the overrides file as it changes: file-system events on its directory when the
//! platform gives them, else polling, and in both cases a comparison of the file's contents
//! so that only a real change is read. With events, the file is also compared every few
//! seconds, so that a change whose event never came (a directory replaced whole, a file
//! system that does not report changes made elsewhere) still gets through, and the directory
//! is then watched again.

use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};

use crate::report::Report;
use crate::runtime::Runtime;
use crate::sources::panic_message;
use crate::sync::lock;

/// How [`Runtime::watch_overrides_with`] follows the file.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    debounce: Duration,
    poll_interval: Duration,
    poll: bool,
    resync: Duration,
}

impl Default for WatchOptions {
    /// Events with a 50 ms debounce, and a comparison every 5 s besides; polling every
    /// 500 ms when events are not available.
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(50),
            poll_interval: Duration::from_millis(500),
            poll: false,
            resync: Duration::from_secs(5),
        }
    }
}

impl WatchOptions {
    /// How long the directory must be quiet after an event before the file is read: a deploy
    /// tool that writes several files, or an editor that saves in steps, causes one read.
    pub fn debounce(mut self, quiet: Duration) -> Self {
        self.debounce = quiet;
        self
    }

    /// How often to look at the file when polling.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Polls even where file-system events are available: for network and container file
    /// systems that do not report changes made elsewhere.
    pub fn polling(mut self) -> Self {
        self.poll = true;
        self
    }

    /// How often to compare the file when no event comes, while following events. An event
    /// is lost when the file's directory is replaced whole (the watch ends with it), or on a
    /// file system that does not report changes made elsewhere; a change found this way is
    /// read, and the directory is watched again.
    pub fn resync_every(mut self, interval: Duration) -> Self {
        self.resync = interval;
        self
    }
}

/// Why the overrides file cannot be watched.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WatchError {
    /// The variable that names the overrides file is unset or empty.
    NoOverridesFile {
        /// The variable (`FLAGS_OVERRIDES`).
        variable: String,
    },
    /// The watching thread could not be started.
    Thread(String),
}

impl fmt::Display for WatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatchError::NoOverridesFile { variable } => write!(
                f,
                "no overrides file to watch: {variable} is not set; set it to the file's path"
            ),
            WatchError::Thread(error) => write!(f, "cannot start the watching thread: {error}"),
        }
    }
}

impl std::error::Error for WatchError {}

/// Follows the overrides file until dropped. Made by [`Runtime::watch_overrides`].
pub struct OverridesWatch {
    path: PathBuf,
    polling: Option<String>,
    status: Arc<Mutex<Status>>,
    stop: mpsc::Sender<Wake>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Status {
    reloads: u64,
    rewatched: u64,
    last_report: Option<Report>,
    last_error: Option<String>,
}

enum Wake {
    Changed,
    Stop,
}

impl OverridesWatch {
    /// The file followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Why the file is polled rather than followed by events (asked for, or why events
    /// could not be had); `None` when events are used.
    pub fn polling(&self) -> Option<&str> {
        self.polling.as_deref()
    }

    /// How many times the file has been read since watching began, counting the first read.
    pub fn reloads(&self) -> u64 {
        lock(&self.status).reloads
    }

    /// The report after the last read: the configuration's problems, among them the file's,
    /// with file, line and reason, when it was rejected.
    pub fn last_report(&self) -> Option<Report> {
        lock(&self.status).last_report.clone()
    }

    /// How many times the file's directory has been watched again, after a change was found
    /// without its event or the file went missing (its directory replaced whole, say).
    pub fn rewatched(&self) -> u64 {
        lock(&self.status).rewatched
    }

    /// What last went wrong inside the watching thread itself (a bug, not a bad file: a bad
    /// file is in [`OverridesWatch::last_report`]), also logged as a `tracing` error. The
    /// thread keeps following the file.
    pub fn last_error(&self) -> Option<String> {
        lock(&self.status).last_error.clone()
    }
}

impl Drop for OverridesWatch {
    fn drop(&mut self) {
        let _ = self.stop.send(Wake::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for OverridesWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OverridesWatch")
            .field("path", &self.path)
            .field("polling", &self.polling)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Follows the overrides file named by `FLAGS_OVERRIDES` (the variable `flags.toml`'s
    /// `[overrides]` names), re-reading it alone whenever it changes, until the returned
    /// handle is dropped. See [`Runtime::watch_overrides_with`].
    pub fn watch_overrides(&'static self) -> Result<OverridesWatch, WatchError> {
        self.watch_overrides_with(WatchOptions::default())
    }

    /// Follows the overrides file as `options` say.
    ///
    /// The file's directory is watched, not the file, so that a file replaced by rename (as
    /// editors, `flags set` and deploy tools do) is followed too. After an event and a quiet
    /// debounce, or at each poll, the file is compared with what was last read (time, size
    /// and a hash of its contents) and read only when it differs. A file that does not parse
    /// or validate is rejected whole, reported (a `tracing` warning, the runtime's
    /// [`Runtime::report`] and [`OverridesWatch::last_report`]) with file, line and reason,
    /// and its last good contents stay. Where events cannot be had, the file is polled.
    pub fn watch_overrides_with(
        &'static self,
        options: WatchOptions,
    ) -> Result<OverridesWatch, WatchError> {
        let path = self
            .overrides_file()
            .ok_or_else(|| WatchError::NoOverridesFile {
                variable: self.catalog().overrides().file_variable().to_owned(),
            })?;
        let (wake, woken) = mpsc::channel();
        let (watcher, polling) = if options.poll {
            (None, Some("polling was asked for".to_owned()))
        } else {
            match watch_directory(&path, wake.clone()) {
                Ok(watcher) => (Some(watcher), None),
                Err(error) => {
                    let reason = format!("file-system events are not available: {error}");
                    tracing::warn!(path = %path.display(), "polling the overrides file: {reason}");
                    (None, Some(reason))
                }
            }
        };
        let status = Arc::new(Mutex::new(Status::default()));
        let mode = match watcher {
            Some(watcher) => Mode::Events {
                watcher: Some(watcher),
                wake: wake.clone(),
                resync: options.resync,
            },
            None => Mode::Polling(options.poll_interval),
        };
        let mut follower = Follower {
            runtime: self,
            path: path.clone(),
            mode,
            debounce: options.debounce,
            status: Arc::clone(&status),
        };
        // Read once now: the file may have changed since the runtime last read it.
        let seen = follower.read();
        let thread = std::thread::Builder::new()
            .name("flags-watch-overrides".into())
            .spawn(move || follower.run(&woken, seen))
            .map_err(|error| WatchError::Thread(error.to_string()))?;
        Ok(OverridesWatch {
            path,
            polling,
            status,
            stop: wake,
            thread: Some(thread),
        })
    }
}

/// Watches the directory of `path`; every event in it wakes the follower, which then compares
/// the file (a name filter would miss a symbolic link swapped to a new target).
fn watch_directory(path: &Path, wake: mpsc::Sender<Wake>) -> notify::Result<RecommendedWatcher> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut watcher = notify::recommended_watcher(move |_event: notify::Result<notify::Event>| {
        let _ = wake.send(Wake::Changed);
    })?;
    watcher.watch(&directory, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

/// The thread that reads the file when it changes.
struct Follower {
    runtime: &'static Runtime,
    path: PathBuf,
    mode: Mode,
    debounce: Duration,
    status: Arc<Mutex<Status>>,
}

/// How the follower hears of changes.
enum Mode {
    /// File-system events on the directory, and a comparison every `resync` besides. The
    /// watcher lives in the thread, which makes it again when the watch is lost (`None`
    /// while its directory cannot be watched).
    Events {
        watcher: Option<RecommendedWatcher>,
        wake: mpsc::Sender<Wake>,
        resync: Duration,
    },
    /// A comparison at every interval.
    Polling(Duration),
}

impl Follower {
    fn run(&mut self, woken: &mpsc::Receiver<Wake>, mut seen: Option<Fingerprint>) {
        loop {
            let interval = match &self.mode {
                Mode::Events { resync, .. } => *resync,
                Mode::Polling(interval) => *interval,
            };
            let evented = match woken.recv_timeout(interval) {
                Ok(Wake::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Wake::Changed) => {
                    if !self.quiet(woken) {
                        return;
                    }
                    true
                }
                Err(RecvTimeoutError::Timeout) => false,
            };
            // Whatever goes wrong in one look, the next change is still followed.
            let looked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let now = Fingerprint::of(&self.path);
                let changed = now != seen;
                // A change no event told of, or a file gone with its directory perhaps: the
                // watch may have ended, so it is made again.
                if (changed && !evented) || now.is_none() {
                    self.rewatch();
                }
                if changed { self.read() } else { now }
            }));
            match looked {
                Ok(fingerprint) => seen = fingerprint,
                Err(payload) => {
                    let message = panic_message(&*payload);
                    tracing::error!(
                        path = %self.path.display(),
                        "following the overrides file failed: {message}; it is still followed"
                    );
                    lock(&self.status).last_error = Some(message);
                }
            }
        }
    }

    /// Watches the file's directory again, when following events.
    fn rewatch(&mut self) {
        let Mode::Events { watcher, wake, .. } = &mut self.mode else {
            return;
        };
        // The old watch first: its directory may be the one being watched again.
        *watcher = None;
        match watch_directory(&self.path, wake.clone()) {
            Ok(made) => {
                *watcher = Some(made);
                lock(&self.status).rewatched += 1;
            }
            // The directory is not there (yet): the next comparison tries again.
            Err(error) => tracing::debug!(
                path = %self.path.display(),
                "the overrides file's directory cannot be watched yet: {error}"
            ),
        }
    }

    /// Waits until no event has come for the debounce time; false when told to stop.
    fn quiet(&self, woken: &mpsc::Receiver<Wake>) -> bool {
        loop {
            match woken.recv_timeout(self.debounce) {
                Ok(Wake::Changed) => {}
                Ok(Wake::Stop) | Err(RecvTimeoutError::Disconnected) => return false,
                Err(RecvTimeoutError::Timeout) => return true,
            }
        }
    }

    /// Reads the file into the runtime; returns the fingerprint taken just before, so that a
    /// change made during the read is seen at the next look.
    fn read(&self) -> Option<Fingerprint> {
        let fingerprint = Fingerprint::of(&self.path);
        let report = self.runtime.reload_overrides_file();
        let mut status = lock(&self.status);
        status.reloads += 1;
        status.last_report = Some(report);
        fingerprint
    }
}

/// What tells one version of the file from another: its modification time and size, and a
/// hash of its contents for a change within the same second and size.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fingerprint {
    modified: Option<SystemTime>,
    len: u64,
    hash: u64,
}

impl Fingerprint {
    /// `None` when the file cannot be read.
    fn of(path: &Path) -> Option<Fingerprint> {
        // Bounded as the read itself is: a pipe or a device named as the file never blocks.
        let contents = flags_model::file::read_bytes(path).ok()?;
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let mut hasher = DefaultHasher::new();
        contents.hash(&mut hasher);
        Some(Fingerprint {
            modified,
            len: contents.len() as u64,
            hash: hasher.finish(),
        })
    }
}
