//! Checks the published word cannot answer: a flag evaluated per context, a value that does
//! not fit in the word, a stub or a kept configuration in this thread, listeners. Each
//! evaluates in the configuration this thread uses, kept in a thread-local cache while it is
//! current.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use flags_model::Value;

use super::{Runtime, State};
use crate::condition::Scope;
use crate::context::{self, AnyContext, Attribute};
use crate::descriptor::FromValue;
use crate::local;
use crate::resolution::{Resolution, Resolved};
use crate::scope;
use crate::slot::{self, LOCAL, OBSERVED, TAG_MASK};

thread_local! {
    /// The configuration this thread evaluated with last, and the address of its runtime.
    /// Evaluations reuse it while the runtime's generation is unchanged, which saves the
    /// shared ArcSwap's bookkeeping on every evaluation; it holds one old configuration per
    /// idle thread alive until that thread's next evaluation.
    static LAST_USED: RefCell<Option<(usize, Arc<Resolution>)>> = const { RefCell::new(None) };
}

impl Runtime {
    /// Runs `read` on the configuration now in force, taken from this thread's cache when it
    /// is still current. Re-entrant use (a context whose attributes read flags) and use while
    /// the thread is exiting fall back to the shared load.
    #[inline(always)]
    fn with_current<R>(&'static self, mut read: impl FnMut(&Resolution) -> R) -> R {
        let state = self.state();
        // A configuration held by this thread's task scope comes first.
        let held = if local::none_in_this_thread() {
            None
        } else {
            scope::held_generation(self)
        };
        let generation = held.unwrap_or_else(|| self.generation.load(Ordering::Acquire));
        let me = std::ptr::from_ref(self).addr();
        // The thread's cache is borrowed, never cloned: evaluations in request threads touch
        // no shared reference count while the configuration stays the same.
        let cached = LAST_USED.try_with(|cell| {
            let kept = cell.try_borrow().ok()?;
            let (runtime, resolution) = kept.as_ref()?;
            (*runtime == me && resolution.generation == generation).then(|| read(resolution))
        });
        match cached {
            Ok(Some(result)) => result,
            _ => self.with_loaded(state, held.is_some(), me, read),
        }
    }

    /// [`Runtime::with_current`] when this thread's cache does not have the configuration:
    /// loads it, runs `read`, and keeps it for the next evaluation.
    #[inline(never)]
    fn with_loaded<R>(
        &'static self,
        state: &State,
        held: bool,
        me: usize,
        read: impl FnOnce(&Resolution) -> R,
    ) -> R {
        let resolution = held
            .then(|| scope::held(self))
            .flatten()
            .unwrap_or_else(|| state.current.load_full());
        let result = read(&resolution);
        let _ = LAST_USED.try_with(|cell| {
            // Borrowed by an evaluation this one runs inside: that one keeps its own.
            if let Ok(mut kept) = cell.try_borrow_mut() {
                *kept = Some((me, resolution));
            }
        });
        result
    }

    /// Whether segment `segment` of the configuration in force lists the context key `key`:
    /// what the rules `declare!` compiles ask, since keys change at run time (the segment's
    /// rules are compiled with the flag's).
    #[doc(hidden)]
    pub fn segment_lists(&'static self, segment: usize, key: Option<Attribute<'_>>) -> bool {
        self.with_current(|resolution| {
            resolution
                .segments
                .get(segment)
                .is_some_and(|state| state.lists(key))
        })
    }

    /// The value of flag `index` when the fast path cannot answer: before the runtime has
    /// started, while this thread has a stub or keeps an older configuration, while
    /// listeners observe checks, for values that do not fit in the published word, and for
    /// flags evaluated per context (for the current context).
    #[cold]
    #[inline(never)]
    fn read<T: FromValue>(&'static self, index: usize, decode: fn(u64) -> T) -> T {
        let Some(mut word) = self.words.load(index, Ordering::Acquire) else {
            return self.typed_default(index);
        };
        if word & TAG_MASK == slot::UNINIT {
            self.state();
            word = self.words.load(index, Ordering::Acquire).unwrap_or(word);
        }
        let word_answers = word & TAG_MASK == slot::INLINE
            && word & OBSERVED == 0
            && (word & LOCAL == 0 || local::none_in_this_thread());
        if word_answers {
            return decode(word);
        }
        // Typed where the value is borrowed: a check moves no `Value` around.
        self.with_current(|resolution| {
            context::with_current(|current| {
                let current = current.map(|c| c as &dyn AnyContext);
                let outcome = self.outcome(resolution, index, current);
                self.report_evaluation(index, &outcome.value, &outcome.why, resolution.generation);
                self.typed(index, &outcome.value)
            })
        })
    }

    /// Flag `index` for `context`. Out of line: one copy per value type, whatever calls it.
    #[doc(hidden)]
    #[inline(never)]
    pub fn read_for<T: FromValue>(&'static self, index: usize, context: &dyn AnyContext) -> T {
        self.with_current(|resolution| self.read_for_in(resolution, index, context))
    }

    /// Flag `index` for `context` as the interpreter's usual check makes it, inlined into the
    /// caller: when this thread's cached configuration is the one in force, no stub or held
    /// configuration applies (the caller read the flag's word unmarked), nobody asks why, and
    /// the flag requires no other flag. `None` for anything else: the caller then takes
    /// [`Runtime::read_for`]. Kept apart from it so that the usual check has a small frame.
    #[inline(always)]
    pub(crate) fn read_for_cached<T: FromValue>(
        &'static self,
        index: usize,
        context: &dyn AnyContext,
    ) -> Option<T> {
        if !local::none_in_this_thread() {
            return None;
        }
        let generation = self.generation.load(Ordering::Acquire);
        let me = std::ptr::from_ref(self).addr();
        LAST_USED
            .try_with(|cell| {
                let kept = cell.try_borrow().ok()?;
                let (runtime, resolution) = kept.as_ref()?;
                if *runtime != me || resolution.generation != generation {
                    return None;
                }
                T::from_value(self.value_only(resolution, index, context, true)?)
            })
            .ok()
            .flatten()
    }

    /// [`Runtime::read_for`] in `resolution`: inlined into the thread cache's hit, so that a
    /// check there is one frame.
    #[inline(always)]
    fn read_for_in<T: FromValue>(
        &'static self,
        resolution: &Resolution,
        index: usize,
        context: &dyn AnyContext,
    ) -> T {
        match self.value_only(resolution, index, context, false) {
            Some(value) => self.typed(index, value),
            None => self.reported_for(resolution, index, context),
        }
    }

    /// [`Runtime::read_for`] when the value alone does not do: the whole outcome, reported.
    /// Out of line, so that the value-only check keeps a small frame.
    #[inline(never)]
    fn reported_for<T: FromValue>(
        &'static self,
        resolution: &Resolution,
        index: usize,
        context: &dyn AnyContext,
    ) -> T {
        let outcome = self.outcome(resolution, index, Some(context));
        self.report_evaluation(index, &outcome.value, &outcome.why, resolution.generation);
        self.typed(index, &outcome.value)
    }

    /// The value of flag `index` for `context` when nobody asks why (no listener, no
    /// `tracing` subscriber for evaluations, no presence asked for the flag), no stub can
    /// apply and the flag requires no
    /// other flag: targeting evaluated without the rest of an outcome. `unstubbed`: the
    /// caller knows no stub applies, and the flag's word need not be read again.
    #[inline]
    fn value_only<'r>(
        &self,
        resolution: &'r Resolution,
        index: usize,
        context: &dyn AnyContext,
        unstubbed: bool,
    ) -> Option<&'r Value> {
        let unmarked = unstubbed
            || self
                .words
                .load(index, Ordering::Relaxed)
                .is_some_and(|word| word & LOCAL == 0);
        if !unmarked || self.listeners.wanted() || self.words.presence_armed(index) {
            return None;
        }
        match resolution.resolved.get(index)? {
            Resolved::Static { value, .. } => Some(value),
            Resolved::Dynamic(program) if program.requires.is_empty() => {
                let scope = Scope {
                    segments: &resolution.segments,
                };
                Some(program.value_for(Some(context), scope))
            }
            Resolved::Dynamic(_) => None,
        }
    }

    /// Slow path of a bool check.
    #[doc(hidden)]
    pub fn read_bool(&'static self, index: usize) -> bool {
        self.read(index, slot::payload_bool)
    }

    /// Slow path of an integer check.
    #[doc(hidden)]
    pub fn read_int(&'static self, index: usize) -> i64 {
        self.read(index, slot::payload_int)
    }

    /// Slow path of a variant check: the variant's index.
    #[doc(hidden)]
    pub fn read_variant(&'static self, index: usize) -> u32 {
        self.read(index, slot::payload_variant)
    }

    /// A float flag's value.
    #[doc(hidden)]
    pub fn read_float(&'static self, index: usize) -> f64 {
        self.read(index, |_| 0.0)
    }

    /// A string flag's value.
    #[doc(hidden)]
    pub fn read_string(&'static self, index: usize) -> Arc<str> {
        self.read(index, |_| Arc::from(""))
    }

    /// `value` as `T`, falling back to the compiled default if it is somehow of another type.
    #[inline]
    pub(crate) fn typed<T: FromValue>(&self, index: usize, value: &Value) -> T {
        T::from_value(value).unwrap_or_else(|| self.typed_default(index))
    }

    /// Like [`Runtime::typed`], taking the value.
    pub(crate) fn typed_owned<T: FromValue>(&self, index: usize, value: Value) -> T {
        T::from_owned(value).unwrap_or_else(|| self.typed_default(index))
    }

    fn typed_default<T: FromValue>(&self, index: usize) -> T {
        T::from_owned(self.default_value(index)).unwrap_or_default()
    }
}
