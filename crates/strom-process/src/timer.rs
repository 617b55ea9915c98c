//! Timers: per key and timestamp at most one timer per time domain, fired in timestamp
//! order when the watermark (event time) or the clock (processing time) reaches them.
//!
//! ## Checkpoints
//!
//! The pending timers of an operator are checkpointed as the keyed state
//! [`TIMERS_STATE`]: one entry per key that has timers, holding its event-time and
//! processing-time timers ([`KeyTimers`]), cut by key group like every keyed state, so a
//! job restored at another parallelism gives each subtask the timers of the keys it now
//! owns. After a restore, event-time timers fire when the watermark passes them (the
//! operator resumes at its checkpointed watermark, past which no pending timer lies) and
//! processing-time timers are requested from the task again; those already due fire at the
//! first callback.
//!
//! Timer sections are always complete, also when the keyed state next to them is
//! checkpointed incrementally (the disk backend). A subtask restored from an incremental
//! checkpoint receives the sections of every checkpoint of the chain, so for each key group
//! the *last* timer section wins; and an incremental snapshot writes a section for every
//! key group the subtask owns, empty ones included, so that a key group whose timers are
//! all gone replaces its older section too.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;
use strom_core::checkpoint::{
    KeyedBlob, RestoredState, SnapshotContext, StateSection, StateSnapshot, decode, encode,
    state_error,
};
use strom_core::{Key, Result};
use strom_runtime::operator::OperatorContext;
use strom_types::Timestamp;
use strom_types::key_group::{KeyGroupRange, key_group_for_hash};

/// The name of the keyed state that holds an operator's pending timers in a checkpoint
/// (Flink keeps them under `_timer_state/...` too; the prefix keeps it apart from user
/// states).
pub const TIMERS_STATE: &str = "_timer_state/user-timers";

/// The pending timers of one key, as checkpointed (the entry of [`TIMERS_STATE`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyTimers {
    /// Event-time timers, ascending.
    #[serde(default)]
    pub event: Vec<Timestamp>,
    /// Processing-time timers, ascending.
    #[serde(default)]
    pub processing: Vec<i64>,
}

/// Add the pending timers of both queues to `out` as the keyed state [`TIMERS_STATE`]
/// (copied now, encoded on the checkpoint writer thread): one complete section per key
/// group with timers, or, when the snapshot is incremental (`ctx.incremental_base`), per
/// key group of `key_groups` (the subtask's), empty ones included.
pub fn snapshot_timers<K: Key>(
    event: &TimerQueue<K>,
    processing: &TimerQueue<K>,
    key_groups: KeyGroupRange,
    ctx: &SnapshotContext,
    out: &mut StateSnapshot,
) {
    let every_group = ctx.incremental_base.is_some();
    if !every_group && event.is_empty() && processing.is_empty() {
        return;
    }
    let mut by_key: HashMap<K, KeyTimers, foldhash::fast::RandomState> = HashMap::default();
    for (time, key) in event.pending() {
        by_key.entry(key.clone()).or_default().event.push(time);
    }
    for (time, key) in processing.pending() {
        by_key.entry(key.clone()).or_default().processing.push(time);
    }
    let mut entries: Vec<(K, KeyTimers)> = by_key.into_iter().collect();
    let max_parallelism = ctx.max_parallelism;
    out.defer(move |sections| {
        let mut groups: BTreeMap<u32, Vec<(&K, &KeyTimers)>> = BTreeMap::new();
        if every_group && !key_groups.is_empty() {
            for kg in key_groups.start..=key_groups.end {
                groups.insert(u32::from(kg), Vec::new());
            }
        }
        for (_, timers) in &mut entries {
            timers.event.sort_unstable();
            timers.processing.sort_unstable();
        }
        for (key, timers) in &entries {
            let kg = u32::from(key_group_for_hash(key.key_hash(), max_parallelism));
            groups.entry(kg).or_default().push((key, timers));
        }
        for (key_group, entries) in groups {
            sections.push(StateSection::Keyed {
                state: TIMERS_STATE.to_string(),
                key_group,
                delta: false,
                data: encode(&entries).map_err(|m| state_error("", TIMERS_STATE, m))?,
            });
        }
        Ok(())
    });
}

/// Register the timers of [`TIMERS_STATE`] in `state` into the queues (for each key group
/// its last section), and ask the task for a callback at the earliest processing-time
/// timer.
pub fn restore_timers<K: Key>(
    state: &RestoredState,
    event: &mut TimerQueue<K>,
    processing: &mut TimerQueue<K>,
    ctx: &OperatorContext,
) -> Result<()> {
    let mut last: BTreeMap<u32, &KeyedBlob> = BTreeMap::new();
    for blob in state.keyed_blobs(TIMERS_STATE) {
        if !blob.delta {
            last.insert(blob.key_group, blob);
        }
    }
    for blob in last.values() {
        let entries: Vec<(K, KeyTimers)> = decode(&blob.data).map_err(|m| {
            state_error(
                state.operator(),
                TIMERS_STATE,
                format!("cannot read it from the checkpoint (incompatible key type?): {m}"),
            )
        })?;
        for (key, timers) in entries {
            for t in timers.event {
                event.register(t, &key);
            }
            for t in timers.processing {
                processing.register(t, &key);
            }
        }
    }
    if let Some(next) = processing.next_time() {
        ctx.request_processing_time(next);
    }
    Ok(())
}

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

    /// Every pending timer as `(time, key)`, in no particular order.
    pub fn pending(&self) -> impl Iterator<Item = (Timestamp, &K)> {
        self.pending.iter().map(|(t, k)| (*t, k))
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
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testkit::{restored_state, subtask_for_key};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};
    use strom_core::checkpoint::{CheckpointKind, StateSection};
    use strom_core::{ManualClock, TaskInfo};
    use strom_types::Watermark;

    fn range(subtask: usize, parallelism: usize) -> KeyGroupRange {
        KeyGroupRange::for_operator(128, parallelism, subtask)
    }

    fn context(subtask: usize, parallelism: usize) -> OperatorContext {
        OperatorContext {
            info: TaskInfo {
                job_name: "test".into(),
                operator_name: "timers".into(),
                subtask,
                parallelism,
                max_parallelism: 128,
            },
            clock: Arc::new(ManualClock::new(0)),
            watermark: Watermark::MIN,
            wakeup: Arc::new(AtomicI64::new(i64::MAX)),
            state_backend: Default::default(),
        }
    }

    #[test]
    fn timers_round_trip_by_key_group_and_move_with_their_keys() {
        let (mut event, mut processing) = (TimerQueue::default(), TimerQueue::default());
        for key in 0..40_i64 {
            event.register(1_000 + key, &key);
            event.register(5_000, &key);
            if key % 3 == 0 {
                processing.register(700 + key, &key);
            }
        }
        event.delete(5_000, &7);
        let sctx = SnapshotContext {
            checkpoint_id: 1,
            timestamp_ms: 0,
            kind: CheckpointKind::Checkpoint,
            incremental_base: None,
            max_parallelism: 128,
        };
        let mut out = StateSnapshot::new();
        snapshot_timers(&event, &processing, range(0, 1), &sctx, &mut out);
        let sections = out.materialize().unwrap();
        assert!(sections.len() > 10, "cut by key group");
        assert!(sections.iter().all(|s| matches!(
            s,
            StateSection::Keyed { state, delta: false, .. } if state == TIMERS_STATE
        )));

        // Restored at parallelism 3: each subtask gets the timers of its keys.
        let mut total = (0, 0);
        for subtask in 0..3 {
            let ctx = context(subtask, 3);
            let state = restored_state("timers", std::slice::from_ref(&sections), subtask, 3, 128);
            let (mut e, mut p) = (TimerQueue::default(), TimerQueue::default());
            restore_timers(&state, &mut e, &mut p, &ctx).unwrap();
            for (_, key) in e.pending().chain(p.pending()) {
                assert_eq!(subtask_for_key(key, 3, 128), subtask);
            }
            for key in (0..40_i64).filter(|k| subtask_for_key(k, 3, 128) == subtask) {
                assert_eq!(e.of_key(&key), event.of_key(&key));
                assert_eq!(p.of_key(&key), processing.of_key(&key));
            }
            total = (total.0 + e.len(), total.1 + p.len());
            // The task is asked for the earliest processing-time timer.
            let wakeup = ctx.wakeup.load(Ordering::SeqCst);
            assert_eq!(wakeup, p.next_time().unwrap_or(i64::MAX));
        }
        assert_eq!(total, (event.len(), processing.len()));
        assert_eq!(event.len(), 79);
    }

    #[test]
    fn no_timers_no_section() {
        let sctx = SnapshotContext {
            checkpoint_id: 1,
            timestamp_ms: 0,
            kind: CheckpointKind::Checkpoint,
            incremental_base: None,
            max_parallelism: 128,
        };
        let mut out = StateSnapshot::new();
        snapshot_timers(
            &TimerQueue::<i64>::default(),
            &TimerQueue::default(),
            range(0, 1),
            &sctx,
            &mut out,
        );
        assert!(out.is_empty());
    }

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

    /// A subtask restored from an incremental checkpoint gets the timer sections of every
    /// checkpoint of the chain: the last one of each key group counts, and key groups that
    /// lost all their timers are written empty so that older sections do not come back.
    #[test]
    fn the_last_timer_section_of_an_incremental_chain_wins() {
        let snapshot = |event: &TimerQueue<i64>, base: Option<u64>| {
            let sctx = SnapshotContext {
                checkpoint_id: 1,
                timestamp_ms: 0,
                kind: CheckpointKind::Checkpoint,
                incremental_base: base,
                max_parallelism: 128,
            };
            let mut out = StateSnapshot::new();
            snapshot_timers(event, &TimerQueue::default(), range(1, 2), &sctx, &mut out);
            out.materialize().unwrap()
        };
        let mine: Vec<i64> = (0..200)
            .filter(|k| subtask_for_key(k, 2, 128) == 1)
            .collect();
        let mut event = TimerQueue::default();
        for key in &mine {
            event.register(100, key);
        }
        let base = snapshot(&event, None);
        // Later: the timers of every key fired, one key has a new one.
        while event.pop_due(100).is_some() {}
        event.register(300, &mine[0]);
        let incremental = snapshot(&event, Some(1));
        assert_eq!(
            incremental.len(),
            range(1, 2).len(),
            "one section per owned key group"
        );
        // The runtime hands over the chain in order: base, then the incremental file.
        let state = restored_state("timers", &[[base, incremental].concat()], 1, 2, 128);
        let (mut e, mut p) = (TimerQueue::default(), TimerQueue::default());
        restore_timers(&state, &mut e, &mut p, &context(1, 2)).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e.of_key(&mine[0]), vec![300]);
    }
}
