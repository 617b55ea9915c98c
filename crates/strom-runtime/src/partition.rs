//! How records are routed from a producer subtask to consumer subtasks.
//!
//! The partitioners are Flink's: forward (one to one), rebalance (round robin over all
//! consumers), rescale (round robin over a local subset), broadcast (to all), global (all to
//! subtask 0) and key-group hashing for keyed streams, where
//! `subtask = key_group * parallelism / max_parallelism` and
//! `key_group = murmur(key_hash) % max_parallelism`.

use std::any::Any;
use std::sync::Arc;
use strom_types::Record;
use strom_types::key_group::{key_group_for_hash, operator_index_for_key_group};

/// How an edge distributes records, as declared in the job graph.
#[derive(Clone)]
pub enum Partitioning {
    /// Use forward when parallelism matches, else rebalance (Flink's default).
    Default,
    /// Subtask i sends to subtask i; parallelism must match. Allows chaining.
    Forward,
    /// Round robin over all consumer subtasks.
    Rebalance,
    /// Round robin over the consumers in this producer's local subset.
    Rescale,
    /// Every record to every consumer subtask.
    Broadcast,
    /// Every record to consumer subtask 0.
    Global,
    /// By key group of the record's key: holds a [`crate::writer::KeyedWriterFactory<T>`]
    /// for the edge's record type `T`, which builds a writer monomorphised on the key
    /// selector (no virtual call per record).
    KeyGroups(Arc<dyn Any + Send + Sync>),
}

impl std::fmt::Debug for Partitioning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // One set of names for partitionings: the ship strategies of plans.
        f.write_str(crate::topology::ShipStrategy::of(self).flink_name())
    }
}

/// The consumer subtasks that producer `producer` of `p_up` connects to, for a pointwise
/// edge to `p_down` consumers (Flink's POINTWISE distribution).
pub fn pointwise_targets(producer: usize, p_up: usize, p_down: usize) -> Vec<usize> {
    if p_up == p_down {
        vec![producer]
    } else if p_down > p_up {
        (producer * p_down / p_up..(producer + 1) * p_down / p_up).collect()
    } else {
        // each consumer j reads producers [j*p_up/p_down, (j+1)*p_up/p_down)
        (0..p_down)
            .filter(|&j| j * p_up / p_down <= producer && producer < (j + 1) * p_up / p_down)
            .collect()
    }
}

/// Where one record goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// To this channel (index into the writer's channels).
    One(usize),
    /// To every channel.
    All,
}

/// Chooses the output channel of each record.
///
/// Contract: `select` returns a channel index below the number of channels the selector
/// was created for.
pub trait ChannelSelector<T>: Send {
    /// The channel of one record.
    fn select(&mut self, record: &Record<T>) -> Selection;
    /// If every record goes to the same channel, that channel (lets whole batches move).
    fn fixed(&self) -> Option<Selection> {
        None
    }
}

/// Always the same channel (forward, global) or all (broadcast).
pub struct FixedSelector(pub Selection);

impl<T> ChannelSelector<T> for FixedSelector {
    #[inline]
    fn select(&mut self, _: &Record<T>) -> Selection {
        self.0
    }
    fn fixed(&self) -> Option<Selection> {
        Some(self.0)
    }
}

/// Round robin over the channels, starting at a given one.
pub struct RoundRobinSelector {
    next: usize,
    n: usize,
}

impl RoundRobinSelector {
    /// Round robin over `n` channels starting at `start % n`.
    pub fn new(start: usize, n: usize) -> Self {
        RoundRobinSelector {
            next: start % n.max(1),
            n: n.max(1),
        }
    }
}

impl<T> ChannelSelector<T> for RoundRobinSelector {
    #[inline]
    fn select(&mut self, _: &Record<T>) -> Selection {
        let c = self.next;
        self.next += 1;
        if self.next == self.n {
            self.next = 0;
        }
        Selection::One(c)
    }
}

/// Routes by key group: the channel of a record is the consumer subtask that owns its
/// key's key group. `F` computes the key hash of a record.
pub struct KeyGroupSelector<F> {
    key_hash: F,
    max_parallelism: usize,
    parallelism: usize,
}

impl<F> KeyGroupSelector<F> {
    /// A selector for `parallelism` consumers and `max_parallelism` key groups.
    pub fn new(key_hash: F, max_parallelism: usize, parallelism: usize) -> Self {
        KeyGroupSelector {
            key_hash,
            max_parallelism,
            parallelism,
        }
    }
}

impl<T, F: Fn(&T) -> i32 + Send> ChannelSelector<T> for KeyGroupSelector<F> {
    #[inline]
    fn select(&mut self, record: &Record<T>) -> Selection {
        let kg = key_group_for_hash((self.key_hash)(&record.value), self.max_parallelism);
        Selection::One(operator_index_for_key_group(
            self.max_parallelism,
            self.parallelism,
            kg,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointwise_covers_every_consumer_once_or_more() {
        for p_up in 1..6 {
            for p_down in 1..6 {
                let mut seen = vec![0; p_down];
                for i in 0..p_up {
                    let t = pointwise_targets(i, p_up, p_down);
                    assert!(!t.is_empty(), "{p_up}->{p_down} producer {i}");
                    for j in t {
                        seen[j] += 1;
                    }
                }
                assert!(seen.iter().all(|&c| c >= 1), "{p_up}->{p_down}: {seen:?}");
            }
        }
        assert_eq!(pointwise_targets(0, 2, 4), vec![0, 1]);
        assert_eq!(pointwise_targets(1, 2, 4), vec![2, 3]);
        assert_eq!(pointwise_targets(3, 4, 2), vec![1]);
    }
}
