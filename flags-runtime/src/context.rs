//! Evaluation contexts: who a flag is evaluated for.
//!
//! Targeting reads a context through [`EvaluationContext`]: a key (what rollouts bucket and
//! segments list) and attributes by name. An application's own user type can implement it
//! (reading its fields in place, with no copy), or build a [`Context`].

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

pub use flags_model::Timestamp;

/// What targeting reads: a key and attributes.
///
/// An attribute the context does not have makes every condition on it false (whatever its
/// operator, `negate` included), so a rule never matches on missing data.
///
/// `#[derive(flags::EvaluationContext)]` implements it for an application's own type, reading
/// its fields in place, finding each by an integer id rather than by name, and declaring its
/// attributes in [`EvaluationContext::ATTRIBUTES`]: `Flags::x_for(&user)` then fails to
/// compile when a rule of flag `x` in `flags.toml` reads an attribute the type does not have.
/// Where a context is held behind a pointer (`&dyn`, [`SharedContext`]), it is an
/// [`AnyContext`], which every `EvaluationContext` is.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an evaluation context",
    label = "flags are evaluated for this",
    note = "derive it: #[derive(flags::EvaluationContext)], or build a flags::Context"
)]
pub trait EvaluationContext {
    /// The attributes the type has, when they are known at compile time; `None` (the
    /// default) when they are only known at run time, as for [`Context`]. When `Some`, every
    /// `Flags::x_for(&context)` checks while the program is compiled (`cargo build`, not
    /// `cargo check`) that the type has each attribute flag `x`'s rules read.
    const ATTRIBUTES: Option<&'static ContextAttributes> = None;

    /// The user's or account's id: what rollouts bucket and segments list. `None` when
    /// unknown (rollouts by key then serve the flag's default).
    fn key(&self) -> Option<Attribute<'_>>;

    /// The attribute called `name`, if the context has it.
    fn attribute(&self, name: &str) -> Option<Attribute<'_>>;

    /// The attribute `id` names: [`EvaluationContext::attribute`] of its name unless the
    /// type finds it faster by the id's hash (the derive does).
    #[inline]
    fn attribute_by_id(&self, id: AttributeId<'_>) -> Option<Attribute<'_>> {
        self.attribute(id.name())
    }
}

/// The attributes a context type declares: [`EvaluationContext::ATTRIBUTES`].
#[derive(Debug)]
pub struct ContextAttributes {
    /// The type, as compile errors name it.
    pub type_name: &'static str,
    /// Its attributes' names.
    pub names: &'static [&'static str],
}

/// An attribute's name and the hash generated code and the derive agree on
/// ([`flags_model::naming::attribute_hash`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttributeId<'a> {
    hash: u64,
    name: &'a str,
}

impl<'a> AttributeId<'a> {
    /// The id of the attribute called `name`.
    #[inline]
    pub const fn new(name: &'a str) -> Self {
        Self {
            hash: flags_model::naming::attribute_hash(name),
            name,
        }
    }

    /// The id of `name` whose hash was computed before.
    #[inline(always)]
    pub(crate) const fn hashed(hash: u64, name: &'a str) -> Self {
        Self { hash, name }
    }

    /// The hash of the name.
    #[inline(always)]
    pub const fn hash(&self) -> u64 {
        self.hash
    }

    /// The name.
    #[inline(always)]
    pub const fn name(&self) -> &'a str {
        self.name
    }
}

/// An evaluation context behind a pointer: how the runtime holds and passes contexts whose
/// type it does not know (`&dyn AnyContext`, [`SharedContext`]). Every [`EvaluationContext`]
/// is one; implement `EvaluationContext`, not this.
pub trait AnyContext {
    /// [`EvaluationContext::key`]. (Named apart, so that a type with both traits in scope
    /// calls either without ambiguity.)
    fn context_key(&self) -> Option<Attribute<'_>>;
    /// [`EvaluationContext::attribute`].
    fn context_attribute(&self, name: &str) -> Option<Attribute<'_>>;
    /// [`EvaluationContext::attribute_by_id`].
    fn context_attribute_by_id(&self, id: AttributeId<'_>) -> Option<Attribute<'_>>;
    /// [`EvaluationContext::ATTRIBUTES`].
    fn declared_attributes(&self) -> Option<&'static ContextAttributes>;
}

impl<C: EvaluationContext + ?Sized> AnyContext for C {
    #[inline]
    fn context_key(&self) -> Option<Attribute<'_>> {
        self.key()
    }
    #[inline]
    fn context_attribute(&self, name: &str) -> Option<Attribute<'_>> {
        self.attribute(name)
    }
    #[inline(always)]
    fn context_attribute_by_id(&self, id: AttributeId<'_>) -> Option<Attribute<'_>> {
        self.attribute_by_id(id)
    }
    #[inline]
    fn declared_attributes(&self) -> Option<&'static ContextAttributes> {
        C::ATTRIBUTES
    }
}

/// An attribute's value, borrowed from the context.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Attribute<'a> {
    /// A string.
    Str(&'a str),
    /// A number.
    Number(f64),
    /// A bool.
    Bool(bool),
    /// A list of strings.
    List(&'a [String]),
    /// A semantic version.
    Semver(&'a semver::Version),
    /// A point in time.
    Time(Timestamp),
}

impl<C: EvaluationContext + ?Sized> EvaluationContext for &C {
    const ATTRIBUTES: Option<&'static ContextAttributes> = C::ATTRIBUTES;
    #[inline]
    fn key(&self) -> Option<Attribute<'_>> {
        (**self).key()
    }
    #[inline]
    fn attribute(&self, name: &str) -> Option<Attribute<'_>> {
        (**self).attribute(name)
    }
    #[inline]
    fn attribute_by_id(&self, id: AttributeId<'_>) -> Option<Attribute<'_>> {
        (**self).attribute_by_id(id)
    }
}

impl<C: EvaluationContext + ?Sized> EvaluationContext for Arc<C> {
    const ATTRIBUTES: Option<&'static ContextAttributes> = C::ATTRIBUTES;
    #[inline]
    fn key(&self) -> Option<Attribute<'_>> {
        (**self).key()
    }
    #[inline]
    fn attribute(&self, name: &str) -> Option<Attribute<'_>> {
        (**self).attribute(name)
    }
    #[inline]
    fn attribute_by_id(&self, id: AttributeId<'_>) -> Option<Attribute<'_>> {
        (**self).attribute_by_id(id)
    }
}

/// A field that can be read as an attribute: what `#[derive(EvaluationContext)]` needs of
/// each field. Implement it for your own types (an enum of plans, say) to use them as
/// attributes; `None` means the attribute is missing.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an attribute of an evaluation context",
    label = "this field's type",
    note = "implement flags::AsAttribute for it, or leave the field out with #[flags(skip)]"
)]
pub trait AsAttribute {
    /// The field as an attribute.
    fn as_attribute(&self) -> Option<Attribute<'_>>;
}

impl AsAttribute for str {
    fn as_attribute(&self) -> Option<Attribute<'_>> {
        Some(Attribute::Str(self))
    }
}
impl AsAttribute for String {
    fn as_attribute(&self) -> Option<Attribute<'_>> {
        Some(Attribute::Str(self))
    }
}
impl AsAttribute for Box<str> {
    fn as_attribute(&self) -> Option<Attribute<'_>> {
        Some(Attribute::Str(self))
    }
}
impl AsAttribute for Arc<str> {
    fn as_attribute(&self) -> Option<Attribute<'_>> {
        Some(Attribute::Str(self))
    }
}
impl AsAttribute for bool {
    fn as_attribute(&self) -> Option<Attribute<'_>> {
        Some(Attribute::Bool(*self))
    }
}
macro_rules! number_attribute {
    ($($t:ty),*) => {$(
        impl AsAttribute for $t {
            fn as_attribute(&self) -> Option<Attribute<'_>> {
                Some(Attribute::Number(*self as f64))
            }
        }
    )*};
}
number_attribute!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize, f32, f64);
impl AsAttribute for [String] {
    fn as_attribute(&self) -> Option<Attribute<'_>> {
        Some(Attribute::List(self))
    }
}
impl AsAttribute for Vec<String> {
    fn as_attribute(&self) -> Option<Attribute<'_>> {
        Some(Attribute::List(self))
    }
}
impl AsAttribute for semver::Version {
    fn as_attribute(&self) -> Option<Attribute<'_>> {
        Some(Attribute::Semver(self))
    }
}
impl AsAttribute for Timestamp {
    fn as_attribute(&self) -> Option<Attribute<'_>> {
        Some(Attribute::Time(*self))
    }
}
impl AsAttribute for std::time::SystemTime {
    fn as_attribute(&self) -> Option<Attribute<'_>> {
        Some(Attribute::Time((*self).into()))
    }
}
impl<T: AsAttribute + ?Sized> AsAttribute for &T {
    fn as_attribute(&self) -> Option<Attribute<'_>> {
        (**self).as_attribute()
    }
}
impl<T: AsAttribute> AsAttribute for Option<T> {
    fn as_attribute(&self) -> Option<Attribute<'_>> {
        self.as_ref().and_then(AsAttribute::as_attribute)
    }
}
impl AsAttribute for AttributeValue {
    fn as_attribute(&self) -> Option<Attribute<'_>> {
        Some(self.as_attribute())
    }
}

/// An owned attribute value, for building a [`Context`].
#[derive(Clone, Debug, PartialEq)]
pub enum AttributeValue {
    /// A string.
    Str(Arc<str>),
    /// A number.
    Number(f64),
    /// A bool.
    Bool(bool),
    /// A list of strings.
    List(Arc<[String]>),
    /// A semantic version.
    Semver(Arc<semver::Version>),
    /// A point in time.
    Time(Timestamp),
}

impl AttributeValue {
    /// Borrows the value.
    pub fn as_attribute(&self) -> Attribute<'_> {
        match self {
            AttributeValue::Str(s) => Attribute::Str(s),
            AttributeValue::Number(n) => Attribute::Number(*n),
            AttributeValue::Bool(b) => Attribute::Bool(*b),
            AttributeValue::List(l) => Attribute::List(l),
            AttributeValue::Semver(v) => Attribute::Semver(v),
            AttributeValue::Time(t) => Attribute::Time(*t),
        }
    }
}

macro_rules! number_from {
    ($($t:ty),*) => {$(
        impl From<$t> for AttributeValue {
            fn from(n: $t) -> Self {
                AttributeValue::Number(n as f64)
            }
        }
    )*};
}
number_from!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize, f32, f64);

impl From<&str> for AttributeValue {
    fn from(s: &str) -> Self {
        AttributeValue::Str(s.into())
    }
}
impl From<String> for AttributeValue {
    fn from(s: String) -> Self {
        AttributeValue::Str(s.into())
    }
}
impl From<bool> for AttributeValue {
    fn from(b: bool) -> Self {
        AttributeValue::Bool(b)
    }
}
impl From<Vec<String>> for AttributeValue {
    fn from(list: Vec<String>) -> Self {
        AttributeValue::List(list.into())
    }
}
impl From<&[&str]> for AttributeValue {
    fn from(list: &[&str]) -> Self {
        AttributeValue::List(list.iter().map(|s| (*s).to_owned()).collect())
    }
}
impl<const N: usize> From<[&str; N]> for AttributeValue {
    fn from(list: [&str; N]) -> Self {
        AttributeValue::from(&list[..])
    }
}
impl From<semver::Version> for AttributeValue {
    fn from(version: semver::Version) -> Self {
        AttributeValue::Semver(Arc::new(version))
    }
}
impl From<Timestamp> for AttributeValue {
    fn from(time: Timestamp) -> Self {
        AttributeValue::Time(time)
    }
}
impl From<std::time::SystemTime> for AttributeValue {
    fn from(time: std::time::SystemTime) -> Self {
        AttributeValue::Time(time.into())
    }
}

/// A context built from values: a key and named attributes. Cheap to clone (shared
/// strings) and to reuse across evaluations.
///
/// ```
/// use flags_runtime::{Context, EvaluationContext, Attribute};
///
/// let user = Context::new("u-123").with("email", "ada@example.com").with("seats", 12).with("tags", ["beta"]);
/// assert_eq!(user.attribute("seats"), Some(Attribute::Number(12.0)));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Context {
    key: Option<AttributeValue>,
    attributes: Vec<(Arc<str>, AttributeValue)>,
}

impl Context {
    /// A context for `key` (a user or account id, a string or a number).
    pub fn new(key: impl Into<AttributeValue>) -> Self {
        Self {
            key: Some(key.into()),
            attributes: Vec::new(),
        }
    }

    /// A context with no key: rules on attributes apply, rollouts by key serve the default.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// Sets attribute `name` (replacing an earlier value).
    pub fn with(mut self, name: &str, value: impl Into<AttributeValue>) -> Self {
        self.set(name, value);
        self
    }

    /// Sets attribute `name` (replacing an earlier value).
    pub fn set(&mut self, name: &str, value: impl Into<AttributeValue>) {
        let value = value.into();
        match self.attributes.iter_mut().find(|(n, _)| &**n == name) {
            Some((_, existing)) => *existing = value,
            None => self.attributes.push((name.into(), value)),
        }
    }
}

impl EvaluationContext for Context {
    fn key(&self) -> Option<Attribute<'_>> {
        self.key.as_ref().map(AttributeValue::as_attribute)
    }

    fn attribute(&self, name: &str) -> Option<Attribute<'_>> {
        self.attributes
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, value)| value.as_attribute())
    }
}

/// A context shared with the scope that evaluates flags.
pub type SharedContext = Arc<dyn AnyContext + Send + Sync>;

thread_local! {
    static CURRENT: RefCell<Option<SharedContext>> = const { RefCell::new(None) };
}

/// Runs `f` with `context` as the context of every flag check in it (in this thread) that is
/// not given one explicitly: `Flags::x()` inside evaluates for `context`.
pub fn with_context<R>(
    context: impl EvaluationContext + Send + Sync + 'static,
    f: impl FnOnce() -> R,
) -> R {
    enter(Some(Arc::new(context)), f)
}

/// The async form of [`with_context`]: `future` runs with `context`, in whichever thread
/// polls it, and every task it awaits inline sees it too (spawned tasks need their own).
pub fn with_context_async<F: Future>(
    context: impl EvaluationContext + Send + Sync + 'static,
    future: F,
) -> WithContext<F> {
    WithContext {
        context: Some(Arc::new(context)),
        future: Box::pin(future),
    }
}

/// A future running with a context; see [`with_context_async`].
pub struct WithContext<F> {
    context: Option<SharedContext>,
    future: Pin<Box<F>>,
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let context = this.context.clone();
        enter(context, || this.future.as_mut().poll(cx))
    }
}

impl<F> std::fmt::Debug for WithContext<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithContext").finish_non_exhaustive()
    }
}

/// Sets the current context for the duration of `f`, restoring the previous one after (also
/// when `f` panics).
pub(crate) fn enter<R>(context: Option<SharedContext>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<SharedContext>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
        }
    }
    let previous = CURRENT
        .try_with(|current| current.replace(context))
        .ok()
        .flatten();
    let _restore = Restore(previous);
    f()
}

/// Calls `f` with the current context, if one is set. Borrowed, not cloned: no shared
/// reference count is touched on the evaluation path.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&(dyn AnyContext + Send + Sync)>) -> R) -> R {
    if CURRENT.try_with(|_| ()).is_err() {
        // The thread is exiting and its locals are gone: no context.
        return f(None);
    }
    CURRENT.with(|current| match current.try_borrow() {
        Ok(context) => f(context.as_deref()),
        // Being replaced (only possible re-entrantly): no context.
        Err(_) => f(None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_context_is_scoped_and_nested() {
        let key = || with_current(|c| c.and_then(|c| c.context_key()).map(|k| format!("{k:?}")));
        assert_eq!(key(), None);
        with_context(Context::new("outer"), || {
            assert_eq!(key().as_deref(), Some("Str(\"outer\")"));
            with_context(Context::new(7), || {
                assert_eq!(key().as_deref(), Some("Number(7.0)"))
            });
            assert_eq!(key().as_deref(), Some("Str(\"outer\")"));
        });
        assert_eq!(key(), None);
    }

    #[test]
    fn a_panic_restores_the_previous_context() {
        let result =
            std::panic::catch_unwind(|| with_context(Context::new("x"), || panic!("boom")));
        assert!(result.is_err());
        assert!(with_current(|c| c.is_none()));
    }

    #[test]
    fn attributes_are_replaced_not_duplicated() {
        let context = Context::new("k").with("plan", "free").with("plan", "pro");
        assert_eq!(context.attribute("plan"), Some(Attribute::Str("pro")));
        assert_eq!(context.attribute("missing"), None);
    }
}
