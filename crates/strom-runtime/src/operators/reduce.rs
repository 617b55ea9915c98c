//! Rolling reduce on a keyed stream (Flink's `KeyedStream.reduce`, and `sum`/`min`/`max`
//! built on it): per key, the accumulated value is combined with each new record and the
//! new accumulated value is emitted.
//!
//! At a checkpoint barrier the accumulated values are copied and checkpointed as the keyed
//! state [`KeyedReduce::STATE_NAME`], cut by key group (encoded on the checkpoint writer
//! thread); a restored subtask takes the values of the key groups it owns.

use crate::operator::{Emitter, OneInputOperator, OperatorContext};
use std::collections::HashMap;
use strom_core::checkpoint::{RestoredState, SnapshotContext, StateSnapshot};
use strom_core::{Data, Key, Result};
use strom_types::Record;

/// Keeps one accumulated value per key `K`. `KF` extracts the key, `R` combines
/// `(accumulated, new) -> accumulated`.
pub struct KeyedReduce<T, K, KF, R> {
    key_of: KF,
    reduce: R,
    /// The accumulated value per key (`None` only while the reduce function runs).
    state: HashMap<K, Option<T>, foldhash::fast::RandomState>,
}

impl<T, K, KF, R> KeyedReduce<T, K, KF, R> {
    /// The keyed state that holds the accumulated values in a checkpoint (Flink's name for
    /// it).
    pub const STATE_NAME: &'static str = "_op_state";

    /// A rolling reduce keyed by `key_of`.
    pub fn new(key_of: KF, reduce: R) -> Self {
        KeyedReduce {
            key_of,
            reduce,
            state: HashMap::default(),
        }
    }
}

impl<T, K, KF, R> OneInputOperator<T, T> for KeyedReduce<T, K, KF, R>
where
    T: Data,
    K: Key,
    KF: Fn(&T) -> K + Send,
    R: FnMut(T, T) -> T + Send,
{
    fn initialize_state(&mut self, state: &RestoredState, _: &mut OperatorContext) -> Result<()> {
        for (key, value) in state.keyed_entries::<K, T>(Self::STATE_NAME)? {
            self.state.insert(key, Some(value));
        }
        Ok(())
    }

    fn snapshot_state(&mut self, ctx: &SnapshotContext, out: &mut StateSnapshot) -> Result<()> {
        let entries: Vec<(K, T)> = self
            .state
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
            .collect();
        if !entries.is_empty() {
            out.keyed_deferred(Self::STATE_NAME, ctx.max_parallelism, entries);
        }
        Ok(())
    }

    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<T>>,
        _: &mut OperatorContext,
        out: &mut Emitter<'_, T>,
    ) -> Result<()> {
        for r in batch.drain(..) {
            let key = (self.key_of)(&r.value);
            // The accumulated value moves into the reduce function; one clone is emitted.
            let slot = self.state.entry(key).or_insert(None);
            let next = match slot.take() {
                Some(prev) => (self.reduce)(prev, r.value),
                None => r.value,
            };
            *slot = Some(next.clone());
            out.records.push(Record::new(next, r.timestamp));
        }
        Ok(())
    }
}
