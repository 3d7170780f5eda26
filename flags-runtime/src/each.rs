//! `Flags::each().x()`: every value of a flag to test, each with a stub active for as long as
//! it is held. One generic iterator serves every flag, so that a flag's `each` method is a
//! call rather than code of its own.

use std::marker::PhantomData;

use flags_model::Value;

use crate::registry::Registry;
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
}

/// Each of `values` with a stub `S` of flag `index` serving it.
pub struct Each<T, S, I, const N: usize> {
    registry: &'static Registry<N>,
    index: usize,
    values: I,
    _stub: PhantomData<fn() -> (T, S)>,
}

impl<T, S, I, const N: usize> Each<T, S, I, N> {
    /// The values of flag `index` of `registry`.
    pub fn new(registry: &'static Registry<N>, index: usize, values: I) -> Self {
        Self {
            registry,
            index,
            values,
            _stub: PhantomData,
        }
    }
}

impl<T, S, I, const N: usize> Iterator for Each<T, S, I, N>
where
    T: StubValue,
    S: FromStubGuard,
    I: Iterator<Item = T>,
{
    type Item = (T, S);

    fn next(&mut self) -> Option<(T, S)> {
        let value = self.values.next()?;
        let stub = self.registry.stub(self.index, value.stub_value());
        Some((value, S::from_stub_guard(stub)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.values.size_hint()
    }
}
