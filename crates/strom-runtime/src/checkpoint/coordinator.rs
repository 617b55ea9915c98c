//! The checkpoint coordinator (Flink's `CheckpointCoordinator`), one thread per running job.
//!
//! It triggers a checkpoint by sending a barrier to every source task (and to every task
//! whose input already ended); the barriers flow with the records, each task snapshots when
//! its inputs are aligned and acknowledges with its operators' snapshots. A writer thread
//! encodes and writes each snapshot while the tasks go on. When every task acknowledged and
//! every file is written, the coordinator writes `_metadata` (which completes the
//! checkpoint), tells every task (two-phase-commit sinks commit then), logs the figures and
//! retires checkpoints nobody refers to any more.
//!
//! When every task has finished its input, the coordinator takes a final checkpoint, so
//! that the last output of two-phase-commit sinks is committed exactly once, then stops the
//! tasks.

use crate::checkpoint::CheckpointConfig;
use crate::checkpoint::format::{
    CheckpointMetadata, CheckpointStats, FORMAT_VERSION, METADATA, OperatorCheckpointStats,
    OperatorState, StateFileRef, StateFileWriter, SubtaskState, checkpoint_dir, checkpoint_dir_id,
    encode_metadata, list_checkpoints, load,
};
use crate::checkpoint::messages::{CoordinatorMsg, OperatorAck, TaskControl, TaskId};
use crate::checkpoint::storage::CheckpointStorage;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use strom_core::checkpoint::{CheckpointId, StateSnapshot};
use strom_core::{Result, StromError};
use strom_types::{CheckpointBarrier, CheckpointKind};

/// A request for a savepoint, answered with its location.
pub struct SavepointRequest {
    stop: bool,
    reply: Sender<Result<String>>,
}

/// Triggers savepoints on a running job from any thread (a CLI command, a REST call, a
/// test). Clones share the job.
#[derive(Clone)]
pub struct SavepointHandle {
    tx: Sender<SavepointRequest>,
    rx: Receiver<SavepointRequest>,
}

impl Default for SavepointHandle {
    fn default() -> Self {
        let (tx, rx) = crossbeam_channel::bounded(16);
        SavepointHandle { tx, rx }
    }
}

impl SavepointHandle {
    /// A fresh handle.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask for a savepoint; with `stop`, the job stops once it is complete (Flink's
    /// stop-with-savepoint). The receiver gets the savepoint's location, or why it failed.
    pub fn trigger(&self, stop: bool) -> Receiver<Result<String>> {
        let (reply, rx) = crossbeam_channel::bounded(1);
        if let Err(e) = self.tx.try_send(SavepointRequest { stop, reply }) {
            let (tx, rx) = crossbeam_channel::bounded(1);
            let _ = tx.send(Err(StromError::Checkpoint(format!(
                "cannot request a savepoint: {e}"
            ))));
            return rx;
        }
        rx
    }

    /// [`trigger`](Self::trigger) and wait up to `timeout` for the answer.
    pub fn trigger_and_wait(&self, stop: bool, timeout: Duration) -> Result<String> {
        self.trigger(stop)
            .recv_timeout(timeout)
            .map_err(|_| StromError::Checkpoint("no savepoint within the timeout".into()))?
    }

    pub(crate) fn requests(&self) -> &Receiver<SavepointRequest> {
        &self.rx
    }
}

/// What the coordinator knows about an operator (node) of the job.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// Its uid.
    pub uid: String,
    /// Its name.
    pub name: String,
    /// Its parallelism.
    pub parallelism: usize,
    /// Its key groups.
    pub max_parallelism: usize,
}

/// A task as the coordinator sees it.
pub struct TaskSlot {
    /// Its control channel.
    pub control: Sender<TaskControl>,
    /// Whether it runs a source (sources are triggered directly).
    pub is_source: bool,
}

/// A write for the writer thread.
struct WriteJob {
    checkpoint: CheckpointId,
    node: usize,
    subtask: usize,
    path: String,
    snapshot: StateSnapshot,
}

struct WriteDone {
    checkpoint: CheckpointId,
    node: usize,
    subtask: usize,
    based_on: Option<CheckpointId>,
    result: Result<(StateFileRef, f64)>,
}

struct Pending {
    barrier: CheckpointBarrier,
    started: Instant,
    prefix: String,
    awaiting_ack: BTreeSet<TaskId>,
    awaiting_writes: usize,
    files: HashMap<(usize, usize), Vec<StateFileRef>>,
    ops: HashMap<usize, OperatorCheckpointStats>,
    alignment_ms: f64,
    written: u64,
    failure: Option<String>,
    reply: Option<Sender<Result<String>>>,
}

/// What the coordinator reports when the job ends.
#[derive(Clone, Debug, Default)]
pub struct CoordinatorReport {
    /// Figures of every completed checkpoint and savepoint.
    pub completed: Vec<CheckpointStats>,
    /// Checkpoints aborted (timeout, failure).
    pub aborted: u64,
    /// Location of the savepoint the job stopped with.
    pub stopped_with_savepoint: Option<String>,
    /// The last completed checkpoint, for a restart.
    pub latest: Option<CheckpointId>,
}

/// Runs one job's checkpoints.
pub struct Coordinator {
    cfg: CheckpointConfig,
    job_name: String,
    storage: Arc<dyn CheckpointStorage>,
    nodes: Vec<NodeInfo>,
    tasks: Vec<TaskSlot>,
    inbox: Receiver<CoordinatorMsg>,
    savepoints: SavepointHandle,
    shutdown: Receiver<()>,
    incremental_base: Arc<AtomicU64>,
    next_id: CheckpointId,
    pending: BTreeMap<CheckpointId, Pending>,
    /// Completed checkpoints (not savepoints) still kept, oldest first.
    retained: Vec<CheckpointMetadata>,
    /// Checkpoint directories to delete once nothing refers to them.
    retired: BTreeSet<CheckpointId>,
    finished: HashSet<TaskId>,
    final_checkpoint: Option<CheckpointId>,
    stop_after: Option<CheckpointId>,
    last_trigger: Instant,
    last_completion: Option<Instant>,
    since_full: u64,
    /// The last checkpoint completed by this run (incremental snapshots build only on
    /// those: a restored backend knows nothing of older runs' changes).
    completed_here: Option<CheckpointId>,
    report: Arc<Mutex<CoordinatorReport>>,
}

/// Everything needed to start a coordinator.
pub struct CoordinatorSetup {
    /// Checkpoint settings.
    pub config: CheckpointConfig,
    /// The job's name.
    pub job_name: String,
    /// Every node.
    pub nodes: Vec<NodeInfo>,
    /// Every task.
    pub tasks: Vec<TaskSlot>,
    /// Acknowledgements and finish notices from tasks.
    pub inbox: Receiver<CoordinatorMsg>,
    /// Savepoint requests.
    pub savepoints: SavepointHandle,
    /// Disconnected (or sent to) when the job ends otherwise (failure, cancel).
    pub shutdown: Receiver<()>,
    /// Shared with the tasks: the last completed checkpoint.
    pub incremental_base: Arc<AtomicU64>,
    /// Ids continue after this one (the restored checkpoint's).
    pub restored_id: CheckpointId,
    /// Figures, readable after the job.
    pub report: Arc<Mutex<CoordinatorReport>>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Coordinator {
    /// Prepare a coordinator (reads which checkpoints the storage already has).
    pub fn new(s: CoordinatorSetup) -> Result<Self> {
        let storage = Arc::clone(&s.config.storage);
        let mut retained = Vec::new();
        let mut max_id = s.restored_id;
        let mut retired = BTreeSet::new();
        for (id, prefix) in list_checkpoints(storage.as_ref())? {
            max_id = max_id.max(id);
            match load(storage.as_ref(), &prefix, false) {
                Ok(found) => retained.push(found.metadata),
                Err(_) => {
                    retired.insert(id);
                }
            }
        }
        // Directories without metadata: aborted or interrupted checkpoints.
        for path in storage.list("")? {
            if let Some(id) = path.split('/').next().and_then(checkpoint_dir_id) {
                max_id = max_id.max(id);
                if !retained.iter().any(|m| m.checkpoint_id == id) {
                    retired.insert(id);
                }
            }
        }
        retained.sort_by_key(|m| m.checkpoint_id);
        Ok(Coordinator {
            job_name: s.job_name,
            storage,
            nodes: s.nodes,
            tasks: s.tasks,
            inbox: s.inbox,
            savepoints: s.savepoints,
            shutdown: s.shutdown,
            incremental_base: s.incremental_base,
            next_id: max_id + 1,
            pending: BTreeMap::new(),
            retained,
            retired,
            finished: HashSet::new(),
            final_checkpoint: None,
            stop_after: None,
            last_trigger: Instant::now(),
            last_completion: None,
            since_full: 0,
            completed_here: None,
            report: s.report,
            cfg: s.config,
        })
    }

    /// Run until the job ends. Starts the writer thread.
    pub fn run(mut self) {
        let (write_tx, write_rx) = crossbeam_channel::bounded::<WriteJob>(1024);
        let (done_tx, done_rx) = crossbeam_channel::bounded::<WriteDone>(1024);
        let storage = Arc::clone(&self.storage);
        let writer = std::thread::Builder::new()
            .name("chk-writer".into())
            .spawn(move || write_loop(storage.as_ref(), write_rx, done_tx));
        if let Err(e) = writer {
            tracing::error!(error = %e, "cannot start the checkpoint writer; checkpoints are off");
            return;
        }
        loop {
            let deadline = self.next_deadline();
            let inbox = self.inbox.clone();
            let requests = self.savepoints.requests().clone();
            let shutdown = self.shutdown.clone();
            crossbeam_channel::select! {
                recv(inbox) -> m => match m {
                    Ok(m) => self.on_message(m, &write_tx),
                    Err(_) => break,
                },
                recv(done_rx) -> d => {
                    if let Ok(d) = d {
                        self.on_written(d);
                    }
                }
                recv(requests) -> r => {
                    if let Ok(r) = r {
                        self.trigger(CheckpointKind::Savepoint { stop: r.stop }, Some(r.reply));
                    }
                }
                recv(shutdown) -> _ => break,
                default(deadline.saturating_duration_since(Instant::now())) => {}
            }
            self.check_timeouts();
            if self.final_checkpoint.is_none() && self.stop_after.is_none() {
                self.maybe_trigger();
            }
        }
        for (_, p) in std::mem::take(&mut self.pending) {
            if let Some(r) = p.reply {
                let _ = r.send(Err(StromError::Checkpoint(
                    "the job ended before the savepoint completed".into(),
                )));
            }
        }
    }

    fn next_deadline(&self) -> Instant {
        let mut d = self.last_trigger + self.cfg.interval;
        if let Some(c) = self.last_completion {
            d = d.max(c + self.cfg.min_pause);
        }
        if let Some((_, p)) = self.pending.iter().next() {
            d = d.min(p.started + self.cfg.timeout);
        }
        d.min(Instant::now() + Duration::from_millis(500))
    }

    fn maybe_trigger(&mut self) {
        let running = self
            .pending
            .values()
            .filter(|p| p.barrier.kind == CheckpointKind::Checkpoint)
            .count();
        if running >= self.cfg.max_concurrent.max(1) {
            return;
        }
        let now = Instant::now();
        if now < self.last_trigger + self.cfg.interval {
            return;
        }
        if let Some(c) = self.last_completion
            && now < c + self.cfg.min_pause
        {
            return;
        }
        self.trigger(CheckpointKind::Checkpoint, None);
    }

    fn trigger(&mut self, kind: CheckpointKind, reply: Option<Sender<Result<String>>>) {
        let id = self.next_id;
        self.next_id += 1;
        self.last_trigger = Instant::now();
        let barrier = CheckpointBarrier {
            id,
            timestamp: now_ms(),
            kind,
        };
        let prefix = match kind {
            CheckpointKind::Checkpoint => checkpoint_dir(id),
            CheckpointKind::Savepoint { .. } => format!("savepoints/savepoint-{id}"),
        };
        // Incremental snapshots build on the last completed checkpoint, except every
        // `full_every` checkpoints (and for savepoints, which are always complete).
        if kind == CheckpointKind::Checkpoint {
            self.since_full += 1;
            if self.since_full >= self.cfg.full_every.max(1) {
                self.since_full = 0;
                self.incremental_base.store(0, Ordering::Release);
            } else if let Some(last) = self.completed_here {
                self.incremental_base.store(last, Ordering::Release);
            }
        }
        tracing::debug!(checkpoint = id, ?kind, "triggering checkpoint");
        self.pending.insert(
            id,
            Pending {
                barrier,
                started: Instant::now(),
                prefix,
                awaiting_ack: (0..self.tasks.len()).collect(),
                awaiting_writes: 0,
                files: HashMap::new(),
                ops: HashMap::new(),
                alignment_ms: 0.0,
                written: 0,
                failure: None,
                reply,
            },
        );
        for (t, slot) in self.tasks.iter().enumerate() {
            if slot.is_source || self.finished.contains(&t) {
                Self::send(slot, TaskControl::Trigger(barrier));
            }
        }
    }

    fn send(slot: &TaskSlot, msg: TaskControl) {
        match slot.control.try_send(msg) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(msg)) => {
                // Completions are cumulative, so a later one covers a dropped one; other
                // messages must arrive: wait briefly.
                if !matches!(msg, TaskControl::Complete(_)) {
                    let _ = slot.control.send_timeout(msg, Duration::from_secs(5));
                }
            }
        }
    }

    fn on_message(&mut self, msg: CoordinatorMsg, writes: &Sender<WriteJob>) {
        match msg {
            CoordinatorMsg::Finished { task } => {
                self.finished.insert(task);
                // Checkpoints in flight that this task has not acknowledged: its barriers
                // will not come in-band any more.
                let slot = &self.tasks[task];
                for p in self.pending.values() {
                    if p.awaiting_ack.contains(&task) {
                        Self::send(slot, TaskControl::Trigger(p.barrier));
                    }
                }
                if self.finished.len() == self.tasks.len() && self.final_checkpoint.is_none() {
                    tracing::info!(job = %self.job_name, "every task finished; taking the final checkpoint");
                    let id = self.next_id;
                    self.final_checkpoint = Some(id);
                    self.trigger(CheckpointKind::Checkpoint, None);
                }
            }
            CoordinatorMsg::Ack {
                task,
                checkpoint,
                operators,
                alignment_ms,
            } => {
                let Some(p) = self.pending.get_mut(&checkpoint) else {
                    return;
                };
                if !p.awaiting_ack.remove(&task) {
                    return;
                }
                p.alignment_ms = p.alignment_ms.max(alignment_ms);
                for OperatorAck {
                    node,
                    subtask,
                    snapshot,
                    sync_ms,
                } in operators
                {
                    let info = &self.nodes[node];
                    let stats = p
                        .ops
                        .entry(node)
                        .or_insert_with(|| OperatorCheckpointStats {
                            uid: info.uid.clone(),
                            name: info.name.clone(),
                            ..Default::default()
                        });
                    stats.sync_ms = stats.sync_ms.max(sync_ms);
                    stats.alignment_ms = stats.alignment_ms.max(alignment_ms);
                    if snapshot.is_empty() {
                        continue;
                    }
                    p.awaiting_writes += 1;
                    let path = format!(
                        "{}/{}-{subtask}.state",
                        p.prefix,
                        crate::topology::sanitize_uid(&info.uid)
                    );
                    if writes
                        .send(WriteJob {
                            checkpoint,
                            node,
                            subtask,
                            path,
                            snapshot,
                        })
                        .is_err()
                    {
                        p.failure = Some("the checkpoint writer stopped".into());
                        p.awaiting_writes -= 1;
                    }
                }
                self.maybe_complete(checkpoint);
            }
        }
    }

    fn on_written(&mut self, d: WriteDone) {
        let Some(p) = self.pending.get_mut(&d.checkpoint) else {
            // Aborted meanwhile: the file is garbage.
            if let Ok((f, _)) = &d.result {
                let _ = self.storage.delete_prefix(&f.path);
            }
            return;
        };
        p.awaiting_writes -= 1;
        match d.result {
            Err(e) => p.failure = Some(e.to_string()),
            Ok((file, async_ms)) => {
                let stats = p.ops.entry(d.node).or_default();
                stats.async_ms = stats.async_ms.max(async_ms);
                stats.written_bytes += file.size;
                p.written += file.size;
                let mut chain = Vec::new();
                if let Some(base) = d.based_on {
                    let uid = &self.nodes[d.node].uid;
                    let found = self
                        .retained
                        .iter()
                        .find(|m| m.checkpoint_id == base)
                        .and_then(|m| m.operators.iter().find(|o| &o.uid == uid))
                        .and_then(|o| o.subtasks.iter().find(|s| s.subtask == d.subtask));
                    match found {
                        Some(s) => chain.extend(s.files.iter().cloned()),
                        None => {
                            p.failure = Some(format!(
                                "incremental snapshot of '{uid}' builds on checkpoint {base}, which is no longer kept"
                            ))
                        }
                    }
                }
                chain.push(file);
                p.files.insert((d.node, d.subtask), chain);
            }
        }
        self.maybe_complete(d.checkpoint);
    }

    fn check_timeouts(&mut self) {
        // The final checkpoint only waits for finished tasks and the writer: it is not
        // subject to the timeout (giving up on it would leave the last output uncommitted).
        let final_id = self.final_checkpoint;
        let expired: Vec<CheckpointId> = self
            .pending
            .iter()
            .filter(|(id, p)| Some(**id) != final_id && p.started.elapsed() > self.cfg.timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.abort(id, format!("not complete within {:?}", self.cfg.timeout));
        }
    }

    fn abort(&mut self, id: CheckpointId, why: String) {
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        tracing::warn!(job = %self.job_name, checkpoint = id, reason = %why, "checkpoint aborted");
        if let Ok(mut r) = self.report.lock() {
            r.aborted += 1;
        }
        for slot in &self.tasks {
            Self::send(slot, TaskControl::Abort(id));
        }
        let _ = self.storage.delete_prefix(&p.prefix);
        if let Some(reply) = p.reply {
            let _ = reply.send(Err(StromError::Checkpoint(format!(
                "savepoint {id} failed: {why}"
            ))));
        }
        if self.final_checkpoint == Some(id) {
            // Try the final checkpoint again.
            self.final_checkpoint = Some(self.next_id);
            self.trigger(CheckpointKind::Checkpoint, None);
        }
    }

    fn maybe_complete(&mut self, id: CheckpointId) {
        let ready = self
            .pending
            .get(&id)
            .is_some_and(|p| p.awaiting_ack.is_empty() && p.awaiting_writes == 0);
        if !ready {
            return;
        }
        if let Some(why) = self.pending.get(&id).and_then(|p| p.failure.clone()) {
            self.abort(id, why);
            return;
        }
        let Some(mut p) = self.pending.remove(&id) else {
            return;
        };
        match self.complete(&mut p) {
            Ok(()) => {}
            Err(e) => {
                self.pending.insert(id, p);
                self.abort(id, e.to_string());
            }
        }
    }

    fn complete(&mut self, p: &mut Pending) -> Result<()> {
        let id = p.barrier.id;
        let mut operators = Vec::with_capacity(self.nodes.len());
        let mut state_bytes = 0;
        let mut op_stats = Vec::new();
        for (node, info) in self.nodes.iter().enumerate() {
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
                s.uid.clone_from(&info.uid);
                s.name.clone_from(&info.name);
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
        let stats = CheckpointStats {
            id,
            duration_ms: p.started.elapsed().as_secs_f64() * 1e3,
            state_bytes,
            written_bytes: p.written,
            alignment_ms: p.alignment_ms,
            operators: op_stats,
        };
        let metadata = CheckpointMetadata {
            format_version: FORMAT_VERSION,
            job_name: self.job_name.clone(),
            checkpoint_id: id,
            kind: p.barrier.kind,
            timestamp_ms: p.barrier.timestamp,
            base: p.prefix.clone(),
            operators,
            stats: stats.clone(),
        };
        self.storage.put(
            &format!("{}/{METADATA}", p.prefix),
            &encode_metadata(&metadata)?,
        )?;
        // Durable: tell everyone.
        self.last_completion = Some(Instant::now());
        for slot in &self.tasks {
            Self::send(slot, TaskControl::Complete(id));
        }
        let location = format!("{}/{}", self.storage.describe(), p.prefix);
        match p.barrier.kind {
            CheckpointKind::Checkpoint => {
                tracing::info!(
                    job = %self.job_name,
                    checkpoint = id,
                    duration_ms = format!("{:.1}", stats.duration_ms),
                    state_bytes = stats.state_bytes,
                    written_bytes = stats.written_bytes,
                    alignment_ms = format!("{:.1}", stats.alignment_ms),
                    operators = %stats
                        .operators
                        .iter()
                        .map(|o| format!(
                            "{}: {} B, sync {:.1} ms, async {:.1} ms, align {:.1} ms",
                            o.name, o.state_bytes, o.sync_ms, o.async_ms, o.alignment_ms
                        ))
                        .collect::<Vec<_>>()
                        .join("; "),
                    "checkpoint complete"
                );
                self.retained.push(metadata);
                self.completed_here = Some(id);
                self.incremental_base.store(id, Ordering::Release);
                self.retire();
            }
            CheckpointKind::Savepoint { stop } => {
                tracing::info!(job = %self.job_name, savepoint = id, location = %location, "savepoint complete");
                if stop {
                    self.stop_after = Some(id);
                    if let Ok(mut r) = self.report.lock() {
                        r.stopped_with_savepoint = Some(location.clone());
                    }
                    for slot in &self.tasks {
                        Self::send(slot, TaskControl::Stop);
                    }
                }
            }
        }
        if let Ok(mut r) = self.report.lock() {
            r.completed.push(stats);
            if p.barrier.kind == CheckpointKind::Checkpoint {
                r.latest = Some(id);
            }
        }
        if let Some(reply) = p.reply.take() {
            let _ = reply.send(Ok(location));
        }
        if self.final_checkpoint == Some(id) {
            for slot in &self.tasks {
                Self::send(slot, TaskControl::Stop);
            }
        }
        Ok(())
    }

    /// Keep the newest `retained` checkpoints; delete directories no kept checkpoint
    /// refers to.
    fn retire(&mut self) {
        let keep = self.cfg.retained.max(1);
        while self.retained.len() > keep {
            let old = self.retained.remove(0);
            self.retired.insert(old.checkpoint_id);
        }
        let referenced: HashSet<String> = self
            .retained
            .iter()
            .flat_map(|m| m.operators.iter())
            .flat_map(|o| o.subtasks.iter())
            .flat_map(|s| s.files.iter())
            .filter_map(|f| f.path.split('/').next().map(str::to_string))
            .collect();
        let pending: HashSet<String> = self.pending.values().map(|p| p.prefix.clone()).collect();
        let deletable: Vec<CheckpointId> = self
            .retired
            .iter()
            .copied()
            .filter(|id| {
                let dir = checkpoint_dir(*id);
                !referenced.contains(&dir) && !pending.contains(&dir)
            })
            .collect();
        for id in deletable {
            match self.storage.delete_prefix(&checkpoint_dir(id)) {
                Ok(()) => {
                    self.retired.remove(&id);
                }
                Err(e) => {
                    tracing::warn!(checkpoint = id, error = %e, "cannot delete an old checkpoint")
                }
            }
        }
    }
}

fn write_loop(storage: &dyn CheckpointStorage, jobs: Receiver<WriteJob>, done: Sender<WriteDone>) {
    for job in jobs {
        let started = Instant::now();
        let based_on = job.snapshot.based_on;
        // Sections are encoded and written as they are produced: memory stays at one
        // section even for a complete snapshot of state larger than memory.
        let mut snapshot = Some(job.snapshot);
        let mut written = (0u64, 0u32);
        let result = storage
            .put_with(&job.path, &mut |out| {
                let mut file = StateFileWriter::new(out)?;
                if let Some(s) = snapshot.take() {
                    s.materialize_into(&mut |section| file.section(&section))?;
                }
                written = file.finish()?;
                Ok(())
            })
            .map(|()| {
                (
                    StateFileRef {
                        path: job.path.clone(),
                        size: written.0,
                        crc32: written.1,
                    },
                    started.elapsed().as_secs_f64() * 1e3,
                )
            });
        if done
            .send(WriteDone {
                checkpoint: job.checkpoint,
                node: job.node,
                subtask: job.subtask,
                based_on,
                result,
            })
            .is_err()
        {
            return;
        }
    }
}
