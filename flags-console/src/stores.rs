//! The store of every environment: a runtime that follows it (for explain, and for what the
//! fleet holds while Redis is away), and a connection to write it.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use flags_model::{Catalog, Setting};
use flags_runtime::store::{
    Actor, FollowStatus, RedisFollower, RedisOptions, RedisStore, StoreError, StoredOverride,
    StoredSegment,
};
use flags_runtime::{Runtime, Vars};

/// The variables a console's runtime reads: only the environment selector, so that the
/// console process's own environment (APP_ENV, FLAGS_*) changes nothing it shows.
struct Selector(String, String);

impl Vars for Selector {
    fn get(&self, name: &str) -> Option<Result<String, String>> {
        (name == self.0).then(|| Ok(self.1.clone()))
    }

    fn names_with_prefix(&self, _prefix: &str) -> Vec<String> {
        Vec::new()
    }
}

/// One environment's store.
pub(crate) struct Environment {
    pub(crate) name: String,
    pub(crate) index: usize,
    pub(crate) runtime: &'static Runtime,
    follower: RedisFollower,
    writer: Mutex<Option<RedisStore>>,
}

/// What a page shows of one environment's store: read from Redis, or, while it is away,
/// what this console's follower last applied.
pub(crate) struct Held {
    /// Flag key → the override's setting, or why every process skips it.
    pub(crate) overrides: BTreeMap<String, Result<Setting, String>>,
    pub(crate) segments: Vec<StoredSegment>,
    pub(crate) version: u64,
    pub(crate) identity: Option<String>,
    /// While the store awaits a restore: what the recovery record holds.
    pub(crate) awaiting_restore: Option<String>,
    /// Why Redis could not be read, if it could not.
    pub(crate) unreachable: Option<String>,
}

pub(crate) struct Stores {
    url: String,
    /// The text of `flags.toml`, whose settings the rollout control copies.
    source: String,
    catalog: &'static Catalog,
    environments: Vec<Environment>,
}

impl Stores {
    pub(crate) fn new(path: &str, text: &str, url: &str) -> Result<Stores, String> {
        let parsed = flags_model::parse(&flags_model::SourceFile::new(path, text));
        if !parsed.diagnostics.is_empty() {
            return Err(format!("{path} has problems; fix them first"));
        }
        let variable = parsed.catalog.environments().variable().to_owned();
        let mut environments = Vec::new();
        for (index, name) in parsed.catalog.environments().names().iter().enumerate() {
            // Leaked once per environment for the console's life, as a compiled runtime is.
            let vars: &'static Selector =
                Box::leak(Box::new(Selector(variable.clone(), name.clone())));
            let runtime = Runtime::load(path, text, vars).map_err(|p| p.join("\n\n"))?;
            let follower = runtime
                .follow_redis(
                    RedisOptions::new(url)
                        .environment(name)
                        .max_backoff(Duration::from_millis(500)),
                )
                .map_err(|error| error.to_string())?;
            environments.push(Environment {
                name: name.clone(),
                index,
                runtime,
                follower,
                writer: Mutex::new(None),
            });
        }
        let catalog = environments
            .first()
            .map(|e| e.runtime.catalog())
            .ok_or_else(|| format!("{path} declares no environment"))?;
        Ok(Stores {
            url: url.to_owned(),
            source: text.to_owned(),
            catalog,
            environments,
        })
    }

    pub(crate) fn catalog(&self) -> &'static Catalog {
        self.catalog
    }

    /// The text of `flags.toml`.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    pub(crate) fn environments(&self) -> &[Environment] {
        &self.environments
    }

    pub(crate) fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }

    pub(crate) fn server(&self) -> String {
        self.environments
            .first()
            .map_or_else(String::new, |e| e.follower.server().to_owned())
    }

    /// Runs `operation` on `environment`'s store, connecting first when needed; after an
    /// error the connection is dropped, to be made again next time.
    pub(crate) fn with_store<T>(
        &self,
        environment: &Environment,
        actor: Actor,
        operation: impl FnOnce(&mut RedisStore) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut writer = lock(&environment.writer);
        let mut store = match writer.take() {
            Some(store) => store,
            None => RedisStore::connect(&self.url, self.catalog(), &environment.name)?,
        };
        store.set_actor(actor);
        let result = operation(&mut store);
        if !matches!(result, Err(StoreError::Redis { .. })) {
            *writer = Some(store);
        }
        result
    }
}

impl Environment {
    pub(crate) fn status(&self) -> FollowStatus {
        self.follower.status()
    }

    /// Waits (a second at most) until this console's runtime has applied `version`, so that
    /// explain answers with the change just made.
    pub(crate) fn wait_for(&self, version: u64) {
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.follower.status().version < version && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// What the store holds, from Redis, else from what the follower last applied.
    pub(crate) fn held(&self, stores: &Stores) -> Held {
        let catalog = stores.catalog();
        let read = if self.status().connected {
            stores.with_store(self, Actor::default(), RedisStore::list)
        } else {
            Err(StoreError::Redis {
                server: self.follower.server().to_owned(),
                message: self
                    .status()
                    .error
                    .unwrap_or_else(|| "not connected".to_owned()),
            })
        };
        match read {
            Ok(contents) => Held {
                overrides: contents
                    .overrides
                    .into_iter()
                    .map(|entry| (entry.flag, entry.setting))
                    .collect(),
                segments: contents.segments,
                version: contents.version,
                identity: contents.identity,
                awaiting_restore: contents.recovery.map(|record| match record {
                    Ok(record) => format!(
                        "the recovery record holds store {} at version {}, {} override(s)",
                        record.store.as_deref().unwrap_or("without identity"),
                        record.version,
                        record.overrides.len()
                    ),
                    Err(error) => error.to_string(),
                }),
                unreachable: None,
            },
            Err(error) => {
                let last = self.follower.last_good();
                let status = self.status();
                Held {
                    overrides: last
                        .as_ref()
                        .map(|document| {
                            document
                                .overrides
                                .iter()
                                .map(|(flag, text)| {
                                    let read = StoredOverride::read(
                                        catalog,
                                        self.index,
                                        flag.as_bytes(),
                                        text.as_bytes(),
                                    );
                                    (read.flag, read.setting)
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    segments: last.map(|d| d.segments).unwrap_or_default(),
                    version: status.version,
                    identity: status.identity,
                    awaiting_restore: None,
                    unreachable: Some(error.to_string()),
                }
            }
        }
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
