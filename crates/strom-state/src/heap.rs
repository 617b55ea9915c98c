//! The heap backend: every state object lives in memory (Flink's `HashMapStateBackend`).
//!
//! Each state is a hash table from key to object, type-erased per state name (the object
//! type is fixed by the first handle that uses the state). A snapshot clones the tables —
//! the only work done at the barrier — and encodes the copies on the checkpoint writer
//! thread, one complete section per state and key group.
//!
//! Restored state arrives encoded and its object type is unknown until a handle uses the
//! state: until then the keys are kept decoded and the objects encoded (a *raw* table), so
//! that listing keys and counting work, and the next snapshot writes the raw table again.
//! The first typed use decodes every object of the state; a type that does not read the
//! checkpoint's objects is an error naming the operator and the state.

use crate::backend::{Change, StateName, incompatible, restored_changes, two_types};
use crate::codec::CompleteWriter;
use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use strom_core::checkpoint::{
    KeyedBlob, Materializer, SectionSink, SnapshotContext, StateSection, StateSnapshot, decode,
    keyed_sections, state_error,
};
use strom_core::{Data, Key, Result, StromError};

pub(crate) type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One state's objects in memory, by key (never `None` between calls).
struct HeapTable<K, S> {
    entries: Map<K, Option<S>>,
}

/// What the heap backend needs of a table without knowing its state type.
trait ErasedTable<K>: Send {
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn keys(&self) -> Vec<K>;
    fn len(&self) -> usize;
    fn type_name(&self) -> &'static str;
    /// Copy the table now; the returned work encodes the copy.
    fn snapshot(&self, state: &str, operator: &str, max_parallelism: usize) -> Materializer;
}

impl<K: Key, S: Data> ErasedTable<K> for HeapTable<K, S> {
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn keys(&self) -> Vec<K> {
        self.entries.keys().cloned().collect()
    }
    fn len(&self) -> usize {
        self.entries.len()
    }
    fn type_name(&self) -> &'static str {
        std::any::type_name::<S>()
    }
    fn snapshot(&self, state: &str, operator: &str, max_parallelism: usize) -> Materializer {
        let copy: Vec<(K, S)> = self
            .entries
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
            .collect();
        let (state, operator) = (state.to_string(), operator.to_string());
        Box::new(move |out: &mut SectionSink<'_>| {
            let sections = keyed_sections(
                &state,
                max_parallelism,
                copy.iter().map(|(k, v)| (k, v)),
            )
            .map_err(|e| match e {
                StromError::State { state, message, .. } => state_error(&operator, &state, message),
                e => e,
            })?;
            out.extend(sections);
            Ok(())
        })
    }
}

/// A restored state not used yet: keys decoded, and the encoded entries (shared with
/// snapshots taken before the state is used).
struct RawTable<K> {
    /// The keys, in the order of `entries`.
    keys: Vec<K>,
    entries: Arc<[RawEntry]>,
}

/// One encoded entry of a restored state.
struct RawEntry {
    key_group: u32,
    key: Box<[u8]>,
    object: Box<[u8]>,
}

/// Encode raw entries as complete sections (writer-thread work).
fn raw_sections(state: &str, entries: &[RawEntry], out: &mut SectionSink<'_>) {
    let mut groups: BTreeMap<u32, CompleteWriter> = BTreeMap::new();
    for e in entries {
        groups
            .entry(e.key_group)
            .or_default()
            .push(&e.key, &e.object);
    }
    out.extend(
        groups
            .into_iter()
            .map(|(key_group, w)| StateSection::Keyed {
                state: state.to_string(),
                key_group,
                delta: false,
                data: w.finish(),
            }),
    );
}

/// Keeps every state object in memory (Flink's `HashMapStateBackend`).
pub struct HeapBackend<K> {
    tables: Map<StateName, Box<dyn ErasedTable<K>>>,
    /// Restored states no handle has used yet.
    restored: Map<StateName, RawTable<K>>,
}

impl<K> Default for HeapBackend<K> {
    fn default() -> Self {
        HeapBackend {
            tables: Map::default(),
            restored: Map::default(),
        }
    }
}

impl<K: Key> HeapBackend<K> {
    fn table<S: Data>(&mut self, name: &StateName, operator: &str) -> Result<&mut HeapTable<K, S>> {
        if !self.tables.contains_key(name) {
            let mut entries = Map::default();
            if let Some(raw) = self.restored.get(name) {
                entries.reserve(raw.keys.len());
                for (k, e) in raw.keys.iter().zip(raw.entries.iter()) {
                    let s: S = decode(&e.object).map_err(|m| incompatible(operator, name, m))?;
                    entries.insert(k.clone(), Some(s));
                }
                self.restored.remove(name);
            }
            self.tables
                .insert(Arc::clone(name), Box::new(HeapTable::<K, S> { entries }));
        }
        let t = self
            .tables
            .get_mut(name)
            .ok_or_else(|| StromError::Internal(format!("state table '{name}' vanished")))?;
        let found = t.type_name();
        t.as_any_mut()
            .downcast_mut::<HeapTable<K, S>>()
            .ok_or_else(|| two_types(name, found, std::any::type_name::<S>()))
    }

    #[inline]
    pub(crate) fn with_entry<S: Data, R>(
        &mut self,
        name: &StateName,
        key: &K,
        operator: &str,
        f: impl FnOnce(&mut Option<S>) -> R,
    ) -> Result<R> {
        let table = self.table::<S>(name, operator)?;
        if let Some(slot) = table.entries.get_mut(key) {
            let r = f(slot);
            if slot.is_none() {
                table.entries.remove(key);
            }
            return Ok(r);
        }
        let mut slot: Option<S> = None;
        let r = f(&mut slot);
        if slot.is_some() {
            table.entries.insert(key.clone(), slot);
        }
        Ok(r)
    }

    pub(crate) fn keys(&self, name: &str) -> Vec<K> {
        if let Some(t) = self.tables.get(name) {
            t.keys()
        } else if let Some(raw) = self.restored.get(name) {
            raw.keys.clone()
        } else {
            Vec::new()
        }
    }

    pub(crate) fn retain<S: Data>(
        &mut self,
        name: &StateName,
        operator: &str,
        mut keep: impl FnMut(&K, &mut S) -> bool,
    ) -> Result<()> {
        let table = self.table::<S>(name, operator)?;
        table
            .entries
            .retain(|k, v| v.as_mut().is_some_and(|v| keep(k, v)));
        Ok(())
    }

    pub(crate) fn len(&self, name: &str) -> usize {
        if let Some(t) = self.tables.get(name) {
            t.len()
        } else {
            self.restored.get(name).map_or(0, |raw| raw.keys.len())
        }
    }

    /// Copy every table now; encode on the writer thread.
    pub(crate) fn snapshot(&self, ctx: &SnapshotContext, out: &mut StateSnapshot, operator: &str) {
        let max_parallelism = ctx.max_parallelism;
        for (name, table) in &self.tables {
            out.defer(table.snapshot(name, operator, max_parallelism));
        }
        for (name, raw) in &self.restored {
            let (entries, state) = (Arc::clone(&raw.entries), name.to_string());
            out.defer(move |out| {
                raw_sections(&state, &entries, out);
                Ok(())
            });
        }
    }

    /// Load the restored sections of state `name` as a raw table.
    pub(crate) fn restore(
        &mut self,
        name: &str,
        blobs: &[KeyedBlob],
        operator: &str,
    ) -> Result<()> {
        if self.tables.contains_key(name) || self.restored.contains_key(name) {
            return Err(state_error(
                operator,
                name,
                "restored into a store that already holds it (restore before any use)",
            ));
        }
        let mut entries: Map<K, RawEntry> = Map::default();
        restored_changes::<K>(name, blobs, operator, |change| {
            match change {
                Change::Put(kg, k, key, object) => {
                    entries.insert(
                        k,
                        RawEntry {
                            key_group: kg,
                            key: key.into(),
                            object: object.into(),
                        },
                    );
                }
                Change::Delete(k) => {
                    entries.remove(&k);
                }
            }
            Ok(())
        })?;
        if !entries.is_empty() {
            let (keys, entries): (Vec<K>, Vec<RawEntry>) = entries.into_iter().unzip();
            self.restored.insert(
                Arc::from(name),
                RawTable {
                    keys,
                    entries: entries.into(),
                },
            );
        }
        Ok(())
    }
}
