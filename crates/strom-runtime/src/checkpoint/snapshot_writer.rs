//! The task side of a checkpoint's asynchronous part (Flink's `AsyncCheckpointRunnable`):
//! one writer thread per process encodes the snapshots the tasks took at the barrier and
//! writes each operator subtask's state file to the checkpoint storage, then acknowledges
//! to the coordinator with the files' locations, sizes, checksums and timings. The
//! coordinator never sees state, so it can run in another process than the tasks.
//!
//! Messages from one task are handled in order, so a task's "finished" notice reaches the
//! coordinator after its last acknowledgement.

use crate::checkpoint::format::{StateFileRef, StateFileWriter};
use crate::checkpoint::messages::{CoordinatorMsg, OperatorAck, TaskId};
use crate::checkpoint::protocol::{AckedOperator, Acknowledgement, checkpoint_prefix};
use crate::checkpoint::storage::CheckpointStorage;
use crate::topology::sanitize_uid;
use crossbeam_channel::{Receiver, Sender};
use std::sync::Arc;
use std::time::Instant;
use strom_core::checkpoint::StateSnapshot;
use strom_core::{Result, StromError};
use strom_types::CheckpointBarrier;

/// What a task gives its process's snapshot writer.
pub enum WriterMsg {
    /// The snapshots a task's chain took for `barrier`.
    Snapshot {
        /// The task.
        task: TaskId,
        /// The checkpoint's barrier.
        barrier: CheckpointBarrier,
        /// Every operator's snapshot.
        operators: Vec<OperatorAck>,
        /// How long the task waited for barriers on all its inputs, ms.
        alignment_ms: f64,
    },
    /// The task's input ended.
    Finished {
        /// The task.
        task: TaskId,
    },
}

/// Start the writer thread: it writes into `storage`, naming files by the operators'
/// `uids` (indexed by node id), and sends acknowledgements to `coordinator`. It ends when
/// every sender of the returned channel is dropped.
pub fn start(
    storage: Arc<dyn CheckpointStorage>,
    uids: Vec<String>,
    coordinator: Sender<CoordinatorMsg>,
) -> Result<(Sender<WriterMsg>, std::thread::JoinHandle<()>)> {
    let (tx, rx) = crossbeam_channel::bounded::<WriterMsg>(1024);
    let file_names: Vec<String> = uids.iter().map(|u| sanitize_uid(u)).collect();
    let handle = std::thread::Builder::new()
        .name("chk-writer".into())
        .spawn(move || write_loop(storage.as_ref(), &file_names, &rx, &coordinator))
        .map_err(|e| StromError::Internal(format!("cannot start the snapshot writer: {e}")))?;
    Ok((tx, handle))
}

fn write_loop(
    storage: &dyn CheckpointStorage,
    file_names: &[String],
    inbox: &Receiver<WriterMsg>,
    coordinator: &Sender<CoordinatorMsg>,
) {
    for msg in inbox {
        let out = match msg {
            WriterMsg::Finished { task } => CoordinatorMsg::Finished { task },
            WriterMsg::Snapshot {
                task,
                barrier,
                operators,
                alignment_ms,
            } => match write_all(storage, file_names, &barrier, operators) {
                Ok(operators) => CoordinatorMsg::Ack(Acknowledgement {
                    task,
                    checkpoint: barrier.id,
                    operators,
                    alignment_ms,
                }),
                Err(e) => CoordinatorMsg::Decline {
                    task,
                    checkpoint: barrier.id,
                    reason: e.to_string(),
                },
            },
        };
        if coordinator.send(out).is_err() {
            return;
        }
    }
}

/// Write every non-empty snapshot of one task's chain.
fn write_all(
    storage: &dyn CheckpointStorage,
    file_names: &[String],
    barrier: &CheckpointBarrier,
    operators: Vec<OperatorAck>,
) -> Result<Vec<AckedOperator>> {
    let prefix = checkpoint_prefix(barrier);
    let mut acked = Vec::with_capacity(operators.len());
    for op in operators {
        let started = Instant::now();
        let based_on = op.snapshot.based_on;
        let file = if op.snapshot.is_empty() {
            None
        } else {
            let name = file_names.get(op.node).ok_or_else(|| {
                StromError::Internal(format!("snapshot of unknown operator {}", op.node))
            })?;
            let path = format!("{prefix}/{name}-{}.state", op.subtask);
            Some(write_file(storage, path, op.snapshot)?)
        };
        acked.push(AckedOperator {
            node: op.node,
            subtask: op.subtask,
            based_on: file.as_ref().and(based_on),
            file,
            sync_ms: op.sync_ms,
            async_ms: started.elapsed().as_secs_f64() * 1e3,
        });
    }
    Ok(acked)
}

/// Encode and write one snapshot. Sections are encoded as they are produced, so memory
/// stays at one section even for a complete snapshot of state larger than memory.
fn write_file(
    storage: &dyn CheckpointStorage,
    path: String,
    snapshot: StateSnapshot,
) -> Result<StateFileRef> {
    let mut snapshot = Some(snapshot);
    let mut written = (0u64, 0u32);
    storage.put_with(&path, &mut |out| {
        let mut file = StateFileWriter::new(out)?;
        if let Some(s) = snapshot.take() {
            s.materialize_into(&mut |section| file.section(&section))?;
        }
        written = file.finish()?;
        Ok(())
    })?;
    Ok(StateFileRef {
        path,
        size: written.0,
        crc32: written.1,
    })
}
