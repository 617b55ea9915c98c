//! What tasks and the checkpoint coordinator tell each other.
//!
//! The coordinator triggers checkpoints at the sources (and at tasks that already finished
//! their input) through each task's control channel; barriers then flow in-band. When a
//! task's chain has snapshotted, the task hands every operator's [`StateSnapshot`] to its
//! process's snapshot writer, which writes the state files and acknowledges to the
//! coordinator with their locations, sizes and timings only ([`CoordinatorMsg`]).
//! Completion, abortion and stop go back through the control channels.

use crate::checkpoint::protocol::{Acknowledgement, Event};
pub use crate::checkpoint::snapshot_writer::WriterMsg;
use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use strom_core::checkpoint::{CheckpointId, SnapshotContext, StateSnapshot};
use strom_types::CheckpointBarrier;

/// Index of a task (one subtask of one chain) in the running job.
pub type TaskId = usize;

/// A message from the coordinator to one task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskControl {
    /// Take a checkpoint now (sent to sources and to tasks whose input has ended).
    Trigger(CheckpointBarrier),
    /// Checkpoint `id` is complete (and every one before it).
    Complete(CheckpointId),
    /// Checkpoint `id` was abandoned: stop aligning for it.
    Abort(CheckpointId),
    /// Stop now, without ending the input (stop-with-savepoint, or the job is done).
    Stop,
}

/// One operator subtask's snapshot.
pub struct OperatorAck {
    /// The operator's node.
    pub node: usize,
    /// The subtask.
    pub subtask: usize,
    /// Its state.
    pub snapshot: StateSnapshot,
    /// Time the synchronous part took, ms.
    pub sync_ms: f64,
}

/// A message to the coordinator, from a task's snapshot writer.
#[derive(Clone, Debug, PartialEq)]
pub enum CoordinatorMsg {
    /// A task's chain snapshotted and wrote its state.
    Ack(Acknowledgement),
    /// A task could not write its state for a checkpoint.
    Decline {
        /// The task.
        task: TaskId,
        /// The checkpoint.
        checkpoint: CheckpointId,
        /// Why.
        reason: String,
    },
    /// The task's input ended; it now waits for the final checkpoint.
    Finished {
        /// The task.
        task: TaskId,
    },
}

impl From<CoordinatorMsg> for Event {
    fn from(m: CoordinatorMsg) -> Event {
        match m {
            CoordinatorMsg::Ack(a) => Event::Ack(a),
            CoordinatorMsg::Decline {
                task,
                checkpoint,
                reason,
            } => Event::Decline {
                task,
                checkpoint,
                reason,
            },
            CoordinatorMsg::Finished { task } => Event::TaskFinished { task },
        }
    }
}

/// A task's link to the checkpoint coordinator (shared by the operators of its chain).
#[derive(Clone)]
pub struct TaskCheckpointing {
    /// This task.
    pub task: TaskId,
    /// Messages from the coordinator.
    pub control: Receiver<TaskControl>,
    /// The snapshot writer of this process, which writes the task's state and then
    /// acknowledges to the coordinator.
    pub writer: Sender<WriterMsg>,
    /// Snapshots of the chain's operators for the barrier being handled.
    pub collected: Arc<Mutex<Vec<OperatorAck>>>,
    /// Last completed checkpoint (0: none), the base of incremental snapshots.
    pub incremental_base: Arc<AtomicU64>,
    /// Aligned (exactly-once) or unaligned-counting (at-least-once) barriers.
    pub exactly_once: bool,
}

impl TaskCheckpointing {
    /// The context an operator snapshots with for `barrier`.
    pub fn snapshot_context(
        &self,
        barrier: &CheckpointBarrier,
        max_parallelism: usize,
    ) -> SnapshotContext {
        let base = self.incremental_base.load(Ordering::Acquire);
        SnapshotContext {
            checkpoint_id: barrier.id,
            timestamp_ms: barrier.timestamp,
            kind: barrier.kind,
            incremental_base: (base > 0
                && matches!(barrier.kind, strom_types::CheckpointKind::Checkpoint))
            .then_some(base),
            max_parallelism,
        }
    }

    /// Record an operator's snapshot for the barrier being handled.
    pub fn collect(&self, ack: OperatorAck) {
        if let Ok(mut c) = self.collected.lock() {
            c.push(ack);
        }
    }

    /// Hand everything collected for `barrier` to the snapshot writer, which writes it
    /// and acknowledges; `alignment` is how long the task waited for the barrier on all
    /// its inputs.
    pub fn acknowledge(&self, barrier: &CheckpointBarrier, alignment: Option<Duration>) {
        let operators = self
            .collected
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default();
        let alignment_ms = alignment.map_or(0.0, |d| d.as_secs_f64() * 1e3);
        // The writer may be gone when the job is ending; nothing to do then.
        let _ = self.writer.send(WriterMsg::Snapshot {
            task: self.task,
            barrier: *barrier,
            operators,
            alignment_ms,
        });
    }

    /// Tell the coordinator (after any snapshot still being written) that this task's
    /// input ended.
    pub fn finished(&self) {
        let _ = self.writer.send(WriterMsg::Finished { task: self.task });
    }
}
