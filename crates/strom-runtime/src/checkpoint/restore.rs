//! Restoring a job from a checkpoint or savepoint: which state each operator subtask gets.
//!
//! State is matched to operators by **uid**. Keyed state moves by key group: a subtask
//! receives every section of the key groups it owns at its (possibly new) parallelism,
//! from whichever old subtasks held them. Operator list state keeps its place when the
//! parallelism is unchanged and is redistributed (even split or union) when it changed.

use crate::checkpoint::format::{
    FoundCheckpoint, METADATA, OperatorState, checkpoint_dir_id, decode_state_file, latest_valid,
    load,
};
use crate::checkpoint::storage::{CheckpointStorage, LocalStorage};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use strom_core::checkpoint::{CheckpointId, KeyedBlob, RestoredState, StateSection};
use strom_core::operator_state::{Redistribution, redistribute};
use strom_core::{Result, StromError};
use strom_types::key_group::KeyGroupRange;

/// The encoded elements of one subtask's list state.
type EncodedList = Vec<Vec<u8>>;

/// A checkpoint chosen for restore, with the storage it lies in.
#[derive(Clone)]
pub struct RestorePoint {
    storage: Arc<dyn CheckpointStorage>,
    found: FoundCheckpoint,
}

/// An operator of the job being restored, as matched against the checkpoint.
#[derive(Clone, Debug)]
pub struct OperatorIdentity {
    /// The uid.
    pub uid: String,
    /// The name (for messages).
    pub name: String,
    /// Its number of key groups.
    pub max_parallelism: usize,
}

impl std::fmt::Debug for RestorePoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestorePoint")
            .field("location", &self.describe())
            .field("checkpoint_id", &self.checkpoint_id())
            .finish()
    }
}

impl RestorePoint {
    /// A checkpoint found in `storage`.
    pub fn new(storage: Arc<dyn CheckpointStorage>, found: FoundCheckpoint) -> Self {
        RestorePoint { storage, found }
    }

    /// The newest intact checkpoint in `storage` (`None` when it has none; an error when
    /// every one is damaged). Damaged newer ones are skipped with a warning.
    pub fn latest(storage: Arc<dyn CheckpointStorage>) -> Result<Option<Self>> {
        Ok(latest_valid(storage.as_ref())?.map(|found| RestorePoint { storage, found }))
    }

    /// The checkpoint or savepoint whose `_metadata` lies under `prefix` in `storage` (``
    /// for a storage rooted at a savepoint); every file is verified.
    pub fn at(storage: Arc<dyn CheckpointStorage>, prefix: &str) -> Result<Self> {
        let found = load(storage.as_ref(), prefix, true)?;
        Ok(RestorePoint { storage, found })
    }

    /// The checkpoint or savepoint at `path`: a checkpoint's directory (`…/chk-7`), a
    /// savepoint's directory, or a checkpoint directory root (its newest intact
    /// checkpoint). Every file is verified before it is used.
    pub fn from_path(path: &Path) -> Result<Self> {
        if path.join(METADATA).is_file() {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (root, prefix) = match (checkpoint_dir_id(&name), path.parent()) {
                (Some(_), Some(parent)) => (parent.to_path_buf(), name),
                _ => (path.to_path_buf(), String::new()),
            };
            let storage: Arc<dyn CheckpointStorage> = Arc::new(LocalStorage::new(root)?);
            let found = load(storage.as_ref(), &prefix, true)?;
            return Ok(RestorePoint { storage, found });
        }
        if !path.is_dir() {
            return Err(StromError::Checkpoint(format!(
                "{} is neither a checkpoint, a savepoint nor a checkpoint directory",
                path.display()
            )));
        }
        let storage: Arc<dyn CheckpointStorage> = Arc::new(LocalStorage::new(path)?);
        Self::latest(storage)?
            .ok_or_else(|| StromError::Checkpoint(format!("no checkpoint in {}", path.display())))
    }

    /// The checkpoint's id.
    pub fn checkpoint_id(&self) -> CheckpointId {
        self.found.metadata.checkpoint_id
    }

    /// Where it lies, for logs.
    pub fn describe(&self) -> String {
        let p = &self.found.prefix;
        if p.is_empty() {
            self.storage.describe()
        } else {
            format!("{}/{p}", self.storage.describe())
        }
    }

    /// The checkpoint's metadata.
    pub fn found(&self) -> &FoundCheckpoint {
        &self.found
    }

    /// Check that the job can take this checkpoint's state: every operator state has an
    /// operator with its uid (unless `allow_non_restored`), and key groups did not change.
    pub fn check_job(&self, job: &[OperatorIdentity], allow_non_restored: bool) -> Result<()> {
        for op in &self.found.metadata.operators {
            match job.iter().find(|j| j.uid == op.uid) {
                None if op.subtasks.is_empty() => {}
                None if allow_non_restored => tracing::warn!(
                    uid = %op.uid,
                    operator = %op.name,
                    "the checkpoint has state for an operator the job no longer has; skipping it"
                ),
                None => {
                    return Err(StromError::InvalidJob(format!(
                        "{} has state for operator uid '{}' (named '{}') that this job does not have; give the operator that uid again, or allow non-restored state to drop it",
                        self.describe(),
                        op.uid,
                        op.name
                    )));
                }
                Some(j) if j.max_parallelism != op.max_parallelism => {
                    return Err(StromError::InvalidJob(format!(
                        "operator '{}' (uid '{}') has max parallelism {} but its state in {} was written with {}; keyed state cannot move to another number of key groups, so set max_parallelism back to {}",
                        j.name,
                        op.uid,
                        j.max_parallelism,
                        self.describe(),
                        op.max_parallelism,
                        op.max_parallelism
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn operator(&self, uid: &str) -> Option<&OperatorState> {
        self.found.metadata.operators.iter().find(|o| o.uid == uid)
    }

    fn read(&self, path: &str) -> Result<Vec<StateSection>> {
        let resolved = self.found.resolve(path)?;
        let bytes = self.storage.get(&resolved)?;
        decode_state_file(&bytes, &format!("{}/{resolved}", self.storage.describe()))
    }

    /// The state of subtask `subtask` of operator `uid` running at `parallelism`, or
    /// `None` when the checkpoint has no state for it.
    pub fn state_for(
        &self,
        uid: &str,
        name: &str,
        subtask: usize,
        parallelism: usize,
    ) -> Result<Option<RestoredState>> {
        let Some(op) = self.operator(uid) else {
            return Ok(None);
        };
        if op.subtasks.is_empty() {
            return Ok(None);
        }
        let same = parallelism == op.parallelism;
        let range = KeyGroupRange::for_operator(op.max_parallelism, parallelism, subtask);
        let mut restored = RestoredState::new(name);
        // state name -> (mode, lists of every old subtask in subtask order)
        let mut lists: BTreeMap<String, (Redistribution, Vec<EncodedList>)> = BTreeMap::new();
        for (old_index, old) in op.subtasks.iter().enumerate() {
            let old_range =
                KeyGroupRange::for_operator(op.max_parallelism, op.parallelism, old.subtask);
            let overlaps = old_range.start <= range.end && range.start <= old_range.end;
            let wanted = if same { old.subtask == subtask } else { true };
            if !(wanted || overlaps) {
                continue;
            }
            let last = old.files.len().saturating_sub(1);
            for (i, file) in old.files.iter().enumerate() {
                for section in self.read(&file.path)? {
                    match section {
                        StateSection::Keyed {
                            state,
                            key_group,
                            delta,
                            data,
                        } => {
                            if u16::try_from(key_group).is_ok_and(|kg| range.contains(kg)) {
                                restored.push_keyed(
                                    &state,
                                    KeyedBlob {
                                        key_group,
                                        delta,
                                        data,
                                    },
                                );
                            }
                        }
                        StateSection::List {
                            state,
                            mode,
                            elements,
                        } if i == last && wanted => {
                            let entry = lists
                                .entry(state)
                                .or_insert_with(|| (mode, vec![Vec::new(); op.subtasks.len()]));
                            entry.1[old_index] = elements;
                        }
                        StateSection::List { .. } => {}
                    }
                }
            }
        }
        for (state, (mode, per_old)) in lists {
            let mine = if same {
                per_old.into_iter().flatten().collect()
            } else {
                redistribute(per_old, mode, parallelism)
                    .into_iter()
                    .nth(subtask)
                    .unwrap_or_default()
            };
            restored.set_list(&state, mode, mine);
        }
        Ok(Some(restored))
    }
}
