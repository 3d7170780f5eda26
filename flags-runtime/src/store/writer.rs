//! Writing the store: every change checked against `flags.toml` first, then written, counted
//! and announced in one transaction.

use std::fmt;

use flags_model::{Catalog, Input, Value};
use redis::{Connection, FromRedisValue};

use super::read::{fetch, read_entry};
use super::{
    Keys, NETWORK_TIMEOUT, StoreContents, StoreError, environment_position, open, redis_error,
};
use crate::sources::{check_value, find_flag, segment_index};

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
