//! A Redis store of overrides and segment memberships that every process of a fleet follows
//! (the `redis` feature).
//!
//! Writers ([`RedisStore`]: the `flags` command, an application's admin or webhook handler)
//! check every change against `flags.toml` before they write it, then write it, count a new
//! version and announce it in one transaction. Readers ([`Runtime::follow_redis`]) re-read
//! the whole environment on each announcement, on every (re)connection and every few seconds,
//! and swap in the result only once all of it is read and checked. `docs/operations.md`
//! documents the key layout and what happens on each fault.
//!
//! Keys, for the environment `{env}` (layout version 1):
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `flags:v1:{env}:overrides` | hash | flag key → the flag's override, as an overrides file writes it |
//! | `flags:v1:{env}:segment:{name}:added` | set | context keys added to segment `{name}` |
//! | `flags:v1:{env}:segment:{name}:removed` | set | context keys removed from it |
//! | `flags:v1:{env}:version` | integer | counts the writes |
//! | `flags:v1:{env}:changes` | channel | the new version, after each write |

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flags_model::{Catalog, Input, Setting, SourceFile, Value, naming, parse_overrides};
use redis::{Client, Connection, FromRedisValue, RedisError};

use crate::live::SourceHandle;
use crate::report::{OverrideError, Problem, SegmentError};
use crate::runtime::{Runtime, lock};
use crate::sources::{Layer, Loaded, Origin, Source, Vars, check_value, find_flag, segment_index};

/// The first part of every key: the toolkit's name and the layout's version. A layout that
/// changes incompatibly gets a new version, so that old and new processes can run side by
/// side during a rolling upgrade.
pub const KEY_PREFIX: &str = "flags:v1";

/// The keys and the channel of one environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    environment: String,
}

impl Keys {
    /// The keys of `environment`.
    pub fn new(environment: &str) -> Self {
        Self {
            environment: environment.to_owned(),
        }
    }

    /// The hash of overrides: flag key → the override's TOML text.
    pub fn overrides(&self) -> String {
        format!("{KEY_PREFIX}:{}:overrides", self.environment)
    }

    /// The set of context keys added to `segment`.
    pub fn segment_added(&self, segment: &str) -> String {
        format!("{KEY_PREFIX}:{}:segment:{segment}:added", self.environment)
    }

    /// The set of context keys removed from `segment`.
    pub fn segment_removed(&self, segment: &str) -> String {
        format!(
            "{KEY_PREFIX}:{}:segment:{segment}:removed",
            self.environment
        )
    }

    /// The counter of writes.
    pub fn version(&self) -> String {
        format!("{KEY_PREFIX}:{}:version", self.environment)
    }

    /// The channel each write is announced on.
    pub fn channel(&self) -> String {
        format!("{KEY_PREFIX}:{}:changes", self.environment)
    }
}

/// Why a store operation was refused or failed. A refused change writes nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The environment is not one `flags.toml` declares.
    UnknownEnvironment {
        /// The name given.
        name: String,
        /// The environments `flags.toml` declares.
        allowed: Vec<String>,
    },
    /// An unknown flag, or a value that does not fit the flag's type.
    Override(OverrideError),
    /// An unknown segment.
    Segment(SegmentError),
    /// An override's TOML text is not valid for the flag.
    InvalidEntry {
        /// The flag's key.
        flag: String,
        /// What is wrong, with the line.
        message: String,
    },
    /// The URL is not a Redis URL, or Redis could not be reached or refused the command.
    Redis {
        /// The server (without credentials).
        server: String,
        /// What went wrong.
        message: String,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::UnknownEnvironment { name, allowed } => write!(
                f,
                "`{name}` is not an environment declared in flags.toml; expected one of: {}{}",
                allowed.join(", "),
                naming::did_you_mean(name, allowed.iter().map(String::as_str))
            ),
            StoreError::Override(error) => error.fmt(f),
            StoreError::Segment(error) => error.fmt(f),
            StoreError::InvalidEntry { flag, message } => {
                write!(f, "invalid override of flag `{flag}`: {message}")
            }
            StoreError::Redis { server, message } => write!(f, "Redis at {server}: {message}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<OverrideError> for StoreError {
    fn from(error: OverrideError) -> Self {
        StoreError::Override(error)
    }
}

impl From<SegmentError> for StoreError {
    fn from(error: SegmentError) -> Self {
        StoreError::Segment(error)
    }
}

/// The override of one flag as the store holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredOverride {
    /// The hash field: the flag's key, as written (by another tool, perhaps not a flag).
    pub flag: String,
    /// The entry's TOML text.
    pub text: String,
    /// What it sets in the environment, or why it is skipped.
    pub setting: Result<Setting, String>,
}

impl StoredOverride {
    /// Reads one field of the overrides hash as every follower reads it: the field is the
    /// flag's key, the value the flag's table as an overrides file writes it. Never fails:
    /// an entry that cannot be used (not UTF-8, an undeclared flag, invalid TOML, a value
    /// of the wrong type, nothing for `environment`) has the reason in `setting`.
    pub fn read(catalog: &Catalog, environment: usize, field: &[u8], value: &[u8]) -> Self {
        let (flag, text) = decode_entry(field.to_vec(), value.to_vec());
        Self::checked(catalog, environment, flag, text)
    }

    fn checked(
        catalog: &Catalog,
        environment: usize,
        flag: String,
        text: Result<String, String>,
    ) -> Self {
        let setting = text
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|text| read_entry(catalog, environment, &flag, text));
        StoredOverride {
            text: text.unwrap_or_default(),
            flag,
            setting,
        }
    }
}

/// One segment's memberships as the store holds them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredSegment {
    /// The segment's name.
    pub name: String,
    /// Context keys added to it, sorted.
    pub added: Vec<String>,
    /// Context keys removed from it, sorted.
    pub removed: Vec<String>,
}

/// Everything the store holds for one environment, read in one transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreContents {
    /// The number of writes so far (0 for an empty store).
    pub version: u64,
    /// The overrides, by flag key.
    pub overrides: Vec<StoredOverride>,
    /// Every segment `flags.toml` declares, with its memberships.
    pub segments: Vec<StoredSegment>,
}

/// Reads and writes the store of one environment, checking every change against the flags
/// of `flags.toml` first.
pub struct RedisStore {
    catalog: Catalog,
    environment: usize,
    keys: Keys,
    server: String,
    connection: Connection,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("server", &self.server)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// How long to wait for Redis to accept a connection or answer a command.
const NETWORK_TIMEOUT: Duration = Duration::from_secs(2);

impl RedisStore {
    /// Connects to the Redis at `url` (`redis://host:port/db`, `rediss://` for TLS is not
    /// built in) for `environment` of `catalog`.
    pub fn connect(url: &str, catalog: &Catalog, environment: &str) -> Result<Self, StoreError> {
        let environment_index = environment_position(catalog, environment)?;
        let (client, server) = open(url)?;
        let connection = client
            .get_connection_with_timeout(NETWORK_TIMEOUT)
            .and_then(|connection| {
                connection.set_read_timeout(Some(NETWORK_TIMEOUT))?;
                connection.set_write_timeout(Some(NETWORK_TIMEOUT))?;
                Ok(connection)
            })
            .map_err(|error| redis_error(&server, &error))?;
        Ok(Self {
            catalog: catalog.clone(),
            environment: environment_index,
            keys: Keys::new(environment),
            server,
            connection,
        })
    }

    /// The keys of this store's environment.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The server, without credentials: `127.0.0.1:6379`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Overrides flag `flag` (key or accessor) with `value`, read as the flag's type the way
    /// an environment variable is (`true`, `42`, a variant's name); returns the new version.
    pub fn set(&mut self, flag: &str, value: &str) -> Result<u64, StoreError> {
        let (index, value) = self.checked_value(flag, value)?;
        let key = self.flag_key(index);
        let text = format!("[flags.{key:?}]\nvalue = {}\n", value.to_toml());
        self.write_entry(index, &text)
    }

    /// Overrides flag `flag` with `text`, the flag's table as an overrides file writes it
    /// (`[flags.<name>]` with `value = ...`, or targeting rules under `value`); it must set the
    /// flag in this environment and nothing else. Returns the new version.
    pub fn set_entry(&mut self, flag: &str, text: &str) -> Result<u64, StoreError> {
        let (index, _) = find_flag(&self.catalog, flag)?;
        self.write_entry(index, text)
    }

    /// The value `flag` would be set to by [`RedisStore::set`], checked; nothing is written.
    pub fn checked_value(&self, flag: &str, value: &str) -> Result<(usize, Value), StoreError> {
        Ok(check_value(
            &self.catalog,
            flag,
            Input::Text(value.to_owned()),
        )?)
    }

    fn write_entry(&mut self, index: usize, text: &str) -> Result<u64, StoreError> {
        let key = self.flag_key(index);
        read_entry(&self.catalog, self.environment, &key, text).map_err(|message| {
            StoreError::InvalidEntry {
                flag: key.clone(),
                message,
            }
        })?;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset(self.keys.overrides(), &key, text)
            .ignore();
        self.commit(pipe)
    }

    /// Removes the override of `flag` (also of a name `flags.toml` no longer declares);
    /// returns whether there was one, and the version.
    pub fn unset(&mut self, flag: &str) -> Result<(bool, u64), StoreError> {
        let key = match self.catalog.find(flag) {
            Some((index, _)) => self.flag_key(index),
            None => flag.to_owned(),
        };
        // Nothing to remove: no write, no version, no announcement.
        let (exists, version): (bool, Option<u64>) = redis::pipe()
            .hexists(self.keys.overrides(), &key)
            .get(self.keys.version())
            .query(&mut self.connection)
            .map_err(|error| redis_error(&self.server, &error))?;
        if !exists {
            return Ok((false, version.unwrap_or(0)));
        }
        let mut pipe = redis::pipe();
        pipe.atomic().hdel(self.keys.overrides(), &key);
        let (removed, version) = self.commit_counted(pipe)?;
        Ok((removed > 0, version))
    }

    /// Adds the context key `key` to `segment` for every process; returns the new version.
    pub fn segment_add(&mut self, segment: &str, key: &str) -> Result<u64, StoreError> {
        let (to, from) = (
            self.keys.segment_added(segment),
            self.keys.segment_removed(segment),
        );
        self.move_member(segment, key, to, from)
    }

    /// Removes the context key `key` from `segment` (also a key `flags.toml` lists) for every
    /// process; returns the new version.
    pub fn segment_remove(&mut self, segment: &str, key: &str) -> Result<u64, StoreError> {
        let (to, from) = (
            self.keys.segment_removed(segment),
            self.keys.segment_added(segment),
        );
        self.move_member(segment, key, to, from)
    }

    /// Puts `key` in the set `to` and takes it out of `from`, for a declared `segment`.
    fn move_member(
        &mut self,
        segment: &str,
        key: &str,
        to: String,
        from: String,
    ) -> Result<u64, StoreError> {
        segment_index(&self.catalog, segment)?;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .sadd(to, key)
            .ignore()
            .srem(from, key)
            .ignore();
        self.commit(pipe)
    }

    /// Everything the store holds for the environment, each override checked as a reader
    /// would check it.
    pub fn list(&mut self) -> Result<StoreContents, StoreError> {
        let fetched = fetch(&mut self.connection, &self.keys, &self.catalog)
            .map_err(|error| redis_error(&self.server, &error))?;
        Ok(fetched.contents(&self.catalog, self.environment))
    }

    /// Runs `pipe` (a MULTI/EXEC transaction whose results are ignored) with the version's
    /// increment and the announcement; returns the new version.
    fn commit(&mut self, pipe: redis::Pipeline) -> Result<u64, StoreError> {
        self.commit_counted(pipe).map(|(_, version)| version)
    }

    /// Like [`RedisStore::commit`] for a transaction that leaves one count as its result:
    /// returns it and the new version.
    fn commit_counted(&mut self, mut pipe: redis::Pipeline) -> Result<(u64, u64), StoreError> {
        pipe.incr(self.keys.version(), 1u64);
        // The announcement carries nothing a reader needs: it re-reads everything.
        pipe.publish(self.keys.channel(), "changed").ignore();
        let results: Vec<redis::Value> = pipe
            .query(&mut self.connection)
            .map_err(|error| redis_error(&self.server, &error))?;
        let numbers: Vec<u64> = results
            .into_iter()
            .map(u64::from_redis_value)
            .collect::<Result<_, _>>()
            .map_err(|error| StoreError::Redis {
                server: self.server.clone(),
                message: format!("unexpected answer: {error}"),
            })?;
        match numbers.as_slice() {
            [version] => Ok((0, *version)),
            [count, version] => Ok((*count, *version)),
            _ => Err(StoreError::Redis {
                server: self.server.clone(),
                message: format!("unexpected answer: {numbers:?}"),
            }),
        }
    }

    fn flag_key(&self, index: usize) -> String {
        self.catalog
            .flags()
            .get(index)
            .map_or_else(String::new, |flag| flag.key().to_owned())
    }
}

fn environment_position(catalog: &Catalog, environment: &str) -> Result<usize, StoreError> {
    let environments = catalog.environments();
    environments
        .position(environment)
        .ok_or_else(|| StoreError::UnknownEnvironment {
            name: environment.to_owned(),
            allowed: environments.names().to_vec(),
        })
}

/// A client for `url`, and the server it names without credentials.
fn open(url: &str) -> Result<(Client, String), StoreError> {
    let client = Client::open(url).map_err(|error| StoreError::Redis {
        server: redact(url),
        message: format!("not a Redis URL (redis://host:port/db): {error}"),
    })?;
    let server = client.get_connection_info().addr().to_string();
    Ok((client, server))
}

/// `url` without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

fn redis_error(server: &str, error: &RedisError) -> StoreError {
    StoreError::Redis {
        server: server.to_owned(),
        message: error.to_string(),
    }
}

/// An override's text checked for flag `key` in `environment`: what it sets there.
fn read_entry(
    catalog: &Catalog,
    environment: usize,
    key: &str,
    text: &str,
) -> Result<Setting, String> {
    let Some((index, flag)) = catalog.find(key) else {
        return Err(catalog.unknown_flag_message(key));
    };
    let file = SourceFile::new(format!("entry `{key}`"), text);
    let overrides = parse_overrides(catalog, &file).map_err(|diagnostics| {
        diagnostics
            .iter()
            .map(|d| d.render(&file))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    if !overrides.segments().is_empty() || overrides.entries().iter().any(|e| e.flag != index) {
        return Err(format!(
            "an entry may override only its own flag, `{}`",
            flag.key()
        ));
    }
    match overrides.setting_for(index, Some(environment)) {
        Some(entry) => Ok(entry.setting.clone()),
        None => Err(format!(
            "it sets nothing in `{}`: write `[flags.{:?}]` with `value = ...`",
            catalog.environments().names()[environment],
            flag.key()
        )),
    }
}

/// A field of the overrides hash and its value as text; a value that is not UTF-8 is kept
/// as the reason it cannot be read.
fn decode_entry(field: Vec<u8>, value: Vec<u8>) -> (String, Result<String, String>) {
    let field = String::from_utf8_lossy(&field).into_owned();
    let value = String::from_utf8(value).map_err(|_| "it is not UTF-8 text".to_owned());
    (field, value)
}

/// What one read of the store returned, as Redis gave it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Fetched {
    version: u64,
    overrides: Vec<(String, Result<String, String>)>,
    /// Per segment of the catalog: (added, removed), sorted.
    segments: Vec<(Vec<String>, Vec<String>)>,
}

/// Reads the whole environment in one MULTI/EXEC, so that no write lands halfway through.
fn fetch(
    connection: &mut Connection,
    keys: &Keys,
    catalog: &Catalog,
) -> redis::RedisResult<Fetched> {
    let mut pipe = redis::pipe();
    pipe.atomic().get(keys.version()).hgetall(keys.overrides());
    for segment in catalog.segments() {
        pipe.smembers(keys.segment_added(&segment.name))
            .smembers(keys.segment_removed(&segment.name));
    }
    let results: Vec<redis::Value> = pipe.query(connection)?;
    let parse_error = RedisError::from;
    let mut results = results.into_iter();
    let mut next = || results.next().unwrap_or(redis::Value::Nil);
    let version = Option::<u64>::from_redis_value(next()).map_err(parse_error)?;
    let mut overrides: Vec<(String, Result<String, String>)> =
        Vec::<(Vec<u8>, Vec<u8>)>::from_redis_value(next())
            .map_err(parse_error)?
            .into_iter()
            .map(|(field, text)| decode_entry(field, text))
            .collect();
    overrides.sort_by(|a, b| a.0.cmp(&b.0));
    let mut segments = Vec::with_capacity(catalog.segments().len());
    for _ in catalog.segments() {
        let mut added = Vec::<String>::from_redis_value(next()).map_err(parse_error)?;
        let mut removed = Vec::<String>::from_redis_value(next()).map_err(parse_error)?;
        added.sort();
        removed.sort();
        segments.push((added, removed));
    }
    Ok(Fetched {
        version: version.unwrap_or(0),
        overrides,
        segments,
    })
}

impl Fetched {
    fn contents(&self, catalog: &Catalog, environment: usize) -> StoreContents {
        StoreContents {
            version: self.version,
            overrides: self
                .overrides
                .iter()
                .map(|(flag, text)| {
                    StoredOverride::checked(catalog, environment, flag.clone(), text.clone())
                })
                .collect(),
            segments: catalog
                .segments()
                .iter()
                .zip(&self.segments)
                .map(|(segment, (added, removed))| StoredSegment {
                    name: segment.name.clone(),
                    added: added.clone(),
                    removed: removed.clone(),
                })
                .collect(),
        }
    }

    /// The layer a runtime takes: every valid override and membership; each invalid entry
    /// rejected alone, naming its key and flag.
    fn loaded(&self, catalog: &Catalog, environment: usize, keys: &Keys, store: &str) -> Loaded {
        let mut layer = Layer::new(catalog.flags().len());
        let mut rejected = Vec::new();
        let contents = self.contents(catalog, environment);
        for entry in contents.overrides {
            let location = format!("{} field `{}`", keys.overrides(), entry.flag);
            let index = catalog.find(&entry.flag).map(|(index, _)| index);
            match entry.setting {
                Ok(setting) => {
                    let origin = Origin::Store {
                        store: store.to_owned(),
                        entry: location,
                    };
                    if let Some(index) = index {
                        layer.set_setting(index, setting, origin);
                    }
                }
                Err(message) => rejected.push((
                    index,
                    Problem::new(
                        format!("{store}, {location}"),
                        Some(&entry.flag),
                        format!("entry skipped: {message}"),
                    ),
                )),
            }
        }
        for segment in contents.segments {
            for key in &segment.added {
                let _ = layer.add_to_segment(catalog, &segment.name, key);
            }
            for key in &segment.removed {
                let _ = layer.remove_from_segment(catalog, &segment.name, key);
            }
        }
        Loaded::Values { layer, rejected }
    }
}

/// How a runtime follows a Redis store.
#[derive(Clone, Debug)]
pub struct RedisOptions {
    url: String,
    environment: Option<String>,
    resync: Duration,
    max_backoff: Duration,
}

impl RedisOptions {
    /// Follows the Redis at `url` for the runtime's environment, re-reading every 5 s besides
    /// each announced change, and retrying a lost connection after 100 ms, doubling up to 2 s.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            environment: None,
            resync: Duration::from_secs(5),
            max_backoff: Duration::from_secs(2),
        }
    }

    /// Follows `environment`'s keys rather than those of the runtime's environment.
    pub fn environment(mut self, environment: &str) -> Self {
        self.environment = Some(environment.to_owned());
        self
    }

    /// How often to re-read the store when no change is announced (an announcement is lost
    /// when it is published while this process is reconnecting).
    pub fn resync_every(mut self, interval: Duration) -> Self {
        self.resync = interval;
        self
    }

    /// The longest wait between two connection attempts.
    pub fn max_backoff(mut self, wait: Duration) -> Self {
        self.max_backoff = wait;
        self
    }
}

/// What a follower has done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FollowStatus {
    /// Whether it is connected now.
    pub connected: bool,
    /// The store's version last read (0 before the first read).
    pub version: u64,
    /// How many times a read changed what the runtime uses.
    pub applied: u64,
    /// The last connection error, until a connection succeeds.
    pub error: Option<String>,
}

/// Follows a Redis store until dropped (then the last values read stay in force). Made by
/// [`Runtime::follow_redis`].
pub struct RedisFollower {
    server: String,
    stop: Arc<AtomicBool>,
    status: Arc<Mutex<FollowStatus>>,
    thread: Option<JoinHandle<()>>,
}

impl RedisFollower {
    /// The server followed, without credentials.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// What the follower has done so far.
    pub fn status(&self) -> FollowStatus {
        lock(&self.status).clone()
    }

    /// Waits up to `timeout` for the first complete read of the store; true once there has
    /// been one. For a process that prefers to start with the fleet's values: it never has to.
    pub fn wait_until_synced(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if lock(&self.status).applied > 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for RedisFollower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for RedisFollower {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisFollower")
            .field("server", &self.server)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Follows the Redis store at `options`' URL: its overrides rank below environment
    /// variables and above the overrides file (see [`Runtime::add_source`]).
    ///
    /// A thread of its own subscribes to the environment's channel and reads the whole store
    /// on each announced change, on each (re)connection and periodically; the runtime swaps
    /// in a read only once all of it is read and checked. An entry that is not valid for its
    /// flag (written around [`RedisStore`], with `redis-cli` say) is skipped and reported
    /// with its key and flag; the other entries apply. While Redis cannot be reached, the
    /// last values read stay in force (none, at start-up: the compiled values, the overrides
    /// file and environment variables serve), the problem is in [`Runtime::report`], and the
    /// thread reconnects with a growing wait. A flag check never waits on the network.
    ///
    /// Refused only for a URL that is not a Redis URL or an unknown environment (or none:
    /// when the runtime has no environment, name one with [`RedisOptions::environment`]).
    pub fn follow_redis(&'static self, options: RedisOptions) -> Result<RedisFollower, StoreError> {
        let catalog = self.catalog();
        let environment = match options.environment.as_deref().or(self.environment()) {
            Some(name) => name.to_owned(),
            None => {
                return Err(StoreError::UnknownEnvironment {
                    name: String::new(),
                    allowed: catalog.environments().names().to_vec(),
                });
            }
        };
        let environment_index = environment_position(catalog, &environment)?;
        let (client, server) = open(&options.url)?;
        let latest = Arc::new(Mutex::new(Loaded::Values {
            layer: Layer::new(catalog.flags().len()),
            rejected: Vec::new(),
        }));
        let source = self.add_source(StoreSource {
            latest: Arc::clone(&latest),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let status = Arc::new(Mutex::new(FollowStatus::default()));
        let subscriber = Subscriber {
            client,
            name: format!("redis {server}"),
            catalog,
            environment: environment_index,
            keys: Keys::new(&environment),
            options,
            latest,
            source,
            stop: Arc::clone(&stop),
            status: Arc::clone(&status),
            applied: None,
        };
        let thread = std::thread::Builder::new()
            .name("flags-follow-redis".into())
            .spawn(move || subscriber.run())
            .map_err(|error| StoreError::Redis {
                server: server.clone(),
                message: format!("cannot start the following thread: {error}"),
            })?;
        Ok(RedisFollower {
            server,
            stop,
            status,
            thread: Some(thread),
        })
    }
}

/// The runtime's side: the last complete read, handed over by the subscriber thread. Loading
/// it takes no I/O.
struct StoreSource {
    latest: Arc<Mutex<Loaded>>,
}

impl Source for StoreSource {
    fn load(&self, _catalog: &Catalog, _environment: Option<usize>, _vars: &dyn Vars) -> Loaded {
        lock(&self.latest).clone()
    }
}

/// How long a blocking read waits before the thread looks at its stop flag and the clock.
const TICK: Duration = Duration::from_millis(100);
/// The first wait before reconnecting.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// The thread that follows the store.
struct Subscriber {
    client: Client,
    name: String,
    catalog: &'static Catalog,
    environment: usize,
    keys: Keys,
    options: RedisOptions,
    latest: Arc<Mutex<Loaded>>,
    source: SourceHandle,
    stop: Arc<AtomicBool>,
    status: Arc<Mutex<FollowStatus>>,
    /// What was last handed to the runtime.
    applied: Option<Fetched>,
}

impl Subscriber {
    fn run(mut self) {
        let mut backoff = FIRST_BACKOFF;
        while !self.stopped() {
            let Err(error) = self.session() else {
                return;
            };
            if std::mem::replace(&mut lock(&self.status).connected, false) {
                backoff = FIRST_BACKOFF;
            }
            lock(&self.status).error = Some(error.to_string());
            if !matches!(*lock(&self.latest), Loaded::Failed(_)) {
                // Once per outage: the values last read stay in force meanwhile.
                let message = format!(
                    "cannot read the store: {error}; retrying every {} ms at most",
                    self.options.max_backoff.as_millis()
                );
                *lock(&self.latest) = Loaded::Failed(vec![Problem::new(&self.name, None, message)]);
                self.source.reload();
            }
            self.sleep(backoff);
            backoff = (backoff * 2).min(self.options.max_backoff);
        }
    }

    /// One connection: subscribe, read everything, then read again on each announcement and
    /// periodically. Returns when stopped, or with the error that ended the connection.
    fn session(&mut self) -> redis::RedisResult<()> {
        let mut subscription = self.client.get_connection_with_timeout(NETWORK_TIMEOUT)?;
        let mut connection = self.client.get_connection_with_timeout(NETWORK_TIMEOUT)?;
        connection.set_read_timeout(Some(NETWORK_TIMEOUT))?;
        connection.set_write_timeout(Some(NETWORK_TIMEOUT))?;
        let mut pubsub = subscription.as_pubsub();
        pubsub.set_read_timeout(Some(TICK))?;
        // Subscribe before reading, so that no change falls between the two.
        pubsub.subscribe(self.keys.channel())?;
        self.sync(&mut connection)?;
        {
            let mut status = lock(&self.status);
            status.connected = true;
            status.error = None;
        }
        let mut resync_at = Instant::now() + self.options.resync;
        loop {
            if self.stopped() {
                return Ok(());
            }
            match pubsub.get_message() {
                Ok(_) => {
                    self.sync(&mut connection)?;
                    resync_at = Instant::now() + self.options.resync;
                }
                Err(error) if error.is_timeout() => {}
                Err(error) => return Err(error),
            }
            if Instant::now() >= resync_at {
                self.sync(&mut connection)?;
                resync_at = Instant::now() + self.options.resync;
            }
        }
    }

    /// Reads the whole store and hands it to the runtime when it differs from the last read.
    fn sync(&mut self, connection: &mut Connection) -> redis::RedisResult<()> {
        let fetched = fetch(connection, &self.keys, self.catalog)?;
        let recovering = matches!(*lock(&self.latest), Loaded::Failed(_));
        if self.applied.as_ref() == Some(&fetched) && !recovering {
            return Ok(());
        }
        let loaded = fetched.loaded(self.catalog, self.environment, &self.keys, &self.name);
        *lock(&self.latest) = loaded;
        self.source.reload();
        let mut status = lock(&self.status);
        status.version = fetched.version;
        status.applied += 1;
        self.applied = Some(fetched);
        Ok(())
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps `wait`, waking early when stopped.
    fn sleep(&self, wait: Duration) {
        let until = Instant::now() + wait;
        while !self.stopped() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(TICK));
        }
    }
}
