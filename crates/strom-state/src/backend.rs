//! Where keyed state lives: [`KeyedStateStore`], the interface every state backend provides.
//!
//! Every state kind (value, list, map, reducing, aggregating, each with TTL) is built by the
//! handles on one primitive: read-modify-write of the *state object* of one state and one key
//! ([`KeyedStateStore::with_entry`]). The heap backend hands out the object itself; a disk
//! backend (#5) deserializes it, runs the change and writes it back — which is why state
//! objects are serde types. Besides that the store can list a state's keys (to visit every
//! key's state, e.g. from the broadcast side), remove entries, and sweep expired TTL values.
//! Snapshots and restore go through the same store. User code only sees handles and never
//! this type's backend, so switching backends needs no change to it.

use std::any::Any;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use strom_core::checkpoint::{RestoredState, SnapshotContext, StateBackendConfig, StateSnapshot};
use strom_core::{Result, StromError, TaskInfo};

/// The name of a state within an operator.
pub type StateName = Arc<str>;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

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
}

impl<K: Hash + Eq + Clone + Send + 'static, S: Send + 'static> ErasedTable<K> for HeapTable<K, S> {
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
}

/// Keeps every state object in memory (Flink's `HashMapStateBackend`).
pub struct HeapBackend<K> {
    tables: Map<StateName, Box<dyn ErasedTable<K>>>,
}

impl<K> Default for HeapBackend<K> {
    fn default() -> Self {
        HeapBackend {
            tables: Map::default(),
        }
    }
}

/// Removes the expired values of one TTL'd state.
type Sweep<K> = Box<dyn FnMut(&mut KeyedStateStore<K>, i64) -> Result<()> + Send>;

/// The keyed state of one operator instance.
pub struct KeyedStateStore<K> {
    heap: HeapBackend<K>,
    sweeps: Vec<(StateName, Sweep<K>)>,
}

impl<K> Default for KeyedStateStore<K> {
    fn default() -> Self {
        KeyedStateStore {
            heap: HeapBackend::default(),
            sweeps: Vec::new(),
        }
    }
}

/// The operations a state backend provides (implemented by [`KeyedStateStore`] over its
/// backend). See the module documentation.
pub trait KeyedStateBackend<K> {
    /// Read-modify-write the object of state `name` for `key` (`None` when absent; set it to
    /// `None` to delete). The first use fixes the state's object type; another type later is
    /// an error naming the state.
    fn with_entry<S, R>(
        &mut self,
        name: &StateName,
        key: &K,
        f: impl FnOnce(&mut Option<S>) -> R,
    ) -> Result<R>
    where
        S: Send + 'static;

    /// The keys that have an object in state `name`.
    fn keys(&self, name: &str) -> Vec<K>;

    /// Keep only the objects for which `keep` returns true (TTL sweeps).
    fn retain<S: Send + 'static>(
        &mut self,
        name: &StateName,
        keep: impl FnMut(&K, &mut S) -> bool,
    ) -> Result<()>;

    /// Number of objects in state `name`.
    fn len(&self, name: &str) -> usize;
}

impl<K: Hash + Eq + Clone + Send + 'static> KeyedStateStore<K> {
    /// An empty store on the heap backend.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register how to sweep state `name` of objects `S`: `live(object, now)` drops expired
    /// parts and says whether anything is left (done once per state, by its handle).
    pub fn register_sweep<S: Send + 'static>(
        &mut self,
        name: &StateName,
        live: fn(&mut S, i64) -> bool,
    ) {
        if self.sweeps.iter().any(|(n, _)| n == name) {
            return;
        }
        let state = Arc::clone(name);
        self.sweeps.push((
            Arc::clone(name),
            Box::new(move |store: &mut KeyedStateStore<K>, now: i64| {
                store.retain::<S>(&state, |_, obj| live(obj, now))
            }),
        ));
    }

    /// Remove every expired TTL value (the background cleanup, called periodically by the
    /// runtime; reads also remove what they find expired).
    pub fn cleanup_expired(&mut self, now: i64) -> Result<()> {
        let mut sweeps = std::mem::take(&mut self.sweeps);
        let result = sweeps
            .iter_mut()
            .try_for_each(|(_, sweep)| sweep(self, now));
        self.sweeps = sweeps;
        result
    }

    /// A store on the configured backend for one operator subtask (`operator` names its
    /// directory for the disk backend).
    pub fn for_backend(_config: &StateBackendConfig, _operator: &TaskInfo) -> Result<Self> {
        Ok(Self::new())
    }

    /// Snapshot every state, cut by key group (the heap backend copies its tables now and
    /// encodes them on the checkpoint writer thread).
    pub fn snapshot(&mut self, _ctx: &SnapshotContext, _out: &mut StateSnapshot) -> Result<()> {
        Err(StromError::Internal(
            "keyed state snapshots are not implemented yet".into(),
        ))
    }

    /// Load the key groups in `state` (entries are decoded when their state is first used).
    pub fn restore(&mut self, _state: &RestoredState) -> Result<()> {
        Err(StromError::Internal(
            "keyed state restore is not implemented yet".into(),
        ))
    }

    /// Whether any state has a time-to-live.
    pub fn has_ttl(&self) -> bool {
        !self.sweeps.is_empty()
    }

    fn table<S: Send + 'static>(&mut self, name: &StateName) -> Result<&mut HeapTable<K, S>> {
        let t = self.heap.tables.entry(Arc::clone(name)).or_insert_with(|| {
            Box::new(HeapTable::<K, S> {
                entries: Map::default(),
            })
        });
        let found = t.type_name();
        t.as_any_mut().downcast_mut::<HeapTable<K, S>>().ok_or_else(|| {
            StromError::User(
                format!(
                    "state '{name}' is used with two types: {found} and {}; give each state its own name",
                    std::any::type_name::<S>()
                )
                .into(),
            )
        })
    }
}

impl<K: Hash + Eq + Clone + Send + 'static> KeyedStateBackend<K> for KeyedStateStore<K> {
    #[inline]
    fn with_entry<S, R>(
        &mut self,
        name: &StateName,
        key: &K,
        f: impl FnOnce(&mut Option<S>) -> R,
    ) -> Result<R>
    where
        S: Send + 'static,
    {
        let table = self.table::<S>(name)?;
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

    fn keys(&self, name: &str) -> Vec<K> {
        self.heap
            .tables
            .get(name)
            .map(|t| t.keys())
            .unwrap_or_default()
    }

    fn retain<S: Send + 'static>(
        &mut self,
        name: &StateName,
        mut keep: impl FnMut(&K, &mut S) -> bool,
    ) -> Result<()> {
        let table = self.table::<S>(name)?;
        table
            .entries
            .retain(|k, v| v.as_mut().is_some_and(|v| keep(k, v)));
        Ok(())
    }

    fn len(&self, name: &str) -> usize {
        self.heap.tables.get(name).map_or(0, |t| t.len())
    }
}
