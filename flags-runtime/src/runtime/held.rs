//! Configurations kept by task scopes: a scope made with
//! [`TaskScope::with_configuration_of`] sees the configuration of its start until it ends,
//! and the runtime marks the flags that have changed since, so that checks in the scope
//! leave the fast path for those flags only.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::Runtime;
use crate::resolution::{Resolution, Resolved};
use crate::scope::{Held, Keeper, TaskScope};
use crate::sync::lock;

/// A configuration kept by task scopes, and by how many.
pub(super) struct HeldCount {
    resolution: Arc<Resolution>,
    scopes: usize,
}

impl TaskScope {
    /// Keeps `runtime`'s configuration as it is now for every check in the scope: a reload
    /// or an override made while the task runs is seen by the tasks that start after it,
    /// not halfway through this one.
    pub fn with_configuration_of(self, runtime: &'static Runtime) -> Self {
        self.keeping(runtime.hold())
    }
}

impl Runtime {
    /// Keeps the configuration now in force for a task scope, until the returned handle
    /// (and its clones) are dropped.
    fn hold(&'static self) -> Arc<Held> {
        let state = self.state();
        let mut held = lock(&self.held);
        let resolution = state.current.load_full();
        match held
            .iter_mut()
            .find(|h| h.resolution.generation == resolution.generation)
        {
            Some(entry) => entry.scopes += 1,
            None => held.push(HeldCount {
                resolution: Arc::clone(&resolution),
                scopes: 1,
            }),
        }
        Arc::new(Held {
            keeper: self,
            resolution,
        })
    }
}

impl Keeper for Runtime {
    /// A task scope no longer keeps `resolution`.
    fn release(&self, resolution: &Resolution) {
        let Some(state) = self.state.get() else {
            return;
        };
        let mut held = lock(&self.held);
        let Some(position) = held
            .iter()
            .position(|h| h.resolution.generation == resolution.generation)
        else {
            return;
        };
        held[position].scopes -= 1;
        if held[position].scopes > 0 {
            return;
        }
        held.swap_remove(position);
        if resolution.generation != self.generation.load(Ordering::Acquire) {
            let diverged = divergence(&held, &state.current.load());
            self.words.mark_diverged(&diverged, false);
        }
    }
}

/// Per flag, whether some kept configuration serves it otherwise than `current` does for
/// everyone. Flags evaluated per context always count as diverged (their words never answer
/// a check anyway). Empty when no kept configuration serves any flag otherwise, as when
/// only segments changed since (the flags are then shared, not compared one by one).
pub(super) fn divergence(held: &[HeldCount], current: &Resolution) -> Vec<bool> {
    let kept: Vec<&HeldCount> = held
        .iter()
        .filter(|h| {
            h.resolution.generation != current.generation
                && !Arc::ptr_eq(&h.resolution.resolved, &current.resolved)
        })
        .collect();
    if kept.is_empty() {
        return Vec::new();
    }
    current
        .resolved
        .iter()
        .enumerate()
        .map(|(index, now)| {
            kept.iter()
                .any(|h| match (h.resolution.resolved.get(index), now) {
                    (
                        Some(Resolved::Static { value: then, .. }),
                        Resolved::Static { value: now, .. },
                    ) => then != now,
                    _ => true,
                })
        })
        .collect()
}
