//! The heap backend: every state object lives in memory (Flink's `HashMapStateBackend`).
//!
//! Each state is a hash table from key to object, type-erased per state name (the object
//! type is fixed by the first handle that uses the state).
//!
//! **Incremental snapshots.** Every object carries the *epoch* in which it was last
//! written: the backend's epoch counter moves on at every snapshot, so an object whose
//! epoch is greater than the epoch a snapshot was taken in has changed since that snapshot.
//! Deleted keys are remembered with their epoch (tombstones) while some snapshot may still
//! be the base of a later one. When the runtime names a base checkpoint that this backend
//! took (`SnapshotContext::incremental_base`), the barrier copies only the objects written
//! since and the deleted keys, and the writer thread encodes them as delta sections — the
//! same format the disk backend writes. Otherwise (the first snapshot, after a restore, for
//! savepoints, when the runtime asks for a complete checkpoint, or when the tombstones outgrew the table) it
//! copies every table and writes complete sections. Reads through
//! [`read_entry`](crate::KeyedStateBackend::read_entry) do not mark objects as written.
//!
//! Why not copy-on-write? A copy-on-write map (Flink's `CopyOnWriteStateMap`) makes the
//! barrier cheap, but every checkpoint still encodes and writes the whole state on the
//! writer thread, which on a small machine takes the cores the job runs on. Epoch stamps
//! cost one integer store per write and make both the copy and the written bytes
//! proportional to what changed.
//!
//! Restored state arrives encoded and its object type is unknown until a handle uses the
//! state: until then the keys are kept decoded and the objects encoded (a *raw* table), so
//! that listing keys and counting work, and the next snapshot writes the raw table again.
//! The first typed use decodes every object of the state; a type that does not read the
//! checkpoint's objects is an error naming the operator and the state.

use crate::backend::{Change, StateName, incompatible, restored_changes, two_types};
use crate::codec::CompleteWriter;
use crate::codec::DeltaWriter;
use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use strom_core::checkpoint::{
    CheckpointId, CheckpointKind, KeyedBlob, Materializer, SectionSink, SnapshotContext,
    StateSection, StateSnapshot, decode, keyed_sections, state_error,
};
use strom_core::{Data, Key, Result, StromError};
use strom_types::key_group::key_group_for_hash;

pub(crate) type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One state's objects in memory, by key, each with the epoch it was last written in
/// (the object is never `None` between calls).
struct HeapTable<K, S> {
    entries: Map<K, (Option<S>, u64)>,
    /// Keys deleted while a snapshot could still be a base, with the epoch of deletion.
    deleted: Map<K, u64>,
}

/// The epoch of objects decoded from a restored state: older than every snapshot.
const RESTORED_EPOCH: u64 = 0;

/// What the heap backend needs of a table without knowing its state type.
trait ErasedTable<K>: Send {
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn keys(&self) -> Vec<K>;
    fn len(&self) -> usize;
    fn type_name(&self) -> &'static str;
    /// Number of tombstones.
    fn tombstones(&self) -> usize;
    /// Forget tombstones of epochs up to `epoch`, or all of them.
    fn prune(&mut self, epoch: Option<u64>);
    /// Copy the table now (with `since`, only what was written or deleted after that
    /// epoch); the returned work encodes the copy.
    fn snapshot(
        &self,
        state: &str,
        operator: &str,
        max_parallelism: usize,
        since: Option<u64>,
    ) -> Materializer;
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
    fn tombstones(&self) -> usize {
        self.deleted.len()
    }
    fn prune(&mut self, epoch: Option<u64>) {
        match epoch {
            Some(e) => self.deleted.retain(|_, d| *d > e),
            None => self.deleted.clear(),
        }
    }
    fn snapshot(
        &self,
        state: &str,
        operator: &str,
        max_parallelism: usize,
        since: Option<u64>,
    ) -> Materializer {
        let (state, operator) = (state.to_string(), operator.to_string());
        if let Some(since) = since {
            let changed: Vec<(K, Option<S>)> = self
                .entries
                .iter()
                .filter(|(_, (_, e))| *e > since)
                .filter_map(|(k, (v, _))| v.as_ref().map(|v| (k.clone(), Some(v.clone()))))
                .chain(
                    self.deleted
                        .iter()
                        .filter(|(_, e)| **e > since)
                        .map(|(k, _)| (k.clone(), None)),
                )
                .collect();
            return Box::new(move |out: &mut SectionSink<'_>| {
                delta_sections(&state, &operator, max_parallelism, &changed, out)
            });
        }
        let copy: Vec<(K, S)> = self
            .entries
            .iter()
            .filter_map(|(k, (v, _))| v.as_ref().map(|v| (k.clone(), v.clone())))
            .collect();
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

/// Encode changed objects (`None`: deleted) as delta sections (writer-thread work).
fn delta_sections<K: Key, S: Data>(
    state: &str,
    operator: &str,
    max_parallelism: usize,
    changed: &[(K, Option<S>)],
    out: &mut SectionSink<'_>,
) -> Result<()> {
    let mut groups: BTreeMap<u32, DeltaWriter> = BTreeMap::new();
    let (mut key, mut object) = (Vec::new(), Vec::new());
    let fail = |m: rmp_serde::encode::Error| state_error(operator, state, m.to_string());
    for (k, v) in changed {
        key.clear();
        rmp_serde::encode::write_named(&mut key, k).map_err(fail)?;
        let kg = u32::from(key_group_for_hash(k.key_hash(), max_parallelism));
        let w = groups.entry(kg).or_default();
        match v {
            Some(v) => {
                object.clear();
                rmp_serde::encode::write_named(&mut object, v).map_err(fail)?;
                w.push(&key, Some(&object));
            }
            None => w.push(&key, None),
        }
    }
    out.extend(
        groups
            .into_iter()
            .map(|(key_group, w)| StateSection::Keyed {
                state: state.to_string(),
                key_group,
                delta: true,
                data: w.finish(),
            }),
    );
    Ok(())
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

/// Keeps every state object in memory (Flink's `HashMapStateBackend`), with incremental
/// snapshots (see the [module documentation](self)).
pub struct HeapBackend<K> {
    /// The typed tables, by state name (a handful per operator: a list, searched by the
    /// name's pointer first, beats hashing the name on every access).
    tables: Vec<(StateName, Box<dyn ErasedTable<K>>)>,
    /// Restored states no handle has used yet.
    restored: Map<StateName, RawTable<K>>,
    /// The epoch objects written now are stamped with (starts at 1).
    epoch: u64,
    /// Snapshots that may become the base of a delta, with the epoch each was taken in:
    /// the last completed one first, then those taken after it.
    bases: Vec<(CheckpointId, u64)>,
}

impl<K> Default for HeapBackend<K> {
    fn default() -> Self {
        HeapBackend {
            tables: Vec::new(),
            restored: Map::default(),
            epoch: RESTORED_EPOCH + 1,
            bases: Vec::new(),
        }
    }
}

/// Tombstones beyond which the next snapshot is complete rather than a delta (when there
/// are also more tombstones than live objects).
const MAX_TOMBSTONES: usize = 1 << 16;

impl<K: Key> HeapBackend<K> {
    /// Where the table of `name` is in `tables`.
    #[inline]
    fn position(&self, name: &str) -> Option<usize> {
        let ptr = name.as_ptr();
        self.tables
            .iter()
            .position(|(n, _)| std::ptr::eq(n.as_ptr(), ptr) && n.len() == name.len())
            .or_else(|| self.tables.iter().position(|(n, _)| &**n == name))
    }

    #[inline]
    fn table<S: Data>(&mut self, name: &StateName, operator: &str) -> Result<&mut HeapTable<K, S>> {
        let at = match self.position(name) {
            Some(at) => at,
            None => self.create_table::<S>(name, operator)?,
        };
        let t = &mut self.tables[at].1;
        let found = t.type_name();
        t.as_any_mut()
            .downcast_mut::<HeapTable<K, S>>()
            .ok_or_else(|| two_types(name, found, std::any::type_name::<S>()))
    }

    /// Make the table of `name` (from its restored entries, if any); its position.
    #[cold]
    fn create_table<S: Data>(&mut self, name: &StateName, operator: &str) -> Result<usize> {
        let mut entries = Map::default();
        if let Some(raw) = self.restored.get(name) {
            entries.reserve(raw.keys.len());
            for (k, e) in raw.keys.iter().zip(raw.entries.iter()) {
                let s: S = decode(&e.object).map_err(|m| incompatible(operator, name, m))?;
                entries.insert(k.clone(), (Some(s), RESTORED_EPOCH));
            }
            self.restored.remove(name);
        }
        self.tables.push((
            Arc::clone(name),
            Box::new(HeapTable::<K, S> {
                entries,
                deleted: Map::default(),
            }),
        ));
        Ok(self.tables.len() - 1)
    }

    /// Fix the object type of `name`, decoding its restored objects now.
    pub(crate) fn declare<S: Data>(&mut self, name: &StateName, operator: &str) -> Result<()> {
        self.table::<S>(name, operator).map(|_| ())
    }

    #[inline]
    pub(crate) fn with_entry<S: Data, R>(
        &mut self,
        name: &StateName,
        key: &K,
        operator: &str,
        f: impl FnOnce(&mut Option<S>) -> R,
    ) -> Result<R> {
        let (epoch, tracking) = (self.epoch, !self.bases.is_empty());
        let table = self.table::<S>(name, operator)?;
        if let Some((slot, stamp)) = table.entries.get_mut(key) {
            let r = f(slot);
            *stamp = epoch;
            if slot.is_none() {
                table.entries.remove(key);
                if tracking {
                    table.deleted.insert(key.clone(), epoch);
                }
            }
            return Ok(r);
        }
        let mut slot: Option<S> = None;
        let r = f(&mut slot);
        if slot.is_some() {
            if !table.deleted.is_empty() {
                table.deleted.remove(key);
            }
            table.entries.insert(key.clone(), (slot, epoch));
        }
        Ok(r)
    }

    #[inline]
    pub(crate) fn read_entry<S: Data, R>(
        &mut self,
        name: &StateName,
        key: &K,
        operator: &str,
        f: impl FnOnce(Option<&S>) -> R,
    ) -> Result<R> {
        let table = self.table::<S>(name, operator)?;
        Ok(f(table.entries.get(key).and_then(|(v, _)| v.as_ref())))
    }

    pub(crate) fn keys(&self, name: &str) -> Vec<K> {
        if let Some(at) = self.position(name) {
            self.tables[at].1.keys()
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
        let (epoch, tracking) = (self.epoch, !self.bases.is_empty());
        let table = self.table::<S>(name, operator)?;
        let deleted = &mut table.deleted;
        // `keep` may change what it keeps: every kept object counts as written.
        table.entries.retain(|k, (v, stamp)| {
            let kept = v.as_mut().is_some_and(|v| keep(k, v));
            if kept {
                *stamp = epoch;
            } else if tracking {
                deleted.insert(k.clone(), epoch);
            }
            kept
        });
        Ok(())
    }

    pub(crate) fn len(&self, name: &str) -> usize {
        if let Some(at) = self.position(name) {
            self.tables[at].1.len()
        } else {
            self.restored.get(name).map_or(0, |raw| raw.keys.len())
        }
    }

    /// Copy every table, or what changed since the base, now; encode on the writer thread.
    pub(crate) fn snapshot(
        &mut self,
        ctx: &SnapshotContext,
        out: &mut StateSnapshot,
        operator: &str,
    ) {
        let max_parallelism = ctx.max_parallelism;
        let base = match ctx.kind {
            CheckpointKind::Checkpoint => ctx.incremental_base,
            CheckpointKind::Savepoint { .. } => None,
        };
        let (tombstones, live) = self.tables.iter().fold((0, 0), |(t, l), (_, table)| {
            (t + table.tombstones(), l + table.len())
        });
        let since = base
            .and_then(|b| self.bases.iter().find(|(id, _)| *id == b))
            .map(|&(_, epoch)| epoch)
            .filter(|_| tombstones <= MAX_TOMBSTONES.max(live));
        // Savepoints are not bases: checkpoints build on checkpoints only.
        if matches!(ctx.kind, CheckpointKind::Checkpoint) {
            if since.is_none() {
                // A complete snapshot: deltas from now on build on it or on later ones.
                self.bases.clear();
                for (_, table) in &mut self.tables {
                    table.prune(None);
                }
            }
            self.bases.push((ctx.checkpoint_id, self.epoch));
            self.epoch += 1;
        }
        if since.is_some() {
            out.based_on = base;
        }
        for (name, table) in &self.tables {
            out.defer(table.snapshot(name, operator, max_parallelism, since));
        }
        if since.is_some() {
            // Restored states nobody used are unchanged since the complete snapshot.
            return;
        }
        for (name, raw) in &self.restored {
            let (entries, state) = (Arc::clone(&raw.entries), name.to_string());
            out.defer(move |out| {
                raw_sections(&state, &entries, out);
                Ok(())
            });
        }
    }

    /// Checkpoint `id` completed: it is the base of the next snapshots; forget what
    /// earlier bases needed.
    pub(crate) fn notify_checkpoint_complete(&mut self, id: CheckpointId) {
        if let Some(p) = self.bases.iter().position(|(b, _)| *b == id) {
            self.bases.drain(..p);
            let epoch = self.bases[0].1;
            for (_, table) in &mut self.tables {
                table.prune(Some(epoch));
            }
        }
    }

    /// After a restore the next snapshot is complete (the store does not know which
    /// checkpoint it holds).
    pub(crate) fn restored(&mut self) {
        self.bases.clear();
    }

    /// Load the restored sections of state `name` as a raw table.
    pub(crate) fn restore(
        &mut self,
        name: &str,
        blobs: &[KeyedBlob],
        operator: &str,
    ) -> Result<()> {
        if self.position(name).is_some() || self.restored.contains_key(name) {
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
