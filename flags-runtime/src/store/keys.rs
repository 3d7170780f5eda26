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
}
