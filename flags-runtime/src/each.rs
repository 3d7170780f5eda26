//! `Flags::each(FlagsStub::x)`: every value of a flag to test, each with a stub active for as
//! long as it is held. One generic function serves every flag, through its stub setter, so
//! that a flag generates nothing for it.

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
