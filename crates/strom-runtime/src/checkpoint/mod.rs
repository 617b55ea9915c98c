//! Exactly-once checkpoints (Flink's asynchronous barrier snapshots).
//!
//! - [`CheckpointConfig`]: interval, mode, timeout, pauses, retention, storage.
//! - [`protocol`]: the coordinator's decisions as a sans-IO state machine: trigger,
//!   collect acknowledgements, complete (metadata last), abort, time out, subsume old
//!   checkpoints, stop; and the choice of the checkpoint to restore.
//! - [`coordinator`]: the local driver of that machine: a thread with this process's
//!   clock, channels and storage; takes savepoints on request.
//! - [`snapshot_writer`]: the tasks' side of the asynchronous part: encodes and writes
//!   each operator subtask's state file off the task threads, then acknowledges with the
//!   files' locations and sizes.
//! - Alignment happens in the task input loop (`task.rs`): see `Alignment` there.
//! - [`mod@format`] and [`storage`]: what a checkpoint looks like and where it
//!   is written.
//! - [`restore`]: which state each operator subtask gets back, at any parallelism.
//! - [`restart`]: what the job does after a failure.

pub mod coordinator;
pub mod format;
pub mod messages;
pub mod protocol;
pub mod restart;
pub mod restore;
pub mod snapshot_writer;
pub mod storage;

pub use coordinator::SavepointHandle;
pub use format::{CheckpointMetadata, CheckpointStats, OperatorCheckpointStats};
pub use restart::RestartStrategy;
pub use restore::RestorePoint;
pub use storage::{CheckpointStorage, LocalStorage};

use std::sync::Arc;
use std::time::Duration;
use strom_core::Result;

/// The consistency checkpoints give (Flink's `CheckpointingMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointingMode {
    /// Barriers are aligned: state reflects every record exactly once.
    ExactlyOnce,
    /// Barriers are not aligned: after recovery some records may be counted twice, but
    /// no task waits for barriers.
    AtLeastOnce,
}

/// How a job takes checkpoints.
#[derive(Clone)]
pub struct CheckpointConfig {
    /// Time between checkpoint triggers.
    pub interval: Duration,
    /// Exactly-once (aligned) or at-least-once.
    pub mode: CheckpointingMode,
    /// A checkpoint not complete after this long is aborted.
    pub timeout: Duration,
    /// Least time between the end of one checkpoint and the start of the next.
    pub min_pause: Duration,
    /// Checkpoints in progress at once.
    pub max_concurrent: usize,
    /// Completed checkpoints kept (older ones are deleted once nothing refers to them).
    pub retained: usize,
    /// Where checkpoints (and savepoints, under `savepoints/`) are written.
    pub storage: Arc<dyn CheckpointStorage>,
    /// A complete (non-incremental) checkpoint is taken when the chain a restore would
    /// read (the last complete checkpoint and the increments on it) has grown to twice the
    /// complete one, and every this many checkpoints at the latest (default 100), so that
    /// a restore never reads a long chain of increments.
    pub full_every: u64,
}

impl CheckpointConfig {
    /// Checkpoints every `interval` into `storage`, exactly-once, with Flink's defaults
    /// otherwise (timeout 10 min, no pause, one at a time, one retained).
    pub fn new(interval: Duration, storage: Arc<dyn CheckpointStorage>) -> Self {
        CheckpointConfig {
            interval,
            mode: CheckpointingMode::ExactlyOnce,
            timeout: Duration::from_secs(600),
            min_pause: Duration::ZERO,
            max_concurrent: 1,
            retained: 1,
            storage,
            full_every: 100,
        }
    }

    /// Checkpoints into a local directory.
    pub fn local(interval: Duration, dir: impl Into<std::path::PathBuf>) -> Result<Self> {
        Ok(Self::new(interval, Arc::new(LocalStorage::new(dir)?)))
    }
}
