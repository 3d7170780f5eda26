//! Following the store: a thread of its own reads it and hands each complete read to the
//! runtime.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flags_model::Catalog;
use redis::{Client, Connection};

use super::read::{Fetched, fetch};
use super::{Keys, NETWORK_TIMEOUT, StoreError, environment_position, open};
use crate::live::SourceHandle;
use crate::report::Problem;
use crate::runtime::{Runtime, lock};
use crate::sources::{Layer, Loaded, Source, Vars};

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
