//! Following the store: a thread of its own reads it and hands each complete read to the
//! runtime.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flags_model::Catalog;
use redis::{Client, Connection};

use super::audit::AuditEntry;
use super::delta::{Announcement, Delta, OverrideDelta};
use super::read::{Fetched, StoredOverride, fetch, overrides_of, store_origin};
use super::{
    Keys, NETWORK_TIMEOUT, StoreError, StoreExport, environment_for, environment_position, open,
    redact,
};
use crate::live::SourceHandle;
use crate::report::Problem;
use crate::runtime::Runtime;
use crate::sources::{Layer, Loaded, Source, Vars};
use crate::sync::lock;

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

/// Why a follower holds its last good values instead of following the store.
///
/// A follower remembers the identity and version of the store it last applied. A read that
/// would lose what it holds is not handed to the runtime; until the store is restored
/// (`flags store restore`) or its new state adopted (`flags store reset --confirm`), the
/// values last applied stay in force and the problem is in [`Runtime::report`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeldBack {
    /// The store has no identity any more: Redis restarted without its data, or it was
    /// flushed.
    Emptied,
    /// The store has another identity, which no operator adopted: another store, or writes
    /// made after it came back empty.
    Replaced {
        /// The store's identity now.
        identity: String,
        /// Its version now.
        version: u64,
    },
    /// The same store with fewer writes than already applied: restored from an older
    /// snapshot, or a failover to a replica that had not received the last writes.
    WentBack {
        /// The store's version now.
        version: u64,
    },
}

impl fmt::Display for HeldBack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeldBack::Emptied => f.write_str(
                "came back empty (it has no identity: Redis restarted without its data, or was \
                 flushed)",
            ),
            HeldBack::Replaced { identity, version } => write!(
                f,
                "was replaced: it has identity {identity} at version {version}, which no operator \
                 adopted (another store, or writes made after it came back empty)"
            ),
            HeldBack::WentBack { version } => write!(
                f,
                "went back to version {version} (restored from an older snapshot, or a failover \
                 lost writes)"
            ),
        }
    }
}

/// Whether `now` may replace `held`, the read last applied; why not, if not.
fn judge(held: &Fetched, now: &Fetched) -> Option<HeldBack> {
    match (&held.identity, &now.identity) {
        (Some(held_identity), Some(identity)) if held_identity == identity => {
            (now.version < held.version).then_some(HeldBack::WentBack {
                version: now.version,
            })
        }
        // Reset or restored by an operator: the fleet's new truth.
        (_, Some(identity)) if now.adopted.as_ref() == Some(identity) => None,
        // The first write to a store that had none (or was written before identities
        // existed) gives it its identity.
        (None, Some(_)) if now.version > held.version => None,
        (_, Some(identity)) => Some(HeldBack::Replaced {
            identity: identity.clone(),
            version: now.version,
        }),
        (Some(_), None) => Some(HeldBack::Emptied),
        (None, None) if now.version < held.version => Some(if now.version == 0 {
            HeldBack::Emptied
        } else {
            HeldBack::WentBack {
                version: now.version,
            }
        }),
        (None, None) => None,
    }
}

/// What a follower has done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FollowStatus {
    /// Whether it is connected now.
    pub connected: bool,
    /// The version of the store whose values are in force: the read last applied (0 before
    /// the first).
    pub version: u64,
    /// The identity of that store (`None` before its first write).
    pub identity: Option<String>,
    /// How many times a read changed what the runtime uses.
    pub applied: u64,
    /// The last connection error, until a connection succeeds.
    pub error: Option<String>,
    /// While the follower holds its last good values instead of following the store: why.
    pub held_back: Option<HeldBack>,
    /// Whether the store awaits a restore (it has a recovery record; writes are refused).
    pub awaiting_restore: bool,
    /// How many times the whole store was read: at each connection, after a gap in the
    /// versions announced, and when the periodic check finds the store changed.
    pub reads: u64,
    /// How many announced changes (of segment keys, or of a flag's override) were applied
    /// as they came, without reading the store.
    pub changes_applied: u64,
}

/// Follows a Redis store until dropped (then the last values read stay in force). Made by
/// [`Runtime::follow_redis`].
pub struct RedisFollower {
    server: String,
    stop: Arc<AtomicBool>,
    status: Arc<Mutex<FollowStatus>>,
    applied: Arc<Mutex<Option<Fetched>>>,
    catalog: &'static Catalog,
    environment: usize,
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

    /// The store's state whose values are in force in this process (the read last applied,
    /// also while it is held back), as an export document: its entries valid for this
    /// process's `flags.toml` and its segment memberships. `None` before the first read. An
    /// application can save it, or expose it to operators, to restore the store from it
    /// (`flags store restore FILE`).
    pub fn last_good(&self) -> Option<StoreExport> {
        lock(&self.applied)
            .as_ref()
            .map(|applied| applied.export(self.catalog, self.environment, true).0)
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
    /// A thread of its own subscribes to the environment's channel, applies each announced
    /// change as it comes (a change of segment keys, or of a flag's override: what it costs
    /// grows with the change, not with the store), and reads the whole store on each
    /// (re)connection, on a gap in the versions, and when its periodic check finds the store
    /// otherwise than what it holds; the runtime swaps in a read only once all of it is read
    /// and checked. An entry that is not valid for its
    /// flag (written around [`RedisStore`](super::RedisStore), with `redis-cli` say) is
    /// skipped and reported with its key and flag; the other entries apply. While Redis
    /// cannot be reached, the last values read stay in force (none, at start-up: the
    /// compiled values, the overrides file and environment variables serve), the problem is
    /// in [`Runtime::report`], and the thread reconnects with a growing wait. A flag check
    /// never waits on the network.
    ///
    /// A store that comes back empty, replaced or gone back is not followed: see
    /// [`HeldBack`]. The values last applied stay in force, the problem is logged (a
    /// `tracing` error, once) and in [`Runtime::report`] and [`FollowStatus::held_back`],
    /// and the follower leaves its last good state in the store's recovery record, which
    /// `flags store restore --recovered` puts back.
    ///
    /// Refused only for a URL that is not a Redis URL or an unknown environment (or none:
    /// when the runtime has no environment, name one with [`RedisOptions::environment`]).
    pub fn follow_redis(&'static self, options: RedisOptions) -> Result<RedisFollower, StoreError> {
        let catalog = self.catalog();
        let environment = environment_for(self, options.environment.as_deref())?;
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
        let applied = Arc::new(Mutex::new(None));
        let subscriber = Subscriber {
            client,
            name: format!("redis {server}"),
            url: redact(&options.url),
            catalog,
            environment: environment_index,
            keys: Keys::new(&environment),
            options,
            latest,
            source,
            stop: Arc::clone(&stop),
            status: Arc::clone(&status),
            shared: Arc::clone(&applied),
            applied: None,
            generation: 0,
            incident: None,
            outage: None,
            awaited: None,
            awaiting_logged: false,
            shown: None,
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
            applied,
            catalog,
            environment: environment_index,
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
/// How long the periodic check waits for the announcements of a store found ahead before it
/// reads the store whole: a write's announcement is sent with it, but may still be on its way
/// when the check reads the version.
const ANNOUNCEMENT_GRACE: Duration = Duration::from_secs(1);

/// The thread that follows the store.
struct Subscriber {
    client: Client,
    name: String,
    /// The URL without credentials, for the commands a message names.
    url: String,
    catalog: &'static Catalog,
    environment: usize,
    keys: Keys,
    options: RedisOptions,
    latest: Arc<Mutex<Loaded>>,
    source: SourceHandle,
    stop: Arc<AtomicBool>,
    status: Arc<Mutex<FollowStatus>>,
    /// `applied`, for [`RedisFollower::last_good`].
    shared: Arc<Mutex<Option<Fetched>>>,
    /// The read whose values are in force: the last one handed to the runtime.
    applied: Option<Fetched>,
    /// Counts the changes of `applied`'s values.
    generation: u64,
    /// While the store is not followed: why, and what became of the recovery record.
    incident: Option<Incident>,
    /// While the store cannot be read: the problem, as first reported.
    outage: Option<String>,
    /// A version the periodic check found the store at, ahead of `applied`, whose
    /// announcements are awaited for one grace before the store is read whole.
    awaited: Option<u64>,
    /// Whether "the store awaits a restore" was logged (once per time it does).
    awaiting_logged: bool,
    /// What was last handed to the runtime, to hand over only what changed.
    shown: Option<Shown>,
}

/// A store not followed, until it is restored or its reset confirmed.
struct Incident {
    held_back: HeldBack,
    record: Record,
}

/// What became of the recovery record during an incident.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Record {
    /// Not tried yet.
    Untried,
    /// This process wrote it.
    Written,
    /// Another follower's was there (for the same store and no older, or unreadable).
    Present,
    /// It could not be written (no write permission, a read-only replica): only reported.
    Failed(String),
}

/// What the runtime was handed: the problems, and which values.
#[derive(Clone, Debug, PartialEq)]
struct Shown {
    failed: bool,
    problems: Vec<Problem>,
    generation: u64,
}

impl Subscriber {
    fn run(mut self) {
        let mut backoff = FIRST_BACKOFF;
        while !self.stopped() {
            // The thread never dies: whatever happens is reported, and it connects again.
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| self.session()));
            let error = match outcome {
                Ok(Ok(())) => return,
                Ok(Err(error)) => error.to_string(),
                Err(payload) => {
                    let what = payload
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic".to_owned());
                    tracing::error!(
                        store = %self.name,
                        "the thread that follows the store failed ({what}); it connects again"
                    );
                    format!("the thread that follows the store failed ({what})")
                }
            };
            if std::mem::replace(&mut lock(&self.status).connected, false) {
                backoff = FIRST_BACKOFF;
            }
            lock(&self.status).error = Some(error.clone());
            if self.outage.is_none() {
                // Once per outage: the values last read stay in force meanwhile.
                self.outage = Some(format!(
                    "cannot read the store: {error}; retrying every {} ms at most",
                    self.options.max_backoff.as_millis()
                ));
            }
            self.publish();
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
        self.outage = None;
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
                Ok(message) => {
                    // A change that follows the one applied is applied as it is, one the last
                    // read already had is done; anything else is read.
                    let applied = match Announcement::parse(message.get_payload_bytes()) {
                        Some(change) if self.already_read(change.made()) => true,
                        Some(Announcement::Members(delta)) => self.apply(delta),
                        Some(Announcement::Override(change)) => self.apply_override(change),
                        None => false,
                    };
                    if !applied {
                        self.sync(&mut connection)?;
                    }
                    resync_at = Instant::now() + self.options.resync;
                }
                Err(error) if error.is_timeout() => {}
                Err(error) => return Err(error),
            }
            if Instant::now() >= resync_at {
                self.check(&mut connection)?;
                let next = match self.awaited {
                    Some(_) => ANNOUNCEMENT_GRACE.min(self.options.resync),
                    None => self.options.resync,
                };
                resync_at = Instant::now() + next;
            }
        }
    }

    /// Whether an announced change is in what is applied already: announced before the read
    /// that followed the subscription (a write made while this process connected).
    fn already_read(&self, (identity, version): (&str, u64)) -> bool {
        if self.incident.is_some() || self.outage.is_some() {
            return false;
        }
        self.applied.as_ref().is_some_and(|applied| {
            applied.identity.as_deref() == Some(identity) && version <= applied.version
        })
    }

    /// Whether a change announced as made to the store `identity` at `version` can be
    /// applied as it is: the change right after the one applied, to the same store, while
    /// the store is followed.
    fn follows(&self, identity: &str, version: u64) -> bool {
        if self.incident.is_some() || self.outage.is_some() {
            return false;
        }
        self.applied.as_ref().is_some_and(|applied| {
            applied.identity.as_deref() == Some(identity)
                && applied.version.checked_add(1) == Some(version)
                && applied.recovery.is_none()
        })
    }

    /// Applies an announced change of segment keys to the values in force, without reading
    /// the store, when it [`follows`](Subscriber::follows). False otherwise (the caller then
    /// reads the store).
    fn apply(&mut self, delta: Delta) -> bool {
        let Some((index, _)) = self.catalog.segment(&delta.segment) else {
            return false;
        };
        if !self.follows(&delta.identity, delta.version) {
            return false;
        }
        let Some(applied) = self.applied.as_mut() else {
            return false;
        };
        applied.apply(index, &delta.keys, delta.add, delta.version);
        if let Some(shared) = lock(&self.shared).as_mut() {
            shared.apply(index, &delta.keys, delta.add, delta.version);
        }
        // What the source gives on its next read, and what the runtime has now.
        let keys: Vec<std::sync::Arc<str>> = delta.keys.iter().map(|k| k.as_str().into()).collect();
        if let Loaded::Values { layer, .. } = &mut *lock(&self.latest) {
            layer.change_membership(index, &keys, delta.add);
        }
        let keys = delta.keys.iter().map(String::as_str);
        let changed = if delta.add {
            self.source.add_to_segment(&delta.segment, keys)
        } else {
            self.source.remove_from_segment(&delta.segment, keys)
        };
        self.count_applied(delta.version);
        changed.is_ok()
    }

    /// Applies an announced change of a flag's override to the values in force, without
    /// reading the store (whose segments may hold millions of keys), when it
    /// [`follows`](Subscriber::follows) and the entry is valid here. False otherwise: the
    /// caller reads the store, which reports an invalid entry as a read does.
    fn apply_override(&mut self, change: OverrideDelta) -> bool {
        let Some((index, _)) = self.catalog.find(&change.flag) else {
            return false;
        };
        let entry = match &change.entry {
            Some(text) => {
                let stored = StoredOverride::checked(
                    self.catalog,
                    self.environment,
                    change.flag.clone(),
                    Ok(text.clone()),
                );
                match stored.setting {
                    Ok(setting) => {
                        Some((setting, store_origin(&self.keys, &self.name, &change.flag)))
                    }
                    Err(_) => return false,
                }
            }
            None => None,
        };
        if !self.follows(&change.identity, change.version) {
            return false;
        }
        let Some(applied) = self.applied.as_mut() else {
            return false;
        };
        applied.set_override(&change.flag, change.entry.as_deref(), change.version);
        if let Some(shared) = lock(&self.shared).as_mut() {
            shared.set_override(&change.flag, change.entry.as_deref(), change.version);
        }
        // What the source gives on its next read, and what the runtime has now.
        if let Loaded::Values { layer, rejected } = &mut *lock(&self.latest) {
            match &entry {
                Some((setting, origin)) => {
                    layer.set_setting(index, setting.clone(), origin.clone())
                }
                None => layer.clear(index),
            }
            rejected.retain(|(flag, _)| *flag != Some(index));
        }
        self.source.set_entry(index, entry);
        self.count_applied(change.version);
        true
    }

    /// The status after a change applied as announced, which made `version`.
    fn count_applied(&self, version: u64) {
        let mut status = lock(&self.status);
        status.version = version;
        status.applied += 1;
        status.changes_applied += 1;
    }

    /// The periodic check: reads the whole store only when its version, identity or
    /// recovery record differ from what is applied (an announcement lost while this process
    /// was reconnecting), when its overrides do (an entry written around the API, which
    /// changes no version: the overrides are few, so they are read each time), or while the
    /// store is not followed. A store only ahead of what is applied gets one grace for the
    /// announcements on their way (a write made just as the check runs), so that a large
    /// segment is not read whole for nothing.
    fn check(&mut self, connection: &mut Connection) -> redis::RedisResult<()> {
        let Some(applied) = &self.applied else {
            return self.sync(connection);
        };
        if self.incident.is_some() {
            return self.sync(connection);
        }
        let (version, identity, adopted, recovery, overrides): (
            Option<u64>,
            Option<String>,
            Option<String>,
            bool,
            redis::Value,
        ) = redis::pipe()
            .atomic()
            .get(self.keys.version())
            .get(self.keys.epoch())
            .get(self.keys.adopted())
            .exists(self.keys.recovery())
            .hgetall(self.keys.overrides())
            .query(connection)?;
        let stored = version.unwrap_or(0);
        let same_store = identity == applied.identity
            && adopted == applied.adopted
            && recovery == applied.recovery.is_some();
        if same_store && stored == applied.version {
            self.awaited = None;
            if overrides_of(overrides)? == applied.overrides {
                return Ok(());
            }
            return self.sync(connection);
        }
        let awaited_in_vain = self
            .awaited
            .is_some_and(|awaited| applied.version < awaited);
        if same_store && stored > applied.version && !awaited_in_vain {
            self.awaited = Some(stored);
            return Ok(());
        }
        self.sync(connection)
    }

    /// Reads the whole store and follows it, or holds the values in force when the read
    /// would lose them.
    fn sync(&mut self, connection: &mut Connection) -> redis::RedisResult<()> {
        self.awaited = None;
        let fetched = fetch(connection, &self.keys, self.catalog, true)?;
        lock(&self.status).reads += 1;
        let verdict = self
            .applied
            .as_ref()
            .and_then(|applied| judge(applied, &fetched));
        // The status changes once the runtime has what it says.
        let mut status = lock(&self.status).clone();
        match verdict {
            Some(held_back) => self.hold(connection, held_back, &fetched, &mut status)?,
            None => self.follow(fetched, &mut status),
        }
        self.publish();
        let mut shared = lock(&self.status);
        *shared = FollowStatus {
            connected: shared.connected,
            error: shared.error.clone(),
            ..status
        };
        Ok(())
    }

    /// Keeps the values in force, reports why once, and leaves them in the recovery record.
    fn hold(
        &mut self,
        connection: &mut Connection,
        held_back: HeldBack,
        fetched: &Fetched,
        status: &mut FollowStatus,
    ) -> redis::RedisResult<()> {
        let (new, record) = match &self.incident {
            Some(incident) => (incident.held_back != held_back, incident.record.clone()),
            None => (true, Record::Untried),
        };
        // The first read of an incident writes the record (or replaces an older one); a later
        // one, only when it is gone (deleted by hand while the store is still not followed).
        let record = if record == Record::Untried || fetched.recovery.is_none() {
            self.write_record(connection)?
        } else {
            record
        };
        let incident = Incident { held_back, record };
        if new {
            let problem = self.incident_problem(&incident);
            tracing::error!(
                store = %self.name,
                environment = self.keys.environment(),
                "{}",
                problem.message()
            );
        }
        status.held_back = Some(incident.held_back.clone());
        status.awaiting_restore = matches!(incident.record, Record::Written | Record::Present)
            || fetched.recovery.is_some();
        self.incident = Some(incident);
        Ok(())
    }

    /// Hands `fetched` to the runtime, unless its values are those in force already.
    fn follow(&mut self, fetched: Fetched, status: &mut FollowStatus) {
        if let Some(incident) = self.incident.take() {
            tracing::warn!(
                store = %self.name,
                environment = self.keys.environment(),
                "the store of `{}` is followed again (identity {}, version {}): it {} before, \
                 and was restored or its reset confirmed since",
                self.keys.environment(),
                fetched.identity.as_deref().unwrap_or("none"),
                fetched.version,
                incident.held_back
            );
        }
        let awaiting = fetched.recovery.is_some();
        if awaiting && !self.awaiting_logged {
            tracing::error!(
                store = %self.name,
                environment = self.keys.environment(),
                "{}",
                self.awaiting_message()
            );
        }
        self.awaiting_logged = awaiting;
        let same_values = self.applied.as_ref().is_some_and(|applied| {
            applied.version == fetched.version
                && applied.identity == fetched.identity
                && applied.overrides == fetched.overrides
                && applied.segments == fetched.segments
        });
        if !same_values {
            self.generation += 1;
            status.applied += 1;
        }
        status.version = fetched.version;
        status.identity = fetched.identity.clone();
        status.held_back = None;
        status.awaiting_restore = awaiting;
        *lock(&self.shared) = Some(fetched.clone());
        self.applied = Some(fetched);
    }

    /// Writes the values in force to the recovery record, unless there is one for the same
    /// store that is no older. Redis out of reach ends the connection; a refusal (no write
    /// permission, a read-only replica) is only reported.
    fn write_record(&self, connection: &mut Connection) -> redis::RedisResult<Record> {
        let Some(applied) = &self.applied else {
            return Ok(Record::Failed("no state to record".into()));
        };
        let (document, _) = applied.export(self.catalog, self.environment, true);
        let text = document.to_toml();
        let key = self.keys.recovery();
        // On-call reads the audit log first: the incident is in it, with the way back.
        let entry = AuditEntry {
            environment: self.keys.environment().to_owned(),
            actor: format!("process {}", std::process::id()),
            via: "follower".to_owned(),
            action: "recovery record".to_owned(),
            before: format!(
                "store lost: it had version {}, {} override(s), {} segment key(s)",
                document.version,
                document.overrides.len(),
                document
                    .segments
                    .iter()
                    .map(|segment| segment.added.len() + segment.removed.len())
                    .sum::<usize>()
            ),
            after: format!(
                "kept in force and recorded in {key}: `flags store restore --recovered --env {}` \
                 puts it back",
                self.keys.environment()
            ),
            // Recording writes no version: the emptied store's stays what it is.
            ..AuditEntry::default()
        };
        let attempt = |connection: &mut Connection| -> redis::RedisResult<Option<Record>> {
            redis::cmd("WATCH").arg(&key).exec(connection)?;
            let existing: Option<String> = redis::cmd("GET").arg(&key).query(connection)?;
            if let Some(existing) = existing {
                let older = StoreExport::parse(&key, &existing).is_ok_and(|record| {
                    record.store == document.store && record.version < document.version
                });
                if !older {
                    redis::cmd("UNWATCH").exec(connection)?;
                    return Ok(Some(Record::Present));
                }
            }
            let mut pipe = redis::pipe();
            pipe.atomic()
                .set(&key, &text)
                .ignore()
                .publish(self.keys.channel(), "recovery")
                .ignore();
            entry.add_to(&mut pipe, &self.keys);
            let written: Option<Vec<redis::Value>> = pipe.query(connection)?;
            Ok(written.map(|_| Record::Written))
        };
        for _ in 0..3 {
            match attempt(connection) {
                Ok(Some(record)) => return Ok(record),
                // Another follower wrote it meanwhile: look again.
                Ok(None) => {}
                Err(error) if error.is_io_error() || error.is_timeout() => return Err(error),
                Err(error) => {
                    let _ = redis::cmd("UNWATCH").exec(connection);
                    return Ok(Record::Failed(error.to_string()));
                }
            }
        }
        Ok(Record::Present)
    }

    /// Hands the runtime the values in force and the problems, when they changed.
    fn publish(&mut self) {
        let mut problems = Vec::new();
        if let Some(incident) = &self.incident {
            problems.push(self.incident_problem(incident));
        }
        if let Some(outage) = &self.outage {
            problems.push(Problem::new(&self.name, None, outage.as_str()));
        }
        let failed = !problems.is_empty();
        let awaiting = self
            .applied
            .as_ref()
            .is_some_and(|applied| applied.recovery.is_some());
        if !failed && awaiting {
            problems.push(Problem::new(&self.name, None, self.awaiting_message()));
        }
        let shown = Shown {
            failed,
            problems,
            generation: self.generation,
        };
        if self.shown.as_ref() == Some(&shown) {
            return;
        }
        let loaded = if shown.failed {
            // The source's last good layer stays in force.
            Loaded::Failed(shown.problems.clone())
        } else {
            let mut loaded = match &self.applied {
                Some(applied) => {
                    applied.loaded(self.catalog, self.environment, &self.keys, &self.name)
                }
                None => Loaded::Values {
                    layer: Layer::new(self.catalog.flags().len()),
                    rejected: Vec::new(),
                },
            };
            if let Loaded::Values { rejected, .. } = &mut loaded {
                rejected.extend(shown.problems.iter().map(|p| (None, p.clone())));
            }
            loaded
        };
        *lock(&self.latest) = loaded;
        self.shown = Some(shown);
        self.source.reload();
    }

    /// The problem while the store is not followed: what happened, what is in force, and
    /// the commands that end it.
    fn incident_problem(&self, incident: &Incident) -> Problem {
        let env = self.keys.environment();
        let key = self.keys.recovery();
        let (identity, version) = self.applied.as_ref().map_or((None, 0), |applied| {
            (applied.identity.as_deref(), applied.version)
        });
        let record = match &incident.record {
            Record::Written => format!(
                "this process left them in the recovery record {key}; writes are refused until then"
            ),
            Record::Present | Record::Untried => format!(
                "the recovery record {key} holds a follower's last good state; writes are refused \
                 until then"
            ),
            Record::Failed(error) => format!(
                "this process could not write the recovery record {key} ({error}), so writes are \
                 NOT refused; save its state with RedisFollower::last_good"
            ),
        };
        Problem::new(
            &self.name,
            None,
            format!(
                "the store of `{env}` {}; this process keeps the values it last applied (store {} \
                 at version {version}) and does not follow the store until it is restored or its \
                 reset is confirmed; {record}. To put them back: `flags store restore --recovered \
                 --env {env} --redis {url}`; from an export: `flags store restore FILE --env {env} \
                 --redis {url}`; to accept the store as it is: `flags store reset --confirm --env \
                 {env} --redis {url}` (docs/operations.md, \"When the store comes back empty\")",
                incident.held_back,
                identity.unwrap_or("without identity"),
                url = self.url,
            ),
        )
    }

    /// The problem of a store that awaits a restore while this process follows it.
    fn awaiting_message(&self) -> String {
        let env = self.keys.environment();
        format!(
            "the store of `{env}` awaits a restore: a process found it emptied, replaced or gone \
             back and left its last good state in {}; this process started since and follows the \
             store as it is. Restore it with `flags store restore --recovered --env {env} --redis \
             {url}`, or accept it with `flags store reset --confirm --env {env} --redis {url}`",
            self.keys.recovery(),
            url = self.url,
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn read(identity: Option<&str>, version: u64, adopted: Option<&str>) -> Fetched {
        Fetched {
            version,
            identity: identity.map(str::to_owned),
            adopted: adopted.map(str::to_owned),
            ..Fetched::default()
        }
    }

    #[test]
    fn a_read_that_would_lose_what_is_held_is_held_back() {
        let held = read(Some("e"), 10, None);
        assert_eq!(judge(&held, &read(Some("e"), 10, None)), None);
        assert_eq!(judge(&held, &read(Some("e"), 11, None)), None);
        assert_eq!(
            judge(&held, &read(Some("e"), 9, None)),
            Some(HeldBack::WentBack { version: 9 })
        );
        assert_eq!(judge(&held, &read(None, 0, None)), Some(HeldBack::Emptied));
        assert_eq!(
            judge(&held, &read(Some("f"), 1, None)),
            Some(HeldBack::Replaced {
                identity: "f".into(),
                version: 1
            })
        );
        // An identity the operator adopted is followed, whatever its version.
        assert_eq!(judge(&held, &read(Some("f"), 1, Some("f"))), None);
        assert_eq!(
            judge(&held, &read(Some("f"), 1, Some("e"))),
            Some(HeldBack::Replaced {
                identity: "f".into(),
                version: 1
            })
        );
        // But not a lower version of the same identity.
        let adopted = read(Some("f"), 5, Some("f"));
        assert_eq!(
            judge(&adopted, &read(Some("f"), 4, Some("f"))),
            Some(HeldBack::WentBack { version: 4 })
        );
    }

    #[test]
    fn a_store_without_identity_gets_one_with_its_next_write() {
        // Empty at start-up, then written.
        assert_eq!(judge(&read(None, 0, None), &read(Some("e"), 1, None)), None);
        // Written before identities existed, then by a writer that gives it one.
        let old = read(None, 42, None);
        assert_eq!(judge(&old, &read(Some("e"), 43, None)), None);
        assert_eq!(judge(&old, &read(None, 42, None)), None);
        assert_eq!(judge(&old, &read(None, 0, None)), Some(HeldBack::Emptied));
        assert_eq!(
            judge(&old, &read(None, 7, None)),
            Some(HeldBack::WentBack { version: 7 })
        );
        // Emptied, then written anew: fewer writes than held.
        assert!(matches!(
            judge(&old, &read(Some("e"), 1, None)),
            Some(HeldBack::Replaced { .. })
        ));
    }
}
