//! Immutable, complete configurations, and consistent reads of several flags; explanations
//! of flags ([`Runtime::explain`]), which are read from one.

use std::sync::Arc;

use flags_model::{Flag, Value};

use crate::context::{self, AnyContext};
use crate::descriptor::FromValue;
use crate::eval::{Outcome, Reason};
use crate::resolution::Resolution;
use crate::runtime::Runtime;
use crate::scope::{self, TaskScope};

/// A flag's value and why it has it.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation<T = Value> {
    /// The value.
    pub value: T,
    /// Why: a stub, an override, a rule, a rollout bucket, a prerequisite...
    pub reason: Reason,
}

/// A configuration held still: every read through it sees the same values, whatever
/// reloads happen meanwhile. Test stubs of the current thread still apply, and targeted
/// flags are evaluated for the current context (see `with_context`).
///
/// Taken with the generated `Flags::snapshot()`, which has one typed method per flag.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub(crate) runtime: &'static Runtime,
    pub(crate) resolution: Arc<Resolution>,
}

impl Snapshot {
    /// Counts the configurations loaded so far: 1 for the first, then one more per reload
    /// or override change.
    pub fn generation(&self) -> u64 {
        self.resolution.generation
    }

    /// The environment this configuration is for.
    pub fn environment(&self) -> Option<&'static str> {
        let index = self.resolution.environment?;
        self.runtime
            .catalog()
            .environments()
            .names()
            .get(index)
            .map(String::as_str)
    }

    /// Flag `index` for `context` (or the current context when `None`), and why.
    pub fn evaluate(&self, index: usize, context: Option<&dyn AnyContext>) -> Evaluation {
        self.with_outcome(index, context, true, |outcome| Evaluation {
            reason: self.runtime.reason(&outcome),
            value: outcome.value.into_owned(),
        })
    }

    /// Like [`Snapshot::evaluate`], without telling evaluation listeners: for tools that
    /// explain a flag rather than use it.
    pub(crate) fn explain(&self, index: usize, context: Option<&dyn AnyContext>) -> Evaluation {
        self.with_outcome(index, context, false, |outcome| Evaluation {
            reason: self.runtime.reason(&outcome),
            value: outcome.value.into_owned(),
        })
    }

    /// The value of flag `index` for the current context.
    pub fn value(&self, index: usize) -> Value {
        self.with_outcome(index, None, true, |outcome| outcome.value.into_owned())
    }

    fn with_outcome<R>(
        &self,
        index: usize,
        context: Option<&dyn AnyContext>,
        report: bool,
        use_outcome: impl FnOnce(Outcome<'_>) -> R,
    ) -> R {
        let evaluate = |context: Option<&dyn AnyContext>| {
            let outcome = self.runtime.outcome(&self.resolution, index, context);
            if report {
                self.runtime.report_evaluation(
                    index,
                    &outcome.value,
                    &outcome.why,
                    self.resolution.generation,
                );
            }
            use_outcome(outcome)
        };
        match context {
            Some(context) => evaluate(Some(context)),
            None => {
                context::with_current(|current| evaluate(current.map(|c| c as &dyn AnyContext)))
            }
        }
    }

    /// Bool flag `index`.
    pub fn bool(&self, index: usize) -> bool {
        self.typed(index)
    }

    /// Integer flag `index`.
    pub fn int(&self, index: usize) -> i64 {
        self.typed(index)
    }

    /// Float flag `index`.
    pub fn float(&self, index: usize) -> f64 {
        self.typed(index)
    }

    /// String flag `index`.
    pub fn string(&self, index: usize) -> Arc<str> {
        self.typed(index)
    }

    /// The variant index of variant flag `index`.
    pub fn variant(&self, index: usize) -> u32 {
        self.typed(index)
    }

    fn typed<T: FromValue>(&self, index: usize) -> T {
        self.runtime.typed_owned(index, self.value(index))
    }
}

/// A flag's declaration, its value now (in the current thread and context) and why.
#[derive(Clone, Debug)]
pub struct FlagInfo {
    flag: &'static Flag,
    value: Value,
    reason: Reason,
}

impl FlagInfo {
    /// The declaration: key, description, owner, ticket, expiry, type, per-environment values.
    pub fn flag(&self) -> &'static Flag {
        self.flag
    }

    /// The value now in force (in the current thread, stubs included, for the current context).
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Why it has that value.
    pub fn reason(&self) -> &Reason {
        &self.reason
    }
}

impl Runtime {
    /// Every flag with its declaration, current value and why (for the current context).
    pub fn flags(&'static self) -> Vec<FlagInfo> {
        let snapshot = self.snapshot();
        (0..self.catalog().flags().len())
            .filter_map(|index| self.info(&snapshot, index, None))
            .collect()
    }

    /// One flag (by key or accessor name) with its value and why, for `context` (the
    /// current context when `None`): the answer to "why does this user see the feature?".
    pub fn explain(
        &'static self,
        name: &str,
        context: Option<&dyn AnyContext>,
    ) -> Option<FlagInfo> {
        let (index, _) = self.catalog().find(name)?;
        self.info(&self.snapshot(), index, context)
    }

    /// The configuration now in force, held still for consistent reads of several flags.
    ///
    /// Inside a [`TaskScope`](crate::TaskScope) that keeps this runtime's configuration,
    /// that configuration.
    pub fn snapshot(&'static self) -> Snapshot {
        let resolution = scope::held(self).unwrap_or_else(|| self.current());
        Snapshot {
            runtime: self,
            resolution,
        }
    }

    fn info(
        &'static self,
        snapshot: &Snapshot,
        index: usize,
        context: Option<&dyn AnyContext>,
    ) -> Option<FlagInfo> {
        if !self.is_consistent() {
            return None;
        }
        let flag = self.catalog().flags().get(index)?;
        let Evaluation { value, reason } = snapshot.explain(index, context);
        Some(FlagInfo {
            flag,
            value,
            reason,
        })
    }

    /// Flag `index` for `context` (the current context when `None`), and why.
    #[doc(hidden)]
    pub fn evaluate<T: FromValue>(
        &'static self,
        index: usize,
        context: Option<&dyn AnyContext>,
    ) -> Evaluation<T> {
        let Evaluation { value, reason } = self.snapshot().evaluate(index, context);
        Evaluation {
            value: self.typed_owned(index, value),
            reason,
        }
    }
}

impl TaskScope {
    /// The configuration the scope keeps for `runtime`, if it keeps one.
    pub fn snapshot(&self, runtime: &'static Runtime) -> Option<Snapshot> {
        self.kept_by(runtime).map(|resolution| Snapshot {
            runtime,
            resolution: Arc::clone(resolution),
        })
    }
}
