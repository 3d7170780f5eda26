//! The words a runtime publishes its flags in, and why a word is marked for the slow path:
//! a test stub somewhere, a task keeping a configuration in which the flag differs, or
//! listeners that want every check. Stubs and task scopes set and clear the marks here
//! without knowing the runtime they belong to.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::resolution::{Resolution, Resolved};
use crate::slot::{self, LOCAL, OBSERVED};
use crate::sync::lock;

/// One runtime's published words and their marks.
pub(crate) struct Words {
    slots: &'static [AtomicU64],
    marks: Mutex<Marks>,
}

/// Why flags' words carry the `LOCAL` and `OBSERVED` bits.
struct Marks {
    /// Per flag, how many stubs exist (in any thread).
    stubs: Vec<u32>,
    /// Per flag, whether some kept configuration has another value than the current one.
    diverged: Vec<bool>,
    /// How many of `diverged` are set: none is the common case, which then costs nothing
    /// per flag (a segment change in a program with many flags).
    diverged_count: usize,
    /// Whether listeners want every check.
    observed: bool,
}

impl Words {
    /// The words in `slots`, one per flag, unmarked.
    pub(crate) const fn new(slots: &'static [AtomicU64]) -> Self {
        Self {
            slots,
            marks: Mutex::new(Marks {
                stubs: Vec::new(),
                diverged: Vec::new(),
                diverged_count: 0,
                observed: false,
            }),
        }
    }

    /// How many flags there are.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Flag `index`'s word now; `None` past the last flag.
    #[inline(always)]
    pub(crate) fn load(&self, index: usize, order: Ordering) -> Option<u64> {
        self.slots.get(index).map(|slot| slot.load(order))
    }

    /// Whether flag `index`'s word is marked `LOCAL` (a stub or a kept configuration
    /// somewhere).
    #[inline(always)]
    pub(crate) fn is_local(&self, index: usize) -> bool {
        self.load(index, Ordering::Relaxed)
            .is_some_and(|word| word & LOCAL != 0)
    }

    /// Publishes each flag's word for `resolution`, keeping the marks.
    pub(crate) fn publish(&self, resolution: &Resolution) {
        for (slot, resolved) in self.slots.iter().zip(resolution.resolved.iter()) {
            let word = match resolved {
                Resolved::Static { value, .. } => slot::encode(value),
                Resolved::Dynamic(program) => program.native.map_or(slot::DYNAMIC, slot::native),
            };
            // Keep the marks, which are set and cleared concurrently.
            let _ = slot.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |old| {
                Some(word | (old & (LOCAL | OBSERVED)))
            });
        }
    }

    /// A stub of flag `index` now exists.
    pub(crate) fn stub_acquired(&self, index: usize) {
        let mut marks = lock(&self.marks);
        marks.stubs.resize(self.slots.len(), 0);
        if let Some(count) = marks.stubs.get_mut(index) {
            *count += 1;
            if *count == 1 {
                self.apply(&marks, index);
            }
        }
    }

    /// A stub of flag `index` has ended.
    pub(crate) fn stub_released(&self, index: usize) {
        let mut marks = lock(&self.marks);
        if let Some(count) = marks.stubs.get_mut(index) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.apply(&marks, index);
            }
        }
    }

    /// Sets the flags' record of divergence to `diverged` (with `keep`, only adds to it)
    /// and updates their words.
    pub(crate) fn mark_diverged(&self, diverged: &[bool], keep: bool) {
        let mut marks = lock(&self.marks);
        if diverged.is_empty() && marks.diverged_count == 0 {
            return;
        }
        marks.diverged.resize(self.slots.len(), false);
        for index in 0..self.slots.len() {
            let now = diverged.get(index).copied().unwrap_or(false);
            let was = marks.diverged[index];
            if now != was && (now || !keep) {
                marks.diverged[index] = now;
                if now {
                    marks.diverged_count += 1;
                } else {
                    marks.diverged_count -= 1;
                }
                self.apply(&marks, index);
            }
        }
    }

    /// Marks every word `OBSERVED`, or none.
    pub(crate) fn set_observed(&self, observed: bool) {
        let mut marks = lock(&self.marks);
        marks.observed = observed;
        for index in 0..self.slots.len() {
            self.apply(&marks, index);
        }
    }

    /// Sets flag `index`'s `LOCAL` and `OBSERVED` bits as `marks` say.
    fn apply(&self, marks: &Marks, index: usize) {
        let Some(slot) = self.slots.get(index) else {
            return;
        };
        let local = marks.stubs.get(index).is_some_and(|&count| count > 0)
            || marks.diverged.get(index).copied().unwrap_or(false);
        let bits = if local { LOCAL } else { 0 } | if marks.observed { OBSERVED } else { 0 };
        let _ = slot.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |old| {
            Some((old & !(LOCAL | OBSERVED)) | bits)
        });
    }
}
