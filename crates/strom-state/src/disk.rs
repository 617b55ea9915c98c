//! The disk backend: state objects encoded in an embedded LSM store ([fjall]), for state
//! larger than memory (Flink's `EmbeddedRocksDBStateBackend`).
//!
//! **Layout.** One store per operator subtask, in a fresh directory deleted when the store
//! is dropped (it is a working copy: checkpoints are what survive). An object is stored
//! under the *physical key* `key group (u16, big endian) ‖ state id (u16, big endian) ‖
//! encoded key`, so a key group's entries are contiguous and each (key group, state) pair is
//! one prefix. Keys and objects are MessagePack with named fields, as in checkpoints.
//!
//! **Object cache.** In front of the store sits a write-back cache of *decoded* objects
//! (`ObjectCache`), so that a hot object — the current slice of a busy sensor, a key's
//! pending CEP matches — is decoded once and encoded and written once per checkpoint, not
//! on every change; a miss decodes the object from the store, runs the change and caches
//! it (a miss that changes nothing leaves the object clean). Evicted dirty objects are
//! written to the store, and so is every dirty object before a snapshot, a key listing or
//! a TTL sweep, so that the store alone is what those read. Memory is bounded by the
//! configured `cache_bytes` — half for the object cache (objects counted by their encoded
//! size, measured when loaded and again every few dozen changes), half for the store's
//! block cache and write buffers — plus the record of changed keys kept for incremental
//! checkpoints, itself capped at `max(cache_bytes, 4 MiB)`.
//!
//! **Snapshots** take a read view of the store at the barrier (an MVCC snapshot: later
//! writes do not show in it) and read it on the checkpoint writer thread:
//! - *complete*: every entry, one section per state and key group, in the same format as
//!   the heap backend's (see [`backend`](crate::backend));
//! - *incremental* (when the runtime names a base checkpoint): only the keys changed since
//!   the base, with their objects as of the barrier or a deletion mark. The store keeps one
//!   set of changed keys per snapshot taken and not yet covered by a completed checkpoint;
//!   a delta on base `b` is the union of the sets after `b`. Sets up to a completed
//!   checkpoint are dropped
//!   ([`notify_checkpoint_complete`](crate::KeyedStateStore::notify_checkpoint_complete)).
//!
//! **Restore** writes the restored entries into the store, applying complete sections and
//! then deltas in order; keys are decoded and encoded again (checking the key type), objects
//! are checked against their type when a handle first uses the state.

use crate::backend::{Change, StateName, incompatible, restored_changes, two_types};
use crate::codec::{CompleteWriter, DeltaWriter};
use crate::heap::Map;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, Readable};
use std::any::{Any, TypeId};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use strom_core::checkpoint::{
    CheckpointId, CheckpointKind, KeyedBlob, SectionSink, SnapshotContext, StateSection,
    StateSnapshot, decode, state_error,
};
use strom_core::{Data, Key, Result, StromError, TaskInfo};
use strom_types::key_group::key_group_for_hash;

const MIB: u64 = 1 << 20;

/// Length of the physical key prefix: key group and state id.
const PREFIX: usize = 4;

/// Bytes a changed key costs in the record of changes besides its own length.
const DIRTY_OVERHEAD: usize = 48;

/// Distinguishes stores of one process opened in the same directory.
static NEXT_STORE: AtomicU64 = AtomicU64::new(0);

/// Keeps state in an embedded on-disk LSM store, with incremental snapshots (see the
/// [module documentation](crate::disk)).
pub struct DiskBackend {
    db: Database,
    ks: Keyspace,
    path: PathBuf,
    max_parallelism: usize,
    states: Vec<DiskState>,
    ids: Map<StateName, u16>,
    key_buf: Vec<u8>,
    val_buf: Vec<u8>,
    dirty: DirtyLog,
    /// Decoded objects in front of the store (see [`ObjectCache`]).
    cache: ObjectCache,
    /// An error met where it could not be returned (listing keys); returned by the next
    /// call that can fail.
    failure: Mutex<Option<StromError>>,
    /// Whether `failure` may hold an error (so that `check` locks only then).
    failed: std::sync::atomic::AtomicBool,
}

struct DiskState {
    name: StateName,
    /// The object type, once a handle used the state.
    ty: Option<(TypeId, &'static str)>,
    /// Key groups that may hold entries of the state.
    key_groups: KeyGroupSet,
    /// Whether the state came from a checkpoint (its objects are checked on first use).
    restored: bool,
    /// Encodes a cached object of the state's type (set with the type).
    encode: Option<EncodeFn>,
}

/// Encodes a cached `Option<S>` into the buffer: `Ok(true)` when it holds an object,
/// `Ok(false)` when it is a deletion.
type EncodeFn = fn(&(dyn Any + Send), &mut Vec<u8>) -> std::result::Result<bool, String>;

fn encode_slot<S: Data>(
    slot: &(dyn Any + Send),
    buf: &mut Vec<u8>,
) -> std::result::Result<bool, String> {
    match slot.downcast_ref::<Option<S>>() {
        Some(Some(s)) => {
            buf.clear();
            rmp_serde::encode::write_named(buf, s).map_err(|e| e.to_string())?;
            Ok(true)
        }
        Some(None) => Ok(false),
        None => Err(format!(
            "cached object is not a {}",
            std::any::type_name::<S>()
        )),
    }
}

/// Bytes a cached object costs besides its key and encoded size (map slot, box, flags).
const CACHED_OVERHEAD: usize = 64;

/// Writes to a cached object after which its size is measured again (and after each power
/// of two writes below it).
const REMEASURE_EVERY: u32 = 64;

/// One decoded object in the cache.
struct Cached {
    /// The state's `Option<S>`: `None` is a known absence, or a deletion when dirty.
    slot: Box<dyn Any + Send>,
    /// Changed since it was last written to the store.
    dirty: bool,
    /// Whether the slot holds an object (not an absence or deletion).
    present: bool,
    /// Used since the last eviction sweep passed it (second chance).
    referenced: bool,
    /// Writes since its size was last measured.
    writes: u32,
    /// What it is counted as against the budget.
    cost: usize,
}

/// Decoded objects in front of the LSM store, so that a hot object is decoded once and
/// written back once per checkpoint rather than on every change: a write-back cache
/// keyed by physical key, with a byte budget (sizes are encoded sizes, measured when an
/// object is loaded, written back, and after 1, 2, 4, … and then every [`REMEASURE_EVERY`]
/// changes) and second-chance
/// eviction. Dirty objects are written to the store when evicted and before every
/// snapshot, listing or sweep, so the store alone is what snapshots read.
struct ObjectCache {
    map: std::collections::HashMap<Box<[u8]>, Cached, foldhash::fast::RandomState>,
    bytes: usize,
    limit: usize,
}

/// A set of key groups (a bitmap).
#[derive(Clone)]
struct KeyGroupSet(Vec<u64>);

impl KeyGroupSet {
    fn new(max_parallelism: usize) -> Self {
        KeyGroupSet(vec![0; max_parallelism.div_ceil(64)])
    }
    #[inline]
    fn insert(&mut self, kg: u16) {
        let (w, b) = (usize::from(kg) / 64, usize::from(kg) % 64);
        if let Some(word) = self.0.get_mut(w) {
            *word |= 1 << b;
        }
    }
    fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &word)| {
            (0..64u16)
                .filter(move |b| word & (1 << b) != 0)
                .map(move |b| (w as u16) * 64 + b)
        })
    }
}

fn prefix(kg: u16, id: u16) -> [u8; PREFIX] {
    let [a, b] = kg.to_be_bytes();
    let [c, d] = id.to_be_bytes();
    [a, b, c, d]
}

fn store_error(path: &Path, e: impl std::fmt::Display) -> StromError {
    StromError::io(
        format!("state store {}", path.display()),
        std::io::Error::other(e.to_string()),
    )
}

/// A file-name-safe version of an operator name.
fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if s.is_empty() { "operator".into() } else { s }
}

impl DiskBackend {
    /// Open a fresh store for `task` under `dir`, with caches and write buffers bounded by
    /// `cache_bytes`.
    pub(crate) fn open(dir: &Path, cache_bytes: u64, task: &TaskInfo) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| StromError::io(dir.display(), e))?;
        let base = format!(
            "{}-{}-{}",
            sanitize(&task.operator_name),
            task.subtask,
            std::process::id()
        );
        let path = loop {
            let n = NEXT_STORE.fetch_add(1, Ordering::Relaxed);
            let p = dir.join(format!("{base}-{n}"));
            match std::fs::create_dir(&p) {
                Ok(()) => break p,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(StromError::io(p.display(), e)),
            }
        };
        // Budget: half for decoded objects (the object cache), half for the LSM store,
        // which keeps at most five memtables in memory (the active one and up to four
        // sealed ones being flushed; writes wait beyond that): a memtable of 1/10 of its
        // half (1 to 64 MiB), the rest for the block cache (at least 1 MiB).
        let objects = cache_bytes / 2;
        let lsm = cache_bytes - objects;
        let memtable = (lsm / 10).clamp(MIB, 64 * MIB);
        let block_cache = lsm.saturating_sub(5 * memtable).max(MIB);
        let db = Database::builder(&path)
            .cache_size(block_cache)
            .manual_journal_persist(true)
            .temporary(true)
            .open()
            .map_err(|e| store_error(&path, e))?;
        let ks = db
            .keyspace("state", || {
                KeyspaceCreateOptions::default()
                    .max_memtable_size(memtable)
                    .manual_journal_persist(true)
            })
            .map_err(|e| store_error(&path, e))?;
        let max_parallelism = if task.max_parallelism == 0 {
            strom_types::key_group::DEFAULT_MAX_PARALLELISM
        } else {
            task.max_parallelism
        };
        Ok(DiskBackend {
            db,
            ks,
            path,
            max_parallelism,
            states: Vec::new(),
            ids: Map::default(),
            key_buf: Vec::with_capacity(64),
            val_buf: Vec::with_capacity(256),
            dirty: DirtyLog::new(usize::try_from(cache_bytes.max(4 * MIB)).unwrap_or(usize::MAX)),
            cache: ObjectCache {
                map: Default::default(),
                bytes: 0,
                limit: usize::try_from(objects).unwrap_or(usize::MAX),
            },
            failure: Mutex::new(None),
            failed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn fail(&self, e: StromError) {
        if let Ok(mut f) = self.failure.lock() {
            f.get_or_insert(e);
        }
        self.failed.store(true, Ordering::Release);
    }

    #[inline]
    fn check(&self) -> Result<()> {
        if !self.failed.load(Ordering::Acquire) {
            return Ok(());
        }
        self.failed.store(false, Ordering::Release);
        match self.failure.lock() {
            Ok(mut f) => f.take().map_or(Ok(()), Err),
            Err(_) => Err(StromError::Internal("state store lock poisoned".into())),
        }
    }

    fn add_state(&mut self, name: &str) -> Result<u16> {
        let id = u16::try_from(self.states.len())
            .map_err(|_| StromError::Internal("more than 65536 keyed states".into()))?;
        let name: StateName = Arc::from(name);
        self.ids.insert(Arc::clone(&name), id);
        self.states.push(DiskState {
            name,
            ty: None,
            key_groups: KeyGroupSet::new(self.max_parallelism),
            restored: false,
            encode: None,
        });
        Ok(id)
    }

    /// The id of state `name`, checking (and on first use fixing) its object type.
    #[inline]
    fn state_id<S: Data>(&mut self, name: &StateName, operator: &str) -> Result<u16> {
        // Operators hold their names as `StateName`s made once: find them by pointer first.
        let by_pointer = self
            .states
            .iter()
            .position(|s| Arc::ptr_eq(&s.name, name))
            .and_then(|p| u16::try_from(p).ok());
        let id = match by_pointer {
            Some(id) => id,
            None => {
                let id = match self.ids.get(name) {
                    Some(&id) => id,
                    None => self.add_state(name)?,
                };
                // Found by name: remember the caller's pointer for next time.
                self.states[usize::from(id)].name = Arc::clone(name);
                id
            }
        };
        let state = &self.states[usize::from(id)];
        match state.ty {
            Some((t, _)) if t == TypeId::of::<S>() => Ok(id),
            Some((_, found)) => Err(two_types(name, found, std::any::type_name::<S>())),
            None => {
                if state.restored {
                    self.check_restored::<S>(id, operator)?;
                }
                let state = &mut self.states[usize::from(id)];
                state.ty = Some((TypeId::of::<S>(), std::any::type_name::<S>()));
                state.encode = Some(encode_slot::<S>);
                Ok(id)
            }
        }
    }

    /// Check that a restored state's objects read as `S` (decoding one of them).
    fn check_restored<S: Data>(&self, id: u16, operator: &str) -> Result<()> {
        let state = &self.states[usize::from(id)];
        for kg in state.key_groups.iter() {
            if let Some(item) = self.ks.prefix(prefix(kg, id)).next() {
                let (_, v) = item.into_inner().map_err(|e| store_error(&self.path, e))?;
                decode::<S>(&v).map_err(|m| incompatible(operator, &state.name, m))?;
                break;
            }
        }
        Ok(())
    }

    /// Put the physical key of `key` in state `id` into the key buffer; its key group.
    #[inline]
    fn physical_key<K: Key>(&mut self, id: u16, key: &K, operator: &str) -> Result<u16> {
        let kg = key_group_for_hash(key.key_hash(), self.max_parallelism);
        self.key_buf.clear();
        self.key_buf.extend_from_slice(&prefix(kg, id));
        rmp_serde::encode::write_named(&mut self.key_buf, key).map_err(|m| {
            state_error(operator, &self.states[usize::from(id)].name, m.to_string())
        })?;
        Ok(kg)
    }

    /// Read-modify-write one object (see [`KeyedStateBackend::with_entry`](crate::KeyedStateBackend::with_entry)).
    pub(crate) fn with_entry<K: Key, S: Data, R>(
        &mut self,
        name: &StateName,
        key: &K,
        operator: &str,
        f: impl FnOnce(&mut Option<S>) -> R,
    ) -> Result<R> {
        self.check()?;
        let id = self.state_id::<S>(name, operator)?;
        let kg = self.physical_key(id, key, operator)?;
        if let Some(c) = self.cache.map.get_mut(&self.key_buf[..]) {
            let slot = c
                .slot
                .downcast_mut::<Option<S>>()
                .ok_or_else(|| two_types(name, "another type", std::any::type_name::<S>()))?;
            let was = slot.is_some();
            let r = f(slot);
            c.present = slot.is_some();
            // Absent before and after: nothing changed.
            c.dirty |= was || c.present;
            c.referenced = true;
            c.writes = c.writes.wrapping_add(1);
            // Measured after 1, 2, 4, … writes and then every REMEASURE_EVERY, so that an
            // object growing with its writes (a block gaining a slice per element) is never
            // counted at less than about half its size.
            if (c.writes <= REMEASURE_EVERY && c.writes.is_power_of_two())
                || c.writes % REMEASURE_EVERY == 0
            {
                let size = match slot {
                    Some(s) => {
                        self.val_buf.clear();
                        rmp_serde::encode::write_named(&mut self.val_buf, s)
                            .map_err(|m| state_error(operator, name, m.to_string()))?;
                        self.val_buf.len()
                    }
                    None => 0,
                };
                let cost = self.key_buf.len() + size + CACHED_OVERHEAD;
                self.cache.bytes = self.cache.bytes - c.cost + cost;
                c.cost = cost;
            }
            self.states[usize::from(id)].key_groups.insert(kg);
            return self.evict_if_full().map(|()| r);
        }
        let old = self
            .ks
            .get(&self.key_buf)
            .map_err(|e| store_error(&self.path, e))?;
        let mut slot: Option<S> = match &old {
            Some(bytes) => Some(decode(bytes).map_err(|m| incompatible(operator, name, m))?),
            None => None,
        };
        let r = f(&mut slot);
        // Measure the object (and see whether it changed) by encoding it once.
        let (size, dirty) = match &slot {
            Some(s) => {
                self.val_buf.clear();
                rmp_serde::encode::write_named(&mut self.val_buf, s)
                    .map_err(|m| state_error(operator, name, m.to_string()))?;
                (
                    self.val_buf.len(),
                    old.as_deref() != Some(&self.val_buf[..]),
                )
            }
            None => (0, old.is_some()),
        };
        let present = slot.is_some();
        if present {
            self.states[usize::from(id)].key_groups.insert(kg);
        }
        self.cache_insert(Box::new(slot), present, size, dirty);
        self.evict_if_full().map(|()| r)
    }

    /// Fix the object type of `name`, checking restored objects against it now.
    pub(crate) fn declare<S: Data>(&mut self, name: &StateName, operator: &str) -> Result<()> {
        self.check()?;
        self.state_id::<S>(name, operator).map(|_| ())
    }

    /// Read one object without writing it back.
    pub(crate) fn read_entry<K: Key, S: Data, R>(
        &mut self,
        name: &StateName,
        key: &K,
        operator: &str,
        f: impl FnOnce(Option<&S>) -> R,
    ) -> Result<R> {
        self.check()?;
        let id = self.state_id::<S>(name, operator)?;
        self.physical_key(id, key, operator)?;
        if let Some(c) = self.cache.map.get_mut(&self.key_buf[..]) {
            let slot = c
                .slot
                .downcast_ref::<Option<S>>()
                .ok_or_else(|| two_types(name, "another type", std::any::type_name::<S>()))?;
            c.referenced = true;
            return Ok(f(slot.as_ref()));
        }
        let bytes = self
            .ks
            .get(&self.key_buf)
            .map_err(|e| store_error(&self.path, e))?;
        let object: Option<S> = match &bytes {
            Some(bytes) => Some(decode(bytes).map_err(|m| incompatible(operator, name, m))?),
            None => None,
        };
        let r = f(object.as_ref());
        let present = object.is_some();
        self.cache_insert(
            Box::new(object),
            present,
            bytes.map_or(0, |b| b.len()),
            false,
        );
        self.evict_if_full().map(|()| r)
    }

    /// Cache the object of the physical key in the key buffer.
    fn cache_insert(&mut self, slot: Box<dyn Any + Send>, present: bool, size: usize, dirty: bool) {
        let cost = self.key_buf.len() + size + CACHED_OVERHEAD;
        self.cache.bytes += cost;
        let old = self.cache.map.insert(
            self.key_buf[..].into(),
            Cached {
                slot,
                dirty,
                present,
                referenced: true,
                writes: 0,
                cost,
            },
        );
        if let Some(old) = old {
            self.cache.bytes -= old.cost;
        }
    }

    /// Evict objects while the cache is over its budget, down to three quarters of it:
    /// first those not used since the last sweep (second chance), then any. Evicted dirty
    /// objects are written to the store.
    fn evict_if_full(&mut self) -> Result<()> {
        if self.cache.bytes <= self.cache.limit {
            return Ok(());
        }
        let target = self.cache.limit / 4 * 3;
        let mut excess = self.cache.bytes - target;
        let mut victims = Vec::new();
        for second_chance in [true, false] {
            if excess == 0 {
                break;
            }
            victims.extend(self.cache.map.extract_if(|_, c| {
                if excess == 0 {
                    return false;
                }
                if second_chance && c.referenced {
                    c.referenced = false;
                    return false;
                }
                excess = excess.saturating_sub(c.cost);
                true
            }));
        }
        for (key, c) in victims {
            self.cache.bytes -= c.cost;
            if c.dirty {
                write_back(
                    &self.ks,
                    &self.states,
                    &mut self.dirty,
                    &mut self.val_buf,
                    &self.path,
                    &key,
                    &*c.slot,
                )?;
            }
        }
        Ok(())
    }

    /// Write every dirty cached object to the store (they stay cached, clean, and counted
    /// at the size just written).
    fn write_back_all(&mut self) -> Result<()> {
        for (key, c) in self.cache.map.iter_mut() {
            if c.dirty {
                let present = write_back(
                    &self.ks,
                    &self.states,
                    &mut self.dirty,
                    &mut self.val_buf,
                    &self.path,
                    key,
                    &*c.slot,
                )?;
                c.dirty = false;
                let size = if present { self.val_buf.len() } else { 0 };
                let cost = key.len() + size + CACHED_OVERHEAD;
                self.cache.bytes = self.cache.bytes - c.cost + cost;
                c.cost = cost;
            }
        }
        Ok(())
    }

    /// The physical keys of state `name` that hold an object: the store's, with the
    /// cached objects and deletions laid over them.
    fn physical_keys(&self, name: &str) -> Result<Vec<Box<[u8]>>> {
        let Some(&id) = self.ids.get(name) else {
            return Ok(Vec::new());
        };
        let mut keys =
            std::collections::HashSet::<Box<[u8]>, foldhash::fast::RandomState>::default();
        for kg in self.states[usize::from(id)].key_groups.iter() {
            for item in self.ks.prefix(prefix(kg, id)) {
                let k = item.key().map_err(|e| store_error(&self.path, e))?;
                keys.insert(k[..].into());
            }
        }
        let id = id.to_be_bytes();
        for (k, c) in &self.cache.map {
            if c.dirty && k.get(2..PREFIX) == Some(&id[..]) {
                if c.present {
                    keys.insert(k.clone());
                } else {
                    keys.remove(k);
                }
            }
        }
        let mut keys: Vec<Box<[u8]>> = keys.into_iter().collect();
        keys.sort_unstable();
        Ok(keys)
    }

    /// The keys of state `name`.
    pub(crate) fn keys<K: Key>(&self, name: &str, operator: &str) -> Vec<K> {
        let mut out = Vec::new();
        let keys = match self.physical_keys(name) {
            Ok(k) => k,
            Err(e) => {
                self.fail(e);
                return out;
            }
        };
        for k in keys {
            match decode::<K>(&k[PREFIX..]).map_err(|m| state_error(operator, name, m)) {
                Ok(k) => out.push(k),
                Err(e) => {
                    self.fail(e);
                    return out;
                }
            }
        }
        out
    }

    /// The number of objects of state `name`.
    pub(crate) fn len(&self, name: &str) -> usize {
        match self.physical_keys(name) {
            Ok(k) => k.len(),
            Err(e) => {
                self.fail(e);
                0
            }
        }
    }

    /// Keep the objects `keep` accepts, writing back those it changed.
    pub(crate) fn retain<K: Key, S: Data>(
        &mut self,
        name: &StateName,
        operator: &str,
        mut keep: impl FnMut(&K, &mut S) -> bool,
    ) -> Result<()> {
        self.check()?;
        let id = self.state_id::<S>(name, operator)?;
        // The store alone then holds the state's objects.
        self.write_back_all()?;
        let idb = id.to_be_bytes();
        self.cache.map.retain(|k, c| {
            let keep = k.get(2..PREFIX) != Some(&idb[..]);
            if !keep {
                self.cache.bytes -= c.cost;
            }
            keep
        });
        // Iterate a read view, so that the writes below do not show in the iteration.
        let view = self.db.snapshot();
        let key_groups = self.states[usize::from(id)].key_groups.clone();
        let io = |e| store_error(&self.path, e);
        for kg in key_groups.iter() {
            for item in view.prefix(&self.ks, prefix(kg, id)) {
                let (pk, v) = item.into_inner().map_err(io)?;
                let k: K = decode(&pk[PREFIX..]).map_err(|m| state_error(operator, name, m))?;
                let mut s: S = decode(&v).map_err(|m| incompatible(operator, name, m))?;
                if keep(&k, &mut s) {
                    self.val_buf.clear();
                    rmp_serde::encode::write_named(&mut self.val_buf, &s)
                        .map_err(|m| state_error(operator, name, m.to_string()))?;
                    if self.val_buf[..] != v[..] {
                        self.ks.insert(pk.clone(), &self.val_buf[..]).map_err(io)?;
                        self.dirty.mark(&pk);
                    }
                } else {
                    self.ks.remove(pk.clone()).map_err(io)?;
                    self.dirty.mark(&pk);
                }
            }
        }
        Ok(())
    }

    /// Take a read view now; read it as complete or delta sections on the writer thread.
    pub(crate) fn snapshot(
        &mut self,
        ctx: &SnapshotContext,
        out: &mut StateSnapshot,
        operator: &str,
    ) -> Result<()> {
        self.check()?;
        if ctx.max_parallelism != self.max_parallelism {
            return Err(StromError::Internal(format!(
                "operator '{operator}': snapshot at max parallelism {} of a store at {}",
                ctx.max_parallelism, self.max_parallelism
            )));
        }
        // Changes still in the cache go to the store, which the view below reads.
        self.write_back_all()?;
        // Savepoints are always complete.
        let base = match ctx.kind {
            CheckpointKind::Checkpoint => ctx.incremental_base,
            CheckpointKind::Savepoint { .. } => None,
        };
        let changed = self.dirty.begin_snapshot(ctx.checkpoint_id, base);
        let view = self.db.snapshot();
        let ks = self.ks.clone();
        let path = self.path.clone();
        let states: Vec<(StateName, KeyGroupSet)> = self
            .states
            .iter()
            .map(|s| (Arc::clone(&s.name), s.key_groups.clone()))
            .collect();
        match changed {
            Some(sets) => {
                out.based_on = base;
                out.defer(move |out| write_deltas(&view, &ks, &path, &states, &sets, out));
            }
            None => out.defer(move |out| write_complete(&view, &ks, &path, &states, out)),
        }
        Ok(())
    }

    /// Write the restored sections of state `name` into the store.
    pub(crate) fn restore<K: Key>(
        &mut self,
        name: &str,
        blobs: &[KeyedBlob],
        operator: &str,
    ) -> Result<()> {
        self.check()?;
        if self.ids.contains_key(name) {
            return Err(state_error(
                operator,
                name,
                "restored into a store that already holds it (restore before any use)",
            ));
        }
        let id = self.add_state(name)?;
        self.states[usize::from(id)].restored = true;
        // One write per change, in order (a write batch would give every change in it the
        // same sequence number, leaving two changes of one key unordered).
        let io = |e| store_error(&self.path, e);
        let mut key = Vec::new();
        let max_parallelism = self.max_parallelism;
        let ks = &self.ks;
        let state = &mut self.states[usize::from(id)];
        let physical = |key: &mut Vec<u8>, k: &K| -> Result<u16> {
            let kg = key_group_for_hash(k.key_hash(), max_parallelism);
            key.clear();
            key.extend_from_slice(&prefix(kg, id));
            rmp_serde::encode::write_named(key, k)
                .map_err(|m| state_error(operator, name, m.to_string()))?;
            Ok(kg)
        };
        restored_changes::<K>(name, blobs, operator, |change| {
            match change {
                Change::Put(_, k, _, object) => {
                    let kg = physical(&mut key, &k)?;
                    state.key_groups.insert(kg);
                    ks.insert(&key[..], object).map_err(io)?;
                }
                Change::Delete(k) => {
                    physical(&mut key, &k)?;
                    ks.remove(&key[..]).map_err(io)?;
                }
            }
            Ok(())
        })
    }

    /// After a restore: the store holds a checkpoint's state, but which one is unknown, so
    /// the next snapshot is complete.
    pub(crate) fn restored(&mut self) {
        self.dirty.stop();
    }

    /// Forget the changes covered by completed checkpoint `id`.
    pub(crate) fn notify_checkpoint_complete(&mut self, id: CheckpointId) {
        self.dirty.complete(id);
    }
}

/// Write one dirty cached object to the store (or delete it there) and record the change
/// for incremental snapshots; whether it holds an object (its encoding is then in `buf`).
fn write_back(
    ks: &Keyspace,
    states: &[DiskState],
    dirty: &mut DirtyLog,
    buf: &mut Vec<u8>,
    path: &Path,
    key: &[u8],
    slot: &(dyn Any + Send),
) -> Result<bool> {
    let id = key
        .get(2..PREFIX)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    let state = id.and_then(|id| states.get(id));
    let Some((state, encode)) = state.and_then(|s| s.encode.map(|e| (s, e))) else {
        return Err(StromError::Internal(
            "a cached object of an unknown state".into(),
        ));
    };
    let present = encode(slot, buf).map_err(|m| state_error("", &state.name, m))?;
    let io = |e| store_error(path, e);
    if present {
        ks.insert(key, &buf[..]).map_err(io)?;
    } else {
        ks.remove(key).map_err(io)?;
    }
    dirty.mark(key);
    Ok(present)
}

/// Read every entry of the view, as complete sections (writer-thread work).
fn write_complete(
    view: &fjall::Snapshot,
    ks: &Keyspace,
    path: &Path,
    states: &[(StateName, KeyGroupSet)],
    out: &mut SectionSink<'_>,
) -> Result<()> {
    for (id, (name, key_groups)) in states.iter().enumerate() {
        let id = id as u16;
        for kg in key_groups.iter() {
            let mut w = CompleteWriter::default();
            for item in view.prefix(ks, prefix(kg, id)) {
                let (k, v) = item.into_inner().map_err(|e| store_error(path, e))?;
                w.push(&k[PREFIX..], &v);
            }
            if !w.is_empty() {
                out.push(StateSection::Keyed {
                    state: name.to_string(),
                    key_group: u32::from(kg),
                    delta: false,
                    data: w.finish(),
                });
            }
        }
    }
    Ok(())
}

/// Read the changed keys from the view, as delta sections (writer-thread work).
fn write_deltas(
    view: &fjall::Snapshot,
    ks: &Keyspace,
    path: &Path,
    states: &[(StateName, KeyGroupSet)],
    sets: &[Arc<KeySet>],
    out: &mut SectionSink<'_>,
) -> Result<()> {
    let mut keys: Vec<&[u8]> = sets.iter().flat_map(|s| s.iter().map(|k| &**k)).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut current: Option<([u8; PREFIX], DeltaWriter)> = None;
    let flush = |group: Option<([u8; PREFIX], DeltaWriter)>, out: &mut SectionSink<'_>| {
        if let Some((p, w)) = group
            && !w.is_empty()
        {
            let kg = u16::from_be_bytes([p[0], p[1]]);
            let id = usize::from(u16::from_be_bytes([p[2], p[3]]));
            if let Some((name, _)) = states.get(id) {
                out.push(StateSection::Keyed {
                    state: name.to_string(),
                    key_group: u32::from(kg),
                    delta: true,
                    data: w.finish(),
                });
            }
        }
    };
    for key in keys {
        let Some(p) = key
            .get(..PREFIX)
            .and_then(|p| <[u8; PREFIX]>::try_from(p).ok())
        else {
            continue;
        };
        if current.as_ref().is_none_or(|(c, _)| *c != p) {
            flush(current.take(), out);
            current = Some((p, DeltaWriter::default()));
        }
        let value = view.get(ks, key).map_err(|e| store_error(path, e))?;
        if let Some((_, w)) = current.as_mut() {
            w.push(&key[PREFIX..], value.as_deref());
        }
    }
    flush(current, out);
    Ok(())
}

type KeySet = HashSet<Box<[u8]>, foldhash::fast::RandomState>;

/// The record of changed keys for incremental snapshots.
///
/// `segments` holds, for every snapshot taken and not yet covered by a completed
/// checkpoint, the keys changed between the snapshot before it and it; `current` the keys
/// changed since the last snapshot. `origin` is the checkpoint whose state the store held
/// when the first segment began. A delta on base `b` is the union of the segments after
/// `b` (or all of them when `b` is the origin) and `current`.
struct DirtyLog {
    current: KeySet,
    current_bytes: usize,
    segments: Vec<(CheckpointId, Arc<KeySet>, usize)>,
    origin: Option<CheckpointId>,
    /// Bytes held by all sets (approximate).
    bytes: usize,
    limit: usize,
    /// `false` after the sets outgrew `limit`: the next snapshot is complete.
    tracking: bool,
}

impl DirtyLog {
    fn new(limit: usize) -> Self {
        DirtyLog {
            current: KeySet::default(),
            current_bytes: 0,
            segments: Vec::new(),
            origin: None,
            bytes: 0,
            limit,
            // Nothing to be incremental on before the first snapshot.
            tracking: false,
        }
    }

    #[inline]
    fn mark(&mut self, key: &[u8]) {
        if !self.tracking || self.current.contains(key) {
            return;
        }
        let cost = key.len() + DIRTY_OVERHEAD;
        self.current.insert(key.into());
        self.current_bytes += cost;
        self.bytes += cost;
        if self.bytes > self.limit {
            self.stop();
        }
    }

    /// Stop recording until the next snapshot, which is then complete: before the first
    /// snapshot (a job without checkpoints records nothing), after a restore, and when the
    /// sets outgrow their limit.
    fn stop(&mut self) {
        self.reset();
        self.tracking = false;
    }

    /// Forget everything (no snapshot can be incremental until the next complete one).
    fn reset(&mut self) {
        self.current = KeySet::default();
        self.current_bytes = 0;
        self.segments.clear();
        self.origin = None;
        self.bytes = 0;
        self.tracking = true;
    }

    /// Close the current set for snapshot `id`; the sets a delta on `base` needs, or
    /// `None` when the snapshot must be complete.
    fn begin_snapshot(
        &mut self,
        id: CheckpointId,
        base: Option<CheckpointId>,
    ) -> Option<Vec<Arc<KeySet>>> {
        let current = Arc::new(std::mem::take(&mut self.current));
        let current_bytes = std::mem::take(&mut self.current_bytes);
        if !self.tracking {
            // Complete snapshot: changes are counted from this one on.
            self.reset();
            self.origin = Some(id);
            return None;
        }
        let from = base.and_then(|b| {
            if self.origin == Some(b) {
                Some(0)
            } else {
                self.segments
                    .iter()
                    .position(|(s, _, _)| *s == b)
                    .map(|p| p + 1)
            }
        });
        let sets = from.map(|from| {
            self.segments[from..]
                .iter()
                .map(|(_, s, _)| Arc::clone(s))
                .chain(std::iter::once(Arc::clone(&current)))
                .collect()
        });
        self.segments.push((id, current, current_bytes));
        sets
    }

    /// Checkpoint `id` completed: drop the sets it covers.
    fn complete(&mut self, id: CheckpointId) {
        if let Some(p) = self.segments.iter().position(|(s, _, _)| *s == id) {
            for (_, _, b) in self.segments.drain(..=p) {
                self.bytes = self.bytes.saturating_sub(b);
            }
            self.origin = Some(id);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn key_group_set_iterates_in_order() {
        let mut s = KeyGroupSet::new(200);
        for kg in [199, 0, 64, 63, 5] {
            s.insert(kg);
        }
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0, 5, 63, 64, 199]);
    }

    #[test]
    fn a_cached_object_growing_with_its_writes_is_counted_at_about_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let task = TaskInfo {
            job_name: "j".into(),
            operator_name: "op".into(),
            subtask: 0,
            parallelism: 1,
            max_parallelism: 128,
        };
        let mut d = DiskBackend::open(dir.path(), 64 * MIB, &task).unwrap();
        let name: StateName = Arc::from("list");
        // A new object gaining 100 bytes per write, as a block gains a slice per element.
        for _ in 0..40 {
            d.with_entry::<u32, Vec<u8>, _>(&name, &7, "op", |v| {
                v.get_or_insert_with(Vec::new).extend([1u8; 100]);
            })
            .unwrap();
        }
        assert!(
            d.cache.bytes >= 4000 / 2,
            "counted at {} bytes, holds 4000",
            d.cache.bytes
        );
        d.write_back_all().unwrap();
        assert!(d.cache.bytes >= 4000, "after write-back: {}", d.cache.bytes);
    }

    #[test]
    fn dirty_log_unions_sets_since_the_base() {
        let mut d = DirtyLog::new(1 << 20);
        d.mark(b"a");
        assert!(
            !d.tracking && d.bytes == 0,
            "nothing recorded before a snapshot"
        );
        assert!(d.begin_snapshot(1, None).is_none());
        d.mark(b"b");
        let sets = d.begin_snapshot(2, Some(1)).unwrap();
        assert_eq!(sets.iter().map(|s| s.len()).sum::<usize>(), 1);
        d.mark(b"c");
        // Checkpoint 2 never completed: a delta on 1 spans both sets.
        let sets = d.begin_snapshot(3, Some(1)).unwrap();
        assert_eq!(sets.iter().map(|s| s.len()).sum::<usize>(), 2);
        d.complete(3);
        d.mark(b"d");
        assert!(
            d.begin_snapshot(4, Some(2)).is_none(),
            "2 is no longer known"
        );
        let sets = d.begin_snapshot(5, Some(3)).unwrap();
        assert_eq!(sets.iter().map(|s| s.len()).sum::<usize>(), 1);
        // Overflow: tracking stops, the next snapshot is complete and restarts it.
        let mut d = DirtyLog::new(100);
        assert!(d.begin_snapshot(6, None).is_none());
        d.mark(b"y");
        assert!(d.tracking);
        d.mark(&[1; 80]);
        assert!(!d.tracking);
        assert!(d.begin_snapshot(7, Some(6)).is_none());
        d.mark(b"x");
        assert_eq!(d.begin_snapshot(8, Some(7)).unwrap().len(), 1);
    }
}
