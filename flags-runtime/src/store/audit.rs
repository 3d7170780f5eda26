//! The audit log: every change written through [`RedisStore`](super::RedisStore), who made it,
//! when, and the value before and after, kept in the store itself.
//!
//! Each environment has a Redis stream, `flags:v1:{env}:audit`. Every write adds its entry
//! with `XADD ... MAXLEN ~ 10000` inside the write's own `MULTI`/`EXEC`, so a change is never
//! made without its entry, nor an entry added for a change that did not happen. The stream's
//! id is the time (milliseconds since 1970) the change was made, by Redis's clock.

use std::collections::HashMap;

use flags_model::{Catalog, Setting};
use redis::{Connection, FromRedisValue};

use super::read::read_entry;
use super::{Keys, StoreError, redis_error};

/// About how many entries each environment's stream keeps (`XADD MAXLEN ~`): Redis trims
/// whole nodes, so a few more may stay.
pub const AUDIT_MAXLEN: usize = 10_000;

/// Who makes the changes of a [`RedisStore`](super::RedisStore): a person or a system, and
/// through what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// Who: a person's name, a token's name, `intercom`.
    pub name: String,
    /// Through what: `cli`, `console`, `webhook`, `api`.
    pub via: String,
}

impl Actor {
    /// `name`, acting through `via`.
    pub fn new(name: &str, via: &str) -> Self {
        Self {
            name: name.to_owned(),
            via: via.to_owned(),
        }
    }
}

impl Default for Actor {
    /// An application's handler that did not say who it acts for.
    fn default() -> Self {
        Self::new("unknown", "api")
    }
}

/// One change, as the audit log holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditEntry {
    /// The stream entry's id (`1767225600000-0`): when, and in which order.
    pub id: String,
    /// The environment whose store was changed.
    pub environment: String,
    /// When, in milliseconds since 1970-01-01 UTC (Redis's clock).
    pub time_ms: u64,
    /// Who.
    pub actor: String,
    /// Through what: `cli`, `console`, `webhook`, `api`; `follower` for the recovery record a
    /// following process leaves when the store comes back empty.
    pub via: String,
    /// What: `set`, `unset`, `segment add`, `segment remove`, `restore`, `reset`,
    /// `recovery record`.
    pub action: String,
    /// The flag changed, for `set`, `unset` and the flags a `restore` changed.
    pub flag: Option<String>,
    /// The segment changed, for `segment add` and `segment remove`.
    pub segment: Option<String>,
    /// The context key added or removed.
    pub key: Option<String>,
    /// The value before, in words: `no override (flags.toml: 2 rules, else false)`, `true`.
    pub before: String,
    /// The value after, in the same words.
    pub after: String,
    /// The store's version after the change.
    pub version: u64,
}

impl AuditEntry {
    /// When, as `2026-01-31T12:00:05Z`.
    pub fn time(&self) -> String {
        let seconds = (self.time_ms / 1000) as i64;
        flags_model::Timestamp { seconds, nanos: 0 }.to_string()
    }

    /// The entry's fields as `XADD` writes them (the id and environment are not fields).
    pub(super) fn fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            ("actor", self.actor.clone()),
            ("via", self.via.clone()),
            ("action", self.action.clone()),
        ];
        for (name, value) in [
            ("flag", &self.flag),
            ("segment", &self.segment),
            ("key", &self.key),
        ] {
            if let Some(value) = value {
                fields.push((name, value.clone()));
            }
        }
        fields.push(("before", self.before.clone()));
        fields.push(("after", self.after.clone()));
        fields.push(("version", self.version.to_string()));
        fields
    }

    /// An entry read back from the stream of `environment`.
    fn from_stream(environment: &str, id: String, fields: HashMap<String, String>) -> Self {
        let time_ms = id
            .split('-')
            .next()
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(0);
        let text = |name: &str| fields.get(name).cloned().unwrap_or_default();
        AuditEntry {
            environment: environment.to_owned(),
            time_ms,
            actor: text("actor"),
            via: text("via"),
            action: text("action"),
            flag: fields.get("flag").cloned(),
            segment: fields.get("segment").cloned(),
            key: fields.get("key").cloned(),
            before: text("before"),
            after: text("after"),
            version: fields
                .get("version")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            id,
        }
    }

    /// The entry's `XADD` command, for a transaction.
    pub(super) fn add_to(&self, pipe: &mut redis::Pipeline, keys: &Keys) {
        let mut command = redis::cmd("XADD");
        command
            .arg(keys.audit())
            .arg("MAXLEN")
            .arg("~")
            .arg(AUDIT_MAXLEN)
            .arg("*");
        for (name, value) in self.fields() {
            command.arg(name).arg(value);
        }
        pipe.add_command(command).ignore();
    }
}

/// A flag's override in words, as the audit log shows it: the entry's setting, or, without
/// one, what `flags.toml` sets.
pub(super) fn describe_override(
    catalog: &Catalog,
    environment: usize,
    flag: &str,
    text: Option<&str>,
) -> String {
    let from_file = || match catalog.find(flag) {
        Some((_, declared)) => format!(
            "no override (flags.toml: {})",
            words(&declared.setting_in(Some(environment)))
        ),
        None => "no override".to_owned(),
    };
    match text {
        None => from_file(),
        Some(text) => match read_entry(catalog, environment, flag, text) {
            Ok(setting) => words(&setting),
            Err(_) => "an entry every process skips".to_owned(),
        },
    }
}

/// A setting in a few words: `true`, `"express"`, `2 rules, else false`.
fn words(setting: &Setting) -> String {
    match setting {
        Setting::Value(value) => value.to_toml(),
        Setting::Targeted(_) => setting.to_string(),
    }
}

/// A context key's place in a segment, in words, from the store's two sets and
/// `flags.toml`'s list.
pub(super) fn describe_member(added: bool, removed: bool, listed: bool) -> String {
    match (added, removed, listed) {
        (true, _, _) => "listed (added in the store)".to_owned(),
        (_, true, _) => "not listed (removed in the store)".to_owned(),
        (_, _, true) => "listed (flags.toml)".to_owned(),
        _ => "not listed".to_owned(),
    }
}

/// The keys of a bulk segment change as its audit entry names them: all of them when there are
/// few, the first few and the count otherwise, so that an entry stays small.
pub(super) fn name_keys<K: AsRef<str>>(keys: &[K]) -> String {
    const NAMED: usize = 10;
    let named: Vec<&str> = keys.iter().take(NAMED).map(AsRef::as_ref).collect();
    if keys.len() <= NAMED {
        named.join(", ")
    } else {
        format!("{}, … ({} keys)", named.join(", "), keys.len())
    }
}

/// The newest entries of `keys`'s stream, newest first: at most `limit`, only those of `flag`
/// when given (read in pages, never more than the stream holds).
pub(super) fn read_log(
    connection: &mut Connection,
    server: &str,
    keys: &Keys,
    flag: Option<&str>,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    const PAGE: usize = 500;
    let mut entries = Vec::new();
    let mut end = "+".to_owned();
    let mut scanned = 0;
    while entries.len() < limit && scanned <= AUDIT_MAXLEN * 2 {
        let count = if flag.is_some() {
            PAGE
        } else {
            limit - entries.len()
        };
        let page: redis::Value = redis::cmd("XREVRANGE")
            .arg(keys.audit())
            .arg(&end)
            .arg("-")
            .arg("COUNT")
            .arg(count)
            .query(connection)
            .map_err(|error| redis_error(server, &error))?;
        let page: Vec<(String, HashMap<String, String>)> = FromRedisValue::from_redis_value(page)
            .map_err(|error| StoreError::Redis {
            server: server.to_owned(),
            message: format!("unexpected audit log entry: {error}"),
        })?;
        let Some((last, _)) = page.last() else { break };
        end = format!("({last}");
        let full = page.len() == count;
        scanned += page.len();
        for (id, fields) in page {
            let entry = AuditEntry::from_stream(keys.environment(), id, fields);
            if flag.is_none_or(|flag| entry.flag.as_deref() == Some(flag)) {
                entries.push(entry);
                if entries.len() == limit {
                    break;
                }
            }
        }
        if !full {
            break;
        }
    }
    Ok(entries)
}

/// The entries of several environments' logs (each newest first) merged, newest first, at
/// most `limit`.
pub fn newest_first(logs: Vec<Vec<AuditEntry>>, limit: usize) -> Vec<AuditEntry> {
    let mut entries: Vec<AuditEntry> = logs.into_iter().flatten().collect();
    entries.sort_by(|a, b| {
        let order = |e: &AuditEntry| {
            let sequence =
                e.id.split_once('-')
                    .and_then(|(_, s)| s.parse::<u64>().ok())
                    .unwrap_or(0);
            (e.time_ms, sequence)
        };
        order(b).cmp(&order(a))
    });
    entries.truncate(limit);
    entries
}
