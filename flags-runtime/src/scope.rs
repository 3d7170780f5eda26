//! Task scopes: what every flag check inside one task (an HTTP request, a job) sees — the
//! context it evaluates for, the configuration it keeps for its whole life, and stubs.
//!
//! A scope is entered around each poll of the task's future, so it follows the task from
//! thread to thread and never leaks to other tasks polled on the same threads.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use crate::context::{self, EvaluationContext, SharedContext};
use crate::local::{add_local, none_in_this_thread, remove_local};
use crate::resolution::Resolution;
use crate::stub::StubScope;

thread_local! {
    /// Configurations held by the scopes entered in this thread, innermost last.
    static HELD: RefCell<Vec<Arc<Held>>> = const { RefCell::new(Vec::new()) };
}

/// What keeps configurations for scopes (a runtime), told when a scope lets one go. While a
/// configuration is kept, the keeper marks the flags whose value has changed since, so that
/// checks in its scope leave the fast path.
pub(crate) trait Keeper: Sync {
    /// No scope keeps `resolution` any longer through this [`Held`].
    fn release(&self, resolution: &Resolution);
}

/// Whether `a` and `b` are the same keeper.
fn same(a: &dyn Keeper, b: &dyn Keeper) -> bool {
    std::ptr::addr_eq(a, b)
}

/// One configuration of one keeper, kept by a scope.
pub(crate) struct Held {
    pub(crate) keeper: &'static dyn Keeper,
    pub(crate) resolution: Arc<Resolution>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.keeper.release(&self.resolution);
    }
}

/// Calls `read` with the configuration this thread's innermost scope holds for `keeper`,
/// if any. Borrowed, not cloned, so that no shared count is touched per evaluation.
fn with_held<R>(keeper: &dyn Keeper, read: impl FnOnce(Option<&Arc<Resolution>>) -> R) -> R {
    if none_in_this_thread() || HELD.try_with(|_| ()).is_err() {
        return read(None);
    }
    HELD.with(|held| match held.try_borrow() {
        Ok(held) => read(
            held.iter()
                .rev()
                .find(|h| same(h.keeper, keeper))
                .map(|h| &h.resolution),
        ),
        // Being changed (only possible re-entrantly): the runtime's current configuration.
        Err(_) => read(None),
    })
}

/// The configuration this thread's innermost scope holds for `keeper`, if any.
#[cold]
pub(crate) fn held(keeper: &dyn Keeper) -> Option<Arc<Resolution>> {
    with_held(keeper, |held| held.cloned())
}

/// The generation of the configuration this thread's innermost scope holds for `keeper`.
#[inline(never)]
pub(crate) fn held_generation(keeper: &dyn Keeper) -> Option<u64> {
    with_held(keeper, |held| held.map(|resolution| resolution.generation))
}

/// Everything flag checks inside one task see: an evaluation context, the configuration of
/// each runtime as it was when the scope was made, and stubs. Cheap to clone.
///
/// ```
/// # use flags_runtime::{Context, TaskScope};
/// let scope = TaskScope::new().with_context(Context::new("u-1").with("email", "ada@example.com"));
/// let handle = std::thread::spawn(move || scope.run(|| {
///     // Flags::x() here evaluates for u-1.
/// }));
/// # handle.join().unwrap();
/// ```
///
/// For async code, `scope.wrap(future)` enters the scope around every poll of `future`, in
/// whichever thread polls it. Tasks the future spawns need a scope of their own.
#[derive(Clone, Default)]
pub struct TaskScope {
    context: Option<SharedContext>,
    held: Vec<Arc<Held>>,
    stubs: StubScope,
}

impl TaskScope {
    /// A scope that changes nothing until given a context, a configuration or stubs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Flag checks in the scope evaluate for `context` (unless given another one).
    pub fn with_context(self, context: impl EvaluationContext + Send + Sync + 'static) -> Self {
        self.with_shared_context(Arc::new(context))
    }

    /// Like [`TaskScope::with_context`], with a context already shared.
    pub fn with_shared_context(mut self, context: SharedContext) -> Self {
        self.context = Some(context);
        self
    }

    /// The scope keeping `held`, in place of any other configuration of the same keeper
    /// (`TaskScope::with_configuration_of`).
    pub(crate) fn keeping(mut self, held: Arc<Held>) -> Self {
        self.held.retain(|kept| !same(kept.keeper, held.keeper));
        self.held.push(held);
        self
    }

    /// The configuration the scope keeps of `keeper`, if it keeps one
    /// (`TaskScope::snapshot`).
    pub(crate) fn kept_by(&self, keeper: &dyn Keeper) -> Option<&Arc<Resolution>> {
        self.held
            .iter()
            .find(|held| same(held.keeper, keeper))
            .map(|held| &held.resolution)
    }

    /// Test stubs that checks in the scope see (see [`StubScope`]); they take precedence
    /// over the stubs of the thread that polls the task.
    pub fn with_stubs(mut self, stubs: StubScope) -> Self {
        self.stubs = stubs;
        self
    }

    /// The scope's evaluation context, if it has one.
    pub fn context(&self) -> Option<&SharedContext> {
        self.context.as_ref()
    }

    /// Runs `f` inside the scope.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let _stubs = (!self.stubs.is_empty()).then(|| self.stubs.enter());
        let _held = HeldGuard::enter(&self.held);
        match &self.context {
            Some(context) => context::enter(Some(Arc::clone(context)), f),
            None => f(),
        }
    }

    /// A future that runs `future` inside the scope, in whichever thread polls it.
    pub fn wrap<F: Future>(self, future: F) -> InScope<F> {
        InScope {
            scope: self,
            future: Box::pin(future),
        }
    }
}

impl std::fmt::Debug for TaskScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskScope")
            .field("context", &self.context.is_some())
            .field("configurations", &self.held.len())
            .field("stubs", &self.stubs.len())
            .finish()
    }
}

/// Makes held configurations visible in this thread until dropped.
struct HeldGuard {
    entered: usize,
}

impl HeldGuard {
    fn enter(held: &[Arc<Held>]) -> Self {
        if held.is_empty() {
            return Self { entered: 0 };
        }
        // Entered re-entrantly from inside an evaluation (the only time the list is
        // borrowed), the configurations are not entered: checks use the outer ones.
        let entered = HELD
            .try_with(|list| match list.try_borrow_mut() {
                Ok(mut list) => {
                    list.extend(held.iter().cloned());
                    held.len()
                }
                Err(_) => 0,
            })
            .unwrap_or(0);
        add_local(entered);
        Self { entered }
    }
}

impl Drop for HeldGuard {
    fn drop(&mut self) {
        if self.entered == 0 {
            return;
        }
        let removed = HELD
            .try_with(|list| match list.try_borrow_mut() {
                Ok(mut list) => {
                    let keep = list.len().saturating_sub(self.entered);
                    list.split_off(keep)
                }
                Err(_) => Vec::new(),
            })
            .unwrap_or_default();
        remove_local(self.entered);
        // Dropped outside the borrow: the last reference releases the configuration.
        drop(removed);
    }
}

/// A future running inside a [`TaskScope`]; see [`TaskScope::wrap`].
pub struct InScope<F> {
    scope: TaskScope,
    future: Pin<Box<F>>,
}

impl<F: Future> Future for InScope<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let future = &mut this.future;
        this.scope.run(|| future.as_mut().poll(cx))
    }
}

impl<F> std::fmt::Debug for InScope<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InScope")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}
