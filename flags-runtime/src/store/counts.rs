//! Evaluation counts in the store: a process that opts in counts its evaluations per flag and
//! value (never per user) and adds them to the store's time buckets; the console reads them.
//!
//! Counting every check would cost every check: a registered listener sends all of them to
//! the slow path (~80 ns instead of ~0.6 ns). So by default the reporter **samples**: it
//! registers its counter for a short window (250 ms) once per period (10 s), then removes it,
//! and scales what it counted by period / window. Between windows every check takes the fast
//! path, untouched; on average a check costs about 2.5 % of the slow path more. The figures
//! are estimates: a flag checked a few times a minute shows in the hour's chart, one checked
//! once a day may fall between the windows. Whether a flag is checked at all is not left to
//! chance: at each period the reporter asks for every flag's presence, so that each flag's
//! first check after it takes the slow path once and is noted, and the store's "last seen"
//! of a flag checked once a day is still right to the period. That costs one slow check per
//! flag and period. [`CountOptions::always`] counts every check, at the listener's full
//! price. `BENCHMARKS.md` has the measured cost of both.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use flags_model::Catalog;
use redis::{Client, Connection};

use super::{Keys, StoreError, connect, environment_for, open, redis_error};
use crate::events::EvaluationCounter;
use crate::runtime::Runtime;
use crate::sync::lock;

/// How long a minute's bucket stays: a day and an hour, so the last day's minutes are all
/// there.
const MINUTE_TTL: u64 = 25 * 3600;
/// How long an hour's bucket stays.
const HOUR_TTL: u64 = 8 * 24 * 3600;

/// How a process counts its evaluations for the store.
#[derive(Clone, Debug)]
pub struct CountOptions {
    url: String,
    environment: Option<String>,
    window: Duration,
    period: Duration,
}

impl CountOptions {
    /// Counts for the store at `url`, in the runtime's environment, sampling a 250 ms window
    /// every 10 s.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            environment: None,
            window: Duration::from_millis(250),
            period: Duration::from_secs(10),
        }
    }

    /// Counts under `environment`'s keys rather than the runtime's environment.
    pub fn environment(mut self, environment: &str) -> Self {
        self.environment = Some(environment.to_owned());
        self
    }

    /// Listens for `window` once every `period` and scales by `period / window` (a window
    /// longer than the period counts all the time). Longer windows see rarer flags, and
    /// cost more: the fraction `window / period` of checks takes the slow path.
    pub fn sample(mut self, window: Duration, period: Duration) -> Self {
        self.period = period.max(Duration::from_millis(1));
        self.window = window.clamp(Duration::from_millis(1), self.period);
        self
    }

    /// Counts every evaluation, sending each `period`: exact, and every check takes the slow
    /// path while the reporter runs.
    pub fn always(mut self, period: Duration) -> Self {
        self.period = period.max(Duration::from_millis(1));
        self.window = self.period;
        self
    }
}

/// What a reporter has done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CountStatus {
    /// How many times counts were sent to the store.
    pub sent: u64,
    /// The last error sending them, until a send succeeds (the counts are kept for the next).
    pub error: Option<String>,
}

/// Sends a runtime's evaluation counts to the store until dropped (then it sends what it
/// counted last). Made by [`Runtime::report_counts`].
pub struct CountReporter {
    stop: Arc<AtomicBool>,
    status: Arc<Mutex<CountStatus>>,
    thread: Option<JoinHandle<()>>,
}

impl CountReporter {
    /// What the reporter has done so far.
    pub fn status(&self) -> CountStatus {
        lock(&self.status).clone()
    }
}

impl Drop for CountReporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for CountReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountReporter")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Counts this runtime's evaluations per flag and value, as [`CountOptions`] says
    /// (sampled by default, so that checks keep their fast path), and adds them every period
    /// to the store's per-minute and per-hour buckets. A thread of its own does it; a flag
    /// check never waits on it, and counts that cannot be sent (Redis away) are kept and sent
    /// with the next.
    ///
    /// Refused only for a URL that is not a Redis URL, an unknown environment, or while
    /// another reporter of this runtime runs ([`StoreError::AlreadyCounting`]).
    pub fn report_counts(
        &'static self,
        options: CountOptions,
    ) -> Result<CountReporter, StoreError> {
        let catalog = self.catalog();
        let environment = environment_for(self, options.environment.as_deref())?;
        let (client, server) = open(&options.url)?;
        if !self.claim_presence() {
            return Err(StoreError::AlreadyCounting);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let status = Arc::new(Mutex::new(CountStatus::default()));
        let mut sampler = Sampler {
            runtime: self,
            catalog,
            client,
            server: server.clone(),
            connection: None,
            keys: Keys::new(&environment),
            options,
            stop: Arc::clone(&stop),
            status: Arc::clone(&status),
            pending: BTreeMap::new(),
            present: BTreeSet::new(),
        };
        // Asked before the thread starts, so that a check made as soon as this returns counts.
        self.arm_presence();
        let thread = std::thread::Builder::new()
            .name("flags-count-evaluations".into())
            .spawn(move || sampler.run())
            .map_err(|error| {
                self.disarm_presence();
                StoreError::Redis {
                    server,
                    message: format!("cannot start the counting thread: {error}"),
                }
            })?;
        Ok(CountReporter {
            stop,
            status,
            thread: Some(thread),
        })
    }
}

/// The reporter's thread.
struct Sampler {
    runtime: &'static Runtime,
    catalog: &'static Catalog,
    client: Client,
    server: String,
    connection: Option<Connection>,
    keys: Keys,
    options: CountOptions,
    stop: Arc<AtomicBool>,
    status: Arc<Mutex<CountStatus>>,
    /// Counts not sent yet: (flag key, value as TOML) → estimated evaluations.
    pending: BTreeMap<(String, String), u64>,
    /// Flags checked (their presence noted) and not sent yet.
    present: BTreeSet<String>,
}

impl Sampler {
    fn run(&mut self) {
        let counter = Arc::new(EvaluationCounter::new());
        let always = self.options.window >= self.options.period;
        let mut listening = always.then(|| self.runtime.add_listener(counter.clone()));
        loop {
            if !always {
                self.sleep(self.options.period - self.options.window);
                if !self.stopped() {
                    listening = Some(self.runtime.add_listener(counter.clone()));
                }
            }
            self.sleep(self.options.window);
            if !always {
                if let Some(id) = listening.take() {
                    self.runtime.remove_listener(id);
                }
            }
            for index in self.runtime.arm_presence() {
                if let Some(flag) = self.catalog.flags().get(index) {
                    self.present.insert(flag.key().to_owned());
                }
            }
            let scale = self.options.period.as_secs_f64() / self.options.window.as_secs_f64();
            for count in counter.take() {
                let estimate = (count.count as f64 * scale).round() as u64;
                *self
                    .pending
                    .entry((count.flag.to_owned(), count.value.to_toml()))
                    .or_default() += estimate;
            }
            self.send();
            if self.stopped() {
                break;
            }
        }
        if let Some(id) = listening {
            self.runtime.remove_listener(id);
        }
        self.runtime.disarm_presence();
    }

    /// Adds the pending counts to the store's buckets, and marks the flags seen; on failure
    /// keeps both for next time.
    fn send(&mut self) {
        if self.pending.is_empty() && self.present.is_empty() {
            return;
        }
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let (minute, hour) = (seconds / 60, seconds / 3600);
        let mut pipe = redis::pipe();
        let mut flags = Vec::new();
        for ((flag, value), count) in &self.pending {
            // Only flags of this catalog name keys; the others were counted by mistake.
            if self.catalog.find(flag).is_none() {
                continue;
            }
            pipe.hincr(self.keys.counts_minute(minute, flag), value, *count)
                .ignore()
                .hincr(self.keys.counts_hour(hour, flag), value, *count)
                .ignore();
            if flags.last() != Some(flag) {
                flags.push(flag.clone());
            }
        }
        for flag in &flags {
            pipe.expire(self.keys.counts_minute(minute, flag), MINUTE_TTL as i64)
                .ignore()
                .expire(self.keys.counts_hour(hour, flag), HOUR_TTL as i64)
                .ignore()
                .hset(self.keys.counts_seen(), flag, seconds)
                .ignore();
        }
        for flag in self
            .present
            .iter()
            .filter(|flag| flags.binary_search(flag).is_err())
        {
            pipe.hset(self.keys.counts_seen(), flag, seconds).ignore();
        }
        let server = self.server.clone();
        let result = self.connection().and_then(|connection| {
            pipe.query::<()>(connection)
                .map_err(|error| redis_error(&server, &error))
        });
        let mut status = lock(&self.status);
        match result {
            Ok(()) => {
                self.pending.clear();
                self.present.clear();
                status.sent += 1;
                status.error = None;
            }
            Err(error) => {
                self.connection = None;
                status.error = Some(error.to_string());
            }
        }
    }

    fn connection(&mut self) -> Result<&mut Connection, StoreError> {
        if self.connection.is_none() {
            self.connection = Some(connect(&self.client, &self.server)?);
        }
        self.connection.as_mut().ok_or_else(|| StoreError::Redis {
            server: self.server.clone(),
            message: "no connection".to_owned(),
        })
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps `wait`, or less when asked to stop.
    fn sleep(&self, wait: Duration) {
        let deadline = Instant::now() + wait;
        while !self.stopped() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
        }
    }
}

/// The evaluations of one flag counted in the store, by value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlagCounts {
    /// The last 60 minutes, oldest first: (minute since 1970, counts by value).
    pub minutes: Vec<(u64, BTreeMap<String, u64>)>,
    /// The last 24 hours, oldest first: (hour since 1970, counts by value).
    pub hours: Vec<(u64, BTreeMap<String, u64>)>,
    /// When an evaluation was last counted, in seconds since 1970.
    pub last_seen: Option<u64>,
}

impl FlagCounts {
    /// The last hour's count per value.
    pub fn last_hour(&self) -> BTreeMap<String, u64> {
        sum(&self.minutes)
    }

    /// The last day's count per value.
    pub fn last_day(&self) -> BTreeMap<String, u64> {
        sum(&self.hours)
    }
}

fn sum(buckets: &[(u64, BTreeMap<String, u64>)]) -> BTreeMap<String, u64> {
    let mut total = BTreeMap::new();
    for (_, counts) in buckets {
        for (value, count) in counts {
            *total.entry(value.clone()).or_default() += count;
        }
    }
    total
}

/// Reads the counts of `flags` at `now` (seconds since 1970): per flag, the last hour by
/// minute and the last day by hour, in one round trip.
pub(super) fn read_counts(
    connection: &mut Connection,
    server: &str,
    keys: &Keys,
    flags: &[&str],
    now: u64,
) -> Result<Vec<FlagCounts>, StoreError> {
    let (minute, hour) = (now / 60, now / 3600);
    let minutes: Vec<u64> = (0..60)
        .rev()
        .map(|ago| minute.saturating_sub(ago))
        .collect();
    let hours: Vec<u64> = (0..24).rev().map(|ago| hour.saturating_sub(ago)).collect();
    let mut pipe = redis::pipe();
    pipe.hgetall(keys.counts_seen());
    for flag in flags {
        for minute in &minutes {
            pipe.hgetall(keys.counts_minute(*minute, flag));
        }
        for hour in &hours {
            pipe.hgetall(keys.counts_hour(*hour, flag));
        }
    }
    let mut results: std::vec::IntoIter<redis::Value> = pipe
        .query::<Vec<redis::Value>>(connection)
        .map_err(|error| redis_error(server, &error))?
        .into_iter();
    let mut next = || -> BTreeMap<String, u64> {
        results
            .next()
            .and_then(|value| redis::FromRedisValue::from_redis_value(value).ok())
            .unwrap_or_default()
    };
    let seen = next();
    Ok(flags
        .iter()
        .map(|flag| FlagCounts {
            minutes: minutes.iter().map(|m| (*m, next())).collect(),
            hours: hours.iter().map(|h| (*h, next())).collect(),
            last_seen: seen.get(*flag).copied(),
        })
        .collect())
}
