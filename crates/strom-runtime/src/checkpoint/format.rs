//! The on-storage format of checkpoints: state files and the `_metadata` that lists them.
//!
//! A **state file** holds the sections of one operator subtask's snapshot:
//! `STROMSTATE1\n`, the MessagePack encoding of the sections, and a CRC-32 of everything
//! before it (little endian). A **metadata** object is one line with the CRC-32 (hex) of
//! the JSON that follows it. Both checksums are verified on restore, so a truncated or
//! corrupted checkpoint is detected and never half-restored.

use crate::checkpoint::storage::CheckpointStorage;
use serde::{Deserialize, Serialize};
use strom_core::checkpoint::{CheckpointId, CheckpointKind, StateSection};
use strom_core::{Result, StromError};

/// Name of the object that completes a checkpoint.
pub const METADATA: &str = "_metadata";
const MAGIC: &[u8] = b"STROMSTATE1\n";
/// Version of the metadata layout.
pub const FORMAT_VERSION: u32 = 1;

/// One state file of an operator subtask.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateFileRef {
    /// Path relative to the storage root (see [`CheckpointMetadata::base`]).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// CRC-32 of the whole file.
    pub crc32: u32,
}

/// The state of one subtask: its files, oldest first (a complete snapshot followed by
/// incremental ones building on it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtaskState {
    /// The subtask index.
    pub subtask: usize,
    /// The chain of files.
    pub files: Vec<StateFileRef>,
}

/// The state of one operator in a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorState {
    /// The operator's uid (state is matched to operators by it).
    pub uid: String,
    /// The operator's name when the checkpoint was taken.
    pub name: String,
    /// Its parallelism then.
    pub parallelism: usize,
    /// Its number of key groups.
    pub max_parallelism: usize,
    /// Subtasks that have state.
    pub subtasks: Vec<SubtaskState>,
}

/// Figures of one operator in one checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OperatorCheckpointStats {
    /// Operator uid.
    pub uid: String,
    /// Operator name.
    pub name: String,
    /// Bytes of state (all subtasks, whole chains).
    pub state_bytes: u64,
    /// Bytes written for this checkpoint (new files only).
    pub written_bytes: u64,
    /// Longest synchronous snapshot part of a subtask, ms.
    pub sync_ms: f64,
    /// Longest asynchronous part (encoding and writing) of a subtask, ms.
    pub async_ms: f64,
    /// Longest barrier alignment of a subtask of its task, ms.
    pub alignment_ms: f64,
}

/// Figures of one checkpoint (in the logs, the job result and the metadata).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckpointStats {
    /// The checkpoint.
    pub id: CheckpointId,
    /// From trigger to completion, ms.
    pub duration_ms: f64,
    /// Bytes of state the checkpoint refers to.
    pub state_bytes: u64,
    /// Bytes written for it (less than `state_bytes` when incremental).
    pub written_bytes: u64,
    /// Longest alignment of any task, ms.
    pub alignment_ms: f64,
    /// Per operator.
    pub operators: Vec<OperatorCheckpointStats>,
}

/// The `_metadata` of a checkpoint or savepoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMetadata {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The job's name.
    pub job_name: String,
    /// The checkpoint's id.
    pub checkpoint_id: CheckpointId,
    /// Checkpoint or savepoint.
    pub kind: CheckpointKind,
    /// Trigger time, ms since the epoch.
    pub timestamp_ms: i64,
    /// The directory (relative to the storage root) the metadata was written to; file
    /// paths below it are resolved relative to wherever the metadata is found, so a
    /// savepoint can be moved.
    pub base: String,
    /// Every operator's state.
    pub operators: Vec<OperatorState>,
    /// Figures.
    pub stats: CheckpointStats,
}

/// Writes a state file section by section: the magic, each section's MessagePack
/// encoding, and the CRC-32 of everything before it. Memory stays at one section.
pub struct StateFileWriter<W: std::io::Write> {
    out: W,
    crc: crc32fast::Hasher,
    size: u64,
}

impl<W: std::io::Write> StateFileWriter<W> {
    /// Start a state file on `out`.
    pub fn new(out: W) -> Result<Self> {
        let mut w = StateFileWriter {
            out,
            crc: crc32fast::Hasher::new(),
            size: 0,
        };
        w.write(MAGIC)?;
        Ok(w)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .map_err(|e| StromError::Checkpoint(format!("cannot write state: {e}")))?;
        self.crc.update(bytes);
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Append a section.
    pub fn section(&mut self, section: &StateSection) -> Result<()> {
        let bytes = rmp_serde::to_vec_named(section)
            .map_err(|e| StromError::Checkpoint(format!("cannot encode state: {e}")))?;
        self.write(&bytes)
    }

    /// Write the checksum; returns the file's size and its whole-file CRC-32.
    pub fn finish(mut self) -> Result<(u64, u32)> {
        let body_crc = self.crc.clone().finalize();
        self.write(&body_crc.to_le_bytes())?;
        Ok((self.size, self.crc.finalize()))
    }
}

/// Encode a state file in memory.
pub fn encode_state_file(sections: &[StateSection]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut w = StateFileWriter::new(&mut out)?;
    for s in sections {
        w.section(s)?;
    }
    w.finish()?;
    Ok(out)
}

/// Decode a state file, verifying its checksum; `what` names it in errors.
pub fn decode_state_file(bytes: &[u8], what: &str) -> Result<Vec<StateSection>> {
    let corrupt = |why: &str| StromError::Checkpoint(format!("state file {what} is {why}"));
    if bytes.len() < MAGIC.len() + 4 || !bytes.starts_with(MAGIC) {
        return Err(corrupt("truncated or not a Strom state file"));
    }
    let (data, crc) = bytes.split_at(bytes.len() - 4);
    let expected = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(data) != expected {
        return Err(corrupt("corrupt (checksum mismatch)"));
    }
    let mut cursor = std::io::Cursor::new(&data[MAGIC.len()..]);
    let end = (data.len() - MAGIC.len()) as u64;
    let mut sections = Vec::new();
    while cursor.position() < end {
        let mut de = rmp_serde::Deserializer::new(&mut cursor);
        let s: StateSection = serde::Deserialize::deserialize(&mut de)
            .map_err(|e| corrupt(&format!("unreadable ({e})")))?;
        sections.push(s);
    }
    Ok(sections)
}

/// Encode `_metadata`.
pub fn encode_metadata(m: &CheckpointMetadata) -> Result<Vec<u8>> {
    let json = serde_json::to_vec_pretty(m)
        .map_err(|e| StromError::Checkpoint(format!("cannot encode metadata: {e}")))?;
    let mut out = format!("{:08x}\n", crc32fast::hash(&json)).into_bytes();
    out.extend_from_slice(&json);
    Ok(out)
}

/// Decode `_metadata`, verifying its checksum; `what` names it in errors.
pub fn decode_metadata(bytes: &[u8], what: &str) -> Result<CheckpointMetadata> {
    let corrupt = |why: String| StromError::Checkpoint(format!("metadata {what} is {why}"));
    let nl = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| corrupt("truncated".into()))?;
    let crc = std::str::from_utf8(&bytes[..nl])
        .ok()
        .and_then(|s| u32::from_str_radix(s, 16).ok())
        .ok_or_else(|| corrupt("not a Strom checkpoint metadata file".into()))?;
    let json = &bytes[nl + 1..];
    if crc32fast::hash(json) != crc {
        return Err(corrupt("corrupt (checksum mismatch)".into()));
    }
    let m: CheckpointMetadata =
        serde_json::from_slice(json).map_err(|e| corrupt(format!("unreadable ({e})")))?;
    if m.format_version != FORMAT_VERSION {
        return Err(corrupt(format!(
            "of format version {}, this Strom reads {FORMAT_VERSION}",
            m.format_version
        )));
    }
    Ok(m)
}

/// A checkpoint or savepoint found in a storage: where its metadata lies (`prefix`, the
/// directory relative to the storage root) and the metadata.
#[derive(Clone, Debug)]
pub struct FoundCheckpoint {
    /// Directory of the metadata relative to the storage root (`chk-7`, or `` for a
    /// savepoint storage rooted at the savepoint itself).
    pub prefix: String,
    /// The metadata.
    pub metadata: CheckpointMetadata,
}

impl FoundCheckpoint {
    /// Resolve a file path of the metadata against where it was found.
    pub fn resolve(&self, path: &str) -> Result<String> {
        let base = &self.metadata.base;
        let join = |a: &str, b: &str| {
            if a.is_empty() {
                b.trim_start_matches('/').to_string()
            } else {
                format!("{a}/{}", b.trim_start_matches('/'))
            }
        };
        if let Some(rest) = path.strip_prefix(base.as_str())
            && (rest.starts_with('/') || base.is_empty())
        {
            return Ok(join(&self.prefix, rest));
        }
        if let Some(root) = self.prefix.strip_suffix(base.as_str()) {
            return Ok(join(root.trim_end_matches('/'), path));
        }
        Err(StromError::Checkpoint(format!(
            "checkpoint {} refers to '{path}' outside its location; restore it from its original directory",
            self.metadata.checkpoint_id
        )))
    }

    /// Read every file, verifying size and checksum (a checkpoint is only used whole).
    pub fn verify(&self, storage: &dyn CheckpointStorage) -> Result<()> {
        for op in &self.metadata.operators {
            for st in &op.subtasks {
                for f in &st.files {
                    let path = self.resolve(&f.path)?;
                    let bytes = storage.get(&path)?;
                    if bytes.len() as u64 != f.size || crc32fast::hash(&bytes) != f.crc32 {
                        return Err(StromError::Checkpoint(format!(
                            "state file {path} of checkpoint {} is truncated or corrupt",
                            self.metadata.checkpoint_id
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The id of a `chk-<id>` directory name.
pub fn checkpoint_dir_id(name: &str) -> Option<CheckpointId> {
    name.strip_prefix("chk-")?.parse().ok()
}

/// The directory of checkpoint `id`.
pub fn checkpoint_dir(id: CheckpointId) -> String {
    format!("chk-{id}")
}

/// Every checkpoint with metadata in `storage`, newest first, as `(id, metadata path)`.
pub fn list_checkpoints(storage: &dyn CheckpointStorage) -> Result<Vec<(CheckpointId, String)>> {
    let mut found: Vec<(CheckpointId, String)> = storage
        .list("")?
        .into_iter()
        .filter_map(|p| {
            let (dir, file) = p.rsplit_once('/')?;
            (file == METADATA && !dir.contains('/'))
                .then(|| checkpoint_dir_id(dir).map(|id| (id, dir.to_string())))
                .flatten()
        })
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    Ok(found)
}

/// Read and check the metadata under `prefix` (and, with `verify`, every file it lists).
pub fn load(
    storage: &dyn CheckpointStorage,
    prefix: &str,
    verify: bool,
) -> Result<FoundCheckpoint> {
    let path = if prefix.is_empty() {
        METADATA.to_string()
    } else {
        format!("{prefix}/{METADATA}")
    };
    let what = format!("{}/{path}", storage.describe());
    let metadata = decode_metadata(&storage.get(&path)?, &what)?;
    let found = FoundCheckpoint {
        prefix: prefix.to_string(),
        metadata,
    };
    if verify {
        found.verify(storage)?;
    }
    Ok(found)
}

/// The newest checkpoint in `storage` that is complete and intact, skipping (and logging)
/// damaged ones. `Ok(None)` when there is no checkpoint at all; an error when every one
/// found is damaged, listing why.
pub fn latest_valid(storage: &dyn CheckpointStorage) -> Result<Option<FoundCheckpoint>> {
    use crate::checkpoint::protocol::{RestoreDecision, RestoreSelector};
    let all = list_checkpoints(storage)?;
    let mut selector = RestoreSelector::new(all.iter().map(|(id, _)| *id).collect());
    let mut found = None;
    let mut decision = selector.next();
    loop {
        decision = match decision {
            RestoreDecision::Verify(id) => {
                let prefix = all
                    .iter()
                    .find(|(i, _)| *i == id)
                    .map_or_else(|| checkpoint_dir(id), |(_, p)| p.clone());
                match load(storage, &prefix, true) {
                    Ok(f) => {
                        found = Some(f);
                        selector.verified(id, Ok(()))
                    }
                    Err(e) => {
                        tracing::warn!(checkpoint = id, error = %e, "checkpoint is damaged; skipping it");
                        selector.verified(id, Err(e.to_string()))
                    }
                }
            }
            RestoreDecision::Restore(id) => {
                if !selector.skipped().is_empty() {
                    tracing::warn!(
                        checkpoint = id,
                        skipped = %selector.skipped().join("; "),
                        "falling back to an older checkpoint"
                    );
                }
                return Ok(found);
            }
            RestoreDecision::Nothing => return Ok(None),
            RestoreDecision::AllDamaged(problems) => {
                return Err(StromError::Checkpoint(format!(
                    "no intact checkpoint in {}: {}",
                    storage.describe(),
                    problems.join("; ")
                )));
            }
        };
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::checkpoint::storage::LocalStorage;
    use strom_core::operator_state::Redistribution;

    fn meta(id: u64, base: &str, files: Vec<StateFileRef>) -> CheckpointMetadata {
        CheckpointMetadata {
            format_version: FORMAT_VERSION,
            job_name: "j".into(),
            checkpoint_id: id,
            kind: CheckpointKind::Checkpoint,
            timestamp_ms: 0,
            base: base.into(),
            operators: vec![OperatorState {
                uid: "op".into(),
                name: "op".into(),
                parallelism: 1,
                max_parallelism: 128,
                subtasks: vec![SubtaskState { subtask: 0, files }],
            }],
            stats: CheckpointStats::default(),
        }
    }

    fn write(s: &LocalStorage, id: u64) {
        let sections = vec![StateSection::List {
            state: "s".into(),
            mode: Redistribution::EvenSplit,
            elements: vec![vec![id as u8]],
        }];
        let bytes = encode_state_file(&sections).unwrap();
        let path = format!("chk-{id}/op-0.state");
        s.put(&path, &bytes).unwrap();
        let f = StateFileRef {
            path,
            size: bytes.len() as u64,
            crc32: crc32fast::hash(&bytes),
        };
        let m = meta(id, &format!("chk-{id}"), vec![f]);
        s.put(
            &format!("chk-{id}/_metadata"),
            &encode_metadata(&m).unwrap(),
        )
        .unwrap();
    }

    #[test]
    fn state_file_round_trip_and_corruption_detected() {
        let sections = vec![StateSection::Keyed {
            state: "x".into(),
            key_group: 3,
            delta: false,
            data: vec![1, 2, 3],
        }];
        let bytes = encode_state_file(&sections).unwrap();
        assert_eq!(decode_state_file(&bytes, "f").unwrap(), sections);
        let mut bad = bytes.clone();
        bad[MAGIC.len() + 2] ^= 1;
        assert!(
            decode_state_file(&bad, "f")
                .unwrap_err()
                .to_string()
                .contains("checksum")
        );
        assert!(decode_state_file(&bytes[..bytes.len() - 3], "f").is_err());
    }

    #[test]
    fn latest_valid_falls_back_past_damaged_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStorage::new(dir.path()).unwrap();
        assert!(latest_valid(&s).unwrap().is_none());
        for id in 1..=3 {
            write(&s, id);
        }
        assert_eq!(latest_valid(&s).unwrap().unwrap().metadata.checkpoint_id, 3);
        // Truncate chk-3's state file and corrupt chk-2's metadata.
        let p3 = dir.path().join("chk-3/op-0.state");
        let b = std::fs::read(&p3).unwrap();
        std::fs::write(&p3, &b[..b.len() - 2]).unwrap();
        let p2 = dir.path().join("chk-2/_metadata");
        let mut b = std::fs::read(&p2).unwrap();
        let n = b.len();
        b[n - 5] ^= 0x20;
        std::fs::write(&p2, &b).unwrap();
        assert_eq!(latest_valid(&s).unwrap().unwrap().metadata.checkpoint_id, 1);
        std::fs::write(dir.path().join("chk-1/op-0.state"), b"garbage").unwrap();
        let err = latest_valid(&s).unwrap_err().to_string();
        assert!(
            err.contains("no intact checkpoint") && err.contains("chk-1"),
            "{err}"
        );
    }

    #[test]
    fn paths_resolve_where_the_metadata_is_found() {
        let f = FoundCheckpoint {
            prefix: "chk-5".into(),
            metadata: meta(5, "chk-5", vec![]),
        };
        assert_eq!(f.resolve("chk-5/a.state").unwrap(), "chk-5/a.state");
        assert_eq!(f.resolve("chk-3/b.state").unwrap(), "chk-3/b.state");
        // A savepoint moved elsewhere: opened with its own directory as the root.
        let moved = FoundCheckpoint {
            prefix: String::new(),
            metadata: meta(9, "savepoints/savepoint-9", vec![]),
        };
        assert_eq!(
            moved.resolve("savepoints/savepoint-9/a.state").unwrap(),
            "a.state"
        );
        assert!(moved.resolve("chk-3/b.state").is_err());
    }
}
