//! The checkpoint protocol as a sans-IO state machine (the decisions of Flink's
//! `CheckpointCoordinator`).
//!
//! [`CheckpointProtocol`] holds no thread, clock, channel or storage. Time and events come
//! in as inputs ([`Event`], each with the current time in milliseconds); what is to be
//! done goes out as [`Action`]s, which a driver carries out: the local driver is
//! [`super::coordinator::Coordinator`], a thread over crossbeam channels and a
//! [`super::CheckpointStorage`]; a cluster coordinator drives the same machine over RPCs.
//!
//! The machine decides when to trigger (interval, minimum pause, concurrency), collects
//! acknowledgements (subtasks write their own state and acknowledge with file locations,
//! sizes and timings only), asks for the metadata to be written once every subtask has
//! acknowledged, completes (tells every task, and only then may sinks commit), aborts (a
//! declined snapshot, a timeout, a failed metadata write), subsumes old checkpoints (the
//! retained ones, and directories no retained checkpoint's incremental chain refers to),
//! takes the final checkpoint once every task has finished, and stops the job after it or
//! after a stop-with-savepoint. [`RestoreSelector`] picks the checkpoint to restore from.

use crate::checkpoint::format::{
    CheckpointMetadata, CheckpointStats, FORMAT_VERSION, METADATA, OperatorCheckpointStats,
    OperatorState, StateFileRef, SubtaskState, checkpoint_dir,
};
use crate::checkpoint::messages::{TaskControl, TaskId};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use strom_core::checkpoint::CheckpointId;
use strom_types::{CheckpointBarrier, CheckpointKind};

/// Milliseconds on the driver's clock (monotonic, with the wall clock's epoch); barrier
/// timestamps are taken from it.
pub type Millis = i64;

/// The timing and retention settings the protocol follows, in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolConfig {
    /// Time between checkpoint triggers.
    pub interval_ms: i64,
    /// Least time from one completion to the next trigger.
    pub min_pause_ms: i64,
    /// A checkpoint not complete after this long is aborted (the final one excepted).
    pub timeout_ms: i64,
    /// Checkpoints (not savepoints) in progress at once.
    pub max_concurrent: usize,
    /// Completed checkpoints kept.
    pub retained: usize,
    /// Every this many checkpoints, a complete (non-incremental) one at the latest.
    pub full_every: u64,
}

impl ProtocolConfig {
    /// The settings of a [`super::CheckpointConfig`].
    pub fn of(cfg: &super::CheckpointConfig) -> Self {
        let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        ProtocolConfig {
            interval_ms: ms(cfg.interval),
            min_pause_ms: ms(cfg.min_pause),
            timeout_ms: ms(cfg.timeout),
            max_concurrent: cfg.max_concurrent.max(1),
            retained: cfg.retained.max(1),
            full_every: cfg.full_every.max(1),
        }
    }
}

/// What the protocol knows of an operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolOperator {
    /// Its uid.
    pub uid: String,
    /// Its name.
    pub name: String,
    /// Its parallelism.
    pub parallelism: usize,
    /// Its max parallelism.
    pub max_parallelism: usize,
}

impl From<&crate::topology::TopologyNode> for ProtocolOperator {
    fn from(n: &crate::topology::TopologyNode) -> Self {
        ProtocolOperator {
            uid: n.uid.clone(),
            name: n.name.clone(),
            parallelism: n.parallelism,
            max_parallelism: n.max_parallelism,
        }
    }
}

/// One operator subtask's part of an acknowledgement: where its state lies, not the state.
#[derive(Clone, Debug, PartialEq)]
pub struct AckedOperator {
    /// The operator.
    pub node: usize,
    /// The subtask.
    pub subtask: usize,
    /// The state file the subtask wrote; `None` when it had no state.
    pub file: Option<StateFileRef>,
    /// For an incremental file, the checkpoint whose files it builds on.
    pub based_on: Option<CheckpointId>,
    /// The synchronous part of the snapshot, ms.
    pub sync_ms: f64,
    /// Encoding and writing the file, ms.
    pub async_ms: f64,
}

/// A task's acknowledgement of a checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Acknowledgement {
    /// The task.
    pub task: TaskId,
    /// The checkpoint.
    pub checkpoint: CheckpointId,
    /// Every operator of its chain.
    pub operators: Vec<AckedOperator>,
    /// How long the task waited for barriers on all inputs, ms.
    pub alignment_ms: f64,
}

/// What happens to the protocol.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Time passed (the driver calls this at [`CheckpointProtocol::next_deadline`]).
    Tick,
    /// A savepoint is requested; `request` comes back in [`Action::SavepointDone`].
    TriggerSavepoint {
        /// The driver's id for the request.
        request: u64,
        /// Stop the job once it is complete.
        stop: bool,
    },
    /// A checkpoint is requested now, regardless of the interval.
    TriggerCheckpoint,
    /// A task acknowledged.
    Ack(Acknowledgement),
    /// A task could not snapshot or write its state.
    Decline {
        /// The task.
        task: TaskId,
        /// The checkpoint.
        checkpoint: CheckpointId,
        /// Why.
        reason: String,
    },
    /// A task's input ended; it waits for the final checkpoint.
    TaskFinished {
        /// The task.
        task: TaskId,
    },
    /// The driver wrote (or failed to write) the metadata of [`Action::WriteMetadata`].
    MetadataWritten {
        /// The checkpoint.
        checkpoint: CheckpointId,
        /// `Err` with the reason when it failed.
        result: Result<(), String>,
    },
    /// The driver could not delete a directory of [`Action::Delete`]; it is tried again
    /// at the next subsumption.
    DeleteFailed {
        /// The checkpoint whose directory it was.
        checkpoint: CheckpointId,
    },
}

/// What the driver is to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Send a control message to one task.
    Send {
        /// The task.
        task: TaskId,
        /// The message.
        msg: TaskControl,
    },
    /// Incremental snapshots from now on build on this checkpoint (0: complete snapshots).
    SetIncrementalBase(CheckpointId),
    /// Write `metadata` to `path`, then report [`Event::MetadataWritten`].
    WriteMetadata {
        /// The checkpoint.
        checkpoint: CheckpointId,
        /// Where, relative to the storage root.
        path: String,
        /// What.
        metadata: Box<CheckpointMetadata>,
    },
    /// Delete everything under `prefix`.
    Delete {
        /// The checkpoint whose files they are.
        checkpoint: CheckpointId,
        /// The directory or file, relative to the storage root.
        prefix: String,
    },
    /// A checkpoint or savepoint completed (its metadata is durable).
    Completed {
        /// Its figures.
        stats: CheckpointStats,
        /// Checkpoint or savepoint.
        kind: CheckpointKind,
        /// Its directory.
        prefix: String,
    },
    /// A checkpoint was abandoned.
    Aborted {
        /// The checkpoint.
        checkpoint: CheckpointId,
        /// Why.
        reason: String,
    },
    /// The answer to [`Event::TriggerSavepoint`]: the savepoint's directory, or why not.
    SavepointDone {
        /// The request.
        request: u64,
        /// Its directory, or the reason it failed.
        result: Result<String, String>,
    },
    /// The job stopped with the savepoint in this directory.
    StoppedWithSavepoint {
        /// The savepoint's directory.
        prefix: String,
    },
}

#[derive(Clone, Debug)]
enum Phase {
    /// Waiting for acknowledgements.
    Collecting,
    /// Every task acknowledged; the metadata is being written.
    WritingMetadata(Box<CheckpointMetadata>),
}

#[derive(Clone, Debug)]
struct Pending {
    barrier: CheckpointBarrier,
    started: Millis,
    prefix: String,
    phase: Phase,
    awaiting: BTreeSet<TaskId>,
    files: HashMap<(usize, usize), Vec<StateFileRef>>,
    ops: BTreeMap<usize, OperatorCheckpointStats>,
    alignment_ms: f64,
    written: u64,
    failure: Option<String>,
    request: Option<u64>,
}

/// The checkpoint coordinator's decisions, without I/O.
#[derive(Debug)]
pub struct CheckpointProtocol {
    cfg: ProtocolConfig,
    job_name: String,
    operators: Vec<ProtocolOperator>,
    sources: Vec<bool>,
    next_id: CheckpointId,
    pending: BTreeMap<CheckpointId, Pending>,
    retained: Vec<CheckpointMetadata>,
    retired: BTreeSet<CheckpointId>,
    finished: HashSet<TaskId>,
    final_checkpoint: Option<CheckpointId>,
    stopping: bool,
    last_trigger: Millis,
    last_completion: Option<Millis>,
    since_full: u64,
    /// Bytes of the last complete checkpoint (0: none yet).
    full_bytes: u64,
    /// Bytes a restore of the last completed checkpoint reads (its whole chain).
    chain_bytes: u64,
    completed_here: Option<CheckpointId>,
    out: Vec<Action>,
}

/// What the storage held when the job started, read by the driver.
#[derive(Clone, Debug, Default)]
pub struct ExistingCheckpoints {
    /// Complete checkpoints, with their metadata.
    pub complete: Vec<CheckpointMetadata>,
    /// Ids of checkpoint directories without (readable) metadata: aborted or interrupted.
    pub incomplete: Vec<CheckpointId>,
}

impl CheckpointProtocol {
    /// A protocol for a job whose tasks are `sources.len()` (true where the task runs a
    /// source), starting at `now`. Ids continue after `restored_id` and after every
    /// checkpoint in `existing`; incomplete directories are deleted at the first
    /// subsumption.
    pub fn new(
        cfg: ProtocolConfig,
        job_name: String,
        operators: Vec<ProtocolOperator>,
        sources: Vec<bool>,
        existing: ExistingCheckpoints,
        restored_id: CheckpointId,
        now: Millis,
    ) -> Self {
        let mut retained = existing.complete;
        retained.sort_by_key(|m| m.checkpoint_id);
        let max_id = retained
            .iter()
            .map(|m| m.checkpoint_id)
            .chain(existing.incomplete.iter().copied())
            .fold(restored_id, CheckpointId::max);
        let retired: BTreeSet<CheckpointId> = existing
            .incomplete
            .into_iter()
            .filter(|id| !retained.iter().any(|m| m.checkpoint_id == *id))
            .collect();
        CheckpointProtocol {
            cfg,
            job_name,
            operators,
            sources,
            next_id: max_id + 1,
            pending: BTreeMap::new(),
            retained,
            retired,
            finished: HashSet::new(),
            final_checkpoint: None,
            stopping: false,
            last_trigger: now,
            last_completion: None,
            since_full: 0,
            full_bytes: 0,
            chain_bytes: 0,
            completed_here: None,
            out: Vec::new(),
        }
    }

    /// Handle `event` at time `now`; returns what to do, in order.
    pub fn handle(&mut self, now: Millis, event: Event) -> Vec<Action> {
        match event {
            Event::Tick => {}
            Event::TriggerSavepoint { request, stop } => {
                if self.stopping {
                    self.out.push(Action::SavepointDone {
                        request,
                        result: Err("the job is stopping".into()),
                    });
                } else {
                    self.trigger(now, CheckpointKind::Savepoint { stop }, Some(request));
                }
            }
            Event::TriggerCheckpoint => {
                if !self.stopping && self.final_checkpoint.is_none() {
                    self.trigger(now, CheckpointKind::Checkpoint, None);
                }
            }
            Event::Ack(ack) => self.on_ack(now, ack),
            Event::Decline {
                task,
                checkpoint,
                reason,
            } => {
                if self
                    .pending
                    .get(&checkpoint)
                    .is_some_and(|p| p.awaiting.contains(&task))
                {
                    self.abort(now, checkpoint, format!("task {task} declined: {reason}"));
                }
            }
            Event::TaskFinished { task } => self.on_finished(now, task),
            Event::MetadataWritten { checkpoint, result } => match result {
                Ok(()) => self.complete(now, checkpoint),
                Err(e) => self.abort(now, checkpoint, format!("cannot write metadata: {e}")),
            },
            Event::DeleteFailed { checkpoint } => {
                self.retired.insert(checkpoint);
            }
        }
        self.check_timeouts(now);
        if self.final_checkpoint.is_none() && !self.stopping {
            self.maybe_trigger(now);
        }
        std::mem::take(&mut self.out)
    }

    /// When the driver should next call [`Event::Tick`] at the latest (`None`: never,
    /// the job is stopping).
    pub fn next_deadline(&self) -> Option<Millis> {
        let running = self
            .pending
            .values()
            .filter(|p| p.barrier.kind == CheckpointKind::Checkpoint)
            .count();
        let mut d = if self.stopping
            || self.final_checkpoint.is_some()
            || running >= self.cfg.max_concurrent
        {
            None
        } else {
            let mut t = self.last_trigger.saturating_add(self.cfg.interval_ms);
            if let Some(c) = self.last_completion {
                t = t.max(c.saturating_add(self.cfg.min_pause_ms));
            }
            Some(t)
        };
        for (id, p) in &self.pending {
            if Some(*id) != self.final_checkpoint {
                let t = p.started.saturating_add(self.cfg.timeout_ms);
                d = Some(d.map_or(t, |d| d.min(t)));
            }
        }
        d
    }

    /// Ids of checkpoints in progress.
    pub fn pending(&self) -> Vec<CheckpointId> {
        self.pending.keys().copied().collect()
    }

    /// The completed checkpoints kept, oldest first.
    pub fn retained(&self) -> &[CheckpointMetadata] {
        &self.retained
    }

    /// Whether the job is stopping (after the final checkpoint or a stop-with-savepoint).
    pub fn is_stopping(&self) -> bool {
        self.stopping
    }

    fn send_all(&mut self, msg: TaskControl) {
        for task in 0..self.sources.len() {
            self.out.push(Action::Send { task, msg });
        }
    }

    fn maybe_trigger(&mut self, now: Millis) {
        let running = self
            .pending
            .values()
            .filter(|p| p.barrier.kind == CheckpointKind::Checkpoint)
            .count();
        if running >= self.cfg.max_concurrent
            || now < self.last_trigger.saturating_add(self.cfg.interval_ms)
        {
            return;
        }
        if let Some(c) = self.last_completion
            && now < c.saturating_add(self.cfg.min_pause_ms)
        {
            return;
        }
        self.trigger(now, CheckpointKind::Checkpoint, None);
    }

    fn trigger(&mut self, now: Millis, kind: CheckpointKind, request: Option<u64>) {
        let id = self.next_id;
        self.next_id += 1;
        self.last_trigger = now;
        let barrier = CheckpointBarrier {
            id,
            timestamp: now,
            kind,
        };
        let prefix = checkpoint_prefix(&barrier);
        // Incremental snapshots build on the last checkpoint completed by this run (a
        // restored backend knows nothing of older runs' changes), except when the chain
        // a restore would read has grown to twice the last complete checkpoint, and every
        // `full_every` checkpoints at the latest; savepoints are always complete.
        if kind == CheckpointKind::Checkpoint {
            self.since_full += 1;
            let chain_too_long =
                self.full_bytes > 0 && self.chain_bytes >= self.full_bytes.saturating_mul(2);
            if self.since_full >= self.cfg.full_every || chain_too_long {
                self.since_full = 0;
                self.out.push(Action::SetIncrementalBase(0));
            } else if let Some(last) = self.completed_here {
                self.out.push(Action::SetIncrementalBase(last));
            }
        }
        self.pending.insert(
            id,
            Pending {
                barrier,
                started: now,
                prefix,
                phase: Phase::Collecting,
                awaiting: (0..self.sources.len()).collect(),
                files: HashMap::new(),
                ops: BTreeMap::new(),
                alignment_ms: 0.0,
                written: 0,
                failure: None,
                request,
            },
        );
        for task in 0..self.sources.len() {
            if self.sources[task] || self.finished.contains(&task) {
                self.out.push(Action::Send {
                    task,
                    msg: TaskControl::Trigger(barrier),
                });
            }
        }
    }

    fn on_finished(&mut self, now: Millis, task: TaskId) {
        if task >= self.sources.len() || !self.finished.insert(task) {
            return;
        }
        // Its barriers will not come in-band any more: trigger it directly for every
        // checkpoint it has not acknowledged.
        for p in self.pending.values() {
            if p.awaiting.contains(&task) {
                self.out.push(Action::Send {
                    task,
                    msg: TaskControl::Trigger(p.barrier),
                });
            }
        }
        if self.finished.len() == self.sources.len() && self.final_checkpoint.is_none() {
            self.final_checkpoint = Some(self.next_id);
            self.trigger(now, CheckpointKind::Checkpoint, None);
        }
    }

    fn on_ack(&mut self, now: Millis, ack: Acknowledgement) {
        let Some(p) = self.pending.get_mut(&ack.checkpoint) else {
            // Aborted or unknown: what it wrote is garbage.
            for op in &ack.operators {
                if let Some(f) = &op.file {
                    self.out.push(Action::Delete {
                        checkpoint: ack.checkpoint,
                        prefix: f.path.clone(),
                    });
                }
            }
            return;
        };
        if !matches!(p.phase, Phase::Collecting) || !p.awaiting.remove(&ack.task) {
            return;
        }
        p.alignment_ms = p.alignment_ms.max(ack.alignment_ms);
        for op in ack.operators {
            let Some(info) = self.operators.get(op.node) else {
                p.failure = Some(format!(
                    "acknowledgement names unknown operator {}",
                    op.node
                ));
                continue;
            };
            let stats = p
                .ops
                .entry(op.node)
                .or_insert_with(|| OperatorCheckpointStats {
                    uid: info.uid.clone(),
                    name: info.name.clone(),
                    ..Default::default()
                });
            stats.sync_ms = stats.sync_ms.max(op.sync_ms);
            stats.async_ms = stats.async_ms.max(op.async_ms);
            stats.alignment_ms = stats.alignment_ms.max(ack.alignment_ms);
            let Some(file) = op.file else { continue };
            stats.written_bytes += file.size;
            p.written += file.size;
            let mut chain = Vec::new();
            if let Some(base) = op.based_on {
                let found = self
                    .retained
                    .iter()
                    .find(|m| m.checkpoint_id == base)
                    .and_then(|m| m.operators.iter().find(|o| o.uid == info.uid))
                    .and_then(|o| o.subtasks.iter().find(|s| s.subtask == op.subtask));
                match found {
                    Some(s) => chain.extend(s.files.iter().cloned()),
                    None => {
                        p.failure = Some(format!(
                            "incremental snapshot of '{}' builds on checkpoint {base}, which is no longer kept",
                            info.uid
                        ));
                    }
                }
            }
            chain.push(file);
            p.files.insert((op.node, op.subtask), chain);
        }
        let id = ack.checkpoint;
        if !p.awaiting.is_empty() {
            return;
        }
        if let Some(why) = p.failure.clone() {
            self.abort(now, id, why);
            return;
        }
        let Some(metadata) = self.metadata(id, now) else {
            return;
        };
        if let Some(p) = self.pending.get_mut(&id) {
            let path = format!("{}/{METADATA}", p.prefix);
            p.phase = Phase::WritingMetadata(Box::new(metadata.clone()));
            self.out.push(Action::WriteMetadata {
                checkpoint: id,
                path,
                metadata: Box::new(metadata),
            });
        }
    }

    /// The metadata of pending checkpoint `id`, every acknowledgement in.
    fn metadata(&mut self, id: CheckpointId, now: Millis) -> Option<CheckpointMetadata> {
        let p = self.pending.get_mut(&id)?;
        let mut operators = Vec::with_capacity(self.operators.len());
        let mut state_bytes = 0;
        let mut op_stats = Vec::new();
        for (node, info) in self.operators.iter().enumerate() {
            let mut subtasks: Vec<SubtaskState> = p
                .files
                .iter()
                .filter(|((n, _), _)| *n == node)
                .map(|((_, s), files)| SubtaskState {
                    subtask: *s,
                    files: files.clone(),
                })
                .collect();
            subtasks.sort_by_key(|s| s.subtask);
            let bytes: u64 = subtasks
                .iter()
                .flat_map(|s| s.files.iter())
                .map(|f| f.size)
                .sum();
            state_bytes += bytes;
            if let Some(mut s) = p.ops.remove(&node) {
                s.state_bytes = bytes;
                op_stats.push(s);
            }
            operators.push(OperatorState {
                uid: info.uid.clone(),
                name: info.name.clone(),
                parallelism: info.parallelism,
                max_parallelism: info.max_parallelism,
                subtasks,
            });
        }
        Some(CheckpointMetadata {
            format_version: FORMAT_VERSION,
            job_name: self.job_name.clone(),
            checkpoint_id: id,
            kind: p.barrier.kind,
            timestamp_ms: p.barrier.timestamp,
            base: p.prefix.clone(),
            operators,
            stats: CheckpointStats {
                id,
                duration_ms: (now - p.started) as f64,
                state_bytes,
                written_bytes: p.written,
                alignment_ms: p.alignment_ms,
                operators: op_stats,
            },
        })
    }

    fn complete(&mut self, now: Millis, id: CheckpointId) {
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        let Phase::WritingMetadata(metadata) = p.phase else {
            // Not asked for: ignore (and keep waiting for acknowledgements).
            self.pending.insert(id, p);
            return;
        };
        let mut metadata = *metadata;
        metadata.stats.duration_ms = (now - p.started) as f64;
        // Durable: tell everyone.
        self.last_completion = Some(now);
        self.send_all(TaskControl::Complete(id));
        let kind = p.barrier.kind;
        self.out.push(Action::Completed {
            stats: metadata.stats.clone(),
            kind,
            prefix: p.prefix.clone(),
        });
        if let Some(request) = p.request {
            self.out.push(Action::SavepointDone {
                request,
                result: Ok(p.prefix.clone()),
            });
        }
        match kind {
            CheckpointKind::Checkpoint => {
                self.chain_bytes = metadata.stats.state_bytes;
                if metadata.stats.written_bytes >= metadata.stats.state_bytes {
                    // Nothing came from earlier checkpoints: a complete one.
                    self.full_bytes = metadata.stats.state_bytes;
                }
                self.retained.push(metadata);
                self.completed_here = Some(id);
                self.out.push(Action::SetIncrementalBase(id));
                self.subsume();
            }
            CheckpointKind::Savepoint { stop } => {
                if stop {
                    self.out.push(Action::StoppedWithSavepoint {
                        prefix: p.prefix.clone(),
                    });
                    self.stop();
                }
            }
        }
        if self.final_checkpoint == Some(id) {
            self.stop();
        }
    }

    fn stop(&mut self) {
        if !self.stopping {
            self.stopping = true;
            self.send_all(TaskControl::Stop);
        }
    }

    fn check_timeouts(&mut self, now: Millis) {
        // The final checkpoint is not subject to the timeout: giving up on it would leave
        // the last output of two-phase-commit sinks uncommitted.
        let expired: Vec<CheckpointId> = self
            .pending
            .iter()
            .filter(|(id, p)| {
                Some(**id) != self.final_checkpoint
                    && now > p.started.saturating_add(self.cfg.timeout_ms)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            let timeout = self.cfg.timeout_ms;
            self.abort(now, id, format!("not complete within {timeout} ms"));
        }
    }

    fn abort(&mut self, now: Millis, id: CheckpointId, reason: String) {
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        self.send_all(TaskControl::Abort(id));
        self.out.push(Action::Delete {
            checkpoint: id,
            prefix: p.prefix.clone(),
        });
        if let Some(request) = p.request {
            self.out.push(Action::SavepointDone {
                request,
                result: Err(format!("savepoint {id} failed: {reason}")),
            });
        }
        self.out.push(Action::Aborted {
            checkpoint: id,
            reason,
        });
        if self.final_checkpoint == Some(id) {
            // Try the final checkpoint again.
            self.final_checkpoint = Some(self.next_id);
            self.trigger(now, CheckpointKind::Checkpoint, None);
        }
    }

    /// Keep the newest `retained` checkpoints; delete directories that no kept
    /// checkpoint refers to (an incremental chain may keep an older one alive).
    fn subsume(&mut self) {
        while self.retained.len() > self.cfg.retained {
            let old = self.retained.remove(0);
            self.retired.insert(old.checkpoint_id);
        }
        let referenced: HashSet<&str> = self
            .retained
            .iter()
            .flat_map(|m| m.operators.iter())
            .flat_map(|o| o.subtasks.iter())
            .flat_map(|s| s.files.iter())
            .filter_map(|f| f.path.split('/').next())
            .collect();
        let pending: HashSet<&str> = self.pending.values().map(|p| p.prefix.as_str()).collect();
        let deletable: Vec<CheckpointId> = self
            .retired
            .iter()
            .copied()
            .filter(|id| {
                let dir = checkpoint_dir(*id);
                !referenced.contains(dir.as_str()) && !pending.contains(dir.as_str())
            })
            .collect();
        for id in deletable {
            self.retired.remove(&id);
            self.out.push(Action::Delete {
                checkpoint: id,
                prefix: checkpoint_dir(id),
            });
        }
    }
}

/// The directory a checkpoint or savepoint is written to, relative to the storage root.
pub fn checkpoint_prefix(barrier: &CheckpointBarrier) -> String {
    match barrier.kind {
        CheckpointKind::Checkpoint => checkpoint_dir(barrier.id),
        CheckpointKind::Savepoint { .. } => format!("savepoints/savepoint-{}", barrier.id),
    }
}

/// Picks the checkpoint to restore from: the newest one that verifies, falling back past
/// damaged ones. The driver asks [`RestoreSelector::next`] which checkpoint to verify and
/// reports each outcome with [`RestoreSelector::verified`].
#[derive(Clone, Debug)]
pub struct RestoreSelector {
    candidates: Vec<CheckpointId>,
    problems: Vec<String>,
    chosen: Option<CheckpointId>,
}

/// Where a [`RestoreSelector`] stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreDecision {
    /// Verify this checkpoint next.
    Verify(CheckpointId),
    /// Restore from this one.
    Restore(CheckpointId),
    /// There is no checkpoint: start from the beginning.
    Nothing,
    /// Every checkpoint is damaged; why, per checkpoint.
    AllDamaged(Vec<String>),
}

impl RestoreSelector {
    /// Choose among checkpoints with these ids (any order).
    pub fn new(mut candidates: Vec<CheckpointId>) -> Self {
        candidates.sort_unstable();
        candidates.dedup();
        RestoreSelector {
            candidates,
            problems: Vec::new(),
            chosen: None,
        }
    }

    /// What to do now.
    pub fn next(&self) -> RestoreDecision {
        if let Some(id) = self.chosen {
            return RestoreDecision::Restore(id);
        }
        match self.candidates.last() {
            Some(&id) => RestoreDecision::Verify(id),
            None if self.problems.is_empty() => RestoreDecision::Nothing,
            None => RestoreDecision::AllDamaged(self.problems.clone()),
        }
    }

    /// The outcome of verifying `id`; returns what to do next.
    pub fn verified(&mut self, id: CheckpointId, result: Result<(), String>) -> RestoreDecision {
        if self.chosen.is_none() && self.candidates.last() == Some(&id) {
            self.candidates.pop();
            match result {
                Ok(()) => self.chosen = Some(id),
                Err(e) => self.problems.push(format!("chk-{id}: {e}")),
            }
        }
        self.next()
    }

    /// The damaged checkpoints skipped so far, with why.
    pub fn skipped(&self) -> &[String] {
        &self.problems
    }
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
