//! Sources an application adds to a runtime, and re-reading one source without the others:
//! what a file watcher or a store's subscriber thread calls when it has something new.

use std::fmt;

use crate::report::Report;
use crate::runtime::Runtime;
use crate::sources::{Source, SourceId, overrides_path};
use crate::writer::OVERRIDES_FILE;

/// A source added to a runtime with [`Runtime::add_source`]: re-reads it, or removes it.
///
/// Dropping the handle leaves the source in place.
pub struct SourceHandle {
    runtime: &'static Runtime,
    id: SourceId,
}

impl SourceHandle {
    /// Reads this source again, alone, and swaps in the configuration that results; returns
    /// the report of the configuration then in force. What the source gets wrong is reported
    /// and its last good values stay.
    pub fn reload(&self) -> Report {
        self.runtime.reload_source(self.id)
    }

    /// Adds `keys` to segment `segment` in what this source last gave, without reading the
    /// source again, and swaps in the configuration that results: for a source that learns
    /// of changes one at a time (a store's follower applying an announced change), at a cost
    /// that grows with the keys changed, not with the segment. The source's own
    /// [`Source::load`](crate::Source::load) must give the same keys from then on.
    pub fn add_to_segment<'k>(
        &self,
        segment: &str,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> Result<(), crate::SegmentError> {
        self.change_segment(segment, keys, true)
    }

    /// Removes `keys` from segment `segment` in what this source last gave; see
    /// [`SourceHandle::add_to_segment`].
    pub fn remove_from_segment<'k>(
        &self,
        segment: &str,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> Result<(), crate::SegmentError> {
        self.change_segment(segment, keys, false)
    }

    fn change_segment<'k>(
        &self,
        segment: &str,
        keys: impl IntoIterator<Item = &'k str>,
        add: bool,
    ) -> Result<(), crate::SegmentError> {
        let index = crate::sources::segment_index(self.runtime.catalog(), segment)?;
        let keys: Vec<std::sync::Arc<str>> = keys.into_iter().map(Into::into).collect();
        self.runtime
            .change_source_segment(self.id, index, &keys, add);
        Ok(())
    }

    /// Sets flag `index` to `entry` (takes its setting away when `None`) in what this source
    /// last gave, without reading the source again, and swaps in the configuration that
    /// results: a store's follower applying an announced override, at a cost that does not
    /// grow with the segments' keys. The entry is valid; the source's own `load` must give
    /// the same from then on.
    #[cfg(feature = "redis")]
    pub(crate) fn set_entry(
        &self,
        index: usize,
        entry: Option<(flags_model::Setting, crate::sources::Origin)>,
    ) {
        self.runtime.change_source_setting(self.id, index, entry);
    }

    /// Removes the source and everything it set, and swaps in the configuration that results.
    pub fn remove(self) -> Report {
        let id = self.id;
        let ((), report) = self.runtime.change_writer(|writer, _, _| {
            writer.remove_source(id);
        });
        report
    }

    /// The runtime the source belongs to.
    pub fn runtime(&self) -> &'static Runtime {
        self.runtime
    }
}

impl fmt::Debug for SourceHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceHandle")
            .field("source", &self.id.0)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Adds a source of overrides, reads it, and swaps in the configuration that results.
    ///
    /// Added sources rank below environment variables and above the overrides file; among
    /// themselves, the one added first ranks highest. Programmatic overrides and test stubs
    /// rank above all of them. The handle re-reads the source when it has something new.
    pub fn add_source(&'static self, source: impl Source + 'static) -> SourceHandle {
        let (id, _) = self.change_writer(|writer, catalog, vars| {
            writer.add_source(Box::new(source), catalog, vars)
        });
        SourceHandle { runtime: self, id }
    }

    /// Reads the overrides file (named by `FLAGS_OVERRIDES`, or the variable `flags.toml`'s
    /// `[overrides]` names) again, alone, and swaps in the configuration that results. A
    /// file that does not parse or validate is rejected whole, reported with its line, and
    /// its last good contents stay.
    pub fn reload_overrides_file(&'static self) -> Report {
        self.reload_source(OVERRIDES_FILE)
    }

    /// The overrides file named by the file variable now, if one is.
    pub fn overrides_file(&'static self) -> Option<std::path::PathBuf> {
        overrides_path(self.catalog(), self.vars())
    }

    fn reload_source(&'static self, id: SourceId) -> Report {
        let ((), report) = self.change_writer(|writer, catalog, vars| {
            writer.reread_source(id, catalog, vars);
        });
        report
    }
}
