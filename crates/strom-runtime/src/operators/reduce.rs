//! Rolling reduce on a keyed stream (Flink's `KeyedStream.reduce`, and `sum`/`min`/`max`
//! built on it): per key, the accumulated value is combined with each new record and the
//! new accumulated value is emitted.

use crate::operator::{Emitter, OneInputOperator, OperatorContext};
use std::collections::HashMap;
use std::hash::Hash;
use strom_core::Result;
use strom_types::Record;

/// Keeps one accumulated value per key. `K` extracts the key, `R` combines
/// `(accumulated, new) -> accumulated`.
pub struct KeyedReduce<T, Key, KF, R> {
    key_of: KF,
    reduce: R,
    /// The accumulated value per key (`None` only while the reduce function runs).
    state: HashMap<Key, Option<T>, foldhash::fast::RandomState>,
}

impl<T, Key, KF, R> KeyedReduce<T, Key, KF, R> {
    /// A rolling reduce keyed by `key_of`.
    pub fn new(key_of: KF, reduce: R) -> Self {
        KeyedReduce {
            key_of,
            reduce,
            state: HashMap::default(),
        }
    }
}

impl<T, Key, KF, R> OneInputOperator<T, T> for KeyedReduce<T, Key, KF, R>
where
    T: Clone + Send,
    Key: Hash + Eq + Send,
    KF: Fn(&T) -> Key + Send,
    R: FnMut(T, T) -> T + Send,
{
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
