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

mod follower;
mod keys;
mod read;
mod writer;

use std::fmt;
use std::time::Duration;

use flags_model::{Catalog, naming};
use redis::{Client, RedisError};

use crate::report::{OverrideError, SegmentError};

pub use follower::{FollowStatus, RedisFollower, RedisOptions};
pub use keys::{KEY_PREFIX, Keys};
pub use read::{StoreContents, StoredOverride, StoredSegment};
pub use writer::RedisStore;

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
