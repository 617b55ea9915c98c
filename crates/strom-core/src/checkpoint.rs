//! The checkpoint vocabulary shared by operators, sinks, sources and the runtime.
//!
//! When a [`CheckpointBarrier`](strom_types::CheckpointBarrier) reaches an operator (after
//! alignment of all its inputs), the runtime asks the operator for a [`StateSnapshot`]. The
//! operator copies what it must (or takes a versioned view of it) right there, and may
//! *defer* the serialization: deferred work runs on the checkpoint writer thread while
//! records keep flowing, so a snapshot never stalls processing for the write.
//!
//! A snapshot is a list of [`StateSection`]s:
//! - keyed state is cut by **key group**, so that a job restored at another parallelism
//!   gives every subtask exactly the key groups it now owns (Flink's rescaling rule);
//! - operator list state is a list of individually encoded elements that the runtime
//!   redistributes (even split or union) without knowing their type.
//!
//! On restore the runtime hands each operator subtask a [`RestoredState`] holding the
//! sections of its key groups (from every old subtask that owned them) and its share of
//! the list states. Values are encoded with MessagePack with named struct fields
//! ([`encode`]/[`decode`]): a field added to a state type with `#[serde(default)]` keeps old
//! checkpoints and savepoints readable, and an incompatible change fails with an error
//! naming the operator and the state.
//!
//! Once a checkpoint is complete (every operator acknowledged and the metadata is durable)
//! every operator and sink is notified (`notify_checkpoint_complete`): that is where
//! two-phase-commit sinks make their pre-committed output visible.

use crate::operator_state::Redistribution;
use crate::{Key, Result, StromError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use strom_types::key_group::key_group_for_hash;

pub use strom_types::{CheckpointId, CheckpointKind};

/// What an operator is told when it snapshots its state.
#[derive(Clone, Debug)]
pub struct SnapshotContext {
    /// The checkpoint being taken.
    pub checkpoint_id: CheckpointId,
    /// When the checkpoint was triggered (ms since the epoch).
    pub timestamp_ms: i64,
    /// Checkpoint or savepoint (savepoints are always complete and self-contained).
    pub kind: CheckpointKind,
    /// An incremental backend may write only what changed since this completed
    /// checkpoint (marking its keyed sections as deltas); `None` means write everything.
    pub incremental_base: Option<CheckpointId>,
    /// The operator's number of key groups.
    pub max_parallelism: usize,
}

/// Where keyed state lives (Flink's state backends). Switching is configuration only:
/// operators get the configured backend from their context.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StateBackendConfig {
    /// Every state object on the heap (the default; fastest while state fits in memory).
    #[default]
    Heap,
    /// State in an embedded on-disk store under `dir` (one sub-directory per operator
    /// subtask), for state larger than memory; checkpoints are incremental.
    Disk {
        /// Working directory of the store (not the checkpoint directory).
        dir: std::path::PathBuf,
        /// Memory the store may use for caches and write buffers, bytes.
        cache_bytes: u64,
    },
}

impl StateBackendConfig {
    /// The backend named by the environment variable `STROM_STATE_BACKEND`, `None` when
    /// it is unset: `heap`, or `disk` in `STROM_STATE_DIR` (default: `strom-state` in the
    /// system's temporary directory) with 64 MiB of cache per subtask. Jobs that do not
    /// choose a backend in code use it, so a test suite can run on either backend
    /// unchanged. An unknown value is an error naming it.
    pub fn from_env() -> crate::Result<Option<StateBackendConfig>> {
        let Ok(v) = std::env::var("STROM_STATE_BACKEND") else {
            return Ok(None);
        };
        match v.trim() {
            "" => Ok(None),
            "heap" => Ok(Some(StateBackendConfig::Heap)),
            "disk" => Ok(Some(StateBackendConfig::Disk {
                dir: std::env::var_os("STROM_STATE_DIR")
                    .map(std::path::PathBuf::from)
                    .unwrap_or_else(|| std::env::temp_dir().join("strom-state")),
                cache_bytes: 64 << 20,
            })),
            other => Err(crate::StromError::InvalidJob(format!(
                "STROM_STATE_BACKEND={other:?} is not a state backend; use 'heap' or 'disk'"
            ))),
        }
    }
}

/// One part of an operator subtask's snapshot.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum StateSection {
    /// Keyed state of one key group.
    Keyed {
        /// The state's name within the operator.
        state: String,
        /// The key group.
        key_group: u32,
        /// Changes on top of the sections of the same state and key group in the
        /// checkpoints this one builds on (incremental); `false`: the complete contents.
        delta: bool,
        /// The encoded contents (format chosen by the operator).
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// Operator list state: elements encoded one by one, redistributed on rescale.
    List {
        /// The state's name within the operator.
        state: String,
        /// How the elements are spread over subtasks after rescaling.
        mode: Redistribution,
        /// The encoded elements.
        #[serde(with = "byte_list")]
        elements: Vec<Vec<u8>>,
    },
}

/// A list of byte strings encoded as binary values (not as lists of integers).
mod byte_list {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|e| serde_bytes::Bytes::new(e)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        let v: Vec<serde_bytes::ByteBuf> = Vec::deserialize(d)?;
        Ok(v.into_iter().map(serde_bytes::ByteBuf::into_vec).collect())
    }
}

impl StateSection {
    /// The state's name.
    pub fn state(&self) -> &str {
        match self {
            StateSection::Keyed { state, .. } | StateSection::List { state, .. } => state,
        }
    }

    /// Encoded size in bytes.
    pub fn size(&self) -> usize {
        match self {
            StateSection::Keyed { data, .. } => data.len(),
            StateSection::List { elements, .. } => elements.iter().map(Vec::len).sum(),
        }
    }
}

/// Where deferred snapshot work puts its sections. The checkpoint writer encodes and
/// writes each section as it is pushed, so a snapshot larger than memory (of the disk
/// backend) never needs to be held whole.
pub struct SectionSink<'a> {
    write: &'a mut dyn FnMut(StateSection) -> Result<()>,
    error: Option<StromError>,
}

impl<'a> SectionSink<'a> {
    /// A sink handing each section to `write`.
    pub fn new(write: &'a mut dyn FnMut(StateSection) -> Result<()>) -> Self {
        SectionSink { write, error: None }
    }

    /// Add a section (a failure to write it is reported when the work ends).
    pub fn push(&mut self, section: StateSection) {
        if self.error.is_none()
            && let Err(e) = (self.write)(section)
        {
            self.error = Some(e);
        }
    }

    /// Add sections.
    pub fn extend(&mut self, sections: impl IntoIterator<Item = StateSection>) {
        for s in sections {
            self.push(s);
        }
    }

    /// The first write failure, if any.
    pub fn finish(self) -> Result<()> {
        self.error.map_or(Ok(()), Err)
    }
}

/// Serialization deferred to the checkpoint writer thread.
pub type Materializer = Box<dyn FnOnce(&mut SectionSink<'_>) -> Result<()> + Send>;

/// The snapshot of one operator subtask: sections taken at the barrier plus deferred work
/// that produces more sections off the task thread.
#[derive(Default)]
pub struct StateSnapshot {
    sections: Vec<StateSection>,
    deferred: Vec<Materializer>,
    /// An incremental snapshot names the checkpoint its deltas build on.
    pub based_on: Option<CheckpointId>,
}

impl std::fmt::Debug for StateSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSnapshot")
            .field("sections", &self.sections.len())
            .field("deferred", &self.deferred.len())
            .field("based_on", &self.based_on)
            .finish()
    }
}

impl StateSnapshot {
    /// An empty snapshot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a finished section.
    pub fn add(&mut self, section: StateSection) {
        self.sections.push(section);
    }

    /// Add sections.
    pub fn extend(&mut self, sections: impl IntoIterator<Item = StateSection>) {
        self.sections.extend(sections);
    }

    /// Run `f` on the checkpoint writer thread to produce more sections. `f` must own a
    /// copy (or a versioned view) of the state taken now: the operator goes on changing
    /// its state as soon as this call returns.
    pub fn defer(&mut self, f: impl FnOnce(&mut SectionSink<'_>) -> Result<()> + Send + 'static) {
        self.deferred.push(Box::new(f));
    }

    /// Add an operator list state, encoding each element now.
    pub fn list<V: Serialize>(
        &mut self,
        state: &str,
        mode: Redistribution,
        elements: &[V],
    ) -> Result<()> {
        let elements = elements
            .iter()
            .map(|e| encode(e).map_err(|m| state_error("", state, m)))
            .collect::<Result<Vec<_>>>()?;
        self.sections.push(StateSection::List {
            state: state.to_string(),
            mode,
            elements,
        });
        Ok(())
    }

    /// Add keyed entries of state `state`, cut by key group, encoding them on the writer
    /// thread (the entries are moved into the deferred work: pass a copy).
    pub fn keyed_deferred<K: Key, V: Serialize + Send + 'static>(
        &mut self,
        state: &str,
        max_parallelism: usize,
        entries: Vec<(K, V)>,
    ) {
        let state = state.to_string();
        self.defer(move |out| {
            out.extend(keyed_sections(
                &state,
                max_parallelism,
                entries.iter().map(|(k, v)| (k, v)),
            )?);
            Ok(())
        });
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.sections.is_empty() && self.deferred.is_empty()
    }

    /// Merge another snapshot (of another part of the same operator) into this one.
    pub fn merge(&mut self, other: StateSnapshot) {
        self.sections.extend(other.sections);
        self.deferred.extend(other.deferred);
        self.based_on = self.based_on.or(other.based_on);
    }

    /// Run the deferred work and return every section (tests and harnesses; the
    /// checkpoint writer streams them with [`materialize_into`](Self::materialize_into)).
    pub fn materialize(self) -> Result<Vec<StateSection>> {
        let mut sections = Vec::new();
        self.materialize_into(&mut |s| {
            sections.push(s);
            Ok(())
        })?;
        Ok(sections)
    }

    /// Hand every section to `write` as it is produced: the sections taken at the barrier
    /// first, then those of each deferred work in turn.
    pub fn materialize_into(self, write: &mut dyn FnMut(StateSection) -> Result<()>) -> Result<()> {
        for s in self.sections {
            write(s)?;
        }
        for f in self.deferred {
            let mut sink = SectionSink::new(write);
            f(&mut sink)?;
            sink.finish()?;
        }
        Ok(())
    }
}

/// Encode a state value (MessagePack, struct fields by name).
pub fn encode<T: Serialize + ?Sized>(value: &T) -> std::result::Result<Vec<u8>, String> {
    rmp_serde::to_vec_named(value).map_err(|e| e.to_string())
}

/// [`encode`] into a buffer of `capacity` bytes to start with.
pub fn encode_sized<T: Serialize + ?Sized>(
    value: &T,
    capacity: usize,
) -> std::result::Result<Vec<u8>, String> {
    let mut buf = Vec::with_capacity(capacity);
    rmp_serde::encode::write_named(&mut buf, value).map_err(|e| e.to_string())?;
    Ok(buf)
}

/// Decode a state value written by [`encode`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> std::result::Result<T, String> {
    rmp_serde::from_slice(bytes).map_err(|e| e.to_string())
}

/// The error for state `state` of `operator` that could not be written or read.
pub fn state_error(operator: &str, state: &str, message: impl Into<String>) -> StromError {
    StromError::State {
        operator: operator.to_string(),
        state: state.to_string(),
        message: message.into(),
    }
}

/// Cut `(key, value)` entries of one state into one [`StateSection::Keyed`] per key group
/// (each the encoding of a `Vec<(K, V)>`); read them back with
/// [`RestoredState::keyed_entries`].
pub fn keyed_sections<'a, K: Key + 'a, V: Serialize + 'a>(
    state: &str,
    max_parallelism: usize,
    entries: impl IntoIterator<Item = (&'a K, &'a V)>,
) -> Result<Vec<StateSection>> {
    let mut groups: Vec<Vec<(&K, &V)>> = Vec::new();
    groups.resize_with(max_parallelism.max(1), Vec::new);
    for (k, v) in entries {
        let kg = usize::from(key_group_for_hash(k.key_hash(), max_parallelism));
        if let Some(g) = groups.get_mut(kg) {
            g.push((k, v));
        }
    }
    groups
        .into_iter()
        .enumerate()
        .filter(|(_, entries)| !entries.is_empty())
        .map(|(key_group, entries)| {
            Ok(StateSection::Keyed {
                state: state.to_string(),
                key_group: key_group as u32,
                delta: false,
                data: encode_sized(&entries, entries.len() * 24)
                    .map_err(|m| state_error("", state, m))?,
            })
        })
        .collect()
}

/// One keyed section as handed back on restore.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyedBlob {
    /// The key group.
    pub key_group: u32,
    /// Whether it holds changes on top of the blobs before it.
    pub delta: bool,
    /// The encoded contents.
    pub data: Vec<u8>,
}

/// The state one operator subtask restores from: the keyed sections of the key groups it
/// owns (in checkpoint order: complete contents first, then deltas) and its share of every
/// operator list state.
#[derive(Clone, Debug, Default)]
pub struct RestoredState {
    operator: String,
    keyed: BTreeMap<String, Vec<KeyedBlob>>,
    lists: BTreeMap<String, (Redistribution, Vec<Vec<u8>>)>,
}

impl RestoredState {
    /// Empty restored state of `operator` (named in errors).
    pub fn new(operator: impl Into<String>) -> Self {
        RestoredState {
            operator: operator.into(),
            ..Default::default()
        }
    }

    /// The operator this state belongs to.
    pub fn operator(&self) -> &str {
        &self.operator
    }

    /// Add a keyed blob (runtime use).
    pub fn push_keyed(&mut self, state: &str, blob: KeyedBlob) {
        self.keyed.entry(state.to_string()).or_default().push(blob);
    }

    /// Set this subtask's elements of a list state (runtime use).
    pub fn set_list(&mut self, state: &str, mode: Redistribution, elements: Vec<Vec<u8>>) {
        self.lists.insert(state.to_string(), (mode, elements));
    }

    /// Whether there is no state at all.
    pub fn is_empty(&self) -> bool {
        self.keyed.is_empty() && self.lists.is_empty()
    }

    /// The names of the keyed states present.
    pub fn keyed_states(&self) -> impl Iterator<Item = &str> {
        self.keyed.keys().map(String::as_str)
    }

    /// The names of the list states present.
    pub fn list_states(&self) -> impl Iterator<Item = &str> {
        self.lists.keys().map(String::as_str)
    }

    /// The raw keyed blobs of `state` (empty when absent).
    pub fn keyed_blobs(&self, state: &str) -> &[KeyedBlob] {
        self.keyed.get(state).map_or(&[], Vec::as_slice)
    }

    /// Decode the entries of `state` written by [`keyed_sections`] (complete sections
    /// only). An entry that does not decode fails with an error naming the operator and
    /// the state.
    pub fn keyed_entries<K: DeserializeOwned, V: DeserializeOwned>(
        &self,
        state: &str,
    ) -> Result<Vec<(K, V)>> {
        let mut out = Vec::new();
        for blob in self.keyed_blobs(state) {
            let mut part: Vec<(K, V)> = decode(&blob.data).map_err(|m| {
                state_error(
                    &self.operator,
                    state,
                    format!("cannot read it from the checkpoint (incompatible type change?): {m}"),
                )
            })?;
            out.append(&mut part);
        }
        Ok(out)
    }

    /// Decode this subtask's elements of list state `state` (empty when absent).
    pub fn list<V: DeserializeOwned>(&self, state: &str) -> Result<Vec<V>> {
        self.lists
            .get(state)
            .map(|(_, els)| {
                els.iter()
                    .map(|e| {
                        decode(e).map_err(|m| {
                            state_error(
                                &self.operator,
                                state,
                                format!(
                                    "cannot read it from the checkpoint (incompatible type change?): {m}"
                                ),
                            )
                        })
                    })
                    .collect()
            })
            .unwrap_or_else(|| Ok(Vec::new()))
    }

    /// The redistribution mode and raw elements of list state `state`.
    pub fn list_raw(&self, state: &str) -> Option<(Redistribution, &[Vec<u8>])> {
        self.lists.get(state).map(|(m, e)| (*m, e.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct V1 {
        count: u64,
    }
    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct V2 {
        count: u64,
        #[serde(default)]
        sum: f64,
    }
    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct V3 {
        count: String,
    }

    fn restore(sections: Vec<StateSection>) -> RestoredState {
        let mut r = RestoredState::new("counter");
        for s in sections {
            if let StateSection::Keyed {
                state,
                key_group,
                delta,
                data,
            } = s
            {
                r.push_keyed(
                    &state,
                    KeyedBlob {
                        key_group,
                        delta,
                        data,
                    },
                );
            }
        }
        r
    }

    #[test]
    fn keyed_entries_round_trip_by_key_group() {
        let entries: Vec<(String, V1)> = (0..50)
            .map(|i| (format!("k{i}"), V1 { count: i }))
            .collect();
        let mut snap = StateSnapshot::new();
        snap.keyed_deferred("counts", 128, entries);
        let sections = snap.materialize().unwrap();
        assert!(sections.len() > 10, "cut into key groups");
        for s in &sections {
            let StateSection::Keyed {
                key_group, data, ..
            } = s
            else {
                panic!()
            };
            let part: Vec<(String, V1)> = decode(data).unwrap();
            for (k, _) in part {
                assert_eq!(u32::from(key_group_for_hash(k.key_hash(), 128)), *key_group);
            }
        }
        let mut back: Vec<(String, V1)> = restore(sections).keyed_entries("counts").unwrap();
        back.sort_by_key(|(_, v)| v.count);
        assert_eq!(back.len(), 50);
        assert_eq!(back[7], ("k7".to_string(), V1 { count: 7 }));
    }

    #[test]
    fn added_field_with_default_reads_old_state_and_type_change_fails() {
        let old = [("a".to_string(), V1 { count: 3 })];
        let sections = keyed_sections("counts", 128, old.iter().map(|(k, v)| (k, v))).unwrap();
        let r = restore(sections);
        let v2: Vec<(String, V2)> = r.keyed_entries("counts").unwrap();
        assert_eq!(v2, vec![("a".to_string(), V2 { count: 3, sum: 0.0 })]);
        let err = r
            .keyed_entries::<String, V3>("counts")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("state 'counts' of operator 'counter'"),
            "{err}"
        );
    }

    #[test]
    fn list_state_round_trip() {
        let mut snap = StateSnapshot::new();
        snap.list("offsets", Redistribution::EvenSplit, &[1u64, 2, 3])
            .unwrap();
        let sections = snap.materialize().unwrap();
        let StateSection::List { elements, .. } = &sections[0] else {
            panic!()
        };
        let mut r = RestoredState::new("src");
        r.set_list("offsets", Redistribution::EvenSplit, elements.clone());
        assert_eq!(r.list::<u64>("offsets").unwrap(), vec![1, 2, 3]);
        assert!(r.list::<u64>("absent").unwrap().is_empty());
    }
}
