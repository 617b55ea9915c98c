//! Timers: per key and timestamp at most one timer per time domain, fired in timestamp
//! order when the watermark (event time) or the clock (processing time) reaches them.

use std::collections::{BTreeMap, HashSet};
use std::hash::Hash;
use strom_runtime::operator::OperatorContext;
use strom_types::Timestamp;

/// Which clock a timer follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeDomain {
    /// Fires when the watermark reaches the timer.
    EventTime,
    /// Fires when the processing-time clock reaches the timer.
    ProcessingTime,
}

/// The pending timers of one domain, deduplicated per (timestamp, key).
pub struct TimerQueue<K> {
    by_time: BTreeMap<Timestamp, Vec<K>>,
    pending: HashSet<(Timestamp, K), foldhash::fast::RandomState>,
}

impl<K> Default for TimerQueue<K> {
    fn default() -> Self {
        TimerQueue {
            by_time: BTreeMap::new(),
            pending: HashSet::default(),
        }
    }
}

impl<K: Hash + Eq + Clone> TimerQueue<K> {
    /// Register a timer; false if it already exists.
    pub fn register(&mut self, time: Timestamp, key: &K) -> bool {
        if !self.pending.insert((time, key.clone())) {
            return false;
        }
        self.by_time.entry(time).or_default().push(key.clone());
        true
    }

    /// Delete a timer (a no-op if it does not exist).
    pub fn delete(&mut self, time: Timestamp, key: &K) {
        self.pending.remove(&(time, key.clone()));
    }

    /// Take the earliest timer at or before `upto`, skipping deleted ones.
    pub fn pop_due(&mut self, upto: Timestamp) -> Option<(Timestamp, K)> {
        loop {
            let mut entry = self.by_time.first_entry()?;
            let time = *entry.key();
            if time > upto {
                return None;
            }
            let keys = entry.get_mut();
            match keys.pop() {
                Some(key) => {
                    if keys.is_empty() {
                        entry.remove();
                    }
                    if self.pending.remove(&(time, key.clone())) {
                        return Some((time, key));
                    }
                }
                None => {
                    entry.remove();
                }
            }
        }
    }

    /// The time of the earliest pending timer.
    pub fn next_time(&self) -> Option<Timestamp> {
        self.by_time
            .iter()
            .find(|(t, keys)| {
                keys.iter()
                    .any(|k| self.pending.contains(&(**t, k.clone())))
            })
            .map(|(t, _)| *t)
    }

    /// Number of pending timers.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The pending timers of `key`, sorted (for tests and introspection).
    pub fn of_key(&self, key: &K) -> Vec<Timestamp> {
        let mut v: Vec<Timestamp> = self
            .pending
            .iter()
            .filter(|(_, k)| k == key)
            .map(|(t, _)| *t)
            .collect();
        v.sort_unstable();
        v
    }
}

/// Registers and deletes timers of the current key.
pub struct TimerService<'a, K> {
    pub(crate) key: &'a K,
    pub(crate) event: &'a mut TimerQueue<K>,
    pub(crate) processing: &'a mut TimerQueue<K>,
    pub(crate) ctx: &'a OperatorContext,
    pub(crate) now: i64,
}

impl<K: Hash + Eq + Clone> TimerService<'_, K> {
    /// Call `on_timer` once the watermark reaches `time`.
    pub fn register_event_time_timer(&mut self, time: Timestamp) {
        self.event.register(time, self.key);
    }
    /// Cancel an event-time timer of the current key.
    pub fn delete_event_time_timer(&mut self, time: Timestamp) {
        self.event.delete(time, self.key);
    }
    /// Call `on_timer` once processing time reaches `time`.
    pub fn register_processing_time_timer(&mut self, time: i64) {
        if self.processing.register(time, self.key) {
            self.ctx.request_processing_time(time);
        }
    }
    /// Cancel a processing-time timer of the current key.
    pub fn delete_processing_time_timer(&mut self, time: i64) {
        self.processing.delete(time, self.key);
    }
    /// The current event-time watermark.
    pub fn current_watermark(&self) -> Timestamp {
        self.ctx.watermark.0
    }
    /// The current processing time.
    pub fn current_processing_time(&self) -> i64 {
        self.now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_dedup_delete_and_fire_in_order() {
        let mut q = TimerQueue::default();
        assert!(q.register(30, &"a"));
        assert!(q.register(10, &"b"));
        assert!(!q.register(10, &"b"), "one timer per key and time");
        assert!(q.register(10, &"a"));
        assert!(q.register(20, &"a"));
        q.delete(20, &"a");
        assert_eq!(q.next_time(), Some(10));
        let mut fired = Vec::new();
        while let Some(t) = q.pop_due(25) {
            fired.push(t);
        }
        fired.sort();
        assert_eq!(fired, vec![(10, "a"), (10, "b")]);
        assert_eq!(q.of_key(&"a"), vec![30]);
        assert_eq!(q.pop_due(100), Some((30, "a")));
        assert!(q.is_empty());
    }
}
