//! Writing the store: every change checked against `flags.toml` first, then written, counted
//! and announced in one transaction; and the operator's side: export, restore, reset.
//!
//! Every write `WATCH`es the recovery record, checks that there is none, then runs its
//! `MULTI`/`EXEC`: a record written in between aborts the transaction, so no write lands in a
//! store a follower has just found emptied. (A Lua script would do the same in one round
//! trip, but needs `EVAL`, which managed Redis services and ACLs often withhold.)

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use flags_model::{Catalog, Input, Value};
use redis::{Connection, FromRedisValue, RedisError};

use super::audit::{Actor, AuditEntry, describe_member, describe_override, name_keys, read_log};
use super::counts::{FlagCounts, read_counts};
use super::delta::{Delta, MAX_ANNOUNCED, OverrideDelta};
use super::keys::fresh_identity;
use super::read::{Fetched, StoredOverride, fetch, read_entry};
use super::{
    Keys, StoreContents, StoreError, StoreExport, connect, environment_name, environment_position,
    open, redis_error,
};
use crate::sources::{check_value, find_flag, segment_index};

/// How many times a transaction is tried when a key it watches changes under it.
const ATTEMPTS: usize = 5;

/// Reads and writes the store of one environment, checking every change against the flags
/// of `flags.toml` first.
pub struct RedisStore {
    catalog: Catalog,
    environment: usize,
    keys: Keys,
    server: String,
    connection: Connection,
    /// The identity this handle last wrote to, to notice one that changes under it.
    identity: Option<String>,
    /// Who the audit log names for this handle's changes.
    actor: Actor,
}

/// One change of the store, as [`RedisStore::commit`] writes it and logs it.
/// A check of the override a flag holds (`None`: none) before it is replaced; `Err` says why
/// it must not be.
type Allowed<'a> = dyn Fn(Option<StoredOverride>) -> Result<(), String> + 'a;

enum Change<'a> {
    /// A flag's override set to `text`, if `allowed` accepts the override held at the time
    /// of the write.
    Entry {
        flag: &'a str,
        text: &'a str,
        allowed: Option<&'a Allowed<'a>>,
    },
    /// A flag's override removed.
    Unset { flag: &'a str },
    /// Context keys put into a segment's `added` set (`add`) or its `removed` set.
    Members {
        segment: &'a str,
        keys: &'a [&'a str],
        add: bool,
    },
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
        let connection = connect(&client, &server)?;
        Ok(Self {
            catalog: catalog.clone(),
            environment: environment_index,
            keys: Keys::new(environment),
            server,
            connection,
            identity: None,
            actor: Actor::default(),
        })
    }

    /// Names `actor` in the audit log for the changes this handle makes from now on.
    pub fn set_actor(&mut self, actor: Actor) {
        self.actor = actor;
    }

    /// This handle, naming `actor` in the audit log.
    pub fn with_actor(mut self, actor: Actor) -> Self {
        self.actor = actor;
        self
    }

    /// Who the audit log names for this handle's changes.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The evaluations of each of `flags` (keys) that processes counted and sent
    /// ([`Runtime::report_counts`](crate::Runtime::report_counts)): per value, the last hour
    /// by minute and the last day by hour.
    pub fn counts(&mut self, flags: &[&str]) -> Result<Vec<FlagCounts>, StoreError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        read_counts(&mut self.connection, &self.server, &self.keys, flags, now)
    }

    /// Remembers `name` (a webhook delivery's id) for `seconds`, for every process that
    /// uses this store; false when it was remembered already. What refuses a replay.
    pub fn remember(&mut self, name: &str, seconds: u64) -> Result<bool, StoreError> {
        let set: Option<String> = redis::cmd("SET")
            .arg(self.keys.seen(name))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(seconds.max(1))
            .query(&mut self.connection)
            .map_err(|error| redis_error(&self.server, &error))?;
        Ok(set.is_some())
    }

    /// Forgets `name`, remembered with [`RedisStore::remember`] (a delivery whose change
    /// failed, so that its retry applies it).
    pub fn forget(&mut self, name: &str) -> Result<(), StoreError> {
        redis::cmd("DEL")
            .arg(self.keys.seen(name))
            .exec(&mut self.connection)
            .map_err(|error| redis_error(&self.server, &error))
    }

    /// The newest entries of this environment's audit log, newest first: at most `limit`,
    /// only those about `flag` (its key) when given.
    pub fn audit_log(
        &mut self,
        flag: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let flag = flag.map(|name| match self.catalog.find(name) {
            Some((_, declared)) => declared.key().to_owned(),
            None => name.to_owned(),
        });
        read_log(
            &mut self.connection,
            &self.server,
            &self.keys,
            flag.as_deref(),
            limit,
        )
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
        self.write_entry(index, &text, None)
    }

    /// Overrides flag `flag` with `text`, the flag's table as an overrides file writes it
    /// (`[flags.<name>]` with `value = ...`, or targeting rules under `value`); it must set the
    /// flag in this environment and nothing else. Returns the new version.
    pub fn set_entry(&mut self, flag: &str, text: &str) -> Result<u64, StoreError> {
        let (index, _) = find_flag(&self.catalog, flag)?;
        self.write_entry(index, text, None)
    }

    /// As [`RedisStore::set_entry`], if `allowed` accepts the override `flag` holds when it
    /// is written (`None`: none). The check and the write are one transaction: should another
    /// write come between them, the check runs again on what that write left. A refusal is
    /// [`StoreError::InvalidEntry`] with `allowed`'s message, and nothing is written.
    pub fn set_entry_if(
        &mut self,
        flag: &str,
        text: &str,
        allowed: impl Fn(Option<StoredOverride>) -> Result<(), String>,
    ) -> Result<u64, StoreError> {
        let (index, _) = find_flag(&self.catalog, flag)?;
        self.write_entry(index, text, Some(&allowed))
    }

    /// The value `flag` would be set to by [`RedisStore::set`], checked; nothing is written.
    pub fn checked_value(&self, flag: &str, value: &str) -> Result<(usize, Value), StoreError> {
        Ok(check_value(
            &self.catalog,
            flag,
            Input::Text(value.to_owned()),
        )?)
    }

    fn write_entry(
        &mut self,
        index: usize,
        text: &str,
        allowed: Option<&Allowed<'_>>,
    ) -> Result<u64, StoreError> {
        let key = self.flag_key(index);
        read_entry(&self.catalog, self.environment, &key, text).map_err(|message| {
            StoreError::InvalidEntry {
                flag: key.clone(),
                message,
            }
        })?;
        let written = self.commit(Change::Entry {
            flag: &key,
            text,
            allowed,
        })?;
        Ok(written.version)
    }

    /// Removes the override of `flag` (also of a name `flags.toml` no longer declares);
    /// returns whether there was one, and the version.
    pub fn unset(&mut self, flag: &str) -> Result<(bool, u64), StoreError> {
        let key = match self.catalog.find(flag) {
            Some((index, _)) => self.flag_key(index),
            None => flag.to_owned(),
        };
        let written = self.commit(Change::Unset { flag: &key })?;
        Ok((written.count > 0, written.version))
    }

    /// Adds the context key `key` to `segment` for every process; returns the new version.
    pub fn segment_add(&mut self, segment: &str, key: &str) -> Result<u64, StoreError> {
        self.move_members(segment, &[key], true)
    }

    /// Removes the context key `key` from `segment` (also a key `flags.toml` lists) for every
    /// process; returns the new version.
    pub fn segment_remove(&mut self, segment: &str, key: &str) -> Result<u64, StoreError> {
        self.move_members(segment, &[key], false)
    }

    /// Adds every key of `keys` to `segment` in one write (one version, one entry of the
    /// audit log); returns the new version. Followers apply the change itself, whatever
    /// the segment holds.
    pub fn segment_add_many(&mut self, segment: &str, keys: &[&str]) -> Result<u64, StoreError> {
        self.move_members(segment, keys, true)
    }

    /// Removes every key of `keys` from `segment` in one write; see
    /// [`RedisStore::segment_add_many`].
    pub fn segment_remove_many(&mut self, segment: &str, keys: &[&str]) -> Result<u64, StoreError> {
        self.move_members(segment, keys, false)
    }

    /// Puts `keys` in the `added` (`add`) or `removed` set of a declared `segment`, and takes
    /// them out of the other.
    fn move_members(&mut self, segment: &str, keys: &[&str], add: bool) -> Result<u64, StoreError> {
        segment_index(&self.catalog, segment)?;
        if keys.is_empty() {
            return Ok(self.fetch()?.version);
        }
        let written = self.commit(Change::Members { segment, keys, add })?;
        Ok(written.version)
    }

    /// Everything the store holds for the environment, each override checked as a reader
    /// would check it, with the store's identity and its recovery record, if any.
    pub fn list(&mut self) -> Result<StoreContents, StoreError> {
        let fetched = self.fetch()?;
        Ok(fetched.contents(&self.catalog, self.environment))
    }

    /// The override the store holds for `flag`, checked as a reader checks it, or `None`:
    /// one field read, whatever else the store holds (`list` reads everything).
    pub fn entry(&mut self, flag: &str) -> Result<Option<StoredOverride>, StoreError> {
        let value: Option<Vec<u8>> = redis::cmd("HGET")
            .arg(self.keys.overrides())
            .arg(flag)
            .query(&mut self.connection)
            .map_err(|error| redis_error(&self.server, &error))?;
        Ok(value.map(|value| {
            StoredOverride::read(&self.catalog, self.environment, flag.as_bytes(), &value)
        }))
    }

    /// The store's identity: `None` before its first write, or after it was emptied.
    pub fn identity(&mut self) -> Result<Option<String>, StoreError> {
        let identity: Option<String> = redis::cmd("GET")
            .arg(self.keys.epoch())
            .query(&mut self.connection)
            .map_err(|error| redis_error(&self.server, &error))?;
        Ok(identity)
    }

    /// What the store holds, as a document [`RedisStore::restore`] puts back: every override
    /// exactly as stored (also those not valid for `flags.toml`, listed in
    /// [`Exported::invalid`]) and every declared segment's memberships, read in one
    /// transaction.
    pub fn export(&mut self) -> Result<Exported, StoreError> {
        let fetched = self.fetch()?;
        let (document, left_out) = fetched.export(&self.catalog, self.environment, false);
        let invalid = document
            .overrides
            .iter()
            .filter(|(flag, text)| read_entry(&self.catalog, self.environment, flag, text).is_err())
            .map(|(flag, _)| flag.clone())
            .collect();
        Ok(Exported {
            document,
            invalid,
            left_out,
        })
    }

    /// The recovery record: the last good state a follower held when it found the store
    /// emptied, replaced or gone back; `None` when the store does not await a restore.
    pub fn recovery_record(&mut self) -> Result<Option<StoreExport>, StoreError> {
        let text: Option<String> = redis::cmd("GET")
            .arg(self.keys.recovery())
            .query(&mut self.connection)
            .map_err(|error| redis_error(&self.server, &error))?;
        text.map(|text| StoreExport::parse(&self.keys.recovery(), &text))
            .transpose()
    }

    /// Replaces the store's overrides and segment memberships with those of `source`, as one
    /// transaction, after checking every entry against `flags.toml`: an entry invalid for a
    /// declared flag refuses the whole restore (nothing is written); an entry for a flag (or
    /// a segment) `flags.toml` does not declare is skipped and listed in
    /// [`Restored::skipped`].
    ///
    /// The store then has a new identity, adopted (so every follower takes the restored
    /// state, whatever it held), a version above the current one, the document's and the
    /// recovery record's, and no recovery record: writes are accepted again. The change is
    /// announced. Returns what changed compared with what the store held.
    pub fn restore(&mut self, source: RestoreSource<'_>) -> Result<Restored, StoreError> {
        self.restore_from(source, true)
    }

    /// What [`RedisStore::restore`] would change, checked the same way; writes nothing.
    pub fn preview_restore(&mut self, source: RestoreSource<'_>) -> Result<Restored, StoreError> {
        self.restore_from(source, false)
    }

    /// Accepts the store as it is as the fleet's truth, after it was emptied, replaced or
    /// went back: a new identity, adopted, so that every follower follows the store again
    /// (giving up the values it held); the recovery record deleted, so that writes are
    /// accepted again; the version counted and the change announced.
    pub fn confirm_reset(&mut self) -> Result<Reset, StoreError> {
        let recovery = self.keys.recovery();
        let version_key = self.keys.version();
        for _ in 0..ATTEMPTS {
            self.watch(&[recovery.as_str(), version_key.as_str()])?;
            let (record, previous, version): (Option<String>, Option<String>, Option<u64>) =
                redis::pipe()
                    .get(&recovery)
                    .get(self.keys.epoch())
                    .get(self.keys.version())
                    .query(&mut self.connection)
                    .map_err(|error| self.unwatched(&error))?;
            let identity = fresh_identity();
            let mut pipe = redis::pipe();
            pipe.atomic()
                .set(self.keys.epoch(), &identity)
                .ignore()
                .set(self.keys.adopted(), &identity)
                .ignore()
                .del(&recovery)
                .ignore()
                .incr(self.keys.version(), 1u64);
            let entry = AuditEntry {
                environment: self.keys.environment().to_owned(),
                actor: self.actor.name.clone(),
                via: self.actor.via.clone(),
                action: "reset".to_owned(),
                before: store_words(previous.as_deref(), version.unwrap_or(0)),
                after: format!(
                    "{} accepted as it is{}",
                    store_words(Some(&identity), version.unwrap_or(0) + 1),
                    if record.is_some() {
                        "; the values processes kept are given up"
                    } else {
                        ""
                    }
                ),
                version: version.unwrap_or(0) + 1,
                ..AuditEntry::default()
            };
            entry.add_to(&mut pipe, &self.keys);
            pipe.publish(self.keys.channel(), "changed").ignore();
            let done: Option<(u64,)> = pipe
                .query(&mut self.connection)
                .map_err(|error| redis_error(&self.server, &error))?;
            let Some((version,)) = done else { continue };
            self.identity = Some(identity.clone());
            return Ok(Reset {
                identity,
                version,
                previous_identity: previous,
                discarded: record.map(|text| StoreExport::parse(&recovery, &text)),
            });
        }
        Err(self.kept_changing())
    }

    fn restore_from(
        &mut self,
        source: RestoreSource<'_>,
        write: bool,
    ) -> Result<Restored, StoreError> {
        let keys = self.keys.clone();
        let mut watched = vec![
            keys.version(),
            keys.epoch(),
            keys.adopted(),
            keys.recovery(),
            keys.overrides(),
        ];
        for segment in self.catalog.segments() {
            watched.push(keys.segment_added(&segment.name));
            watched.push(keys.segment_removed(&segment.name));
        }
        let watched: Vec<&str> = watched.iter().map(String::as_str).collect();
        for _ in 0..ATTEMPTS {
            self.watch(&watched)?;
            // Plain commands, not MULTI: EXEC would end the WATCH, which guards the read.
            let current = fetch(&mut self.connection, &keys, &self.catalog, false)
                .map_err(|error| self.unwatched(&error))?;
            let planned = match self.plan(&source, &current) {
                Ok(planned) => planned,
                Err(error) => {
                    self.unwatch();
                    return Err(error);
                }
            };
            let (plan, mut restored) = planned;
            if !write {
                self.unwatch();
                return Ok(restored);
            }
            let identity = fresh_identity();
            let mut pipe = redis::pipe();
            pipe.atomic().del(keys.overrides()).ignore();
            if !plan.overrides.is_empty() {
                let fields: Vec<(&String, &String)> = plan.overrides.iter().collect();
                pipe.hset_multiple(keys.overrides(), &fields).ignore();
            }
            for (segment, (added, removed)) in self.catalog.segments().iter().zip(&plan.segments) {
                let (added_key, removed_key) = (
                    keys.segment_added(&segment.name),
                    keys.segment_removed(&segment.name),
                );
                pipe.del(&added_key).ignore().del(&removed_key).ignore();
                if !added.is_empty() {
                    pipe.sadd(&added_key, added).ignore();
                }
                if !removed.is_empty() {
                    pipe.sadd(&removed_key, removed).ignore();
                }
            }
            for entry in self.restore_entries(&source, &current, &plan, &restored, &identity) {
                entry.add_to(&mut pipe, &keys);
            }
            pipe.set(keys.epoch(), &identity)
                .ignore()
                .set(keys.adopted(), &identity)
                .ignore()
                .set(keys.version(), restored.version)
                .ignore()
                .del(keys.recovery())
                .ignore()
                .publish(keys.channel(), "changed")
                .ignore();
            let done: Option<Vec<redis::Value>> = pipe
                .query(&mut self.connection)
                .map_err(|error| redis_error(&self.server, &error))?;
            if done.is_none() {
                continue;
            }
            self.identity = Some(identity.clone());
            restored.identity = Some(identity);
            return Ok(restored);
        }
        Err(self.kept_changing())
    }

    /// The audit log entries of a restore: one per flag whose override it changes, and one
    /// for the store.
    fn restore_entries(
        &self,
        source: &RestoreSource<'_>,
        current: &Fetched,
        plan: &Plan,
        restored: &Restored,
        identity: &str,
    ) -> Vec<AuditEntry> {
        let base = AuditEntry {
            environment: self.keys.environment().to_owned(),
            actor: self.actor.name.clone(),
            via: self.actor.via.clone(),
            action: "restore".to_owned(),
            version: restored.version,
            ..AuditEntry::default()
        };
        let held = |flag: &str| {
            current
                .overrides
                .iter()
                .find(|(held, _)| held == flag)
                .and_then(|(_, text)| text.as_deref().ok())
        };
        let mut entries: Vec<AuditEntry> = restored
            .added
            .iter()
            .chain(&restored.changed)
            .chain(&restored.removed)
            .map(|flag| AuditEntry {
                flag: Some(flag.clone()),
                before: describe_override(&self.catalog, self.environment, flag, held(flag)),
                after: describe_override(
                    &self.catalog,
                    self.environment,
                    flag,
                    plan.overrides.get(flag).map(String::as_str),
                ),
                ..base.clone()
            })
            .collect();
        let from = match source {
            RestoreSource::Document(document) => document.read_from().unwrap_or("a document"),
            RestoreSource::RecoveryRecord => "the recovery record",
        };
        entries.push(AuditEntry {
            before: store_words(
                restored.previous_identity.as_deref(),
                restored.previous_version,
            ),
            after: format!(
                "{} restored from {from}: {} added, {} changed, {} removed, {} segment(s) changed",
                store_words(Some(identity), restored.version),
                restored.added.len(),
                restored.changed.len(),
                restored.removed.len(),
                restored.segments.len()
            ),
            ..base
        });
        entries
    }

    /// Checks the document of `source` against `flags.toml` and compares it with `current`.
    fn plan(
        &self,
        source: &RestoreSource<'_>,
        current: &Fetched,
    ) -> Result<(Plan, Restored), StoreError> {
        let environment = environment_name(&self.catalog, self.environment);
        let recovery_key = self.keys.recovery();
        let record = current
            .recovery
            .as_ref()
            .map(|text| StoreExport::parse(&recovery_key, text));
        let document: Cow<'_, StoreExport> = match source {
            RestoreSource::Document(document) => Cow::Borrowed(*document),
            RestoreSource::RecoveryRecord => match &record {
                None => {
                    return Err(StoreError::NoRecoveryRecord {
                        environment: environment.to_owned(),
                    });
                }
                Some(Err(error)) => return Err(error.clone()),
                Some(Ok(record)) => Cow::Borrowed(record),
            },
        };
        let name = document.read_from().unwrap_or("the document").to_owned();
        if document.environment != environment {
            return Err(StoreError::InvalidDocument {
                document: name,
                message: format!(
                    "it is an export of `{}`, not of `{environment}`: restore it with --env {}",
                    document.environment, document.environment
                ),
            });
        }
        let mut plan = Plan {
            overrides: BTreeMap::new(),
            segments: vec![(Vec::new(), Vec::new()); self.catalog.segments().len()],
        };
        let mut skipped = Vec::new();
        for (flag, text) in &document.overrides {
            let place = document.place_of(flag);
            let Some((_, declared)) = self.catalog.find(flag) else {
                skipped.push(format!(
                    "override of `{flag}` ({place}): flags.toml declares no such flag"
                ));
                continue;
            };
            let key = declared.key().to_owned();
            if let Err(message) = read_entry(&self.catalog, self.environment, &key, text) {
                return Err(StoreError::InvalidDocument {
                    document: name,
                    message: format!("override of `{flag}` ({place}): {message}"),
                });
            }
            if plan.overrides.insert(key.clone(), text.clone()).is_some() {
                return Err(StoreError::InvalidDocument {
                    document: name,
                    message: format!("flag `{key}` is overridden twice ({place})"),
                });
            }
        }
        for segment in &document.segments {
            match self.catalog.segment(&segment.name) {
                Some((index, _)) => {
                    if let Some(slot) = plan.segments.get_mut(index) {
                        *slot = (segment.added.clone(), segment.removed.clone());
                    }
                }
                None => skipped.push(format!(
                    "segment `{}` ({name}): flags.toml declares no such segment",
                    segment.name
                )),
            }
        }
        let record_version = match &record {
            Some(Ok(record)) => record.version,
            _ => 0,
        };
        let mut restored = Restored {
            identity: None,
            version: current
                .version
                .max(document.version)
                .max(record_version)
                .saturating_add(1),
            previous_identity: current.identity.clone(),
            previous_version: current.version,
            added: Vec::new(),
            changed: Vec::new(),
            removed: Vec::new(),
            unchanged: 0,
            segments: Vec::new(),
            skipped,
            recovery_cleared: current.recovery.is_some(),
        };
        let held: BTreeMap<&str, Option<&str>> = current
            .overrides
            .iter()
            .map(|(flag, text)| (flag.as_str(), text.as_deref().ok()))
            .collect();
        for (flag, text) in &plan.overrides {
            match held.get(flag.as_str()) {
                None => restored.added.push(flag.clone()),
                Some(Some(held)) if held == text => restored.unchanged += 1,
                Some(_) => restored.changed.push(flag.clone()),
            }
        }
        restored.removed = held
            .keys()
            .filter(|flag| !plan.overrides.contains_key(**flag))
            .map(|flag| (*flag).to_owned())
            .collect();
        for ((segment, (added, removed)), (held_added, held_removed)) in self
            .catalog
            .segments()
            .iter()
            .zip(&plan.segments)
            .zip(&current.segments)
        {
            let held_added: Vec<String> = held_added.iter().cloned().collect();
            let held_removed: Vec<String> = held_removed.iter().cloned().collect();
            if *added != held_added || *removed != held_removed {
                restored.segments.push(SegmentRestored {
                    name: segment.name.clone(),
                    added_before: held_added,
                    added: added.clone(),
                    removed_before: held_removed,
                    removed: removed.clone(),
                });
            }
        }
        Ok((plan, restored))
    }

    /// Reads the whole environment in one transaction.
    fn fetch(&mut self) -> Result<Fetched, StoreError> {
        fetch(&mut self.connection, &self.keys, &self.catalog, true)
            .map_err(|error| redis_error(&self.server, &error))
    }

    /// Writes `change` with the identity, the version's increment, its audit log entry and
    /// the announcement, in one transaction, unless the store awaits a restore. Removing an
    /// override the store does not hold writes nothing (no version, no entry, no
    /// announcement).
    ///
    /// The version is `WATCH`ed with the recovery record: every write counts it, so no other
    /// write lands between reading the value before and this transaction, and the log's
    /// "before" is exact.
    fn commit(&mut self, change: Change<'_>) -> Result<Committed, StoreError> {
        let recovery = self.keys.recovery();
        let version_key = self.keys.version();
        let overrides = self.keys.overrides();
        let epoch = self.keys.epoch();
        for _ in 0..ATTEMPTS {
            // The identity too, so that an announced change names the store it changed.
            self.watch(&[recovery.as_str(), version_key.as_str(), epoch.as_str()])?;
            let mut read = redis::pipe();
            read.get(&recovery).get(&version_key).get(&epoch);
            match &change {
                Change::Entry { flag, .. } | Change::Unset { flag } => {
                    read.hget(&overrides, *flag);
                }
                // One key's membership before, for the audit log; of many, only their number.
                Change::Members { segment, keys, .. } => {
                    if let [key] = keys {
                        read.sismember(self.keys.segment_added(segment), *key)
                            .sismember(self.keys.segment_removed(segment), *key);
                    }
                }
            }
            let (record, version, identity, held): (
                Option<String>,
                Option<u64>,
                Option<String>,
                redis::Value,
            ) = {
                let mut values: Vec<redis::Value> = read
                    .query(&mut self.connection)
                    .map_err(|error| self.unwatched(&error))?;
                let held = if values.len() > 4 {
                    redis::Value::Array(values.split_off(3))
                } else if values.len() == 4 {
                    values.pop().unwrap_or(redis::Value::Nil)
                } else {
                    redis::Value::Nil
                };
                let mut values = values.into_iter();
                let mut next = || values.next().unwrap_or(redis::Value::Nil);
                let record = Option::<String>::from_redis_value(next())
                    .map_err(|error| self.unexpected(error.to_string()))?;
                let version = Option::<u64>::from_redis_value(next())
                    .map_err(|error| self.unexpected(error.to_string()))?;
                let identity = Option::<String>::from_redis_value(next())
                    .map_err(|error| self.unexpected(error.to_string()))?;
                (record, version, identity, held)
            };
            if let Some(record) = record {
                self.unwatch();
                return Err(self.awaiting_restore(&record));
            }
            let version = version.unwrap_or(0);
            if let Change::Entry {
                flag,
                allowed: Some(allowed),
                ..
            } = &change
            {
                if let Err(error) = self.check_held(flag, &held, allowed) {
                    self.unwatch();
                    return Err(error);
                }
            }
            let entry = match self.audit_entry(&change, held, version + 1) {
                Ok(Some(entry)) => entry,
                Ok(None) => {
                    self.unwatch();
                    return Ok(Committed { count: 0, version });
                }
                Err(error) => {
                    self.unwatch();
                    return Err(error);
                }
            };
            let mut pipe = redis::pipe();
            // The first write gives the store its identity; every write reads it back.
            let identity = identity.unwrap_or_else(fresh_identity);
            pipe.atomic()
                .cmd("SET")
                .arg(self.keys.epoch())
                .arg(&identity)
                .arg("NX")
                .ignore();
            match &change {
                Change::Entry { flag, text, .. } => {
                    pipe.hset(&overrides, *flag, *text).ignore();
                }
                Change::Unset { flag } => {
                    pipe.hdel(&overrides, *flag);
                }
                Change::Members { segment, keys, add } => {
                    let (added, removed) = (
                        self.keys.segment_added(segment),
                        self.keys.segment_removed(segment),
                    );
                    let (to, from) = if *add {
                        (added, removed)
                    } else {
                        (removed, added)
                    };
                    pipe.sadd(to, *keys).ignore().srem(from, *keys).ignore();
                }
            }
            pipe.incr(&version_key, 1u64).get(self.keys.epoch());
            entry.add_to(&mut pipe, &self.keys);
            // Every change is announced whole, for followers to apply it; one too large to
            // announce makes them read the store.
            let announcement = match &change {
                Change::Members { segment, keys, add } => Delta {
                    identity,
                    version: version + 1,
                    segment: (*segment).to_owned(),
                    add: *add,
                    keys: keys.iter().map(|key| (*key).to_owned()).collect(),
                }
                .encode(),
                Change::Entry { flag, text, .. } => OverrideDelta {
                    identity,
                    version: version + 1,
                    flag: (*flag).to_owned(),
                    entry: Some((*text).to_owned()),
                }
                .encode(),
                Change::Unset { flag } => OverrideDelta {
                    identity,
                    version: version + 1,
                    flag: (*flag).to_owned(),
                    entry: None,
                }
                .encode(),
            };
            let announcement = if announcement.len() > MAX_ANNOUNCED {
                "changed".to_owned()
            } else {
                announcement
            };
            pipe.publish(self.keys.channel(), announcement).ignore();
            let results: Option<Vec<redis::Value>> = pipe
                .query(&mut self.connection)
                .map_err(|error| redis_error(&self.server, &error))?;
            // Another write, or a recovery record, since the WATCH: try again.
            let Some(results) = results else { continue };
            return self.committed(results);
        }
        Err(self.kept_changing())
    }

    /// The audit log entry of `change`, from what the store `held` before it (the override's
    /// text, or the key's membership of the two sets); `None` for a removal of nothing.
    /// Whether `allowed` accepts `held`, the override `flag` holds, read under the WATCH.
    fn check_held(
        &self,
        flag: &str,
        held: &redis::Value,
        allowed: &Allowed<'_>,
    ) -> Result<(), StoreError> {
        let held = Option::<Vec<u8>>::from_redis_value(held.clone())
            .map_err(|error| self.unexpected(error.to_string()))?;
        let held = held.map(|text| {
            StoredOverride::read(&self.catalog, self.environment, flag.as_bytes(), &text)
        });
        allowed(held).map_err(|message| StoreError::InvalidEntry {
            flag: flag.to_owned(),
            message,
        })
    }

    fn audit_entry(
        &self,
        change: &Change<'_>,
        held: redis::Value,
        version: u64,
    ) -> Result<Option<AuditEntry>, StoreError> {
        let mut entry = AuditEntry {
            environment: self.keys.environment().to_owned(),
            actor: self.actor.name.clone(),
            via: self.actor.via.clone(),
            version,
            ..AuditEntry::default()
        };
        match change {
            Change::Entry { flag, .. } | Change::Unset { flag } => {
                let before = Option::<String>::from_redis_value(held)
                    .map_err(|error| self.unexpected(error.to_string()))?;
                let after = match change {
                    Change::Entry { text, .. } => Some(*text),
                    _ => None,
                };
                if before.is_none() && after.is_none() {
                    return Ok(None);
                }
                entry.action = if after.is_some() { "set" } else { "unset" }.to_owned();
                entry.flag = Some((*flag).to_owned());
                entry.before =
                    describe_override(&self.catalog, self.environment, flag, before.as_deref());
                entry.after = describe_override(&self.catalog, self.environment, flag, after);
            }
            Change::Members { segment, keys, add } => {
                entry.action = if *add {
                    "segment add"
                } else {
                    "segment remove"
                }
                .to_owned();
                entry.segment = Some((*segment).to_owned());
                if let [key] = keys {
                    let (added, removed) = <(bool, bool)>::from_redis_value(held)
                        .map_err(|error| self.unexpected(error.to_string()))?;
                    let listed = self
                        .catalog
                        .segment(segment)
                        .is_some_and(|(_, declared)| declared.keys.iter().any(|k| k == key));
                    entry.key = Some((*key).to_owned());
                    entry.before = describe_member(added, removed, listed);
                    entry.after = describe_member(*add, !*add, listed);
                } else {
                    let what = if *add { "added" } else { "removed" };
                    entry.key = Some(name_keys(keys));
                    entry.after = format!("{} keys {what}", keys.len());
                }
            }
        }
        Ok(Some(entry))
    }

    fn unexpected(&self, what: String) -> StoreError {
        StoreError::Redis {
            server: self.server.clone(),
            message: format!("unexpected answer: {what}"),
        }
    }

    /// The count, version and identity a write transaction answered.
    fn committed(&mut self, mut results: Vec<redis::Value>) -> Result<Committed, StoreError> {
        let unexpected = |server: &str, what: String| StoreError::Redis {
            server: server.to_owned(),
            message: format!("unexpected answer: {what}"),
        };
        let identity = results.pop().map(Option::<String>::from_redis_value);
        let version = results.pop().map(u64::from_redis_value);
        let count = results.pop().map(u64::from_redis_value);
        let (Some(Ok(identity)), Some(Ok(version))) = (identity, version) else {
            return Err(unexpected(&self.server, "no version".into()));
        };
        let count = match count {
            Some(Ok(count)) => count,
            None => 0,
            Some(Err(error)) => return Err(unexpected(&self.server, error.to_string())),
        };
        if let (Some(before), Some(now)) = (&self.identity, &identity) {
            if before != now {
                tracing::warn!(
                    store = %self.server,
                    environment = self.keys.environment(),
                    "the store's identity changed from {before} to {now} since this handle's \
                     last write: it was emptied, replaced or reset meanwhile; processes that \
                     follow it keep their values until it is restored or the reset confirmed"
                );
            }
        }
        self.identity = identity;
        Ok(Committed { count, version })
    }

    /// The refusal of a write while the recovery record `record` exists.
    fn awaiting_restore(&self, record: &str) -> StoreError {
        let record = match StoreExport::parse(&self.keys.recovery(), record) {
            Ok(record) => format!(
                "{}: store {} at version {}, {} override(s)",
                self.keys.recovery(),
                record.store.as_deref().unwrap_or("without identity"),
                record.version,
                record.overrides.len()
            ),
            Err(error) => format!("{}, which cannot be read: {error}", self.keys.recovery()),
        };
        StoreError::AwaitingRestore {
            environment: self.keys.environment().to_owned(),
            record,
        }
    }

    fn watch(&mut self, keys: &[&str]) -> Result<(), StoreError> {
        redis::cmd("WATCH")
            .arg(keys)
            .exec(&mut self.connection)
            .map_err(|error| redis_error(&self.server, &error))
    }

    /// Ends a WATCH without a transaction; a failure shows at the next command.
    fn unwatch(&mut self) {
        let _ = redis::cmd("UNWATCH").exec(&mut self.connection);
    }

    /// `error`, after ending the WATCH it interrupted.
    fn unwatched(&mut self, error: &RedisError) -> StoreError {
        self.unwatch();
        redis_error(&self.server, error)
    }

    fn kept_changing(&self) -> StoreError {
        StoreError::Redis {
            server: self.server.clone(),
            message: format!(
                "the store changed during each of {ATTEMPTS} attempts; nothing was written, \
                 try again"
            ),
        }
    }

    fn flag_key(&self, index: usize) -> String {
        self.catalog
            .flags()
            .get(index)
            .map_or_else(String::new, |flag| flag.key().to_owned())
    }
}

/// A store's identity and version in words, for the audit log.
fn store_words(identity: Option<&str>, version: u64) -> String {
    match identity {
        Some(identity) => format!("store {identity} at version {version}"),
        None => format!("store without identity at version {version}"),
    }
}

/// What a write transaction answered.
struct Committed {
    /// The count the write's own command returned (fields removed), else 0.
    count: u64,
    version: u64,
}

/// What a restore writes: per flag key the entry's text, per declared segment (in catalog
/// order) its added and removed keys.
struct Plan {
    overrides: BTreeMap<String, String>,
    segments: Vec<(Vec<String>, Vec<String>)>,
}

/// The state a restore puts back.
#[derive(Clone, Copy, Debug)]
pub enum RestoreSource<'a> {
    /// An export document (`flags store export`, [`RedisStore::export`],
    /// `RedisFollower::last_good`).
    Document(&'a StoreExport),
    /// The recovery record: the last good state of the follower that found the store
    /// emptied, replaced or gone back.
    RecoveryRecord,
}

/// What [`RedisStore::export`] read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Exported {
    /// The document.
    pub document: StoreExport,
    /// Overrides in the document that are not valid for `flags.toml`: every process skips
    /// them, and a restore refuses the document until they are fixed or removed.
    pub invalid: Vec<String>,
    /// Overrides left out because they are not UTF-8 text (every process skips them too).
    pub left_out: Vec<String>,
}

/// What a restore changed (or, previewed, would change), compared with what the store held.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Restored {
    /// The store's new identity; `None` for a preview.
    pub identity: Option<String>,
    /// The store's version after the restore.
    pub version: u64,
    /// The store's identity before.
    pub previous_identity: Option<String>,
    /// The store's version before.
    pub previous_version: u64,
    /// Flags the store did not override and now does.
    pub added: Vec<String>,
    /// Flags whose override is now another text.
    pub changed: Vec<String>,
    /// Flags the store overrode and no longer does.
    pub removed: Vec<String>,
    /// How many overrides were already as restored.
    pub unchanged: usize,
    /// Segments whose memberships changed.
    pub segments: Vec<SegmentRestored>,
    /// Entries of the document not restored, each with where it is and why: flags and
    /// segments `flags.toml` no longer declares.
    pub skipped: Vec<String>,
    /// Whether the store awaited a restore (had a recovery record), which it no longer does.
    pub recovery_cleared: bool,
}

/// The memberships of one segment before and after a restore.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SegmentRestored {
    /// The segment.
    pub name: String,
    /// Keys added to it, before.
    pub added_before: Vec<String>,
    /// Keys added to it, after.
    pub added: Vec<String>,
    /// Keys removed from it, before.
    pub removed_before: Vec<String>,
    /// Keys removed from it, after.
    pub removed: Vec<String>,
}

/// What [`RedisStore::confirm_reset`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reset {
    /// The store's new identity, which followers now follow.
    pub identity: String,
    /// The store's version after the reset.
    pub version: u64,
    /// The identity before.
    pub previous_identity: Option<String>,
    /// The recovery record deleted (the state followers held and give up), if there was one.
    pub discarded: Option<Result<StoreExport, StoreError>>,
}
