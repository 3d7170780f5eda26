//! Reading the store: one transaction for the whole environment, each entry checked the way
//! every follower checks it.

use flags_model::{Catalog, Setting, SourceFile, parse_overrides};
use redis::{Connection, FromRedisValue, RedisError};

use super::Keys;
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
pub struct StoreContents {
    /// The number of writes so far (0 for an empty store).
    pub version: u64,
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
            catalog.environments().names()[environment],
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

/// What one read of the store returned, as Redis gave it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Fetched {
    pub(super) version: u64,
    pub(super) overrides: Vec<(String, Result<String, String>)>,
    /// Per segment of the catalog: (added, removed), sorted.
    pub(super) segments: Vec<(Vec<String>, Vec<String>)>,
}

/// Reads the whole environment in one MULTI/EXEC, so that no write lands halfway through.
pub(super) fn fetch(
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
    pub(super) fn contents(&self, catalog: &Catalog, environment: usize) -> StoreContents {
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
