//! A flag's outcome in one configuration: its value and why, from a stub, an override, its
//! prerequisites and its targeting, and the report of it to listeners.

use std::borrow::Cow;

use flags_model::{MAX_REQUIREMENT_DEPTH, Value};

use super::Runtime;
use crate::condition::Scope;
use crate::context::AnyContext;
use crate::eval::{Outcome, Reason, Visited, Why};
use crate::events::{EvaluationEvent, EvaluationReason};
use crate::resolution::{Resolution, Resolved};
use crate::stub;

impl Runtime {
    /// Tells listeners (and `tracing`) of one evaluation of flag `index`, and notes that the
    /// flag is checked when its presence is asked for.
    #[inline]
    pub(crate) fn report_evaluation(
        &self,
        index: usize,
        value: &Value,
        why: &Why<'_>,
        generation: u64,
    ) {
        self.words.note_presence(index);
        if !self.listeners.wanted() {
            return;
        }
        let flag = self.descriptor.flags.get(index).map_or("", |flag| flag.key);
        self.listeners.report(&EvaluationEvent {
            flag,
            value,
            reason: EvaluationReason::of(why),
            generation,
        });
    }

    /// Flag `index` in `resolution` for `context`: a stub of this thread, else what the
    /// flag resolved to (evaluated when it targets or has prerequisites).
    pub(crate) fn outcome<'r>(
        &'static self,
        resolution: &'r Resolution,
        index: usize,
        context: Option<&dyn AnyContext>,
    ) -> Outcome<'r> {
        self.outcome_in(resolution, index, context, &mut None, 0)
    }

    /// [`Runtime::outcome`] within one evaluation: prerequisites already evaluated in it are
    /// in `visited`, so that each flag is evaluated once however many flags require it.
    fn outcome_in<'r>(
        &'static self,
        resolution: &'r Resolution,
        index: usize,
        context: Option<&dyn AnyContext>,
        // Made at the first prerequisite: most evaluations have none.
        visited: &mut Option<Visited<'r>>,
        depth: usize,
    ) -> Outcome<'r> {
        if self.words.is_local(index) {
            if let Some(value) = stub::lookup(&self.words, index) {
                return Outcome {
                    value: Cow::Owned(value),
                    why: Why::Stub,
                };
            }
        }
        let Some(resolved) = resolution.resolved.get(index) else {
            return Outcome {
                value: Cow::Owned(self.default_value(index)),
                why: Why::Missing,
            };
        };
        let program = match resolved {
            Resolved::Static {
                value,
                origin,
                overridden: true,
            } => {
                return Outcome {
                    value: Cow::Borrowed(value),
                    why: Why::Override(origin),
                };
            }
            Resolved::Static { value, origin, .. } => {
                return Outcome {
                    value: Cow::Borrowed(value),
                    why: Why::Static(origin),
                };
            }
            Resolved::Dynamic(program) => program,
        };
        for (required, is) in &program.requires {
            let known = visited.as_ref().and_then(|v| v.get(*required));
            let met = match known.map(|value| value == is) {
                Some(met) => met,
                // Deeper chains are refused by flags.toml's validation; this only guards.
                None if depth < MAX_REQUIREMENT_DEPTH => {
                    let value = self
                        .outcome_in(resolution, *required, context, visited, depth + 1)
                        .value;
                    let met = *value == *is;
                    visited
                        .get_or_insert_with(Visited::default)
                        .insert(*required, value);
                    met
                }
                None => false,
            };
            if !met {
                return Outcome {
                    value: Cow::Borrowed(&program.default),
                    why: Why::PrerequisiteOff(*required),
                };
            }
        }
        let scope = Scope {
            segments: &resolution.segments,
        };
        program.evaluate(context, scope)
    }

    /// The public form of an outcome's reason.
    pub(crate) fn reason(&'static self, outcome: &Outcome<'_>) -> Reason {
        outcome.why.to_reason(|index| {
            self.descriptor
                .flags
                .get(index)
                .map_or_else(|| format!("#{index}"), |flag| flag.key.to_owned())
        })
    }
}
