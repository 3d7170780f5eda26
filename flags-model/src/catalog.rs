//! The validated contents of `flags.toml`.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use crate::lints::Lints;
use crate::naming;
use crate::targeting::{Requirement, Rollout, Segment, Setting};
use crate::value::{FlagType, Value};

/// Everything `flags.toml` declares, validated: environments, override settings and flags
/// in file order. A flag's position in [`Catalog::flags`] is its index everywhere (the
/// generated code, the runtime's tables).
#[derive(Clone, Debug, PartialEq)]
pub struct Catalog {
    pub(crate) environments: Environments,
    pub(crate) overrides: OverrideSettings,
    pub(crate) lints: Lints,
    pub(crate) segments: Vec<Segment>,
    pub(crate) flags: Vec<Flag>,
    /// Flag indexes by key and by accessor, and segment indexes by name: a lookup costs the
    /// same in a file of ten flags and in one of ten thousand.
    pub(crate) index: Index,
}

/// Where each name is in a [`Catalog`].
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Index {
    keys: HashMap<String, usize>,
    accessors: HashMap<String, usize>,
    segments: HashMap<String, usize>,
}

impl Index {
    pub(crate) fn of(flags: &[Flag], segments: &[Segment]) -> Self {
        let mut index = Index::default();
        // The first of two equal names wins, as a search in file order would find it.
        for (position, flag) in flags.iter().enumerate() {
            index.keys.entry(flag.key.clone()).or_insert(position);
            index
                .accessors
                .entry(flag.accessor.clone())
                .or_insert(position);
        }
        for (position, segment) in segments.iter().enumerate() {
            index
                .segments
                .entry(segment.name.clone())
                .or_insert(position);
        }
        index
    }
}

/// The `[environments]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Environments {
    pub(crate) names: Vec<String>,
    pub(crate) variable: String,
    pub(crate) default: Option<usize>,
}

/// The variable that names the Redis store a process follows and the `flags` command writes
/// (`redis://host:6379`). It starts with the default override prefix, so no flag may take
/// it, and it is never reported as a variable that overrides no flag.
pub const REDIS_URL_VARIABLE: &str = "FLAGS_REDIS_URL";

/// The `[overrides]` table: how a running process can change flag values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverrideSettings {
    pub(crate) env_prefix: String,
    pub(crate) file_variable: String,
}

/// One flag.
#[derive(Clone, Debug, PartialEq)]
pub struct Flag {
    pub(crate) key: String,
    pub(crate) accessor: String,
    pub(crate) type_name: Option<String>,
    pub(crate) description: String,
    pub(crate) owner: Option<String>,
    pub(crate) ticket: Option<String>,
    pub(crate) expires: Option<Date>,
    pub(crate) flag_type: FlagType,
    pub(crate) default: Value,
    pub(crate) environments: Vec<Option<Setting>>,
    pub(crate) requires: Vec<Requirement>,
    pub(crate) span: Range<usize>,
    pub(crate) line: usize,
}

/// A calendar date (`expires = 2027-03-31`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year, e.g. 2027.
    pub year: u16,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day of the month, 1 to 31.
    pub day: u8,
}

impl Catalog {
    /// The environments.
    pub fn environments(&self) -> &Environments {
        &self.environments
    }

    /// How values can be overridden at run time.
    pub fn overrides(&self) -> &OverrideSettings {
        &self.overrides
    }

    /// The `[lints]` table: what `flags check` reports, and how strictly.
    pub fn lints(&self) -> &Lints {
        &self.lints
    }

    /// All flags, in file order.
    pub fn flags(&self) -> &[Flag] {
        &self.flags
    }

    /// All segments, in file order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// A segment by name, with its index.
    pub fn segment(&self, name: &str) -> Option<(usize, &Segment)> {
        let index = *self.index.segments.get(name)?;
        Some((index, self.segments.get(index)?))
    }

    /// A flag by its key (`product-TASKS-103-comments`) or its accessor name
    /// (`product_tasks_103_comments`), with its index.
    pub fn find(&self, name: &str) -> Option<(usize, &Flag)> {
        let index = self
            .index
            .keys
            .get(name)
            .or_else(|| self.index.accessors.get(name))?;
        Some((*index, self.flags.get(*index)?))
    }

    /// The flag key closest to a misspelt `name`.
    pub fn suggest(&self, name: &str) -> Option<&str> {
        naming::suggest(name, self.flags.iter().map(|f| f.key.as_str()))
    }

    /// "unknown flag `x`; did you mean `y`?"
    pub fn unknown_flag_message(&self, name: &str) -> String {
        match self.suggest(name) {
            Some(s) => format!("unknown flag `{name}`; did you mean `{s}`?"),
            None => format!("unknown flag `{name}`"),
        }
    }

    /// The environment variable that overrides `flag`.
    pub fn env_var(&self, flag: &Flag) -> String {
        naming::env_var_name(&self.overrides.env_prefix, &flag.accessor)
    }
}

impl Environments {
    /// Environment names, in declaration order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The variable that selects the environment at run time (`APP_ENV`).
    pub fn variable(&self) -> &str {
        &self.variable
    }

    /// The environment used when the variable is unset, if there is one.
    pub fn default(&self) -> Option<usize> {
        self.default
    }

    /// The index of an environment name.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}

impl OverrideSettings {
    /// Prefix of the per-flag override variables (`FLAGS_`).
    pub fn env_prefix(&self) -> &str {
        &self.env_prefix
    }

    /// The variable holding the overrides file's path (`FLAGS_OVERRIDES`).
    pub fn file_variable(&self) -> &str {
        &self.file_variable
    }
}

impl Flag {
    /// The key as written in `flags.toml`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The accessor's name: `Flags::<accessor>()`.
    pub fn accessor(&self) -> &str {
        &self.accessor
    }

    /// The generated enum's name, for variant flags (`CheckoutFlow`).
    pub fn type_name(&self) -> Option<&str> {
        self.type_name.as_deref()
    }

    /// What the flag does.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Who owns the flag.
    pub fn owner(&self) -> Option<&str> {
        self.owner.as_deref()
    }

    /// The ticket that tracks it.
    pub fn ticket(&self) -> Option<&str> {
        self.ticket.as_deref()
    }

    /// The date after which it should be gone.
    pub fn expires(&self) -> Option<Date> {
        self.expires
    }

    /// Whether it is past its `expires` date on `today`.
    pub fn is_expired(&self, today: Date) -> bool {
        self.expires.is_some_and(|e| e < today)
    }

    /// Its type.
    pub fn flag_type(&self) -> &FlagType {
        &self.flag_type
    }

    /// Its `default`.
    pub fn default(&self) -> &Value {
        &self.default
    }

    /// What environment `index` sets, if anything.
    pub fn environment_setting(&self, index: usize) -> Option<&Setting> {
        self.environments.get(index).and_then(Option::as_ref)
    }

    /// What the flag serves in `environment` (its own setting, else its default); its default
    /// when there is no environment.
    pub fn setting_in(&self, environment: Option<usize>) -> Setting {
        environment
            .and_then(|e| self.environment_setting(e))
            .cloned()
            .unwrap_or_else(|| Setting::Value(self.default.clone()))
    }

    /// The flag's own rollout in `environment` (see [`Setting::rollout`]), else its first
    /// in any environment: the `group` and `bucket_by` that a rollout in an overrides file
    /// or the store keeps when it sets neither, so that ramping up re-buckets nobody.
    pub fn rollout_in(&self, environment: Option<usize>) -> Option<&Rollout> {
        environment
            .and_then(|e| self.environment_setting(e))
            .and_then(Setting::rollout)
            .or_else(|| {
                self.environments
                    .iter()
                    .flatten()
                    .find_map(Setting::rollout)
            })
    }

    /// The flags that must have given values for this one to be evaluated.
    pub fn requires(&self) -> &[Requirement] {
        &self.requires
    }

    /// Byte range of its key in `flags.toml`.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The line of `flags.toml` that declares it.
    pub fn line(&self) -> usize {
        self.line
    }
}

impl Date {
    /// Today's date in UTC, or the date of `SOURCE_DATE_EPOCH` when that is set (so that
    /// reproducible builds see a fixed day).
    pub fn today() -> Date {
        let seconds = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64)
            });
        Date::from_days_since_epoch(seconds.div_euclid(86_400))
    }

    /// Days from 1970-01-01 to this date (negative before it).
    pub fn days_since_epoch(self) -> i64 {
        let (year, month, day) = (
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        // Years start in March so that the leap day ends them.
        let year = if month <= 2 { year - 1 } else { year };
        let era = year.div_euclid(400);
        let year_of_era = year.rem_euclid(400);
        let shifted_month = (month + 9) % 12;
        let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The civil date `days` after 1970-01-01 (proleptic Gregorian calendar).
    pub fn from_days_since_epoch(days: i64) -> Date {
        // Days outside what a `Date` holds are its first or its last day.
        let first = Date {
            year: 0,
            month: 1,
            day: 1,
        };
        let last = Date {
            year: u16::MAX,
            month: 12,
            day: 31,
        };
        let days = days.clamp(first.days_since_epoch(), last.days_since_epoch());
        // Shift to an era starting on 0000-03-01 so leap days fall at the end of a year.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let shifted_month = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
        let month = if shifted_month < 10 {
            shifted_month + 3
        } else {
            shifted_month - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        Date {
            year: year.clamp(0, i64::from(u16::MAX)) as u16,
            month: month as u8,
            day: day as u8,
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_from_epoch_days() {
        let d = |y, m, day| Date {
            year: y,
            month: m,
            day,
        };
        assert_eq!(Date::from_days_since_epoch(0), d(1970, 1, 1));
        assert_eq!(Date::from_days_since_epoch(59), d(1970, 3, 1));
        assert_eq!(Date::from_days_since_epoch(11_016), d(2000, 2, 29));
        assert_eq!(Date::from_days_since_epoch(20_543), d(2026, 3, 31));
        assert_eq!(Date::from_days_since_epoch(-1), d(1969, 12, 31));
        for days in [-700_000, -1, 0, 59, 11_016, 20_543, 2_932_896] {
            assert_eq!(Date::from_days_since_epoch(days).days_since_epoch(), days);
        }
        assert_eq!(d(2027, 3, 31).to_string(), "2027-03-31");
        // A day before year 0 or after year 65535 (a SOURCE_DATE_EPOCH far off) is the
        // first or last day a date holds, not a mix of the two.
        for (days, date) in [
            (-719_528, d(0, 1, 1)),
            (-719_529, d(0, 1, 1)),
            (i64::MIN, d(0, 1, 1)),
            (i64::MAX, d(u16::MAX, 12, 31)),
        ] {
            assert_eq!(Date::from_days_since_epoch(days), date, "{days}");
        }
        assert_eq!(d(0, 1, 1).to_string(), "0000-01-01");
        assert!(d(2026, 12, 31) < d(2027, 1, 1));
    }
}
