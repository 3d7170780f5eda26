//! `Flags::each(FlagsStub::x)`: every value of a flag to test, each with a stub active for as
//! long as it is held. One generic function serves every flag, through its stub setter, so
//! that a flag generates nothing for it.

use std::marker::PhantomData;

use flags_model::Value;

use crate::stub::StubGuard;

/// A flag's value as a test stub sets it.
pub trait StubValue {
    /// The value the stub serves.
    fn stub_value(&self) -> Value;
}

impl StubValue for bool {
    fn stub_value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl StubValue for i64 {
    fn stub_value(&self) -> Value {
        Value::Int(*self)
    }
}

impl StubValue for f64 {
    fn stub_value(&self) -> Value {
        Value::Float(*self)
    }
}

/// The generated `FlagsStub`, made of the guard of its stubs.
pub trait FromStubGuard {
    /// The stubs of `guard`, ending when the result is dropped.
    fn from_stub_guard(guard: StubGuard) -> Self;

    /// The guard of these stubs, for a setter to add one.
    fn stub_guard(&mut self) -> &mut StubGuard;
}

/// A flag type whose every value a test can run with: `bool` and the enums of variant flags.
/// `Flags::each(FlagsStub::x)` takes these; flags of other types name the values to test with
/// `Flags::each_of`.
#[diagnostic::on_unimplemented(
    message = "a flag of type `{Self}` has too many values to test each one",
    label = "`Flags::each` runs bool and variant flags only",
    note = "name the values to test: `Flags::each_of(FlagsStub::name, [1, 10])`"
)]
pub trait EveryValue: Sized + 'static {
    /// Every value, in order (`false` then `true`; variants in `flags.toml`'s order).
    const EVERY: &'static [Self];
}

impl EveryValue for bool {
    const EVERY: &'static [Self] = &[false, true];
}

/// Each of `values` with the stubs `set` makes of it, in a fresh `S` (the generated
/// `FlagsStub`): what `Flags::each` and `Flags::each_of` return. One generic function for
/// every flag, so that a flag adds no code of its own to run its tests once per value.
pub fn each<S, V, F, I>(set: F, values: I) -> impl Iterator<Item = (V, S)>
where
    S: FromStubGuard,
    V: Clone,
    F: Fn(S, V) -> S,
    I: IntoIterator<Item = V>,
{
    values.into_iter().map(move |value| {
        let stub = set(S::from_stub_guard(StubGuard::empty()), value.clone());
        (value, stub)
    })
}

/// What `Flags::each(FlagsStub::x)` returns: each value of the flag, in order, with the stubs
/// `set` makes of it in a fresh `S` (the generated `FlagsStub`), active while it is held.
///
/// A type of its own rather than an `impl Iterator`, so that a flag whose values cannot all
/// be listed gets one error at the call, not one more for the return type.
pub struct Each<S, V: 'static, F> {
    values: std::slice::Iter<'static, V>,
    set: F,
    stubs: PhantomData<fn() -> S>,
}

impl<S, V: EveryValue, F> Each<S, V, F> {
    /// Every value of `V`, each with the stubs `set` makes of it.
    pub fn new(set: F) -> Self {
        Self {
            values: V::EVERY.iter(),
            set,
            stubs: PhantomData,
        }
    }
}

impl<S, V, F> Iterator for Each<S, V, F>
where
    S: FromStubGuard,
    V: Clone + 'static,
    F: Fn(S, V) -> S,
{
    type Item = (V, S);

    fn next(&mut self) -> Option<(V, S)> {
        let value = self.values.next()?.clone();
        let stub = (self.set)(S::from_stub_guard(StubGuard::empty()), value.clone());
        Some((value, stub))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.values.size_hint()
    }
}

impl<S, V, F> ExactSizeIterator for Each<S, V, F>
where
    S: FromStubGuard,
    V: Clone + 'static,
    F: Fn(S, V) -> S,
{
}

impl<S, V: std::fmt::Debug + 'static, F> std::fmt::Debug for Each<S, V, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Each")
            .field("values", &self.values.as_slice())
            .finish_non_exhaustive()
    }
}
