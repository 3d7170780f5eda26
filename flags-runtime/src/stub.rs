//! Test stubs: per-thread flag values that no other test can see.
//!
//! A stub lives in the thread that made it, until its guard is dropped (at the end of the
//! test, or while a panic unwinds). Threads and tasks started by the test do not inherit it;
//! carry stubs into them with [`StubScope`].

use std::cell::RefCell;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use flags_model::Value;

use crate::local;
use crate::marks::Words;

/// One stubbed value of one runtime's flag (the runtime's words name it). While any `Arc`
/// to it exists, its flag is marked as stubbed so that checks look here; dropping the last
/// one clears the mark.
pub(crate) struct StubLayer {
    words: &'static Words,
    index: usize,
    value: Value,
}

impl Drop for StubLayer {
    fn drop(&mut self) {
        self.words.stub_released(self.index);
    }
}

thread_local! {
    /// The stubs visible in this thread, newest last. Their number is part of the thread's
    /// local count (see `scope`), which inlined checks read without a borrow.
    static ACTIVE: RefCell<Vec<Arc<StubLayer>>> = const { RefCell::new(Vec::new()) };
}

/// The value of a stub for flag `index` of the runtime publishing `words`, in this thread,
/// if any.
pub(crate) fn lookup(words: &Words, index: usize) -> Option<Value> {
    ACTIVE
        .try_with(|active| {
            active
                .borrow()
                .iter()
                .rev()
                .find(|layer| std::ptr::eq(layer.words, words) && layer.index == index)
                .map(|layer| layer.value.clone())
        })
        .ok()
        .flatten()
}

/// A stub of flag `index` of the runtime publishing `words`, active in this thread.
pub(crate) fn create(words: &'static Words, index: usize, value: Value) -> StubGuard {
    words.stub_acquired(index);
    let layer = Arc::new(StubLayer {
        words,
        index,
        value,
    });
    StubGuard::enter(vec![layer])
}

/// Keeps stubs active in this thread until dropped.
///
/// Made by the generated `Flags::stub()` builder. It cannot be sent to another thread,
/// because the stubs belong to the thread that made them; use [`StubScope`] to carry them.
#[must_use = "the stub ends when this guard is dropped; bind it with `let _guard = ...`"]
pub struct StubGuard {
    layers: Vec<Arc<StubLayer>>,
    _this_thread_only: PhantomData<*const ()>,
}

impl StubGuard {
    /// A guard holding no stub.
    pub fn empty() -> Self {
        Self {
            layers: Vec::new(),
            _this_thread_only: PhantomData,
        }
    }

    /// Moves `other`'s stubs into this guard, so that both end together.
    pub fn merge(&mut self, mut other: StubGuard) {
        self.layers.append(&mut other.layers);
    }

    /// Takes the stubs out of this thread and into a [`StubScope`], to be given to other
    /// threads or tasks (a whole test server, say) without being active here.
    pub fn into_scope(mut self) -> StubScope {
        let layers = std::mem::take(&mut self.layers);
        drop(leave(&layers));
        StubScope {
            layers: layers.into(),
        }
    }

    fn enter(layers: Vec<Arc<StubLayer>>) -> Self {
        let entered = ACTIVE
            .try_with(|active| {
                active.borrow_mut().extend(layers.iter().cloned());
                layers.len()
            })
            .unwrap_or(0);
        local::add_local(entered);
        Self {
            layers,
            _this_thread_only: PhantomData,
        }
    }
}

/// Takes `layers` out of this thread's active stubs, returning the references removed.
fn leave(layers: &[Arc<StubLayer>]) -> Vec<Arc<StubLayer>> {
    let mut removed = Vec::with_capacity(layers.len());
    let _ = ACTIVE.try_with(|active| {
        let mut active = active.borrow_mut();
        for layer in layers {
            if let Some(position) = active.iter().rposition(|a| Arc::ptr_eq(a, layer)) {
                removed.push(active.remove(position));
            }
        }
    });
    local::remove_local(removed.len());
    removed
}

impl Drop for StubGuard {
    fn drop(&mut self) {
        // Dropped outside the borrow: the last reference clears the flag's stubbed mark.
        drop(leave(&self.layers));
    }
}

impl std::fmt::Debug for StubGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StubGuard")
            .field("stubs", &self.layers.len())
            .finish()
    }
}

/// The stubs of one thread, captured to be used in another thread or task.
///
/// ```
/// # use flags_runtime::StubScope;
/// let scope = StubScope::current();
/// std::thread::spawn(move || scope.run(|| {
///     // Flags here see the stubs of the thread that captured `scope`.
/// })).join().unwrap();
/// ```
///
/// For async code, wrap the future: `tokio::spawn(StubScope::current().wrap(async { .. }))`.
#[derive(Clone, Default)]
pub struct StubScope {
    layers: Arc<[Arc<StubLayer>]>,
}

impl StubScope {
    /// The stubs active in the current thread now.
    pub fn current() -> Self {
        let layers = ACTIVE
            .try_with(|active| active.borrow().iter().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        Self {
            layers: layers.into(),
        }
    }

    /// Makes these stubs active in the current thread until the guard is dropped.
    pub fn enter(&self) -> StubGuard {
        StubGuard::enter(self.layers.to_vec())
    }

    /// Runs `f` with these stubs active.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.enter();
        f()
    }

    /// A future that runs `future` with these stubs active in whichever thread polls it.
    pub fn wrap<F: Future>(self, future: F) -> Scoped<F> {
        Scoped {
            scope: self,
            future: Box::pin(future),
        }
    }

    /// How many stubs the scope holds.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether the scope holds no stub.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl std::fmt::Debug for StubScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StubScope")
            .field("stubs", &self.layers.len())
            .finish()
    }
}

/// A future running with a [`StubScope`]'s stubs; see [`StubScope::wrap`].
pub struct Scoped<F> {
    scope: StubScope,
    future: Pin<Box<F>>,
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let _guard = this.scope.enter();
        this.future.as_mut().poll(cx)
    }
}

impl<F> std::fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scoped")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}
