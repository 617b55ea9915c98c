//! Operator (non-keyed) list state, for sources, sinks and functions that keep per-subtask
//! state such as read positions (Flink's `OperatorStateStore`).
//!
//! Each subtask keeps lists of elements. When a job is restored at another parallelism the
//! lists of all old subtasks are redistributed by the state's [`Redistribution`] mode:
//! *even split* concatenates every subtask's list and cuts it into near-equal contiguous
//! parts, one per new subtask; *union* gives every new subtask the whole concatenation. The
//! checkpoint machinery (#5) snapshots the lists and calls [`redistribute`] on restore.

use crate::{Result, StromError};
use std::any::Any;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

/// How a list state's elements are spread over subtasks after rescaling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// The operator list states of one subtask.
#[derive(Default)]
pub struct OperatorStateStore {
    lists: HashMap<Arc<str>, (Redistribution, Box<dyn Any + Send>)>,
}

impl OperatorStateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The list of state `d`, created empty on first use.
    pub fn list<V: Send + 'static>(
        &mut self,
        d: &OperatorListStateDescriptor<V>,
    ) -> Result<&mut Vec<V>> {
        let (mode, list) = self
            .lists
            .entry(Arc::clone(&d.name))
            .or_insert_with(|| (d.mode, Box::new(Vec::<V>::new())));
        if *mode != d.mode {
            return Err(StromError::User(
                format!(
                    "operator state '{}' is declared with two redistribution modes",
                    d.name
                )
                .into(),
            ));
        }
        list.downcast_mut::<Vec<V>>().ok_or_else(|| {
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
}
