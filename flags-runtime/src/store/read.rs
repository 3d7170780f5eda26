//! Reading the store: one transaction for the whole environment, each entry checked the way
//! every follower checks it.

use std::collections::BTreeSet;

use flags_model::{Catalog, Setting, SourceFile, parse_overrides};
use redis::{Connection, FromRedisValue, RedisError};

use super::{Keys, StoreError, StoreExport, environment_name};
use crate::report::Problem;
use crate::sources::{Layer, Loaded, Origin};

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

    pub(super) fn checked(
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
#[non_exhaustive]
pub struct StoreContents {
    /// The number of writes so far (0 for an empty store).
    pub version: u64,
    /// The store's identity: created by the first write, new after `flags store reset` and
    /// `flags store restore`; `None` before the first write (or after the store was emptied).
    pub identity: Option<String>,
    /// The recovery record, while the store awaits a restore: the last good state a follower
    /// held when it found the store emptied, replaced or gone back (or why it cannot be
    /// read). Writes are refused meanwhile.
    pub recovery: Option<Result<StoreExport, StoreError>>,
    /// The overrides, by flag key.
    pub overrides: Vec<StoredOverride>,
    /// Every segment `flags.toml` declares, with its memberships.
    pub segments: Vec<StoredSegment>,
}

/// An override's text checked for flag `key` in `environment`: what it sets there.
pub(super) fn read_entry(
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
            environment_name(catalog, environment),
            flag.key()
        )),
    }
}

/// A field of the overrides hash and its value as text; a value that is not UTF-8 is kept
/// as the reason it cannot be read.
pub(super) fn decode_entry(field: Vec<u8>, value: Vec<u8>) -> (String, Result<String, String>) {
    let field = String::from_utf8_lossy(&field).into_owned();
    let value = String::from_utf8(value).map_err(|_| "it is not UTF-8 text".to_owned());
    (field, value)
}

/// The overrides hash as `HGETALL` gave it, decoded, sorted by flag.
pub(super) fn overrides_of(
    value: redis::Value,
) -> redis::RedisResult<Vec<(String, Result<String, String>)>> {
    let mut overrides: Vec<(String, Result<String, String>)> =
        Vec::<(Vec<u8>, Vec<u8>)>::from_redis_value(value)
            .map_err(RedisError::from)?
            .into_iter()
            .map(|(field, text)| decode_entry(field, text))
            .collect();
    overrides.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(overrides)
}

/// What one read of the store returned, as Redis gave it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Fetched {
    pub(super) version: u64,
    /// The store's identity (`epoch`), if a write gave it one.
    pub(super) identity: Option<String>,
    /// The identity an operator adopted, if any.
    pub(super) adopted: Option<String>,
    /// The recovery record's text, while the store awaits a restore.
    pub(super) recovery: Option<String>,
    pub(super) overrides: Vec<(String, Result<String, String>)>,
    /// Per segment of the catalog: (added, removed). Ordered sets, so that an announced
    /// change applies in a time that grows with its keys, and exports are sorted.
    pub(super) segments: Vec<(BTreeSet<String>, BTreeSet<String>)>,
}

/// Reads the whole environment. `atomic`: in one MULTI/EXEC, so that no write lands halfway
/// through; otherwise as plain commands, for a caller that has WATCHed the keys (EXEC would
/// end its WATCH).
pub(super) fn fetch(
    connection: &mut Connection,
    keys: &Keys,
    catalog: &Catalog,
    atomic: bool,
) -> redis::RedisResult<Fetched> {
    let mut pipe = redis::pipe();
    if atomic {
        pipe.atomic();
    }
    pipe.get(keys.version())
        .get(keys.epoch())
        .get(keys.adopted())
        .get(keys.recovery())
        .hgetall(keys.overrides());
    for segment in catalog.segments() {
        pipe.smembers(keys.segment_added(&segment.name))
            .smembers(keys.segment_removed(&segment.name));
    }
    let results: Vec<redis::Value> = pipe.query(connection)?;
    let parse_error = RedisError::from;
    let mut results = results.into_iter();
    let mut next = || results.next().unwrap_or(redis::Value::Nil);
    let version = Option::<u64>::from_redis_value(next()).map_err(parse_error)?;
    let mut text = || -> redis::RedisResult<Option<String>> {
        let bytes = Option::<Vec<u8>>::from_redis_value(next()).map_err(parse_error)?;
        Ok(bytes.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    };
    let identity = text()?;
    let adopted = text()?;
    let recovery = text()?;
    let overrides = overrides_of(next())?;
    let mut members = || -> redis::RedisResult<BTreeSet<String>> {
        Ok(Vec::<Vec<u8>>::from_redis_value(next())
            .map_err(parse_error)?
            .iter()
            .map(|key| String::from_utf8_lossy(key).into_owned())
            .collect())
    };
    let mut segments = Vec::with_capacity(catalog.segments().len());
    for _ in catalog.segments() {
        let added = members()?;
        let removed = members()?;
        segments.push((added, removed));
    }
    Ok(Fetched {
        version: version.unwrap_or(0),
        identity,
        adopted,
        recovery,
        overrides,
        segments,
    })
}

impl Fetched {
    /// Applies an announced change of segment `index`'s keys, as a read after it would see.
    pub(super) fn apply(&mut self, index: usize, keys: &[String], add: bool, version: u64) {
        if let Some((added, removed)) = self.segments.get_mut(index) {
            let (to, from) = if add {
                (added, removed)
            } else {
                (removed, added)
            };
            for key in keys {
                from.remove(key);
                to.insert(key.clone());
            }
        }
        self.version = version;
    }

    pub(super) fn contents(&self, catalog: &Catalog, environment: usize) -> StoreContents {
        StoreContents {
            version: self.version,
            identity: self.identity.clone(),
            recovery: self.recovery.as_ref().map(|text| {
                StoreExport::parse(
                    &Keys::new(environment_name(catalog, environment)).recovery(),
                    text,
                )
            }),
            overrides: self
                .overrides
                .iter()
                .map(|(flag, text)| {
                    StoredOverride::checked(catalog, environment, flag.clone(), text.clone())
                })
                .collect(),
            segments: self.stored_segments(catalog),
        }
    }

    fn stored_segments(&self, catalog: &Catalog) -> Vec<StoredSegment> {
        catalog
            .segments()
            .iter()
            .zip(&self.segments)
            .map(|(segment, (added, removed))| StoredSegment {
                name: segment.name.clone(),
                added: added.iter().cloned().collect(),
                removed: removed.iter().cloned().collect(),
            })
            .collect()
    }

    /// The read as an export document of `environment`. `applied_only`: only the entries a
    /// follower applies (valid for `flags.toml`), as a follower's last good state; otherwise
    /// every entry that is text. Returns the flag keys of the entries left out.
    pub(super) fn export(
        &self,
        catalog: &Catalog,
        environment: usize,
        applied_only: bool,
    ) -> (StoreExport, Vec<String>) {
        let mut document = StoreExport::new(environment_name(catalog, environment));
        document.store = self.identity.clone();
        document.version = self.version;
        document.segments = self.stored_segments(catalog);
        let mut left_out = Vec::new();
        for (flag, text) in &self.overrides {
            match text {
                Ok(text)
                    if !applied_only || read_entry(catalog, environment, flag, text).is_ok() =>
                {
                    document.overrides.insert(flag.clone(), text.clone());
                }
                _ => left_out.push(flag.clone()),
            }
        }
        (document, left_out)
    }

    /// Flag `flag`'s override set to `entry` (removed when `None`), as announced with
    /// `version`.
    pub(super) fn set_override(&mut self, flag: &str, entry: Option<&str>, version: u64) {
        self.overrides.retain(|(held, _)| held != flag);
        if let Some(text) = entry {
            // Sorted by flag, as a read gives them, so that the two compare.
            let at = self
                .overrides
                .partition_point(|(held, _)| held.as_str() < flag);
            self.overrides
                .insert(at, (flag.to_owned(), Ok(text.to_owned())));
        }
        self.version = version;
    }

    /// The layer a runtime takes: every valid override and membership; each invalid entry
    /// rejected alone, naming its key and flag.
    pub(super) fn loaded(
        &self,
        catalog: &Catalog,
        environment: usize,
        keys: &Keys,
        store: &str,
    ) -> Loaded {
        let mut layer = Layer::new(catalog.flags().len());
        let mut rejected = Vec::new();
        let contents = self.contents(catalog, environment);
        for entry in contents.overrides {
            put_override(&mut layer, &mut rejected, catalog, keys, store, entry);
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

/// Puts one override of the store into `layer`, or, invalid, its problem into `rejected`,
/// naming the store (`store`), its key and the flag.
pub(super) fn put_override(
    layer: &mut Layer,
    rejected: &mut Vec<(Option<usize>, Problem)>,
    catalog: &Catalog,
    keys: &Keys,
    store: &str,
    entry: StoredOverride,
) {
    let index = catalog.find(&entry.flag).map(|(index, _)| index);
    let origin = store_origin(keys, store, &entry.flag);
    match entry.setting {
        Ok(setting) => {
            if let Some(index) = index {
                layer.set_setting(index, setting, origin);
            }
        }
        Err(message) => rejected.push((
            index,
            Problem::new(
                origin.to_string(),
                Some(&entry.flag),
                format!("entry skipped: {message}"),
            ),
        )),
    }
}

/// Where a value the store's override of `flag` sets comes from.
pub(super) fn store_origin(keys: &Keys, store: &str, flag: &str) -> Origin {
    Origin::Store {
        store: store.to_owned(),
        entry: format!("{} field `{}`", keys.overrides(), flag),
    }
}
