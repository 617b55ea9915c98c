//! Checkpoint barriers, the in-band markers of Chandy-Lamport style snapshots.

use serde::{Deserialize, Serialize};

/// Identifies one checkpoint or savepoint of a job; increases by one per attempt.
pub type CheckpointId = u64;

/// What a barrier asks operators to take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CheckpointKind {
    /// A periodic checkpoint, owned and retired by the runtime.
    Checkpoint,
    /// A savepoint, owned by the user; `stop` asks the job to finish after it.
    Savepoint {
        /// Stop the job once the savepoint completes (Flink's stop-with-savepoint).
        stop: bool,
    },
}

/// A checkpoint barrier, injected by sources and flowing in-band with records.
///
/// An operator snapshots its state when it has received the barrier on every input
/// channel (aligned, exactly-once) and forwards it before any record that follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CheckpointBarrier {
    /// The checkpoint this barrier belongs to.
    pub id: CheckpointId,
    /// Wall-clock time (ms) at which the checkpoint was triggered.
    pub timestamp: i64,
    /// Checkpoint or savepoint.
    pub kind: CheckpointKind,
}
