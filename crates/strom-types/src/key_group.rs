//! Key groups: the unit in which keyed state is partitioned, exactly as in Apache Flink.
//!
//! A key's hash code is scrambled with Flink's murmur finaliser and taken modulo the
//! *max parallelism* to give its key group; key groups are assigned to subtasks in contiguous
//! ranges. Rescaling a job therefore moves whole key groups between subtasks, never single
//! keys. The functions here reproduce `org.apache.flink.runtime.state.KeyGroupRangeAssignment`
//! and `org.apache.flink.util.MathUtils.murmurHash` bit for bit.

use serde::{Deserialize, Serialize};

/// The default number of key groups (Flink's default max parallelism for small jobs).
pub const DEFAULT_MAX_PARALLELISM: usize = 128;

/// The largest supported max parallelism (Flink's upper bound, 2^15).
pub const UPPER_BOUND_MAX_PARALLELISM: usize = 1 << 15;

/// The index of a key group, in `0..max_parallelism`.
pub type KeyGroup = u16;

/// Flink's `MathUtils.murmurHash(int)`: a murmur3 finaliser over one 32-bit word, made
/// non-negative.
pub fn murmur_hash(code: i32) -> i32 {
    let mut code = code.wrapping_mul(0xcc9e_2d51_u32 as i32);
    code = code.rotate_left(15);
    code = code.wrapping_mul(0x1b87_3593);
    code = code.rotate_left(13);
    code = code.wrapping_mul(5).wrapping_add(0xe654_6b64_u32 as i32);
    code ^= 4;
    code = bit_mix(code);
    if code >= 0 {
        code
    } else if code != i32::MIN {
        -code
    } else {
        0
    }
}

/// Flink's `MathUtils.bitMix`, the murmur3 fmix32 step.
fn bit_mix(input: i32) -> i32 {
    let mut h = input as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h as i32
}

/// The key group of a key whose (Java-style) hash code is `key_hash`.
pub fn key_group_for_hash(key_hash: i32, max_parallelism: usize) -> KeyGroup {
    (murmur_hash(key_hash) as usize % max_parallelism) as KeyGroup
}

/// The subtask that owns `key_group` when the operator runs at `parallelism`.
pub fn operator_index_for_key_group(
    max_parallelism: usize,
    parallelism: usize,
    key_group: KeyGroup,
) -> usize {
    key_group as usize * parallelism / max_parallelism
}

/// A contiguous, inclusive range of key groups owned by one subtask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyGroupRange {
    /// First key group of the range.
    pub start: KeyGroup,
    /// Last key group of the range (inclusive).
    pub end: KeyGroup,
}

impl KeyGroupRange {
    /// The key groups owned by subtask `index` of an operator at `parallelism`
    /// (Flink's `computeKeyGroupRangeForOperatorIndex`).
    pub fn for_operator(max_parallelism: usize, parallelism: usize, index: usize) -> Self {
        let start = (index * max_parallelism).div_ceil(parallelism);
        let end = ((index + 1) * max_parallelism - 1) / parallelism;
        KeyGroupRange {
            start: start as KeyGroup,
            end: end as KeyGroup,
        }
    }

    /// Whether `key_group` lies in the range.
    pub fn contains(&self, key_group: KeyGroup) -> bool {
        self.start <= key_group && key_group <= self.end
    }

    /// Number of key groups in the range.
    pub fn len(&self) -> usize {
        (self.end as usize + 1).saturating_sub(self.start as usize)
    }

    /// Whether the range holds no key group.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_partition_all_key_groups_and_agree_with_operator_index() {
        for max in [1usize, 7, 128, 1000] {
            for par in 1..=max.min(20) {
                let mut next = 0usize;
                for idx in 0..par {
                    let r = KeyGroupRange::for_operator(max, par, idx);
                    assert_eq!(r.start as usize, next, "max={max} par={par} idx={idx}");
                    for kg in r.start..=r.end {
                        assert_eq!(operator_index_for_key_group(max, par, kg), idx);
                    }
                    next = r.end as usize + 1;
                }
                assert_eq!(next, max);
            }
        }
    }

    #[test]
    fn murmur_is_non_negative() {
        for code in [0, 1, -1, i32::MIN, i32::MAX, 42, 123_456_789] {
            assert!(murmur_hash(code) >= 0);
        }
    }
}
