//! The word each flag's current value is published in, so that a flag check is one load.
//!
//! ```text
//! bit 63 ............ 16 | 15 .. 4 | 3        | 2     | 1 0
//!     payload (48 bits)  | unused  | OBSERVED | LOCAL | tag
//! ```
//!
//! The tag says whether the payload holds the value (bools, variant indexes and integers
//! that fit in 48 bits), or the value must be read from the snapshot (floats, strings,
//! large integers), or evaluated for a context (targeting), or the runtime has not started
//! yet. `LOCAL` is set while some thread may see another value than the word's: a test stub
//! of the flag, or a task holding an older configuration in which the flag differs. Only
//! then does a check look at the current thread's count of stubs and held configurations,
//! and only when that is not zero does it search them. `OBSERVED` is set while evaluation
//! listeners want every check: all checks then take the slow path, which reports them.
//!
//! A flag evaluated per context whose targeting is still `flags.toml`'s, in an environment
//! the macro compiled it for, has `NATIVE` in its payload with the environment's index above
//! it: its `_for` accessor then runs the compiled rules instead of interpreting them.

use flags_model::Value;

/// The bits that say where the value is.
pub const TAG_MASK: u64 = 0b11;
/// The payload holds the value. Zero, as are the marks of an unmarked word, so that the
/// fast path's test is one `test` of the low bits, with no compare.
pub const INLINE: u64 = 0;
pub(crate) const UNINIT: u64 = 1;
pub(crate) const INDIRECT: u64 = 2;
/// Evaluated per context (targeting or prerequisites): always the slow path.
pub const DYNAMIC: u64 = 3;
pub(crate) const LOCAL: u64 = 0b100;
/// Every check of the flag is reported to evaluation listeners.
pub const OBSERVED: u64 = 0b1000;
/// The bits a check compares against [`INLINE`] to take the fast path.
pub const FAST_MASK: u64 = TAG_MASK | LOCAL | OBSERVED;
/// A word whose `FAST_MASK` bits equal this holds its value in the payload.
pub const FAST: u64 = INLINE;
const PAYLOAD_SHIFT: u32 = 16;
/// In a `DYNAMIC` word: `flags.toml`'s targeting is in force, compiled for the environment in
/// the bits above.
pub const NATIVE: u64 = 1 << PAYLOAD_SHIFT;
const ENVIRONMENT_SHIFT: u32 = PAYLOAD_SHIFT + 1;
/// The bits a `_for` check compares against [`NATIVE_FAST`] to run compiled rules.
pub const NATIVE_MASK: u64 = TAG_MASK | OBSERVED | NATIVE;
/// A word whose [`NATIVE_MASK`] bits equal this runs compiled rules (after the `LOCAL` check).
pub const NATIVE_FAST: u64 = DYNAMIC | NATIVE;
const PAYLOAD_BITS: u32 = 64 - PAYLOAD_SHIFT;

/// The word for a value, without the `LOCAL` and `OBSERVED` bits.
pub(crate) fn encode(value: &Value) -> u64 {
    let inline = |payload: u64| (payload << PAYLOAD_SHIFT) | INLINE;
    match value {
        Value::Bool(b) => inline(u64::from(*b)),
        Value::Variant { index, .. } => inline(u64::from(*index)),
        Value::Int(i) if fits_payload(*i) => inline(*i as u64),
        Value::Int(_) | Value::Float(_) | Value::String(_) => INDIRECT,
    }
}

fn fits_payload(i: i64) -> bool {
    let limit = 1i64 << (PAYLOAD_BITS - 1);
    (-limit..limit).contains(&i)
}

/// The word of a flag whose compiled rules for `environment` are in force.
pub(crate) fn native(environment: usize) -> u64 {
    DYNAMIC | NATIVE | ((environment as u64) << ENVIRONMENT_SHIFT)
}

/// The environment of a [`NATIVE_FAST`] word.
#[inline(always)]
pub const fn payload_environment(word: u64) -> u32 {
    (word >> ENVIRONMENT_SHIFT) as u32
}

/// The payload as a bool. Its lowest bit, not a compare: a compare's `setcc` writes one
/// byte of a register and keeps the rest, which can tie each check to the one before.
#[inline(always)]
pub const fn payload_bool(word: u64) -> bool {
    (word >> PAYLOAD_SHIFT) & 1 != 0
}

/// The payload as a sign-extended integer.
#[inline(always)]
pub const fn payload_int(word: u64) -> i64 {
    (word as i64) >> PAYLOAD_SHIFT
}

/// The payload as a variant index.
#[inline(always)]
pub const fn payload_variant(word: u64) -> u32 {
    (word >> PAYLOAD_SHIFT) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_values_round_trip() {
        let bool_word = encode(&Value::Bool(true));
        assert_eq!(bool_word & FAST_MASK, FAST);
        assert!(payload_bool(bool_word));
        assert!(!payload_bool(encode(&Value::Bool(false))));
        for i in [0, 1, -1, 42, -(1 << 47), (1 << 47) - 1] {
            let word = encode(&Value::Int(i));
            assert_eq!(word & FAST_MASK, FAST, "{i}");
            assert_eq!(payload_int(word), i);
        }
        let word = encode(&Value::Variant {
            index: 2,
            name: "express".into(),
        });
        assert_eq!(payload_variant(word), 2);
    }

    #[test]
    fn large_and_unboxable_values_go_to_the_snapshot() {
        assert_eq!(encode(&Value::Int(1 << 47)), INDIRECT);
        assert_eq!(encode(&Value::Int(i64::MIN)), INDIRECT);
        assert_eq!(encode(&Value::Float(1.0)), INDIRECT);
        assert_eq!(encode(&Value::String("x".into())), INDIRECT);
    }

    #[test]
    fn a_marked_word_leaves_the_fast_path() {
        assert_ne!((encode(&Value::Bool(true)) | LOCAL) & FAST_MASK, FAST);
        assert_ne!((encode(&Value::Bool(true)) | OBSERVED) & FAST_MASK, FAST);
        assert_ne!(UNINIT & FAST_MASK, FAST);
    }
}
