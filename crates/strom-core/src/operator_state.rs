//! Operator (non-keyed) list state, for sources, sinks and functions that keep per-subtask
//! state such as read positions (Flink's `OperatorStateStore`).
//!
//! Each subtask keeps lists of elements. When a job is restored at another parallelism the
//! lists of all old subtasks are redistributed by the state's [`Redistribution`] mode:
//! *even split* concatenates every subtask's list and cuts it into near-equal contiguous
//! parts, one per new subtask; *union* gives every new subtask the whole concatenation. The
//! checkpoint machinery snapshots the lists and calls [`redistribute`] on restore.

use crate::checkpoint::{RestoredState, StateSection, StateSnapshot};
use crate::{Result, StromError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::any::Any;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

/// How a list state's elements are spread over subtasks after rescaling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Redistribution {
    /// Concatenate and split evenly (Flink's `getListState`).
    EvenSplit,
    /// Every subtask gets everything (Flink's `getUnionListState`).
    Union,
}

/// Declares an operator list state.
pub struct OperatorListStateDescriptor<V> {
    name: Arc<str>,
    mode: Redistribution,
    _type: PhantomData<fn() -> V>,
}

impl<V> Clone for OperatorListStateDescriptor<V> {
    fn clone(&self) -> Self {
        OperatorListStateDescriptor {
            name: Arc::clone(&self.name),
            mode: self.mode,
            _type: PhantomData,
        }
    }
}

impl<V> OperatorListStateDescriptor<V> {
    /// A list state redistributed by even split.
    pub fn even_split(name: impl Into<Arc<str>>) -> Self {
        OperatorListStateDescriptor {
            name: name.into(),
            mode: Redistribution::EvenSplit,
            _type: PhantomData,
        }
    }

    /// A list state whose full contents every subtask gets after rescaling.
    pub fn union(name: impl Into<Arc<str>>) -> Self {
        OperatorListStateDescriptor {
            name: name.into(),
            mode: Redistribution::Union,
            _type: PhantomData,
        }
    }

    /// The state's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its redistribution mode.
    pub fn redistribution(&self) -> Redistribution {
        self.mode
    }
}

type EncodeList = fn(&dyn Any) -> std::result::Result<Vec<Vec<u8>>, String>;

struct ListEntry {
    mode: Redistribution,
    list: Box<dyn Any + Send>,
    encode: EncodeList,
}

fn encode_list<V: Serialize + 'static>(
    list: &dyn Any,
) -> std::result::Result<Vec<Vec<u8>>, String> {
    list.downcast_ref::<Vec<V>>()
        .ok_or_else(|| "list state changed type".to_string())?
        .iter()
        .map(crate::checkpoint::encode)
        .collect()
}

/// The operator list states of one subtask, snapshotted at every checkpoint and restored
/// (redistributed) from one.
#[derive(Default)]
pub struct OperatorStateStore {
    lists: HashMap<Arc<str>, ListEntry>,
    restored: Option<RestoredState>,
}

impl OperatorStateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store whose lists start from `restored` (this subtask's share after
    /// redistribution); each list is decoded when first used.
    pub fn restored(restored: RestoredState) -> Self {
        OperatorStateStore {
            lists: HashMap::new(),
            restored: Some(restored),
        }
    }

    /// The list of state `d`, created empty (or from the restored checkpoint) on first use.
    pub fn list<V: Serialize + DeserializeOwned + Send + 'static>(
        &mut self,
        d: &OperatorListStateDescriptor<V>,
    ) -> Result<&mut Vec<V>> {
        if !self.lists.contains_key(&d.name) {
            let initial: Vec<V> = match &self.restored {
                Some(r) => r.list(&d.name)?,
                None => Vec::new(),
            };
            self.lists.insert(
                Arc::clone(&d.name),
                ListEntry {
                    mode: d.mode,
                    list: Box::new(initial),
                    encode: encode_list::<V>,
                },
            );
        }
        let entry = self
            .lists
            .get_mut(&d.name)
            .ok_or_else(|| StromError::Internal("operator state vanished".into()))?;
        if entry.mode != d.mode {
            return Err(StromError::User(
                format!(
                    "operator state '{}' is declared with two redistribution modes",
                    d.name
                )
                .into(),
            ));
        }
        entry.list.downcast_mut::<Vec<V>>().ok_or_else(|| {
            StromError::User(
                format!("operator state '{}' is used with two element types", d.name).into(),
            )
        })
    }

    /// Names of the states held.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.lists.keys().map(|k| k.to_string()).collect();
        v.sort();
        v
    }

    /// Add every list (and every restored list not used yet) to `out`.
    pub fn snapshot(&self, out: &mut StateSnapshot) -> Result<()> {
        for (name, entry) in &self.lists {
            let elements = (entry.encode)(entry.list.as_ref())
                .map_err(|m| crate::checkpoint::state_error("", name, m))?;
            out.add(StateSection::List {
                state: name.to_string(),
                mode: entry.mode,
                elements,
            });
        }
        if let Some(r) = &self.restored {
            for name in r.list_states() {
                if self.lists.contains_key(name) {
                    continue;
                }
                if let Some((mode, elements)) = r.list_raw(name) {
                    out.add(StateSection::List {
                        state: name.to_string(),
                        mode,
                        elements: elements.to_vec(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Spread the lists of `old.len()` subtasks over `new_parallelism` subtasks by `mode`.
pub fn redistribute<V: Clone>(
    old: Vec<Vec<V>>,
    mode: Redistribution,
    new_parallelism: usize,
) -> Vec<Vec<V>> {
    let p = new_parallelism.max(1);
    let all: Vec<V> = old.into_iter().flatten().collect();
    match mode {
        Redistribution::Union => vec![all; p],
        Redistribution::EvenSplit => {
            let n = all.len();
            let mut it = all.into_iter();
            (0..p)
                .map(|i| {
                    let take = (i + 1) * n / p - i * n / p;
                    it.by_ref().take(take).collect()
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_split_and_union() {
        let old = vec![vec![1, 2, 3], vec![4], vec![5, 6, 7]];
        assert_eq!(
            redistribute(old.clone(), Redistribution::EvenSplit, 2),
            vec![vec![1, 2, 3], vec![4, 5, 6, 7]]
        );
        assert_eq!(
            redistribute(old.clone(), Redistribution::EvenSplit, 4),
            vec![vec![1], vec![2, 3], vec![4, 5], vec![6, 7]]
        );
        let u = redistribute(old, Redistribution::Union, 3);
        assert_eq!(u.len(), 3);
        assert!(u.iter().all(|l| l == &vec![1, 2, 3, 4, 5, 6, 7]));
        // Nothing lost or duplicated by even split, for any parallelism.
        for p in 1..10 {
            let parts = redistribute(
                vec![(0..23).collect::<Vec<i32>>()],
                Redistribution::EvenSplit,
                p,
            );
            assert_eq!(parts.len(), p);
            assert_eq!(parts.concat(), (0..23).collect::<Vec<_>>());
            let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
            assert!(sizes.iter().max().unwrap_or(&0) - sizes.iter().min().unwrap_or(&0) <= 1);
        }
    }

    #[test]
    fn store_keeps_typed_lists() {
        let mut s = OperatorStateStore::new();
        let d = OperatorListStateDescriptor::<u64>::even_split("offsets");
        s.list(&d).unwrap().push(7);
        s.list(&d).unwrap().push(9);
        assert_eq!(s.list(&d).unwrap(), &vec![7, 9]);
        let wrong = OperatorListStateDescriptor::<String>::even_split("offsets");
        assert!(
            s.list(&wrong)
                .unwrap_err()
                .to_string()
                .contains("two element types")
        );
        let mode = OperatorListStateDescriptor::<u64>::union("offsets");
        assert!(
            s.list(&mode)
                .unwrap_err()
                .to_string()
                .contains("redistribution")
        );
        assert_eq!(s.names(), vec!["offsets".to_string()]);
    }

    #[test]
    fn snapshot_and_restore_lists() {
        let mut s = OperatorStateStore::new();
        let d = OperatorListStateDescriptor::<u64>::union("seen");
        s.list(&d).unwrap().extend([4, 5]);
        let mut snap = StateSnapshot::new();
        s.snapshot(&mut snap).unwrap();
        let sections = snap.materialize().unwrap();
        let mut r = RestoredState::new("op");
        for sec in sections {
            if let StateSection::List {
                state,
                mode,
                elements,
            } = sec
            {
                assert_eq!(mode, Redistribution::Union);
                r.set_list(&state, mode, elements);
            }
        }
        let mut back = OperatorStateStore::restored(r);
        // An untouched restored list is carried into the next snapshot.
        let mut again = StateSnapshot::new();
        back.snapshot(&mut again).unwrap();
        assert_eq!(again.materialize().unwrap().len(), 1);
        assert_eq!(back.list(&d).unwrap(), &vec![4, 5]);
    }
}
