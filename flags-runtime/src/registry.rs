//! The static the macro generates for each `Flags` type, and the checks it inlines.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flags_model::Value;

use crate::context::{AnyContext, EvaluationContext};
use crate::descriptor::{Descriptor, FromValue};
use crate::each::FromStubGuard;
use crate::events;
use crate::local;
use crate::runtime::Runtime;
use crate::slot::{
    FAST, FAST_MASK, INLINE, LOCAL, NATIVE_FAST, NATIVE_MASK, OBSERVED, TAG_MASK, UNINIT,
    payload_bool, payload_environment, payload_int, payload_variant,
};
use crate::snapshot::Evaluation;
use crate::sources::Vars;
use crate::stub::StubGuard;

/// One published word per flag.
struct Slots<const N: usize>([AtomicU64; N]);

impl<const N: usize> Slots<N> {
    const fn new() -> Self {
        Self([const { AtomicU64::new(UNINIT) }; N])
    }
}

/// A generated `Flags` type's runtime and published values. Checks are inlined into the
/// caller and compile to one relaxed load from a fixed address and a compare; anything else
/// goes out of line.
///
/// The words live inside the registry, which must be a `static` given its own address
/// (`static R: Registry<N> = Registry::new(&DESCRIPTOR, &R);`). A word's address is then a
/// link-time constant, not a pointer that has to be loaded first.
pub struct Registry<const N: usize> {
    slots: Slots<N>,
    runtime: Runtime,
}

impl<const N: usize> Registry<N> {
    /// The registry for `descriptor`'s flags; `this` is the static being defined.
    pub const fn new(descriptor: &'static Descriptor, this: &'static Registry<N>) -> Self {
        Self {
            slots: Slots::new(),
            runtime: Runtime::new(descriptor, &this.slots.0),
        }
    }

    /// Like [`Registry::new`], reading environment variables from `vars` instead of the
    /// process's (for tests and benchmarks).
    pub const fn with_vars(
        descriptor: &'static Descriptor,
        this: &'static Registry<N>,
        vars: &'static dyn Vars,
    ) -> Self {
        Self {
            slots: Slots::new(),
            runtime: Runtime::with_vars(descriptor, &this.slots.0, vars),
        }
    }

    /// The runtime.
    #[inline]
    pub fn runtime(&'static self) -> &'static Runtime {
        &self.runtime
    }

    /// Whether bool flag `index` is on.
    #[inline(always)]
    pub fn bool(&'static self, index: usize) -> bool {
        self.check(index, payload_bool, Runtime::read_bool)
    }

    /// Integer flag `index`.
    #[inline(always)]
    pub fn int(&'static self, index: usize) -> i64 {
        self.check(index, payload_int, Runtime::read_int)
    }

    /// The variant index of variant flag `index`.
    #[inline(always)]
    pub fn variant(&'static self, index: usize) -> u32 {
        self.check(index, payload_variant, Runtime::read_variant)
    }

    /// The one fast path: the published word answers, or the runtime does, out of line. A
    /// flag stubbed in some other thread (another test), or changed since a task elsewhere
    /// took its configuration, is still read from its word after one thread-local check
    /// that this thread holds no stub and no configuration of its own.
    #[inline(always)]
    fn check<T>(
        &'static self,
        index: usize,
        decode: fn(u64) -> T,
        slow: impl FnOnce(&'static Runtime, usize) -> T,
    ) -> T {
        let word = self.slots.0[index].load(Ordering::Relaxed);
        if word & FAST_MASK == FAST
            || (word & (TAG_MASK | OBSERVED) == INLINE && local::none_in_this_thread())
        {
            decode(word)
        } else {
            slow(&self.runtime, index)
        }
    }

    /// Bool flag `index` for `context`: a flag that is the same for everyone is still one load;
    /// `flags.toml`'s rules, while in force, run as the code `native` compiled from them.
    #[inline(always)]
    pub fn bool_for<C: EvaluationContext + ?Sized>(
        &'static self,
        index: usize,
        context: &C,
        native: impl Fn(u32, &C) -> Option<bool> + Copy,
    ) -> bool {
        self.check_for(index, context, payload_bool, native)
    }

    /// Integer flag `index` for `context`.
    #[inline(always)]
    pub fn int_for<C: EvaluationContext + ?Sized>(
        &'static self,
        index: usize,
        context: &C,
        native: impl Fn(u32, &C) -> Option<i64> + Copy,
    ) -> i64 {
        self.check_for(index, context, payload_int, native)
    }

    /// The variant index of variant flag `index` for `context`.
    #[inline(always)]
    pub fn variant_for<C: EvaluationContext + ?Sized>(
        &'static self,
        index: usize,
        context: &C,
        native: impl Fn(u32, &C) -> Option<u32> + Copy,
    ) -> u32 {
        self.check_for(index, context, payload_variant, native)
    }

    /// The check of a `_for` accessor: the published word when it is the same for everyone,
    /// else the compiled rules when they are in force (for the environment the word names),
    /// else the runtime, out of line. Compiled rules answer `None` for what they leave to the
    /// runtime.
    #[inline(always)]
    fn check_for<C: EvaluationContext + ?Sized, T: FromValue>(
        &'static self,
        index: usize,
        context: &C,
        decode: fn(u64) -> T,
        native: impl Fn(u32, &C) -> Option<T> + Copy,
    ) -> T {
        let word = self.slots.0[index].load(Ordering::Relaxed);
        if word & FAST_MASK == FAST {
            return decode(word);
        }
        // With a `tracing` subscriber for debug events, the runtime evaluates, so that each
        // evaluation is reported as it always is.
        if word & (NATIVE_MASK | LOCAL) == NATIVE_FAST && !events::debug_wanted() {
            if let Some(value) = native(payload_environment(word), context) {
                return value;
            }
        }
        if word & LOCAL == 0 {
            // Unmarked: the flag is interpreted, or its compiled rules left it to the runtime.
            return self.interpret(index, context);
        }
        self.check_for_marked(index, context, word, decode, native)
    }

    /// [`Registry::check_for`] for a word marked `LOCAL` (a stub or a held configuration
    /// somewhere): out of line, so that the checks that usually answer stay small.
    #[cold]
    #[inline(never)]
    fn check_for_marked<C: EvaluationContext + ?Sized, T: FromValue>(
        &'static self,
        index: usize,
        context: &C,
        word: u64,
        decode: fn(u64) -> T,
        native: impl Fn(u32, &C) -> Option<T> + Copy,
    ) -> T {
        // This thread holds no stub and no configuration of its own: the marks do not apply.
        let shared = local::none_in_this_thread();
        if shared && word & (TAG_MASK | OBSERVED) == INLINE {
            return decode(word);
        }
        if shared && word & NATIVE_MASK == NATIVE_FAST && !events::debug_wanted() {
            if let Some(value) = native(payload_environment(word), context) {
                return value;
            }
        }
        if shared {
            self.interpret(index, context)
        } else {
            self.runtime.read_for(index, &context)
        }
    }

    /// Flag `index` for `context` by the runtime, when no stub or held configuration of this
    /// thread applies: out of line once per context and value type (not per flag, as the
    /// checks above are). The usual evaluation, from this thread's cached configuration to
    /// the value, is inlined here; anything else goes to [`Runtime::read_for`].
    #[inline(never)]
    fn interpret<C: EvaluationContext + ?Sized, T: FromValue>(
        &'static self,
        index: usize,
        context: &C,
    ) -> T {
        if let Some(value) = self.runtime.read_for_cached(index, &context) {
            return value;
        }
        self.runtime.read_for(index, &context)
    }

    /// Float flag `index` for `context`.
    #[inline]
    pub fn float_for(&'static self, index: usize, context: &dyn AnyContext) -> f64 {
        self.runtime.read_for(index, context)
    }

    /// String flag `index` for `context`.
    #[inline]
    pub fn string_for(&'static self, index: usize, context: &dyn AnyContext) -> Arc<str> {
        self.runtime.read_for(index, context)
    }

    /// Flag `index` for `context`, and why.
    pub fn details<T: FromValue>(
        &'static self,
        index: usize,
        context: &dyn AnyContext,
    ) -> Evaluation<T> {
        self.runtime.evaluate(index, Some(context))
    }

    /// Float flag `index` (read from the current configuration).
    #[inline]
    pub fn float(&'static self, index: usize) -> f64 {
        self.runtime.read_float(index)
    }

    /// String flag `index` (read from the current configuration).
    #[inline]
    pub fn string(&'static self, index: usize) -> Arc<str> {
        self.runtime.read_string(index)
    }

    /// A stub of flag `index` for the current thread.
    pub fn stub(&'static self, index: usize, value: Value) -> StubGuard {
        self.runtime.stub(index, value)
    }

    /// `stubs` with one more: flag `index` stubbed to `value` (a `FlagsStub` setter's body,
    /// one call, since each flag has a setter).
    pub fn stub_into<S: FromStubGuard>(
        &'static self,
        mut stubs: S,
        index: usize,
        value: Value,
    ) -> S {
        stubs.stub_guard().merge(self.stub(index, value));
        stubs
    }
}
