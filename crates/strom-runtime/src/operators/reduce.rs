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
    state: HashMap<Key, T, foldhash::fast::RandomState>,
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
            let acc = match self.state.entry(key) {
                std::collections::hash_map::Entry::Occupied(mut e) => {
                    let prev = e.get().clone();
                    let next = (self.reduce)(prev, r.value);
                    e.insert(next.clone());
                    next
                }
                std::collections::hash_map::Entry::Vacant(e) => e.insert(r.value).clone(),
            };
            out.records.push(Record::new(acc, r.timestamp));
        }
        Ok(())
    }
}
