//! A Redis store of overrides and segment memberships that every process of a fleet follows
//! (the `redis` feature).
//!
//! Writers ([`RedisStore`]: the `flags` command, an application's admin or webhook handler)
//! check every change against `flags.toml` before they write it, then write it, count a new
//! version and announce it in one transaction. Readers
//! ([`Runtime::follow_redis`](crate::Runtime::follow_redis)) re-read the whole environment on
//! each announcement, on every (re)connection and every few seconds, and swap in the result
//! only once all of it is read and checked. `docs/operations.md` documents the key layout and
//! what happens on each fault.
//!
//! The store has an identity, created by its first write. A follower that finds the store
//! emptied, replaced or gone back ([`HeldBack`]) keeps the values it holds, reports it, and
//! leaves them in the recovery record; writes are refused until an operator restores the
//! store ([`RedisStore::restore`], `flags store restore`) or confirms the reset
//! ([`RedisStore::confirm_reset`], `flags store reset --confirm`). [`StoreExport`] is the
//! document of a store's contents that exports, restores and the recovery record use.
//!
//! Keys, for the environment `{env}` (layout version 1):
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `flags:v1:{env}:overrides` | hash | flag key → the flag's override, as an overrides file writes it |
//! | `flags:v1:{env}:segment:{name}:added` | set | context keys added to segment `{name}` |
//! | `flags:v1:{env}:segment:{name}:removed` | set | context keys removed from it |
//! | `flags:v1:{env}:version` | integer | counts the writes |
//! | `flags:v1:{env}:epoch` | string | the store's identity: a random id the first write creates (`SET NX`) |
//! | `flags:v1:{env}:adopted` | string | the identity an operator adopted (reset, restore): followed by every follower |
//! | `flags:v1:{env}:recovery` | string | while the store awaits a restore: a follower's last good state, as an export document |
//! | `flags:v1:{env}:changes` | channel | a message after each write |
//! | `flags:v1:{env}:audit` | stream | the audit log: one entry per change, written in the change's transaction ([`AuditEntry`]) |
//! | `flags:v1:{env}:counts:minute:{minute}:{flag}` | hash | value → evaluations counted in that minute (expires after 25 hours) |
//! | `flags:v1:{env}:counts:hour:{hour}:{flag}` | hash | value → evaluations counted in that hour (expires after 8 days) |
//! | `flags:v1:{env}:counts:seen` | hash | flag key → when an evaluation was last counted (seconds since 1970) |
//! | `flags:v1:{env}:seen:{name}` | string | a webhook delivery already applied (`intercom:{id}`), for 8 days |

mod audit;
mod counts;
mod delta;
mod export;
mod follower;
mod keys;
mod read;
mod writer;

use std::fmt;
use std::time::Duration;

use flags_model::{Catalog, naming};
use redis::{Client, RedisError};

use crate::report::{OverrideError, SegmentError};

pub use audit::{AUDIT_MAXLEN, Actor, AuditEntry, newest_first};
pub use counts::{CountOptions, CountReporter, CountStatus, FlagCounts};
pub use export::StoreExport;
/// The variable that holds the store's URL, for the `flags` command and for applications.
pub use flags_model::REDIS_URL_VARIABLE;
pub use follower::{FollowStatus, HeldBack, RedisFollower, RedisOptions};
pub use keys::{KEY_PREFIX, Keys};
pub use read::{StoreContents, StoredOverride, StoredSegment};
pub use writer::{Exported, RedisStore, Reset, RestoreSource, Restored, SegmentRestored};

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
    /// A write refused because the store awaits a restore: a follower found it emptied,
    /// replaced or gone back and left its last good state in the recovery record.
    AwaitingRestore {
        /// The environment.
        environment: String,
        /// The recovery record: which store and version it holds, or why it cannot be read.
        record: String,
    },
    /// An export document (a file, the recovery record) that cannot be read or restored.
    InvalidDocument {
        /// The document: a file name, or the recovery record's key.
        document: String,
        /// What is wrong, with the line.
        message: String,
    },
    /// `restore --recovered` with no recovery record in the store.
    NoRecoveryRecord {
        /// The environment.
        environment: String,
    },
    /// [`Runtime::report_counts`](crate::Runtime::report_counts) while a reporter of the same
    /// runtime runs: two would share which flags were checked, and each miss some.
    AlreadyCounting,
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
            StoreError::AwaitingRestore {
                environment,
                record,
            } => write!(
                f,
                "the store of `{environment}` awaits a restore: a process that follows it found it \
                 emptied, replaced or gone back, keeps its last good values and left them in the \
                 recovery record ({record}); nothing was written. Put them back with \
                 `flags store restore --recovered --env {environment}`, or accept the store as it \
                 is with `flags store reset --confirm --env {environment}` (docs/operations.md, \
                 \"When the store comes back empty\")"
            ),
            StoreError::InvalidDocument { document, message } => {
                write!(f, "{document} cannot be restored: {message}")
            }
            StoreError::AlreadyCounting => f.write_str(
                "this runtime's evaluation counts are already reported: drop its CountReporter \
                 before starting another",
            ),
            StoreError::NoRecoveryRecord { environment } => write!(
                f,
                "the store of `{environment}` has no recovery record: no process that follows it \
                 found it emptied, replaced or gone back since the last restore or reset; restore \
                 an export with `flags store restore FILE --env {environment}`"
            ),
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

/// How long to wait for Redis to accept a connection or answer a command.
const NETWORK_TIMEOUT: Duration = Duration::from_secs(2);

fn environment_position(catalog: &Catalog, environment: &str) -> Result<usize, StoreError> {
    let environments = catalog.environments();
    environments
        .position(environment)
        .ok_or_else(|| StoreError::UnknownEnvironment {
            name: environment.to_owned(),
            allowed: environments.names().to_vec(),
        })
}

/// The name of environment `index` of `catalog` (an index from [`environment_position`]).
fn environment_name(catalog: &Catalog, index: usize) -> &str {
    catalog
        .environments()
        .names()
        .get(index)
        .map_or("", String::as_str)
}

/// The environment whose keys a runtime's follower or reporter uses: `named`, else the
/// runtime's own.
fn environment_for(
    runtime: &'static crate::Runtime,
    named: Option<&str>,
) -> Result<String, StoreError> {
    let catalog = runtime.catalog();
    let environment =
        named
            .or(runtime.environment())
            .ok_or_else(|| StoreError::UnknownEnvironment {
                name: String::new(),
                allowed: catalog.environments().names().to_vec(),
            })?;
    environment_position(catalog, environment)?;
    Ok(environment.to_owned())
}

/// A connection to `client` with the network timeouts set.
fn connect(client: &Client, server: &str) -> Result<redis::Connection, StoreError> {
    client
        .get_connection_with_timeout(NETWORK_TIMEOUT)
        .and_then(|connection| {
            connection.set_read_timeout(Some(NETWORK_TIMEOUT))?;
            connection.set_write_timeout(Some(NETWORK_TIMEOUT))?;
            Ok(connection)
        })
        .map_err(|error| redis_error(server, &error))
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
