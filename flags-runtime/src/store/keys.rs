//! The names of the keys and the channel of one environment (layout version 1).

/// The first part of every key: the toolkit's name and the layout's version. A layout that
/// changes incompatibly gets a new version, so that old and new processes can run side by
/// side during a rolling upgrade.
pub const KEY_PREFIX: &str = "flags:v1";

/// The keys and the channel of one environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    environment: String,
}

impl Keys {
    /// The keys of `environment`.
    pub fn new(environment: &str) -> Self {
        Self {
            environment: environment.to_owned(),
        }
    }

    /// The hash of overrides: flag key → the override's TOML text.
    pub fn overrides(&self) -> String {
        format!("{KEY_PREFIX}:{}:overrides", self.environment)
    }

    /// The set of context keys added to `segment`.
    pub fn segment_added(&self, segment: &str) -> String {
        format!("{KEY_PREFIX}:{}:segment:{segment}:added", self.environment)
    }

    /// The set of context keys removed from `segment`.
    pub fn segment_removed(&self, segment: &str) -> String {
        format!(
            "{KEY_PREFIX}:{}:segment:{segment}:removed",
            self.environment
        )
    }

    /// The counter of writes.
    pub fn version(&self) -> String {
        format!("{KEY_PREFIX}:{}:version", self.environment)
    }

    /// The channel each write is announced on.
    pub fn channel(&self) -> String {
        format!("{KEY_PREFIX}:{}:changes", self.environment)
    }

    /// The store's identity: a random id that the first write creates. A store that comes
    /// back without it (or with another) was emptied or replaced.
    pub fn epoch(&self) -> String {
        format!("{KEY_PREFIX}:{}:epoch", self.environment)
    }

    /// The identity an operator adopted as the fleet's truth (`flags store reset --confirm`,
    /// `flags store restore`): followers follow it even though it is new to them.
    pub fn adopted(&self) -> String {
        format!("{KEY_PREFIX}:{}:adopted", self.environment)
    }

    /// The last good state a follower held when it found the store emptied, replaced or gone
    /// back, as an export document; while it exists, writes are refused.
    pub fn recovery(&self) -> String {
        format!("{KEY_PREFIX}:{}:recovery", self.environment)
    }

    /// The stream of the audit log: one entry per change.
    pub fn audit(&self) -> String {
        format!("{KEY_PREFIX}:{}:audit", self.environment)
    }

    /// The hash of evaluations of `flag` counted in minute `minute` (since 1970): value →
    /// count.
    pub fn counts_minute(&self, minute: u64, flag: &str) -> String {
        format!(
            "{KEY_PREFIX}:{}:counts:minute:{minute}:{flag}",
            self.environment
        )
    }

    /// The hash of evaluations of `flag` counted in hour `hour` (since 1970): value → count.
    pub fn counts_hour(&self, hour: u64, flag: &str) -> String {
        format!(
            "{KEY_PREFIX}:{}:counts:hour:{hour}:{flag}",
            self.environment
        )
    }

    /// The hash of when each flag's evaluations were last counted: flag key → seconds since
    /// 1970.
    pub fn counts_seen(&self) -> String {
        format!("{KEY_PREFIX}:{}:counts:seen", self.environment)
    }

    /// A name remembered for a while ([`RedisStore::remember`](super::RedisStore::remember)):
    /// a webhook delivery already applied.
    pub fn seen(&self, name: &str) -> String {
        format!("{KEY_PREFIX}:{}:seen:{name}", self.environment)
    }

    /// The environment these keys are of.
    pub fn environment(&self) -> &str {
        &self.environment
    }
}

/// A new identity for a store: 122 random bits, written as a UUID (version 4) so that it
/// reads as one. Without the system's random source (it does not fail on supported
/// systems), the clock, the process and a counter make it unique all the same.
pub(super) fn fresh_identity() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mixed = nanos ^ (u128::from(std::process::id()) << 64) ^ u128::from(count) << 96;
        bytes = mixed.to_be_bytes();
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_uuids_and_differ() {
        let one = fresh_identity();
        let two = fresh_identity();
        assert_ne!(one, two);
        assert_eq!(one.len(), 36);
        assert_eq!(one.as_bytes()[14], b'4', "{one}");
        assert!(
            one.chars().all(|c| c == '-' || c.is_ascii_hexdigit()),
            "{one}"
        );
    }
}
