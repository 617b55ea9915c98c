//! Sinks, modelled on Flink's writer-based sinks: a [`Sink`] creates one [`SinkWriter`]
//! per parallel subtask.

use crate::checkpoint::{CheckpointId, RestoredState, SnapshotContext, StateSnapshot};
use crate::{BoxError, TaskInfo};
use strom_types::{Record, Timestamp};

/// What a writer is told about where it runs.
#[derive(Clone, Debug)]
pub struct SinkContext {
    /// The sink subtask.
    pub info: TaskInfo,
    /// Whether the job takes checkpoints: a two-phase-commit writer then makes output
    /// visible only when a checkpoint completes (otherwise at `flush`/`finish`).
    pub checkpointing: bool,
}

/// A destination for a stream's records.
///
/// Contract: `create_writer` is called once per subtask, on that subtask's thread.
pub trait Sink<T>: Send + Sync + 'static {
    /// The writer a subtask runs.
    type Writer: SinkWriter<T>;

    /// Create the writer for one subtask.
    fn create_writer(&self, ctx: &SinkContext) -> Result<Self::Writer, BoxError>;
}

/// Writes the records of one sink subtask.
///
/// Contract: `write` (or `write_batch`) receives records in the order they arrive;
/// `flush` is called at least once per buffer timeout while records flow, and
/// `finish` once at the end of a bounded input (after it, nothing more is written).
/// An `Err` fails the job, naming the sink and subtask.
pub trait SinkWriter<T>: Send {
    /// Write one record.
    fn write(&mut self, value: T, timestamp: Timestamp) -> Result<(), BoxError>;

    /// Write a batch, draining it. Override to write batches more efficiently.
    fn write_batch(&mut self, batch: &mut Vec<Record<T>>) -> Result<(), BoxError> {
        for r in batch.drain(..) {
            self.write(r.value, r.timestamp)?;
        }
        Ok(())
    }

    /// Push buffered output to its destination.
    fn flush(&mut self) -> Result<(), BoxError> {
        Ok(())
    }

    /// The input ended: flush and close. A two-phase-commit writer with checkpointing on
    /// only pre-commits here; the final checkpoint's completion commits.
    fn finish(&mut self) -> Result<(), BoxError> {
        self.flush()
    }

    /// Restore from a checkpoint (called right after `create_writer`, only on restore):
    /// a two-phase-commit writer commits the pre-committed output its state lists.
    fn initialize_state(&mut self, _state: &RestoredState) -> Result<(), BoxError> {
        Ok(())
    }

    /// Pre-commit at a checkpoint barrier: make everything written so far durable but not
    /// yet visible, and record in `out` what `notify_checkpoint_complete` must commit.
    fn snapshot_state(
        &mut self,
        _ctx: &SnapshotContext,
        _out: &mut StateSnapshot,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    /// Checkpoint `id` is complete: commit what was pre-committed up to it.
    fn notify_checkpoint_complete(&mut self, _id: CheckpointId) -> Result<(), BoxError> {
        Ok(())
    }
}

/// A `TaskInfo`-free closure sink: `FnMut(T)` called per record on each subtask.
impl<T, F> SinkWriter<T> for F
where
    F: FnMut(T) -> Result<(), BoxError> + Send,
{
    fn write(&mut self, value: T, _timestamp: Timestamp) -> Result<(), BoxError> {
        self(value)
    }
}

/// Forwarding helper so `Box<dyn SinkWriter<T>>` is a writer too.
impl<T> SinkWriter<T> for Box<dyn SinkWriter<T>> {
    fn write(&mut self, value: T, timestamp: Timestamp) -> Result<(), BoxError> {
        (**self).write(value, timestamp)
    }
    fn write_batch(&mut self, batch: &mut Vec<Record<T>>) -> Result<(), BoxError> {
        (**self).write_batch(batch)
    }
    fn flush(&mut self) -> Result<(), BoxError> {
        (**self).flush()
    }
    fn finish(&mut self) -> Result<(), BoxError> {
        (**self).finish()
    }
    fn initialize_state(&mut self, state: &RestoredState) -> Result<(), BoxError> {
        (**self).initialize_state(state)
    }
    fn snapshot_state(
        &mut self,
        ctx: &SnapshotContext,
        out: &mut StateSnapshot,
    ) -> Result<(), BoxError> {
        (**self).snapshot_state(ctx, out)
    }
    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<(), BoxError> {
        (**self).notify_checkpoint_complete(id)
    }
}
