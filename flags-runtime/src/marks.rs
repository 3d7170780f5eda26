//! The words a runtime publishes its flags in, and why a word is marked for the slow path:
//! a test stub somewhere, a task keeping a configuration in which the flag differs,
//! listeners that want every check, or a flag's presence asked for (whether it is checked at
//! all, until its next check). Stubs and task scopes set and clear the marks here without
//! knowing the runtime they belong to.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::resolution::{Resolution, Resolved};
use crate::slot::{self, LOCAL, OBSERVED};
use crate::sync::lock;

/// One runtime's published words and their marks.
pub(crate) struct Words {
    slots: &'static [AtomicU64],
    marks: Mutex<Marks>,
    /// Per flag, whether its presence is asked for and whether it has been checked since:
    /// read on the slow path without the lock. Made at the first [`Words::arm_presence`].
    presence: OnceLock<Box<[AtomicU8]>>,
    /// Whether someone asks for presence ([`Words::claim_presence`]): one at a time, since
    /// each round takes what the checks noted.
    presence_claimed: AtomicBool,
}

/// A flag's presence: not asked for, asked for, or checked since it was asked for. Asked
/// for by the store's evaluation counts (feature `redis`) only.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
const IDLE: u8 = 0;
const ARMED: u8 = 1;
const SEEN: u8 = 2;

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
    /// Per flag, whether its next check is wanted on the slow path, to note its presence.
    armed: Vec<bool>,
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
                armed: Vec::new(),
            }),
            presence: OnceLock::new(),
            presence_claimed: AtomicBool::new(false),
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

    /// Asks for every flag's presence from now on: each flag's next check takes the slow
    /// path once, which notes it ([`Words::note_presence`]). Returns the flags checked since
    /// the previous call.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn arm_presence(&self) -> Vec<usize> {
        let states = self
            .presence
            .get_or_init(|| (0..self.slots.len()).map(|_| AtomicU8::new(IDLE)).collect());
        // Armed before the words are marked, so that no check between the two is lost.
        let seen = states
            .iter()
            .enumerate()
            .filter(|(_, state)| state.swap(ARMED, Ordering::SeqCst) == SEEN)
            .map(|(index, _)| index)
            .collect();
        let mut marks = lock(&self.marks);
        marks.armed = vec![true; self.slots.len()];
        for index in 0..self.slots.len() {
            self.apply(&marks, index);
        }
        seen
    }

    /// Takes the asking for presence for the caller; false while someone else has it, until
    /// [`Words::disarm_presence`].
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn claim_presence(&self) -> bool {
        self.presence_claimed
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// No flag's presence is asked for any longer: every check is as before, and someone
    /// else may claim it.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn disarm_presence(&self) {
        if let Some(states) = self.presence.get() {
            for state in states.iter() {
                state.store(IDLE, Ordering::SeqCst);
            }
        }
        let mut marks = lock(&self.marks);
        marks.armed.clear();
        for index in 0..self.slots.len() {
            self.apply(&marks, index);
        }
        drop(marks);
        self.presence_claimed.store(false, Ordering::SeqCst);
    }

    /// Whether flag `index`'s presence is asked for and not yet noted.
    #[inline]
    pub(crate) fn presence_armed(&self, index: usize) -> bool {
        self.presence
            .get()
            .and_then(|states| states.get(index))
            .is_some_and(|state| state.load(Ordering::Relaxed) == ARMED)
    }

    /// Flag `index` was checked: notes its presence if asked for, and gives its word back
    /// to the fast path.
    #[inline]
    pub(crate) fn note_presence(&self, index: usize) {
        let Some(state) = self.presence.get().and_then(|states| states.get(index)) else {
            return;
        };
        // Read first: a compare-and-swap on every slow check would contend for the line.
        if state.load(Ordering::Relaxed) != ARMED {
            return;
        }
        let noted = state
            .compare_exchange(ARMED, SEEN, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok();
        if noted {
            let mut marks = lock(&self.marks);
            if let Some(armed) = marks.armed.get_mut(index) {
                *armed = false;
            }
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
        let observed = marks.observed || marks.armed.get(index).copied().unwrap_or(false);
        let bits = if local { LOCAL } else { 0 } | if observed { OBSERVED } else { 0 };
        let _ = slot.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |old| {
            Some((old & !(LOCAL | OBSERVED)) | bits)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slot::{FAST, FAST_MASK};

    fn words(count: usize) -> Words {
        let slots: Vec<AtomicU64> = (0..count).map(|_| AtomicU64::new(FAST)).collect();
        Words::new(Vec::leak(slots))
    }

    fn observed(words: &Words, index: usize) -> bool {
        words
            .load(index, Ordering::SeqCst)
            .is_some_and(|word| word & FAST_MASK != FAST)
    }

    #[test]
    fn a_flag_asked_for_leaves_the_fast_path_until_its_first_check() {
        let words = words(3);
        assert!(words.arm_presence().is_empty());
        assert!((0..3).all(|index| observed(&words, index) && words.presence_armed(index)));
        words.note_presence(1);
        words.note_presence(1);
        assert!(
            !observed(&words, 1) && !words.presence_armed(1),
            "checked: fast again"
        );
        assert!(
            observed(&words, 0) && observed(&words, 2),
            "not checked yet"
        );
        // The next round reports what was checked, and asks again.
        assert_eq!(words.arm_presence(), vec![1]);
        assert!(observed(&words, 1));
        assert!(words.arm_presence().is_empty(), "nothing checked since");
        words.disarm_presence();
        assert!((0..3).all(|index| !observed(&words, index) && !words.presence_armed(index)));
        words.note_presence(0);
        assert!(
            words.arm_presence().is_empty(),
            "a check while not asked is not noted"
        );
    }

    #[test]
    fn presence_keeps_the_other_marks() {
        let words = words(2);
        words.stub_acquired(0);
        words.arm_presence();
        words.note_presence(0);
        assert!(observed(&words, 0), "still stubbed");
        words.stub_released(0);
        assert!(!observed(&words, 0));
        words.set_observed(true);
        words.disarm_presence();
        assert!(observed(&words, 1), "listeners still want every check");
    }
}
