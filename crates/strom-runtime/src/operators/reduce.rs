//! Rolling reduce on a keyed stream (Flink's `KeyedStream.reduce`, and `sum`/`min`/`max`
//! built on it): per key, the accumulated value is combined with each new record and the
//! new accumulated value is emitted.
//!
//! The accumulated values are the keyed state [`KeyedReduce::STATE_NAME`] in the operator's
//! [`KeyedStateStore`] on the job's state backend (heap or disk), one object per key, so
//! checkpoints are the store's: cut by key group, incremental where the backend and the
//! runtime allow; a restored subtask takes the values of the key groups it owns.

use crate::operator::{Emitter, OneInputOperator, OperatorContext};
use std::sync::Arc;
use strom_core::checkpoint::{CheckpointId, RestoredState, SnapshotContext, StateSnapshot};
use strom_core::{Data, Key, Result};
use strom_state::{KeyedStateBackend, KeyedStateStore, StateName};
use strom_types::Record;

/// Keeps one accumulated value per key `K`. `KF` extracts the key, `R` combines
/// `(accumulated, new) -> accumulated`.
pub struct KeyedReduce<T, K, KF, R> {
    key_of: KF,
    reduce: R,
    /// The accumulated value per key.
    store: KeyedStateStore<K>,
    name: StateName,
    _value: std::marker::PhantomData<fn() -> T>,
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
            store: KeyedStateStore::default(),
            name: Arc::from(Self::STATE_NAME),
            _value: std::marker::PhantomData,
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
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        self.store.ensure_backend(&ctx.state_backend, &ctx.info)
    }

    fn initialize_state(&mut self, state: &RestoredState, ctx: &mut OperatorContext) -> Result<()> {
        self.store.ensure_backend(&ctx.state_backend, &ctx.info)?;
        self.store.restore(state)?;
        self.store.declare::<T>(&self.name)
    }

    fn snapshot_state(&mut self, ctx: &SnapshotContext, out: &mut StateSnapshot) -> Result<()> {
        self.store.snapshot(ctx, out)
    }

    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<()> {
        self.store.notify_checkpoint_complete(id);
        Ok(())
    }

    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<T>>,
        _: &mut OperatorContext,
        out: &mut Emitter<'_, T>,
    ) -> Result<()> {
        let reduce = &mut self.reduce;
        for r in batch.drain(..) {
            let key = (self.key_of)(&r.value);
            // The accumulated value moves into the reduce function; one clone is emitted.
            let next = self.store.with_entry::<T, _>(&self.name, &key, |slot| {
                let next = match slot.take() {
                    Some(prev) => reduce(prev, r.value),
                    None => r.value,
                };
                *slot = Some(next.clone());
                next
            })?;
            out.records.push(Record::new(next, r.timestamp));
        }
        Ok(())
    }
}
