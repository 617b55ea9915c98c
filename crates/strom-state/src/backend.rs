//! Where keyed state lives: [`KeyedStateStore`], the interface every state backend provides.
//!
//! Every state kind (value, list, map, reducing, aggregating, each with TTL) is built by the
//! handles on one primitive: read-modify-write of the *state object* of one state and one key
//! ([`KeyedStateStore::with_entry`]). The heap backend ([`HeapBackend`]) hands out the object
//! itself; the disk backend ([`DiskBackend`]) deserializes it, runs the change and writes it
//! back — which is why state objects are serde types ([`Data`]). Besides that the store can
//! list a state's keys (to visit every key's state, e.g. from the broadcast side), remove
//! entries, and sweep expired TTL values. User code only sees handles and never this type's
//! backend, so switching backends ([`StateBackendConfig`]) needs no change to it.
//!
//! **Snapshots.** [`KeyedStateStore::snapshot`] cuts every state by key group into
//! [`StateSection::Keyed`](strom_core::checkpoint::StateSection::Keyed) sections; the
//! synchronous part is a copy of what changed (heap) or a read view of the store (disk),
//! the encoding is deferred to the checkpoint writer thread. Both backends write complete
//! sections in one format, so a savepoint of one restores on the other. Both write
//! *incremental* snapshots (only what changed since the base checkpoint) when the runtime
//! asks for them. [`KeyedStateStore::restore`] loads the key groups a subtask owns;
//! the heap backend decodes a state's objects when a handle first uses it (only then is the
//! object type known), and a restored state nobody touched is written again by the next
//! snapshot.
//!
//! **Section format** (MessagePack, struct fields by name, as
//! [`encode`](strom_core::checkpoint::encode) writes):
//! * a *complete* section (`delta: false`) of one state and key group encodes
//!   `Vec<(K, S)>`: every key with its state object — exactly what
//!   [`keyed_sections`](strom_core::checkpoint::keyed_sections) writes and
//!   [`RestoredState::keyed_entries`](strom_core::checkpoint::RestoredState::keyed_entries)
//!   reads;
//! * a *delta* section (`delta: true`) encodes `Vec<(bin, Option<bin>)>`: the encoding of
//!   each key changed since the base checkpoint (as binary) with the encoding of its new
//!   object, or nil when the key's object was deleted. Deltas apply in checkpoint order on
//!   top of the complete section of the same state and key group.

use crate::codec;
#[cfg(feature = "disk")]
use crate::disk::DiskBackend;
pub use crate::heap::HeapBackend;
use std::sync::Arc;
use strom_core::checkpoint::{
    CheckpointId, RestoredState, SnapshotContext, StateBackendConfig, StateSnapshot, state_error,
};
use strom_core::{Data, Key, Result, StromError, TaskInfo};

/// The name of a state within an operator.
pub type StateName = Arc<str>;

/// Removes the expired values of one TTL'd state.
type Sweep<K> = Box<dyn FnMut(&mut KeyedStateStore<K>, i64) -> Result<()> + Send>;

/// The backend behind a store.
enum Backend<K> {
    Heap(HeapBackend<K>),
    #[cfg(feature = "disk")]
    Disk(Box<DiskBackend>),
}

/// The keyed state of one operator instance.
pub struct KeyedStateStore<K> {
    backend: Backend<K>,
    sweeps: Vec<(StateName, Sweep<K>)>,
    /// The operator, named in errors.
    operator: String,
    /// Whether the store is on a configured backend (made by `for_backend`), not the
    /// default heap store an operator holds until it opens.
    configured: bool,
}

impl<K> Default for KeyedStateStore<K> {
    fn default() -> Self {
        KeyedStateStore {
            backend: Backend::Heap(HeapBackend::default()),
            sweeps: Vec::new(),
            operator: String::new(),
            configured: false,
        }
    }
}

/// The operations a state backend provides (implemented by [`KeyedStateStore`] over its
/// backend). See the module documentation.
pub trait KeyedStateBackend<K> {
    /// Read-modify-write the object of state `name` for `key` (`None` when absent; set it to
    /// `None` to delete). The first use fixes the state's object type; another type later is
    /// an error naming the state. On the disk backend the object stays decoded in its
    /// object cache and is written back when evicted or at the next snapshot.
    fn with_entry<S, R>(
        &mut self,
        name: &StateName,
        key: &K,
        f: impl FnOnce(&mut Option<S>) -> R,
    ) -> Result<R>
    where
        S: Data;

    /// Read the object of state `name` for `key` without changing it. Unlike
    /// [`with_entry`](Self::with_entry) this does not count as a write, so the next
    /// incremental snapshot does not carry the object again.
    fn read_entry<S, R>(
        &mut self,
        name: &StateName,
        key: &K,
        f: impl FnOnce(Option<&S>) -> R,
    ) -> Result<R>
    where
        S: Data;

    /// The keys that have an object in state `name` (in no particular order). On the disk
    /// backend a read error ends the listing early and is returned by the next call that
    /// can fail.
    fn keys(&self, name: &str) -> Vec<K>;

    /// Keep only the objects for which `keep` returns true (TTL sweeps); objects changed
    /// by `keep` are written back.
    fn retain<S: Data>(
        &mut self,
        name: &StateName,
        keep: impl FnMut(&K, &mut S) -> bool,
    ) -> Result<()>;

    /// Number of objects in state `name` (the disk backend counts them: O(n)).
    fn len(&self, name: &str) -> usize;
}

impl<K> KeyedStateStore<K> {
    /// An empty store on the heap backend.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether any state has a time-to-live.
    pub fn has_ttl(&self) -> bool {
        !self.sweeps.is_empty()
    }

    /// Whether the store keeps its state on disk (the disk backend).
    pub fn is_on_disk(&self) -> bool {
        match self.backend {
            Backend::Heap(_) => false,
            #[cfg(feature = "disk")]
            Backend::Disk(_) => true,
        }
    }
}

impl<K: Key> KeyedStateStore<K> {
    /// A store on the configured backend for one operator subtask. For the disk backend it
    /// opens a fresh store in a new directory under the configured one, named after the
    /// operator and subtask (`<operator>-<subtask>-<pid>-<n>`), deleted when the store is
    /// dropped; its caches and write buffers take at most `cache_bytes`.
    pub fn for_backend(config: &StateBackendConfig, operator: &TaskInfo) -> Result<Self> {
        let backend = match config {
            StateBackendConfig::Heap => Backend::Heap(HeapBackend::default()),
            #[cfg(feature = "disk")]
            StateBackendConfig::Disk { dir, cache_bytes } => {
                Backend::Disk(Box::new(DiskBackend::open(dir, *cache_bytes, operator)?))
            }
            #[cfg(not(feature = "disk"))]
            StateBackendConfig::Disk { .. } => return Err(crate::disk_unavailable()),
        };
        Ok(KeyedStateStore {
            backend,
            sweeps: Vec::new(),
            operator: operator.operator_name.clone(),
            configured: true,
        })
    }

    /// Put a default store on the configured backend, once: an operator holds a default
    /// (heap) store from construction and calls this from both `open` and
    /// `initialize_state`, whichever the runtime calls first; later calls do nothing. The
    /// default store must not have been used yet (it is replaced).
    pub fn ensure_backend(
        &mut self,
        config: &StateBackendConfig,
        operator: &TaskInfo,
    ) -> Result<()> {
        if !self.configured {
            *self = Self::for_backend(config, operator)?;
        }
        Ok(())
    }

    /// Register how to sweep state `name` of objects `S`: `live(object, now)` drops expired
    /// parts and says whether anything is left (done once per state, by its handle).
    pub fn register_sweep<S: Data>(&mut self, name: &StateName, live: fn(&mut S, i64) -> bool) {
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

    /// Snapshot every state, cut by key group, for checkpoint `ctx.checkpoint_id`.
    ///
    /// Both backends write complete sections when `ctx.incremental_base` is `None` and for
    /// savepoints, otherwise only the entries changed since that checkpoint, as delta
    /// sections, with `out.based_on` set to the base. The heap backend copies what it
    /// writes now (objects written since the base, by their epoch stamps) and encodes it on
    /// the checkpoint writer thread; the disk backend takes a read view of its store now and
    /// reads it on the writer thread. Both fall back to complete sections (leaving
    /// `out.based_on` as it is) when they cannot tell what changed since the base: the base
    /// is not a checkpoint they took (e.g. the first checkpoint after a restore) or their
    /// record of changes (disk: changed keys; heap: deleted keys) outgrew its budget.
    pub fn snapshot(&mut self, ctx: &SnapshotContext, out: &mut StateSnapshot) -> Result<()> {
        match &mut self.backend {
            Backend::Heap(h) => {
                h.snapshot(ctx, out, &self.operator);
                Ok(())
            }
            #[cfg(feature = "disk")]
            Backend::Disk(d) => d.snapshot(ctx, out, &self.operator),
        }
    }

    /// Load the keyed states in `state`: the sections of the key groups this subtask owns,
    /// complete sections first, then deltas in checkpoint order. Restore into a fresh store
    /// (before any state is used). The heap backend keeps each state's objects encoded until
    /// a handle first uses the state; the disk backend writes them into its store. Errors
    /// (a corrupt section, a key type that no longer reads) name the operator and the state.
    pub fn restore(&mut self, state: &RestoredState) -> Result<()> {
        self.restore_states(state, |_| true)
    }

    /// Like [`restore`](Self::restore), for only the keyed states whose name `include`
    /// accepts (for operators that keep other keyed sections, e.g. timers, in the same
    /// snapshot).
    pub fn restore_states(
        &mut self,
        state: &RestoredState,
        include: impl Fn(&str) -> bool,
    ) -> Result<()> {
        if self.operator.is_empty() {
            self.operator = state.operator().to_string();
        }
        let operator = if state.operator().is_empty() {
            self.operator.as_str()
        } else {
            state.operator()
        };
        for name in state.keyed_states().filter(|n| include(n)) {
            let blobs = state.keyed_blobs(name);
            match &mut self.backend {
                Backend::Heap(h) => h.restore(name, blobs, operator)?,
                #[cfg(feature = "disk")]
                Backend::Disk(d) => d.restore::<K>(name, blobs, operator)?,
            }
        }
        match &mut self.backend {
            Backend::Heap(h) => h.restored(),
            #[cfg(feature = "disk")]
            Backend::Disk(d) => d.restored(),
        }
        Ok(())
    }

    /// Fix the object type of state `name` now, so that restored objects that do not read
    /// as `S` fail here, naming the operator and the state, rather than at their first use
    /// (as Flink checks a state's serializer when it restores). An operator calls this
    /// after [`restore`](Self::restore) for the states whose types it knows.
    pub fn declare<S: Data>(&mut self, name: &StateName) -> Result<()> {
        match &mut self.backend {
            Backend::Heap(h) => h.declare::<S>(name, &self.operator),
            #[cfg(feature = "disk")]
            Backend::Disk(d) => d.declare::<S>(name, &self.operator),
        }
    }

    /// Checkpoint `id` is complete (durable and acknowledged by every operator): both
    /// backends forget which keys changed up to it, since incremental snapshots build on it
    /// from now on.
    pub fn notify_checkpoint_complete(&mut self, id: CheckpointId) {
        match &mut self.backend {
            Backend::Heap(h) => h.notify_checkpoint_complete(id),
            #[cfg(feature = "disk")]
            Backend::Disk(d) => d.notify_checkpoint_complete(id),
        }
    }
}

impl<K: Key> KeyedStateBackend<K> for KeyedStateStore<K> {
    #[inline]
    fn with_entry<S, R>(
        &mut self,
        name: &StateName,
        key: &K,
        f: impl FnOnce(&mut Option<S>) -> R,
    ) -> Result<R>
    where
        S: Data,
    {
        match &mut self.backend {
            Backend::Heap(h) => h.with_entry(name, key, &self.operator, f),
            #[cfg(feature = "disk")]
            Backend::Disk(d) => d.with_entry(name, key, &self.operator, f),
        }
    }

    #[inline]
    fn read_entry<S, R>(
        &mut self,
        name: &StateName,
        key: &K,
        f: impl FnOnce(Option<&S>) -> R,
    ) -> Result<R>
    where
        S: Data,
    {
        match &mut self.backend {
            Backend::Heap(h) => h.read_entry(name, key, &self.operator, f),
            #[cfg(feature = "disk")]
            Backend::Disk(d) => d.read_entry(name, key, &self.operator, f),
        }
    }

    fn keys(&self, name: &str) -> Vec<K> {
        match &self.backend {
            Backend::Heap(h) => h.keys(name),
            #[cfg(feature = "disk")]
            Backend::Disk(d) => d.keys(name, &self.operator),
        }
    }

    fn retain<S: Data>(
        &mut self,
        name: &StateName,
        keep: impl FnMut(&K, &mut S) -> bool,
    ) -> Result<()> {
        match &mut self.backend {
            Backend::Heap(h) => h.retain(name, &self.operator, keep),
            #[cfg(feature = "disk")]
            Backend::Disk(d) => d.retain(name, &self.operator, keep),
        }
    }

    fn len(&self, name: &str) -> usize {
        match &self.backend {
            Backend::Heap(h) => h.len(name),
            #[cfg(feature = "disk")]
            Backend::Disk(d) => d.len(name),
        }
    }
}

/// The error for a state object of `state` that does not decode as the type it is used
/// with.
pub(crate) fn incompatible(
    operator: &str,
    state: &str,
    message: impl std::fmt::Display,
) -> StromError {
    state_error(
        operator,
        state,
        format!("cannot read it from the checkpoint (incompatible type change?): {message}"),
    )
}

/// The error for a state used with two object types.
pub(crate) fn two_types(name: &str, found: &str, wanted: &str) -> StromError {
    StromError::User(
        format!(
            "state '{name}' is used with two types: {found} and {wanted}; give each state its own name"
        )
        .into(),
    )
}

/// One change of a restored state, in checkpoint order (see [`restored_changes`]).
pub(crate) enum Change<'a, K> {
    /// `key` (of key group `.0`, encoded as `.2`) has the encoded object `.3`.
    Put(u32, K, &'a [u8], &'a [u8]),
    /// `key` has no object any more.
    Delete(K),
}

/// Walk the restored sections of `state` in order and hand every change to `apply`, keys
/// decoded and objects still encoded. Per key group the sections are one complete section
/// followed by deltas (the runtime's chains start at one complete snapshot); entries of a
/// complete section are applied like changes, so the last one of a key wins.
pub(crate) fn restored_changes<'a, K: Key>(
    state: &str,
    blobs: &'a [strom_core::checkpoint::KeyedBlob],
    operator: &str,
    mut apply: impl FnMut(Change<'a, K>) -> Result<()>,
) -> Result<()> {
    let corrupt = |kg: u32, m: String| {
        state_error(
            operator,
            state,
            format!("cannot read key group {kg} from the checkpoint (corrupt section): {m}"),
        )
    };
    let key = |bytes: &[u8]| -> Result<K> {
        strom_core::checkpoint::decode(bytes).map_err(|m| {
            state_error(
                operator,
                state,
                format!(
                    "cannot read its keys from the checkpoint (incompatible key type change?): {m}"
                ),
            )
        })
    };
    for blob in blobs {
        let kg = blob.key_group;
        if blob.delta {
            for (k, v) in codec::delta_entries(&blob.data).map_err(|m| corrupt(kg, m))? {
                apply(match v {
                    Some(v) => Change::Put(kg, key(k)?, k, v),
                    None => Change::Delete(key(k)?),
                })?;
            }
        } else {
            for (k, v) in codec::complete_entries(&blob.data).map_err(|m| corrupt(kg, m))? {
                apply(Change::Put(kg, key(k)?, k, v))?;
            }
        }
    }
    Ok(())
}
