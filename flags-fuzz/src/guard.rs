//! What a target reports, and catching panics without printing them.

use std::any::Any;
use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

/// What a target found out about an input that broke nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Passed {
    /// Whether the input was accepted (a valid file, an entry that applies, a clean `check`).
    pub valid: bool,
    /// How many bytes of messages the input produced (rendered diagnostics, problems, output).
    pub output: usize,
}

/// How bad a violation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// The code panicked (caught, or a subprocess that exited with 101 or printed "panicked").
    Panic,
    /// The process died: a signal, a stack overflow, an abort, an unexpected exit code.
    Crash,
    /// An invariant does not hold: a span outside its text, a location that does not exist, a
    /// rejected file whose values changed, an error that does not name its flag.
    Invariant,
    /// The input took longer than the limit (a known problem: exponential prerequisite
    /// ladders, unbounded "did you mean").
    Slow,
    /// The input produced more output than the bound (a known problem: unbounded error
    /// output).
    Oversized,
}

impl Class {
    /// Every class, worst first.
    pub const ALL: [Class; 5] = [
        Class::Panic,
        Class::Crash,
        Class::Invariant,
        Class::Slow,
        Class::Oversized,
    ];

    /// Whether this is one of the problems known and being fixed elsewhere: it is reported
    /// and kept, and fails a run only when asked (`--strict`).
    pub fn is_known_problem(self) -> bool {
        matches!(self, Class::Slow | Class::Oversized)
    }

    /// The lowercase name used in reports and in the worker protocol.
    pub fn name(self) -> &'static str {
        match self {
            Class::Panic => "panic",
            Class::Crash => "crash",
            Class::Invariant => "violation",
            Class::Slow => "slow",
            Class::Oversized => "oversized",
        }
    }

    /// The class named `name`.
    pub fn from_name(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|class| class.name() == name)
    }
}

/// A described violation: what went wrong with one input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// How bad it is.
    pub class: Class,
    /// What happened: for a panic its message, place and stack.
    pub message: String,
    /// How many bytes of output the input produced, when that is the violation.
    pub output: usize,
}

impl Violation {
    /// A violation of `class`.
    pub fn new(class: Class, message: impl Into<String>) -> Self {
        Self {
            class,
            message: message.into(),
            output: 0,
        }
    }

    /// More than the bound of output: `output` bytes for an input of `input` bytes.
    pub fn oversized(output: usize, input: usize) -> Self {
        Self {
            output,
            ..Self::new(
                Class::Oversized,
                format!("{output} bytes of messages for an input of {input} bytes"),
            )
        }
    }

    /// An invariant that does not hold.
    pub fn invariant(message: impl Into<String>) -> Self {
        Self::new(Class::Invariant, message)
    }

    /// What identifies this violation among others of its kind: its class and the first line
    /// of its message with numbers left out, so that one bug found by many inputs counts once.
    pub fn signature(&self) -> String {
        let first = self.message.lines().next().unwrap_or_default();
        let first: String = first
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .take(120)
            .collect();
        // A panic's first line is `panicked at file:line:column:`, which the numbers make.
        let place = self
            .message
            .lines()
            .find(|line| line.starts_with("panicked at "))
            .unwrap_or(&first);
        match self.class {
            Class::Panic => format!("panic {place}"),
            // Killed inputs have no time of their own; the others are measured.
            Class::Slow if self.message.contains("killed") => "slow, killed".to_owned(),
            Class::Slow | Class::Oversized => self.class.name().to_owned(),
            class => format!("{} {first}", class.name()),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class.name(), self.message)
    }
}

thread_local! {
    /// Whether this thread is inside [`catch`]: the hook then keeps the panic instead of
    /// printing it.
    static QUIET: Cell<bool> = const { Cell::new(false) };
    /// The last panic caught in this thread, with its stack.
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Runs `f`, turning a panic into a [`Class::Panic`] violation with its message, place and
/// stack. Panics inside stay quiet; panics elsewhere (a failing test) print as usual.
pub fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Violation> {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                let stack = Backtrace::force_capture();
                CAUGHT.with(|caught| *caught.borrow_mut() = Some(format!("{info}\n{stack}")));
            } else {
                previous(info);
            }
        }));
    });
    let outer = QUIET.with(|quiet| quiet.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|quiet| quiet.set(outer));
    result.map_err(|payload| {
        let report = CAUGHT
            .with(|caught| caught.borrow_mut().take())
            .unwrap_or_else(|| payload_text(payload.as_ref()));
        Violation::new(Class::Panic, report)
    })
}

fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a payload that is not text".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_violation_with_its_place() {
        let violation = catch(|| {
            let empty: Vec<u8> = Vec::new();
            empty[3]
        })
        .expect_err("indexing an empty vector panics");
        assert_eq!(violation.class, Class::Panic);
        assert!(
            violation.message.contains("index out of bounds"),
            "{violation}"
        );
        assert!(violation.signature().starts_with("panic panicked at "));
        assert_eq!(catch(|| 7).expect("no panic"), 7);
    }
}
