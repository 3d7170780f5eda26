//! Sticky percentage buckets, compatible with Unleash's.
//!
//! A context's bucket for a rollout is `murmur3_x86_32("{group}:{value}", seed 0) % 100 + 1`:
//! a number from 1 to 100, where `group` is the flag's key (or the rollout's `group`) and
//! `value` the context's key or the `bucket_by` attribute. The rollout serves the first value
//! whose cumulative weight reaches the bucket. This is Unleash's `normalizedValue`, so a team
//! moving from Unleash keeps its users' buckets by setting `group` to the Unleash group id
//! (by default the feature's name). The hash is computed over the bytes as they come, so
//! bucketing allocates nothing.

use std::fmt::Write as _;

use crate::context::Attribute;

/// MurmurHash3, x86, 32-bit, fed in pieces: the blocks hashed so far, and the bytes of the
/// block not yet complete in the low bytes of `tail`.
#[derive(Clone, Copy, Debug)]
struct Murmur3 {
    hash: u32,
    tail: u32,
    tail_len: u32,
    len: u32,
}

const C1: u32 = 0xcc9e_2d51;
const C2: u32 = 0x1b87_3593;

impl Murmur3 {
    const fn new(seed: u32) -> Self {
        Self {
            hash: seed,
            tail: 0,
            tail_len: 0,
            len: 0,
        }
    }

    /// Hashes `bytes` after what came before: the pending bytes of the previous piece (a
    /// group's last one to three) are combined with each new word by shifts, so that every
    /// block of `bytes` is one load. The length is counted modulo 2^32, as in the reference
    /// implementation.
    #[inline(always)]
    fn write(mut self, bytes: &[u8]) -> Self {
        if self.tail_len == 0 {
            return self.write_whole_blocks(bytes);
        }
        self.len = self.len.wrapping_add(bytes.len() as u32);
        let shift = 8 * self.tail_len;
        let mut words = bytes.chunks_exact(4);
        for chunk in &mut words {
            let word = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            self = self.combine(word, shift);
        }
        for &byte in words.remainder() {
            self = self.push(byte);
        }
        self
    }

    /// [`Murmur3::write`] when no byte is pending (a group whose length is a multiple of four,
    /// or the first piece): every block is one load, and the last one to three bytes are
    /// kept as one pending word rather than one at a time.
    #[inline(always)]
    fn write_whole_blocks(mut self, bytes: &[u8]) -> Self {
        self.len = self.len.wrapping_add(bytes.len() as u32);
        let mut words = bytes.chunks_exact(4);
        for chunk in &mut words {
            self.hash = block(
                self.hash,
                u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]),
            );
        }
        let rest = words.remainder();
        self.tail = match *rest {
            [a] => u32::from(a),
            [a, b] => u32::from(a) | u32::from(b) << 8,
            [a, b, c] => u32::from(a) | u32::from(b) << 8 | u32::from(c) << 16,
            _ => 0,
        };
        self.tail_len = rest.len() as u32;
        self
    }

    /// [`Murmur3::write`] as a `const fn`, so that a rollout's group is hashed when the
    /// program is compiled (chunks are not available in `const`).
    const fn write_const(mut self, bytes: &[u8]) -> Self {
        self.len = self.len.wrapping_add(bytes.len() as u32);
        let shift = 8 * self.tail_len;
        let mut at = 0;
        while at + 4 <= bytes.len() {
            let word = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
            self = self.combine(word, shift);
            at += 4;
        }
        while at < bytes.len() {
            self = self.push(bytes[at]);
            at += 1;
        }
        self
    }

    /// Hashes the block made of the pending bytes and the first ones of `word`, whose last
    /// ones are then pending (`shift` is 8 times the number pending).
    #[inline(always)]
    const fn combine(mut self, word: u32, shift: u32) -> Self {
        if shift == 0 {
            self.hash = block(self.hash, word);
        } else {
            self.hash = block(self.hash, self.tail | (word << shift));
            self.tail = word >> (32 - shift);
        }
        self
    }

    #[inline(always)]
    const fn push(mut self, byte: u8) -> Self {
        self.tail |= (byte as u32) << (8 * self.tail_len);
        self.tail_len += 1;
        if self.tail_len == 4 {
            self.hash = block(self.hash, self.tail);
            self.tail = 0;
            self.tail_len = 0;
        }
        self
    }

    #[inline]
    const fn finish(self) -> u32 {
        let mut hash = self.hash;
        if self.tail_len > 0 {
            hash ^= mix(self.tail);
        }
        hash ^= self.len;
        hash ^= hash >> 16;
        hash = hash.wrapping_mul(0x85eb_ca6b);
        hash ^= hash >> 13;
        hash = hash.wrapping_mul(0xc2b2_ae35);
        hash ^ (hash >> 16)
    }
}

#[inline(always)]
const fn block(hash: u32, block: u32) -> u32 {
    (hash ^ mix(block))
        .rotate_left(13)
        .wrapping_mul(5)
        .wrapping_add(0xe654_6b64)
}

#[inline(always)]
const fn mix(block: u32) -> u32 {
    block.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2)
}

/// MurmurHash3 x86_32 of `bytes` with `seed`.
pub fn murmur3_x86_32(bytes: &[u8], seed: u32) -> u32 {
    Murmur3::new(seed).write(bytes).finish()
}

/// The bucket, 1 to 100, of `value` in `group`.
pub fn bucket(group: &str, value: &str) -> u32 {
    GroupHash::new(group).bucket(value)
}

/// A rollout's group already hashed (with the `:` that follows it): bucketing a context then
/// only hashes its key, since the group is the same for every evaluation of the rollout.
/// Made at compile time for the rules `declare!` compiles.
#[derive(Clone, Copy, Debug)]
pub struct GroupHash(Murmur3);

impl GroupHash {
    /// The group `group`, hashed.
    pub const fn new(group: &str) -> Self {
        Self(
            Murmur3::new(0)
                .write_const(group.as_bytes())
                .write_const(b":"),
        )
    }

    /// The bucket, 1 to 100, of `value` in this group.
    #[inline(always)]
    pub fn bucket(&self, value: &str) -> u32 {
        self.0.write(value.as_bytes()).finish() % 100 + 1
    }
}

/// The bucket of an attribute's value: strings as they are, numbers as written (`42`, not
/// `42.0`), bools as `true`/`false`. Lists, versions and times cannot be bucketed.
#[inline]
pub fn bucket_attribute(group: &GroupHash, value: Attribute<'_>) -> Option<u32> {
    // The usual case, a string key, without the room numbers are formatted in.
    if let Attribute::Str(text) = value {
        return Some(group.bucket(text));
    }
    let mut text = StackText::default();
    let value: &str = match value {
        Attribute::Str(s) => s,
        Attribute::Bool(b) => {
            if b {
                "true"
            } else {
                "false"
            }
        }
        Attribute::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => {
            write!(text, "{}", n as i64).ok()?;
            text.as_str()
        }
        Attribute::Number(n) => {
            write!(text, "{n}").ok()?;
            text.as_str()
        }
        Attribute::List(_) | Attribute::Semver(_) | Attribute::Time(_) => return None,
    };
    Some(group.bucket(value))
}

/// Text formatted on the stack, so that a number can be hashed without allocating. A number
/// too long for it (a float with many digits) cannot be bucketed.
struct StackText {
    bytes: [u8; 40],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        Self {
            bytes: [0; 40],
            len: 0,
        }
    }
}

impl StackText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let target = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        target.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_reference_vectors() {
        assert_eq!(murmur3_x86_32(b"", 0), 0);
        assert_eq!(murmur3_x86_32(b"", 1), 0x514e_28b7);
        assert_eq!(murmur3_x86_32(b"hello", 0), 0x248b_fa47);
        assert_eq!(
            murmur3_x86_32(b"The quick brown fox jumps over the lazy dog", 0),
            0x2e4f_f723
        );
        assert_eq!(murmur3_x86_32(b"Turn me into a hash", 1234), 4_138_100_590);
    }

    #[test]
    fn streaming_equals_one_shot() {
        for text in [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abcde",
            "group:key-123456",
            "w3-rollout-25:user-1234",
            "rollout_enabled:user-1023",
        ] {
            for split in 0..=text.len() {
                let (first, second) = text.as_bytes().split_at(split);
                let whole = murmur3_x86_32(text.as_bytes(), 0);
                let hasher = Murmur3::new(0).write(first).write(second);
                assert_eq!(hasher.finish(), whole, "{text:?} split at {split}");
                let in_const = Murmur3::new(0).write_const(first).write(second);
                assert_eq!(in_const.finish(), whole, "{text:?} split at {split}, const");
                // Three pieces: pending bytes carried through a piece of its own.
                for cut in 0..=second.len() {
                    let (middle, last) = second.split_at(cut);
                    let three = Murmur3::new(0).write(first).write(middle).write(last);
                    assert_eq!(three.finish(), whole, "{text:?} split at {split} and {cut}");
                }
            }
        }
    }

    /// Unleash's published values: its clients agree on `normalizedValue(id, group)`.
    #[test]
    fn unleash_normalized_values() {
        assert_eq!(bucket("gr1", "123"), 73);
        // The group hashed once, then each key: the same as hashing "{group}:{key}".
        for group in ["g", "gr", "gr1", "group", "rollout_enabled"] {
            let hashed = GroupHash::new(group);
            for key in ["", "1", "u-123", "a-much-longer-user-identifier"] {
                assert_eq!(
                    hashed.bucket(key),
                    murmur3_x86_32(format!("{group}:{key}").as_bytes(), 0) % 100 + 1
                );
            }
        }
        assert_eq!(bucket("groupX", "999"), 25);
    }

    /// Unleash's client specification: in a rollout of p%, a context is in iff its bucket <= p.
    #[test]
    fn unleash_client_specification_rollouts() {
        assert!(
            bucket("AB12A", "122") <= 50,
            "03: userId 122 is in the 50% rollout"
        );
        assert!(bucket("AB12A", "155") > 50, "03: userId 155 is not");
        assert!(
            bucket("Feature.flexibleRollout.10", "174") <= 10,
            "10: 174 is in the 10% rollout"
        );
        assert!(
            bucket("Feature.flexibleRollout.10", "499") > 10,
            "10: 499 is not"
        );
        assert!(
            bucket("Feature.flexibleRollout.userId.55", "25") <= 55,
            "10: 25 is in 55%"
        );
        assert!(
            bucket("Feature.flexibleRollout.sessionId.42", "147") <= 42,
            "10: 147 is in 42%"
        );
    }

    #[test]
    fn numbers_are_bucketed_as_written() {
        assert_eq!(
            bucket_attribute(&GroupHash::new("gr1"), Attribute::Number(123.0)),
            Some(73)
        );
        assert_eq!(
            bucket_attribute(&GroupHash::new("g"), Attribute::Number(1.5)),
            Some(bucket("g", "1.5"))
        );
        assert_eq!(
            bucket_attribute(&GroupHash::new("g"), Attribute::Bool(true)),
            Some(bucket("g", "true"))
        );
        assert_eq!(
            bucket_attribute(&GroupHash::new("g"), Attribute::List(&[])),
            None
        );
    }

    #[test]
    fn buckets_are_uniform_within_one_point() {
        let mut counts = [0u32; 100];
        for key in 0..100_000 {
            counts[(bucket("checkout_flow", &format!("user-{key}")) - 1) as usize] += 1;
        }
        // A 25% / 40% / 35% split: each share within ±1 percentage point.
        for (from, to, weight) in [(0, 25, 25.0), (25, 65, 40.0), (65, 100, 35.0)] {
            let share: u32 = counts[from..to].iter().sum();
            let percent = f64::from(share) / 1_000.0;
            assert!(
                (percent - weight).abs() <= 1.0,
                "{weight}% split got {percent}%"
            );
        }
    }

    #[test]
    fn groups_make_flags_independent() {
        let in_a: Vec<bool> = (0..10_000)
            .map(|k| bucket("flag_a", &k.to_string()) <= 50)
            .collect();
        let in_b: Vec<bool> = (0..10_000)
            .map(|k| bucket("flag_b", &k.to_string()) <= 50)
            .collect();
        let both = in_a.iter().zip(&in_b).filter(|(a, b)| **a && **b).count();
        // Independent 50% rollouts overlap on about a quarter of the keys.
        assert!((2_300..2_700).contains(&both), "{both} of 10000 in both");
    }
}
